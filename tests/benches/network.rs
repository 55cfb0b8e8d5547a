//! Network figures on this machine, with real nodes on 127.0.0.1 in one process:
//! - propagation: time from `publish` on one node until all nodes of a 9-node network hold
//!   the record (median, p99), over RIX_BENCH_PROPAGATION records (default 300);
//! - catch-up: a node that missed RIX_BENCH_CATCHUP records (default 20,000) syncs them from
//!   a peer; its rate is compared with the raw verify + store rate measured in the same run.
//!
//! Run with `cargo bench -p rix-tests --bench network`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rix_node::daemon::{Node, RunningNode};
use rix_record::content::{Content, Publication};
use rix_record::{Author, KeyFactor, Kind, MemberKey, SignedRecord, Timestamp, VerifiedRecord};
use rix_store::{Replica, ReplicaOptions};
use rix_tests::TestNet;

const MEMBERS: [&str; 9] = ["AZ", "CN", "JP", "KZ", "KG", "MN", "RU", "TJ", "UZ"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn content(i: usize) -> Content {
    let mut p = Publication::new(
        Kind::BestPractice,
        format!("Practice {i}"),
        "en".parse().unwrap(),
        vec![KeyFactor::Automation],
    );
    p.body = "Measures and results. ".repeat(40);
    Content::Publication(Box::new(p))
}

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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn propagation(count: usize, interval: Duration) -> (Vec<Duration>, f64) {
    let net = TestNet::create(&MEMBERS);
    let mut running = Vec::new();
    for node in &net.nodes {
        running.push(start(&node.config).await);
    }
    let nodes: Vec<Arc<Node>> = running.iter().map(|r| r.node().clone()).collect();
    wait_mesh(&nodes).await;
    let mut latencies = Vec::with_capacity(count);
    let started = Instant::now();
    let mut pending: Vec<(rix_record::RecordId, Instant)> = Vec::new();
    let mut next_publish = Instant::now();
    let mut i = 0;
    while latencies.len() < count {
        if i < count && Instant::now() >= next_publish {
            let author = &nodes[i % nodes.len()];
            let t = Instant::now();
            let view = author.publish(content(i)).await.unwrap();
            pending.push((view.id.parse().unwrap(), t));
            next_publish += interval;
            i += 1;
        }
        pending.retain(|(id, t)| {
            let everywhere = nodes.iter().all(|n| n.replica().contains(id).unwrap());
            if everywhere {
                latencies.push(t.elapsed());
            }
            !everywhere
        });
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    for r in running {
        r.stop().await.unwrap();
    }
    latencies.sort();
    (latencies, rate)
}

/// Raw verify + store of the same records, in batches of 512, for the ratio.
fn raw_rate(records: &[VerifiedRecord], charter: &rix_record::Charter) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let replica = Replica::open(dir.path(), &ReplicaOptions::default()).unwrap();
    let signed: Vec<SignedRecord> = records.iter().map(VerifiedRecord::signed).collect();
    let t = Instant::now();
    for chunk in signed.chunks(512) {
        let verified: Vec<VerifiedRecord> = chunk.iter().map(|s| s.verify(charter).unwrap()).collect();
        replica.insert_batch(&verified).unwrap();
    }
    records.len() as f64 / t.elapsed().as_secs_f64()
}

async fn catch_up(count: usize) -> (f64, f64, Duration) {
    let net = TestNet::create(&["KZ", "JP"]);
    let charter = rix_record::Charter::load(&net.charter).unwrap();
    let (kz_dir, jp_dir) = (&net.nodes[0], &net.nodes[1]);
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
    let raw = raw_rate(&records, &charter);

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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let count = env_usize("RIX_BENCH_PROPAGATION", 300);
    let catchup = env_usize("RIX_BENCH_CATCHUP", 20_000);
    runtime.block_on(async {
        for (label, interval) in [("one record every 50 ms", Duration::from_millis(50)), ("200 records/s offered", Duration::from_millis(5))] {
            let (lat, rate) = propagation(count, interval).await;
            println!(
                "propagation, 9 nodes, {count} records, {label}: median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (achieved {rate:.0} records/s)",
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.9)),
                ms(percentile(&lat, 0.99)),
                ms(*lat.last().unwrap())
            );
        }
        let (rate, raw, elapsed) = catch_up(catchup).await;
        println!(
            "catch-up of {catchup} records by sync: {rate:.0} records/s ({:.2} s); raw verify+store in the same run: {raw:.0} records/s; ratio {:.2}x",
            elapsed.as_secs_f64(),
            raw / rate
        );
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
