//! Network figures on this machine, with real nodes on 127.0.0.1 in one process:
//! - propagation: time from `publish` on one node until all nodes of a 9-node network hold
//!   the record (median, p99), over RIX_BENCH_PROPAGATION records (default 2,000) published
//!   round-robin at 20 and at 200 records/s;
//! - catch-up: a node that missed RIX_BENCH_CATCHUP records (default 100,000) syncs them from
//!   a peer; its rate is compared with the raw verify + store rates measured in the same run.
//!
//! `RIX_BENCH_ONLY=propagation|catchup` runs one of the two. The nine nodes share one tokio
//! runtime, one allocator and sled's process-wide lock here; `cargo bench -p rix-cli --bench
//! daemons` times propagation across nine separate `rix daemon` processes instead.
//!
//! Run with `cargo bench -p rix-tests --bench network`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rix_node::daemon::{Node, RunningNode};
use rix_record::{Author, MemberKey, SignedRecord, Timestamp, VerifiedRecord};
use rix_store::{Replica, ReplicaOptions};
use rix_tests::{
    ALMATY_MEMBERS as MEMBERS, TestNet, bench_publication as content, cpu_time, env_usize, ms, percentile,
};

async fn start(config: &std::path::Path) -> RunningNode {
    rix_node::daemon::start(rix_node::NodeConfig::load(config).unwrap()).await.unwrap()
}

