//! The engine: one node's protocol state, driven by [`Engine::handle`]. It owns the sync
//! sessions (summary, plan, paged fetch, `more`, busy retries), the responder's serve budget,
//! the scoreboard and its bans, the redial schedule, gossip batching and the forward hold.
//! Everything it wants done (send a request, store a batch, report a gossip verdict, ban a
//! peer, wake it at a time) comes out as an [`Output`]; everything that happens comes in as an
//! [`Event`] with the time it happened.
//!
//! ```text
//!  Gossip ─► queue ─► Ingest(batch) ┄┄ Ingested ─► verdict ─► hold ─► Validate(Accept)
//!                                                     └─► Penalised / Ban
//!  PeerConnected / SyncRound ─► Request(Summary) ┄┄ Reply ─► ReadHeads ┄┄ LocalHeads
//!      ─► plan ─► Request(Fetch) ┄┄ Reply(Records) ─► Ingest ┄┄ Ingested ─► next Fetch … SyncDone
//!  SyncRequest ─► serve budget ─► Serve | Respond(Busy) ┄┄ Served
//! ```
//! (`┄┄` is the driver doing IO and reporting back.) One session per peer; at most two of its
//! batches in memory: one being stored while the next is fetched.

mod events;
mod gossip;
mod serving;
mod session;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::time::Duration;

use crate::dial::Redials;
use crate::hold::ForwardHold;
use crate::scoring::{Offence, Penalty, Scoreboard, ScoringConfig};
use crate::serve::{ServeBudgets, ServeLimits};
use crate::sync::SyncFailure;
use crate::{Rng, Time};

pub use events::{CharterOutcome, Event, Output, PeerSync, Serve, StoreFailed, Timer};
use gossip::{Arrival, InFlight};
use session::Session;

/// The types a driver plugs in: tests use small integers and plain structs.
pub trait Types {
    /// A peer's identity.
    type Peer: Clone + Eq + Hash + Ord + Debug;
    /// A record as received, not yet verified.
    type Record: Clone + Debug;
    /// A gossip message's handle, to report its verdict.
    type Message: Clone + Debug;
    /// Where to send the answer to a sync request.
    type Reply: Debug;
}

/// Identifies one sync session: replies to an older session of the same peer are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u64);

/// Identifies one batch handed out for verifying and storing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(pub u64);

/// The engine's settings, from the node's config.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The network's name: a summary from another network ends the round.
    pub network: String,
    /// The member codes whose chains are synced.
    pub members: std::collections::BTreeSet<String>,
    /// About how often to sync with every connected peer.
    pub sync_interval: Duration,
    /// Most records asked for in one fetch.
    pub batch_records: u32,
    /// How long to keep retrying a busy peer.
    pub patience: Duration,
    /// How long a valid gossip record waits before gossipsub may relay it.
    pub forward_hold: Duration,
    /// Most gossip records verified and stored together.
    pub gossip_batch: usize,
    /// Misbehaviour and bans.
    pub scoring: ScoringConfig,
    /// What one peer may ask of this node.
    pub serve: ServeLimits,
    /// First redial delay.
    pub redial_min: Duration,
    /// Longest redial delay.
    pub redial_max: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            network: "rix".into(),
            members: std::collections::BTreeSet::new(),
            sync_interval: Duration::from_secs(30),
            batch_records: 512,
            patience: Duration::from_secs(30),
            forward_hold: Duration::from_millis(15),
            gossip_batch: 256,
            scoring: ScoringConfig::default(),
            serve: ServeLimits::default(),
            redial_min: Duration::from_secs(1),
            redial_max: Duration::from_secs(60),
        }
    }
}

