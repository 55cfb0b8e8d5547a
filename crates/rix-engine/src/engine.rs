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

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::time::Duration;

use crate::dial::Redials;
use crate::hold::ForwardHold;
use crate::scoring::{Offence, Penalty, Scoreboard, ScoringConfig};
use crate::serve::{Fetch, Refusal, ServeBudgets, ServeLimits, check_fetch};
use crate::sync::{FetchRange, LocalChain, Reply, SyncFailure, plan};
use crate::verdict::{Acceptance, Outcome, Source, store_failed, verdict};
use crate::wire::{AuthorHead, SyncRequest, SyncResponse};
use crate::{Rng, Time};

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
    pub members: BTreeSet<String>,
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
            members: BTreeSet::new(),
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

/// Something that happened.
#[derive(Debug)]
pub enum Event<T: Types> {
    /// A connection to `peer` is established.
    PeerConnected(T::Peer),
    /// The last connection to `peer` closed.
    PeerDisconnected(T::Peer),
    /// `peer` has known addresses: keep a connection to it.
    Dialable(T::Peer),
    /// A record arrived by gossip.
    Gossip {
        /// The peer that sent it.
        from: T::Peer,
        /// Its handle for the verdict.
        message: T::Message,
        /// The record.
        record: T::Record,
    },
    /// A peer asked something.
    SyncRequest {
        /// Who.
        from: T::Peer,
        /// What.
        request: SyncRequest,
        /// Where to answer.
        reply: T::Reply,
    },
    /// The answer to a [`Event::SyncRequest`] has been written (or its stream failed): every
    /// request is reported once, whether served or refused.
    Served(T::Peer),
    /// The answer to an [`Output::Request`].
    Reply {
        /// From whom.
        peer: T::Peer,
        /// The session it belongs to.
        tag: Tag,
        /// The answer.
        reply: Reply<T::Record>,
    },
    /// What the replica holds, for an [`Output::ReadHeads`].
    LocalHeads {
        /// The session's peer.
        peer: T::Peer,
        /// The session.
        tag: Tag,
        /// One entry per author held.
        chains: Vec<LocalChain>,
    },
    /// An [`Output::Ingest`] is done: one outcome per record, in order, or the replica failed.
    Ingested {
        /// The batch.
        batch: BatchId,
        /// The outcomes.
        outcomes: Result<Vec<Outcome>, StoreFailed>,
    },
    /// A timer set by [`Output::SetTimer`] is due.
    Timer(Timer<T::Peer>),
}

/// The replica could not store a batch (this node's fault, not the sender's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFailed;

/// A timer the engine asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Timer<P> {
    /// Start a sync round with every connected peer.
    SyncRound,
    /// Resend a session's request to a peer that answered busy.
    Retry {
        /// The peer.
        peer: P,
        /// The session.
        tag: Tag,
    },
    /// Release held gossip.
    Hold,
    /// Lift bans that ran out.
    Bans,
    /// Dial peers that are due.
    Redial,
}

/// What to serve, checked and capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serve {
    /// A summary of every chain held, for this node's network.
    Summary,
    /// Records of one author, paged with [`crate::serve::page`].
    Fetch(Fetch),
}

