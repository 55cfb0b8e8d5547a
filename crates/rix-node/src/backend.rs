//! [`Backend`]: the queries and actions the CLI performs, answered either by opening the
//! replica directly ([`LocalBackend`]) or by the running daemon's local API. Both return the
//! same views, so the CLI prints the same thing either way.

use std::collections::HashMap;
use std::path::PathBuf;

use rix_record::file::{DraftContent, RecordDraft, RecordRef};
use rix_record::{Author, Charter, Content, MemberCode, MemberKey, RecordId, Timestamp, Withdrawal};
use rix_search::{SearchIndex, SearchQuery, SearchResults};
use rix_store::Replica;
use rix_store::query::{Detail, RecordFilter, RecordList, RecordView, StatsReport, view_of};

use crate::config::LoadedConfig;
use crate::error::NodeError;
use crate::ops::{self, ImportReport, StatusView, VerifyReport};
use crate::publish::{Publisher, SigningJournal};

/// What the CLI can ask of a node.
pub trait Backend {
    /// `rix list`.
    fn list(&self, filter: &RecordFilter) -> Result<RecordList, NodeError>;
    /// `rix show`: a full id or unique prefix.
    fn show(&self, id: &str) -> Result<RecordView, NodeError>;
    /// `rix stats`.
    fn stats(&self) -> Result<StatsReport, NodeError>;
    /// Full views (with bodies) of the records `filter` selects, newest first, for `export
    /// --format json|jsonl|csv|md|html`: handed to `each` one at a time, so a replica of any
    /// size streams through. Returns how many were handed over.
    fn export_views(
        &self,
        filter: &RecordFilter,
        each: &mut dyn FnMut(RecordView) -> std::io::Result<()>,
    ) -> Result<u64, NodeError>;
    /// Every stored envelope, oldest first, for `export --format signed`: handed to `each` one
    /// at a time with the number of records expected, so a replica of any size streams through
    /// in constant memory. Returns how many were handed over.
    fn export_signed(&self, each: &mut dyn FnMut(&[u8], u64) -> std::io::Result<()>) -> Result<u64, NodeError>;
    /// `rix import` of a signed export read from `pack` as a stream (`total` records, for
    /// `progress(done, total)`).
    fn import(
        &self,
        pack: &mut dyn std::io::Read,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, NodeError>;
    /// `rix verify`; `progress(done, total)`.
    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, NodeError>;
    /// `rix status`.
    fn status(&self) -> Result<StatusView, NodeError>;
    /// Signs and stores `content` as this node's member (and gossips it, via the daemon).
    fn publish(&self, content: Content) -> Result<RecordView, NodeError>;
    /// The full id for a unique prefix.
    fn resolve(&self, prefix: &str) -> Result<RecordId, NodeError>;
    /// `rix search`.
    fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError>;
    /// `rix reindex`: rebuild the search index from the replica; `progress(done, total)`.
    fn reindex(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<ReindexReport, NodeError>;
    /// `rix history`: every version of a record, oldest first.
    fn history(&self, id: &str) -> Result<Vec<RecordView>, NodeError>;
}

/// What `rix reindex` did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReindexReport {
    /// Records in the replica.
    pub records: u64,
    /// Documents indexed (publications).
    pub indexed: u64,
    /// Index size on disk, bytes.
    pub index_bytes: u64,
    /// Seconds taken.
    pub seconds: f64,
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

/// A backend that opens the replica itself (the daemon is not running).
pub struct LocalBackend {
    config: LoadedConfig,
    charter: Charter,
    replica: Replica,
    search: std::sync::OnceLock<SearchIndex>,
}

impl LocalBackend {
    /// Opens the node's replica and charter.
    pub fn open(config: LoadedConfig) -> Result<Self, NodeError> {
        let charter = Charter::load(&config.config.charter)?;
        let options = config.config.store.replica_options();
        let replica = Replica::open(&config.replica_dir(), &options)?;
        Ok(Self { config, charter, replica, search: std::sync::OnceLock::new() })
    }

    /// The replica.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    fn members(&self) -> Vec<MemberCode> {
        self.charter.members.iter().map(|m| m.code.clone()).collect()
    }

    /// The search index, opened on first use.
    fn index(&self) -> Result<&SearchIndex, NodeError> {
        if let Some(i) = self.search.get() {
            return Ok(i);
        }
        let index = SearchIndex::open(&self.config.search_dir())?;
        Ok(self.search.get_or_init(|| index))
    }

    fn publisher(&self) -> Result<Publisher, NodeError> {
        publisher_for(&self.config, &self.charter)
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
    let key = MemberKey::load(&config.config.keys.signing)?;
    if charter.member(&member).is_some_and(|m| m.public_key != key.author_key()) {
        return Err(NodeError::KeyNotInCharter { member: member.to_string(), key: config.config.keys.signing.clone() });
    }
    let author = Author::new(charter.network.clone(), member, key);
    Ok(Publisher::new(author, SigningJournal::new(config.journal_path()), charter.clone()))
}

/// The status of a node whose daemon is not running.
pub fn offline_status(config: &LoadedConfig, charter: &Charter, replica: &Replica) -> Result<StatusView, NodeError> {
    let peer_id =
        rix_net::NodeIdentity::load(&config.config.keys.node).map(|i| i.peer_id().to_string()).unwrap_or_default();
    let can_publish = publisher_for(config, charter).and_then(|p| Ok(p.history_known()?)).unwrap_or(false);
    Ok(StatusView {
        network: charter.network.clone(),
        member: config.config.member.as_ref().map(ToString::to_string),
        peer_id,
        listen_addresses: config.config.network.listen.clone(),
        daemon_running: false,
        connected_peers: vec![],
        records: replica.len()?,
        members: replica.chains()?.iter().map(ops::ChainView::from).collect(),
        equivocations: ops::equivocation_views(replica)?,
        can_publish,
    })
}

impl Backend for LocalBackend {
    fn list(&self, filter: &RecordFilter) -> Result<RecordList, NodeError> {
        Ok(self.replica.list(filter)?)
    }

    fn show(&self, id: &str) -> Result<RecordView, NodeError> {
        Ok(self.replica.show(id)?)
    }

    fn stats(&self) -> Result<StatsReport, NodeError> {
        Ok(self.replica.stats(&self.members())?)
    }

    fn export_views(
        &self,
        filter: &RecordFilter,
        each: &mut dyn FnMut(RecordView) -> std::io::Result<()>,
    ) -> Result<u64, NodeError> {
        ops::export_views(&self.replica, filter, each)
    }

    fn export_signed(&self, each: &mut dyn FnMut(&[u8], u64) -> std::io::Result<()>) -> Result<u64, NodeError> {
        crate::ops::export_envelopes(&self.replica, each)
    }

    fn import(
        &self,
        pack: &mut dyn std::io::Read,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, NodeError> {
        ops::import_pack(&self.replica, &self.charter, pack, |n| progress(n as u64, total))
    }

    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, NodeError> {
        let total = self.replica.len()?;
        Ok(ops::verify_replica(&self.replica, &self.charter, |n| progress(n as u64, total))?)
    }

    fn status(&self) -> Result<StatusView, NodeError> {
        offline_status(&self.config, &self.charter, &self.replica)
    }

    fn publish(&self, content: Content) -> Result<RecordView, NodeError> {
        let record = self.publisher()?.publish(&self.replica, content, Timestamp::now())?;
        Ok(view_of(&self.replica, record, Detail::Summary)?)
    }

    fn resolve(&self, prefix: &str) -> Result<RecordId, NodeError> {
        Ok(self.replica.resolve(prefix)?)
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError> {
        let index = self.index()?;
        // Records published or imported offline since the last search are indexed now.
        index.catch_up(&self.replica, false)?;
        Ok(index.search(&self.replica, query)?)
    }

    fn reindex(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<ReindexReport, NodeError> {
        rebuild_index(self.index()?, &self.replica, progress)
    }

    fn history(&self, id: &str) -> Result<Vec<RecordView>, NodeError> {
        Ok(self.replica.history(id)?)
    }
}

/// Turns record drafts into content, resolving `supersedes` / `withdraws` references.
///
/// `@file` references resolve to the record published from that file earlier in the same
/// run, or else to this member's current record with that file's title.
pub struct DraftResolver<'a> {
    backend: &'a dyn Backend,
    member: Option<MemberCode>,
    published: HashMap<PathBuf, RecordId>,
}

impl<'a> DraftResolver<'a> {
    /// A resolver publishing as `member`.
    pub fn new(backend: &'a dyn Backend, member: Option<MemberCode>) -> Self {
        Self { backend, member, published: HashMap::new() }
    }

    /// Notes that the draft from `path` was published as `id`.
    pub fn note_published(&mut self, path: &std::path::Path, id: RecordId) {
        self.published.insert(normalise(path), id);
    }

    /// The content to sign for `draft`.
    pub fn content(&self, draft: &RecordDraft) -> Result<Content, NodeError> {
        Ok(match &draft.content {
            DraftContent::Publication { publication, supersedes } => {
                let mut p = publication.clone();
                p.supersedes = supersedes.as_ref().map(|r| self.resolve(r)).transpose()?;
                Content::Publication(p)
            }
            DraftContent::Withdrawal { withdraws, reason } => {
                Content::Withdrawal(Withdrawal { withdraws: self.resolve(withdraws)?, reason: reason.clone() })
            }
        })
    }

    fn resolve(&self, reference: &RecordRef) -> Result<RecordId, NodeError> {
        match reference {
            RecordRef::Id(prefix) => self.backend.resolve(prefix),
            RecordRef::File(path) => {
                if let Some(id) = self.published.get(&normalise(path)) {
                    return Ok(*id);
                }
                let draft = rix_record::file::read_record_file(path)?;
                let DraftContent::Publication { publication, .. } = draft.content else {
                    return Err(NodeError::Reference(format!("{} is a withdrawal, not a publication", path.display())));
                };
                let filter = RecordFilter { member: self.member.clone(), ..RecordFilter::default() };
                let found = self.backend.list(&filter)?.records.into_iter().find(|r| r.title == publication.title);
                match found {
                    Some(view) => Ok(view.id.parse().expect("views carry valid ids")),
                    None => Err(NodeError::Reference(format!(
                        "no current record titled {:?} (from {}) has been published by this member yet",
                        publication.title,
                        path.display()
                    ))),
                }
            }
        }
    }
}

fn normalise(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
