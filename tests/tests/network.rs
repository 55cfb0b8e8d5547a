//! Multi-node behaviour with real libp2p nodes on 127.0.0.1 and real sled replicas, all in
//! this process: gossip to every node, catch-up and relay through sync, recovery of a wiped
//! store without equivocation, admission control, rejection of forged gossip, and connection
//! and memory limits.

use std::time::Duration;

use rix_net::service::{self, NetworkSettings};
use rix_net::{GossipOutcome, NodeIdentity};
use rix_record::content::{Content, Publication};
use rix_record::{Author, Charter, KeyFactor, Kind, MemberKey, SignedRecord, Timestamp};
use rix_tests::{TestNet, TestNode, wait_until};

const WAIT: Duration = Duration::from_secs(30);

fn nodes(net: &TestNet) -> Vec<TestNode> {
    net.nodes.iter().map(TestNode::new).collect()
}

async fn start_all(nodes: &mut [TestNode]) {
    for n in nodes.iter_mut() {
        n.start().await;
    }
}

async fn stop_all(nodes: &mut [TestNode]) {
    for n in nodes.iter_mut() {
        n.stop().await;
    }
}

/// Waits until every running node in `nodes` holds `count` records.
async fn converge(nodes: &[&TestNode], count: u64, what: &str) {
    wait_until(WAIT, what, async || nodes.iter().all(|n| n.records() == count)).await;
}

/// Waits until every node is connected to all the others.
async fn all_connected(nodes: &[TestNode]) {
    let others = nodes.len() - 1;
    wait_until(WAIT, &format!("every node sees {others} peers"), async || {
        for n in nodes {
            if n.peer_count().await < others {
                return false;
            }
        }
        true
    })
    .await;
}