/// Something the engine wants done, or reports.
#[derive(Debug)]
pub enum Output<T: Types> {
    /// Send `request` to `peer`; report the answer as [`Event::Reply`] with `tag`.
    Request {
        /// To whom.
        peer: T::Peer,
        /// The session.
        tag: Tag,
        /// What.
        request: SyncRequest,
    },
    /// Read the replica's chain heads; report them as [`Event::LocalHeads`].
    ReadHeads {
        /// The session's peer.
        peer: T::Peer,
        /// The session.
        tag: Tag,
    },
    /// Answer a peer's request from the replica, then report [`Event::Served`].
    Serve {
        /// Who asked.
        peer: T::Peer,
        /// Where to answer.
        reply: T::Reply,
        /// What to answer.
        serve: Serve,
    },
    /// Send this answer (a refusal the engine made itself), then report [`Event::Served`].
    Respond {
        /// Who asked.
        peer: T::Peer,
        /// Where.
        reply: T::Reply,
        /// What.
        response: SyncResponse,
    },
    /// Verify and store these records; report [`Event::Ingested`].
    Ingest {
        /// The batch.
        batch: BatchId,
        /// How they came.
        source: Source,
        /// The peer that sent them, for a sync batch (a gossip batch has many senders).
        from: Option<T::Peer>,
        /// The records.
        records: Vec<T::Record>,
    },
    /// Tell gossipsub what to do with a message.
    Validate {
        /// The message.
        message: T::Message,
        /// Who sent it.
        from: T::Peer,
        /// The verdict.
        acceptance: Acceptance,
    },
    /// Disconnect `peer` and refuse it until `until`.
    Ban {
        /// The peer.
        peer: T::Peer,
        /// Until when.
        until: Time,
    },
    /// `peer`'s ban ran out: admit it again.
    Unban(T::Peer),
    /// Dial `peer`.
    Dial(T::Peer),
    /// Wake the engine with [`Event::Timer`] at `at`.
    SetTimer {
        /// When.
        at: Time,
        /// Which.
        timer: Timer<T::Peer>,
    },
    /// `peer` was penalised (for metrics and logs).
    Penalised {
        /// The peer.
        peer: T::Peer,
        /// What for.
        offence: Offence,
        /// Whether this penalty banned it.
        banned: bool,
    },
    /// A request from `peer` was answered busy (for metrics).
    ServeRefused {
        /// The peer.
        peer: T::Peer,
        /// Why.
        refusal: Refusal,
    },
    /// A sync round with `peer` ended: how many new records it stored, or why it failed.
    SyncDone {
        /// The peer.
        peer: T::Peer,
        /// The result.
        result: Result<u64, SyncFailure>,
    },
    /// How far this node's contiguous prefix of `author`'s chain is behind the highest
    /// sequence number any peer has announced.
    Lag {
        /// The member.
        author: String,
        /// Records behind.
        lag: u64,
    },
}

/// What this node knows of a connected peer's sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSync {
    /// When the last round with it completed.
    pub last_sync: Option<Time>,
    /// New records fetched from it since it connected.
    pub records_fetched: u64,
}

#[derive(Debug)]
enum Phase {
    AwaitSummary,
    AwaitLocal(Vec<AuthorHead>),
    Fetching,
    /// Every range fetched; waiting for the last batch to be stored.
    Draining,
}

#[derive(Debug)]
struct Session<R> {
    tag: Tag,
    phase: Phase,
    ranges: VecDeque<FetchRange>,
    /// The range being fetched, from its next sequence number.
    current: Option<FetchRange>,
    /// The request awaiting an answer (resent after `busy`).
    pending: Option<SyncRequest>,
    busy_since: Option<Time>,
    /// The batch being stored.
    storing: Option<BatchId>,
    /// A batch received while the previous one was still being stored.
    parked: Option<Vec<R>>,
    fetched: u64,
}

#[derive(Debug)]
struct Arrival<T: Types> {
    from: T::Peer,
    message: T::Message,
    record: T::Record,
    arrived: Time,
}

#[derive(Debug)]
enum InFlight<T: Types> {
    Gossip(Vec<(T::Peer, T::Message, Time)>),
    Sync { peer: T::Peer, tag: Tag },
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
            Timer::Retry { peer, tag } => {
                let Some(s) = self.sessions.get(&peer).filter(|s| s.tag == tag) else { return };
                if let Some(request) = s.pending.clone() {
                    self.out.push(Output::Request { peer, tag, request });
                }
            }
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

    // --- gossip ------------------------------------------------------------------------

    fn on_gossip(&mut self, from: T::Peer, message: T::Message, record: T::Record, now: Time) {
        if self.scores.is_banned(&from, now) {
            self.out.push(Output::Validate { message, from, acceptance: Acceptance::Ignore });
            return;
        }
        self.gossip.push_back(Arrival { from, message, record, arrived: now });
        self.dispatch_gossip(now);
    }

