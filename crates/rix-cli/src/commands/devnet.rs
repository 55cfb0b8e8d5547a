//! `rix devnet`: a local network of member nodes on 127.0.0.1 in this process, publishing the
//! sample records from their authors and showing them spread, until Ctrl-C.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use rix_api::Backend;
use rix_api::record::file::read_record_file;
use rix_node::NodeConfig;
use rix_node::daemon::{Node, RunningNode};
use rix_node::drafts::DraftResolver;
use rix_node::init::{InitOptions, init_node};
use rix_node::inprocess::InProcessBackend;

use super::Context;
use crate::cli::DevnetArgs;

include!(concat!(env!("OUT_DIR"), "/samples.rs"));

const SIGNATORIES: [(&str, &str); 9] = [
    ("AZ", "State Customs Committee of the Azerbaijan Republic"),
    ("CN", "General Administration of Customs of the People's Republic of China"),
    ("JP", "Customs and Tariff Bureau, Ministry of Finance of Japan"),
    ("KZ", "Customs Control Committee, Ministry of Finance of the Republic of Kazakhstan"),
    ("KG", "State Customs Inspection under the Government of the Kyrgyz Republic"),
    ("MN", "Mongolian Customs"),
    ("RU", "Federal Customs Service of the Russian Federation"),
    ("TJ", "Customs Service under the Government of the Republic of Tajikistan"),
    ("UZ", "State Customs Committee of the Republic of Uzbekistan"),
];
const MARKER: &str = ".rix-devnet";

