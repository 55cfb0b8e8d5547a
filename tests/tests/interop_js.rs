//! Interoperability with an independent implementation: a js-libp2p 3.x observer
//! (`tests/interop/js/observer.mjs`, written from `docs/` alone) against rix nodes on 127.0.0.1.
//! It needs Node.js and the npm packages of `tests/interop/js` (`.ci/run` installs them); without
//! them each test says why it skips.

use std::time::Duration;

use rix_record::{Charter, Observer};
use rix_tests::js::{self, JsPeer};
use rix_tests::{TestNet, TestNode, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn dial_address(node: &rix_tests::NodeDir) -> String {
    format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", node.p2p_port, node.peer_id)
}

/// The record ids in the js peer's `record` events that came `via` gossip or sync.
fn ids_via<'a>(peer: &'a JsPeer, via: &str) -> Vec<&'a str> {
    peer.of("record").into_iter().filter(|e| e["via"] == via).filter_map(|e| e["id"].as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_js_libp2p_observer_gets_every_record_by_gossip_relayed_ones_included_and_the_history_by_sync() {
    if !js::ready_or_skip("a_js_libp2p_observer_gets_every_record") {
        return;
    }
    let net = TestNet::create(&["KZ", "JP", "MN"]);
    let (observer_id, observer_key) = js::keygen();
    let (stranger_id, stranger_key) = js::keygen();
    let mut charter = Charter::load(&net.charter).unwrap();
    charter.upsert_observer(Observer { name: "js-libp2p".into(), peer_id: observer_id.clone(), addresses: vec![] });
    charter.save(&net.charter).unwrap();
    let members: Vec<(String, String)> =
        charter.members.iter().map(|m| (m.code.to_string(), m.public_key.to_string())).collect();

    let mut nodes: Vec<TestNode> = net.nodes.iter().map(TestNode::new).collect();
    for n in nodes.iter_mut() {
        n.start().await;
    }
    wait_until(WAIT, "the three members connect", async || {
        let mut all = true;
        for n in &nodes {
            all &= n.peer_count().await == 2;
        }
        all
    })
    .await;
    // The history, before the observer connects: it can only get these by sync.
    let mut history = Vec::new();
    for (n, dir) in nodes.iter().zip(&net.nodes) {
        for i in 0..2 {
            history.push(n.publish(&format!("history {i} of {}", dir.member)).await.id.to_string());
        }
    }
    wait_until(WAIT, "every member holds the history", async || nodes.iter().all(|n| n.records() == 6)).await;

    // The observer dials KZ only: everything JP and MN publish reaches it through KZ.
    let kz = &net.nodes[0];
    let mut observer = JsPeer::observe(&observer_key, &dial_address(kz), "rix-test", &kz.genesis(), &members);
    observer.wait(WAIT, "a gossipsub mesh link with KZ", |events| {
        events.iter().any(|e| e["event"] == "graft" && e["peer"] == kz.peer_id.as_str())
    });

    observer.command("sync");
    observer.wait(WAIT, "a sync round", |events| {
        events.iter().any(|e| e["event"] == "synced" || e["event"] == "sync_failed")
    });
    assert!(observer.of("sync_failed").is_empty(), "sync failed: {:?}", observer.of("sync_failed"));
    let mut synced = ids_via(&observer, "sync");
    synced.sort_unstable();
    let mut expected = history.iter().map(String::as_str).collect::<Vec<_>>();
    expected.sort_unstable();
    assert_eq!(synced, expected, "the observer got the whole history by sync");

    // New records at each member, by gossip.
    let mut fresh = Vec::new();
    for (n, dir) in nodes.iter().zip(&net.nodes) {
        for i in 0..3 {
            let record = n.publish(&format!("fresh {i} of {}", dir.member)).await;
            fresh.push((record.id.to_string(), dir.member.clone()));
        }
    }
    observer.wait(WAIT, "the 9 new records by gossip", |events| {
        fresh.iter().all(|(id, _)| {
            events.iter().any(|e| e["event"] == "record" && e["via"] == "gossip" && e["id"] == id.as_str())
        })
    });
    let peer_of = |code: &str| net.nodes.iter().find(|n| n.member == code).unwrap().peer_id.clone();
    for (id, author) in &fresh {
        let event: &Value =
            observer.of("record").into_iter().find(|e| e["via"] == "gossip" && e["id"] == id.as_str()).unwrap();
        assert_eq!(event["author"], author.as_str());
        // Signed gossip keeps its origin: `from` is the publishing node, also when KZ relayed it.
        assert_eq!(event["from"], peer_of(author).as_str(), "{event}");
        assert_eq!(event["relayed"], author != "KZ", "{event}");
    }
    assert!(observer.of("invalid").is_empty(), "every record verified: {:?}", observer.of("invalid"));

    // The observer answered KZ's sync summary (protocol.md §5), so KZ counts no failed round.
    observer.drain();
    assert!(observer.of("served").iter().any(|e| e["request"] == "summary"), "KZ asked the observer for a summary");
    assert_eq!(nodes[0].metric("rix_sync_rounds_total{result=\"error\""), 0, "no failed sync round at KZ");

    // A js peer that is not in the charter gets nothing: no record by gossip or sync.
    let refused_before = nodes[0].metric("rix_connections_refused_total");
    let mut stranger = JsPeer::observe(&stranger_key, &dial_address(kz), "rix-test", &kz.genesis(), &members);
    stranger.command("sync");
    stranger.wait(WAIT, "the stranger's sync attempt to end", |events| {
        events.iter().any(|e| e["event"] == "synced" || e["event"] == "sync_failed")
    });
    let last = nodes[1].publish("after the stranger came").await.id.to_string();
    observer.wait(WAIT, "the last record", |events| {
        events.iter().any(|e| e["event"] == "record" && e["id"] == last.as_str())
    });
    stranger.drain();
    assert!(stranger.of("record").is_empty(), "the stranger received records: {:?}", stranger.of("record"));
    assert!(stranger.of("synced").is_empty(), "the stranger completed a sync round");
    assert!(nodes[0].metric("rix_connections_refused_total") > refused_before, "KZ counted the refusal");
    assert!(!charter.admits_peer(&stranger_id), "the stranger is outside the charter");

    // For checking other implementations' signature policies offline (tests/interop/README.md).
    if let Some(path) = std::env::var_os("RIX_INTEROP_DUMP") {
        let lines: Vec<String> = observer.events.iter().map(Value::to_string).collect();
        std::fs::write(path, lines.join("\n")).unwrap();
    }
    drop(stranger);
    drop(observer);
    for n in nodes.iter_mut() {
        n.stop().await;
    }
}