async fn wait_mesh(nodes: &[Arc<Node>]) {
    let want = nodes.len() - 1;
    loop {
        let mut ok = true;
        for n in nodes {
            ok &= n.net().peers().await.map(|p| p.len()).unwrap_or(0) == want;
        }
        if ok {
            // Gossipsub meshes form on heartbeats after connections; let two pass.
            tokio::time::sleep(Duration::from_secs(2)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What one propagation run measured.
struct Propagation {
    /// Per record, the time until the last node had it, sorted.
    to_all: Vec<Duration>,
    /// Per (record, node), the time until that node had it, sorted.
    each: Vec<Duration>,
    /// Records published per second.
    achieved: f64,
    /// Cores busy from the first publish until every node had every record.
    cores: f64,
}

/// Publishes `count` records round-robin from the nine nodes at `rate` per second (each publish
/// in its own task, so a slow one does not delay the schedule) and times, from the publish call,
/// each record's arrival at every node (from the nodes' stored-record notices, not polling).
async fn propagation(count: usize, rate: f64) -> Propagation {
    let net = TestNet::create(&MEMBERS);
    // Knobs for finding the bottleneck: RIX_BENCH_SEARCH=0 turns the search index off,
    // RIX_BENCH_FSYNC=0 the replica's fdatasync.
    for node in &net.nodes {
        let mut config = std::fs::read_to_string(&node.config).unwrap();
        if std::env::var("RIX_BENCH_SEARCH").is_ok_and(|v| v == "0") {
            config = config.replace("[store]", "[store]\nsearch_index = false");
        }
        if std::env::var("RIX_BENCH_FSYNC").is_ok_and(|v| v == "0") {
            config = config.replace("[store]", "[store]\nfsync = false");
        }
        std::fs::write(&node.config, config).unwrap();
    }
    let mut running = Vec::new();
    for node in &net.nodes {
        running.push(start(&node.config).await);
    }
    let nodes: Vec<Arc<Node>> = running.iter().map(|r| r.node().clone()).collect();
    wait_mesh(&nodes).await;
    let (arrival_tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    for n in &nodes {
        let (mut notices, tx) = (n.subscribe_stored(), arrival_tx.clone());
        tokio::spawn(async move {
            while let Ok(id) = notices.recv().await {
                let _ = tx.send((id, Instant::now()));
            }
        });
    }
    let (published_tx, mut published) = tokio::sync::mpsc::unbounded_channel();
    let cpu_at_start = cpu_time(None);
    let started = tokio::time::Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    for i in 0..count {
        tokio::time::sleep_until(started + interval * i as u32).await;
        let (author, tx) = (nodes[i % nodes.len()].clone(), published_tx.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            let view = author.publish(content(i)).await.unwrap();
            let _ = tx.send((view.id, t));
        });
    }
    drop(published_tx);
    let mut sent = std::collections::HashMap::new();
    while let Some((id, t)) = published.recv().await {
        sent.insert(id, t);
    }
    let achieved = count as f64 / started.elapsed().as_secs_f64();
    let mut seen: std::collections::HashMap<rix_record::RecordId, Vec<Instant>> = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.values().filter(|v| v.len() == nodes.len()).count() < count && Instant::now() < deadline {
        if let Ok(Some((id, at))) = tokio::time::timeout(Duration::from_secs(1), arrivals.recv()).await {
            seen.entry(id).or_default().push(at);
        }
    }
    let cores = (cpu_time(None) - cpu_at_start).as_secs_f64() / started.elapsed().as_secs_f64();
    let (mut to_all, mut each) = (Vec::new(), Vec::new());
    for (id, t) in &sent {
        let arrived = seen.get(id).map_or(&[][..], Vec::as_slice);
        assert_eq!(arrived.len(), nodes.len(), "record {id} reached every node");
        each.extend(arrived.iter().map(|a| a.saturating_duration_since(*t)));
        to_all.push(arrived.iter().max().unwrap().saturating_duration_since(*t));
    }
    // RIX_BENCH_TIMELINE=FILE: per record, when it was published (ms since the start) and how
    // long it took to reach all nodes, to tell periodic stalls from steady queueing.
    if let Ok(path) = std::env::var("RIX_BENCH_TIMELINE") {
        let mut lines: Vec<(f64, f64)> = sent
            .iter()
            .map(|(id, t)| {
                let last = seen[id].iter().max().unwrap().saturating_duration_since(*t);
                (ms(t.duration_since(started.into_std())), ms(last))
            })
            .collect();
        lines.sort_by(|a, b| a.0.total_cmp(&b.0));
        let text: String = lines.iter().map(|(at, took)| format!("{at:.1} {took:.1}\n")).collect();
        std::fs::write(path, text).unwrap();
    }
    for r in running {
        r.stop().await.unwrap();
    }
    to_all.sort();
    each.sort();
    Propagation { to_all, each, achieved, cores }
}

/// Raw verify + store of the same records, in batches of 512, for the ratio: verifying one by
/// one, and with batch verification (what the daemon's sync does).
fn raw_rates(records: &[VerifiedRecord], charter: &rix_record::Charter) -> (f64, f64) {
    let signed: Vec<SignedRecord> = records.iter().map(VerifiedRecord::signed).collect();
    let run = |batch: bool| {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(dir.path(), &ReplicaOptions::default()).unwrap();
        let t = Instant::now();
        for chunk in signed.chunks(512) {
            let verified: Vec<VerifiedRecord> = if batch {
                rix_record::verify_batch(chunk, charter).into_iter().map(Result::unwrap).collect()
            } else {
                chunk.iter().map(|s| s.verify(charter).unwrap()).collect()
            };
            replica.insert_batch(&verified).unwrap();
        }
        records.len() as f64 / t.elapsed().as_secs_f64()
    };
    (run(false), run(true))
}

async fn catch_up(count: usize) -> (f64, (f64, f64), Duration) {
    let net = TestNet::create(&["KZ", "JP"]);
    let charter = rix_record::Charter::load(&net.charter).unwrap();
    let (kz_dir, jp_dir) = (&net.nodes[0], &net.nodes[1]);
    // Both nodes live in this process, which by now also holds the 100,000 records and the
    // earlier benchmarks' leftovers: its RSS can pass a node's `network.max_memory_mb` (libp2p
    // then refuses new connections, and the two nodes never meet). The limit is per process.
    for node in [kz_dir, jp_dir] {
        let config = std::fs::read_to_string(&node.config).unwrap();
        let config = if config.contains("[network]") {
            config.replace("[network]", "[network]\nmax_memory_mb = 65536")
        } else {
            format!("{config}\n[network]\nmax_memory_mb = 65536\n")
        };
        std::fs::write(&node.config, config).unwrap();
    }
    // KZ's history, signed with KZ's key, stored in KZ's replica before it starts.
    let key = MemberKey::load(&kz_dir.dir.join("keys/signing.key")).unwrap();
    let author = Author::new("rix-test", "KZ".parse().unwrap(), key);
    let now = Timestamp::now();
    let mut records = Vec::with_capacity(count);
    let mut head = None;
    for i in 0..count {
        let r = author.sign_next(head, content(i), now).unwrap();
        head = Some(r.as_head());
        records.push(r);
    }
    {
        let replica = Replica::open(&kz_dir.dir.join("data/replica"), &ReplicaOptions::default()).unwrap();
        for chunk in records.chunks(1024) {
            replica.insert_batch(chunk).unwrap();
        }
    }
    std::fs::write(kz_dir.dir.join("keys/last-signed.rix"), records.last().unwrap().bytes()).unwrap();
    {
        // KZ's search index is built now, so that its indexer does not compete with the catch-up.
        let replica = Replica::open(&kz_dir.dir.join("data/replica"), &ReplicaOptions::default()).unwrap();
        let index = rix_search::SearchIndex::open(&kz_dir.dir.join("data/search")).unwrap();
        index.catch_up(&replica, true).unwrap();
        index.write_synced(replica.len().unwrap());
    }
    let raw = raw_rates(&records, &charter);

    let kz = start(&kz_dir.config).await;
    let t = Instant::now();
    let jp = start(&jp_dir.config).await;
    let jp_node = jp.node().clone();
    while jp_node.replica().len().unwrap() < count as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t.elapsed();
    kz.stop().await.unwrap();
    jp.stop().await.unwrap();
    (count as f64 / elapsed.as_secs_f64(), raw, elapsed)
}

fn main() {
    // RUST_LOG=rix_node=info (say) shows what the nodes do.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let count = env_usize("RIX_BENCH_PROPAGATION", 2000);
    let catchup = env_usize("RIX_BENCH_CATCHUP", 100_000);
    let only = std::env::var("RIX_BENCH_ONLY").unwrap_or_default();
    runtime.block_on(async {
        if only.is_empty() || only == "propagation" {
            let rates: Vec<f64> = match std::env::var("RIX_BENCH_RATE") {
                Ok(r) => vec![r.parse().unwrap()],
                Err(_) => vec![20.0, 200.0],
            };
            for rate in rates {
                let Propagation { to_all: all, each, achieved, cores } = propagation(count, rate).await;
                println!(
                    "propagation, 9 nodes, {count} records at {rate:.0}/s offered ({achieved:.0}/s achieved): to all nodes median {:.1} ms, p99 {:.1} ms, max {:.1} ms; per delivery median {:.1} ms, p99 {:.1} ms; {cores:.2} of {} cores busy",
                    ms(percentile(&all, 0.5)),
                    ms(percentile(&all, 0.99)),
                    ms(*all.last().unwrap()),
                    ms(percentile(&each, 0.5)),
                    ms(percentile(&each, 0.99)),
                    std::thread::available_parallelism().map_or(0, usize::from),
                );
            }
        }
        if only.is_empty() || only == "catchup" {
            let (rate, (raw_single, raw_batch), elapsed) = catch_up(catchup).await;
            println!(
                "catch-up of {catchup} records by sync: {rate:.0} records/s ({:.2} s); raw verify+store in the same run: {raw_batch:.0} records/s with batch verification ({:.2}x the catch-up time), {raw_single:.0} records/s verifying one by one ({:.2}x)",
                elapsed.as_secs_f64(),
                raw_batch / rate,
                raw_single / rate
            );
        }
    });
}
