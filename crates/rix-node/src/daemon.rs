//! The node daemon: the network service, the replica and the local API, wired together.
//!
//! ```text
//!  gossip / sync  ──► NetworkEvent ──► Node::on_event ──► verify ──► Replica
//!                                           │                  └──► report Accept/Reject/Ignore
//!  rix CLI ──HTTP──► api ──► Node::publish ──► Publisher (journal, replica) ──► NetworkHandle::publish
//!  timer / connect ──► SyncSession with a peer: summary ► plan ► fetch ► verify ► store
//! ```
//! One task owns the swarm (in `rix-net`); this module holds a [`NetworkHandle`]. Replica work
//! runs on the blocking pool, so a slow disk never stalls the network task.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rix_engine::scoring::{Penalty, Scoreboard};
use rix_engine::serve::{check_fetch, page};
use rix_engine::verdict::{Acceptance, Outcome, verdict};
use rix_engine::{Clock, Offence, ScoringConfig};
use rix_net::protocol::{AuthorHead, MAX_RESPONSE_RECORD_BYTES, SyncRequest, SyncResponse};
use rix_net::service::{self, NetworkSettings};
use rix_net::sync::{LocalChain, plan};
use rix_net::{MessageAcceptance, NetworkEvent, NetworkHandle, NodeIdentity, PeerId, jittered};
use rix_record::{Charter, Content, SignedRecord, Timestamp, VerifiedRecord};
use rix_search::{SearchIndex, SearchQuery, SearchResults};
use rix_store::query::{Detail, RecordView, view_of};
use rix_store::{Durability, Inserted, Replica, ReplicaOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backend::{offline_status, publisher_for};
use crate::config::LoadedConfig;
use crate::error::NodeError;
use crate::metrics::Metrics;
use crate::ops::{PeerView, StatusView};
use crate::publish::Publisher;

pub use rix_engine::Source;

use crate::indexer::{INDEX_QUEUE, IndexJob, background_priority, run_indexer};
pub use crate::supervisor::WorkerFailure;
use crate::supervisor::{FAILPOINT_ENV, Supervisor};

#[derive(Debug, Default, Clone)]
struct PeerSync {
    last_sync: Option<Timestamp>,
    records_fetched: u64,
}

#[derive(Debug)]
struct NodeState {
    /// Whether this member's signing history is known (publishing allowed).
    history_known: bool,
    peers: HashMap<PeerId, PeerSync>,
    syncing: HashSet<PeerId>,
    /// Highest sequence number seen in any peer's summary, per member.
    remote_max: HashMap<String, u64>,
    /// Misbehaviour tallies and bans: what a banned peer still had in flight is not held
    /// against it twice.
    scores: Scoreboard<PeerId>,
}

/// What became of one record accepted from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// What the replica did with it.
    pub outcome: Inserted,
    /// Its author.
    pub author: String,
    /// Its sequence number.
    pub seq: u64,
}

/// A running node: what the API handlers, the event handler and sync sessions share.
pub struct Node {
    config: LoadedConfig,
    charter: Charter,
    replica: Arc<Replica>,
    publisher: Option<Publisher>,
    net: NetworkHandle,
    metrics: Metrics,
    state: Mutex<NodeState>,
    api_addr: SocketAddr,
    token: String,
    search: Option<Arc<SearchIndex>>,
    index_jobs: Option<std::sync::mpsc::SyncSender<IndexJob>>,
    gossip_queue: tokio::sync::mpsc::Sender<GossipArrival>,
    stored: tokio::sync::broadcast::Sender<rix_record::RecordId>,
    /// The scoreboard's clock.
    clock: Clock,
    /// Where workers and tasks report that they failed.
    supervisor: Supervisor,
}

/// A record that arrived by gossip, waiting to be validated.
struct GossipArrival {
    source: PeerId,
    message_id: rix_net::MessageId,
    record: SignedRecord,
    /// When the network task handed it over: the forward hold counts from here.
    received: tokio::time::Instant,
}

/// A new, valid gossip record, stored, waiting out the forward hold before gossipsub may
/// relay it. Every node that receives a record tells its mesh peers at once that it has it
/// (gossipsub 1.2 IDONTWANT), and gossipsub forwards a record only to mesh peers that have
/// not; the hold gives those notices time to arrive. With the publisher sending each record
/// to every connected peer itself, nearly every forward would otherwise be a duplicate that
/// costs the receiver a decryption and a decode: on nine nodes the hold halves the bytes
/// each node receives (docs/performance.md). It delays only relayed copies.
struct HeldForward {
    release_at: tokio::time::Instant,
    source: PeerId,
    message_id: rix_net::MessageId,
}

/// Reports held records valid once each one's hold has passed; they come in arrival order,
/// so in release order.
async fn release_held(net: NetworkHandle, mut held: tokio::sync::mpsc::Receiver<HeldForward>) {
    while let Some(h) = held.recv().await {
        tokio::time::sleep_until(h.release_at).await;
        let _ = net.report_validation(h.message_id, h.source, MessageAcceptance::Accept).await;
    }
}

