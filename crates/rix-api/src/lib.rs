//! The contract between a rix node and everything that asks it questions: the `rix` CLI, the
//! daemon's HTTP API, devnet, the test harness and benchmarks.
//!
//! - [`views`]: records as clients see them, with typed ids, times, member codes and
//!   vocabulary terms (their JSON is the shape `docs/cli.md` promises to scripts);
//! - [`charter`]: charter versions, the chain of versions and proposals;
//! - [`filter`]: which records a listing, search or export selects;
//! - [`reports`]: what `stats`, `status`, `peers`, `import`, `verify` and `reindex` report;
//! - [`Backend`]: every question and action, answered the same way by a node's replica opened
//!   directly, a node running in this process, or a daemon over HTTP;
//! - [`client`]: that last one, the HTTP client of a running daemon, and [`routes`], the paths
//!   it shares with the server;
//! - [`Error`]: what can go wrong, by kind, each kind with its HTTP status.
//!
//! Views are built from stored records in `rix-store` (one mapping, used by every backend); this
//! crate depends on the record model alone, so a client needs no storage, search or network
//! code, and reading a view never panics: a malformed answer is an [`Error`].
#![deny(missing_docs)]

pub mod backend;
pub mod charter;
pub mod client;
mod error;
pub mod filter;
pub mod reports;
pub mod routes;
pub mod views;

/// The record model the views are made of, for clients that need no other crate of rix.
pub use rix_record as record;

pub use backend::Backend;
pub use charter::{CharterLog, CharterView, PendingProposals, ProposalView, describe_change};
pub use client::ApiClient;
pub use error::{Error, ErrorBody, ErrorKind};
pub use filter::{RecordFilter, SearchHit, SearchQuery, SearchResults};
pub use reports::{
    ChainView, EquivocationView, ImportReport, MemberStats, NewestRecord, PeerRole, PeerView, ReindexReport, Rejection,
    RetiredRecordView, StatsReport, StatusView, StorageView, VerifyReport, WebLogin,
};
pub use views::{Detail, RecordKind, RecordList, RecordView, WithdrawalView};
