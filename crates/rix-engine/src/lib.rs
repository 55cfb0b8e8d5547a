//! rix's protocol engine: every policy of a node that involves time, ordering or a peer's
//! behaviour, as an IO-free state machine in the style of iroh-gossip's `proto`.
//!
//! [`Engine::handle`] takes an [`Event`] and the time it happened and returns [`Output`]s:
//! requests to send, batches to verify and store, gossip verdicts, bans, dials, and timers to
//! set. It never reads a clock, opens a socket or touches a disk, and it is generic over the
//! peer identity and the record type ([`Types`]), so the same code runs in the daemon (libp2p
//! peer ids, signed envelopes, sled) and in the [`sim`]ulator (small integers, in-memory
//! stores, a virtual clock), where thousands of seeded runs check it under loss, reordering,
//! partitions, crashes and hostile peers.
//!
//! The pieces, each usable on its own and unit-tested:
//! - [`scoring`]: one misbehaviour tally and ban table;
//! - [`verdict`]: what a verification or insert result means for the sender;
//! - [`serve`]: the serve budget, request checks and the responder's paging;
//! - [`dial`]: dial delay, redial back-off and the connection tie-break;
//! - [`hold`]: the forward hold;
//! - [`sync`]: the fetch plan; the session runs in [`Engine`];
//! - [`wire`]: the sync protocol's messages and limits.
#![deny(missing_docs)]

pub mod dial;
mod engine;
pub mod hold;
pub mod membership;
mod rng;
pub mod scoring;
pub mod serve;
pub mod sim;
pub mod sync;
mod time;
pub mod verdict;
pub mod wire;

pub use engine::{
    BatchId, CharterOutcome, Engine, EngineConfig, Event, Output, PeerSync, Serve, StoreFailed, Tag, Timer, Types,
};
pub use rng::Rng;
pub use scoring::{Offence, ScoringConfig};
pub use serve::ServeLimits;
pub use time::{Clock, Time};
pub use verdict::{Acceptance, Outcome, Source};