/// Notices of newly stored records kept for slow subscribers (they then miss some).
const STORED_NOTICES: usize = 4096;

/// Gossip records queued for validation; when full, the event handler waits.
const GOSSIP_QUEUE: usize = 1024;
/// Most gossip records validated and stored together.
const GOSSIP_BATCH: usize = 256;

/// A sync batch being verified and stored on the blocking pool.
type StoringBatch = JoinHandle<Result<Vec<Result<Accepted, rix_record::VerifyError>>, rix_store::StoreError>>;

/// The engine's view of one record's fate.
fn outcome_of(result: &Result<Accepted, rix_record::VerifyError>) -> Outcome {
    match result {
        Ok(a) => match a.outcome {
            Inserted::New => Outcome::New,
            Inserted::Duplicate => Outcome::Duplicate,
            Inserted::Equivocation { .. } => Outcome::Equivocation,
        },
        Err(_) => Outcome::Invalid,
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.net.local_peer_id())
    }
}

/// A node started with [`start`]; stop it with [`RunningNode::stop`], or run it with
/// [`RunningNode::run_until`].
pub struct RunningNode {
    node: Arc<Node>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    indexer: Option<std::thread::JoinHandle<()>>,
    failures: tokio::sync::mpsc::UnboundedReceiver<WorkerFailure>,
}

impl RunningNode {
    /// The node.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Runs until `shutdown` resolves (SIGINT or SIGTERM for `rix daemon`), then stops
    /// gracefully; or, if a worker fails first, logs which and why, stops what still runs, and
    /// returns [`NodeError::WorkerFailed`], so that the process exits non-zero and its
    /// supervisor restarts it.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
        let failure = tokio::select! {
            () = shutdown => None,
            failure = self.failures.recv() => failure,
        };
        match failure {
            None => {
                tracing::info!("shutting down");
                self.stop().await
            }
            Some(WorkerFailure { worker, reason }) => {
                tracing::error!(worker, %reason, "a worker of the daemon failed; stopping, to be restarted");
                if let Err(e) = self.stop().await {
                    tracing::warn!(error = %e, "stopping after the failure");
                }
                Err(NodeError::WorkerFailed { worker, reason })
            }
        }
    }

    /// Graceful shutdown: stop the API and the network, wait for every task and the indexer
    /// thread, flush the replica, remove the API token.
    pub async fn stop(self) -> Result<(), NodeError> {
        let _ = self.shutdown.send(true);
        self.node.net.shutdown().await;
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        self.node.replica.flush()?;
        if let (Some(index), Some(jobs)) = (&self.node.search, &self.node.index_jobs) {
            let (ack, done) = std::sync::mpsc::channel();
            if jobs.send(IndexJob::Flush(ack)).is_ok() && done.recv_timeout(Duration::from_secs(60)).is_ok() {
                index.write_synced(self.node.replica.len()?);
            }
            let _ = jobs.send(IndexJob::Stop);
        }
        if let Some(indexer) = self.indexer {
            let joined = tokio::task::spawn_blocking(move || indexer.join());
            if tokio::time::timeout(Duration::from_secs(60), joined).await.is_err() {
                tracing::warn!("the search indexer did not stop within 60 s");
            }
        }
        let _ = std::fs::remove_file(self.node.config.api_token_path());
        tracing::info!("node stopped");
        Ok(())
    }
}

