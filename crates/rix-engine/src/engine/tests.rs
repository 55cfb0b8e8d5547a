//! The engine driven by hand, one event at a time: each test feeds a short script and checks
//! the exact outputs. The simulator (`tests/simulator.rs`) checks the same engine at scale.

use std::time::Duration;

use super::*;
use crate::scoring::Offence;
use crate::sync::{LocalChain, Reply, SyncFailure};
use crate::verdict::{Acceptance, Outcome};
use crate::wire::{AuthorHead, SyncRequest, SyncResponse};

/// Peers and messages are small integers; a record is its sequence number.
#[derive(Debug)]
struct T;

impl Types for T {
    type Peer = u32;
    type Record = u64;
    type Message = u32;
    type Reply = u32;
}

const ME: u32 = 0;

fn engine() -> Engine<T> {
    let config = EngineConfig { members: ["AA".to_string()].into(), ..EngineConfig::default() };
    Engine::new(ME, config, Rng::seeded(7), Time::ZERO).0
}

fn at(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn gossip(e: &mut Engine<T>, from: u32, message: u32, now: Time) -> Vec<Output<T>> {
    e.handle(Event::Gossip { from, message, record: u64::from(message) }, now)
}

fn ingests(out: &[Output<T>]) -> Vec<(BatchId, Vec<u64>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Ingest { batch, records, .. } => Some((*batch, records.clone())),
            _ => None,
        })
        .collect()
}

fn verdicts(out: &[Output<T>]) -> Vec<(u32, Acceptance)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Validate { message, acceptance, .. } => Some((*message, *acceptance)),
            _ => None,
        })
        .collect()
}

fn requests(out: &[Output<T>]) -> Vec<(Tag, SyncRequest)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Request { tag, request, .. } => Some((*tag, request.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_burst_of_gossip_is_one_batch_while_the_first_is_stored() {
    let mut e = engine();
    let first = gossip(&mut e, 1, 10, at(0));
    let [(b1, records)] = ingests(&first).try_into().unwrap();
    assert_eq!(records, vec![10], "a lone record goes at once");
    for m in 11..=13 {
        assert!(ingests(&gossip(&mut e, 1, m, at(1))).is_empty(), "queued while batch 1 is stored");
    }
    let out = e.handle(Event::Ingested { batch: b1, outcomes: Ok(vec![Outcome::New]) }, at(2));
    let [(_, records)] = ingests(&out).try_into().unwrap();
    assert_eq!(records, vec![11, 12, 13], "the queue goes as one batch");
    // A new record is held before gossipsub may forward it, then released by the hold timer.
    assert!(verdicts(&out).is_empty());
    let hold = out.iter().find_map(|o| match o {
        Output::SetTimer { at, timer: Timer::Hold } => Some(*at),
        _ => None,
    });
    let released = e.handle(Event::Timer(Timer::Hold), hold.expect("a hold timer"));
    assert_eq!(verdicts(&released), vec![(10, Acceptance::Accept)]);
}

#[test]
fn invalid_gossip_bans_its_sender_and_what_it_had_queued_is_dropped_and_counted() {
    let mut e = engine();
    let [(b1, _)] = ingests(&gossip(&mut e, 1, 1, at(0))).try_into().unwrap();
    for m in 2..=5 {
        gossip(&mut e, 1, m, at(1));
    }
    gossip(&mut e, 2, 6, at(1));
    // The first record is invalid: 75 points, not yet a ban.
    let out = e.handle(Event::Ingested { batch: b1, outcomes: Ok(vec![Outcome::Invalid]) }, at(2));
    assert_eq!(verdicts(&out), vec![(1, Acceptance::Reject)]);
    let [(b2, records)] = ingests(&out).try_into().unwrap();
    assert_eq!(records, vec![2, 3, 4, 5, 6]);
    // The second batch has a second invalid record from peer 1: banned.
    let outcomes = vec![Outcome::Invalid, Outcome::Invalid, Outcome::New, Outcome::New, Outcome::New];
    let out = e.handle(Event::Ingested { batch: b2, outcomes: Ok(outcomes) }, at(3));
    assert!(out.iter().any(|o| matches!(o, Output::Ban { peer: 1, .. })));
    let penalties: Vec<(u32, Offence, bool)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Penalised { peer, offence, banned } => Some((*peer, *offence, *banned)),
            _ => None,
        })
        .collect();
    // One ban; the third invalid record finds the peer already banned and is not charged again.
    assert_eq!(penalties, vec![(1, Offence::InvalidGossip, true)]);
    assert!(e.is_banned(&1, at(3)));
    // What the banned peer sends now is dropped unread, counted, and ignored (not rejected:
    // gossipsub must not blame the relay for it).
    let out = gossip(&mut e, 1, 7, at(4));
    assert!(ingests(&out).is_empty());
    assert!(out.iter().any(|o| matches!(o, Output::GossipDropped { from: 1 })));
    assert_eq!(verdicts(&out), vec![(7, Acceptance::Ignore)]);
    // The honest peer is untouched.
    assert!(!e.is_banned(&2, at(4)));
}

