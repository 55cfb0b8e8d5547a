//! The charter: the list of members (who may author) and observers (who may only replicate) of
//! one rix network, with each member's signing key and node address. Membership is data: adding
//! an administration is an edit of this file, not of code.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::RecordId;
use crate::amendment::ThresholdRule;
use crate::content::valid_network_name;
use crate::keys::AuthorKey;
use crate::member::MemberCode;

/// A charter file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CharterError {
    /// The file could not be read or written.
    #[error("charter {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a charter (TOML syntax, a missing or mistyped field).
    #[error("charter {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the field and line.
        message: String,
    },
    /// A field breaks a rule.
    #[error("charter {path}: {field}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which field.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// One network's membership.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charter {
    /// The network's name: part of every signed record and of the gossip topic, so that two
    /// networks never mix. 1-64 of `a-z 0-9 - . _`.
    pub network: String,
    /// What this network is, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Administrations that may author records.
    #[serde(default)]
    pub members: Vec<CharterMember>,
    /// Peers that may connect and replicate but not author.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observers: Vec<Observer>,
    /// How many members must approve an amendment of this version (absent: a majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdRule>,
    /// Keys that no longer sign new records: rotated out, revoked, or of removed members.
    /// Derived by the charter chain, never written in a charter file.
    #[serde(skip)]
    pub retired: Vec<RetiredKey>,
}

/// A key that no longer signs new records, and which of its records stay valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetiredKey {
    /// The member that held it.
    pub code: MemberCode,
    /// The key.
    pub public_key: AuthorKey,
    /// The version that retired it.
    pub since_version: u64,
    /// Why, and its cut-off.
    pub why: Retirement,
}

/// Why a key was retired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Retirement {
    /// Replaced by a new key of the same member.
    Rotated,
    /// Revoked: its records up to the cut-off stay valid, later ones are refused.
    Revoked(Cutoff),
    /// Its member left: its records up to the cut-off stay valid, later ones are refused.
    Removed(Cutoff),
}

/// The last record of a member's chain that a retired key may have signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cutoff {
    /// Its sequence number (0: none).
    pub after_seq: u64,
    /// Its id (absent when `after_seq` is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<RecordId>,
}

impl Cutoff {
    /// Whether the record at `seq` with `id` is within the cut-off.
    pub fn admits(&self, seq: u64, id: &RecordId) -> bool {
        seq < self.after_seq || (seq == self.after_seq && self.last_id.as_ref() == Some(id))
    }
}

/// A member administration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharterMember {
    /// Its code (`KZ`).
    pub code: MemberCode,
    /// Its full name.
    pub name: String,
    /// Its ed25519 record-signing public key, 64 hex digits.
    pub public_key: AuthorKey,
    /// The libp2p peer id of its node.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer_id: String,
    /// Multiaddresses its node listens on, which other nodes dial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
}

/// A read-only replica admitted to the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observer {
    /// Who runs it.
    pub name: String,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Where it can be dialled, if anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
}

impl Charter {
    /// An empty charter for `network`.
    pub fn new(network: impl Into<String>) -> Self {
        Self {
            network: network.into(),
            description: String::new(),
            members: vec![],
            observers: vec![],
            threshold: None,
            retired: vec![],
        }
    }

    /// A charter of one member, `code`, named after its code, with `key`'s public key and no
    /// node: what a test, a benchmark or a one-off tool that signs as one member needs.
    pub fn with_member(network: impl Into<String>, code: crate::MemberCode, key: &crate::MemberKey) -> Self {
        let mut charter = Self::new(network);
        charter.upsert_member(CharterMember {
            name: code.to_string(),
            code,
            public_key: key.author_key(),
            peer_id: String::new(),
            addresses: vec![],
        });
        charter
    }

