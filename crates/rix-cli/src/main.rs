//! The `rix` binary: parse the command line, run one command, print errors once.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error (from clap). A closed stdout (for example
//! `rix list | head`) is a normal exit.

mod cli;
mod commands;
mod progress;
mod render;

use clap::Parser;
use cli::{Cli, Command};
use commands::Context;

fn main() {
    let cli = Cli::parse();
    init_logging(&cli);
    let ctx = Context { json: cli.json, quiet: cli.quiet, config: cli.config.clone() };
    let result = match &cli.command {
        Command::Init(args) => commands::node::init(&ctx, args),
        Command::Publish(args) => commands::records::publish(&ctx, args),
        Command::Withdraw(args) => commands::records::withdraw(&ctx, args),
        Command::List(args) => commands::records::list(&ctx, args),
        Command::Show(args) => commands::records::show(&ctx, args),
        Command::Stats => commands::records::stats(&ctx),
        Command::Search(args) => commands::records::search(&ctx, args),
        Command::History(args) => commands::records::history(&ctx, args),
        Command::Reindex => commands::transfer::reindex(&ctx),
        Command::New(args) => commands::records::new(&ctx, args),
        Command::Export(args) => commands::transfer::export(&ctx, args),
        Command::Import(args) => commands::transfer::import(&ctx, args),
        Command::Verify => commands::transfer::verify(&ctx),
        Command::Status => commands::node::status(&ctx),
        Command::Charter(command) => commands::charter::run(&ctx, command),
        Command::Key(command) => commands::charter::key(&ctx, command),
        Command::Peers => commands::node::peers(&ctx),
        Command::Web(args) => commands::node::web(&ctx, args),
        Command::Daemon => commands::node::daemon(&ctx),
        Command::Devnet(args) => commands::devnet::run(&ctx, args),
    };
    if let Err(err) = result {
        if is_broken_pipe(&err) {
            std::process::exit(0);
        }
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    // A closed stdout (`rix --json list | head -1`) reaches here as an io::Error, or inside the
    // serde_json error of a JSON document being written.
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| e.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind))
            == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,rix=info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
