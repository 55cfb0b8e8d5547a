//! A seeded, deterministic simulator: N honest nodes, each an [`Engine`] over an in-memory
//! store, plus hostile peers, on a virtual clock and a network that delays, loses, duplicates
//! and reorders messages, partitions and heals, and crashes nodes (which restart from what
//! was durable). One seed gives one run, event for event: a failing seed is printed and
//! replayed with `RIX_SIM_SEED`.
//!
//! What it models, and how closely:
//! - **gossip** as gossipsub does it after validation: the publisher sends to every connected
//!   peer, a node relays a record it accepted to every connected peer but the sender, and a
//!   per-node seen cache (with a time to live) drops copies, as gossipsub's does;
//! - **sync** as request-response streams: a lost request or answer is a failure after the
//!   request timeout; a closed connection fails what was in flight;
//! - **storage**: verifying and storing takes a little time; a batch may fail to store (a
//!   fault injected at random); what peers sent becomes durable only after a flush delay, the
//!   node's own records at once (the signing journal);
//! - **hostile peers** that forward forged records, serve forged records by sync, flood sync
//!   requests and replay old records.
//!
//! [`run`] returns a [`Report`]; its `problems` list what broke an invariant: a valid record
//! missing on an honest node after the network settled, an invalid record stored, an honest
//! peer banned, or a hostile one not banned after an attack that must ban it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Duration;

use crate::engine::{BatchId, Engine, EngineConfig, Event, Output, Serve, StoreFailed, Tag, Types};
use crate::serve::page;
use crate::sync::{LocalChain, Reply};
use crate::wire::{AuthorHead, SyncRequest, SyncResponse};
use crate::{Acceptance, Outcome, Rng, ScoringConfig, Time};

/// A simulated peer: honest nodes are `0..nodes`, hostile peers follow.
pub type Peer = u16;

/// A record as the simulator knows it: who signed it (a node index), its sequence number, a
/// body (two records with one author and sequence number but different bodies equivocate),
/// and whether its signature is forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SimRecord {
    /// The author's node index.
    pub author: Peer,
    /// Sequence number in the author's chain.
    pub seq: u64,
    /// The content.
    pub body: u64,
    /// A forged signature: never valid.
    pub forged: bool,
}

impl SimRecord {
    fn id(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for x in [u64::from(self.author), self.seq, self.body, u64::from(self.forged)] {
            h = (h ^ x).wrapping_mul(0x100_0000_01b3);
        }
        h
    }

    /// Its size in bytes as the responder's paging sees it.
    fn size(&self) -> usize {
        600 + (self.body % 3_000) as usize
    }
}

/// Where a sync answer goes.
#[derive(Debug, Clone, Copy)]
pub struct ReplyTo {
    requester: Peer,
    requester_incarnation: u32,
    tag: Tag,
    request: u64,
}

/// The simulator's [`Types`].
#[derive(Debug)]
pub struct Sim;

impl Types for Sim {
    type Peer = Peer;
    type Record = SimRecord;
    /// The record itself: what a relay forwards.
    type Message = SimRecord;
    type Reply = ReplyTo;
}

fn code(peer: Peer) -> String {
    format!("M{peer}")
}

fn author_of(code: &str) -> Option<Peer> {
    code.strip_prefix('M')?.parse().ok()
}

/// What a run looks like.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Honest nodes (each a member).
    pub nodes: usize,
    /// Hostile peers (not members; they connect to honest nodes and attack them).
    pub hostile: usize,
    /// Records each honest node publishes during the active phase.
    pub records_per_node: usize,
    /// How long the active phase lasts (publishing, faults, attacks).
    pub active: Duration,
    /// How long the network then runs without partitions, crashes or attacks before the
    /// invariants are checked.
    pub settle: Duration,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a gossip message is delivered twice.
    pub duplicate: f64,
    /// Message delay bounds, milliseconds (uniform; independent delays reorder messages).
    pub delay_ms: (u64, u64),
    /// Probability that storing a batch fails.
    pub store_failure: f64,
    /// Partitions during the active phase.
    pub partitions: usize,
    /// Crashes (with restart) during the active phase.
    pub crashes: usize,
    /// Largest record bytes in one sync answer (small, so paging is exercised).
    pub response_budget: usize,
    /// Sync settings and the rest of the engine's.
    pub engine: EngineConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            nodes: 4,
            hostile: 1,
            records_per_node: 8,
            active: Duration::from_secs(60),
            settle: Duration::from_secs(240),
            loss: 0.05,
            duplicate: 0.05,
            delay_ms: (1, 40),
            store_failure: 0.02,
            partitions: 1,
            crashes: 1,
            response_budget: 8 * 1024,
            engine: EngineConfig {
                sync_interval: Duration::from_secs(20),
                batch_records: 4,
                patience: Duration::from_secs(10),
                redial_max: Duration::from_secs(8),
                gossip_batch: 8,
                scoring: ScoringConfig { ban: Duration::from_secs(120), ..ScoringConfig::default() },
                ..EngineConfig::default()
            },
        }
    }
}

