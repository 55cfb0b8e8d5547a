//! Backends over a local replica. [`LocalBackend`] opens the replica itself (no daemon runs);
//! [`InProcessBackend`](crate::inprocess::InProcessBackend) is a node running in this process
//! (devnet, the tests, and the daemon's own API handlers). Both are a [`ReplicaBackend`], which
//! answers every query once, through `rix-store`'s one mapping from stored records to views;
//! they differ only in what [`Local`] says: how they publish, store an import's batches,
//! search and report status. A running daemon's API client is `rix_api::ApiClient`.

use std::sync::Arc;

use rix_api::charter::{CharterLog, CharterView, PendingProposals, ProposalView};
use rix_api::{Backend, Error, ImportReport, ReindexReport, StatusView, VerifyReport};
use rix_record::amendment::Change;
use rix_record::{Author, Charter, Content, MemberCode, MemberKey, RecordId, SignedRecord, Timestamp};
use rix_search::{SearchIndex, SearchQuery, SearchResults};
use rix_store::query::{Detail, RecordFilter, RecordList, RecordView, StatsReport, view_of};
use rix_store::{Durability, Replica};

use crate::charter::CharterChain;
use crate::config::LoadedConfig;
use crate::error::NodeError;
use crate::ops::{self, StoredBatch};
use crate::publish::{Publisher, SigningJournal};

/// What differs between the backends over a local replica.
pub trait Local {
    /// The replica.
    fn replica(&self) -> &Replica;
    /// The charter records are verified against: the current version of the chain.
    fn charter(&self) -> Arc<Charter>;
    /// This node stored charter items of its own: a running node gossips them and applies
    /// the version they make; a replica opened offline keeps them for the next start.
    fn charter_stored(&self, items: Vec<Vec<u8>>) -> Result<(), NodeError>;
    /// The genesis charter (the node's `charter.toml`).
    fn genesis(&self) -> &Charter;
    /// The node's config.
    fn config(&self) -> &LoadedConfig;
    /// The search index, for `reindex`.
    fn search_index(&self) -> Result<&SearchIndex, NodeError>;
    /// `rix search`, with whatever the index must catch up first.
    fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError>;
    /// `rix status`.
    fn status(&self) -> Result<StatusView, NodeError>;
    /// Signs and stores `content` as this node's member.
    fn publish(&self, content: Content) -> Result<RecordView, NodeError>;
    /// Verifies and stores one batch of an import.
    fn store_batch(&self, records: Vec<SignedRecord>) -> Result<StoredBatch, NodeError>;
    /// Checks, stores and applies charter items of an import.
    fn store_charter(&self, items: Vec<Vec<u8>>) -> Result<crate::charter::Accepted, NodeError>;
}

/// A [`Backend`] over a local replica: every query answered the same way, whatever `L` is.
pub struct ReplicaBackend<L>(pub L);

impl<L: Local> ReplicaBackend<L> {
    fn members(&self) -> Vec<MemberCode> {
        self.0.charter().members.iter().map(|m| m.code.clone()).collect()
    }

    /// The charter chain, read from the replica: a few dozen small items, so each charter
    /// command reads it afresh rather than keep a copy that could go stale.
    fn chain(&self) -> Result<CharterChain, NodeError> {
        Ok(CharterChain::load(self.0.genesis(), self.0.replica())?)
    }

    /// This node's member and signing key, for proposals and approvals.
    fn signer(&self) -> Result<(MemberCode, MemberKey), NodeError> {
        let config = &self.0.config().config;
        let member = config.member.clone().ok_or(NodeError::NotAMember)?;
        Ok((member, MemberKey::load(&config.keys.signing)?))
    }

    fn proposal(chain: &CharterChain, id: RecordId) -> Result<ProposalView, Error> {
        let view = chain.proposal(&id).expect("the chain holds what it just stored");
        Ok(view)
    }
}

impl<L: Local> Backend for ReplicaBackend<L> {
    fn list(&self, filter: &RecordFilter) -> Result<RecordList, Error> {
        Ok(self.0.replica().list(filter).map_err(NodeError::from)?)
    }

    fn show(&self, id: &str) -> Result<RecordView, Error> {
        Ok(self.0.replica().show(id).map_err(NodeError::from)?)
    }

    fn stats(&self) -> Result<StatsReport, Error> {
        Ok(self.0.replica().stats(&self.members()).map_err(NodeError::from)?)
    }

    fn export_views(
        &self,
        filter: &RecordFilter,
        each: &mut dyn FnMut(RecordView) -> std::io::Result<()>,
    ) -> Result<u64, Error> {
        Ok(ops::export_views(self.0.replica(), filter, each)?)
    }

    fn export_signed(&self, each: &mut rix_api::backend::PackSink<'_>) -> Result<u64, Error> {
        Ok(ops::export_envelopes(self.0.replica(), each)?)
    }

