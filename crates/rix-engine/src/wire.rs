//! The sync protocol's messages (`/rix/sync/1`) and its limits: plain data, so the engine can
//! reason about them without a network. `rix-net` frames them on a libp2p stream;
//! `docs/protocol.md` is the normative description.

use serde::{Deserialize, Serialize};

/// Largest request frame body.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest response header body.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;
/// Most record bytes in one response; a responder stops adding records before exceeding it.
pub const MAX_RESPONSE_RECORD_BYTES: usize = 8 * 1024 * 1024;
/// Most records one `fetch` may ask for.
pub const MAX_FETCH_RECORDS: u32 = 4096;

/// A sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncRequest {
    /// "What do you hold?": answered by [`SyncResponse::Summary`].
    Summary,
    /// "Send me `author`'s records with sequence numbers in `from..=to`, at most `limit`,
    /// in sequence order": answered by [`SyncResponse::Records`].
    Fetch {
        /// Member code.
        author: String,
        /// First sequence number.
        from: u64,
        /// Last sequence number.
        to: u64,
        /// Most records wanted (at most [`MAX_FETCH_RECORDS`]).
        limit: u32,
    },
    /// "Send me the charter amendments and approvals you hold, in id order, after `after`":
    /// answered by [`SyncResponse::Charter`].
    Charter {
        /// The store key of the last item received (66 or 130 lowercase hex digits, see
        /// `docs/protocol.md` §4.2); absent for the first page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
    },
}

/// What a node holds of the charter chain: compared, not read, by the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharterSummary {
    /// The genesis hash, 64 hex digits: a peer with another genesis is on another network.
    pub genesis: String,
    /// How many amendments and approvals it holds.
    pub items: u64,
    /// SHA-256 of their ids in byte order, 64 hex digits (of nothing when there are none).
    pub digest: String,
}

/// What a node holds of one author's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorHead {
    /// Member code.
    pub author: String,
    /// All of 1..=contiguous are held.
    pub contiguous: u64,
    /// Highest sequence number held.
    pub max_seq: u64,
    /// Number of records held.
    pub held: u64,
}

/// A sync response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncResponse {
    /// The responder's version vector.
    Summary {
        /// The responder's network name (a mismatch means a misconfigured peer).
        network: String,
        /// One entry per author the responder holds records of.
        heads: Vec<AuthorHead>,
        /// The responder's charter chain (absent from a peer that does not replicate it, such
        /// as an older node or a minimal observer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        charter: Option<CharterSummary>,
    },
    /// Charter amendments and approvals, in id order. Carried as entries after the header.
    Charter {
        /// Their bytes.
        #[serde(skip)]
        items: Vec<Vec<u8>>,
        /// How many entries follow the header.
        count: u32,
        /// True when the responder stopped early (size budget): ask again after the last.
        more: bool,
    },
    /// Records, in sequence order. Carried as entries after the header, not in the JSON.
    Records {
        /// The envelopes.
        #[serde(skip)]
        records: Vec<Vec<u8>>,
        /// How many entries follow the header.
        count: u32,
        /// True when the responder stopped early (limit or size budget): ask again from the
        /// sequence number after the last record received.
        more: bool,
    },
    /// The responder is serving this peer as fast as its limits allow: retry the same request
    /// after `retry_after_ms` milliseconds. Not an error; a peer that keeps ignoring it is
    /// penalised.
    Busy {
        /// Milliseconds to wait before retrying.
        retry_after_ms: u64,
    },
    /// The request was refused or malformed.
    Error {
        /// Why.
        message: String,
    },
}

impl SyncResponse {
    /// A records response, with `count` filled in.
    pub fn records(records: Vec<Vec<u8>>, more: bool) -> Self {
        let count = u32::try_from(records.len()).expect("bounded by MAX_FETCH_RECORDS");
        SyncResponse::Records { records, count, more }
    }
}