/// Starts a node from its config: network, event handling, periodic sync and the local API.
pub async fn start(config: LoadedConfig) -> Result<RunningNode, NodeError> {
    let charter = Charter::load(&config.config.charter)?;
    let identity = NodeIdentity::load(&config.config.keys.node)?;
    let publisher = match &config.config.member {
        Some(_) => Some(publisher_for(&config, &charter)?),
        None => None,
    };
    let listed = config.config.member.as_ref().and_then(|m| charter.member(m));
    if let Some(m) = listed.filter(|m| m.peer_id != identity.peer_id().to_string()) {
        tracing::warn!(charter_peer_id = %m.peer_id, node_peer_id = %identity.peer_id(), "this node's peer id is not the one the charter lists for its member; other nodes will refuse it");
    }
    let options = config.config.store.replica_options();
    let replica = Arc::new(open_replica(config.replica_dir(), options).await?);

    let net_config = &config.config.network;
    let listen = net_config
        .listen
        .iter()
        .map(|a| a.parse().map_err(|_| NodeError::Api(format!("network.listen: invalid multiaddress {a}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = NetworkSettings {
        listen,
        charter: charter.clone(),
        mdns: net_config.mdns,
        idle_timeout: Duration::from_secs(net_config.idle_timeout_secs),
        redial_min: Duration::from_secs(net_config.redial_min_secs),
        redial_max: Duration::from_secs(net_config.redial_max_secs),
        request_timeout: Duration::from_secs(config.config.sync.request_timeout_secs),
        max_connections: net_config.max_connections,
        max_memory_bytes: usize::try_from(net_config.max_memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
        serve: service::ServeLimits {
            inflight_per_peer: config.config.sync.serve_inflight_per_peer.max(1) as usize,
            requests_per_sec: f64::from(config.config.sync.serve_requests_per_sec.max(1)),
            burst: f64::from(config.config.sync.serve_burst.max(1)),
        },
    };
    let (net, mut events, event_loop) = service::new(&identity, settings).map_err(|e| NodeError::Api(e.to_string()))?;

    let api_addr = config.config.api_addr().map_err(NodeError::Api)?;
    if !api_addr.ip().is_loopback() {
        tracing::warn!(%api_addr, "the local API listens on a non-loopback address: anyone who can reach it and read the token can query and publish");
    }
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .map_err(|source| NodeError::Io { context: format!("binding the API to {api_addr}"), source })?;
    let api_addr = listener.local_addr().map_err(|source| NodeError::Io { context: "API address".into(), source })?;
    let token = crate::api::write_token(&config.api_token_path())?;

    let search_dir = config.search_dir();
    let search = if !config.config.store.search_index {
        tracing::info!("search index disabled (store.search_index = false)");
        None
    } else {
        // Opened on a thread of its own at background priority: tantivy's indexing, merging
        // and compression threads are started here and inherit it, so under load indexing
        // yields the CPU to forwarding and serving records.
        let (opened_tx, opened) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("rix-index-open".into())
            .spawn(move || {
                background_priority();
                let _ = opened_tx.send(SearchIndex::open(&search_dir));
            })
            .map_err(|source| NodeError::Io { context: "opening the search index".into(), source })?;
        match opened.await.expect("the opening thread answers") {
            Ok(index) => Some(Arc::new(index)),
            Err(e) => {
                tracing::warn!(error = %e, "search index unavailable; `rix search` will fail until `rix reindex`");
                None
            }
        }
    };
    let (index_jobs_tx, index_jobs_rx) = match &search {
        Some(_) => {
            let (tx, rx) = std::sync::mpsc::sync_channel(INDEX_QUEUE);
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    let history_known = match &publisher {
        Some(p) => p.history_known()?,
        None => true,
    };
    if !history_known {
        tracing::warn!("signing history unknown (journal missing): recovering it from peers before publishing");
    } else if let Some(p) = &publisher {
        // A crash between journaling a record and storing it leaves it only in the journal:
        // put it back now, so peers get it by sync even if nothing else is published.
        if p.restore(&replica)? {
            tracing::info!("restored the last signed record from the signing journal");
        }
    }
    let (gossip_queue, gossip_arrivals) = tokio::sync::mpsc::channel(GOSSIP_QUEUE);
    let (supervisor, failures) = Supervisor::new();
    let scoring = ScoringConfig {
        threshold: f64::from(config.config.network.ban_threshold.max(1)),
        ban: Duration::from_secs(config.config.network.ban_secs),
        ..ScoringConfig::default()
    };
    let node = Arc::new(Node {
        config,
        charter,
        replica,
        publisher,
        net: net.clone(),
        metrics: Metrics::new(),
        state: Mutex::new(NodeState {
            history_known,
            peers: HashMap::new(),
            syncing: HashSet::new(),
            remote_max: HashMap::new(),
            scores: Scoreboard::new(scoring),
        }),
        clock: Clock::start(),
        api_addr,
        token,
        search: search.clone(),
        index_jobs: index_jobs_tx,
        gossip_queue,
        stored: tokio::sync::broadcast::channel(STORED_NOTICES).0,
        supervisor: supervisor.clone(),
    });
    node.metrics.records_stored.set(node.replica.len()? as i64);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = vec![
        supervisor.worker("network", event_loop.run()),
        supervisor.worker("gossip ingest", node.clone().ingest_gossip(gossip_arrivals, shutdown_rx.clone())),
    ];

    let n = node.clone();
    tasks.push(supervisor.worker("network events", async move {
        while let Some(event) = events.recv().await {
            n.clone().on_event(event).await;
        }
    }));

    let n = node.clone();
    let mut stop = shutdown_rx.clone();
    tasks.push(supervisor.worker("sync timer", async move {
        let every = Duration::from_secs(n.config.config.sync.interval_secs);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(jittered(every)) => {
                    if let Ok(peers) = n.net.peers().await {
                        for p in peers {
                            n.clone().spawn_sync(p.peer_id);
                        }
                    }
                }
                _ = stop.changed() => {
                    // Ends like every worker, by waiting for shutdown, so that its return
                    // means shutdown rather than a failure (see the supervisor).
                    return;
                }
            }
        }
    }));

    if !history_known {
        // `sync.recovery_timeout_secs`: how long to wait for peers before telling the operator
        // that recovery is stuck, and what to do; publishing stays refused until it succeeds.
        let n = node.clone();
        let mut stop = shutdown_rx.clone();
        tasks.push(supervisor.worker("history recovery watch", async move {
            let every = Duration::from_secs(n.config.config.sync.recovery_timeout_secs.max(1));
            let mut waited = Duration::ZERO;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => return,
                }
                if n.state().history_known {
                    // Recovered: nothing to watch, but a worker ends only at shutdown.
                    let _ = stop.changed().await;
                    return;
                }
                waited += every;
                tracing::warn!(
                    waited_secs = waited.as_secs(),
                    "signing history still unknown: no peer has completed a sync round; publishing stays refused. Check that this node reaches a member's node (`rix peers`), or restore data/journal from a backup"
                );
            }
        }));
    }

    let mut indexer = None;
    if let (Some(index), Some(jobs)) = (search, index_jobs_rx) {
        let replica = node.replica.clone();
        let sup = supervisor.clone();
        indexer = Some(
            std::thread::Builder::new()
                .name("rix-indexer".into())
                .spawn(move || {
                    const WORKER: &str = "search indexer";
                    let mut guard = sup.thread_guard(WORKER);
                    if sup.fails(WORKER) {
                        std::thread::sleep(Duration::from_millis(500));
                        panic!("failpoint {FAILPOINT_ENV}={WORKER:?}");
                    }
                    background_priority();
                    guard.stopping = run_indexer(index, replica, jobs);
                })
                .map_err(|source| NodeError::Io { context: "starting the indexer".into(), source })?,
        );
    }

    let n = node.clone();
    let mut stop = shutdown_rx.clone();
    tasks.push(supervisor.worker("local API", async move {
        let app = crate::api::router(n);
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "local API stopped");
        }
    }));
    tracing::info!(peer_id = %node.net.local_peer_id(), api = %api_addr, member = ?node.config.config.member, "node started");
    Ok(RunningNode { node, shutdown, tasks, indexer, failures })
}

