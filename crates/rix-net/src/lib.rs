//! The rix network layer: a libp2p swarm that gossips signed records and runs rix's
//! anti-entropy sync protocol, owned by one task and driven through a cloneable handle.
//!
//! This crate verifies what arrives (through `rix-record`) but stores nothing: the node that
//! wires it to a replica answers its events.
#![deny(missing_docs)]

pub mod identity;

pub use identity::NodeIdentity;
pub use libp2p::{Multiaddr, PeerId};
