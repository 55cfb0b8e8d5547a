//! Hostile members against honest nodes, all on 127.0.0.1: floods of invalid records,
//! oversized gossip, replays, an equivocation, sync floods for huge ranges and slow readers.
//! Honest traffic must keep flowing, nothing invalid may be stored, every attacker must end up
//! banned, and memory must stay bounded. Run with `--nocapture` for the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rix_net::NodeIdentity;
use rix_net::protocol::{MAX_RESPONSE_RECORD_BYTES, SyncRequest, SyncResponse};
use rix_node::daemon::Source;
use rix_node::ops::verify_replica;
use rix_record::{Author, Content, MAX_RECORD_BYTES, MemberKey, SignedRecord, Timestamp, VerifiedRecord};
use rix_tests::hostile::Hostile;
use rix_tests::{NodeDir, TestNet, TestNode, content, rss_bytes, wait_until};

const WAIT: Duration = Duration::from_secs(60);
const MIB: f64 = 1024.0 * 1024.0;

fn author_of(dir: &NodeDir) -> Author {
    let key = MemberKey::load(&dir.dir.join("keys/signing.key")).expect("signing key");
    Author::new("rix-test", dir.member.parse().expect("member code"), key)
}

/// A chain of `n` records by `author`, each with a body of `body_bytes`.
fn chain(author: &Author, n: u64, body_bytes: usize) -> Vec<VerifiedRecord> {
    let mut head = None;
    (1..=n)
        .map(|i| {
            let mut c = content(&format!("{} record {i}", author.member()));
            if let Content::Publication(p) = &mut c {
                p.body = "integrity ".repeat(body_bytes / 10);
            }
            let r = author.sign_next(head, c, Timestamp::now()).expect("sign");
            head = Some(r.as_head());
            r
        })
        .collect()
}

fn hostile(dir: &NodeDir, target: &NodeDir) -> Hostile {
    hostile_with(Hostile::spawn, dir, target)
}

fn hostile_with(
    spawn: fn(libp2p::identity::Keypair, libp2p::gossipsub::IdentTopic, libp2p::PeerId, libp2p::Multiaddr) -> Hostile,
    dir: &NodeDir,
    target: &NodeDir,
) -> Hostile {
    let identity = NodeIdentity::load(&dir.dir.join("keys/node.key")).expect("node key");
    spawn(
        identity.keypair().clone(),
        target.topic(),
        target.peer_id.parse().expect("peer id"),
        format!("/ip4/127.0.0.1/tcp/{}", target.p2p_port).parse().expect("address"),
    )
}

async fn ready(h: &Hostile) {
    wait_until(WAIT, "the hostile node joins the target's topic", async || h.gossip_peers().await >= 1).await;
}

/// Waits until the target has banned `banned` attackers in all, so each attack starts on a
/// quiet node whatever the machine's speed.
async fn banned(target: &TestNode, banned: u64, who: &str) {
    wait_until(WAIT, &format!("A bans {who}"), async || target.metric("rix_peers_banned_total") >= banned).await;
}

/// One attack's tally, printed as a table row.
#[derive(Default)]
struct Tally {
    tried: u64,
    sent: u64,
    bytes: u64,
}