/// Opens the replica, waiting up to ten seconds while another process (typically a `rix` query
/// that started just before the daemon) still holds it.
async fn open_replica(dir: std::path::PathBuf, options: ReplicaOptions) -> Result<Replica, NodeError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (d, o) = (dir.clone(), options.clone());
        match tokio::task::spawn_blocking(move || Replica::open(&d, &o)).await.expect("no panic") {
            Err(rix_store::StoreError::Locked(_)) if tokio::time::Instant::now() < deadline => {
                tracing::info!("replica in use by another process; waiting for it");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            result => return Ok(result?),
        }
    }
}

/// Runs a node until `shutdown` resolves (SIGINT/SIGTERM for `rix daemon`) or a worker fails
/// ([`RunningNode::run_until`]).
pub async fn run(config: LoadedConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), NodeError> {
    start(config).await?.run_until(shutdown).await
}

impl Node {
    /// The replica.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// The charter.
    pub fn charter(&self) -> &Charter {
        &self.charter
    }

    /// The config.
    pub fn config(&self) -> &LoadedConfig {
        &self.config
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The network handle.
    pub fn net(&self) -> &NetworkHandle {
        &self.net
    }

    /// The API's bound address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The API token.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    fn state(&self) -> std::sync::MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notices of every record newly stored from now on (published here or received), for
    /// watchers such as the benchmarks. A subscriber that falls 4096 behind misses some.
    pub fn subscribe_stored(&self) -> tokio::sync::broadcast::Receiver<rix_record::RecordId> {
        self.stored.subscribe()
    }

    /// Queues a newly stored record for the search index (call from a blocking thread: a full
    /// queue waits for the indexer) and announces it to subscribers.
    fn index(&self, record: &VerifiedRecord) {
        // Its own target, so `RUST_LOG=warn,rix_stored=debug` traces arrivals alone (the
        // multi-process propagation benchmark times them from these lines).
        tracing::debug!(target: "rix_stored", id = %record.id(), "record stored");
        let _ = self.stored.send(record.id());
        if let Some(jobs) = &self.index_jobs {
            let _ = jobs.send(IndexJob::Add(record.clone()));
        }
    }

    /// The search index, if it could be opened.
    pub fn search_index(&self) -> Result<&SearchIndex, NodeError> {
        self.search
            .as_deref()
            .ok_or_else(|| NodeError::Api("the search index could not be opened; see the daemon's log".into()))
    }

    /// `rix search` through the daemon.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError> {
        let index = self.search_index()?;
        // Commit what is queued first, so a search sees every record stored before it.
        if let Some(jobs) = &self.index_jobs {
            let (ack, done) = std::sync::mpsc::channel();
            if jobs.send(IndexJob::Flush(ack)).is_ok() && done.recv_timeout(Duration::from_secs(30)).is_err() {
                tracing::warn!("the search index did not commit within 30 s; searching what it has");
            }
        }
        Ok(index.search(&self.replica, query)?)
    }

    /// Whether this node may publish now.
    pub fn can_publish(&self) -> bool {
        self.publisher.is_some() && self.state().history_known
    }

