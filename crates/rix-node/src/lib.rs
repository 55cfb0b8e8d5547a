//! A rix node: its configuration, publishing without equivocation, the operations both the
//! offline CLI and the daemon perform, and the backends over a local replica
//! ([`backend::LocalBackend`], [`inprocess::InProcessBackend`]) that answer `rix_api::Backend`.
//!
//! The daemon (network + replica + local API) is wired here too; `rix-net` owns libp2p and
//! `rix-store` owns sled, and this crate is the only place they meet.
#![deny(missing_docs)]

mod actor;
pub mod api;
pub mod backend;
pub mod charter;
pub mod client;
pub mod config;
mod config_text;
pub mod daemon;
pub mod disk;
pub mod drafts;
pub mod error;
mod indexer;
pub mod init;
pub mod inprocess;
pub mod journal;
pub mod metrics;
mod node;
pub mod ops;
pub mod publish;
mod supervisor;

pub use config::{LoadedConfig, NodeConfig};
pub use error::NodeError;