impl Tally {
    async fn gossip(&mut self, h: &Hostile, data: Vec<u8>) {
        self.tried += 1;
        self.bytes += data.len() as u64;
        self.sent += u64::from(h.publish(data).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_members_are_rejected_counted_and_banned_while_honest_records_flow() {
    let net = TestNet::create(&["A1", "B1", "C1", "X1", "X2", "X3", "X4", "X5", "X6", "X7"]);
    let (a_dir, x) = (net.node("A1"), ["X1", "X2", "X3", "X4", "X5", "X6", "X7"].map(|m| net.node(m)));
    let mut honest: Vec<TestNode> = ["A1", "B1", "C1"].iter().map(|m| TestNode::new(net.node(m))).collect();
    for n in &mut honest {
        n.start().await;
    }
    let [a, b, c] = [&honest[0], &honest[1], &honest[2]];
    wait_until(WAIT, "the honest nodes connect", async || a.peer_count().await == 2 && c.peer_count().await == 2).await;

    // A holds X4's long chain (for huge sync ranges) and X3's records (to replay them).
    let x4_chain = chain(&author_of(x[3]), 1500, 4096);
    let x3_author = author_of(x[2]);
    let x3_chain = chain(&x3_author, 150, 256);
    let signed = |c: &[VerifiedRecord]| c.iter().map(|r| r.signed()).collect::<Vec<SignedRecord>>();
    let node = a.node().clone();
    let (x4s, x3s) = (signed(&x4_chain), signed(&x3_chain));
    tokio::task::spawn_blocking(move || {
        node.accept(x4s, Source::Import).unwrap();
        node.accept(x3s, Source::Import).unwrap();
    })
    .await
    .unwrap();
    let settled = 1650;
    wait_until(WAIT, "B and C replicate the preloaded chains", async || {
        b.records() == settled && c.records() == settled
    })
    .await;
    let (rss_before, _) = rss_bytes();

    // Honest traffic during the attacks: B publishes every 100 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (b, stop) = (b.node().clone(), stop.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                ids.push(b.publish(content(&format!("honest {}", ids.len()))).await.expect("publish").id);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ids
        })
    };
    let attack_start = Instant::now();
    let mut rows: Vec<(&str, Tally)> = Vec::new();

    // X3: an equivocation (two records with one sequence number), then replays of records A
    // already holds.
    let x3 = hostile(x[2], a_dir);
    ready(&x3).await;
    let head = x3_chain.last().map(VerifiedRecord::as_head);
    let mut t = Tally::default();
    for title in ["version one", "version two"] {
        let twin = x3_author.sign_next(head, content(title), Timestamp::now()).unwrap();
        t.gossip(&x3, twin.bytes().to_vec()).await;
    }
    wait_until(WAIT, "A keeps the equivocation evidence", async || a.metric("rix_equivocations_total") == 1).await;
    rows.push(("X3 equivocation (2 records, 1 seq)", t));
    let mut t = Tally::default();
    for r in &x3_chain {
        t.gossip(&x3, r.bytes().to_vec()).await;
    }
    rows.push(("X3 replays of held records", t));
    banned(a, 1, "X3 for its replays").await;