    /// Signs, stores and gossips a record as this node's member.
    pub async fn publish(self: &Arc<Self>, content: Content) -> Result<RecordView, NodeError> {
        if self.publisher.is_none() {
            return Err(NodeError::NotAMember);
        }
        if !self.state().history_known {
            return Err(NodeError::Api(
                "this node is still recovering its member's signing history from peers; publishing would risk signing two records with one sequence number. Try again once a peer is connected and synced".into(),
            ));
        }
        let node = self.clone();
        let record = tokio::task::spawn_blocking(move || {
            node.publisher.as_ref().expect("checked").sign(&node.replica, content, Timestamp::now())
        })
        .await
        .expect("no panic")?;
        // Signed and journaled, the record is durable: gossip it while the replica stores it,
        // so its fdatasync is not on the path to the other members.
        let node = self.clone();
        let stored = record.clone();
        let store = tokio::task::spawn_blocking(move || -> Result<_, NodeError> {
            // Not new: a peer synced it back first, and that path indexed and announced it.
            if node.publisher.as_ref().expect("checked").store(&node.replica, &stored)? {
                node.index(&stored);
            }
            Ok(view_of(&node.replica, stored, Detail::Summary)?)
        });
        let (outcome, view) = tokio::join!(self.net.publish(record.signed()), store);
        let view = view.expect("no panic")?;
        self.metrics.received("publish");
        self.metrics.records_stored.set(self.replica.len()? as i64);
        let outcome = outcome.map_err(|e| NodeError::Api(e.to_string()))?;
        tracing::info!(id = %record.id().short(), seq = record.record().seq, ?outcome, "published");
        Ok(view)
    }

    /// The one ingest pipeline, for gossip, sync and import alike: verifies and stores records
    /// that arrived from outside, indexes and announces the new ones, and counts each outcome
    /// by source. Returns the outcome per record (or the rejection reason), or the replica's
    /// error if storing failed, which is this node's fault, not the sender's.
    pub fn accept(
        &self,
        records: Vec<SignedRecord>,
        source: Source,
    ) -> Result<Vec<Result<Accepted, rix_record::VerifyError>>, rix_store::StoreError> {
        let crate::ops::StoredBatch { verified, slots, outcomes } = self.ingest(&records, source)?;
        Ok(slots
            .into_iter()
            .map(|s| {
                s.map(|i| Accepted {
                    outcome: outcomes[i],
                    seq: verified[i].record().seq,
                    author: verified[i].record().author.to_string(),
                })
            })
            .collect())
    }

    /// One batch of a user's import through the ingest pipeline (call from a blocking thread).
    pub fn import_batch(&self, records: Vec<SignedRecord>) -> Result<crate::ops::StoredBatch, NodeError> {
        Ok(self.ingest(&records, Source::Import)?)
    }

    /// See [`Node::accept`].
    fn ingest(
        &self,
        records: &[SignedRecord],
        source: Source,
    ) -> Result<crate::ops::StoredBatch, rix_store::StoreError> {
        // Records from peers are also held by peers, so they need not wait for an fdatasync (a
        // power cut loses at most sled's last half second of them, and sync brings those
        // back); what a user imports is acknowledged to them, so it does.
        let durability = match source {
            Source::Gossip | Source::Sync => Durability::Flushed,
            Source::Import => Durability::Synced,
        };
        let stored = crate::ops::verify_and_store(&self.replica, &self.charter, records, durability)
            .inspect_err(|e| tracing::error!(error = %e, "replica write failed"))?;
        for e in stored.slots.iter().filter_map(|s| s.as_ref().err()) {
            tracing::warn!(source = source.label(), reason = e.reason(), error = %e, "rejected a record");
            self.metrics.rejected(source.label(), e.reason());
        }
        for (o, record) in stored.outcomes.iter().zip(&stored.verified) {
            match o {
                Inserted::New => {
                    // Indexing costs what was stored, never a pass over the replica.
                    self.index(record);
                    self.metrics.received(source.label());
                }
                Inserted::Duplicate => self.metrics.duplicate(source.label()),
                Inserted::Equivocation { .. } => {
                    self.metrics.equivocations.inc();
                }
            }
        }
        if let Ok(n) = self.replica.len() {
            self.metrics.records_stored.set(n as i64);
        }
        Ok(stored)
    }

