//! The rix network layer: a libp2p swarm that gossips signed records and runs rix's
//! anti-entropy sync protocol, owned by one task and driven through a cloneable handle.
//!
//! This crate stores nothing: the node that wires it to a replica validates gossip, answers
//! sync requests and runs sync sessions through [`NetworkHandle`].
#![deny(missing_docs)]

pub mod identity;
pub mod jitter;
pub mod protocol;
pub mod service;
pub mod sync;

pub use identity::NodeIdentity;
pub use jitter::jittered;
pub use libp2p::gossipsub::{MessageAcceptance, MessageId};
pub use libp2p::request_response::ResponseChannel;
pub use libp2p::{Multiaddr, PeerId};
pub use service::{ConnectedPeer, GossipOutcome, NetError, NetworkEvent, NetworkHandle, NetworkSettings, topic_for};
