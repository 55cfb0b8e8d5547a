//! The shared harness for rix's end-to-end tests: networks of node directories made with the
//! real `rix init`, the real `rix` binary run as a child process, free loopback ports, and the
//! sample records.
//!
//! Binary-level tests live in `crates/rix-cli/tests` (where cargo provides the path of the
//! `rix` binary) and pass that path in; multi-node tests in this crate's `tests/` use the same
//! node directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's sample records, `samples/records/<MEMBER>/*.md`.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/records")
}

/// The sample record files of one member, in publishing order.
pub fn sample_files(member: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples_dir().join(member))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The nine Almaty signatories.
pub const SIGNATORIES: [&str; 9] = ["AZ", "CN", "JP", "KZ", "KG", "MN", "RU", "TJ", "UZ"];

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs the `rix` binary.
#[derive(Debug, Clone)]
pub struct Rix {
    bin: PathBuf,
}

impl Rix {
    /// The binary at `bin` (pass `env!("CARGO_BIN_EXE_rix")`).
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self { bin: bin.into() }
    }

    /// The binary's path.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A command with a clean environment for rix.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_remove("RIX_CONFIG").env("RUST_LOG", "warn");
        c
    }

    /// Runs with `args`; returns the output whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("rix runs")
    }

    /// Runs with `args` and panics (showing stderr) unless it exits 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rix {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs with `--json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("rix {args:?}: not JSON ({e}):\n{text}"))
    }
}

/// One node directory made by `rix init`.
#[derive(Debug, Clone)]
pub struct NodeDir {
    /// Its member code.
    pub member: String,
    /// The node directory.
    pub dir: PathBuf,
    /// Its config file.
    pub config: PathBuf,
    /// Its libp2p listen port.
    pub p2p_port: u16,
    /// Its API port.
    pub api_port: u16,
    /// Its peer id.
    pub peer_id: String,
}

impl NodeDir {
    /// The config path as a string, for `--config`.
    pub fn config_arg(&self) -> &str {
        self.config.to_str().expect("utf-8 path")
    }
}

/// A network of node directories sharing one charter, in a temporary directory.
pub struct TestNet {
    /// Keeps the directory alive.
    pub root: tempfile::TempDir,
    /// The nodes, in the order given.
    pub nodes: Vec<NodeDir>,
    /// The shared charter file.
    pub charter: PathBuf,
}

impl TestNet {
    /// Runs `rix init` for each member, all adding themselves to one charter.
    pub fn init(rix: &Rix, members: &[&str]) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let charter = root.path().join("charter.toml");
        let mut nodes = Vec::new();
        for member in members {
            let dir = root.path().join(member.to_lowercase());
            let (p2p_port, api_port) = (free_port(), free_port());
            let out = rix.json(&[
                "init",
                "--dir",
                dir.to_str().unwrap(),
                "--member",
                member,
                "--network",
                "rix-test",
                "--listen",
                &format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
                "--api",
                &format!("127.0.0.1:{api_port}"),
                "--charter",
                charter.to_str().unwrap(),
            ]);
            nodes.push(NodeDir {
                member: (*member).to_owned(),
                config: PathBuf::from(out["config"].as_str().expect("config path")),
                peer_id: out["peer_id"].as_str().expect("peer id").to_owned(),
                dir,
                p2p_port,
                api_port,
            });
        }
        Self {
            root,
            nodes,
            charter,
        }
    }

    /// The node of `member`.
    pub fn node(&self, member: &str) -> &NodeDir {
        self.nodes
            .iter()
            .find(|n| n.member == member)
            .expect("member in test net")
    }
}