    /// Hands what queued to the replica as one batch, unless a batch is being stored: a burst
    /// then costs one verification batch and one flush instead of one per record, while a lone
    /// record goes at once.
    fn dispatch_gossip(&mut self, now: Time) {
        if self.gossip_batch.is_some() {
            return;
        }
        let mut records = Vec::new();
        let mut senders = Vec::new();
        while records.len() < self.config.gossip_batch.max(1) {
            let Some(a) = self.gossip.pop_front() else { break };
            // What a banned peer still had queued is dropped unread: a flood must not keep
            // the node busy after its sender is gone.
            if self.scores.is_banned(&a.from, now) {
                self.out.push(Output::Validate { message: a.message, from: a.from, acceptance: Acceptance::Ignore });
                continue;
            }
            records.push(a.record);
            senders.push((a.from, a.message, a.arrived));
        }
        if records.is_empty() {
            return;
        }
        let batch = self.new_batch();
        self.gossip_batch = Some(batch);
        self.batches.insert(batch, InFlight::Gossip(senders));
        self.out.push(Output::Ingest { batch, source: Source::Gossip, from: None, records });
    }

    fn new_batch(&mut self) -> BatchId {
        self.next_batch += 1;
        BatchId(self.next_batch)
    }

    fn on_ingested(&mut self, batch: BatchId, outcomes: Result<Vec<Outcome>, StoreFailed>, now: Time) {
        match self.batches.remove(&batch) {
            Some(InFlight::Gossip(senders)) => {
                self.gossip_batch = None;
                self.judge_gossip(senders, outcomes, now);
                self.dispatch_gossip(now);
            }
            Some(InFlight::Sync { peer, tag }) => self.judge_sync(peer, tag, batch, outcomes, now),
            None => {}
        }
    }

    fn judge_gossip(
        &mut self,
        senders: Vec<(T::Peer, T::Message, Time)>,
        outcomes: Result<Vec<Outcome>, StoreFailed>,
        now: Time,
    ) {
        let outcomes = match outcomes {
            Ok(o) if o.len() == senders.len() => o,
            _ => {
                let acceptance = store_failed().acceptance;
                for (from, message, _) in senders {
                    self.out.push(Output::Validate { message, from, acceptance });
                }
                return;
            }
        };
        let mut held = false;
        for ((from, message, arrived), outcome) in senders.into_iter().zip(outcomes) {
            let v = verdict(Source::Gossip, outcome);
            if let Some(offence) = v.offence {
                self.penalise(&from, offence, now);
            }
            if v.acceptance == Acceptance::Accept {
                match self.hold.push((message, from), arrived, now) {
                    Some((message, from)) => {
                        self.out.push(Output::Validate { message, from, acceptance: v.acceptance })
                    }
                    None => held = true,
                }
            } else {
                self.out.push(Output::Validate { message, from, acceptance: v.acceptance });
            }
        }
        if held && let Some(at) = self.hold.next_release() {
            self.out.push(Output::SetTimer { at, timer: Timer::Hold });
        }
    }

    fn release_held(&mut self, now: Time) {
        for (message, from) in self.hold.release(now) {
            self.out.push(Output::Validate { message, from, acceptance: Acceptance::Accept });
        }
        if let Some(at) = self.hold.next_release() {
            self.out.push(Output::SetTimer { at, timer: Timer::Hold });
        }
    }

    // --- serving -----------------------------------------------------------------------