#[test]
fn a_banned_senders_queued_messages_are_dropped_before_verification() {
    let mut e = engine();
    let [(b1, _)] = ingests(&gossip(&mut e, 1, 1, at(0))).try_into().unwrap();
    let [(b2, _)] = {
        // Get peer 1 to 75 points first, with a batch of its own.
        e.handle(Event::Ingested { batch: b1, outcomes: Ok(vec![Outcome::Invalid]) }, at(1));
        ingests(&gossip(&mut e, 1, 2, at(1))).try_into().unwrap()
    };
    gossip(&mut e, 1, 3, at(2));
    gossip(&mut e, 1, 4, at(2));
    let out = e.handle(Event::Ingested { batch: b2, outcomes: Ok(vec![Outcome::Invalid]) }, at(3));
    assert!(ingests(&out).is_empty(), "nothing of a banned peer is verified");
    let dropped = out.iter().filter(|o| matches!(o, Output::GossipDropped { from: 1 })).count();
    assert_eq!(dropped, 2);
    assert_eq!(verdicts(&out), vec![(2, Acceptance::Reject), (3, Acceptance::Ignore), (4, Acceptance::Ignore)]);
}

#[test]
fn a_session_pages_through_a_range_with_more_and_pipelines_storage() {
    let mut e = Engine::<T>::new(
        ME,
        EngineConfig { members: ["AA".to_string()].into(), batch_records: 2, ..EngineConfig::default() },
        Rng::seeded(1),
        Time::ZERO,
    )
    .0;
    let out = e.handle(Event::PeerConnected(1), at(0));
    let [(tag, first)]: [(Tag, SyncRequest); 1] = requests(&out).try_into().unwrap();
    assert_eq!(first, SyncRequest::Summary, "a summary first");
    let heads = vec![
        AuthorHead { author: "AA".into(), contiguous: 5, max_seq: 5, held: 5 },
        // Not a member: never fetched.
        AuthorHead { author: "ZZ".into(), contiguous: 9, max_seq: 9, held: 9 },
    ];
    let out = e.handle(
        Event::Reply { peer: 1, tag, reply: Reply::Summary { network: "rix".into(), heads, charter: None } },
        at(1),
    );
    assert!(out.iter().any(|o| matches!(o, Output::ReadHeads { peer: 1, .. })));
    let chains = vec![LocalChain { author: "AA".into(), max_seq: 1, missing: vec![] }];
    let out = e.handle(Event::LocalHeads { peer: 1, tag, chains }, at(2));
    assert!(out.iter().any(|o| matches!(o, Output::Lag { lag: 4, .. })));
    let fetch = |from, to| SyncRequest::Fetch { author: "AA".into(), from, to, limit: 2 };
    assert_eq!(requests(&out), vec![(tag, fetch(2, 5))]);
    // Page one: stored while page two is fetched.
    let page = |records: Vec<u64>, next| Reply::Records { records, next, more: true };
    let out = e.handle(Event::Reply { peer: 1, tag, reply: page(vec![2, 3], Some(4)) }, at(3));
    let [(b1, _)] = ingests(&out).try_into().unwrap();
    assert_eq!(requests(&out), vec![(tag, fetch(4, 5))]);
    // Page two arrives before page one is stored: parked, not a second batch in flight.
    let out = e.handle(Event::Reply { peer: 1, tag, reply: page(vec![4, 5], Some(6)) }, at(4));
    assert!(ingests(&out).is_empty() && requests(&out).is_empty());
    let out = e.handle(Event::Ingested { batch: b1, outcomes: Ok(vec![Outcome::New; 2]) }, at(5));
    let [(b2, records)] = ingests(&out).try_into().unwrap();
    assert_eq!(records, vec![4, 5]);
    let out = e.handle(Event::Ingested { batch: b2, outcomes: Ok(vec![Outcome::New; 2]) }, at(6));
    assert!(out.iter().any(|o| matches!(o, Output::SyncDone { peer: 1, result: Ok(4) })));
    assert!(!e.syncing(&1));
    assert_eq!(e.peers()[&1].records_fetched, 4);
}

