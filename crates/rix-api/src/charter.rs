//! What `rix charter show`, `log`, `pending`, `propose` and `approve` report: a charter
//! version, the chain of versions and the proposals (amendments) of the current version. The
//! JSON of each is the shape `docs/cli.md` promises to scripts.

use rix_record::amendment::{Change, ThresholdRule};
use rix_record::{MemberCode, RecordId, Retirement, Timestamp};
use serde::{Deserialize, Serialize};

/// One version of the charter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharterView {
    /// Its number: 1 for the genesis.
    pub version: u64,
    /// Its id: the genesis hash for version 1, else the id of the amendment that made it.
    pub hash: RecordId,
    /// The genesis hash, which names the network.
    pub genesis: RecordId,
    /// The network's name.
    pub network: String,
    /// How many approvals an amendment of this version needs.
    pub threshold: u64,
    /// The rule that number comes from.
    pub threshold_rule: ThresholdRule,
    /// The members, by code.
    pub members: Vec<CharterMemberView>,
    /// The observers, by peer id.
    pub observers: Vec<ObserverView>,
    /// Keys that no longer sign new records, and which of their records stay valid.
    pub retired_keys: Vec<RetiredKeyView>,
    /// Whether this is the current version.
    pub current: bool,
}

/// A member in a [`CharterView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharterMemberView {
    /// Its code.
    pub code: MemberCode,
    /// Its name.
    pub name: String,
    /// Its record-signing key, 64 hex digits.
    pub public_key: String,
    /// Its node's peer id ("" if none).
    pub peer_id: String,
    /// Its node's addresses.
    pub addresses: Vec<String>,
    /// The version it joined in.
    pub joined: u64,
    /// Whether its current key is revoked (it cannot sign or approve until a new key is
    /// installed).
    pub key_revoked: bool,
}

/// An observer in a [`CharterView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObserverView {
    /// Its peer id.
    pub peer_id: String,
    /// Who runs it.
    pub name: String,
    /// Its addresses.
    pub addresses: Vec<String>,
}

/// A retired key in a [`CharterView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetiredKeyView {
    /// The member that held it.
    pub code: MemberCode,
    /// The key.
    pub public_key: String,
    /// The version that retired it.
    pub since_version: u64,
    /// `rotated`, `revoked` or `removed`.
    pub reason: String,
    /// The last valid sequence number signed with it (none for a rotated key).
    pub after_seq: Option<u64>,
    /// That record's id.
    pub last_id: Option<RecordId>,
}

impl RetiredKeyView {
    /// The view of a retired key.
    pub fn of(key: &rix_record::RetiredKey) -> Self {
        let (reason, cutoff) = match &key.why {
            Retirement::Rotated => ("rotated", None),
            Retirement::Revoked(c) => ("revoked", Some(c)),
            Retirement::Removed(c) => ("removed", Some(c)),
        };
        Self {
            code: key.code.clone(),
            public_key: key.public_key.to_string(),
            since_version: key.since_version,
            reason: reason.to_owned(),
            after_seq: cutoff.map(|c| c.after_seq),
            last_id: cutoff.and_then(|c| c.last_id),
        }
    }
}

/// A proposed amendment and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalView {
    /// Its id (the id of the version it makes, once applied).
    pub proposal: RecordId,
    /// The number of the version it amends.
    pub amends_version: u64,
    /// The id of the version it amends.
    pub amends: RecordId,
    /// Who proposed it.
    pub proposer: MemberCode,
    /// When.
    pub created_at: Timestamp,
    /// What it changes, in order.
    pub changes: Vec<Change>,
    /// The members whose approvals count (each once, with the key the amended version gives
    /// it).
    pub approvals: Vec<MemberCode>,
    /// How many approvals it needs.
    pub needed: u64,
    /// The version it made, once applied.
    pub applied: Option<u64>,
    /// Why it can no longer apply (another amendment of its version applied, or its changes
    /// do not apply), if so.
    pub stale: Option<String>,
}

/// `rix charter pending`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingProposals {
    /// The current version's number.
    pub version: u64,
    /// The open proposals of the current version, by id.
    pub proposals: Vec<ProposalView>,
}

/// One version in `rix charter log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionLogEntry {
    /// Its number.
    pub version: u64,
    /// Its id.
    pub hash: RecordId,
    /// Who proposed it (none for the genesis).
    pub proposer: Option<MemberCode>,
    /// What it changed (none for the genesis).
    pub changes: Vec<Change>,
    /// The members whose approvals made it.
    pub approved_by: Vec<MemberCode>,
    /// When it took effect: the time of the approval that reached the threshold (none for the
    /// genesis).
    pub effective_at: Option<Timestamp>,
}

/// `rix charter log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharterLog {
    /// The genesis hash.
    pub genesis: RecordId,
    /// Every version, the genesis first.
    pub versions: Vec<VersionLogEntry>,
}

/// One change in words, as `rix charter log` and the web view show it.
pub fn describe_change(change: &Change) -> String {
    match change {
        Change::Admit { code, name, public_key, peer_id, addresses, .. } => format!(
            "admit {code} {name:?}, key {public_key}, node {}{}",
            if peer_id.is_empty() { "(none)" } else { peer_id },
            if addresses.is_empty() { String::new() } else { format!(" at {}", addresses.join(" ")) }
        ),
        Change::Remove { code, after_seq, .. } => format!("remove {code} (its records after #{after_seq} refused)"),
        Change::RotateKey { code, public_key, .. } => format!("rotate {code}'s key to {public_key}"),
        Change::RevokeKey { code, public_key, after_seq, .. } => {
            format!("revoke {code}'s key {public_key} after record #{after_seq}")
        }
        Change::SetNode { code, peer_id, addresses } => {
            format!("set {code}'s node to {peer_id}{}", if addresses.is_empty() { "" } else { " at " })
                + &addresses.join(" ")
        }
        Change::AddObserver { peer_id, name, .. } => format!("add observer {name:?} ({peer_id})"),
        Change::RemoveObserver { peer_id } => format!("remove observer {peer_id}"),
        Change::SetThreshold { threshold: ThresholdRule::Majority } => "set the threshold to a majority".into(),
        Change::SetThreshold { threshold: ThresholdRule::Fixed { count } } => format!("set the threshold to {count}"),
    }
}
