//! The node daemon: start-up wiring and shutdown. [`start`] opens the replica, the search
//! index and the network, then runs the daemon's workers under one supervisor:
//!
//! ```text
//!  network (rix-net, owns the swarm) ──NetworkEvent──► actor (owns the engine) ──► IO
//!  local API (axum) ──► Node (replica, search, publish) ◄── actor's ingest/serve on the blocking pool
//!  search indexer thread ◄── records newly stored
//! ```
//! The actor (`actor.rs`) owns all protocol state; [`Node`] (`node.rs`) is what the API shares.
//! Any worker that fails stops the daemon with [`NodeError::WorkerFailed`].

use std::sync::Arc;
use std::time::Duration;

use rix_net::NodeIdentity;
use rix_net::service::{self, NetworkSettings};
use rix_record::Charter;
use rix_search::SearchIndex;
use rix_store::{Replica, ReplicaOptions};
use tokio::sync::{mpsc, watch};

use crate::actor::Actor;
use crate::backend::publisher_for;
use crate::config::LoadedConfig;
use crate::disk::{Change, DiskGauge};
use crate::error::NodeError;
use crate::indexer::{INDEX_QUEUE, IndexJob, background_priority, run_indexer};
use crate::node::blocking;
use crate::supervisor::{FAILPOINT_ENV, Supervisor};

pub use crate::node::{Accepted, Node, Source};
pub use crate::supervisor::WorkerFailure;

/// Questions for the actor waiting to be answered.
const QUERY_QUEUE: usize = 64;

/// A node started with [`start`]; stop it with [`RunningNode::stop`], or run it with
/// [`RunningNode::run_until`].
pub struct RunningNode {
    node: Arc<Node>,
    indexer: Option<std::thread::JoinHandle<()>>,
    failures: mpsc::UnboundedReceiver<WorkerFailure>,
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
                // A failed node (a full disk, say) may not be able to stop gracefully: whatever
                // waits on the disk may wait for ever. It stops within a bound, and the search
                // index, derived data, is left to be checked at the next start.
                match tokio::time::timeout(FAILED_STOP, self.stop_after_failure()).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "stopping after the failure"),
                    Ok(Ok(())) => {}
                    Err(_) => {
                        tracing::warn!(secs = FAILED_STOP.as_secs(), "could not stop gracefully in time; exiting")
                    }
                }
                Err(NodeError::WorkerFailed { worker, reason })
            }
        }
    }

    /// After a worker failed: stop the network and every task, flush the replica if it can be,
    /// tell the indexer to stop without syncing the search index (it is checked, and rebuilt if
    /// damaged, at the next start), remove the API token.
    async fn stop_after_failure(self) -> Result<(), NodeError> {
        let node = &self.node;
        node.net.shutdown().await;
        let left = node.supervisor.stop(Duration::from_secs(5)).await;
        if left > 0 {
            tracing::warn!(tasks = left, "some tasks did not stop within 5 s");
        }
        let _ = std::fs::remove_file(node.config.api_token_path());
        if let Some(jobs) = &node.index_jobs {
            // Not `send`: a full queue would block this task; the process ends soon anyway.
            let _ = jobs.try_send(IndexJob::Stop);
        }
        let replica = node.replica.clone();
        let stuck = node.supervisor.fails("stuck flush");
        blocking(move || {
            if stuck {
                // The failpoint: a flush that never returns, as on a disk that stopped answering.
                loop {
                    std::thread::park();
                }
            }
            replica.flush()
        })
        .await??;
        Ok(())
    }

    /// Graceful shutdown: stop the API, the actor and the network, wait for every task and
    /// the indexer thread, flush the replica, remove the API token.
    pub async fn stop(self) -> Result<(), NodeError> {
        let node = &self.node;
        node.net.shutdown().await;
        let left = node.supervisor.stop(Duration::from_secs(10)).await;
        if left > 0 {
            tracing::warn!(tasks = left, "some tasks did not stop within 10 s");
        }
        node.replica.flush()?;
        if let (Some(index), Some(jobs)) = (&node.search, &node.index_jobs) {
            let (ack, done) = std::sync::mpsc::channel();
            if jobs.send(IndexJob::Flush(ack)).is_ok() && done.recv_timeout(Duration::from_secs(60)).is_ok() {
                index.write_synced(node.replica.len()?);
            }
            let _ = jobs.send(IndexJob::Stop);
        }
        if let Some(indexer) = self.indexer {
            let joined = tokio::task::spawn_blocking(move || indexer.join());
            if tokio::time::timeout(Duration::from_secs(60), joined).await.is_err() {
                tracing::warn!("the search indexer did not stop within 60 s");
            }
        }
        let _ = std::fs::remove_file(node.config.api_token_path());
        tracing::info!("node stopped");
        Ok(())
    }
}