pub fn run(ctx: &Context, args: &DevnetArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("rix-devnet"));
    prepare_dir(&dir)?;
    let members: Vec<(String, String)> = (0..usize::from(args.nodes))
        .map(|i| match SIGNATORIES.get(i) {
            Some((code, name)) => ((*code).to_owned(), (*name).to_owned()),
            None => (format!("M{}", i + 1), format!("Member {}", i + 1)),
        })
        .collect();
    if u32::from(args.base_port) + 100 + u32::from(args.nodes) > 65535 {
        bail!("--base-port {} leaves no room for {} nodes and their APIs", args.base_port, args.nodes);
    }

    let charter = dir.join("charter.toml");
    let mut configs = Vec::new();
    for (i, (code, name)) in members.iter().enumerate() {
        let i = u16::try_from(i).expect("at most 200 nodes");
        let outcome = init_node(&InitOptions {
            dir: dir.join(code.to_lowercase()),
            member: Some(code.parse()?),
            name: Some(name.clone()),
            listen: vec![format!("/ip4/127.0.0.1/tcp/{}", args.base_port + i)],
            api: format!("127.0.0.1:{}", args.base_port + 100 + i),
            charter: Some(charter.clone()),
            network: "rix-devnet".into(),
            join: None,
            genesis: None,
            force: false,
        })?;
        // Faster sync and redial than a production node: the devnet is for watching.
        let text = std::fs::read_to_string(&outcome.config)?
            .replace("interval_secs = 30", "interval_secs = 5")
            .replace("redial_max_secs = 60", "redial_max_secs = 4");
        std::fs::write(&outcome.config, text)?;
        configs.push((code.clone(), outcome.config));
    }
    let samples = write_samples(&dir, &members)?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let running: Vec<RunningNode> = runtime.block_on(async {
        let mut nodes = Vec::new();
        for (code, config) in &configs {
            let loaded = NodeConfig::load(config)?;
            nodes.push(rix_node::daemon::start(loaded).await.with_context(|| format!("starting node {code}"))?);
        }
        anyhow::Ok(nodes)
    })?;
    let nodes: Vec<(String, Arc<Node>)> =
        configs.iter().map(|(c, _)| c.clone()).zip(running.iter().map(|r| r.node().clone())).collect();

    if !ctx.json {
        outln!("rix devnet: {} nodes on 127.0.0.1, network \"rix-devnet\", in {}", nodes.len(), dir.display());
        outln!("Query any node from another terminal while this runs, e.g.:");
        for (code, config) in &configs {
            outln!("  rix --config {} list      # {code}", config.display());
        }
        // The web view of one node (KZ's when it runs): a one-time link, and how to get another.
        let (code, node) = nodes.iter().find(|(c, _)| c == "KZ").unwrap_or(&nodes[0]);
        let config = &configs.iter().find(|(c, _)| c == code).expect("every node has a config").1;
        outln!();
        outln!("Web view of {code}'s node (open in a browser; the link signs in once):");
        outln!("  {}", node.web().login_url());
        outln!("  another link: rix --config {} web", config.display());
        outln!();
    }

    let total = if args.no_samples { 0 } else { samples.iter().map(|(_, files)| files.len()).sum() };
    let published = Arc::new(AtomicUsize::new(0));
    let charter_news = Arc::new(std::sync::Mutex::new(String::new()));
    let charter_change = !args.no_charter_change;
    let publisher = (!args.no_samples || charter_change).then(|| {
        let nodes = nodes.clone();
        let published = published.clone();
        let news = charter_news.clone();
        let handle = runtime.handle().clone();
        let samples = if args.no_samples { Vec::new() } else { samples };
        std::thread::spawn(move || {
            publish_samples(&nodes, &samples, &handle, &published);
            if charter_change && let Err(e) = change_charter(&nodes, &handle, &news) {
                eprintln!("devnet: the charter change failed: {e:#}");
            }
        })
    });

    let tty = std::io::stdout().is_terminal() && !ctx.json;
    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs(s));
    // What the display loop met (a closed stdout): reported once the nodes are stopped.
    let shown = runtime.block_on(async {
        let mut shown_lines = 0;
        let mut converged_at: Option<Duration> = None;
        let mut last_plain = Instant::now() - Duration::from_secs(60);
        let mut last_news = String::new();
        let mut ctrl_c = std::pin::pin!(super::node::shutdown_signal()?);
        loop {
            let mut rows = Vec::new();
            for (code, node) in &nodes {
                let held = node.replica().len().unwrap_or(0);
                let peers = node.net().peers().await.map(|p| p.len()).unwrap_or(0);
                rows.push((code.clone(), held, peers, node.charter_now().version));
            }
            let news = charter_news.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let done = published.load(Ordering::Relaxed);
            let all_held = done == total && rows.iter().all(|(_, held, _, _)| *held as usize == total);
            if all_held && converged_at.is_none() {
                converged_at = Some(started.elapsed());
            }
            if ctx.json {
            } else if tty {
                shown_lines = redraw(&rows, done, total, nodes.len(), converged_at, &news, shown_lines);
            } else if last_plain.elapsed() >= Duration::from_secs(2)
                || (all_held && converged_at == Some(started.elapsed()))
            {
                last_plain = Instant::now();
                let cells: Vec<String> = rows.iter().map(|(c, h, p, v)| format!("{c}:{h}/{p}p/v{v}")).collect();
                outln!(
                    "t={:>3}s published {done}/{total}  held/peers/charter  {}",
                    started.elapsed().as_secs(),
                    cells.join(" ")
                );
                if !news.is_empty() && news != last_news {
                    outln!("      charter: {news}");
                    last_news = news.clone();
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = &mut ctrl_c => break,
            }
        }
        if let Some(t) = converged_at.filter(|_| !ctx.json) {
            outln!("\nall {} nodes held all {total} records {:.1}s after start", nodes.len(), t.as_secs_f64());
        }
        anyhow::Ok(())
    });
    if let Some(p) = publisher {
        let _ = p.join();
    }
    if !ctx.json && shown.is_ok() {
        outln!("stopping {} nodes...", running.len());
    }
    let held: Vec<(String, u64, u64)> =
        nodes.iter().map(|(c, n)| (c.clone(), n.replica().len().unwrap_or(0), n.charter_now().version)).collect();
    runtime.block_on(async {
        for r in running {
            r.stop().await?;
        }
        anyhow::Ok(())
    })?;
    shown?;
    if ctx.json {
        let nodes: Vec<_> = held
            .iter()
            .zip(&configs)
            .map(|((c, h, v), (_, cfg))| {
                serde_json::json!({"member": c, "records": h, "charter_version": v, "config": cfg})
            })
            .collect();
        ctx.print_json(
            &serde_json::json!({ "dir": dir, "published": published.load(Ordering::Relaxed), "nodes": nodes }),
        )?;
    }
    Ok(())
}

fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let is_devnet = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !is_devnet && !empty {
            bail!("{} exists and is not a devnet directory; choose another --dir", dir.display());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("removing the previous devnet in {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "created by rix devnet; removed and recreated by the next run\n")?;
    Ok(())
}

/// Writes the embedded sample records of the devnet's members; returns them per member.
fn write_samples(dir: &Path, members: &[(String, String)]) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let mut out = Vec::new();
    for (code, _) in members {
        let mut files = Vec::new();
        for (member, name, text) in SAMPLES.iter().filter(|(m, _, _)| m == code) {
            let path = dir.join("samples").join(member).join(name);
            std::fs::create_dir_all(path.parent().expect("has a parent"))?;
            std::fs::write(&path, text)?;
            files.push(path);
        }
        out.push((code.clone(), files));
    }
    Ok(out)
}

