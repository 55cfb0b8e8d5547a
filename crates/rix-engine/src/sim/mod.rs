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

mod check;
mod hostile;
mod world;

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
}