/// Starts a node from its config: network, event handling, periodic sync and the local API.
pub async fn start(config: LoadedConfig) -> Result<RunningNode, NodeError> {
    let genesis = Charter::load(&config.config.charter)?;
    let identity = NodeIdentity::load(&config.config.keys.node)?;
    let options = config.config.store.replica_options();
    let replica = Arc::new(open_replica(config.replica_dir(), options).await?);
    let current = crate::charter::CharterChain::load(&genesis, &replica)?.current(&replica)?;
    let charter = (*current.charter).clone();
    // A version applied while the daemon was stopped (or before a crash) may retire keys.
    crate::charter::rejudge(&replica, &charter)?;
    tracing::info!(version = current.version, hash = %current.hash, genesis = %current.summary.genesis, "charter version in force");
    let publisher = match &config.config.member {
        Some(member) => match publisher_for(&config, &charter) {
            Ok(publisher) => Some(publisher),
            Err(e @ (NodeError::MemberNotInCharter { .. } | NodeError::KeyRevoked { .. })) => {
                tracing::warn!(%member, version = current.version, reason = %e, "this member cannot publish under the charter version in force; the node replicates, and publishes once an amendment admits it or installs a new key");
                Some(crate::backend::waiting_publisher(&config, &charter)?)
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let listed = config.config.member.as_ref().and_then(|m| charter.member(m));
    if let Some(m) = listed.filter(|m| m.peer_id != identity.peer_id().to_string()) {
        tracing::warn!(charter_peer_id = %m.peer_id, node_peer_id = %identity.peer_id(), "this node's peer id is not the one the charter lists for its member; other nodes will refuse it");
    }

    let net_config = &config.config.network;
    let settings = NetworkSettings {
        listen: net_config.listen.clone(),
        charter: charter.clone(),
        genesis: current.summary.genesis.clone(),
        mdns: net_config.mdns,
        idle_timeout: Duration::from_secs(net_config.idle_timeout_secs),
        request_timeout: Duration::from_secs(config.config.sync.request_timeout_secs),
        max_connections: net_config.max_connections,
        max_memory_bytes: usize::try_from(net_config.max_memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
    };
    let (net, events, event_loop) = service::new(&identity, settings)?;

    let api_addr = config.config.api.listen;
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
    let disk = DiskGauge::new(config.config.data_dir.clone(), config.config.store.reserve_bytes());
    if let Err(e) = disk.measure() {
        tracing::warn!(error = %e, dir = %disk.dir().display(), "cannot measure free space; the free-space reserve is not enforced");
    }
    let (supervisor, failures) = Supervisor::new();
    let (history_tx, history_known) = watch::channel(history_known);
    let (queries_tx, queries) = mpsc::channel(QUERY_QUEUE);
    let hosts = rix_web::Hosts::new(api_addr, &config.config.api.hosts);
    let runtime = tokio::runtime::Handle::current();
    // The web view asks the node through its backend; the node holds the web view's sessions.
    let node = Arc::new_cyclic(|me: &std::sync::Weak<Node>| Node {
        web: rix_web::Web::new(web_backend(me.clone(), runtime), hosts),
        config,
        genesis,
        charter: watch::channel(Arc::new(current)).0,
        charter_updates: std::sync::Mutex::new(()),
        replica,
        publisher,
        net: net.clone(),
        metrics: crate::metrics::Metrics::new(),
        api_addr,
        token,
        search: search.clone(),
        index_jobs: index_jobs_tx,
        stored: Node::stored_notices(),
        history_known,
        queries: queries_tx,
        supervisor: supervisor.clone(),
        disk,
    });
    node.metrics.records_stored.set(node.replica.len()? as i64);
    node.metrics.charter_version.set(node.charter_now().version as i64);
    if !node.disk.accepting() {
        tracing::warn!("{}", node.below_reserve());
    }
    let stop = supervisor.stopping();

    supervisor.worker("network", event_loop.run());
    let (actor, first) = Actor::new(node.clone(), events, queries, history_tx);
    supervisor.worker("protocol engine", actor.run(first));

    if !node.can_publish() && node.publisher.is_some() {
        // `sync.recovery_timeout_secs`: how long to wait for peers before telling the operator
        // that recovery is stuck, and what to do; publishing stays refused until it succeeds.
        let mut known = node.history_known.clone();
        let every = Duration::from_secs(node.config.config.sync.recovery_timeout_secs.max(1));
        let stop = stop.clone();
        supervisor.worker("history recovery watch", async move {
            let mut waited = Duration::ZERO;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    () = stop.cancelled() => return,
                }
                if *known.borrow_and_update() {
                    // Recovered: nothing to watch, but a worker ends only at shutdown.
                    return stop.cancelled().await;
                }
                waited += every;
                tracing::warn!(
                    waited_secs = waited.as_secs(),
                    "signing history still unknown: no peer has completed a sync round; publishing stays refused. Check that this node reaches a member's node (`rix peers`), or restore data/journal from a backup"
                );
            }
        });
    }

    let (n, stop_watch) = (node.clone(), stop.clone());
    supervisor.worker("disk watch", async move {
        loop {
            n.metrics.disk_free_bytes.set(i64::try_from(n.disk.free()).unwrap_or(i64::MAX));
            n.metrics.ingest_paused.set(i64::from(!n.disk.accepting()));
            tokio::select! {
                () = tokio::time::sleep(DISK_WATCH) => {}
                () = stop_watch.cancelled() => return,
            }
            // statvfs: one cheap system call, fine on the runtime's thread.
            match n.disk.measure() {
                Ok(Some(Change::Paused)) => tracing::warn!("{}", n.below_reserve()),
                Ok(Some(Change::Resumed)) => tracing::warn!(
                    free_mib = n.disk.free() >> 20,
                    "free space is back above the reserve: taking records from peers and imports again"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot measure free space"),
            }
        }
    });

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
    supervisor.worker("local API", async move {
        let app = crate::api::router(n);
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "local API stopped");
        }
    });
    node.web.warm();
    tracing::info!(peer_id = %node.net.local_peer_id(), api = %api_addr, member = ?node.config.config.member, "node started");
    Ok(RunningNode { node, indexer, failures })
}

/// How the web view opens a backend on its node: the node holds the web view, so the web
/// view holds the node weakly (a page asked while the node is being dropped gets an error).
fn web_backend(node: std::sync::Weak<Node>, runtime: tokio::runtime::Handle) -> rix_web::OpenBackend {
    Arc::new(move || -> Result<Box<dyn rix_api::Backend>, rix_api::Error> {
        let node = node
            .upgrade()
            .ok_or_else(|| rix_api::Error::refused(rix_api::ErrorKind::Unavailable, "the node is stopping"))?;
        Ok(Box::new(crate::inprocess::InProcessBackend::new(node, runtime.clone())))
    })
}

/// The longest a daemon whose worker failed spends stopping before it exits anyway.
const FAILED_STOP: Duration = Duration::from_secs(20);

/// How often free space on the data directory's disk is measured.
const DISK_WATCH: Duration = Duration::from_secs(1);

/// Opens the replica, waiting up to ten seconds while another process (typically a `rix` query
/// that started just before the daemon) still holds it.
async fn open_replica(dir: std::path::PathBuf, options: ReplicaOptions) -> Result<Replica, NodeError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (d, o) = (dir.clone(), options.clone());
        match blocking(move || Replica::open(&d, &o)).await? {
            Err(rix_store::StoreError::Locked(_)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!("replica in use by another process; waiting for it");
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
