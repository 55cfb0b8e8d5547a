//! The rix network layer: a libp2p swarm that gossips signed records and runs rix's
//! anti-entropy sync protocol, owned by one task and driven through a cloneable handle.
//!
//! This crate stores nothing: the node that wires it to a replica validates gossip, answers
//! sync requests and runs sync sessions through [`NetworkHandle`]. Every policy (when to dial,
//! whom to ban, the serve budget, the fetch plan) is the engine's (`rix-engine`, which does no
//! IO), carried out here as commands; only the connection tie-break is applied in this crate.
#![deny(missing_docs)]

mod event_loop;
pub mod identity;
pub mod protocol;
pub mod service;
mod swarm;

pub use identity::NodeIdentity;
pub use libp2p::gossipsub::{MessageAcceptance, MessageId};
pub use libp2p::request_response::ResponseChannel;
pub use libp2p::{Multiaddr, PeerId};
pub use service::{
    ConnectedPeer, GossipOutcome, InboundRequest, NetError, NetworkEvent, NetworkHandle, NetworkSettings, topic_for,
};

/// The fetch plan, from the engine.
pub mod sync {
    pub use rix_engine::sync::{FetchRange, LocalChain, plan};
}

/// `period` scaled by a random factor in [0.75, 1.25) ([`rix_engine::Rng::jittered`]), drawn
/// afresh each call: periodic work waits this long so nodes do not fall into step.
pub fn jittered(period: std::time::Duration) -> std::time::Duration {
    rix_engine::Rng::from_entropy().jittered(period)
}
