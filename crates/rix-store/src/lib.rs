//! The local replica: every verified record a node holds, stored in sled exactly as received,
//! with the indexes analysts and the sync protocol need.
//!
//! This crate knows nothing of libp2p and exposes no sled types: the rest of rix sees
//! [`Replica`], [`Inserted`] and [`StoreError`]. It only accepts
//! [`VerifiedRecord`](rix_record::VerifiedRecord)s, so nothing unverified can be stored.
//!
//! [`query`] turns stored records into the views and statistics the CLI and the local API
//! print, so both produce identical output.
#![deny(missing_docs)]

mod chain;
mod charter;
mod error;
mod keys;
pub mod query;
mod replica;

pub use chain::{AuthorChain, ChainIssue, Equivocation};
pub use charter::{RetiredRecord, charter_key};
pub use error::StoreError;
pub use replica::{Durability, Inserted, Replica, ReplicaOptions, StoredRecord};