#[test]
fn a_busy_peer_is_retried_until_patience_runs_out() {
    let mut e = engine();
    let out = e.handle(Event::PeerConnected(1), at(0));
    let [(tag, _)] = requests(&out).try_into().unwrap();
    let busy = || Reply::Busy { retry_after_ms: 1_000 };
    let out = e.handle(Event::Reply { peer: 1, tag, reply: busy() }, at(0));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::SetTimer { at: t, timer: Timer::Retry { peer: 1, .. } } if *t == at(1_000)))
    );
    let out = e.handle(Event::Timer(Timer::Retry { peer: 1, tag }), at(1_000));
    assert_eq!(requests(&out), vec![(tag, SyncRequest::Summary)], "the same request again");
    // Still busy 30 s after the first refusal: the round fails.
    let out = e.handle(Event::Reply { peer: 1, tag, reply: busy() }, at(30_000));
    assert!(
        out.iter().any(|o| matches!(o, Output::SyncDone { peer: 1, result: Err(SyncFailure::StayedBusy) })),
        "{out:?}"
    );
}

#[test]
fn a_stale_sessions_reply_is_ignored() {
    let mut e = engine();
    let out = e.handle(Event::PeerConnected(1), at(0));
    let [(old, _)] = requests(&out).try_into().unwrap();
    e.handle(Event::PeerDisconnected(1), at(1));
    let out = e.handle(Event::PeerConnected(1), at(2));
    let [(new, _)] = requests(&out).try_into().unwrap();
    assert_ne!(old, new);
    let summary = Reply::Summary { network: "rix".into(), heads: vec![], charter: None };
    assert!(e.handle(Event::Reply { peer: 1, tag: old, reply: summary }, at(3)).is_empty());
    assert!(e.syncing(&1));
}

