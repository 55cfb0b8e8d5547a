//! [`InProcessBackend`]: the [`Backend`](rix_api::Backend) of a node running in this process.
//! devnet and the test harness publish and query through it, and the daemon's API handlers
//! answer through it, so all of them take the same code paths as the CLI.

use std::sync::Arc;

use rix_api::StatusView;
use rix_record::{Charter, Content, SignedRecord};
use rix_search::{SearchIndex, SearchQuery, SearchResults};
use rix_store::Replica;
use rix_store::query::RecordView;

use crate::backend::{Local, ReplicaBackend};
use crate::error::NodeError;
use crate::node::Node;
use crate::ops::StoredBatch;

/// A running [`Node`] and the runtime its tasks run on.
pub struct Running {
    node: Arc<Node>,
    runtime: tokio::runtime::Handle,
}

/// A backend over a running [`Node`]. Call it from a blocking thread (not from async code):
/// publishing and status wait on the node's runtime.
pub type InProcessBackend = ReplicaBackend<Running>;

impl InProcessBackend {
    /// A backend for `node`, whose tasks run on `runtime`.
    pub fn new(node: Arc<Node>, runtime: tokio::runtime::Handle) -> Self {
        ReplicaBackend(Running { node, runtime })
    }
}

impl Local for Running {
    fn replica(&self) -> &Replica {
        self.node.replica()
    }

    fn charter(&self) -> Arc<Charter> {
        self.node.charter()
    }

    fn charter_stored(&self, items: Vec<Vec<u8>>) -> Result<(), NodeError> {
        self.runtime.block_on(self.node.charter_stored(items))
    }

    fn genesis(&self) -> &Charter {
        self.node.genesis()
    }

    fn config(&self) -> &crate::config::LoadedConfig {
        self.node.config()
    }

    fn search_index(&self) -> Result<&SearchIndex, NodeError> {
        self.node.search_index()
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, NodeError> {
        self.node.search(query)
    }

    fn status(&self) -> Result<StatusView, NodeError> {
        self.runtime.block_on(self.node.status())
    }

    fn publish(&self, content: Content) -> Result<RecordView, NodeError> {
        self.runtime.block_on(self.node.publish(content))
    }

    /// Checked and applied like items from a peer, then gossiped: an air-gapped pack's items
    /// spread from the node that imports them.
    fn store_charter(&self, items: Vec<Vec<u8>>) -> Result<crate::charter::Accepted, NodeError> {
        let (accepted, _) = self.node.accept_charter(items, rix_engine::Source::Import)?;
        if !accepted.new.is_empty() {
            self.runtime.block_on(self.node.charter_stored(accepted.new.clone()))?;
        }
        Ok(accepted)
    }

    /// Through the node's one ingest pipeline: indexed and counted like gossip and sync.
    fn store_batch(&self, records: Vec<SignedRecord>) -> Result<StoredBatch, NodeError> {
        self.node.import_batch(records)
    }
}