    /// Validates and stores gossip in batches: whatever queued while the previous batch was
    /// being stored goes in one `verify_batch` and one flush (group commit), so a burst costs
    /// one fsync instead of one per record, while a lone record is handled at once. A new
    /// valid record is stored at once but reported valid to gossipsub, which then forwards
    /// it, only when `forward_hold_ms` after its arrival has passed (see [`HeldForward`]).
    async fn ingest_gossip(
        self: Arc<Self>,
        mut arrivals: tokio::sync::mpsc::Receiver<GossipArrival>,
        mut stop: watch::Receiver<bool>,
    ) {
        let hold = Duration::from_millis(self.config.config.network.forward_hold_ms);
        let (held_tx, held_rx) = tokio::sync::mpsc::channel(GOSSIP_QUEUE);
        self.supervisor.worker("forward hold", release_held(self.net.clone(), held_rx));
        loop {
            let first = tokio::select! {
                arrival = arrivals.recv() => match arrival {
                    Some(a) => a,
                    None => return,
                },
                _ = stop.changed() => return,
            };
            let mut batch = vec![first];
            while batch.len() < GOSSIP_BATCH {
                match arrivals.try_recv() {
                    Ok(arrival) => batch.push(arrival),
                    Err(_) => break,
                }
            }
            // What a banned peer still had queued is dropped unread: a flood must not keep the
            // node busy after its sender is gone.
            let (banned, batch): (Vec<_>, Vec<_>) = batch.into_iter().partition(|a| self.is_banned(&a.source));
            for arrival in banned {
                let _ = self.net.report_validation(arrival.message_id, arrival.source, MessageAcceptance::Ignore).await;
            }
            if batch.is_empty() {
                continue;
            }
            let records: Vec<SignedRecord> = batch.iter().map(|a| a.record.clone()).collect();
            let node = self.clone();
            let outcomes = match tokio::task::spawn_blocking(move || node.accept(records, Source::Gossip))
                .await
                .expect("no panic")
            {
                Ok(outcomes) => outcomes,
                Err(_) => {
                    // This node could not store them: not the senders' fault, and sync brings
                    // the records again.
                    for arrival in batch {
                        let _ = self
                            .net
                            .report_validation(arrival.message_id, arrival.source, MessageAcceptance::Ignore)
                            .await;
                    }
                    continue;
                }
            };
            for (arrival, outcome) in batch.into_iter().zip(outcomes) {
                let v = verdict(Source::Gossip, outcome_of(&outcome));
                if let Some(offence) = v.offence {
                    self.penalise(arrival.source, offence).await;
                }
                let acceptance = match v.acceptance {
                    Acceptance::Accept => MessageAcceptance::Accept,
                    Acceptance::Reject => MessageAcceptance::Reject,
                    Acceptance::Ignore => MessageAcceptance::Ignore,
                };
                if acceptance == MessageAcceptance::Accept && !hold.is_zero() {
                    let release_at = arrival.received + hold;
                    let held = HeldForward { release_at, source: arrival.source, message_id: arrival.message_id };
                    if held_tx.send(held).await.is_err() {
                        return;
                    }
                    continue;
                }
                let _ = self.net.report_validation(arrival.message_id, arrival.source, acceptance).await;
            }
        }
    }

    async fn on_event(self: Arc<Self>, event: NetworkEvent) {
        match event {
            NetworkEvent::GossipRecord { source, message_id, record } => {
                // Waits while the ingest queue is full; the network task then drops (ignores)
                // gossip rather than stall, and sync brings those records later.
                let received = tokio::time::Instant::now();
                let _ = self.gossip_queue.send(GossipArrival { source, message_id, record, received }).await;
            }
            NetworkEvent::SyncRequest { peer, request, channel } => {
                // Answered off the event path, so a large fetch never delays gossip; how many
                // run at once per peer is bounded by the serving limits.
                let supervisor = self.supervisor.clone();
                supervisor.task("sync server", async move {
                    let node = self.clone();
                    let response = tokio::task::spawn_blocking(move || node.answer(&request)).await.expect("no panic");
                    self.metrics.sync_requests_served.inc();
                    if let Err(e) = self.net.respond(channel, response).await {
                        tracing::debug!(%peer, error = %e, "could not answer sync request");
                    }
                });
            }
            NetworkEvent::PeerConnected { peer } => {
                self.state().peers.entry(peer).or_default();
                self.update_peer_gauge().await;
                self.spawn_sync(peer);
            }
            NetworkEvent::PeerDisconnected { peer } => {
                self.state().peers.remove(&peer);
                self.update_peer_gauge().await;
            }
            NetworkEvent::SyncRefused { peer, reason } => {
                self.metrics.sync_refused(reason.label());
                self.penalise(peer, Offence::SyncOverLimit).await;
            }
            NetworkEvent::PeerRefused { .. } => {
                self.metrics.connections_refused.inc();
            }
            NetworkEvent::Listening { .. } => {}
        }
    }

    /// Whether `peer` is banned now.
    fn is_banned(&self, peer: &PeerId) -> bool {
        self.state().scores.is_banned(peer, self.clock.now())
    }

    /// Counts `offence` against `peer` and bans it once its tally reaches
    /// `network.ban_threshold` (the arithmetic is the engine's [`Scoreboard`]).
    pub async fn penalise(&self, peer: PeerId, offence: Offence) {
        let now = self.clock.now();
        let penalty = {
            let mut state = self.state();
            state.scores.expire(now);
            state.scores.penalise(&peer, offence, now)
        };
        if penalty == Penalty::AlreadyBanned {
            return;
        }
        self.metrics.penalty(offence.label());
        if let Penalty::Banned(_) = penalty {
            let secs = self.config.config.network.ban_secs;
            self.metrics.peers_banned.inc();
            tracing::warn!(%peer, last_offence = offence.label(), secs, "peer banned for misbehaviour");
            let _ = self.net.ban(peer, Duration::from_secs(secs)).await;
        }
    }

