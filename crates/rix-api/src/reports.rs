//! What the node reports: statistics, status and peers, and the results of import, verify and
//! reindex. Their JSON is what `docs/cli.md` promises to scripts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rix_record::{KeyFactor, MemberCode, RecordId, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `rix stats`: what an integrity conference would look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// Every record held, of any kind or state.
    pub records_stored: u64,
    /// Current, non-withdrawn publications (what the rest of the report counts).
    pub publications: u64,
    /// Older versions of publications.
    pub superseded: u64,
    /// Withdrawn publications.
    pub withdrawn: u64,
    /// Withdrawal records.
    pub withdrawals: u64,
    /// Key factors, in declaration order (the table's columns).
    pub factors: Vec<KeyFactor>,
    /// One row per member.
    pub members: Vec<MemberStats>,
    /// Publications per kind slug.
    pub by_kind: BTreeMap<String, u64>,
    /// Publications per year of creation.
    pub by_year: BTreeMap<String, u64>,
    /// Publications per key factor slug (a record with two factors counts for both).
    pub factor_totals: BTreeMap<String, u64>,
}

/// One member's row of [`StatsReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberStats {
    /// The member.
    pub member: MemberCode,
    /// Current publications.
    pub publications: u64,
    /// Per key factor slug.
    pub by_factor: BTreeMap<String, u64>,
    /// The member's newest publication.
    pub newest: Option<NewestRecord>,
    /// Key factors with no publication by this member: coverage gaps.
    pub missing_factors: Vec<KeyFactor>,
    /// Current publications per year of creation.
    #[serde(default)]
    pub by_year: BTreeMap<String, u64>,
}

impl MemberStats {
    /// An empty row for `member`.
    pub fn new(member: MemberCode) -> Self {
        Self {
            member,
            publications: 0,
            by_factor: BTreeMap::new(),
            newest: None,
            missing_factors: Vec::new(),
            by_year: BTreeMap::new(),
        }
    }

    /// Publications on `factor`.
    pub fn on(&self, factor: KeyFactor) -> u64 {
        self.by_factor.get(factor.slug()).copied().unwrap_or(0)
    }
}

/// A member's newest publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewestRecord {
    /// Its id.
    pub id: RecordId,
    /// Its title.
    pub title: String,
    /// When.
    pub created_at: Timestamp,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Envelopes read.
    pub read: usize,
    /// Newly stored.
    pub stored: usize,
    /// Already held.
    pub duplicates: usize,
    /// Kept as equivocation evidence.
    pub equivocations: usize,
    /// Charter amendments and approvals newly stored (refused ones are in `rejected`, with
    /// the reason `charter_item`).
    #[serde(default)]
    pub charter_items: usize,
    /// Not accepted, with why.
    pub rejected: Vec<Rejection>,
}

/// A record that failed verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Position in the input (0-based), or in the replica scan.
    pub index: usize,
    /// The id the bytes hash to; null for a failure of the replica's indexes, which names no
    /// record (`index_mismatch`).
    pub id: Option<RecordId>,
    /// Stable reason label (`bad_signature`, `unknown_author`, ...).
    pub reason: String,
    /// The full message.
    pub error: String,
}

/// What `rix verify` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Records checked.
    pub checked: usize,
    /// Records that verified.
    pub valid: usize,
    /// Records that did not.
    pub failures: Vec<Rejection>,
    /// Per author: what is held, gaps, and hash-link breaks.
    pub chains: Vec<ChainView>,
    /// Authors that signed two records with one sequence number, with the evidence.
    pub equivocations: Vec<EquivocationView>,
}

impl VerifyReport {
    /// True when every stored record verified.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One author's chain as the replica holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainView {
    /// The member.
    pub member: MemberCode,
    /// Records held.
    pub held: u64,
    /// All of 1..=contiguous are held.
    pub contiguous: u64,
    /// Highest sequence number held.
    pub max_seq: u64,
    /// Missing sequence numbers, as inclusive ranges.
    pub missing: Vec<(u64, u64)>,
    /// Records whose `prev` is not the held predecessor: `(seq, id)`.
    pub broken_links: Vec<(u64, RecordId)>,
}

/// Evidence of one equivocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquivocationView {
    /// The member.
    pub member: MemberCode,
    /// The sequence number signed twice.
    pub seq: u64,
    /// The conflicting records (all signed by the member).
    pub ids: Vec<RecordId>,
}