    // X4: sync floods for huge ranges, then requests whose responses it never reads.
    let x4 = hostile(x[3], a_dir);
    ready(&x4).await;
    let huge = SyncRequest::Fetch { author: "X4".into(), from: 0, to: u64::MAX, limit: u32::MAX };
    // One huge range alone: answered with one bounded batch and "more".
    match x4.request(huge.clone()).await {
        Ok(SyncResponse::Records { records, more, .. }) => {
            assert!(more && records.len() == 512, "one batch of 512 and more to come ({})", records.len());
            assert!(records.iter().map(Vec::len).sum::<usize>() <= MAX_RESPONSE_RECORD_BYTES);
        }
        other => panic!("a huge range is answered with records: {other:?}"),
    }
    // Then a flood of them from a slow reader that never reads a response: at most
    // `serve_inflight_per_peer` responses are ever pinned for it, the rest are answered busy,
    // and the busy answers add up to a ban.
    let (rss_before_sync, _) = rss_bytes();
    let served_before = a.metric("rix_sync_requests_served_total");
    for _ in 0..300 {
        x4.request_and_stall(huge.clone()).await;
    }
    banned(a, 2, "X4 for its sync flood").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_after_sync, _) = rss_bytes();
    let served = a.metric("rix_sync_requests_served_total") - served_before;
    eprintln!(
        "slow reader: 300 huge-range requests never read; A served {served}, answered {} busy; RSS {:.1} -> {:.1} MiB",
        a.metric("rix_sync_refused_total"),
        rss_before_sync as f64 / MIB,
        rss_after_sync as f64 / MIB
    );
    assert!(served <= 8, "only the in-flight limit's worth is served to a slow reader ({served})");
    let sync_growth = rss_after_sync.saturating_sub(rss_before_sync) as f64 / MIB;
    assert!(sync_growth < 48.0, "the slow reader pinned {sync_growth:.1} MiB");
    rows.push(("X4 huge-range fetches never read", Tally { tried: 301, sent: 301, bytes: 0 }));

    // X1, X6, X7: floods of valid-looking invalid records, one kind of forgery each: broken
    // signatures, unknown authors, and records claiming another member's authorship. Each
    // kind has a sender of its own because the second invalid record bans its sender and what
    // a banned peer still had queued is dropped unread: one sender of all three kinds would
    // have only the first two judged.
    let x1_author = author_of(x[0]);
    let outsider = Author::new("rix-test", "ZZ".parse().unwrap(), MemberKey::generate().unwrap());
    let impostor = Author::new("rix-test", "A1".parse().unwrap(), MemberKey::from_seed(&x1_author.key().seed()));
    let forgeries: [(&str, &NodeDir, u64); 3] = [
        ("X1 broken signatures", x[0], 3),
        ("X6 unknown authors", x[5], 4),
        ("X7 another member's authorship", x[6], 5),
    ];
    let mut forgers = Vec::new();
    for (kind, (name, dir, bans)) in forgeries.into_iter().enumerate() {
        let h = hostile(dir, a_dir);
        ready(&h).await;
        let mut t = Tally::default();
        for i in 0..333u64 {
            let title = format!("flood {i}");
            let bytes = match kind {
                0 => {
                    let mut b = x1_author.sign_next(None, content(&title), Timestamp::now()).unwrap().bytes().to_vec();
                    b[10] ^= 0x40;
                    b
                }
                1 => outsider.sign_next(None, content(&title), Timestamp::now()).unwrap().bytes().to_vec(),
                _ => impostor.sign_next(None, content(&title), Timestamp::now()).unwrap().bytes().to_vec(),
            };
            t.gossip(&h, bytes).await;
        }
        rows.push((name, t));
        banned(a, bans, name).await;
        forgers.push(h);
    }

    // X2: gossip frames far over the transport limit. gossipsub's codec drops them unread
    // (so nothing scores them); X2 gets nothing through by them.
    let x2 = hostile(x[1], a_dir);
    ready(&x2).await;
    let mut t = Tally::default();
    for i in 0..10u8 {
        t.gossip(&x2, vec![i; 1024 * 1024]).await;
    }
    rows.push(("X2 1 MiB gossip frames", t));

    // X5: records over the 256 KiB record limit that fit in a gossip frame: rejected as too
    // large, and X5 is banned.
    let x5 = hostile(x[4], a_dir);
    ready(&x5).await;
    let x5_author = author_of(x[4]);
    let mut t = Tally::default();
    for i in 0..20 {
        let mut b = x5_author.sign_next(None, content(&format!("big {i}")), Timestamp::now()).unwrap().bytes().to_vec();
        b.resize(MAX_RECORD_BYTES + 4096, b' ');
        t.gossip(&x5, b).await;
    }
    rows.push(("X5 records over 256 KiB", t));
    banned(a, 6, "X5 for its oversized records").await;
    let attack_secs = attack_start.elapsed().as_secs_f64();

    // Honest records published during the attacks reached everyone during the attacks.
    stop.store(true, Ordering::Relaxed);
    let honest_ids = publisher.await.unwrap();
    let delivered_during =
        |n: &TestNode| honest_ids.iter().filter(|id| n.node().replica().contains(id).unwrap()).count();
    let (on_a, on_c) = (delivered_during(a), delivered_during(c));
    let expected = settled + 1 + honest_ids.len() as u64;
    wait_until(WAIT, "every honest record reaches A and C", async || {
        a.records() == expected && c.records() == expected
    })
    .await;
    let (rss_after, rss_peak) = rss_bytes();

    eprintln!("\nattack                                  tried    sent      bytes");
    for (name, t) in &rows {
        eprintln!("{name:<38} {:>6} {:>7} {:>10}", t.tried, t.sent, t.bytes);
    }
    let rejected =
        |reason: &str| a.metric(&format!("rix_records_rejected_total{{source=\"gossip\",reason=\"{reason}\"}}"));
    eprintln!(
        "A rejected: bad_signature {}, unknown_author {}, key_mismatch {}, too_large {}; duplicates {}; sync busy {}; banned {}; dropped from banned senders {}",
        rejected("bad_signature"),
        rejected("unknown_author"),
        rejected("key_mismatch"),
        rejected("too_large"),
        a.metric("rix_records_duplicate_total"),
        a.metric("rix_sync_refused_total"),
        a.metric("rix_peers_banned_total"),
        a.metric("rix_gossip_dropped_total"),
    );
    eprintln!(
        "honest: {} published by B in {attack_secs:.1} s of attacks; {on_a} on A and {on_c} on C when the attacks ended",
        honest_ids.len()
    );
    eprintln!(
        "RSS: before {:.1} MiB, after {:.1} MiB, peak {:.1} MiB",
        rss_before as f64 / MIB,
        rss_after as f64 / MIB,
        rss_peak as f64 / MIB
    );

    // Invalid input was rejected and counted; every attacker is banned and disconnected.
    assert!(rejected("bad_signature") >= 1 && rejected("unknown_author") >= 1 && rejected("key_mismatch") >= 1);
    assert!(rejected("too_large") >= 1, "oversized records are rejected as too large");
    assert!(a.metric("rix_sync_refused_total") >= 40);
    assert_eq!(a.metric("rix_peers_banned_total"), 6, "X1, X3, X4, X5, X6 and X7 are banned");
    let peers = a.node().net().peers().await.unwrap();
    let attackers: Vec<&str> = peers.iter().map(|p| p.role.as_str()).filter(|r| r.starts_with('X')).collect();
    assert!(attackers.iter().all(|r| *r == "X2"), "no banned attacker is still connected: {attackers:?}");
    assert!(!x3.connected().await && !x4.connected().await && !x5.connected().await);
    for f in &forgers {
        assert!(!f.connected().await, "a forger is disconnected");
    }

    // Honest traffic flowed during the attacks; nothing invalid was stored anywhere, and the
    // equivocation is kept as evidence that `rix verify` and `rix status` report.
    assert!(on_a * 10 >= honest_ids.len() * 8 && on_c * 10 >= honest_ids.len() * 8, "honest delivery held up");
    for n in &honest {
        let report = verify_replica(n.node().replica(), &n.node().charter(), |_| {}).unwrap();
        assert!(report.failures.is_empty(), "{}: {:?}", n.dir.member, report.failures);
        assert_eq!(n.records(), expected, "{} holds exactly the valid records", n.dir.member);
    }
    let status = a.node().status().await.unwrap();
    assert_eq!(status.equivocations.len(), 1);
    assert_eq!((status.equivocations[0].member.as_str(), status.equivocations[0].seq), ("X3", 151));

    // Memory stayed bounded over all the attacks.
    let growth = rss_peak.saturating_sub(rss_before) as f64 / MIB;
    assert!(growth < 160.0, "peak RSS grew by {growth:.1} MiB during the attacks");

    for n in &mut honest {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gossip_without_a_valid_libp2p_signature_is_refused_even_with_a_valid_record_inside() {
    // A node relays the gossipsub signature it receives (protocol.md §3), so it checks it: a
    // message without one is refused before its record is read, even when the record is valid.
    let net = TestNet::create(&["AA", "BB", "CC"]);
    let mut a = TestNode::new(&net.nodes[0]);
    a.start().await;
    let unsigned = hostile_with(Hostile::spawn_unsigned, &net.nodes[1], &net.nodes[0]);
    let signed = hostile(&net.nodes[2], &net.nodes[0]);
    ready(&unsigned).await;
    ready(&signed).await;
    let refused = chain(&author_of(&net.nodes[1]), 1, 100).remove(0);
    let accepted = chain(&author_of(&net.nodes[2]), 1, 100).remove(0);
    assert!(unsigned.publish(refused.bytes().to_vec()).await, "the unsigned message was sent");
    assert!(signed.publish(accepted.bytes().to_vec()).await, "the signed message was sent");
    wait_until(WAIT, "A stores the signed message's record", async || a.records() == 1).await;
    // The unsigned one was sent first; give it a while longer all the same.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held: Vec<_> = a.node().replica().iter().map(|r| r.expect("read").id()).collect();
    assert_eq!(held, vec![accepted.id()], "only the signed message's record is stored");
    a.stop().await;
}