    async fn update_peer_gauge(&self) {
        if let Ok(peers) = self.net.peers().await {
            self.metrics.peers_connected.set(peers.len() as i64);
        }
    }

    /// Answers a sync request from the replica.
    fn answer(&self, request: &SyncRequest) -> SyncResponse {
        let result = match request {
            SyncRequest::Summary => self.replica.chain_heads().map(|chains| SyncResponse::Summary {
                network: self.charter.network.clone(),
                heads: chains
                    .iter()
                    .map(|c| AuthorHead {
                        author: c.author.to_string(),
                        contiguous: c.contiguous,
                        max_seq: c.max_seq,
                        held: c.held,
                    })
                    .collect(),
            }),
            SyncRequest::Fetch { .. } => {
                let fetch = match check_fetch(request, self.config.config.sync.batch_records) {
                    Some(Ok(fetch)) => fetch,
                    Some(Err(bad)) => return SyncResponse::Error { message: bad.to_string() },
                    None => unreachable!("a fetch"),
                };
                let Ok(author) = fetch.author.parse() else {
                    return SyncResponse::Error { message: format!("not a member code: {}", fetch.author) };
                };
                // One record past the limit is read, so `more` says exactly whether any is left.
                self.replica.range(&author, fetch.from, fetch.to, fetch.limit + 1).map(|records| {
                    let p = page(records.iter().map(|r| r.bytes().len()), fetch.limit, MAX_RESPONSE_RECORD_BYTES);
                    SyncResponse::records(records[..p.take].iter().map(|r| r.bytes().to_vec()).collect(), p.more)
                })
            }
        };
        result.unwrap_or_else(|e| SyncResponse::Error { message: e.to_string() })
    }

    /// Starts a sync session with `peer` unless one is running.
    pub fn spawn_sync(self: Arc<Self>, peer: PeerId) {
        if !self.state().syncing.insert(peer) {
            return;
        }
        let supervisor = self.supervisor.clone();
        supervisor.task("sync client", async move {
            let result = self.sync_with(peer).await;
            let ok = result.is_ok();
            self.metrics.sync_round(ok);
            let recovered = {
                let mut state = self.state();
                state.syncing.remove(&peer);
                if ok {
                    state.peers.entry(peer).or_default().last_sync = Some(Timestamp::now());
                }
                ok && !state.history_known
            };
            match result {
                Ok(fetched) => tracing::debug!(%peer, fetched, "sync round done"),
                Err(e) => tracing::debug!(%peer, error = %e, "sync round failed"),
            }
            if recovered {
                self.adopt_history().await;
            }
        });
    }

    async fn adopt_history(&self) {
        let Some(publisher) = &self.publisher else {
            return;
        };
        match publisher.adopt_replica_history(&self.replica) {
            Ok(()) => {
                self.state().history_known = true;
                tracing::info!("signing history recovered from peers; publishing enabled");
            }
            Err(e) => tracing::error!(error = %e, "could not record the recovered signing history"),
        }
    }

    /// One anti-entropy round with a peer: compare summaries, then fetch what is missing in
    /// bounded batches. Returns how many new records were stored.
    async fn sync_with(self: &Arc<Self>, peer: PeerId) -> Result<u64, NodeError> {
        let SyncResponse::Summary { network, heads } = self.request_patiently(peer, SyncRequest::Summary).await? else {
            return Err(NodeError::Api(format!("{peer} answered a summary request with something else")));
        };
        if network != self.charter.network {
            return Err(NodeError::Api(format!("{peer} is on network {network:?}, not {:?}", self.charter.network)));
        }
        let node = self.clone();
        let local = tokio::task::spawn_blocking(move || node.replica.chain_heads()).await.expect("no panic")?;
        {
            let mut state = self.state();
            for h in &heads {
                let max = state.remote_max.entry(h.author.clone()).or_default();
                *max = (*max).max(h.max_seq);
            }
            for c in &local {
                let lag = state.remote_max.get(c.author.as_str()).copied().unwrap_or(0).saturating_sub(c.contiguous);
                self.metrics.set_lag(c.author.as_str(), lag);
            }
        }
        let local: Vec<LocalChain> = local
            .iter()
            .map(|c| LocalChain { author: c.author.to_string(), max_seq: c.max_seq, missing: c.missing.clone() })
            .collect();
        let ranges = plan(&local, &heads, |a| a.parse().ok().is_some_and(|m| self.charter.member(&m).is_some()));
        let batch = self.config.config.sync.batch_records;
        let mut fetched = 0u64;
        // The pipeline: while one batch is verified and stored on the blocking pool, the next
        // is already being fetched. At most two batches are in memory.
        let mut storing: Option<StoringBatch> = None;
        for range in ranges {
            let mut from = range.from;
            while from <= range.to {
                let request = SyncRequest::Fetch { author: range.author.clone(), from, to: range.to, limit: batch };
                let (records, more) = match self.request_patiently(peer, request).await? {
                    SyncResponse::Records { records, more, .. } => (records, more),
                    SyncResponse::Error { message } => {
                        return Err(NodeError::Api(format!("{peer}: {message}")));
                    }
                    SyncResponse::Summary { .. } | SyncResponse::Busy { .. } => {
                        return Err(NodeError::Api(format!("{peer} answered a fetch with something else")));
                    }
                };
                let Some(last) = records.last() else { break };
                // Where the next batch starts, read unverified from this batch's last record: a
                // lie costs one wasted request, because nothing is trusted before it is verified.
                let next = SignedRecord::from_bytes(last.clone())
                    .decode()
                    .ok()
                    .filter(|(r, _)| r.author.as_str() == range.author && r.seq >= from)
                    .map(|(r, _)| r.seq + 1);
                fetched += self.finish_storing(peer, storing.take()).await?;
                let signed: Vec<SignedRecord> = records.into_iter().map(SignedRecord::from_bytes).collect();
                let node = self.clone();
                storing = Some(tokio::task::spawn_blocking(move || node.accept(signed, Source::Sync)));
                match next {
                    Some(n) if more => from = n,
                    _ => break,
                }
            }
        }
        fetched += self.finish_storing(peer, storing.take()).await?;
        if fetched > 0 {
            self.metrics.sync_records_fetched.inc_by(fetched);
            self.state().peers.entry(peer).or_default().records_fetched += fetched;
            tracing::info!(%peer, fetched, "caught up records by sync");
        }
        Ok(fetched)
    }