fn no_equivocations(node: &TestNode) {
    let report = rix_node::ops::verify_replica(node.node().replica(), &node.node().charter(), |_| {}).unwrap();
    assert!(report.ok(), "{}: {:?}", node.dir.member, report.failures);
    assert!(report.equivocations.is_empty(), "{}: {:?}", node.dir.member, report.equivocations);
    for chain in &report.chains {
        assert!(chain.missing.is_empty() && chain.broken_links.is_empty(), "{}: {chain:?}", node.dir.member);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_nodes_a_record_published_on_one_reaches_all_and_every_store_verifies() {
    let net = TestNet::create(&["AZ", "CN", "JP", "KZ", "RU"]);
    let mut nodes = nodes(&net);
    start_all(&mut nodes).await;
    all_connected(&nodes).await;
    let view = nodes[3].publish("Risk-based selection of consignments").await;
    converge(&nodes.iter().collect::<Vec<_>>(), 1, "the record is on all five nodes").await;
    // The receiving nodes index it for search as it arrives.
    let query = rix_search::SearchQuery { text: "consignments".into(), ..Default::default() };
    wait_until(WAIT, "the record is searchable on AZ", async || {
        nodes[0].node().search(&query).map(|r| r.records.len() == 1).unwrap_or(false)
    })
    .await;
    for n in &nodes {
        let shown = n.node().replica().show(&view.id.to_hex()).unwrap();
        assert_eq!((shown.author.as_str(), shown.seq), ("KZ", 1));
        no_equivocations(n);
    }
    // Records from several authors at once.
    for (i, n) in nodes.iter().enumerate() {
        n.publish(&format!("practice {i}")).await;
    }
    converge(&nodes.iter().collect::<Vec<_>>(), 6, "all six records are everywhere").await;
    stop_all(&mut nodes).await;
}

/// Every peer gets a record straight from its publisher, and stores it at once while the relay
/// of it is held: relays are held for ten minutes here and sync rounds are an hour apart, so
/// only the publisher's own sends can deliver in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_peer_gets_each_record_directly_from_its_publisher() {
    let net = TestNet::create(&["AZ", "CN", "JP", "KZ", "RU"]);
    for node in &net.nodes {
        set_network(node, "max_connections = 64", "max_connections = 64\nforward_hold_ms = 600000");
        set_network(node, "interval_secs = 2", "interval_secs = 3600");
    }
    let mut nodes = nodes(&net);
    start_all(&mut nodes).await;
    all_connected(&nodes).await;
    // Sync on connect has run (there was nothing to fetch); meshes form on heartbeats.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for round in 0..6 {
        for (i, n) in nodes.iter().enumerate() {
            n.publish(&format!("direct {round} from {i}")).await;
        }
    }
    converge(&nodes.iter().collect::<Vec<_>>(), 30, "all 30 records reach all five nodes without relay or sync").await;
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_author_offline_a_lagging_node_gets_its_records_from_the_others() {
    let net = TestNet::create(&["KZ", "JP", "RU"]);
    let mut nodes = nodes(&net);
    let (kz, rest) = nodes.split_at_mut(1);
    let (jp, ru) = rest.split_at_mut(1);
    let (kz, jp, ru) = (&mut kz[0], &mut jp[0], &mut ru[0]);
    kz.start().await;
    jp.start().await;
    wait_until(WAIT, "KZ and JP connect", async || kz.peer_count().await == 1).await;
    for i in 0..5 {
        kz.publish(&format!("KZ practice {i}")).await;
    }
    converge(&[&*kz, &*jp], 5, "JP holds KZ's five records").await;
    kz.stop().await;
    // RU was offline throughout; KZ, the author, is now offline too.
    ru.start().await;
    converge(&[&*ru], 5, "RU gets KZ's records relayed by JP").await;
    no_equivocations(ru);
    jp.stop().await;
    ru.stop().await;
}

/// KZ and JP running, KZ has published three records and JP holds them.
async fn kz_with_three_records_replicated_on_jp() -> (TestNet, Vec<TestNode>) {
    let net = TestNet::create(&["KZ", "JP"]);
    let mut nodes = nodes(&net);
    start_all(&mut nodes).await;
    for i in 0..3 {
        nodes[0].publish(&format!("KZ record {i}")).await;
    }
    converge(&[&nodes[0], &nodes[1]], 3, "JP holds KZ's records").await;
    (net, nodes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_whose_store_was_wiped_recovers_its_history_and_continues_without_equivocating() {
    let (_net, mut nodes) = kz_with_three_records_replicated_on_jp().await;
    nodes[0].stop().await;
    std::fs::remove_dir_all(nodes[0].dir.dir.join("data")).unwrap();

    nodes[0].start().await;
    let fourth = nodes[0].publish("KZ record 3, after the wipe").await;
    assert_eq!(fourth.seq, 4, "the journal next to the key keeps the sequence");
    converge(&[&nodes[0], &nodes[1]], 4, "KZ recovers its history and JP gets the new record").await;
    for n in &nodes {
        no_equivocations(n);
    }
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_its_journal_lost_too_a_node_waits_for_its_history_before_publishing() {
    let (_net, mut nodes) = kz_with_three_records_replicated_on_jp().await;
    nodes[0].stop().await;
    nodes[1].stop().await;
    // Everything but the keys is lost: the store and the signing journal.
    std::fs::remove_dir_all(nodes[0].dir.dir.join("data")).unwrap();
    std::fs::remove_file(nodes[0].dir.dir.join("keys/last-signed.rix")).unwrap();

    nodes[0].start().await;
    let refused = nodes[0].node().publish(rix_tests::content("too early")).await.unwrap_err();
    assert!(refused.to_string().contains("recovering"), "{refused}");
    assert!(!nodes[0].node().can_publish());

    nodes[1].start().await;
    wait_until(WAIT, "KZ recovers its history from JP", async || nodes[0].node().can_publish()).await;
    assert_eq!(nodes[0].records(), 3);
    let next = nodes[0].publish("KZ record 3").await;
    assert_eq!(next.seq, 4);
    converge(&[&nodes[0], &nodes[1]], 4, "both hold four records").await;
    for n in &nodes {
        no_equivocations(n);
    }
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_network_restart_loses_nothing() {
    let net = TestNet::create(&["KZ", "JP", "RU"]);
    let mut nodes = nodes(&net);
    start_all(&mut nodes).await;
    for n in &nodes {
        for i in 0..3 {
            n.publish(&format!("{} {i}", n.dir.member)).await;
        }
    }
    converge(&nodes.iter().collect::<Vec<_>>(), 9, "nine records everywhere").await;
    stop_all(&mut nodes).await;
    start_all(&mut nodes).await;
    for n in &nodes {
        assert_eq!(n.records(), 9, "{} after restart", n.dir.member);
        no_equivocations(n);
    }
    nodes[1].publish("after the restart").await;
    converge(&nodes.iter().collect::<Vec<_>>(), 10, "a new record spreads after the restart").await;
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outsiders_are_refused_and_forged_gossip_is_rejected_and_not_forwarded() {
    // EV is a member whose node misbehaves; A and C are honest. EV dials only A, so anything C
    // receives from EV must have been forwarded by A.
    let net = TestNet::create(&["A1", "C1", "EV"]);
    let (mut a, mut c) = (TestNode::new(&net.nodes[0]), TestNode::new(&net.nodes[1]));
    a.start().await;
    c.start().await;
    wait_until(WAIT, "A and C connect", async || a.peer_count().await == 1).await;

    let ev_dir = &net.nodes[2];
    let mut ev_charter = Charter::load(&net.charter).unwrap();
    for m in &mut ev_charter.members {
        if m.code.as_str() != "A1" {
            m.addresses.clear();
        }
    }
    let ev_identity = NodeIdentity::load(&ev_dir.dir.join("keys/node.key")).unwrap();
    let settings = NetworkSettings {
        listen: vec![],
        genesis: Charter::load(&net.charter).unwrap().genesis_hash().to_string(),
        charter: ev_charter,
        mdns: false,
        idle_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_secs(5),
        max_connections: 8,
        max_memory_bytes: 0,
    };
    let (ev, _ev_events, ev_loop) = service::new(&ev_identity, settings.clone()).unwrap();
    tokio::spawn(ev_loop.run());
    // A bare network service has no engine to decide when to dial: the test does.
    let a_peer = a.node().net().local_peer_id();
    wait_until(WAIT, "EV connects to A", async || {
        let _ = ev.dial(a_peer).await;
        ev.peers().await.map(|p| p.len()).unwrap_or(0) == 1
    })
    .await;

    // Forgeries: a record with a broken signature, and one claiming A1's authorship.
    let ev_key = MemberKey::load(&ev_dir.dir.join("keys/signing.key")).unwrap();
    let content = |t: &str| {
        Content::Publication(Box::new(Publication::new(
            Kind::CaseStudy,
            t,
            "en".parse().unwrap(),
            vec![KeyFactor::Hrm],
        )))
    };
    let genuine = Author::new("rix-test", "EV".parse().unwrap(), MemberKey::from_seed(&ev_key.seed()))
        .sign_next(None, content("flipped"), Timestamp::now())
        .unwrap();
    let mut flipped = genuine.bytes().to_vec();
    flipped[20] ^= 1;
    let impostor = Author::new("rix-test", "A1".parse().unwrap(), ev_key)
        .sign_next(None, content("as A1"), Timestamp::now())
        .unwrap();
    for forged in [SignedRecord::from_bytes(flipped), impostor.signed()] {
        wait_until(WAIT, "EV's forgery is sent", async || {
            ev.publish(forged.clone()).await.unwrap() == GossipOutcome::Sent
        })
        .await;
    }
    wait_until(WAIT, "A rejects both forgeries", async || {
        a.metric("rix_records_rejected_total{source=\"gossip\"") >= 2
    })
    .await;
    assert_eq!(a.metric("rix_records_rejected_total{source=\"gossip\",reason=\"bad_signature\"}"), 1);
    assert_eq!(a.metric("rix_records_rejected_total{source=\"gossip\",reason=\"key_mismatch\"}"), 1);
    // Give forwarding every chance to happen, then check that it did not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!((a.records(), c.records()), (0, 0), "nothing forged is stored");
    assert_eq!(c.metric("rix_records_rejected_total"), 0, "A did not forward the forgeries to C");
    // Two invalid records within 95 s ban their sender (docs/protocol.md §4.4).
    assert_eq!(a.metric("rix_penalties_total{offence=\"invalid_gossip\"}"), 2);
    assert_eq!(a.metric("rix_peers_banned_total"), 1, "A banned EV for its two forgeries");
    wait_until(WAIT, "A disconnects EV", async || {
        !a.node().net().peers().await.unwrap().iter().any(|p| p.role == "EV")
    })
    .await;

    // An outsider with a valid libp2p identity that the charter does not list.
    let (outsider_identity, _) = NodeIdentity::generate().unwrap();
    let (outsider, _events, outsider_loop) = service::new(&outsider_identity, settings).unwrap();
    tokio::spawn(outsider_loop.run());
    wait_until(WAIT, "A refuses the outsider", async || {
        let _ = outsider.dial(a_peer).await;
        a.metric("rix_connections_refused_total") >= 1
    })
    .await;
    let asked = outsider.request(a_peer, rix_net::protocol::SyncRequest::Summary).await;
    assert!(asked.is_err(), "the outsider got an answer: {asked:?}");
    assert!(outsider.peers().await.unwrap().is_empty(), "the outsider is not kept connected");
    assert!(!a.node().net().peers().await.unwrap().iter().any(|p| p.peer_id == outsider_identity.peer_id()));

    ev.shutdown().await;
    outsider.shutdown().await;
    a.stop().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_observer_replicates_and_queries_but_cannot_author() {
    let net = TestNet::create(&["KZ", "JP"]);
    // An observer node, admitted by the members' charter before they start.
    let port = rix_tests::free_port();
    let observer = rix_node::init::init_node(&rix_node::init::InitOptions {
        dir: net.root.path().join("wco"),
        member: None,
        name: None,
        listen: vec![format!("/ip4/127.0.0.1/tcp/{port}")],
        api: format!("127.0.0.1:{}", rix_tests::free_port()),
        charter: Some(net.charter.clone()),
        network: "rix-test".into(),
        join: None,
        genesis: None,
        force: false,
    })
    .unwrap();
    assert!(observer.member.is_none() && observer.public_key.is_none());
    assert!(!net.root.path().join("wco/keys/signing.key").exists(), "an observer has no signing key");
    let mut charter = Charter::load(&net.charter).unwrap();
    charter.upsert_observer(rix_record::Observer {
        name: "WCO Secretariat".into(),
        peer_id: observer.peer_id.clone(),
        addresses: vec![format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", observer.peer_id)],
    });
    charter.save(&net.charter).unwrap();
    rix_tests::tune_for_tests(&observer.config);

    let mut members = nodes(&net);
    start_all(&mut members).await;
    members[0].publish("before the observer joins").await;
    let mut wco = TestNode::new(&rix_tests::NodeDir {
        member: "observer".into(),
        dir: net.root.path().join("wco"),
        config: observer.config.clone(),
        p2p_port: port,
        api_port: 0,
        peer_id: observer.peer_id.clone(),
    });
    wco.start().await;
    members[1].publish("after the observer joined").await;
    converge(&[&wco], 2, "the observer holds both records (sync and gossip)").await;
    // The observer may have everything from JP before KZ's connection to it is up: of two
    // peers, the one with the larger id waits a redial delay before it dials.
    wait_until(WAIT, "KZ sees the observer connected, by its charter name", async || {
        let peers = members[0].node().net().peers().await.unwrap();
        peers.iter().any(|p| p.role == "observer:WCO Secretariat")
    })
    .await;
    let query = rix_search::SearchQuery { text: "observer".into(), ..Default::default() };
    wait_until(WAIT, "the observer can search", async || {
        wco.node().search(&query).map(|r| r.records.len() == 2).unwrap_or(false)
    })
    .await;
    let refused = wco.node().publish(rix_tests::content("an observer's record")).await.unwrap_err();
    assert!(matches!(refused, rix_node::NodeError::NotAMember), "{refused}");
    wco.stop().await;
    stop_all(&mut members).await;
}

/// Rewrites part of a node's config.
fn set_network(node: &rix_tests::NodeDir, from: &str, to: &str) {
    let config = std::fs::read_to_string(&node.config).unwrap();
    assert!(config.contains(from), "{from} in {}", node.config.display());
    std::fs::write(&node.config, config.replace(from, to)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_and_memory_limits_refuse_connections_beyond_them() {
    // A admits at most one connection: of B and C, only one stays connected to it.
    let net = TestNet::create(&["A1", "B1", "C1"]);
    set_network(&net.nodes[0], "max_connections = 64", "max_connections = 1");
    let mut all = nodes(&net);
    start_all(&mut all).await;
    wait_until(WAIT, "B and C connect to each other", async || all[1].peer_count().await >= 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(all[0].peer_count().await, 1, "A holds one connection, its limit");
    stop_all(&mut all).await;

    // D's daemon may use 1 MiB of memory: more than that is in use, so every connection is
    // refused and D stays alone, while E and F connect.
    let net = TestNet::create(&["D1", "E1", "F1"]);
    set_network(&net.nodes[0], "[network]", "[network]\nmax_memory_mb = 1");
    let mut all = nodes(&net);
    start_all(&mut all).await;
    wait_until(WAIT, "E and F connect", async || all[1].peer_count().await >= 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(all[0].peer_count().await, 0, "D refuses connections over its memory limit");
    assert_eq!(all[1].peer_count().await, 1, "E reaches F but not D");
    stop_all(&mut all).await;
}