/// A varied configuration drawn from `seed`: 3 to 7 nodes, 0 to 2 hostile peers, different
/// loss, delays, partitions and crashes.
pub fn scenario(seed: u64) -> SimConfig {
    let mut rng = Rng::seeded(seed ^ 0x5eed);
    let mut c = SimConfig {
        nodes: rng.range(3, 7) as usize,
        hostile: rng.range(0, 2) as usize,
        records_per_node: rng.range(2, 12) as usize,
        loss: [0.0, 0.02, 0.1, 0.25][rng.range(0, 3) as usize],
        duplicate: [0.0, 0.1][rng.range(0, 1) as usize],
        delay_ms: [(1, 5), (1, 40), (5, 300)][rng.range(0, 2) as usize],
        store_failure: [0.0, 0.05][rng.range(0, 1) as usize],
        partitions: rng.range(0, 2) as usize,
        crashes: rng.range(0, 2) as usize,
        ..SimConfig::default()
    };
    c.engine.batch_records = rng.range(1, 6) as u32;
    // A round ends at its first lost message: at a quarter of messages lost and one record a
    // fetch, a node behind by ten records needs many rounds.
    if c.loss >= 0.2 {
        c.settle = Duration::from_secs(900);
    }
    c.engine.forward_hold = Duration::from_millis(rng.range(0, 30));
    c
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Broken invariants; empty when the run passed.
    pub problems: Vec<String>,
    /// Valid records published.
    pub published: usize,
    /// Events processed.
    pub events: u64,
    /// Bans imposed, as (by, on).
    pub bans: BTreeSet<(Peer, Peer)>,
    /// Sync rounds that completed, and that failed.
    pub rounds: (u64, u64),
    /// A digest of everything that happened, in order: two runs of one seed must agree.
    pub trace: u64,
}

#[derive(Debug)]
enum Action {
    /// Deliver an event to an honest node's engine, if it is still the same incarnation.
    Engine {
        node: Peer,
        incarnation: u32,
        event: Event<Sim>,
    },
    /// A sync request reaches a hostile peer.
    HostileRequest {
        hostile: Peer,
        from: Peer,
        request: SyncRequest,
        reply: ReplyTo,
    },
    /// The requester gives up on a request it got no answer to.
    RequestTimeout {
        reply: ReplyTo,
        peer: Peer,
    },
    /// A connection attempt arrives.
    Connect {
        from: Peer,
        to: Peer,
    },
    Publish(Peer),
    Crash(Peer),
    Restart(Peer),
    Partition,
    Heal,
    Attack(Peer),
}

#[derive(Debug)]
struct Node {
    engine: Option<Engine<Sim>>,
    incarnation: u32,
    /// (author, seq) → record, and when it becomes durable.
    store: BTreeMap<(Peer, u64), (SimRecord, Time)>,
    evidence: BTreeSet<SimRecord>,
    seen: HashMap<u64, Time>,
    refused: BTreeMap<Peer, Time>,
    /// Requests whose answer is still awaited, by request number.
    awaiting: BTreeSet<u64>,
}

