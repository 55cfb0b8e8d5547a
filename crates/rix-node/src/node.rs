//! [`Node`]: what a running node shares with its API handlers, benchmarks and tests. It holds
//! no protocol state, and no lock around any: the replica (sled), the search index (tantivy)
//! and the signing journal are safe to share; the protocol state (sessions, scores, bans,
//! what each peer synced) belongs to the actor (`actor.rs`), which this handle asks through a
//! channel; whether the signing history is known is the actor's, published on a watch channel.
//!
//! Everything that reaches the replica from outside, gossip, sync and import alike, goes
//! through one pipeline, [`Node::accept`] (one verification pass, one write, indexing and
//! metrics of exactly what was new).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rix_engine::Serve;
use rix_engine::serve::page;
use rix_net::NetworkHandle;
use rix_net::protocol::{AuthorHead, MAX_FETCH_RECORDS, MAX_RESPONSE_RECORD_BYTES, SyncResponse};
use rix_record::{Charter, Content, SignedRecord, Timestamp, VerifiedRecord};
use rix_search::{SearchIndex, SearchQuery, SearchResults};
use rix_store::query::{Detail, RecordView, view_of};
use rix_store::{Durability, Inserted, Replica};
use tokio::sync::{mpsc, oneshot, watch};

use crate::actor::{PeerSyncs, Query};
use crate::backend::offline_status;
use crate::config::LoadedConfig;
use crate::error::NodeError;
use crate::indexer::IndexJob;
use crate::metrics::Metrics;
use crate::ops::{PeerView, StatusView, StoredBatch};
use crate::publish::{Publisher, Signed};
use crate::supervisor::Supervisor;

pub use rix_engine::Source;

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

/// Notices of newly stored records kept for slow subscribers (they then miss some).
const STORED_NOTICES: usize = 4096;

/// A running node, as its API handlers, benchmarks and tests see it.
pub struct Node {
    pub(crate) config: LoadedConfig,
    /// The genesis charter (`charter.toml`).
    pub(crate) genesis: Charter,
    /// The charter version in force, which records are verified against; the actor replaces
    /// it when stored amendments and approvals make a new version.
    pub(crate) charter: watch::Sender<Arc<crate::charter::Current>>,
    /// Held while charter items are stored and the version recomputed: two sessions storing
    /// items at once would each miss the other's (an amendment in one, its approvals in the
    /// other), and neither would apply the version they make together.
    pub(crate) charter_updates: std::sync::Mutex<()>,
    pub(crate) replica: Arc<Replica>,
    pub(crate) publisher: Option<Publisher>,
    pub(crate) net: NetworkHandle,
    pub(crate) metrics: Metrics,
    pub(crate) api_addr: SocketAddr,
    pub(crate) token: String,
    pub(crate) search: Option<Arc<SearchIndex>>,
    pub(crate) index_jobs: Option<std::sync::mpsc::SyncSender<IndexJob>>,
    pub(crate) stored: tokio::sync::broadcast::Sender<rix_record::RecordId>,
    /// Whether this member's signing history is known (publishing allowed); the actor sets it.
    pub(crate) history_known: watch::Receiver<bool>,
    /// Questions for the actor.
    pub(crate) queries: mpsc::Sender<Query>,
    /// Where workers and tasks report that they failed.
    pub(crate) supervisor: Supervisor,
    /// Free space on the data directory's disk, and whether records from outside are taken.
    pub(crate) disk: crate::disk::DiskGauge,
    /// The analysts' web view, served with the API.
    pub(crate) web: Arc<rix_web::Web>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.net.local_peer_id())
    }
}

impl Node {
    /// The channel [`Node::subscribe_stored`] listens to.
    pub(crate) fn stored_notices() -> tokio::sync::broadcast::Sender<rix_record::RecordId> {
        tokio::sync::broadcast::channel(STORED_NOTICES).0
    }

    /// The web view: `login_url` gives a one-time login link.
    pub fn web(&self) -> &Arc<rix_web::Web> {
        &self.web
    }