    fn on_sync_request(&mut self, from: T::Peer, request: SyncRequest, reply: T::Reply, now: Time) {
        let admitted = self.serving.admit(&from, now);
        if self.scores.is_banned(&from, now) {
            let response = SyncResponse::Error { message: "banned for misbehaviour".into() };
            self.out.push(Output::Respond { peer: from, reply, response });
            return;
        }
        if let Err(refusal) = admitted {
            let retry_after_ms = self.serving.retry_after().as_millis() as u64;
            let response = SyncResponse::Busy { retry_after_ms };
            self.out.push(Output::Respond { peer: from.clone(), reply, response });
            self.out.push(Output::ServeRefused { peer: from.clone(), refusal });
            self.penalise(&from, Offence::SyncOverLimit, now);
            return;
        }
        let serve = match check_fetch(&request, self.config.batch_records) {
            None => Serve::Summary,
            Some(Ok(fetch)) => Serve::Fetch(fetch),
            Some(Err(bad)) => {
                let response = SyncResponse::Error { message: bad.to_string() };
                self.out.push(Output::Respond { peer: from.clone(), reply, response });
                self.penalise(&from, Offence::SyncOverLimit, now);
                return;
            }
        };
        self.out.push(Output::Serve { peer: from, reply, serve });
    }

    // --- sync sessions -----------------------------------------------------------------

    fn start_session(&mut self, peer: T::Peer, now: Time) {
        if self.sessions.contains_key(&peer) || !self.connected.contains_key(&peer) || self.scores.is_banned(&peer, now)
        {
            return;
        }
        self.next_tag += 1;
        let tag = Tag(self.next_tag);
        let session = Session {
            tag,
            phase: Phase::AwaitSummary,
            ranges: VecDeque::new(),
            current: None,
            pending: Some(SyncRequest::Summary),
            busy_since: None,
            storing: None,
            parked: None,
            fetched: 0,
        };
        self.sessions.insert(peer.clone(), session);
        self.out.push(Output::Request { peer, tag, request: SyncRequest::Summary });
    }

    fn fail_session(&mut self, peer: &T::Peer, failure: SyncFailure) {
        if self.sessions.remove(peer).is_some() {
            self.out.push(Output::SyncDone { peer: peer.clone(), result: Err(failure) });
        }
    }

    fn finish_session(&mut self, peer: &T::Peer, now: Time) {
        if let Some(s) = self.sessions.remove(peer) {
            if let Some(p) = self.connected.get_mut(peer) {
                p.last_sync = Some(now);
                p.records_fetched += s.fetched;
            }
            self.out.push(Output::SyncDone { peer: peer.clone(), result: Ok(s.fetched) });
        }
    }