#[test]
fn requests_over_the_in_flight_limit_are_answered_busy_and_charged() {
    let mut e = engine();
    let limit = EngineConfig::default().serve.inflight_per_peer as u32;
    for reply in 0..limit {
        let out = e.handle(Event::SyncRequest { from: 1, request: SyncRequest::Summary, reply }, at(0));
        assert!(matches!(&out[..], [Output::Serve { serve: Serve::Summary, .. }]), "{out:?}");
    }
    let out = e.handle(Event::SyncRequest { from: 1, request: SyncRequest::Summary, reply: 99 }, at(0));
    assert!(out.iter().any(|o| matches!(o, Output::Respond { response: SyncResponse::Busy { .. }, reply: 99, .. })));
    assert!(out.iter().any(|o| matches!(o, Output::Penalised { offence: Offence::SyncOverLimit, .. })));
    // Every request is reported once, the refused one too: that and one answer free a slot.
    e.handle(Event::Served(1), at(1));
    let out = e.handle(Event::SyncRequest { from: 1, request: SyncRequest::Summary, reply: 100 }, at(1));
    assert!(matches!(&out[..], [Output::Respond { response: SyncResponse::Busy { .. }, .. }, ..]), "{out:?}");
    e.handle(Event::Served(1), at(1));
    e.handle(Event::Served(1), at(1));
    let out = e.handle(Event::SyncRequest { from: 1, request: SyncRequest::Summary, reply: 100 }, at(1));
    assert!(matches!(&out[..], [Output::Serve { .. }]));
}

#[test]
fn a_ban_runs_out_on_its_timer_and_the_peer_is_admitted_again() {
    let mut e = engine();
    let ban = EngineConfig::default().scoring.ban;
    for (m, t) in [(1, 0), (2, 1)] {
        let [(b, _)] = ingests(&gossip(&mut e, 1, m, at(t))).try_into().unwrap();
        e.handle(Event::Ingested { batch: b, outcomes: Ok(vec![Outcome::Invalid]) }, at(t));
    }
    assert!(e.is_banned(&1, at(2)));
    let later = at(2) + ban + Duration::from_secs(1);
    let out = e.handle(Event::Timer(Timer::Bans), later);
    assert!(out.iter().any(|o| matches!(o, Output::Unban(1))), "{out:?}");
    assert!(!e.is_banned(&1, later));
}

fn charter(genesis: &str, items: u64, digest: &str) -> crate::wire::CharterSummary {
    crate::wire::CharterSummary { genesis: genesis.into(), items, digest: digest.into() }
}

