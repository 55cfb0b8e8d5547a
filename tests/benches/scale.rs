//! A 100-node rix network in one process, on loopback TCP, with the real daemon (gossip, sync,
//! replica; the search index is off to save 20 MB per node). Each node dials 4 others chosen
//! at random (it is dialled by about as many), so the gossip mesh is not the full graph.
//!
//! Prints: propagation to all nodes (p50, p99) over RIX_SCALE_RECORDS records (default 300)
//! published at 20/s from random nodes; bytes on the loopback interface per record per node
//! (from `/proc/net/dev`, minus an idle window of the same length), and that divided by the
//! record size (the duplication factor); resident memory per node.
//!
//! `cargo bench -p rix-tests --bench scale` (RIX_SCALE_NODES sets the size, default 100).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rix_node::daemon::{Node, RunningNode};
use rix_record::{Charter, RecordId};
use rix_tests::corpus::Lcg;
use rix_tests::{TestNet, content, env_usize, loopback_bytes, percentile, rss_bytes};

fn main() {
    let n = env_usize("RIX_SCALE_NODES", 100);
    let records = env_usize("RIX_SCALE_RECORDS", 300);
    let dials = 4;
    let members: Vec<String> = (0..n).map(|i| format!("N{i:03}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let t = Instant::now();
    let net = TestNet::create(&refs);
    let charter = Charter::load(&net.charter).unwrap();
    let mut rng = Lcg(42);
    for (i, node) in net.nodes.iter().enumerate() {
        let mut chosen = std::collections::HashSet::new();
        while chosen.len() < dials {
            let j = rng.next(n);
            if j != i {
                chosen.insert(members[j].clone());
            }
        }
        let mut own = charter.clone();
        for m in &mut own.members {
            if !chosen.contains(m.code.as_str()) {
                m.addresses.clear();
            }
        }
        let path = node.dir.join("charter.toml");
        own.save(&path).unwrap();
        let config = std::fs::read_to_string(&node.config).unwrap();
        let mut config = config.replace(net.charter.to_str().unwrap(), path.to_str().unwrap());
        config = config.replace("interval_secs = 2", "interval_secs = 30");
        config = config
            .replace(&format!("cache_capacity_mb = {}", rix_node::config::DEFAULT_CACHE_MB), "cache_capacity_mb = 4");
        config = config.replace("[store]", "[store]\nsearch_index = false");
        std::fs::write(&node.config, config).unwrap();
    }
    println!("set up {n} node directories in {:.1} s", t.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (rss_base, _) = rss_bytes();
        let t = Instant::now();
        let mut running: Vec<RunningNode> = Vec::new();
        for node in &net.nodes {
            let config = rix_node::NodeConfig::load(&node.config).unwrap();
            running.push(rix_node::daemon::start(config).await.unwrap());
        }
        let nodes: Vec<Arc<Node>> = running.iter().map(|r| r.node().clone()).collect();
        loop {
            let mut degrees = Vec::new();
            for node in &nodes {
                degrees.push(node.net().peers().await.map(|p| p.len()).unwrap_or(0));
            }
            if degrees.iter().all(|d| *d >= dials) {
                let mean = degrees.iter().sum::<usize>() as f64 / n as f64;
                println!("{n} nodes started and connected in {:.1} s (mean degree {mean:.1})", t.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await; // let gossipsub meshes form
        let (rss_started, _) = rss_bytes();

        let (tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
        for node in &nodes {
            let (mut notices, tx) = (node.subscribe_stored(), tx.clone());
            tokio::spawn(async move {
                while let Ok(id) = notices.recv().await {
                    let _ = tx.send((id, Instant::now()));
                }
            });
        }
        let interval = Duration::from_millis(50);
        let window = interval * records as u32 + Duration::from_secs(2);
        let idle_start = loopback_bytes();
        tokio::time::sleep(window).await;
        let idle_bytes = loopback_bytes() - idle_start;

        let busy_start = loopback_bytes();
        let started = tokio::time::Instant::now();
        let mut sent: HashMap<RecordId, Instant> = HashMap::new();
        let mut envelope_bytes = 0usize;
        for i in 0..records {
            tokio::time::sleep_until(started + interval * i as u32).await;
            let author = &nodes[rng.next(n)];
            let t = Instant::now();
            let view = author.publish(content(&format!("scale record {i}"))).await.unwrap();
            let id: RecordId = view.id;
            envelope_bytes += author.replica().get(&id).unwrap().unwrap().bytes().len();
            sent.insert(id, t);
        }
        let mut seen: HashMap<RecordId, Vec<Instant>> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen.values().filter(|v| v.len() == n).count() < records && Instant::now() < deadline {
            if let Ok(Some((id, at))) = tokio::time::timeout(Duration::from_secs(1), arrivals.recv()).await {
                seen.entry(id).or_default().push(at);
            }
        }
        let elapsed = started.elapsed();
        // The idle window was as long as the publishing; scale it to the whole busy period.
        let busy_bytes = loopback_bytes() - busy_start;
        let idle_scaled = idle_bytes as f64 * elapsed.as_secs_f64() / window.as_secs_f64();
        let (_, rss_peak) = rss_bytes();

        let mut to_all = Vec::new();
        let mut complete = 0;
        for (id, t) in &sent {
            let arrived = seen.get(id).map_or(&[][..], Vec::as_slice);
            if arrived.len() == n {
                complete += 1;
                to_all.push(arrived.iter().max().unwrap().saturating_duration_since(*t));
            }
        }
        to_all.sort();
        let per_record_per_node = (busy_bytes as f64 - idle_scaled) / (records * n) as f64;
        let mean_record = envelope_bytes as f64 / records as f64;
        println!(
            "{records} records at 20/s from random nodes: {complete} reached all {n} nodes; to all nodes median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&to_all, 0.5).as_secs_f64() * 1e3,
            percentile(&to_all, 0.99).as_secs_f64() * 1e3,
            to_all.last().unwrap().as_secs_f64() * 1e3,
        );
        println!(
            "loopback bytes: {busy_bytes} while publishing ({:.1} s), idle rate scaled to that time {idle_scaled:.0}; per record per node {per_record_per_node:.0} B, records average {mean_record:.0} B: duplication factor {:.2}",
            elapsed.as_secs_f64(),
            per_record_per_node / mean_record
        );
        println!(
            "memory: {:.1} MiB before the nodes, {:.1} MiB with {n} nodes running ({:.2} MiB per node), peak {:.1} MiB",
            rss_base as f64 / 1048576.0,
            rss_started as f64 / 1048576.0,
            (rss_started - rss_base) as f64 / 1048576.0 / n as f64,
            rss_peak as f64 / 1048576.0
        );
        assert_eq!(complete, records, "every record reached every node");
        for r in running {
            r.stop().await.unwrap();
        }
    });
}