    /// The replica.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// The charter version records are verified against.
    pub fn charter(&self) -> Arc<Charter> {
        self.charter.borrow().charter.clone()
    }

    /// The charter version in force, with the node's summary of the chain.
    pub fn charter_now(&self) -> Arc<crate::charter::Current> {
        self.charter.borrow().clone()
    }

    /// Checks and stores charter items from a peer (call from a blocking thread); returns
    /// what became of them, and the new version if they made one.
    pub(crate) fn accept_charter(
        &self,
        items: Vec<Vec<u8>>,
        source: Source,
    ) -> Result<(crate::charter::Accepted, Option<Arc<crate::charter::Current>>), NodeError> {
        let _updating = self.charter_updates.lock().unwrap_or_else(|p| p.into_inner());
        let mut chain = crate::charter::CharterChain::load(&self.genesis, &self.replica)?;
        let from_sync = source == Source::Sync;
        let accepted = chain.accept(&self.replica, items, from_sync).inspect_err(|e| self.write_failed(e))?;
        for why in &accepted.invalid {
            tracing::warn!(source = source.label(), error = %why, "rejected a charter item");
        }
        let label = source.label();
        self.metrics.charter_items(label, "new", accepted.new.len() as u64);
        self.metrics.charter_items(label, "duplicate", u64::from(accepted.duplicate));
        self.metrics.charter_items(label, "rejected", accepted.invalid.len() as u64);
        self.metrics.charter_items(label, "ignored", u64::from(accepted.ignored));
        Ok((accepted, self.apply_chain(&chain)?))
    }

    /// This node stored charter items of its own: the actor gossips them and applies the
    /// version they make; returns once it has.
    pub async fn charter_stored(&self, items: Vec<Vec<u8>>) -> Result<(), NodeError> {
        let (reply, done) = oneshot::channel();
        self.queries.send(Query::CharterStored { items, reply }).await.map_err(|_| NodeError::Stopping)?;
        done.await.map_err(|_| NodeError::Stopping)
    }

    /// Reads the chain from the replica again (after a local proposal or approval); the new
    /// version if it changed.
    pub(crate) fn refresh_charter(&self) -> Result<Option<Arc<crate::charter::Current>>, NodeError> {
        let _updating = self.charter_updates.lock().unwrap_or_else(|p| p.into_inner());
        let chain = crate::charter::CharterChain::load(&self.genesis, &self.replica)?;
        self.apply_chain(&chain)
    }

    /// Makes `chain`'s current version the one in force; the new version if it changed (the
    /// summary alone may change without a new version: more items held).
    fn apply_chain(
        &self,
        chain: &crate::charter::CharterChain,
    ) -> Result<Option<Arc<crate::charter::Current>>, NodeError> {
        let current = Arc::new(chain.current(&self.replica)?);
        let before = self.charter_now();
        self.charter.send_replace(current.clone());
        if current.hash != before.hash {
            let taken =
                crate::charter::rejudge(&self.replica, &current.charter).inspect_err(|e| self.write_failed(e))?;
            if let Some(search) = &self.search {
                for id in &taken {
                    let _ = search.remove(id);
                }
            }
            if let Ok(n) = self.replica.len() {
                self.metrics.records_stored.set(n as i64);
            }
            if let Some(publisher) = &self.publisher {
                publisher.set_charter((*current.charter).clone());
                let signing = &self.config.config.keys.signing;
                if let Some(key) = crate::publish::adopt_next_key(signing, &publisher.member(), &current.charter)? {
                    publisher.rotate(key, (*current.charter).clone());
                }
            }
            tracing::info!(
                version = current.version,
                hash = %current.hash,
                members = current.charter.members.len(),
                observers = current.charter.observers.len(),
                "applied a new charter version"
            );
            self.metrics.charter_version.set(current.version as i64);
        }
        Ok((current.summary != before.summary || current.hash != before.hash).then_some(current))
    }

    /// The genesis charter.
    pub fn genesis(&self) -> &Charter {
        &self.genesis
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
        self.search.as_deref().ok_or(NodeError::NoSearchIndex)
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
        self.publisher.is_some() && *self.history_known.borrow()
    }