/// One simulated network.
struct World {
    cfg: SimConfig,
    rng: Rng,
    now: Time,
    queue: BinaryHeap<Reverse<(Time, u64)>>,
    actions: HashMap<u64, Action>,
    next_action: u64,
    next_request: u64,
    nodes: Vec<Node>,
    links: BTreeSet<(Peer, Peer)>,
    /// Peers on the minority side of the current partition.
    cut: Option<BTreeSet<Peer>>,
    published: BTreeSet<SimRecord>,
    next_body: u64,
    /// (node, hostile) pairs where an attack that must ban was delivered.
    must_ban: BTreeSet<(Peer, Peer)>,
    /// Batches handed to a node's store: who sent them (sync) and what they held.
    batches: HashMap<(Peer, BatchId), (Option<Peer>, Vec<SimRecord>)>,
    /// Who sent each gossip record a node received.
    senders: HashMap<(Peer, SimRecord), Peer>,
    /// When a node's incarnation saw each offence of a hostile peer: (node, incarnation,
    /// hostile, kind) → times.
    offences: HashMap<(Peer, u32, Peer, u8), Vec<Time>>,
    /// Which [`Hostility`] the first hostile peer has (the next has the next, and so on).
    first_hostility: usize,
    report: Report,
}

/// The kinds of hostile peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostility {
    /// Forwards forged records by gossip.
    ForgesGossip,
    /// Floods sync requests.
    FloodsSync,
    /// Announces records it does not have and serves forged ones by sync.
    LiesInSync,
    /// Replays old records by gossip.
    Replays,
}

const SEEN_TTL: Duration = Duration::from_secs(30);
const FLUSH_DELAY: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs one scenario.
pub fn run(seed: u64, cfg: &SimConfig) -> Report {
    let mut w = World {
        cfg: cfg.clone(),
        rng: Rng::seeded(seed),
        now: Time::ZERO,
        queue: BinaryHeap::new(),
        actions: HashMap::new(),
        next_action: 0,
        next_request: 0,
        nodes: Vec::new(),
        links: BTreeSet::new(),
        cut: None,
        published: BTreeSet::new(),
        next_body: 1,
        must_ban: BTreeSet::new(),
        batches: HashMap::new(),
        senders: HashMap::new(),
        offences: HashMap::new(),
        first_hostility: (seed % 4) as usize,
        report: Report::default(),
    };
    w.cfg.engine.members = (0..cfg.nodes as Peer).map(code).collect();
    for _ in 0..cfg.nodes + cfg.hostile {
        w.nodes.push(Node {
            engine: None,
            incarnation: 0,
            store: BTreeMap::new(),
            evidence: BTreeSet::new(),
            seen: HashMap::new(),
            refused: BTreeMap::new(),
            awaiting: BTreeSet::new(),
        });
    }
    for n in 0..cfg.nodes as Peer {
        w.boot(n);
    }
    let active = cfg.active.as_millis() as u64;
    for n in 0..cfg.nodes as Peer {
        for _ in 0..cfg.records_per_node {
            let at = Time::from_millis(w.rng.range(0, active));
            w.at(at, Action::Publish(n));
        }
    }
    for _ in 0..cfg.partitions {
        let start = w.rng.range(0, active * 2 / 3);
        w.at(Time::from_millis(start), Action::Partition);
        let heal = start + w.rng.range(2_000, active / 3);
        w.at(Time::from_millis(heal), Action::Heal);
    }
    for _ in 0..cfg.crashes {
        let node = w.rng.range(0, cfg.nodes as u64 - 1) as Peer;
        let start = w.rng.range(0, active * 2 / 3);
        w.at(Time::from_millis(start), Action::Crash(node));
        let restart = start + w.rng.range(500, active / 3);
        w.at(Time::from_millis(restart), Action::Restart(node));
    }
    for h in cfg.nodes..cfg.nodes + cfg.hostile {
        for to in 0..cfg.nodes as Peer {
            let at = Time::from_millis(w.rng.range(0, 1_000));
            w.at(at, Action::Connect { from: h as Peer, to });
        }
        for _ in 0..3 {
            let at = Time::from_millis(w.rng.range(2_000, active));
            w.at(at, Action::Attack(h as Peer));
        }
    }
    let end = Time::ZERO + cfg.active + cfg.settle;
    while let Some(Reverse((at, id))) = w.queue.pop() {
        if at > end {
            break;
        }
        w.now = at;
        let action = w.actions.remove(&id).expect("queued");
        w.report.events += 1;
        w.apply(action);
    }
    w.check();
    w.report.published = w.published.len();
    w.report
}

impl World {
    fn at(&mut self, at: Time, action: Action) {
        self.next_action += 1;
        let id = self.next_action;
        self.actions.insert(id, action);
        self.queue.push(Reverse((at.max(self.now), id)));
    }

    fn delay(&mut self) -> Duration {
        let (lo, hi) = self.cfg.delay_ms;
        Duration::from_millis(self.rng.range(lo, hi))
    }

