//! The node's actor: the one task that owns the protocol state. It feeds the
//! [`rix_engine::Engine`] every network event, IO completion and due timer, with the time it
//! happened, and carries out the engine's outputs: requests and answers through the
//! [`NetworkHandle`](rix_net::NetworkHandle), verification and storage on the blocking pool
//! ([`Node::accept`], which also feeds the indexer), bans, dials, gossip verdicts, metrics.
//!
//! ```text
//!  NetworkEvent ──► Event ─┐                      ┌─► Request / Respond / Validate / Ban / Dial ─► network
//!  IO completion ──► Event ─┼─► Engine::handle ──►├─► Ingest / ReadHeads / Serve ─► blocking pool ─┐
//!  due timer ─────► Event ─┘        (now)          └─► SetTimer ─► timers          completion ◄───┘
//! ```
//! Nothing here decides policy: paging, `more`, busy retries, the serve budget, misbehaviour
//! and bans, redial back-off and the forward hold are the engine's, tested there and in its
//! simulator. What stays here is translation and IO.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rix_engine::sync::{LocalChain, Reply};
use rix_engine::{
    Acceptance, CharterOutcome, Clock, Engine, EngineConfig, Event, Outcome, Output, Rng, StoreFailed, Time, Timer,
    Types,
};
use rix_net::protocol::{SyncRequest, SyncResponse};
use rix_net::{InboundRequest, MessageAcceptance, MessageId, NetworkEvent, PeerId};
use rix_record::{SignedRecord, Timestamp};
use rix_store::Inserted;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::node::{Node, blocking};

/// The daemon's types for the engine: libp2p peer ids, signed envelopes, gossipsub message ids
/// and request-response channels.
#[derive(Debug)]
pub(crate) struct Wire;

impl Types for Wire {
    type Peer = PeerId;
    type Record = SignedRecord;
    type Message = MessageId;
    type Reply = InboundRequest;
}

/// What the actor knows of one connected peer's sync.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerSync {
    /// When the last round with it completed (wall clock).
    pub(crate) last_sync: Option<Timestamp>,
    /// New records fetched from it since it connected.
    pub(crate) records_fetched: u64,
}

/// Every connected peer's [`PeerSync`].
pub(crate) type PeerSyncs = HashMap<PeerId, PeerSync>;

/// A question for the actor.
#[derive(Debug)]
pub(crate) enum Query {
    /// What each connected peer synced.
    PeerSyncs {
        /// Where the answer goes.
        reply: oneshot::Sender<PeerSyncs>,
    },
    /// This node stored charter items of its own (a proposal, an approval): gossip them and
    /// apply the version they make, if any.
    CharterStored {
        /// Their bytes.
        items: Vec<Vec<u8>>,
        /// Told once they are gossiped and applied.
        reply: oneshot::Sender<()>,
    },
}

/// The actor; [`Actor::run`] it as a worker.
pub(crate) struct Actor {
    node: Arc<Node>,
    engine: Engine<Wire>,
    clock: Clock,
    /// Timers the engine set, by when they are due.
    timers: BTreeMap<Time, Vec<Timer<PeerId>>>,
    network: mpsc::Receiver<NetworkEvent>,
    /// IO completions (replies, replica reads, stored batches) come back here. Unbounded, but
    /// the engine bounds what is in flight: one request and two batches per sync session,
    /// one gossip batch.
    done: mpsc::UnboundedSender<Event<Wire>>,
    completions: mpsc::UnboundedReceiver<Event<Wire>>,
    queries: mpsc::Receiver<Query>,
    history_known: watch::Sender<bool>,
    /// Set while the recovered signing history is being adopted.
    adopting: bool,
    last_sync: HashMap<PeerId, Timestamp>,
    stop: CancellationToken,
}

/// The engine's settings from the node's config and charter.
pub(crate) fn engine_config(node: &Node) -> EngineConfig {
    let c = &node.config.config;
    EngineConfig {
        network: node.genesis.network.clone(),
        members: node.charter_now().members(),
        sync_interval: std::time::Duration::from_secs(c.sync.interval_secs),
        batch_records: c.sync.batch_records,
        patience: std::time::Duration::from_secs(c.sync.request_timeout_secs),
        forward_hold: std::time::Duration::from_millis(c.network.forward_hold_ms),
        gossip_batch: GOSSIP_BATCH,
        scoring: c.network.scoring(),
        serve: c.sync.serve_limits(),
        redial_min: std::time::Duration::from_secs(c.network.redial_min_secs),
        redial_max: std::time::Duration::from_secs(c.network.redial_max_secs),
    }
}

/// Most gossip records verified and stored together.
const GOSSIP_BATCH: usize = 256;