/// One node's protocol state. See the module documentation.
#[derive(Debug)]
pub struct Engine<T: Types> {
    local: T::Peer,
    config: EngineConfig,
    rng: Rng,
    connected: BTreeMap<T::Peer, PeerSync>,
    sessions: HashMap<T::Peer, Session<T::Record>>,
    next_tag: u64,
    next_batch: u64,
    scores: Scoreboard<T::Peer>,
    serving: ServeBudgets<T::Peer>,
    redials: Redials<T::Peer>,
    hold: ForwardHold<(T::Message, T::Peer)>,
    gossip: VecDeque<Arrival<T>>,
    gossip_batch: Option<BatchId>,
    batches: HashMap<BatchId, InFlight<T>>,
    remote_max: BTreeMap<String, u64>,
    /// What this node holds of the charter chain (none until the driver says).
    charter: Option<crate::wire::CharterSummary>,
    /// Each connected peer's charter digest, from its last summary.
    peer_charters: HashMap<T::Peer, String>,
    out: Vec<Output<T>>,
}

impl<T: Types> Engine<T> {
    /// A node `local` with `config`, its jitter drawn from `rng`, started at `now`. The
    /// outputs are the first timers.
    pub fn new(local: T::Peer, config: EngineConfig, rng: Rng, now: Time) -> (Self, Vec<Output<T>>) {
        let mut engine = Self {
            local,
            scores: Scoreboard::new(config.scoring),
            serving: ServeBudgets::new(config.serve),
            redials: Redials::new(config.redial_min, config.redial_max),
            hold: ForwardHold::new(config.forward_hold),
            config,
            rng,
            connected: BTreeMap::new(),
            sessions: HashMap::new(),
            next_tag: 0,
            next_batch: 0,
            gossip: VecDeque::new(),
            gossip_batch: None,
            batches: HashMap::new(),
            remote_max: BTreeMap::new(),
            charter: None,
            peer_charters: HashMap::new(),
            out: Vec::new(),
        };
        engine.schedule_sync_round(now);
        let out = std::mem::take(&mut engine.out);
        (engine, out)
    }

    /// Handles one event at `now`; returns what to do.
    pub fn handle(&mut self, event: Event<T>, now: Time) -> Vec<Output<T>> {
        match event {
            Event::PeerConnected(peer) => self.on_connected(peer, now),
            Event::PeerDisconnected(peer) => self.on_disconnected(peer, now),
            Event::Dialable(peer) => {
                if peer != self.local {
                    let local = self.local.clone();
                    self.redials.add(&local, peer, now, &mut self.rng);
                    self.schedule_redial();
                }
            }
            Event::Gossip { from, message, record } => self.on_gossip(from, message, record, now),
            Event::SyncRequest { from, request, reply } => self.on_sync_request(from, request, reply, now),
            Event::Served(peer) => self.serving.finished(&peer),
            Event::Reply { peer, tag, reply } => self.on_reply(peer, tag, reply, now),
            Event::LocalHeads { peer, tag, chains } => self.on_local_heads(peer, tag, &chains, now),
            Event::Ingested { batch, outcomes } => self.on_ingested(batch, outcomes, now),
            Event::CharterGossip { from, message, item } => self.on_charter_gossip(from, message, item, now),
            Event::CharterIngested { batch, outcome } => self.on_charter_ingested(batch, outcome, now),
            Event::Charter { summary, members } => {
                self.charter = Some(summary);
                self.config.members = members;
            }
            Event::Timer(timer) => self.on_timer(timer, now),
        }
        std::mem::take(&mut self.out)
    }

    /// This node.
    pub fn local(&self) -> &T::Peer {
        &self.local
    }

    /// The connected peers and their sync state.
    pub fn peers(&self) -> &BTreeMap<T::Peer, PeerSync> {
        &self.connected
    }

    /// Whether a sync round with `peer` is running.
    pub fn syncing(&self, peer: &T::Peer) -> bool {
        self.sessions.contains_key(peer)
    }

    /// Whether `peer` is banned at `now`.
    pub fn is_banned(&self, peer: &T::Peer, now: Time) -> bool {
        self.scores.is_banned(peer, now)
    }

    /// The scoreboard.
    pub fn scores(&self) -> &Scoreboard<T::Peer> {
        &self.scores
    }

    /// The highest sequence number any peer has announced, per member.
    pub fn remote_max(&self) -> &BTreeMap<String, u64> {
        &self.remote_max
    }

