//! Propagation across nine `rix daemon` processes on 127.0.0.1, as the network is deployed:
//! one process per member, each with its own runtime, allocator and sled instance. Records
//! are published round-robin through each daemon's API at 20 and at 200 records/s
//! (RIX_BENCH_RATE to pick one; RIX_BENCH_PROPAGATION records each, default 2,000); a record's
//! arrival at a node is the time that daemon logged storing it (`rix_stored` debug lines,
//! wall clock, which every process on one machine shares).
//!
//! `cargo bench -p rix-cli --bench daemons`. The in-process variant, which runs the nine
//! nodes on one tokio runtime in one process, is `cargo bench -p rix-tests --bench network`.
//!
//! For diagnosis and A/B runs: RIX_BENCH_PAIRS prints delivery from each publisher to each
//! node and each node's gossip links; RIX_BENCH_BIN runs another build of `rix`;
//! RIX_BENCH_NETWORK adds `[network]` settings (';'-separated TOML lines); RIX_BENCH_LOG adds
//! log directives (such as `rix_net=debug`); RIX_BENCH_KEEP_LOGS=DIR keeps the daemons' logs.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rix_api::record::RecordId;
use rix_api::{ApiClient, Backend};
use rix_tests::{
    ALMATY_MEMBERS as MEMBERS, Daemon, NodeDir, Rix, TestNet, bench_publication as content, cpu_time, env_usize,
    loopback_bytes, ms, percentile, signal,
};

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-28T18:39:26.826095Z` (tracing's log timestamp) as time since the Unix epoch.
fn parse_log_time(text: &str) -> Option<Duration> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|v| v.parse::<i64>());
    let days = days_from_civil(d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|v| v.parse::<u64>());
    let seconds = days as u64 * 86_400 + t.next()?.ok()? * 3600 + t.next()?.ok()? * 60 + t.next()?.ok()?;
    let nanos = format!("{fraction:0<9}").get(..9)?.parse::<u32>().ok()?;
    Some(Duration::new(seconds, nanos))
}

/// Removes ANSI colour sequences (the daemon colours its log when it can).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every `record stored` line of a daemon's log: record id → when.
fn arrivals(log: &Path) -> HashMap<RecordId, Duration> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("record stored"))
        .filter_map(|l| {
            let l = strip_ansi(l);
            let at = parse_log_time(l.split_whitespace().next()?)?;
            let id = l.split("id=").nth(1)?.split_whitespace().next()?.parse().ok()?;
            Some((id, at))
        })
        .collect()
}

fn connect(node: &NodeDir) -> ApiClient {
    let config = rix_node::NodeConfig::load(&node.config).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(api)) = rix_node::client::connect(&config) {
            return api;
        }
        assert!(Instant::now() < deadline, "{}'s daemon did not answer", node.member);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// When a record was handed to the API, and through which node (index into the members).
struct Sent {
    at: Duration,
    by: usize,
}

/// With `RIX_BENCH_PAIRS` set: median and p99 delivery time from each publisher to each
/// node. A pair far slower than the rest means records reach that node only by relay, not
/// from the publisher directly (how two connections per peer were found to lose direct sends).
fn print_pairs(sent: &HashMap<RecordId, Sent>, seen: &[HashMap<RecordId, Duration>]) {
    println!("delivery median/p99 ms, publisher (rows) to node (columns): {}", MEMBERS.join(" "));
    for (p, member) in MEMBERS.iter().enumerate() {
        let row: Vec<String> = seen
            .iter()
            .map(|arrivals| {
                let mut d: Vec<Duration> = sent
                    .iter()
                    .filter(|(_, s)| s.by == p)
                    .filter_map(|(id, s)| Some(arrivals.get(id)?.saturating_sub(s.at)))
                    .collect();
                d.sort();
                format!("{:5.1}/{:5.1}", ms(percentile(&d, 0.5)), ms(percentile(&d, 0.99)))
            })
            .collect();
        println!("  {member}: {}", row.join(" "));
    }
}

struct Propagation {
    to_all: Vec<Duration>,
    each: Vec<Duration>,
    achieved: f64,
    cores: f64,
    /// CPU time of the nine daemons together per record published: the cost of a record, to
    /// compare builds below saturation (at saturation it is just the cores over the rate).
    cpu_per_record: Duration,
    bytes_per_record_per_node: f64,
}

fn propagation(rix: &Rix, count: usize, rate: f64) -> Propagation {
    let net = TestNet::init(rix, &MEMBERS);
    // RIX_BENCH_NETWORK: extra `[network]` settings for every daemon, such as
    // "forward_hold_ms = 600000" (TOML lines separated by ';').
    if let Ok(extra) = std::env::var("RIX_BENCH_NETWORK") {
        let lines = extra.replace(';', "\n");
        for n in &net.nodes {
            let config = std::fs::read_to_string(&n.config).unwrap();
            assert!(config.contains("[network]\n"), "no [network] section in {}", n.config.display());
            std::fs::write(&n.config, config.replacen("[network]\n", &format!("[network]\n{lines}\n"), 1)).unwrap();
        }
    }
    let log_filter =
        std::env::var("RIX_BENCH_LOG").map_or("warn,rix_stored=debug".to_owned(), |f| format!("{f},rix_stored=debug"));
    let mut daemons: Vec<Daemon> = net.nodes.iter().map(|n| rix.spawn_daemon_logging(n, &log_filter)).collect();
    let apis: Vec<ApiClient> = net.nodes.iter().map(connect).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !apis.iter().all(|a| a.status().is_ok_and(|s| s.connected_peers.len() == MEMBERS.len() - 1)) {
        assert!(Instant::now() < deadline, "the nine daemons did not all connect");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Gossipsub meshes form on heartbeats after connections; let two pass.
    std::thread::sleep(Duration::from_secs(2));

    let pids: Vec<u32> = daemons.iter().map(|d| d.id()).collect();
    let cpu = || pids.iter().map(|p| cpu_time(Some(*p))).sum::<Duration>();
    let cpu_at_start = cpu();
    let bytes_at_start = loopback_bytes();
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for i in 0..count {
            if let Some(wait) = (interval * i as u32).checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
            // Each publish on a thread of its own, so a slow one does not delay the schedule.
            let (by, tx) = (i % apis.len(), sent_tx.clone());
            let api = &apis[by];
            scope.spawn(move || {
                let at = now();
                let view = api.publish(content(i)).expect("publish");
                tx.send((view.id, Sent { at, by })).unwrap();
            });
        }
    });
    drop(sent_tx);
    let sent: HashMap<RecordId, Sent> = sent_rx.into_iter().collect();
    let achieved = count as f64 / started.elapsed().as_secs_f64();

    let logs: Vec<_> = net.nodes.iter().map(|n| n.dir.join("daemon.log")).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<HashMap<RecordId, Duration>> = logs.iter().map(|l| arrivals(l)).collect();
    while seen.iter().any(|s| sent.keys().any(|id| !s.contains_key(id))) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        seen = logs.iter().map(|l| arrivals(l)).collect();
    }
    let cpu_used = cpu() - cpu_at_start;
    let cores = cpu_used.as_secs_f64() / started.elapsed().as_secs_f64();
    let cpu_per_record = cpu_used / count as u32;
    // Gossip, control messages and the benchmark's API calls: the same for every variant of
    // the code, so what changes between runs is what gossip sends.
    let bytes_per_record_per_node = (loopback_bytes() - bytes_at_start) as f64 / (count * MEMBERS.len()) as f64;
    if std::env::var_os("RIX_BENCH_PAIRS").is_some() {
        println!(
            "gossip links: each node's peers (lower case: not in its mesh; '?': protocol not agreed; '!': not subscribed; gossip score)"
        );
        for (node, api) in MEMBERS.iter().zip(&apis) {
            let peers = api.peers().unwrap_or_default();
            let links: Vec<String> = peers
                .iter()
                .map(|p| {
                    let member = p.member.as_ref().map(ToString::to_string).unwrap_or_default();
                    let member = if p.in_mesh { member } else { member.to_lowercase() };
                    let agreed = p.gossip_protocol.as_deref().is_some_and(|k| k.starts_with("Gossipsub"));
                    let member = if agreed { member } else { format!("{member}?") };
                    let member = if p.gossip_subscribed { member } else { format!("{member}!") };
                    format!("{member}({:.0})", p.gossip_score.unwrap_or(f64::NAN))
                })
                .collect();
            println!("  {node}: {}", links.join(" "));
        }
    }
    for daemon in &mut daemons {
        signal(daemon, nix::sys::signal::Signal::SIGTERM);
    }
    for daemon in &mut daemons {
        daemon.wait().unwrap();
    }

    if let Ok(keep) = std::env::var("RIX_BENCH_KEEP_LOGS") {
        let _ = std::fs::create_dir_all(&keep);
        for n in &net.nodes {
            let _ = std::fs::copy(n.dir.join("daemon.log"), Path::new(&keep).join(format!("{}.log", n.member)));
        }
    }
    let (mut to_all, mut each) = (Vec::new(), Vec::new());
    for (id, Sent { at, .. }) in &sent {
        let times: Vec<Duration> = seen
            .iter()
            .zip(&net.nodes)
            .map(|(s, n)| *s.get(id).unwrap_or_else(|| panic!("record {id} never reached {}", n.member)))
            .collect();
        each.extend(times.iter().map(|t| t.saturating_sub(*at)));
        to_all.push(times.iter().max().unwrap().saturating_sub(*at));
    }
    if std::env::var_os("RIX_BENCH_PAIRS").is_some() {
        print_pairs(&sent, &seen);
    }
    to_all.sort();
    each.sort();
    Propagation { to_all, each, achieved, cores, cpu_per_record, bytes_per_record_per_node }
}

fn main() {
    // RIX_BENCH_BIN runs another build of `rix` (say, an older commit's, built into a target
    // directory of its own) under the same benchmark, for A/B comparisons.
    let bin = std::env::var("RIX_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rix").to_owned());
    let rix = Rix::new(bin);
    let count = env_usize("RIX_BENCH_PROPAGATION", 2000);
    let rates: Vec<f64> = match std::env::var("RIX_BENCH_RATE") {
        Ok(r) => vec![r.parse().unwrap()],
        Err(_) => vec![20.0, 200.0],
    };
    for rate in rates {
        let Propagation { to_all, each, achieved, cores, cpu_per_record, bytes_per_record_per_node } =
            propagation(&rix, count, rate);
        println!(
            "propagation, 9 daemon processes, {count} records at {rate:.0}/s offered ({achieved:.0}/s achieved): to all nodes median {:.1} ms, p99 {:.1} ms, max {:.1} ms; per delivery median {:.1} ms, p99 {:.1} ms; {cores:.2} of {} cores busy, {:.2} ms of daemon CPU per record; {bytes_per_record_per_node:.0} loopback bytes per record per node",
            ms(percentile(&to_all, 0.5)),
            ms(percentile(&to_all, 0.99)),
            ms(*to_all.last().unwrap()),
            ms(percentile(&each, 0.5)),
            ms(percentile(&each, 0.99)),
            std::thread::available_parallelism().map_or(0, usize::from),
            ms(cpu_per_record),
        );
    }
}
