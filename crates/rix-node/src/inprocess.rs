//! [`InProcessBackend`]: the [`Backend`] of a node running in this process (devnet and the
//! in-process test harness), so they publish and query through the same code paths as the CLI.

use std::sync::Arc;

use rix_record::{Content, MemberCode, RecordId};
use rix_store::query::{RecordFilter, RecordList, RecordView, StatsReport};

use crate::backend::{Backend, ReindexReport};
use crate::error::NodeError;
use crate::node::Node;
use crate::ops::{self, ImportReport, StatusView, VerifyReport};
use rix_search::{SearchQuery, SearchResults};

/// A backend over a running [`Node`]. Call it from a blocking thread (not from async code):
/// publishing and status wait on the node's runtime.
pub struct InProcessBackend {
    node: Arc<Node>,
    runtime: tokio::runtime::Handle,
}

impl InProcessBackend {
    /// A backend for `node`, whose tasks run on `runtime`.
    pub fn new(node: Arc<Node>, runtime: tokio::runtime::Handle) -> Self {
        Self { node, runtime }
    }

    fn members(&self) -> Vec<MemberCode> {
        self.node.charter().members.iter().map(|m| m.code.clone()).collect()
    }
}

impl Backend for InProcessBackend {
    fn list(&self, filter: &RecordFilter) -> Result<RecordList, NodeError> {
        Ok(self.node.replica().list(filter)?)
    }

    fn show(&self, id: &str) -> Result<RecordView, NodeError> {
        Ok(self.node.replica().show(id)?)
    }

    fn stats(&self) -> Result<StatsReport, NodeError> {
        Ok(self.node.replica().stats(&self.members())?)
    }

    fn export_views(
        &self,
        filter: &RecordFilter,
        each: &mut dyn FnMut(RecordView) -> std::io::Result<()>,
    ) -> Result<u64, NodeError> {
        ops::export_views(self.node.replica(), filter, each)
    }

    fn export_signed(&self, each: &mut dyn FnMut(&[u8], u64) -> std::io::Result<()>) -> Result<u64, NodeError> {
        crate::ops::export_envelopes(self.node.replica(), each)
    }

    fn import(
        &self,
        pack: &mut dyn std::io::Read,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportReport, NodeError> {
        ops::import_pack_into(pack, |n| progress(n as u64, total), &mut |batch| self.node.import_batch(batch))
    }

    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, NodeError> {
        let total = self.node.replica().len()?;
        Ok(ops::verify_replica(self.node.replica(), self.node.charter(), |n| progress(n as u64, total))?)
    }

    fn status(&self) -> Result<StatusView, NodeError> {
        self.runtime.block_on(self.node.status())
    }

    fn publish(&self, content: Content) -> Result<RecordView, NodeError> {
        self.runtime.block_on(self.node.publish(content))
    }

    fn resolve(&self, prefix: &str) -> Result<RecordId, NodeError> {
        Ok(self.node.replica().resolve(prefix)?)
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError> {
        self.node.search(query)
    }

    fn reindex(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<ReindexReport, NodeError> {
        crate::backend::rebuild_index(self.node.search_index()?, self.node.replica(), progress)
    }

    fn history(&self, id: &str) -> Result<Vec<RecordView>, NodeError> {
        Ok(self.node.replica().history(id)?)
    }
}