/// A record taken out after its key was retired, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetiredRecordView {
    /// Its id.
    pub id: RecordId,
    /// Its author.
    pub member: MemberCode,
    /// Its sequence number.
    pub seq: u64,
    /// Why it no longer counts: a failure label, a colon, the reason in words.
    pub reason: String,
}

/// `rix status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// The network name.
    pub network: String,
    /// This node's member (absent for an observer).
    pub member: Option<MemberCode>,
    /// This node's peer id.
    pub peer_id: String,
    /// Addresses the node listens on (configured when the daemon is not running).
    pub listen_addresses: Vec<String>,
    /// Whether the answer comes from a running daemon.
    pub daemon_running: bool,
    /// Connected peers (empty when the daemon is not running).
    pub connected_peers: Vec<PeerView>,
    /// Records stored.
    pub records: u64,
    /// Per member: the highest record held and what is missing.
    pub members: Vec<ChainView>,
    /// Equivocation evidence held.
    pub equivocations: Vec<EquivocationView>,
    /// Records taken out after a charter version retired the key that signed them (a
    /// revocation's or a removal's cut-off), kept as evidence.
    #[serde(default)]
    pub retired_records: Vec<RetiredRecordView>,
    /// Whether this node may publish now (its signing history is known).
    pub can_publish: bool,
    /// Free space on the data directory's disk against the reserve (absent if it could not be
    /// measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageView>,
}

/// Free space where the node keeps its data, and what the free-space reserve makes of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageView {
    /// The data directory.
    pub data_dir: String,
    /// Bytes free on its disk.
    pub free_bytes: u64,
    /// The reserve (`store.reserve_mb`), bytes.
    pub reserve_bytes: u64,
    /// Whether records from peers and imports are taken (free space at or above the reserve).
    pub accepting: bool,
}

/// Who a connected peer is, by the charter. Written as the member code, `observer:NAME`, or
/// `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerRole {
    /// A member's node.
    Member(MemberCode),
    /// An observer's node, by its name in the charter.
    Observer(String),
    /// Neither (only while a connection is being refused).
    Unknown,
}

impl fmt::Display for PeerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Member(code) => write!(f, "{code}"),
            Self::Observer(name) => write!(f, "observer:{name}"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl FromStr for PeerRole {
    type Err = std::convert::Infallible;
    /// Anything that is neither a member code nor `observer:NAME` is [`PeerRole::Unknown`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.strip_prefix("observer:") {
            Some(name) => Self::Observer(name.to_owned()),
            None => s.parse().map_or(Self::Unknown, Self::Member),
        })
    }
}

impl Serialize for PeerRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeerRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(s.parse().unwrap_or(Self::Unknown))
    }
}

/// A connected peer, for `rix status` and `rix peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    /// Its peer id.
    pub peer_id: String,
    /// Who it is (JSON field `member`: the code, or `observer:NAME`).
    pub member: Option<PeerRole>,
    /// The address of the connection.
    pub address: Option<String>,
    /// When a sync round with it last completed.
    pub last_sync: Option<Timestamp>,
    /// Records fetched from it by sync since connecting.
    pub records_fetched: u64,
    /// The gossip protocol agreed with it, such as "Gossipsub v1.2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gossip_protocol: Option<String>,
    /// Whether it is in this node's gossip mesh: records this node relays go to mesh peers.
    #[serde(default)]
    pub in_mesh: bool,
    /// Whether it has told this node that it takes the network's gossip; records are
    /// gossiped only to peers that have.
    #[serde(default)]
    pub gossip_subscribed: bool,
    /// Its gossipsub peer score as this node sees it (below -50 this node stops publishing to
    /// it; below -80 it ignores what the peer sends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gossip_score: Option<f64>,
}

/// `rix web --json`: a link that signs a browser into the daemon's web view once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebLogin {
    /// The URL, carrying a one-time token.
    pub url: String,
    /// Seconds the token stays valid if unused.
    pub expires_in: u64,
}

/// What `rix reindex` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReindexReport {
    /// Records in the replica.
    pub records: u64,
    /// Documents indexed (publications).
    pub indexed: u64,
    /// Index size on disk, bytes.
    pub index_bytes: u64,
    /// Seconds taken.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_roles_are_written_as_before() {
        for text in ["KZ", "observer:WCO Secretariat", "unknown"] {
            let role: PeerRole = text.parse().unwrap();
            assert_eq!(serde_json::to_value(&role).unwrap(), text);
        }
        assert_eq!("kz?".parse::<PeerRole>().unwrap(), PeerRole::Unknown);
        assert_eq!("observer:x".parse::<PeerRole>().unwrap(), PeerRole::Observer("x".into()));
    }
}
