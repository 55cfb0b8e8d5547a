//! Node set-up and state: `init`, `status`.

use anyhow::{Context as _, Result};
use rix_node::init::{InitOptions, init_node};

use super::Context;
use crate::cli::InitArgs;
use crate::render::Table;

pub fn init(ctx: &Context, args: &InitArgs) -> Result<()> {
    let outcome = init_node(&InitOptions {
        dir: args.dir.clone(),
        member: args.member.clone(),
        name: args.name.clone(),
        listen: args.listen.clone(),
        api: args.api.clone(),
        charter: args.charter.clone(),
        network: args.network.clone(),
        join: args.join.clone(),
        genesis: args.genesis.clone(),
        force: args.force,
    })?;
    if ctx.json {
        return ctx.print_json(&outcome);
    }
    match &outcome.member {
        Some(m) => outln!("Created node {m} for network {:?}", outcome.network),
        None => outln!("Created an observer node for network {:?}", outcome.network),
    }
    outln!("  config      {}", outcome.config.display());
    outln!("  charter     {}", outcome.charter.display());
    if let Some(key) = &outcome.public_key {
        outln!("  public key  {key}");
    }
    outln!("  peer id     {}", outcome.peer_id);
    outln!("  genesis     {}", outcome.genesis);
    if let (true, Some(member), Some(key)) = (outcome.joining, &outcome.member, &outcome.public_key) {
        let addresses: String = outcome.addresses.iter().map(|a| format!(" --address {a}")).collect();
        outln!(
            "\nAsk a member of {:?} to propose your admission, and the others to approve it:\n\n  rix charter propose admit --code {member} --name {:?} --public-key {key} --peer-id {}{addresses}\n\nStart the daemon meanwhile: it catches up the amendments and the history once admitted.",
            outcome.network,
            args.name.clone().unwrap_or_else(|| member.clone()),
            outcome.peer_id
        );
        return Ok(());
    }
    if outcome.member.is_none() && outcome.joining {
        outln!(
            "\nAsk a member to run `rix charter propose add-observer --peer-id {} --name TEXT`; the node is\nadmitted when a majority has approved it.",
            outcome.peer_id
        );
    } else if outcome.member.is_none() {
        outln!(
            "\nAsk a member to run `rix charter propose add-observer --peer-id {} --name TEXT`\n(or, before the network starts, `rix charter add-observer --charter FILE ...`) and to\nsend you the network's genesis charter for {}.",
            outcome.peer_id,
            outcome.charter.display()
        );
    }
    outln!("\nBack up {}/keys/ offline. Next: `rix --config {} daemon`.", args.dir.display(), outcome.config.display());
    Ok(())
}

pub fn status(ctx: &Context) -> Result<()> {
    let status = ctx.backend()?.status()?;
    if ctx.json {
        return ctx.print_json(&status);
    }
    outln!("network     {}", status.network);
    outln!("member      {}", status.member.as_ref().map_or("(observer)", |m| m.as_str()));
    outln!("peer id     {}", status.peer_id);
    outln!(
        "daemon      {}",
        if status.daemon_running { "running" } else { "not running (reading the replica directly)" }
    );
    for a in &status.listen_addresses {
        outln!("listening   {a}");
    }
    outln!("peers       {}", status.connected_peers.len());
    outln!("records     {}", status.records);
    outln!(
        "can publish {}",
        if status.can_publish { "yes" } else { "no (signing history not yet known, or the disk is full)" }
    );
    if let Some(disk) = &status.storage {
        let mib = |b: u64| b as f64 / 1048576.0;
        if disk.accepting {
            outln!("disk        {:.0} MiB free (reserve {:.0} MiB)", mib(disk.free_bytes), mib(disk.reserve_bytes));
        } else {
            outln!(
                "disk        {:.1} MiB free, BELOW the reserve of {:.0} MiB: not taking records from peers or imports until space is freed on the disk holding {}",
                mib(disk.free_bytes),
                mib(disk.reserve_bytes),
                disk.data_dir
            );
        }
    }
    if !status.members.is_empty() {
        outln!();
        let mut t = Table::new(&["MEMBER", "RECORDS", "HIGHEST", "CONTIGUOUS", "MISSING"], 4);
        for m in &status.members {
            let missing: u64 = m.missing.iter().map(|(a, b)| b - a + 1).sum();
            t.row(vec![
                m.member.to_string(),
                m.held.to_string(),
                m.max_seq.to_string(),
                m.contiguous.to_string(),
                missing.to_string(),
            ]);
        }
        t.print(&mut std::io::stdout().lock())?;
    }
    for e in &status.equivocations {
        outln!("EQUIVOCATION: {} signed {} records with seq {}", e.member, e.ids.len(), e.seq);
    }
    for r in &status.retired_records {
        outln!("RETIRED: record {} of {} ({}) no longer counts: {}", r.seq, r.member, r.id, r.reason);
    }
    Ok(())
}

