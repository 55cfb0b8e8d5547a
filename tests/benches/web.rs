//! How long the web view takes to answer each page on a large replica: RIX_BENCH_WEB_RECORDS
//! generated records (default 100,000) signed by the nine members' keys, indexed for search,
//! served by a node running in this process. Each page is asked RIX_BENCH_WEB_RUNS times
//! (default 30) over loopback with a signed-in session; prints the time at the server (the
//! `Server-Timing` header) and in the client (the whole answer read), median and p90.
//! The statistics are computed once per 30 s at most and shown from a cache in between: the
//! first (cold) answer of a page that shows them is printed apart.
//! Run with `cargo bench -p rix-tests --bench web`.

use std::time::{Duration, Instant};

use rix_record::{Author, MemberKey};
use rix_tests::browser::{raw_response, server_timing};
use rix_tests::{SIGNATORIES, TestNet, TestNode, corpus, env_usize};

fn main() {
    let n = env_usize("RIX_BENCH_WEB_RECORDS", 100_000);
    let runs = env_usize("RIX_BENCH_WEB_RUNS", 30);
    let net = TestNet::create(&SIGNATORIES);
    let kz = net.node("KZ");
    let config = rix_node::NodeConfig::load(&kz.config).unwrap();
    let t = Instant::now();
    {
        let replica = rix_store::Replica::open(&config.replica_dir(), &rix_store::ReplicaOptions::default()).unwrap();
        for (i, member) in SIGNATORIES.iter().enumerate() {
            let key = MemberKey::load(&net.node(member).dir.join("keys/signing.key")).unwrap();
            let author = Author::new("bench", member.parse().unwrap(), key);
            let records: Vec<_> = corpus::generate_iter(&author, n / SIGNATORIES.len(), 120, i as u64 + 1).collect();
            for chunk in records.chunks(4096) {
                replica.insert_batch(chunk).unwrap();
            }
        }
        replica.flush().unwrap();
        let index = rix_search::SearchIndex::open(&config.search_dir()).unwrap();
        index.rebuild(&replica, |_, _| {}).unwrap();
    }
    println!("{n} records by 9 members stored and indexed in {:.0}s", t.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut node = TestNode::new(kz);
    runtime.block_on(node.start());
    let web = node.node().web().clone();
    let url = web.login_url();
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, login) = rest.split_once('/').unwrap();
    let (status, head, _) = raw_response(addr, "GET", &format!("/{login}"), addr, None);
    assert_eq!(status, 303, "login");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();

    let list = node.node().replica().list(&rix_api::RecordFilter { limit: Some(2), ..Default::default() }).unwrap();
    let (a, b) = (list.records[0].id.to_hex(), list.records[1].id.to_hex());
    let pages: Vec<(&str, String)> = vec![
        ("dashboard", "/".into()),
        ("records, page 1", "/records".into()),
        ("records, page 40", "/records?page=40".into()),
        ("records, member + factor", "/records?member=CN&factor=hrm".into()),
        ("records, kind + language + since", "/records?kind=event&language=ru&since=2020-01-01".into()),
        ("search, Chinese", "/records?q=%E6%B5%B7%E5%85%B3".into()),
        ("search, Russian", "/records?q=%D1%82%D0%B0%D0%BC%D0%BE%D0%B6%D0%BD%D1%8F".into()),
        ("search, English + member", "/records?q=customs&member=KZ".into()),
        ("record", format!("/records/{a}")),
        ("compare two", format!("/compare?id={a}&id={b}")),
        ("statistics", "/stats".into()),
        ("network", "/network".into()),
        ("download CSV, member + kind", "/download?format=csv&member=KZ&kind=event".into()),
    ];
    let get = |path: &str| {
        let t = Instant::now();
        let (status, head, body) = raw_response(addr, "GET", path, addr, Some(&cookie));
        assert_eq!(status, 200, "{path}: {body}");
        (server_timing(&head).expect("Server-Timing"), t.elapsed(), body.len())
    };
    println!("first answers (cold caches):");
    for path in ["/stats", "/"] {
        let (server, client, _) = get(path);
        println!("  {path:<10} server {server:>8.1} ms   client {:>8.1} ms", client.as_secs_f64() * 1000.0);
    }
    println!("{runs} runs per page, milliseconds:               server median    p90 | client median    p90 |   bytes");
    let mut worst: f64 = 0.0;
    for (label, path) in &pages {
        let mut server = Vec::new();
        let mut client = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs {
            let (s, c, b) = get(path);
            server.push(s);
            client.push(c);
            bytes = b;
        }
        server.sort_by(f64::total_cmp);
        client.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p90 = |len: usize| (len * 9) / 10;
        worst = worst.max(server[p90(runs)]);
        println!(
            "  {label:<34} {:>13.1} {:>6.1} | {:>13.1} {:>6.1} | {bytes:>7}",
            server[runs / 2],
            server[p90(runs)],
            ms(client[runs / 2]),
            ms(client[p90(client.len())]),
        );
    }
    println!("slowest p90 at the server: {worst:.1} ms (goal: every page under 100 ms)");
    runtime.block_on(node.stop());
}