/// Publishes each member's samples on its own node, round-robin across members.
fn publish_samples(
    nodes: &[(String, Arc<Node>)],
    samples: &[(String, Vec<PathBuf>)],
    runtime: &tokio::runtime::Handle,
    published: &AtomicUsize,
) {
    let backends: Vec<InProcessBackend> =
        nodes.iter().map(|(_, n)| InProcessBackend::new(n.clone(), runtime.clone())).collect();
    let mut resolvers: Vec<DraftResolver<'_>> =
        nodes.iter().zip(&backends).map(|((code, _), b)| DraftResolver::new(b, code.parse().ok())).collect();
    let rounds = samples.iter().map(|(_, f)| f.len()).max().unwrap_or(0);
    // Let the nodes connect first, so the spread is visible as gossip rather than sync.
    std::thread::sleep(Duration::from_millis(1500));
    for round in 0..rounds {
        for (i, (code, files)) in samples.iter().enumerate() {
            let Some(path) = files.get(round) else {
                continue;
            };
            let result = read_record_file(path)
                .map_err(anyhow::Error::from)
                .and_then(|draft| Ok(resolvers[i].content(&draft)?))
                .and_then(|content| Ok(backends[i].publish(content)?));
            match result {
                Ok(view) => {
                    resolvers[i].note_published(path, view.id);
                    published.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => eprintln!("devnet: {code} could not publish {}: {e:#}", path.display()),
            }
            std::thread::sleep(Duration::from_millis(120));
        }
    }
}

/// Once the samples are out: the first node proposes admitting a new member, and the next
/// ones approve it one by one as the proposal reaches them, until a majority has and the new
/// version is in force everywhere. `news` says where it stands, for the display.
fn change_charter(
    nodes: &[(String, Arc<Node>)],
    runtime: &tokio::runtime::Handle,
    news: &std::sync::Mutex<String>,
) -> Result<()> {
    use rix_api::record::amendment::Change;
    let say = |text: String| *news.lock().unwrap_or_else(|p| p.into_inner()) = text;
    let backends: Vec<InProcessBackend> =
        nodes.iter().map(|(_, n)| InProcessBackend::new(n.clone(), runtime.clone())).collect();
    let code = format!("M{}", nodes.len() + 1);
    let key = rix_api::record::MemberKey::generate()?;
    let version = backends[0].charter(None)?;
    let admit = Change::Admit {
        code: code.parse()?,
        name: format!("Member {} (admitted by the devnet)", nodes.len() + 1),
        public_key: key.author_key(),
        peer_id: String::new(),
        addresses: vec![],
        proof: Some(rix_api::record::amendment::key_proof(&key, &version.hash, &code.parse()?)),
    };
    std::thread::sleep(Duration::from_secs(2));
    let proposal = backends[0].charter_propose(vec![admit])?;
    let id = proposal.proposal.to_string();
    let needed = proposal.needed as usize;
    say(format!("{} proposes admitting {code} ({} of {needed} approvals)", nodes[0].0, proposal.approvals.len()));
    let mut approvals = proposal.approvals.len();
    for (i, backend) in backends.iter().enumerate().skip(1) {
        if approvals >= needed {
            break;
        }
        // Each node approves once the proposal has reached it, by gossip or sync.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !backend.charter_pending()?.proposals.iter().any(|p| p.proposal == proposal.proposal) {
            if Instant::now() > deadline {
                bail!("the proposal did not reach {}", nodes[i].0);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_millis(700));
        let view = backend.charter_approve(&id)?;
        approvals = view.approvals.len();
        say(match view.applied {
            Some(v) => format!("{} approves: {approvals} of {needed}, {code} admitted in version {v}", nodes[i].0),
            None => format!("{} approves admitting {code}: {approvals} of {needed}", nodes[i].0),
        });
    }
    Ok(())
}

fn redraw(
    rows: &[(String, u64, usize, u64)],
    done: usize,
    total: usize,
    n: usize,
    converged: Option<Duration>,
    news: &str,
    previous: usize,
) -> usize {
    let mut out = std::io::stdout().lock();
    if previous > 0 {
        let _ = write!(out, "\x1b[{previous}A");
    }
    let width = 30;
    let mut lines = 0;
    let _ = writeln!(out, "\x1b[2Kpublished {done}/{total} sample records   (Ctrl-C to stop)");
    lines += 1;
    for (code, held, peers, version) in rows {
        let filled = if total == 0 { 0 } else { (*held as usize * width / total.max(1)).min(width) };
        let _ = writeln!(
            out,
            "\x1b[2K  {code:<4} {}{} {held:>4} records  {peers}/{} peers  charter v{version}",
            "█".repeat(filled),
            "·".repeat(width - filled),
            n - 1
        );
        lines += 1;
    }
    if !news.is_empty() {
        let _ = writeln!(out, "\x1b[2Kcharter: {news}");
        lines += 1;
    }
    let status = match converged {
        Some(t) => format!("all nodes hold all {total} records ({:.1}s)", t.as_secs_f64()),
        None => "spreading...".to_owned(),
    };
    let _ = writeln!(out, "\x1b[2K{status}");
    lines += 1;
    let _ = out.flush();
    lines
}