fn charter_ingests(out: &[Output<T>]) -> Vec<(BatchId, Vec<Vec<u8>>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::IngestCharter { batch, items, .. } => Some((*batch, items.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_peer_with_another_charter_chain_is_asked_for_it_page_by_page_before_any_record() {
    let mut e = engine();
    let members = ["AA".to_string()].into();
    e.handle(Event::Charter { summary: charter("g", 1, "d1"), members }, at(0));
    let out = e.handle(Event::PeerConnected(1), at(0));
    let [(tag, _)] = requests(&out).try_into().unwrap();
    let heads = vec![AuthorHead { author: "BB".into(), contiguous: 2, max_seq: 2, held: 2 }];
    let summary = Reply::Summary { network: "rix".into(), heads, charter: Some(charter("g", 3, "d3")) };
    let out = e.handle(Event::Reply { peer: 1, tag, reply: summary }, at(1));
    assert_eq!(requests(&out), vec![(tag, SyncRequest::Charter { after: None })]);
    assert!(!out.iter().any(|o| matches!(o, Output::ReadHeads { .. })), "records wait for the charter");
    let page = Reply::Charter { items: vec![b"a".to_vec(), b"b".to_vec()], last: Some("b".into()), more: true };
    let out = e.handle(Event::Reply { peer: 1, tag, reply: page }, at(2));
    let [(batch, items)] = charter_ingests(&out).try_into().unwrap();
    assert_eq!(items.len(), 2);
    // The items admitted BB: the driver says so before reporting the batch.
    let members = ["AA".to_string(), "BB".to_string()].into();
    e.handle(Event::Charter { summary: charter("g", 3, "d3"), members }, at(3));
    let stored = CharterOutcome { new: 2, ..Default::default() };
    let out = e.handle(Event::CharterIngested { batch, outcome: Ok(stored) }, at(3));
    assert_eq!(requests(&out), vec![(tag, SyncRequest::Charter { after: Some("b".into()) })]);
    let last = Reply::Charter { items: vec![], last: None, more: false };
    let out = e.handle(Event::Reply { peer: 1, tag, reply: last }, at(4));
    assert!(out.iter().any(|o| matches!(o, Output::ReadHeads { peer: 1, .. })));
    let out = e.handle(Event::LocalHeads { peer: 1, tag, chains: vec![] }, at(5));
    let fetch = SyncRequest::Fetch { author: "BB".into(), from: 1, to: 2, limit: 512 };
    assert_eq!(requests(&out), vec![(tag, fetch)], "the new member's chain is fetched");
}

#[test]
fn a_charter_from_another_genesis_ends_the_round_and_invalid_items_are_penalised() {
    let mut e = engine();
    e.handle(Event::Charter { summary: charter("g", 0, "d0"), members: ["AA".to_string()].into() }, at(0));
    let out = e.handle(Event::PeerConnected(1), at(0));
    let [(tag, _)] = requests(&out).try_into().unwrap();
    let summary = Reply::Summary { network: "rix".into(), heads: vec![], charter: Some(charter("other", 1, "x")) };
    let out = e.handle(Event::Reply { peer: 1, tag, reply: summary }, at(1));
    assert!(out.iter().any(|o| matches!(o, Output::SyncDone { result: Err(SyncFailure::WrongGenesis(_)), .. })));

    // A forged item by sync fails the round and costs the peer; one by gossip is rejected.
    let out = e.handle(Event::PeerConnected(2), at(2));
    let [(tag, _)] = requests(&out).try_into().unwrap();
    let summary = Reply::Summary { network: "rix".into(), heads: vec![], charter: Some(charter("g", 1, "x")) };
    e.handle(Event::Reply { peer: 2, tag, reply: summary }, at(3));
    let page = Reply::Charter { items: vec![b"forged".to_vec()], last: None, more: false };
    let out = e.handle(Event::Reply { peer: 2, tag, reply: page }, at(4));
    let [(batch, _)] = charter_ingests(&out).try_into().unwrap();
    let refused = CharterOutcome { invalid: 1, ..Default::default() };
    let out = e.handle(Event::CharterIngested { batch, outcome: Ok(refused) }, at(5));
    assert!(out.iter().any(|o| matches!(o, Output::Penalised { peer: 2, offence: Offence::InvalidSync, .. })));
    // Serving an invalid item by sync bans, as an invalid record does; the round ends with it.
    assert!(out.iter().any(|o| matches!(o, Output::Ban { peer: 2, .. })));
    assert!(!e.syncing(&2));

    let out = e.handle(Event::CharterGossip { from: 3, message: 30, item: b"forged".to_vec() }, at(6));
    let [(batch, _)] = charter_ingests(&out).try_into().unwrap();
    let out = e.handle(Event::CharterIngested { batch, outcome: Ok(refused) }, at(6));
    assert_eq!(verdicts(&out), vec![(30, Acceptance::Reject)]);
    assert!(out.iter().any(|o| matches!(o, Output::Penalised { peer: 3, offence: Offence::InvalidGossip, .. })));
    let out = e.handle(Event::CharterGossip { from: 3, message: 31, item: b"good".to_vec() }, at(7));
    let [(batch, _)] = charter_ingests(&out).try_into().unwrap();
    let stored = CharterOutcome { new: 1, ..Default::default() };
    let out = e.handle(Event::CharterIngested { batch, outcome: Ok(stored) }, at(7));
    assert_eq!(verdicts(&out), vec![(31, Acceptance::Accept)]);
}

#[test]
fn a_record_a_newer_charter_could_admit_is_held_against_its_sender_only_once_the_charters_agree() {
    let mut e = engine();
    e.handle(Event::Charter { summary: charter("g", 1, "d1"), members: ["AA".to_string()].into() }, at(0));
    let out = e.handle(Event::PeerConnected(1), at(0));
    let [(tag, _)] = requests(&out).try_into().unwrap();
    // Peer 1 holds more of the chain: until this node has it, it does not judge.
    let summary = Reply::Summary { network: "rix".into(), heads: vec![], charter: Some(charter("g", 2, "d2")) };
    e.handle(Event::Reply { peer: 1, tag, reply: summary }, at(1));
    assert!(!e.charter_settled());
    let out = gossip(&mut e, 1, 10, at(2));
    let [(batch, _)] = ingests(&out).try_into().unwrap();
    let out = e.handle(Event::Ingested { batch, outcomes: Ok(vec![Outcome::Unjudged]) }, at(3));
    assert_eq!(verdicts(&out), vec![(10, Acceptance::Ignore)]);
    assert!(!out.iter().any(|o| matches!(o, Output::Penalised { .. })));
    // Once this node holds the same chain, the same failure is a forgery.
    e.handle(Event::Charter { summary: charter("g", 2, "d2"), members: ["AA".to_string()].into() }, at(4));
    assert!(e.charter_settled());
    let out = gossip(&mut e, 1, 11, at(5));
    let [(batch, _)] = ingests(&out).try_into().unwrap();
    let out = e.handle(Event::Ingested { batch, outcomes: Ok(vec![Outcome::Unjudged]) }, at(6));
    assert_eq!(verdicts(&out), vec![(11, Acceptance::Reject)]);
    assert!(out.iter().any(|o| matches!(o, Output::Penalised { peer: 1, offence: Offence::InvalidGossip, .. })));
}

#[test]
fn a_peer_behind_on_the_charter_is_not_banned_for_serving_what_a_newer_version_retired() {
    let mut e = engine();
    e.handle(Event::Charter { summary: charter("g", 3, "d3"), members: ["AA".to_string()].into() }, at(0));
    let mut serve_one = |peer: u32, digest: &str, now: u64| {
        let out = e.handle(Event::PeerConnected(peer), at(now));
        let [(tag, _)] = requests(&out).try_into().unwrap();
        let heads = vec![AuthorHead { author: "AA".into(), contiguous: 1, max_seq: 1, held: 1 }];
        // Its digest differs but it holds nothing this node lacks (items 0): no charter fetch.
        let summary = Reply::Summary { network: "rix".into(), heads, charter: Some(charter("g", 0, digest)) };
        e.handle(Event::Reply { peer, tag, reply: summary }, at(now + 1));
        e.handle(Event::LocalHeads { peer, tag, chains: vec![] }, at(now + 2));
        let page = Reply::Records { records: vec![1], next: Some(2), more: false };
        let out = e.handle(Event::Reply { peer, tag, reply: page }, at(now + 3));
        let [(batch, _)] = ingests(&out).try_into().unwrap();
        e.handle(Event::Ingested { batch, outcomes: Ok(vec![Outcome::Unjudged]) }, at(now + 4))
    };
    let out = serve_one(1, "d1", 0);
    assert!(!out.iter().any(|o| matches!(o, Output::Penalised { .. } | Output::Ban { .. })), "{out:?}");
    let out = serve_one(2, "d3", 10);
    assert!(out.iter().any(|o| matches!(o, Output::Ban { peer: 2, .. })), "the same chain: a forgery");
}

#[test]
fn charter_items_replayed_by_gossip_cost_their_sender_a_replay_point() {
    let mut e = engine();
    let out = e.handle(Event::CharterGossip { from: 3, message: 40, item: b"held".to_vec() }, at(0));
    let [(batch, _)] = charter_ingests(&out).try_into().unwrap();
    let held = CharterOutcome { duplicate: 1, ..Default::default() };
    let out = e.handle(Event::CharterIngested { batch, outcome: Ok(held) }, at(1));
    assert_eq!(verdicts(&out), vec![(40, Acceptance::Ignore)]);
    assert!(out.iter().any(|o| matches!(o, Output::Penalised { peer: 3, offence: Offence::Replay, banned: false })));
}
