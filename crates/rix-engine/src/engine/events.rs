//! The engine's vocabulary: the [`Event`]s a driver feeds it, the [`Output`]s it asks the
//! driver to carry out, the [`Timer`]s it sets, and what it reports of a peer's sync.

use super::{BatchId, Tag, Types};
use crate::Time;
use crate::scoring::Offence;
use crate::serve::{Fetch, Refusal};
use crate::sync::{LocalChain, Reply, SyncFailure};
use crate::verdict::{Acceptance, Outcome, Source};
use crate::wire::{CharterSummary, SyncRequest, SyncResponse};

/// Something that happened.
#[derive(Debug)]
pub enum Event<T: Types> {
    /// A connection to `peer` is established.
    PeerConnected(T::Peer),
    /// The last connection to `peer` closed.
    PeerDisconnected(T::Peer),
    /// `peer` has known addresses: keep a connection to it.
    Dialable(T::Peer),
    /// A record arrived by gossip.
    Gossip {
        /// The peer that sent it.
        from: T::Peer,
        /// Its handle for the verdict.
        message: T::Message,
        /// The record.
        record: T::Record,
    },
    /// A peer asked something.
    SyncRequest {
        /// Who.
        from: T::Peer,
        /// What.
        request: SyncRequest,
        /// Where to answer.
        reply: T::Reply,
    },
    /// The answer to a [`Event::SyncRequest`] has been written (or its stream failed): every
    /// request is reported once, whether served or refused.
    Served(T::Peer),
    /// The answer to an [`Output::Request`].
    Reply {
        /// From whom.
        peer: T::Peer,
        /// The session it belongs to.
        tag: Tag,
        /// The answer.
        reply: Reply<T::Record>,
    },
    /// What the replica holds, for an [`Output::ReadHeads`].
    LocalHeads {
        /// The session's peer.
        peer: T::Peer,
        /// The session.
        tag: Tag,
        /// One entry per author held.
        chains: Vec<LocalChain>,
    },
    /// An [`Output::Ingest`] is done: one outcome per record, in order, or the replica failed.
    Ingested {
        /// The batch.
        batch: BatchId,
        /// The outcomes.
        outcomes: Result<Vec<Outcome>, StoreFailed>,
    },
    /// A charter amendment or approval arrived by gossip.
    CharterGossip {
        /// The peer that sent it.
        from: T::Peer,
        /// Its handle for the verdict.
        message: T::Message,
        /// Its bytes.
        item: Vec<u8>,
    },
    /// An [`Output::IngestCharter`] is done, or the replica failed. The driver reports
    /// [`Event::Charter`] first if the items changed the charter.
    CharterIngested {
        /// The batch.
        batch: BatchId,
        /// What became of the items.
        outcome: Result<CharterOutcome, StoreFailed>,
    },
    /// This node's charter chain is now `summary`, with these members (at start, and after
    /// every change): summaries are compared against it and only these members' chains are
    /// synced.
    Charter {
        /// What the node holds of the chain.
        summary: CharterSummary,
        /// The current version's member codes.
        members: std::collections::BTreeSet<String>,
    },
    /// A timer set by [`Output::SetTimer`] is due.
    Timer(Timer<T::Peer>),
}

/// What checking and storing charter items gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CharterOutcome {
    /// Items stored for the first time.
    pub new: u32,
    /// Items already held.
    pub duplicate: u32,
    /// Items refused: not an amendment or approval of this network's chain, a bad signature
    /// or proof, oversized.
    pub invalid: u32,
}

/// The replica could not store a batch (this node's fault, not the sender's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFailed;

/// A timer the engine asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Timer<P> {
    /// Start a sync round with every connected peer.
    SyncRound,
    /// Resend a session's request to a peer that answered busy.
    Retry {
        /// The peer.
        peer: P,
        /// The session.
        tag: Tag,
    },
    /// Release held gossip.
    Hold,
    /// Lift bans that ran out.
    Bans,
    /// Dial peers that are due.
    Redial,
}