    /// Signs, stores and gossips a record as this node's member.
    pub async fn publish(self: &Arc<Self>, content: Content) -> Result<RecordView, NodeError> {
        let Some(publisher) = &self.publisher else { return Err(NodeError::NotAMember) };
        // The charter version in force, not the one the node started with, decides.
        let charter = self.charter();
        let (member, key) = (&publisher.member(), publisher.public_key());
        if charter.member(member).is_none() {
            let charter_file = self.config.config.charter.clone();
            return Err(NodeError::MemberNotInCharter { member: member.to_string(), charter: charter_file });
        }
        if charter.retirement(member, &key).is_some() {
            return Err(NodeError::KeyRevoked { member: member.to_string() });
        }
        if !*self.history_known.borrow() {
            return Err(NodeError::HistoryUnknown);
        }
        if !self.disk.may_publish() {
            return Err(self.below_reserve());
        }
        let node = self.clone();
        let Signed { record, restored } =
            blocking(move || node.publisher.as_ref().expect("checked").sign(&node.replica, content, Timestamp::now()))
                .await?
                .inspect_err(|e| self.publish_failed(e))?;
        if let Some(earlier) = restored {
            // Signed before but never stored (its store failed): stored now, so indexed and
            // sent now, before the record that follows it.
            self.index(&earlier);
            tracing::info!(id = %earlier.id().short(), seq = earlier.record().seq, "stored the member's last record, whose store had failed");
            if let Err(e) = self.net.publish(earlier.signed()).await {
                tracing::warn!(error = %e, "could not gossip the restored record; peers get it by sync");
            }
        }
        // Signed and journaled, the record is durable: gossip it while the replica stores it,
        // so its fdatasync is not on the path to the other members.
        let node = self.clone();
        let stored = record.clone();
        let store = blocking(move || -> Result<_, NodeError> {
            // Not new: a peer synced it back first, and that path indexed and announced it.
            if node.publisher.as_ref().expect("checked").store(&node.replica, &stored)? {
                node.index(&stored);
            }
            Ok(view_of(&node.replica, stored, Detail::Summary)?)
        });
        let (outcome, view) = tokio::join!(self.net.publish(record.signed()), store);
        let view = view?.inspect_err(|e| {
            if let NodeError::Publish(p) = e {
                self.publish_failed(p);
            }
        })?;
        self.metrics.received("publish");
        self.metrics.records_stored.set(self.replica.len()? as i64);
        let outcome = outcome?;
        tracing::info!(id = %record.id().short(), seq = record.record().seq, ?outcome, "published");
        Ok(view)
    }

    /// A publish that could not write the replica: the same rule as [`Node::write_failed`].
    fn publish_failed(&self, e: &crate::publish::PublishError) {
        use crate::publish::PublishError;
        if let PublishError::Store(e) | PublishError::Unstored { source: e, .. } = e {
            self.write_failed(e);
        }
    }