    fn on_reply(&mut self, peer: T::Peer, tag: Tag, reply: Reply<T::Record>, now: Time) {
        let patience = self.config.patience;
        let network = self.config.network.clone();
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.tag == tag) else { return };
        if let Reply::Busy { retry_after_ms } = reply {
            let since = *s.busy_since.get_or_insert(now);
            if now.since(since) >= patience {
                return self.fail_session(&peer, SyncFailure::StayedBusy);
            }
            let at = now + Duration::from_millis(retry_after_ms.clamp(10, 5_000));
            self.out.push(Output::SetTimer { at, timer: Timer::Retry { peer, tag } });
            return;
        }
        s.busy_since = None;
        s.pending = None;
        match (reply, &s.phase) {
            (Reply::Failed { reason }, _) => self.fail_session(&peer, SyncFailure::Transport(reason)),
            (Reply::Error { message }, _) => self.fail_session(&peer, SyncFailure::Refused(message)),
            (Reply::Summary { network: theirs, .. }, Phase::AwaitSummary) if theirs != network => {
                self.fail_session(&peer, SyncFailure::WrongNetwork(theirs))
            }
            (Reply::Summary { heads, .. }, Phase::AwaitSummary) => {
                s.phase = Phase::AwaitLocal(heads);
                self.out.push(Output::ReadHeads { peer, tag });
            }
            (Reply::Records { records, next, more }, Phase::Fetching) => {
                self.on_records(peer, tag, records, next, more, now);
            }
            _ => self.fail_session(&peer, SyncFailure::Unexpected),
        }
    }

    fn on_local_heads(&mut self, peer: T::Peer, tag: Tag, chains: &[LocalChain], now: Time) {
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.tag == tag) else { return };
        let Phase::AwaitLocal(heads) = std::mem::replace(&mut s.phase, Phase::Fetching) else {
            return self.fail_session(&peer, SyncFailure::Unexpected);
        };
        let members = &self.config.members;
        for h in heads.iter().filter(|h| members.contains(&h.author)) {
            let max = self.remote_max.entry(h.author.clone()).or_default();
            *max = (*max).max(h.max_seq);
        }
        for c in chains {
            let lag = self.remote_max.get(&c.author).copied().unwrap_or(0).saturating_sub(c.contiguous());
            self.out.push(Output::Lag { author: c.author.clone(), lag });
        }
        let ranges = plan(chains, &heads, |a| members.contains(a));
        let s = self.sessions.get_mut(&peer).expect("checked");
        s.ranges = ranges.into();
        self.fetch_next(peer, now);
    }

    /// Asks for the next page of the current range, or the next range; with nothing left,
    /// finishes once the last batch is stored.
    fn fetch_next(&mut self, peer: T::Peer, now: Time) {
        let batch = self.config.batch_records.max(1);
        let Some(s) = self.sessions.get_mut(&peer) else { return };
        if s.current.as_ref().is_none_or(|r| r.from > r.to) {
            s.current = s.ranges.pop_front();
        }
        match &s.current {
            Some(r) => {
                let request = SyncRequest::Fetch { author: r.author.clone(), from: r.from, to: r.to, limit: batch };
                s.pending = Some(request.clone());
                let tag = s.tag;
                self.out.push(Output::Request { peer, tag, request });
            }
            None if s.storing.is_none() => self.finish_session(&peer, now),
            None => s.phase = Phase::Draining,
        }
    }

    fn on_records(
        &mut self,
        peer: T::Peer,
        tag: Tag,
        records: Vec<T::Record>,
        next: Option<u64>,
        more: bool,
        now: Time,
    ) {
        let Some(s) = self.sessions.get_mut(&peer) else { return };
        let range = s.current.as_mut().expect("fetching has a current range");
        // Go on within this range only if the peer says it has more and the page ended where
        // the next one can start; otherwise the range is done (what is still missing is asked
        // again next round, maybe of another peer).
        match next {
            Some(n) if more && !records.is_empty() && n > range.from => range.from = n,
            _ => range.from = range.to.saturating_add(1),
        }
        if records.is_empty() {
            return self.fetch_next(peer, now);
        }
        if s.storing.is_some() {
            s.parked = Some(records);
            return;
        }
        self.store_sync_batch(peer, tag, records, now);
    }

    fn store_sync_batch(&mut self, peer: T::Peer, tag: Tag, records: Vec<T::Record>, now: Time) {
        let batch = self.new_batch();
        self.batches.insert(batch, InFlight::Sync { peer: peer.clone(), tag });
        self.out.push(Output::Ingest { batch, source: Source::Sync, from: Some(peer.clone()), records });
        if let Some(s) = self.sessions.get_mut(&peer) {
            s.storing = Some(batch);
        }
        // The pipeline: while this batch is stored, the next is fetched.
        self.fetch_next(peer, now);
    }

    fn judge_sync(
        &mut self,
        peer: T::Peer,
        tag: Tag,
        batch: BatchId,
        outcomes: Result<Vec<Outcome>, StoreFailed>,
        now: Time,
    ) {
        let (new, invalid) = match &outcomes {
            Ok(o) => (
                o.iter().filter(|o| **o == Outcome::New).count() as u64,
                o.iter().filter(|o| **o == Outcome::Invalid).count(),
            ),
            Err(_) => (0, 0),
        };
        // The penalty stands even if the session already ended: the peer served it.
        if invalid > 0 {
            self.penalise(&peer, Offence::InvalidSync, now);
        }
        let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.tag == tag && s.storing == Some(batch)) else {
            return;
        };
        s.storing = None;
        s.fetched += new;
        if outcomes.is_err() {
            return self.fail_session(&peer, SyncFailure::StoreFailed);
        }
        if invalid > 0 {
            return self.fail_session(&peer, SyncFailure::ServedInvalid(invalid));
        }
        if let Some(records) = s.parked.take() {
            return self.store_sync_batch(peer, tag, records, now);
        }
        if matches!(s.phase, Phase::Draining) {
            self.finish_session(&peer, now);
        }
    }
}