    fn import(
        &self,
        pack: &mut dyn std::io::Read,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, Error> {
        Ok(ops::import_pack_into(
            pack,
            |n| progress(n as u64, total),
            &mut |batch| self.0.store_batch(batch),
            &mut |items| self.0.store_charter(items),
        )?)
    }

    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, Error> {
        let replica = self.0.replica();
        let total = replica.len().map_err(NodeError::from)?;
        Ok(ops::verify_replica(replica, &self.0.charter(), |n| progress(n as u64, total)).map_err(NodeError::from)?)
    }

    fn status(&self) -> Result<StatusView, Error> {
        Ok(self.0.status()?)
    }

    fn publish(&self, content: Content) -> Result<RecordView, Error> {
        Ok(self.0.publish(content)?)
    }

    fn resolve(&self, prefix: &str) -> Result<RecordId, Error> {
        Ok(self.0.replica().resolve(prefix).map_err(NodeError::from)?)
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, Error> {
        Ok(self.0.search(query)?)
    }

    fn reindex(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<ReindexReport, Error> {
        Ok(rebuild_index(self.0.search_index()?, self.0.replica(), progress)?)
    }

    fn history(&self, id: &str) -> Result<Vec<RecordView>, Error> {
        Ok(self.0.replica().history(id).map_err(NodeError::from)?)
    }

    fn charter(&self, version: Option<u64>) -> Result<CharterView, Error> {
        Ok(self.chain()?.view(version).map_err(NodeError::from)?)
    }

    fn charter_log(&self) -> Result<CharterLog, Error> {
        Ok(self.chain()?.log())
    }

    fn charter_pending(&self) -> Result<PendingProposals, Error> {
        Ok(self.chain()?.pending())
    }

    fn charter_propose(&self, changes: Vec<Change>) -> Result<ProposalView, Error> {
        let (member, key) = self.signer()?;
        let mut chain = self.chain()?;
        let (id, items) = chain.propose(self.0.replica(), &member, &key, changes, Timestamp::now())?;
        self.0.charter_stored(items)?;
        Self::proposal(&chain, id)
    }

    fn charter_approve(&self, proposal: &str) -> Result<ProposalView, Error> {
        let (member, key) = self.signer()?;
        let mut chain = self.chain()?;
        let (id, items) = chain.approve(self.0.replica(), &member, &key, proposal, Timestamp::now())?;
        if !items.is_empty() {
            self.0.charter_stored(items)?;
        }
        Self::proposal(&chain, id)
    }
}

/// Rebuilds `index` from `replica`.
pub fn rebuild_index(
    index: &SearchIndex,
    replica: &Replica,
    progress: impl FnMut(u64, u64),
) -> Result<ReindexReport, NodeError> {
    let started = std::time::Instant::now();
    let indexed = index.rebuild(replica, progress)?;
    Ok(ReindexReport {
        records: replica.len()?,
        indexed,
        index_bytes: index.size_on_disk(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A node whose daemon is not running: its replica, opened by this process.
pub struct Offline {
    config: LoadedConfig,
    genesis: Charter,
    /// Replaced when an import's charter items make a new version.
    charter: std::sync::RwLock<Arc<Charter>>,
    replica: Replica,
    search: std::sync::OnceLock<SearchIndex>,
}

/// The backend of a node whose daemon is not running.
pub type LocalBackend = ReplicaBackend<Offline>;

impl LocalBackend {
    /// Opens the node's replica and charter. Fails with [`NodeError::is_locked`] while a
    /// daemon holds the replica.
    pub fn open(config: LoadedConfig) -> Result<Self, NodeError> {
        let genesis = Charter::load(&config.config.charter)?;
        let options = config.config.store.replica_options();
        let replica = Replica::open(&config.replica_dir(), &options)?;
        let charter = Arc::new(CharterChain::load(&genesis, &replica)?.charter());
        crate::charter::rejudge_cutoffs(&replica, &charter)?;
        let charter = std::sync::RwLock::new(charter);
        Ok(ReplicaBackend(Offline { config, genesis, charter, replica, search: std::sync::OnceLock::new() }))
    }

    /// The replica.
    pub fn replica(&self) -> &Replica {
        &self.0.replica
    }
}

impl Local for Offline {
    fn replica(&self) -> &Replica {
        &self.replica
    }

    fn charter(&self) -> Arc<Charter> {
        self.charter.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Kept for the next start; a version they make retires records at once.
    fn charter_stored(&self, _items: Vec<Vec<u8>>) -> Result<(), NodeError> {
        let charter = CharterChain::load(&self.genesis, &self.replica)?.charter();
        crate::charter::rejudge(&self.replica, &charter)?;
        Ok(())
    }

    fn genesis(&self) -> &Charter {
        &self.genesis
    }

    fn config(&self) -> &LoadedConfig {
        &self.config
    }

    /// The search index, opened on first use.
    fn search_index(&self) -> Result<&SearchIndex, NodeError> {
        if let Some(i) = self.search.get() {
            return Ok(i);
        }
        let index = SearchIndex::open(&self.config.search_dir())?;
        Ok(self.search.get_or_init(|| index))
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError> {
        let index = self.search_index()?;
        // Records published or imported offline since the last search are indexed now.
        index.catch_up(&self.replica, false)?;
        Ok(index.search(&self.replica, query)?)
    }

    fn status(&self) -> Result<StatusView, NodeError> {
        offline_status(&self.config, &Local::charter(self), &self.replica)
    }

    fn publish(&self, content: Content) -> Result<RecordView, NodeError> {
        let publisher = publisher_for(&self.config, &Local::charter(self))?;
        let record = publisher.publish(&self.replica, content, Timestamp::now())?;
        Ok(view_of(&self.replica, record, Detail::Summary)?)
    }

    fn store_batch(&self, records: Vec<SignedRecord>) -> Result<StoredBatch, NodeError> {
        let charter = self.charter.read().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(ops::verify_and_store(&self.replica, &charter, &records, Durability::Synced)?)
    }

    /// As from a peer by sync; the version they make judges the records that follow.
    fn store_charter(&self, items: Vec<Vec<u8>>) -> Result<crate::charter::Accepted, NodeError> {
        let mut chain = CharterChain::load(&self.genesis, &self.replica)?;
        let accepted = chain.accept(&self.replica, items, true)?;
        let charter = Arc::new(chain.charter());
        crate::charter::rejudge(&self.replica, &charter)?;
        *self.charter.write().unwrap_or_else(|p| p.into_inner()) = charter;
        Ok(accepted)
    }
}

/// The publisher for this node's member, if the node is a member.
pub fn publisher_for(config: &LoadedConfig, charter: &Charter) -> Result<Publisher, NodeError> {
    let member = config.config.member.clone().ok_or(NodeError::NotAMember)?;
    if charter.member(&member).is_none() {
        return Err(NodeError::MemberNotInCharter {
            member: member.to_string(),
            charter: config.config.charter.clone(),
        });
    }
    crate::publish::adopt_next_key(&config.config.keys.signing, &member, charter)?;
    let key = MemberKey::load(&config.config.keys.signing)?;
    if charter.member(&member).is_some_and(|m| m.public_key != key.author_key()) {
        return Err(NodeError::KeyNotInCharter { member: member.to_string(), key: config.config.keys.signing.clone() });
    }
    if charter.retirement(&member, &key.author_key()).is_some() {
        return Err(NodeError::KeyRevoked { member: member.to_string() });
    }
    let author = Author::new(charter.network.clone(), member, key);
    Ok(Publisher::new(author, SigningJournal::new(config.journal_path()), charter.clone()))
}

/// The publisher of a running node whose member may not publish yet or now: not yet admitted
/// (it joined from the genesis), or its key revoked. The daemon runs and replicates; every
/// publish checks the charter version then in force.
pub fn waiting_publisher(config: &LoadedConfig, charter: &Charter) -> Result<Publisher, NodeError> {
    let member = config.config.member.clone().ok_or(NodeError::NotAMember)?;
    let key = MemberKey::load(&config.config.keys.signing)?;
    let author = Author::new(charter.network.clone(), member, key);
    Ok(Publisher::new(author, SigningJournal::new(config.journal_path()), charter.clone()))
}

/// The status of a node whose daemon is not running.
pub fn offline_status(config: &LoadedConfig, charter: &Charter, replica: &Replica) -> Result<StatusView, NodeError> {
    let peer_id =
        rix_net::NodeIdentity::load(&config.config.keys.node).map(|i| i.peer_id().to_string()).unwrap_or_default();
    let can_publish = publisher_for(config, charter).and_then(|p| Ok(p.history_known()?)).unwrap_or(false);
    let disk = crate::disk::DiskGauge::new(config.config.data_dir.clone(), config.config.store.reserve_bytes());
    let storage = disk.measure().ok().map(|_| disk.view());
    Ok(StatusView {
        network: charter.network.clone(),
        member: config.config.member.clone(),
        peer_id,
        listen_addresses: config.config.network.listen.iter().map(ToString::to_string).collect(),
        daemon_running: false,
        connected_peers: vec![],
        records: replica.len()?,
        // The chain index only, not every record: the hash links are `rix verify`'s to check,
        // and status must answer in milliseconds however large the replica (the dashboard asks it).
        members: replica.chain_heads()?.iter().map(ops::chain_view).collect(),
        equivocations: ops::equivocation_views(replica)?,
        retired_records: replica
            .retired_records()?
            .into_iter()
            .map(|r| rix_api::RetiredRecordView {
                id: r.record.id(),
                member: r.record.record().author.clone(),
                seq: r.record.record().seq,
                reason: r.reason,
            })
            .collect(),
        can_publish,
        storage,
    })
}