pub fn web(ctx: &Context, args: &crate::cli::WebArgs) -> Result<()> {
    let config = ctx.load_config()?;
    let Some(api) = rix_node::client::connect(&config)? else {
        anyhow::bail!(
            "the web view is served by the daemon, which is not running: start it with `rix daemon`, then run `rix web` again"
        );
    };
    let login = api.web_login()?;
    if args.open {
        let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
        let opened = std::process::Command::new(opener)
            .arg(&login.url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if !matches!(opened, Ok(status) if status.success()) {
            ctx.note(format!("could not start {opener}; open the link below by hand"));
        }
    }
    if ctx.json {
        return ctx.print_json(&login);
    }
    outln!("{}", login.url);
    ctx.note(format!(
        "the link signs one browser in and then stops working; unused, it expires in {} minutes",
        login.expires_in / 60
    ));
    Ok(())
}

pub fn peers(ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let Some(api) = rix_node::client::connect(&config)? else {
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "daemon_running": false, "peers": [] }));
        }
        outln!("The daemon is not running, so there are no peers. Start it with `rix daemon`.");
        return Ok(());
    };
    let peers = api.peers()?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "daemon_running": true, "peers": peers }));
    }
    if peers.is_empty() {
        outln!("No peers connected.");
        return Ok(());
    }
    let mut t = Table::new(&["MEMBER", "PEER ID", "ADDRESS", "LAST SYNC", "FETCHED", "GOSSIP"], 1);
    for p in &peers {
        // Why a peer may not be getting gossip: not subscribed, or no relays through the mesh.
        let gossip = match (p.gossip_subscribed, p.in_mesh) {
            (false, _) => "not subscribed".to_owned(),
            (true, true) => "mesh".to_owned(),
            (true, false) => "direct only".to_owned(),
        };
        let gossip = match p.gossip_score {
            Some(score) => format!("{gossip}, score {score:.1}"),
            None => gossip,
        };
        t.row(vec![
            p.member.as_ref().map(ToString::to_string).unwrap_or_default(),
            p.peer_id.clone(),
            p.address.clone().unwrap_or_default(),
            p.last_sync.map_or_else(|| "never".into(), |t| t.to_string()),
            p.records_fetched.to_string(),
            gossip,
        ]);
    }
    t.print(&mut std::io::stdout().lock())?;
    Ok(())
}

pub fn daemon(ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let stopped_while_starting = runtime.block_on(async {
        // Installed before anything starts: a SIGTERM while the daemon still waits for the
        // replica's lock, or is opening it, is a clean stop (exit 0), not death by signal.
        let mut shutdown = std::pin::pin!(shutdown_signal()?);
        let running = tokio::select! {
            running = rix_node::daemon::start(config) => running?,
            () = &mut shutdown => return anyhow::Ok(true),
        };
        let node = running.node().clone();
        if !ctx.quiet && !ctx.json {
            eprintln!(
                "rix daemon: peer {} listening, API on {}; Ctrl-C to stop",
                node.net().local_peer_id(),
                node.api_addr()
            );
        }
        running.run_until(shutdown).await?;
        anyhow::Ok(false)
    });
    let stopped_while_starting = match stopped_while_starting {
        Ok(stopped) => stopped,
        Err(e) => {
            // A failed daemon has already stopped within its bound, or given up on part of it:
            // a write stuck on a full disk may still hold a thread of the blocking pool, and
            // dropping the runtime would wait for it for ever. Abandon it: the process ends.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            return Err(e);
        }
    };
    if stopped_while_starting {
        ctx.note("rix daemon: stopped while starting; nothing was changed");
        // Whatever start was still doing (opening the replica on the blocking pool) is given a
        // moment to finish, then abandoned: the process ends either way.
        runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    }
    Ok(())
}

/// A future that resolves on SIGINT or SIGTERM; the handlers are installed when this returns.
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
