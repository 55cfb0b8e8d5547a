//! [`Backend`]: every question and action the CLI (and devnet, the tests and benchmarks) puts
//! to a node. A node's replica opened directly, a node running in this process and a daemon
//! over HTTP all answer it with the same views.

use rix_record::amendment::Change;
use rix_record::pack::EntryKind;
use rix_record::{Content, RecordId};

use crate::charter::{CharterLog, CharterView, PendingProposals, ProposalView};
use crate::error::Error;
use crate::filter::{RecordFilter, SearchQuery, SearchResults};
use crate::reports::{ImportReport, ReindexReport, StatsReport, StatusView, VerifyReport};
use crate::views::{RecordList, RecordView};

/// Where `export_signed` hands each entry: its kind, its envelope, and how many entries are
/// expected in all (for progress).
pub type PackSink<'a> = dyn FnMut(EntryKind, &[u8], u64) -> std::io::Result<()> + 'a;

/// What can be asked of a node.
pub trait Backend {
    /// `rix list`.
    fn list(&self, filter: &RecordFilter) -> Result<RecordList, Error>;
    /// `rix show`: a full id or unique prefix.
    fn show(&self, id: &str) -> Result<RecordView, Error>;
    /// `rix stats`.
    fn stats(&self) -> Result<StatsReport, Error>;
    /// Full views (with bodies) of the records `filter` selects, newest first, for `export
    /// --format json|jsonl|csv|md|html`: handed to `each` one at a time, so a replica of any
    /// size streams through. Returns how many were handed over.
    fn export_views(
        &self,
        filter: &RecordFilter,
        each: &mut dyn FnMut(RecordView) -> std::io::Result<()>,
    ) -> Result<u64, Error>;
    /// Every stored envelope, oldest first, then the equivocation evidence, for `export
    /// --format signed`: handed to `each` one at a time with its kind and the number of entries
    /// expected, so a replica of any size streams through in constant memory. Returns how many
    /// were handed over.
    fn export_signed(&self, each: &mut PackSink<'_>) -> Result<u64, Error>;
    /// `rix import` of a signed export read from `pack` as a stream (`total` records, for
    /// `progress(done, total)`).
    fn import(
        &self,
        pack: &mut dyn std::io::Read,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, Error>;
    /// `rix verify`; `progress(done, total)`.
    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, Error>;
    /// `rix status`.
    fn status(&self) -> Result<StatusView, Error>;
    /// Signs and stores `content` as this node's member (and gossips it, when the daemon runs).
    fn publish(&self, content: Content) -> Result<RecordView, Error>;
    /// The full id for a unique prefix.
    fn resolve(&self, prefix: &str) -> Result<RecordId, Error>;
    /// `rix search`.
    fn search(&self, query: &SearchQuery) -> Result<SearchResults, Error>;
    /// `rix reindex`: rebuild the search index from the replica; `progress(done, total)`.
    fn reindex(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<ReindexReport, Error>;
    /// `rix history`: every version of a record, oldest first.
    fn history(&self, id: &str) -> Result<Vec<RecordView>, Error>;
    /// `rix charter show`: the current version, or version `version`.
    fn charter(&self, version: Option<u64>) -> Result<CharterView, Error>;
    /// `rix charter log`.
    fn charter_log(&self) -> Result<CharterLog, Error>;
    /// `rix charter pending`.
    fn charter_pending(&self) -> Result<PendingProposals, Error>;
    /// `rix charter propose`: checks `changes` against the current version, then signs and
    /// stores the amendment with this member's approval.
    fn charter_propose(&self, changes: Vec<Change>) -> Result<ProposalView, Error>;
    /// `rix charter approve`: a full id or unique prefix of a proposal of the current version.
    fn charter_approve(&self, proposal: &str) -> Result<ProposalView, Error>;
}