/// What to serve, checked and capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serve {
    /// A summary of every chain held, for this node's network.
    Summary,
    /// Records of one author, paged with [`crate::serve::page`].
    Fetch(Fetch),
    /// Charter amendments and approvals after the id `after`, in id order, within
    /// [`crate::wire::MAX_RESPONSE_RECORD_BYTES`].
    Charter {
        /// The last id the requester has (64 lowercase hex digits).
        after: Option<String>,
    },
}

/// Something the engine wants done, or reports.
#[derive(Debug)]
pub enum Output<T: Types> {
    /// Send `request` to `peer`; report the answer as [`Event::Reply`] with `tag`.
    Request {
        /// To whom.
        peer: T::Peer,
        /// The session.
        tag: Tag,
        /// What.
        request: SyncRequest,
    },
    /// Read the replica's chain heads; report them as [`Event::LocalHeads`].
    ReadHeads {
        /// The session's peer.
        peer: T::Peer,
        /// The session.
        tag: Tag,
    },
    /// Answer a peer's request from the replica, then report [`Event::Served`].
    Serve {
        /// Who asked.
        peer: T::Peer,
        /// Where to answer.
        reply: T::Reply,
        /// What to answer.
        serve: Serve,
    },
    /// Send this answer (a refusal the engine made itself), then report [`Event::Served`].
    Respond {
        /// Who asked.
        peer: T::Peer,
        /// Where.
        reply: T::Reply,
        /// What.
        response: SyncResponse,
    },
    /// Verify and store these records; report [`Event::Ingested`].
    Ingest {
        /// The batch.
        batch: BatchId,
        /// How they came.
        source: Source,
        /// The peer that sent them, for a sync batch (a gossip batch has many senders).
        from: Option<T::Peer>,
        /// The records.
        records: Vec<T::Record>,
    },
    /// Check and store these charter items; report [`Event::CharterIngested`].
    IngestCharter {
        /// The batch.
        batch: BatchId,
        /// How they came.
        source: Source,
        /// The peer that sent them.
        from: T::Peer,
        /// Their bytes.
        items: Vec<Vec<u8>>,
    },
    /// Tell gossipsub what to do with a message.
    Validate {
        /// The message.
        message: T::Message,
        /// Who sent it.
        from: T::Peer,
        /// The verdict.
        acceptance: Acceptance,
    },
    /// Disconnect `peer` and refuse it until `until`.
    Ban {
        /// The peer.
        peer: T::Peer,
        /// Until when.
        until: Time,
    },
    /// `peer`'s ban ran out: admit it again.
    Unban(T::Peer),
    /// Dial `peer`.
    Dial(T::Peer),
    /// Wake the engine with [`Event::Timer`] at `at`.
    SetTimer {
        /// When.
        at: Time,
        /// Which.
        timer: Timer<T::Peer>,
    },
    /// `peer` was penalised (for metrics and logs).
    Penalised {
        /// The peer.
        peer: T::Peer,
        /// What for.
        offence: Offence,
        /// Whether this penalty banned it.
        banned: bool,
    },
    /// A gossip message from `from`, banned, was dropped unread (for metrics): a flood is
    /// counted even where it is not verified.
    GossipDropped {
        /// The banned sender.
        from: T::Peer,
    },
    /// A request from `peer` was answered busy (for metrics).
    ServeRefused {
        /// The peer.
        peer: T::Peer,
        /// Why.
        refusal: Refusal,
    },
    /// A sync round with `peer` ended: how many new records it stored, or why it failed.
    SyncDone {
        /// The peer.
        peer: T::Peer,
        /// The result.
        result: Result<u64, SyncFailure>,
    },
    /// How far this node's contiguous prefix of `author`'s chain is behind the highest
    /// sequence number any peer has announced.
    Lag {
        /// The member.
        author: String,
        /// Records behind.
        lag: u64,
    },
}

/// What this node knows of a connected peer's sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSync {
    /// When the last round with it completed.
    pub last_sync: Option<Time>,
    /// New records fetched from it since it connected.
    pub records_fetched: u64,
}