    /// Reads and validates a charter file.
    pub fn load(path: &Path) -> Result<Self, CharterError> {
        let text = fs::read_to_string(path).map_err(|source| CharterError::Io { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and validates charter text; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, CharterError> {
        let charter: Charter =
            toml::from_str(text).map_err(|e| CharterError::Parse { path: path.to_owned(), message: e.to_string() })?;
        charter.validate(path)?;
        Ok(charter)
    }

    /// The charter as the TOML text [`Charter::save`] writes.
    pub fn to_toml(&self) -> String {
        format!(
            "# rix charter: the members and observers of network {:?}.\n# Every node of the network holds a copy; see docs/operations.md.\n\n{}",
            self.network,
            toml::to_string_pretty(self).expect("charter serialises")
        )
    }

    /// Writes the charter (atomically: a temporary file renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<(), CharterError> {
        self.validate(path)?;
        let io = |source| CharterError::Io { path: path.to_owned(), source };
        let text = self.to_toml();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("toml.tmp");
        fs::write(&tmp, text).map_err(io)?;
        fs::rename(&tmp, path).map_err(io)
    }

    /// The member with this code.
    pub fn member(&self, code: &MemberCode) -> Option<&CharterMember> {
        self.members.iter().find(|m| &m.code == code)
    }

    /// The member whose node has this peer id.
    pub fn member_by_peer(&self, peer_id: &str) -> Option<&CharterMember> {
        self.members.iter().find(|m| !m.peer_id.is_empty() && m.peer_id == peer_id)
    }

    /// The observer with this peer id.
    pub fn observer(&self, peer_id: &str) -> Option<&Observer> {
        self.observers.iter().find(|o| o.peer_id == peer_id)
    }

    /// The number of approvals an amendment of this version needs.
    pub fn needed(&self) -> usize {
        match self.threshold {
            None | Some(ThresholdRule::Majority) => self.members.len() / 2 + 1,
            Some(ThresholdRule::Fixed { count }) => usize::try_from(count).unwrap_or(usize::MAX),
        }
    }

    /// What the charter says of `key` as `code`'s key, if it was ever retired.
    pub fn retirement(&self, code: &MemberCode, key: &AuthorKey) -> Option<&RetiredKey> {
        self.retired.iter().find(|r| &r.code == code && &r.public_key == key)
    }

    /// The keys `code` held after `key` (installed by later rotations, its current key
    /// included): a rotated-out key stops counting at the first record signed by one of them.
    pub fn keys_after(&self, code: &MemberCode, key: &AuthorKey) -> Vec<AuthorKey> {
        let Some(since) = self.retirement(code, key).map(|r| r.since_version) else { return vec![] };
        let mut later: Vec<AuthorKey> =
            self.retired.iter().filter(|r| &r.code == code && r.since_version > since).map(|r| r.public_key).collect();
        if let Some(m) = self.member(code).filter(|m| &m.public_key != key) {
            later.push(m.public_key);
        }
        later
    }

    /// Whether a node with this peer id may connect (member node or observer).
    pub fn admits_peer(&self, peer_id: &str) -> bool {
        self.member_by_peer(peer_id).is_some() || self.observer(peer_id).is_some()
    }

    /// Adds `member`, or replaces the entry with the same code.
    pub fn upsert_member(&mut self, member: CharterMember) {
        match self.members.iter_mut().find(|m| m.code == member.code) {
            Some(existing) => *existing = member,
            None => self.members.push(member),
        }
    }

    /// Adds an observer, or renames the one with the same peer id.
    pub fn upsert_observer(&mut self, observer: Observer) {
        match self.observers.iter_mut().find(|o| o.peer_id == observer.peer_id) {
            Some(existing) => *existing = observer,
            None => self.observers.push(observer),
        }
    }

    fn validate(&self, path: &Path) -> Result<(), CharterError> {
        let invalid = |field: String, reason: String| CharterError::Invalid { path: path.to_owned(), field, reason };
        if !valid_network_name(&self.network) {
            return Err(invalid("network".into(), format!("{:?}: use 1-64 of a-z 0-9 - . _", self.network)));
        }
        let mut codes = BTreeSet::new();
        let mut keys = BTreeSet::new();
        let mut peers = BTreeSet::new();
        for (i, m) in self.members.iter().enumerate() {
            let field = |f: &str| format!("members[{i}].{f}");
            if !codes.insert(m.code.clone()) {
                return Err(invalid(field("code"), format!("member {} is listed twice", m.code)));
            }
            if !keys.insert(m.public_key.to_bytes()) {
                return Err(invalid(field("public_key"), format!("{} shares its key with another member", m.code)));
            }
            if !m.peer_id.is_empty() {
                check_peer_id(&m.peer_id).map_err(|r| invalid(field("peer_id"), r))?;
                if !peers.insert(m.peer_id.clone()) {
                    return Err(invalid(field("peer_id"), format!("{} is listed twice", m.peer_id)));
                }
            }
            for a in &m.addresses {
                check_multiaddr(a).map_err(|r| invalid(field("addresses"), r))?;
            }
        }
        if let Some(ThresholdRule::Fixed { count }) = self.threshold
            && !(1..=self.members.len() as u64).contains(&count)
        {
            return Err(invalid(
                "threshold.count".into(),
                format!("{count} is outside 1..={} (the number of members)", self.members.len()),
            ));
        }
        for (i, o) in self.observers.iter().enumerate() {
            let field = |f: &str| format!("observers[{i}].{f}");
            check_peer_id(&o.peer_id).map_err(|r| invalid(field("peer_id"), r))?;
            if !peers.insert(o.peer_id.clone()) {
                return Err(invalid(field("peer_id"), format!("{} is listed twice", o.peer_id)));
            }
            for a in &o.addresses {
                check_multiaddr(a).map_err(|r| invalid(field("addresses"), r))?;
            }
        }
        Ok(())
    }
}

/// A light shape check; the network layer parses peer ids fully.
pub(crate) fn check_peer_id(peer_id: &str) -> Result<(), String> {
    const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if (40..=64).contains(&peer_id.len()) && peer_id.chars().all(|c| BASE58.contains(c)) {
        Ok(())
    } else {
        Err(format!("{peer_id:?} is not a libp2p peer id (base58, like 12D3KooW...)"))
    }
}

pub(crate) fn check_multiaddr(addr: &str) -> Result<(), String> {
    if addr.starts_with('/') && !addr.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!("{addr:?} is not a multiaddress (like /ip4/203.0.113.7/tcp/4001)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MemberKey;

    fn member(code: &str, seed: u8) -> CharterMember {
        CharterMember {
            code: code.parse().unwrap(),
            name: format!("Customs of {code}"),
            public_key: MemberKey::from_seed(&[seed; 32]).author_key(),
            peer_id: String::new(),
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        }
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charter.toml");
        let mut c = Charter::new("almaty-test");
        c.upsert_member(member("KZ", 1));
        c.upsert_member(member("JP", 2));
        c.save(&path).unwrap();
        assert_eq!(Charter::load(&path).unwrap(), c);
    }

    #[test]
    fn errors_name_file_and_field() {
        let path = Path::new("net/charter.toml");
        let mut c = Charter::new("almaty-test");
        c.members.push(member("KZ", 1));
        c.members.push(member("KZ", 2));
        let text = toml::to_string(&c).unwrap();
        let err = Charter::parse(&text, path).unwrap_err().to_string();
        assert!(err.contains("net/charter.toml") && err.contains("members[1].code"), "{err}");

        let err = Charter::parse("network = \"x\"\n[[members]]\ncode = \"KZ\"\n", path).unwrap_err().to_string();
        assert!(err.contains("net/charter.toml") && err.contains("name"), "{err}");
    }
}