    /// Waits for a batch being stored; returns how many of its records were new. A peer that
    /// served an invalid record is banned: honest nodes only serve what they verified.
    async fn finish_storing(&self, peer: PeerId, storing: Option<StoringBatch>) -> Result<u64, NodeError> {
        let Some(storing) = storing else { return Ok(0) };
        let outcomes = storing.await.expect("no panic")?;
        let invalid = outcomes.iter().filter(|o| o.is_err()).count();
        if let Some(offence) = outcomes.iter().find_map(|o| verdict(Source::Sync, outcome_of(o)).offence) {
            self.penalise(peer, offence).await;
            return Err(NodeError::Api(format!("{peer} served {invalid} invalid records; banned")));
        }
        Ok(outcomes.iter().filter(|o| o.as_ref().is_ok_and(|a| a.outcome == Inserted::New)).count() as u64)
    }

    /// Sends a sync request, waiting and retrying while the peer answers
    /// [`SyncResponse::Busy`] (its serving limits), for at most about a request timeout.
    async fn request_patiently(&self, peer: PeerId, request: SyncRequest) -> Result<SyncResponse, NodeError> {
        let patience = Duration::from_secs(self.config.config.sync.request_timeout_secs);
        let started = tokio::time::Instant::now();
        loop {
            let response = self.net.request(peer, request.clone()).await.map_err(|e| NodeError::Api(e.to_string()))?;
            match response {
                SyncResponse::Busy { retry_after_ms } if started.elapsed() < patience => {
                    tokio::time::sleep(Duration::from_millis(retry_after_ms.clamp(10, 5_000))).await;
                }
                SyncResponse::Busy { .. } => return Err(NodeError::Api(format!("{peer} stayed busy"))),
                other => return Ok(other),
            }
        }
    }

    /// `rix status` from the running daemon.
    pub async fn status(self: &Arc<Self>) -> Result<StatusView, NodeError> {
        let node = self.clone();
        let mut status =
            tokio::task::spawn_blocking(move || offline_status(&node.config, &node.charter, &node.replica))
                .await
                .expect("no panic")?;
        status.daemon_running = true;
        status.peer_id = self.net.local_peer_id().to_string();
        status.listen_addresses = self
            .net
            .listen_addrs()
            .await
            .map_err(|e| NodeError::Api(e.to_string()))?
            .iter()
            .map(ToString::to_string)
            .collect();
        status.connected_peers = self.peers().await?;
        status.can_publish = self.can_publish();
        Ok(status)
    }

    /// `rix peers`.
    pub async fn peers(&self) -> Result<Vec<PeerView>, NodeError> {
        let connected = self.net.peers().await.map_err(|e| NodeError::Api(e.to_string()))?;
        let state = self.state();
        let mut out: Vec<PeerView> = connected
            .into_iter()
            .map(|p| {
                let sync = state.peers.get(&p.peer_id).cloned().unwrap_or_default();
                PeerView {
                    peer_id: p.peer_id.to_string(),
                    member: Some(p.role),
                    address: Some(p.address.to_string()),
                    last_sync: sync.last_sync.map(|t| t.to_string()),
                    records_fetched: sync.records_fetched,
                    gossip_protocol: Some(p.gossip_protocol),
                    in_mesh: p.in_mesh,
                    gossip_subscribed: p.subscribed,
                    gossip_score: p.score,
                }
            })
            .collect();
        out.sort_by(|a, b| a.member.cmp(&b.member));
        Ok(out)
    }
}
