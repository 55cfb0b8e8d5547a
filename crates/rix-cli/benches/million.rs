//! A real `rix daemon` process on a replica of RIX_MILLION_RECORDS records (default
//! 1,000,000): its resident memory after start, after `rix stats` (computed from index
//! entries), after a list and a search, after `rix export --format signed` and `--format jsonl`
//! (which read every record), and at its peak; its start-up time; and disk bytes per record.
//!
//! `cargo bench -p rix-cli --bench million` (builds the store first: several minutes).
//! RIX_MILLION_CACHE_MB sets `store.cache_capacity_mb` (default 8, the shipped default).

use std::time::{Duration, Instant};

use rix_api::record::{Author, MemberKey};
use rix_tests::corpus::fill_replica;
use rix_tests::{Rix, TestNet, env_usize, signal};

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Resident memory of a process, MiB: total, peak, and the total's anonymous part (heap,
/// stacks: what the process allocated) and file-backed part (mapped files such as the search
/// index, which the kernel can drop and re-read).
struct Rss {
    total: f64,
    peak: f64,
    anon: f64,
    file: f64,
}

fn rss_of(pid: u32) -> Rss {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    Rss { total: field("VmRSS:"), peak: field("VmHWM:"), anon: field("RssAnon:"), file: field("RssFile:") }
}

impl std::fmt::Display for Rss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} MiB ({:.0} anonymous + {:.0} file-backed)", self.total, self.anon, self.file)
    }
}

fn main() {
    let count = env_usize("RIX_MILLION_RECORDS", 1_000_000);
    let cache_mb = env_usize("RIX_MILLION_CACHE_MB", rix_node::config::DEFAULT_CACHE_MB as usize);
    let rix = Rix::new(env!("CARGO_BIN_EXE_rix"));
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    let config = std::fs::read_to_string(&kz.config).unwrap();
    std::fs::write(
        &kz.config,
        config.replace(
            &format!("cache_capacity_mb = {}", rix_node::config::DEFAULT_CACHE_MB),
            &format!("cache_capacity_mb = {cache_mb}"),
        ),
    )
    .unwrap();

    // The store: records signed by KZ, written in batches as the daemon's sync would.
    let key = MemberKey::load(&kz.dir.join("keys/signing.key")).unwrap();
    let author = Author::new("rix-test", "KZ".parse().unwrap(), key);
    let replica_dir = kz.dir.join("data/replica");
    let t = Instant::now();
    let last = fill_replica(&replica_dir, &author, count, |done| {
        if done % 102_400 < 4096 {
            eprintln!("  {done} records stored ({:.0} s)", t.elapsed().as_secs_f64());
        }
    });
    std::fs::write(kz.dir.join("keys/last-signed.rix"), last.unwrap().bytes()).unwrap();
    let build = t.elapsed();
    let replica_bytes = dir_bytes(&replica_dir);
    let t = Instant::now();
    rix.ok(&["--config", kz.config_arg(), "reindex"]);
    let index_time = t.elapsed();
    let index_bytes = dir_bytes(&kz.dir.join("data/search"));
    println!(
        "store: {count} records signed and stored in {:.0} s; replica {:.0} MiB ({:.0} B/record); search index built in {:.0} s, {:.0} MiB ({:.0} B/record)",
        build.as_secs_f64(),
        replica_bytes as f64 / 1048576.0,
        replica_bytes as f64 / count as f64,
        index_time.as_secs_f64(),
        index_bytes as f64 / 1048576.0,
        index_bytes as f64 / count as f64
    );

    // The daemon: start-up until its API answers, then memory as it is used.
    let t = Instant::now();
    let mut daemon = rix.spawn_daemon(kz);
    // Poll the API's health, not `rix status`: a CLI that finds no daemon opens the replica
    // itself and would hold it while the daemon starts.
    let loaded = rix_node::NodeConfig::load(&kz.config).unwrap();
    while !matches!(rix_node::client::connect(&loaded), Ok(Some(_))) {
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited; see {}", kz.dir.join("daemon.log").display());
        std::thread::sleep(Duration::from_millis(50));
    }
    let startup = t.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let after_start = rss_of(daemon.id());
    let t = Instant::now();
    rix.ok(&["--config", kz.config_arg(), "stats"]);
    let stats_time = t.elapsed();
    let after_stats = rss_of(daemon.id());
    let t = Instant::now();
    rix.ok(&["--config", kz.config_arg(), "list", "--limit", "20"]);
    rix.ok(&["--config", kz.config_arg(), "search", "integrity"]);
    let query_time = t.elapsed();
    let after_queries = rss_of(daemon.id());
    let t = Instant::now();
    let pack = net.root.path().join("replica.pack");
    let exported =
        rix.json(&["--config", kz.config_arg(), "export", "--format", "signed", "--out", pack.to_str().unwrap()]);
    assert_eq!(exported["exported"].as_u64(), Some(count as u64), "{exported}");
    let export_time = t.elapsed();
    let after_export = rss_of(daemon.id());
    std::fs::remove_file(&pack).unwrap();
    let t = Instant::now();
    let jsonl = net.root.path().join("replica.jsonl");
    let exported = rix.json(&[
        "--config",
        kz.config_arg(),
        "export",
        "--format",
        "jsonl",
        "--all-versions",
        "--include-withdrawn",
        "--out",
        jsonl.to_str().unwrap(),
    ]);
    assert!(exported["exported"].as_u64().is_some_and(|n| n > 0), "{exported}");
    let views_time = t.elapsed();
    let after_views = rss_of(daemon.id());
    std::fs::remove_file(&jsonl).unwrap();
    println!(
        "daemon with {count} records, store.cache_capacity_mb = {cache_mb}: start-up {:.2} s (until its API answers); RSS {after_start} after start, {after_stats} after `rix stats` ({:.1} s), {after_queries} after list + search ({:.2} s), {after_export} after `rix export --format signed` of every record ({:.1} s), {after_views} after `rix export --format jsonl` of {} records ({:.1} s); peak {:.0} MiB",
        startup.as_secs_f64(),
        stats_time.as_secs_f64(),
        query_time.as_secs_f64(),
        export_time.as_secs_f64(),
        exported["exported"],
        views_time.as_secs_f64(),
        after_views.peak
    );
    signal(&daemon, nix::sys::signal::Signal::SIGTERM);
    daemon.wait().unwrap();
    if std::env::var("RIX_MILLION_KEEP").is_ok() {
        // For experiments on the same store: `rix --config <dir>/kz/config.toml daemon`.
        let kept = net.root.keep();
        eprintln!("kept the network directory: {}", kept.display());
    }
}