impl Actor {
    /// The actor of `node`, with its engine's first outputs still to carry out ([`Actor::run`]
    /// does).
    pub(crate) fn new(
        node: Arc<Node>,
        network: mpsc::Receiver<NetworkEvent>,
        queries: mpsc::Receiver<Query>,
        history_known: watch::Sender<bool>,
    ) -> (Self, Vec<Output<Wire>>) {
        let clock = Clock::start();
        let local = node.net.local_peer_id();
        let (mut engine, mut first) = Engine::new(local, engine_config(&node), Rng::from_entropy(), clock.now());
        let current = node.charter_now();
        let charter = Event::Charter { summary: current.summary.clone(), members: current.members() };
        first.extend(engine.handle(charter, clock.now()));
        let (done, completions) = mpsc::unbounded_channel();
        let stop = node.supervisor.stopping();
        let actor = Self {
            node,
            engine,
            clock,
            timers: BTreeMap::new(),
            network,
            done,
            completions,
            queries,
            history_known,
            adopting: false,
            last_sync: HashMap::new(),
            stop,
        };
        (actor, first)
    }

    /// Runs until the node stops.
    pub(crate) async fn run(mut self, first: Vec<Output<Wire>>) {
        let now = self.clock.now();
        self.execute(first, now).await;
        loop {
            let wake = self.timers.keys().next().map(|&t| self.clock.instant(t));
            let event = tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                Some(event) = self.completions.recv() => event,
                event = self.network.recv() => match event {
                    Some(event) => match self.translate(event) {
                        Some(event) => event,
                        None => continue,
                    },
                    // The network stopped: only shutdown does that, so wait for it.
                    None => return self.stop.cancelled().await,
                },
                Some(query) = self.queries.recv() => {
                    self.answer(query);
                    continue;
                }
                () = sleep_until(wake) => {
                    self.fire_due_timers().await;
                    continue;
                }
            };
            self.handle(event).await;
        }
    }

    async fn handle(&mut self, event: Event<Wire>) {
        let now = self.clock.now();
        let out = self.engine.handle(event, now);
        self.execute(out, now).await;
    }

    async fn fire_due_timers(&mut self) {
        let now = self.clock.now();
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > now {
                break;
            }
            for timer in entry.remove() {
                self.handle(Event::Timer(timer)).await;
            }
        }
    }

    /// The engine's view of a network event; `None` for what only the actor needs.
    fn translate(&mut self, event: NetworkEvent) -> Option<Event<Wire>> {
        Some(match event {
            NetworkEvent::GossipRecord { source, message_id, record } => {
                Event::Gossip { from: source, message: message_id, record }
            }
            NetworkEvent::GossipCharter { source, message_id, item } => {
                Event::CharterGossip { from: source, message: message_id, item }
            }
            NetworkEvent::SyncRequest { peer, request, channel } => {
                Event::SyncRequest { from: peer, request, reply: channel }
            }
            NetworkEvent::Answered { peer } => Event::Served(peer),
            NetworkEvent::Dialable { peer } => Event::Dialable(peer),
            NetworkEvent::PeerConnected { peer } => Event::PeerConnected(peer),
            NetworkEvent::PeerDisconnected { peer } => {
                self.last_sync.remove(&peer);
                Event::PeerDisconnected(peer)
            }
            NetworkEvent::PeerRefused { .. } => {
                self.node.metrics.connections_refused.inc();
                return None;
            }
            NetworkEvent::Listening { .. } => return None,
        })
    }

    fn answer(&self, query: Query) {
        match query {
            Query::CharterStored { items, reply } => {
                let (n, done) = (self.node.clone(), self.done.clone());
                self.node.supervisor.task("charter", async move {
                    for item in items {
                        if let Err(e) = n.net.publish_charter(item).await {
                            tracing::debug!(error = %e, "could not gossip a charter item; it travels by sync");
                        }
                    }
                    let refreshed = {
                        let n = n.clone();
                        blocking(move || n.refresh_charter()).await
                    };
                    // Announced even when the version did not change here: an import applies
                    // it before handing its items over.
                    match refreshed {
                        Ok(Ok(_)) => announce(&n, &done, &n.charter_now()).await,
                        Ok(Err(e)) => tracing::error!(error = %e, "could not read the charter chain"),
                        Err(e) => tracing::error!(error = %e, "could not read the charter chain"),
                    }
                    let _ = reply.send(());
                });
            }
            Query::PeerSyncs { reply } => {
                let syncs = self
                    .engine
                    .peers()
                    .iter()
                    .map(|(peer, s)| {
                        let sync = PeerSync {
                            last_sync: self.last_sync.get(peer).copied(),
                            records_fetched: s.records_fetched,
                        };
                        (*peer, sync)
                    })
                    .collect();
                let _ = reply.send(syncs);
            }
        }
    }

    async fn execute(&mut self, outputs: Vec<Output<Wire>>, now: Time) {
        for output in outputs {
            self.output(output, now).await;
        }
        self.node.metrics.peers_connected.set(self.engine.peers().len() as i64);
    }

    async fn output(&mut self, output: Output<Wire>, now: Time) {
        let node = &self.node;
        match output {
            Output::Request { peer, tag, request } => {
                let (net, done) = (node.net.clone(), self.done.clone());
                node.supervisor.task("sync client", async move {
                    let reply = match net.request(peer, request.clone()).await {
                        Ok(response) => reply_of(&request, response),
                        Err(e) => Reply::Failed { reason: e.to_string() },
                    };
                    let _ = done.send(Event::Reply { peer, tag, reply });
                });
            }
            Output::ReadHeads { peer, tag } => {
                let (n, done) = (node.clone(), self.done.clone());
                node.supervisor.task("sync client", async move {
                    let heads = match blocking(move || n.replica.chain_heads()).await {
                        Ok(Ok(heads)) => Ok(heads),
                        Ok(Err(e)) => Err(format!("reading this node's replica: {e}")),
                        Err(e) => Err(e.to_string()),
                    };
                    let event = match heads {
                        Ok(heads) => {
                            let chains = heads
                                .iter()
                                .map(|c| LocalChain {
                                    author: c.author.to_string(),
                                    max_seq: c.max_seq,
                                    missing: c.missing.clone(),
                                })
                                .collect();
                            Event::LocalHeads { peer, tag, chains }
                        }
                        // The round ends; the next one tries again.
                        Err(reason) => {
                            tracing::error!(%reason, "a sync round could not read the replica");
                            Event::Reply { peer, tag, reply: Reply::Failed { reason } }
                        }
                    };
                    let _ = done.send(event);
                });
            }
            Output::Serve { peer, reply, serve } => {
                let n = node.clone();
                node.supervisor.task("sync server", async move {
                    let answering = n.clone();
                    let response = blocking(move || answering.serve(&serve))
                        .await
                        .unwrap_or_else(|e| SyncResponse::Error { message: e.to_string() });
                    n.metrics.sync_requests_served.inc();
                    if let Err(e) = n.net.respond(reply, response).await {
                        tracing::debug!(%peer, error = %e, "could not answer sync request");
                    }
                });
            }
            Output::Respond { peer, reply, response } => {
                if let Err(e) = node.net.respond(reply, response).await {
                    tracing::debug!(%peer, error = %e, "could not answer sync request");
                }
            }
            Output::Ingest { batch, source, from: _, records } => {
                let (n, done) = (node.clone(), self.done.clone());
                node.supervisor.task("ingest", async move {
                    let outcomes = match blocking(move || n.accept(records, source)).await {
                        Ok(Ok(accepted)) => Ok(accepted.iter().map(outcome_of).collect()),
                        // Logged where it happened; not the senders' fault.
                        _ => Err(StoreFailed),
                    };
                    let _ = done.send(Event::Ingested { batch, outcomes });
                });
            }
            Output::IngestCharter { batch, source, from, items } => {
                let (n, done) = (node.clone(), self.done.clone());
                node.supervisor.task("ingest", async move {
                    let accepting = n.clone();
                    let outcome = match blocking(move || accepting.accept_charter(items, source)).await {
                        Ok(Ok((accepted, changed))) => {
                            if let Some(current) = changed {
                                announce(&n, &done, &current).await;
                            }
                            if !accepted.new.is_empty() {
                                tracing::info!(%from, new = accepted.new.len(), "stored charter items");
                            }
                            Ok(CharterOutcome {
                                new: accepted.new.len() as u32,
                                duplicate: accepted.duplicate,
                                invalid: accepted.invalid.len() as u32,
                            })
                        }
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "could not store charter items");
                            Err(StoreFailed)
                        }
                        Err(_) => Err(StoreFailed),
                    };
                    let _ = done.send(Event::CharterIngested { batch, outcome });
                });
            }
            Output::Validate { message, from, acceptance } => {
                let acceptance = match acceptance {
                    Acceptance::Accept => MessageAcceptance::Accept,
                    Acceptance::Reject => MessageAcceptance::Reject,
                    Acceptance::Ignore => MessageAcceptance::Ignore,
                };
                let _ = node.net.report_validation(message, from, acceptance).await;
            }
            Output::Ban { peer, until } => {
                let _ = node.net.ban(peer, until.since(now)).await;
            }
            Output::Unban(peer) => {
                let _ = node.net.unban(peer).await;
            }
            Output::Dial(peer) => {
                let _ = node.net.dial(peer).await;
            }
            Output::SetTimer { at, timer } => {
                let due = self.timers.entry(at).or_default();
                if !due.contains(&timer) {
                    due.push(timer);
                }
            }
            Output::Penalised { peer, offence, banned } => {
                node.metrics.penalty(offence.label());
                if banned {
                    node.metrics.peers_banned.inc();
                    let secs = node.config.config.network.ban_secs;
                    tracing::warn!(%peer, last_offence = offence.label(), secs, "peer banned for misbehaviour");
                }
            }
            Output::ServeRefused { refusal, .. } => node.metrics.sync_refused(refusal.label()),
            Output::GossipDropped { .. } => {
                node.metrics.gossip_dropped.inc();
            }
            Output::Lag { author, lag } => node.metrics.set_lag(&author, lag),
            Output::SyncDone { peer, result } => {
                node.metrics.sync_round(result.is_ok());
                match result {
                    Ok(fetched) => {
                        self.last_sync.insert(peer, Timestamp::now());
                        if fetched > 0 {
                            node.metrics.sync_records_fetched.inc_by(fetched);
                            tracing::info!(%peer, fetched, "caught up records by sync");
                        } else {
                            tracing::debug!(%peer, "sync round done");
                        }
                        if !*self.history_known.borrow() {
                            self.adopt_history();
                        }
                    }
                    Err(e) => tracing::debug!(%peer, error = %e, "sync round failed"),
                }
            }
        }
    }

    /// After a completed sync round, a node that lost its signing journal takes its member's
    /// chain in the replica as its history, and may publish again.
    fn adopt_history(&mut self) {
        if self.adopting {
            return;
        }
        self.adopting = true;
        let node = self.node.clone();
        let known = self.history_known.clone();
        self.node.supervisor.task("history recovery", async move {
            // An observer has no signing history to adopt.
            let adopted = blocking(move || match &node.publisher {
                Some(p) => p.adopt_replica_history(&node.replica).map_err(|e| e.to_string()),
                None => Ok(()),
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            match adopted {
                Ok(()) => {
                    let _ = known.send(true);
                    tracing::info!("signing history recovered from peers; publishing enabled");
                }
                Err(e) => tracing::error!(error = %e, "could not record the recovered signing history"),
            }
        });
    }
}

/// Tells the engine and the network of a new charter version (or summary): the engine syncs
/// the new members' chains and compares summaries against it; the network admits, dials and
/// disconnects by it.
async fn announce(node: &Node, done: &mpsc::UnboundedSender<Event<Wire>>, current: &crate::charter::Current) {
    let _ = done.send(Event::Charter { summary: current.summary.clone(), members: current.members() });
    if let Err(e) = node.net.set_charter((*current.charter).clone()).await {
        tracing::debug!(error = %e, "could not hand the new charter version to the network");
    }
}

/// Waits until `at`, or forever without a timer.
async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A peer's answer as the engine sees it. For records, where the next page starts is read
/// unverified from the last one (see [`Reply::Records`]).
fn reply_of(request: &SyncRequest, response: SyncResponse) -> Reply<SignedRecord> {
    match response {
        SyncResponse::Summary { network, heads, charter } => Reply::Summary { network, heads, charter },
        SyncResponse::Charter { items, more, .. } => {
            let last = items.last().and_then(|i| rix_store::charter_key(i)).map(hex::encode);
            // Without a key for the last item, the next page cannot be asked for.
            let more = more && last.is_some();
            Reply::Charter { items, last, more }
        }
        SyncResponse::Records { records, more, .. } => {
            let next = match (request, records.last()) {
                (SyncRequest::Fetch { author, from, .. }, Some(last)) => SignedRecord::from_bytes(last.clone())
                    .decode()
                    .ok()
                    .filter(|(r, _)| r.author.as_str() == author && r.seq >= *from)
                    .map(|(r, _)| r.seq + 1),
                _ => None,
            };
            Reply::Records { records: records.into_iter().map(SignedRecord::from_bytes).collect(), next, more }
        }
        SyncResponse::Busy { retry_after_ms } => Reply::Busy { retry_after_ms },
        SyncResponse::Error { message } => Reply::Error { message },
    }
}

/// The engine's view of one record's fate.
fn outcome_of(result: &Result<crate::node::Accepted, rix_record::VerifyError>) -> Outcome {
    match result {
        Ok(a) => match a.outcome {
            Inserted::New => Outcome::New,
            Inserted::Duplicate => Outcome::Duplicate,
            Inserted::Equivocation { .. } => Outcome::Equivocation,
        },
        // What a charter version this node has yet to fetch could make valid.
        Err(
            rix_record::VerifyError::UnknownAuthor(_)
            | rix_record::VerifyError::KeyMismatch(_)
            | rix_record::VerifyError::KeyRetired { .. },
        ) => Outcome::Unjudged,
        Err(_) => Outcome::Invalid,
    }
}