    /// Whether this node's charter chain is the one every connected peer said it holds: only
    /// then is a gossip record by a non-member, or with a key not the member's, held against
    /// its sender ([`crate::Outcome::Unjudged`]).
    pub fn charter_settled(&self) -> bool {
        let ours = self.charter.as_ref().map(|c| &c.digest);
        self.peer_charters.values().all(|d| Some(d) == ours)
    }

    /// Whether `peer`'s last summary named this node's charter digest.
    pub(super) fn same_charter(&self, peer: &T::Peer) -> bool {
        self.peer_charters.get(peer) == self.charter.as_ref().map(|c| &c.digest)
    }

    /// Whether nothing is queued, held or in flight (the simulator's quiescence test).
    pub fn is_idle(&self) -> bool {
        self.sessions.is_empty() && self.gossip.is_empty() && self.batches.is_empty() && self.hold.is_empty()
    }

    // --- connections -------------------------------------------------------------------

    fn on_connected(&mut self, peer: T::Peer, now: Time) {
        if self.scores.is_banned(&peer, now) {
            // The network layer refuses banned peers; one that slipped through is sent away.
            let until = now + self.config.scoring.ban;
            self.out.push(Output::Ban { peer, until });
            return;
        }
        self.redials.connected(&peer);
        self.connected.entry(peer.clone()).or_default();
        self.start_session(peer, now);
    }

    fn on_disconnected(&mut self, peer: T::Peer, now: Time) {
        if self.connected.remove(&peer).is_none() {
            return;
        }
        self.serving.forget(&peer);
        self.peer_charters.remove(&peer);
        self.fail_session(&peer, SyncFailure::Disconnected);
        let local = self.local.clone();
        self.redials.disconnected(&local, &peer, now, &mut self.rng);
        self.schedule_redial();
    }

    fn schedule_redial(&mut self) {
        if let Some(at) = self.redials.next_due() {
            self.out.push(Output::SetTimer { at, timer: Timer::Redial });
        }
    }

    fn schedule_sync_round(&mut self, now: Time) {
        let at = now + self.rng.jittered(self.config.sync_interval);
        self.out.push(Output::SetTimer { at, timer: Timer::SyncRound });
    }

    fn on_timer(&mut self, timer: Timer<T::Peer>, now: Time) {
        match timer {
            Timer::SyncRound => {
                let peers: Vec<T::Peer> = self.connected.keys().cloned().collect();
                for peer in peers {
                    self.start_session(peer, now);
                }
                self.schedule_sync_round(now);
            }
            Timer::Retry { peer, tag } => self.retry(peer, tag),
            Timer::Hold => self.release_held(now),
            Timer::Bans => {
                for peer in self.scores.expire(now) {
                    self.out.push(Output::Unban(peer));
                }
                if let Some(at) = self.scores.next_expiry() {
                    self.out.push(Output::SetTimer { at, timer: Timer::Bans });
                }
                // A peer whose ban ran out is dialled again.
                self.on_timer(Timer::Redial, now);
            }
            Timer::Redial => {
                let scores = &self.scores;
                for peer in self.redials.due(now, &mut self.rng, |p| scores.is_banned(p, now)) {
                    self.out.push(Output::Dial(peer));
                }
                self.schedule_redial();
            }
        }
    }

    // --- scoring -----------------------------------------------------------------------

    fn penalise(&mut self, peer: &T::Peer, offence: Offence, now: Time) {
        let penalty = self.scores.penalise(peer, offence, now);
        if penalty == Penalty::AlreadyBanned {
            return;
        }
        let banned = matches!(penalty, Penalty::Banned(_));
        self.out.push(Output::Penalised { peer: peer.clone(), offence, banned });
        if let Penalty::Banned(until) = penalty {
            self.out.push(Output::Ban { peer: peer.clone(), until });
            self.out.push(Output::SetTimer { at: until, timer: Timer::Bans });
            if self.connected.remove(peer).is_some() {
                self.serving.forget(peer);
                let local = self.local.clone();
                self.redials.disconnected(&local, peer, now, &mut self.rng);
                self.redials.postpone(peer, until);
            }
            self.fail_session(peer, SyncFailure::Disconnected);
        }
    }
}