    /// The one ingest pipeline, for gossip, sync and import alike: verifies and stores records
    /// that arrived from outside, indexes and announces the new ones, and counts each outcome
    /// by source. Returns the outcome per record (or the rejection reason), or the replica's
    /// error if storing failed, which is this node's fault, not the sender's. Call from a
    /// blocking thread.
    pub fn accept(
        &self,
        records: Vec<SignedRecord>,
        source: Source,
    ) -> Result<Vec<Result<Accepted, rix_record::VerifyError>>, NodeError> {
        let StoredBatch { verified, slots, outcomes } = self.ingest(&records, source)?;
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
    pub fn import_batch(&self, records: Vec<SignedRecord>) -> Result<StoredBatch, NodeError> {
        self.ingest(&records, Source::Import)
    }

    /// The free-space reserve's refusal, if the disk is below it.
    pub(crate) fn below_reserve(&self) -> NodeError {
        NodeError::DiskReserve { dir: self.disk.dir().to_owned(), free: self.disk.free(), reserve: self.disk.reserve() }
    }

    /// A failed write of the replica: its sentence is logged and, for a failure of the disk
    /// (full, read-only, no permission, I/O error), the daemon stops with it, so that it never
    /// stays up serving errors in an unknown state; its supervisor starts it again, and the
    /// free-space reserve then keeps it from taking records until there is room.
    pub(crate) fn write_failed(&self, e: &rix_store::StoreError) {
        tracing::error!(error = %e, "replica write failed");
        if e.is_io() {
            self.supervisor.fail("replica", e.to_string());
        }
    }

    /// See [`Node::accept`].
    fn ingest(&self, records: &[SignedRecord], source: Source) -> Result<StoredBatch, NodeError> {
        if !self.disk.accepting() {
            // Not the senders' fault: the records come again by sync once there is room.
            return Err(self.below_reserve());
        }
        // Records from peers are also held by peers, so they need not wait for an fdatasync (a
        // power cut loses at most sled's last half second of them, and sync brings those
        // back); what a user imports is acknowledged to them, so it does.
        let durability = match source {
            Source::Gossip | Source::Sync => Durability::Flushed,
            Source::Import => Durability::Synced,
        };
        let stored = crate::ops::verify_and_store(&self.replica, &self.charter(), records, durability)
            .inspect_err(|e| self.write_failed(e))?;
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

    /// Answers a sync request the engine admitted and checked, from the replica (call from a
    /// blocking thread).
    pub(crate) fn serve(&self, serve: &Serve) -> SyncResponse {
        let result = match serve {
            Serve::Summary => self.replica.chain_heads().map(|chains| SyncResponse::Summary {
                network: self.genesis.network.clone(),
                charter: Some(self.charter_now().summary.clone()),
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
            Serve::Charter { after } => {
                let after = after.as_deref().and_then(|a| hex::decode(a).ok());
                self.replica
                    .charter_items_after(after.as_deref(), MAX_RESPONSE_RECORD_BYTES, MAX_FETCH_RECORDS as usize)
                    .map(|(items, more)| {
                        let items: Vec<Vec<u8>> = items.into_iter().map(|(_, bytes)| bytes).collect();
                        SyncResponse::Charter { count: items.len() as u32, items, more }
                    })
            }
            Serve::Fetch(fetch) => {
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

    /// `rix status` from the running daemon.
    pub async fn status(self: &Arc<Self>) -> Result<StatusView, NodeError> {
        let node = self.clone();
        let mut status = blocking(move || offline_status(&node.config, &node.charter(), &node.replica)).await??;
        status.daemon_running = true;
        status.peer_id = self.net.local_peer_id().to_string();
        status.listen_addresses = self.net.listen_addrs().await?.iter().map(ToString::to_string).collect();
        status.connected_peers = self.peers().await?;
        status.can_publish = self.can_publish() && self.disk.may_publish();
        status.storage = Some(self.disk.view());
        Ok(status)
    }

    /// What the actor knows of each connected peer's sync.
    async fn peer_syncs(&self) -> Result<PeerSyncs, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.queries.send(Query::PeerSyncs { reply }).await.map_err(|_| NodeError::Stopping)?;
        answer.await.map_err(|_| NodeError::Stopping)
    }

    /// `rix peers`.
    pub async fn peers(&self) -> Result<Vec<PeerView>, NodeError> {
        let connected = self.net.peers().await?;
        let syncs = self.peer_syncs().await?;
        let mut out: Vec<PeerView> = connected
            .into_iter()
            .map(|p| {
                let sync = syncs.get(&p.peer_id).cloned().unwrap_or_default();
                PeerView {
                    peer_id: p.peer_id.to_string(),
                    member: Some(p.role.parse().unwrap_or(rix_api::PeerRole::Unknown)),
                    address: Some(p.address.to_string()),
                    last_sync: sync.last_sync,
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

/// Runs `work` on the blocking pool; its panic is this node's bug, reported as an error to
/// the caller instead of unwinding through an API handler.
pub(crate) async fn blocking<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> Result<R, NodeError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| NodeError::TaskFailed(e.to_string()))
}
