//! One module per group of commands; each takes parsed arguments and a [`Context`] and
//! writes its output. Errors bubble up to `main`, which prints them once.

/// `println!` that returns the write error (a closed stdout, `rix status | head -1`) with `?`
/// instead of panicking, so that `main` can treat a broken pipe as a normal exit.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod charter;
pub mod devnet;
pub mod node;
pub mod records;
pub mod transfer;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use rix_api::Backend;
use rix_node::backend::LocalBackend;
use rix_node::{LoadedConfig, NodeConfig};
use serde::Serialize;

/// What every command gets: global flags and the config location.
pub struct Context {
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--config`, if given.
    pub config: Option<PathBuf>,
}

impl Context {
    /// Loads the node config named by `--config`, `RIX_CONFIG` or `./config.toml`.
    pub fn load_config(&self) -> Result<LoadedConfig> {
        let path = match &self.config {
            Some(p) => p.clone(),
            None if std::path::Path::new("config.toml").is_file() => PathBuf::from("config.toml"),
            None => anyhow::bail!(
                "no node config: pass --config FILE or set RIX_CONFIG (`rix init --dir DIR --member CODE` creates one)"
            ),
        };
        Ok(NodeConfig::load(&path)?)
    }

    /// The node to talk to: the running daemon's API if there is one, else the replica.
    pub fn backend(&self) -> Result<Box<dyn Backend>> {
        let config = self.load_config()?;
        if let Some(api) = rix_node::client::connect(&config)? {
            tracing::debug!("using the running daemon's API");
            return Ok(Box::new(api));
        }
        // A daemon that is starting holds the replica before its API answers: wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match LocalBackend::open(config.clone()) {
                Err(e) if e.is_locked() && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    if let Some(api) = rix_node::client::connect(&config)? {
                        return Ok(Box::new(api));
                    }
                }
                result => return Ok(Box::new(result.context("opening the node's replica")?)),
            }
        }
    }

    /// Prints `value` as one JSON document.
    pub fn print_json<T: Serialize>(&self, value: &T) -> Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
        Ok(())
    }

    /// A progress line for people (stderr), unless quiet or JSON.
    pub fn note(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }
}

/// Parses `--since`: a date (start of day, UTC) or an RFC 3339 timestamp.
pub fn parse_since(s: &str) -> Result<rix_api::record::Timestamp> {
    if let Ok(d) = s.parse::<rix_api::record::Date>() {
        return Ok(d.start());
    }
    s.parse::<rix_api::record::Timestamp>().map_err(|_| {
        anyhow::anyhow!("--since {s:?}: expected a date like 2024-01-31 or a time like 2024-01-31T12:00:00Z")
    })
}

/// The query filter from command-line filter flags.
pub fn filter_from(args: &crate::cli::FilterArgs) -> Result<rix_api::RecordFilter> {
    Ok(rix_api::RecordFilter {
        kind: args.kind,
        member: args.member.clone(),
        factor: args.factor,
        since: args.since.as_deref().map(parse_since).transpose()?,
        language: args.language.clone(),
        all_versions: args.all_versions,
        include_withdrawn: args.include_withdrawn,
        include_withdrawals: args.withdrawals,
        limit: args.limit,
    })
}