    fn trace(&mut self, x: u64) {
        self.report.trace = (self.report.trace ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(7);
    }

    fn honest(&self, p: Peer) -> bool {
        (p as usize) < self.cfg.nodes
    }

    fn up(&self, p: Peer) -> bool {
        !self.honest(p) || self.nodes[p as usize].engine.is_some()
    }

    fn reachable(&self, a: Peer, b: Peer) -> bool {
        self.cut.as_ref().is_none_or(|cut| cut.contains(&a) == cut.contains(&b))
    }

    fn linked(&self, a: Peer, b: Peer) -> bool {
        self.links.contains(&(a.min(b), a.max(b)))
    }

    /// Delivers `event` to `node`'s current incarnation after `delay`.
    fn send_engine(&mut self, node: Peer, delay: Duration, event: Event<Sim>) {
        if !self.honest(node) {
            return;
        }
        let incarnation = self.nodes[node as usize].incarnation;
        self.at(self.now + delay, Action::Engine { node, incarnation, event });
    }

    fn boot(&mut self, n: Peer) {
        let seed = self.rng.next_u64();
        let (engine, out) = Engine::new(n, self.cfg.engine.clone(), Rng::seeded(seed), self.now);
        let node = &mut self.nodes[n as usize];
        node.engine = Some(engine);
        node.incarnation += 1;
        node.seen.clear();
        node.awaiting.clear();
        self.outputs(n, out);
        for peer in 0..self.cfg.nodes as Peer {
            if peer != n {
                self.send_engine(n, Duration::ZERO, Event::Dialable(peer));
            }
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Engine { node, incarnation, event } => {
                let n = &mut self.nodes[node as usize];
                if n.incarnation != incarnation {
                    return;
                }
                if n.engine.is_none() {
                    return;
                }
                self.observe(node, incarnation, &event);
                let engine = self.nodes[node as usize].engine.as_mut().expect("checked");
                let out = engine.handle(event, self.now);
                self.trace(u64::from(node) << 32 | out.len() as u64);
                self.outputs(node, out);
            }
            Action::HostileRequest { hostile, from, request, reply } => {
                self.hostile_answer(hostile, from, request, reply)
            }
            Action::RequestTimeout { reply, peer } => {
                let n = &mut self.nodes[reply.requester as usize];
                if n.incarnation == reply.requester_incarnation && n.awaiting.remove(&reply.request) {
                    let failed = Reply::Failed { reason: "timed out".into() };
                    self.send_engine(
                        reply.requester,
                        Duration::ZERO,
                        Event::Reply { peer, tag: reply.tag, reply: failed },
                    );
                }
            }
            Action::Connect { from, to } => self.connect(from, to),
            Action::Publish(n) => self.publish(n),
            Action::Crash(n) => self.crash(n),
            Action::Restart(n) => {
                if self.nodes[n as usize].engine.is_none() {
                    self.boot(n);
                }
            }
            Action::Partition => {
                let all = (self.cfg.nodes + self.cfg.hostile) as u64;
                let cut: BTreeSet<Peer> = (0..all as Peer).filter(|_| self.rng.chance(0.4)).collect::<BTreeSet<_>>();
                let cross: Vec<(Peer, Peer)> =
                    self.links.iter().copied().filter(|(a, b)| cut.contains(a) != cut.contains(b)).collect();
                self.cut = Some(cut);
                for (a, b) in cross {
                    self.disconnect(a, b);
                }
            }
            Action::Heal => self.cut = None,
            Action::Attack(h) => self.attack(h),
        }
    }

    fn connect(&mut self, from: Peer, to: Peer) {
        let refused =
            |w: &World, at: Peer, other: Peer| w.nodes[at as usize].refused.get(&other).is_some_and(|u| *u > w.now);
        if from == to
            || !self.up(from)
            || !self.up(to)
            || !self.reachable(from, to)
            || self.linked(from, to)
            || refused(self, from, to)
            || refused(self, to, from)
        {
            return;
        }
        self.links.insert((from.min(to), from.max(to)));
        let d = self.delay();
        self.send_engine(from, d, Event::PeerConnected(to));
        self.send_engine(to, d, Event::PeerConnected(from));
    }

    fn disconnect(&mut self, a: Peer, b: Peer) {
        if self.links.remove(&(a.min(b), a.max(b))) {
            self.send_engine(a, Duration::ZERO, Event::PeerDisconnected(b));
            self.send_engine(b, Duration::ZERO, Event::PeerDisconnected(a));
        }
    }

    fn crash(&mut self, n: Peer) {
        let now = self.now;
        let node = &mut self.nodes[n as usize];
        if node.engine.take().is_none() {
            return;
        }
        node.incarnation += 1;
        // What was not yet flushed is lost.
        node.store.retain(|_, (_, durable)| *durable <= now);
        let links: Vec<(Peer, Peer)> = self.links.iter().copied().filter(|(a, b)| *a == n || *b == n).collect();
        for (a, b) in links {
            self.disconnect(a, b);
        }
    }

    /// Sends a gossip message from `from` to `to` over the lossy network.
    fn gossip(&mut self, from: Peer, to: Peer, record: SimRecord) {
        if !self.linked(from, to) || self.rng.chance(self.cfg.loss) {
            return;
        }
        let copies = if self.rng.chance(self.cfg.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let d = self.delay();
            self.deliver_gossip(from, to, record, d);
        }
    }

    fn deliver_gossip(&mut self, from: Peer, to: Peer, record: SimRecord, delay: Duration) {
        if !self.honest(to) {
            return;
        }
        // The seen cache is checked on arrival; scheduling through the engine queue keeps the
        // order of arrival.
        let now = self.now + delay;
        let node = &mut self.nodes[to as usize];
        let id = record.id();
        if node.seen.get(&id).is_some_and(|at| now.since(*at) < SEEN_TTL) {
            return;
        }
        node.seen.insert(id, now);
        self.send_engine(to, delay, Event::Gossip { from, message: record, record });
    }

    fn publish(&mut self, n: Peer) {
        if self.nodes[n as usize].engine.is_none() {
            // Down: the member publishes later.
            let later = self.now + Duration::from_secs(2);
            self.at(later, Action::Publish(n));
            return;
        }
        let seq = self.nodes[n as usize].store.range((n, 0)..=(n, u64::MAX)).next_back().map_or(0, |(k, _)| k.1) + 1;
        self.next_body += 1;
        let record = SimRecord { author: n, seq, body: self.next_body, forged: false };
        self.published.insert(record);
        let now = self.now;
        let node = &mut self.nodes[n as usize];
        node.store.insert((n, seq), (record, now));
        node.seen.insert(record.id(), now);
        self.trace(record.id());
        let peers: Vec<Peer> = self.peers_of(n);
        for p in peers {
            self.gossip(n, p, record);
        }
    }

    fn peers_of(&self, n: Peer) -> Vec<Peer> {
        self.links
            .iter()
            .filter_map(|&(a, b)| {
                if a == n {
                    Some(b)
                } else if b == n {
                    Some(a)
                } else {
                    None
                }
            })
            .collect()
    }

    fn heads(&self, n: Peer) -> Vec<LocalChain> {
        let mut chains: BTreeMap<Peer, Vec<u64>> = BTreeMap::new();
        for (author, seq) in self.nodes[n as usize].store.keys() {
            chains.entry(*author).or_default().push(*seq);
        }
        chains
            .into_iter()
            .map(|(author, seqs)| {
                let max_seq = *seqs.last().expect("non-empty");
                let mut missing = Vec::new();
                let mut expect = 1;
                for s in seqs {
                    if s > expect {
                        missing.push((expect, s - 1));
                    }
                    expect = s + 1;
                }
                LocalChain { author: code(author), max_seq, missing }
            })
            .collect()
    }

    fn summary(&self, n: Peer) -> SyncResponse {
        let heads = self
            .heads(n)
            .into_iter()
            .map(|c| {
                let held = self.nodes[n as usize].store.keys().filter(|(a, _)| code(*a) == c.author).count() as u64;
                AuthorHead { contiguous: c.contiguous(), max_seq: c.max_seq, held, author: c.author }
            })
            .collect();
        SyncResponse::Summary { network: self.cfg.engine.network.clone(), heads }
    }

    /// Sends a sync answer back to the requester over the lossy network.
    fn answer(&mut self, responder: Peer, reply: ReplyTo, response: Reply<SimRecord>) {
        if !self.linked(responder, reply.requester) || self.rng.chance(self.cfg.loss) {
            return; // the requester times out
        }
        let requester = &mut self.nodes[reply.requester as usize];
        if requester.incarnation != reply.requester_incarnation || !requester.awaiting.remove(&reply.request) {
            return;
        }
        let d = self.delay();
        self.send_engine(reply.requester, d, Event::Reply { peer: responder, tag: reply.tag, reply: response });
    }

    fn outputs(&mut self, n: Peer, out: Vec<Output<Sim>>) {
        for o in out {
            self.output(n, o);
        }
    }

    fn output(&mut self, n: Peer, o: Output<Sim>) {
        match o {
            Output::Request { peer, tag, request } => {
                self.next_request += 1;
                let reply = ReplyTo {
                    requester: n,
                    requester_incarnation: self.nodes[n as usize].incarnation,
                    tag,
                    request: self.next_request,
                };
                self.nodes[n as usize].awaiting.insert(reply.request);
                self.at(self.now + REQUEST_TIMEOUT, Action::RequestTimeout { reply, peer });
                if !self.linked(n, peer) || self.rng.chance(self.cfg.loss) {
                    return;
                }
                let d = self.delay();
                if self.honest(peer) {
                    self.send_engine(peer, d, Event::SyncRequest { from: n, request, reply });
                } else {
                    self.at(self.now + d, Action::HostileRequest { hostile: peer, from: n, request, reply });
                }
            }
            Output::ReadHeads { peer, tag } => {
                let chains = self.heads(n);
                self.send_engine(n, Duration::from_millis(1), Event::LocalHeads { peer, tag, chains });
            }
            Output::Serve { peer, reply, serve } => {
                let response = match serve {
                    Serve::Summary => match self.summary(n) {
                        SyncResponse::Summary { network, heads } => Reply::Summary { network, heads },
                        _ => unreachable!("a summary"),
                    },
                    Serve::Fetch(f) => {
                        let held: Vec<SimRecord> = match author_of(&f.author) {
                            Some(a) => self.nodes[n as usize]
                                .store
                                .range((a, f.from)..=(a, f.to))
                                .take(f.limit + 1)
                                .map(|(_, (r, _))| *r)
                                .collect(),
                            None => Vec::new(),
                        };
                        let p = page(held.iter().map(SimRecord::size), f.limit, self.cfg.response_budget);
                        let records: Vec<SimRecord> = held[..p.take].to_vec();
                        let next = records.last().map(|r| r.seq + 1);
                        Reply::Records { records, next, more: p.more }
                    }
                };
                self.answer(n, reply, response);
                self.send_engine(n, Duration::from_millis(1), Event::Served(peer));
            }
            Output::Respond { peer, reply, response } => {
                let response = match response {
                    SyncResponse::Busy { retry_after_ms } => Reply::Busy { retry_after_ms },
                    SyncResponse::Error { message } => Reply::Error { message },
                    _ => Reply::Error { message: "unexpected".into() },
                };
                self.answer(n, reply, response);
                self.send_engine(n, Duration::from_millis(1), Event::Served(peer));
            }
            Output::Ingest { batch, from, records, .. } => {
                self.batches.insert((n, batch), (from, records.clone()));
                self.ingest(n, batch, records);
            }
            Output::Validate { message, from, acceptance } => {
                self.trace(message.id() ^ acceptance as u64);
                if acceptance == Acceptance::Accept {
                    for p in self.peers_of(n) {
                        if p != from {
                            self.gossip(n, p, message);
                        }
                    }
                }
            }
            Output::Ban { peer, until } => {
                self.report.bans.insert((n, peer));
                self.nodes[n as usize].refused.insert(peer, until);
                self.disconnect(n, peer);
            }
            Output::Unban(peer) => {
                self.nodes[n as usize].refused.remove(&peer);
            }
            Output::Dial(peer) => {
                let d = self.delay();
                self.at(self.now + d, Action::Connect { from: n, to: peer });
            }
            Output::SetTimer { at, timer } => {
                let incarnation = self.nodes[n as usize].incarnation;
                self.at(at, Action::Engine { node: n, incarnation, event: Event::Timer(timer) });
            }
            Output::SyncDone { result, .. } => {
                if result.is_ok() {
                    self.report.rounds.0 += 1;
                } else {
                    self.report.rounds.1 += 1;
                }
            }
            Output::Penalised { .. } | Output::ServeRefused { .. } | Output::Lag { .. } => {}
        }
    }

    fn ingest(&mut self, n: Peer, batch: BatchId, records: Vec<SimRecord>) {
        let d = Duration::from_millis(self.rng.range(1, 5));
        if self.rng.chance(self.cfg.store_failure) {
            self.send_engine(n, d, Event::Ingested { batch, outcomes: Err(StoreFailed) });
            return;
        }
        let durable = self.now + FLUSH_DELAY;
        let node = &mut self.nodes[n as usize];
        let outcomes = records
            .iter()
            .map(|r| {
                if r.forged || (r.author as usize) >= self.cfg.nodes {
                    return Outcome::Invalid;
                }
                match node.store.get(&(r.author, r.seq)) {
                    Some((held, _)) if held == r => Outcome::Duplicate,
                    Some(_) => {
                        node.evidence.insert(*r);
                        Outcome::Equivocation
                    }
                    None => {
                        node.store.insert((r.author, r.seq), (*r, durable));
                        Outcome::New
                    }
                }
            })
            .collect();
        self.send_engine(n, d, Event::Ingested { batch, outcomes: Ok(outcomes) });
    }

    // --- hostile peers -----------------------------------------------------------------

    fn forged(&mut self, claimed_author: Peer, seq: u64) -> SimRecord {
        self.next_body += 1;
        SimRecord { author: claimed_author, seq, body: self.next_body, forged: true }
    }

    /// Notes the offences an event delivered to `node` carries, from what the event holds
    /// (not from what the engine makes of it), and which of them must end in a ban: two
    /// invalid gossip records within 95 s, one invalid record served by sync, or a sync flood
    /// of 160 requests within a second (at most the 100 of the burst are admitted, and every
    /// refusal costs 2 of the 100 points).
    fn observe(&mut self, node: Peer, incarnation: u32, event: &Event<Sim>) {
        let note = |w: &mut World, hostile: Peer, kind: u8, window: Duration, count: usize| {
            let now = w.now;
            let times = w.offences.entry((node, incarnation, hostile, kind)).or_default();
            times.push(now);
            if times.iter().filter(|t| now.since(**t) <= window).count() >= count {
                w.must_ban.insert((node, hostile));
            }
        };
        match event {
            Event::Gossip { from, record, .. } => {
                self.senders.insert((node, *record), *from);
            }
            Event::SyncRequest { from, .. } if !self.honest(*from) => note(self, *from, 0, Duration::from_secs(1), 160),
            Event::Ingested { batch, outcomes: Ok(outcomes) } => {
                let Some((from, records)) = self.batches.remove(&(node, *batch)) else { return };
                for (r, o) in records.iter().zip(outcomes) {
                    if *o != Outcome::Invalid {
                        continue;
                    }
                    match from {
                        Some(peer) => note(self, peer, 1, Duration::ZERO, 1),
                        None => {
                            if let Some(peer) = self.senders.get(&(node, *r)).copied() {
                                note(self, peer, 2, Duration::from_secs(95), 2);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn attack(&mut self, h: Peer) {
        let targets = self.peers_of(h);
        if targets.is_empty() {
            // Banned everywhere or cut off: try to connect again.
            for to in 0..self.cfg.nodes as Peer {
                self.at(self.now + Duration::from_millis(10), Action::Connect { from: h, to });
            }
            return;
        }
        let target = targets[self.rng.range(0, targets.len() as u64 - 1) as usize];
        let victim = self.rng.range(0, self.cfg.nodes as u64 - 1) as Peer;
        match self.kind(h) {
            Hostility::ForgesGossip => {
                // Two forged records at once, claiming an honest author (and one its own):
                // attacks gossip delivers reliably, since an attacker can always resend.
                let seq = self.rng.range(1, 50);
                let a = self.forged(victim, seq);
                let b = self.forged(h, 1);
                self.deliver_gossip(h, target, a, Duration::from_millis(1));
                self.deliver_gossip(h, target, b, Duration::from_millis(2));
            }
            Hostility::FloodsSync => {
                // A flood of summary requests, far over the serve budget.
                for i in 0..300u64 {
                    self.next_request += 1;
                    let reply =
                        ReplyTo { requester: h, requester_incarnation: 0, tag: Tag(0), request: self.next_request };
                    let event = Event::SyncRequest { from: h, request: SyncRequest::Summary, reply };
                    self.send_engine(target, Duration::from_micros(i), event);
                }
            }
            Hostility::LiesInSync => {}
            Hostility::Replays => {
                // Replays of records the target has held for longer than the seen cache: a
                // nuisance that costs a point each, not a ban by itself.
                let old: Vec<SimRecord> = self.nodes[target as usize]
                    .store
                    .values()
                    .filter(|(_, at)| self.now.since(*at) > SEEN_TTL * 2)
                    .map(|(r, _)| *r)
                    .take(20)
                    .collect();
                for (i, r) in old.into_iter().enumerate() {
                    self.deliver_gossip(h, target, r, Duration::from_millis(i as u64 + 1));
                }
            }
        }
    }

    /// What hostile peer `h` does: one kind of attack each, so that every kind is exercised
    /// (a peer that lied in sync would be banned before it could attack otherwise).
    fn kind(&self, h: Peer) -> Hostility {
        [Hostility::ForgesGossip, Hostility::FloodsSync, Hostility::LiesInSync, Hostility::Replays]
            [(h as usize + self.first_hostility) % 4]
    }

    /// A lying hostile peer answers a summary with heads it does not hold and a fetch with
    /// forged records: serving an invalid record by sync must ban it. The others answer that
    /// they hold nothing.
    fn hostile_answer(&mut self, h: Peer, from: Peer, request: SyncRequest, reply: ReplyTo) {
        let lies = self.kind(h) == Hostility::LiesInSync;
        let response = match request {
            SyncRequest::Summary if !lies => {
                Reply::Summary { network: self.cfg.engine.network.clone(), heads: Vec::new() }
            }
            SyncRequest::Fetch { .. } if !lies => Reply::Records { records: Vec::new(), next: None, more: false },
            SyncRequest::Summary => {
                let victim = self.rng.range(0, self.cfg.nodes as u64 - 1) as Peer;
                let held = self.nodes[from as usize].store.range((victim, 0)..=(victim, u64::MAX)).count() as u64;
                let heads =
                    vec![AuthorHead { author: code(victim), contiguous: held + 3, max_seq: held + 3, held: held + 3 }];
                Reply::Summary { network: self.cfg.engine.network.clone(), heads }
            }
            SyncRequest::Fetch { author, from: first, .. } => {
                let Some(victim) = author_of(&author) else { return };
                let records: Vec<SimRecord> = (0..2).map(|i| self.forged(victim, first + i)).collect();
                let next = records.last().map(|r| r.seq + 1);
                Reply::Records { records, next, more: false }
            }
        };
        // Hostile answers travel reliably: what is tested is the judgement, not the loss.
        let requester = &mut self.nodes[reply.requester as usize];
        if requester.incarnation == reply.requester_incarnation && requester.awaiting.remove(&reply.request) {
            self.send_engine(
                reply.requester,
                Duration::from_millis(1),
                Event::Reply { peer: h, tag: reply.tag, reply: response },
            );
        }
    }

    // --- invariants --------------------------------------------------------------------

    fn check(&mut self) {
        let valid: BTreeSet<(Peer, u64, u64)> = self.published.iter().map(|r| (r.author, r.seq, r.body)).collect();
        for n in 0..self.cfg.nodes as Peer {
            let node = &self.nodes[n as usize];
            if node.engine.is_none() {
                self.report.problems.push(format!("node {n} is down at the end"));
                continue;
            }
            let held: BTreeSet<(Peer, u64, u64)> =
                node.store.values().map(|(r, _)| (r.author, r.seq, r.body)).collect();
            if let Some(bad) = node.store.values().find(|(r, _)| r.forged) {
                self.report.problems.push(format!("node {n} stored a forged record {:?}", bad.0));
            }
            let missing: Vec<_> = valid.difference(&held).collect();
            if !missing.is_empty() {
                self.report.problems.push(format!(
                    "node {n} lacks {} valid records, first {:?}",
                    missing.len(),
                    missing[0]
                ));
            }
            if !node.evidence.is_empty() {
                self.report.problems.push(format!("node {n} holds equivocation evidence, but nobody equivocated"));
            }
        }
        for (by, on) in &self.report.bans {
            if self.honest(*on) {
                self.report.problems.push(format!("honest node {by} banned honest node {on}"));
            }
        }
        for (target, hostile) in &self.must_ban {
            if !self.report.bans.contains(&(*target, *hostile)) {
                self.report.problems.push(format!("node {target} did not ban hostile peer {hostile} after its attack"));
            }
        }
    }
}
