//! The signed forms of charter changes (issue "Membership and keys as signed, replicated
//! data"): the genesis hash of a charter, amendments and approvals, their canonical bytes,
//! ids and signature checks. Which version a set of them gives is `rix_engine::membership`'s
//! rule; `rix_node::charter` stores, checks and applies them.
//!
//! - The **genesis hash** names version 1: SHA-256 of `"rix-charter-v1" 0x00` and the canonical
//!   JSON of the charter with its members sorted by code and its observers by peer id, so that
//!   two copies of one charter that differ only in layout or order have one hash.
//! - An **amendment** is not signed: `"RIXM" 0x01` then its canonical JSON payload; its id is
//!   the SHA-256 of those bytes, and it is the id of the version it makes. It takes effect by
//!   approvals (its proposer's first among them).
//! - An **approval** is signed like a record: `"RIXV" 0x01`, a 64-byte Ed25519 signature over
//!   `"rix-approval-v1" 0x00 ‖ payload` by the approving member's key (strict verification,
//!   record-format.md §2.1), then the payload.
//! - A change that installs a key (`admit`, `rotate_key`) carries a **proof of possession**: a
//!   signature by the new key over `"rix-key-proof-v1" 0x00 ‖ amends (32 bytes) ‖ code ‖ 0x00 ‖
//!   key (32 bytes)`, so nobody can install a key they do not hold, and a proof made for one
//!   version cannot be replayed in another.

use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};

use crate::keys::AuthorKey;
use crate::{Charter, MemberCode, MemberKey, RecordId, Timestamp};

/// The genesis hash's domain separator.
pub const CHARTER_CONTEXT: &[u8] = b"rix-charter-v1\0";
/// An approval signature's domain separator.
pub const APPROVAL_CONTEXT: &[u8] = b"rix-approval-v1\0";
/// A proof of possession's domain separator.
pub const KEY_PROOF_CONTEXT: &[u8] = b"rix-key-proof-v1\0";
const AMENDMENT_MAGIC: [u8; 4] = *b"RIXM";
const APPROVAL_MAGIC: [u8; 4] = *b"RIXV";
const VERSION: u8 = 1;
const SIGNATURE_LEN: usize = 64;
/// The largest amendment or approval accepted, in bytes.
pub const MAX_BYTES: usize = 64 * 1024;

/// Why bytes are not a valid amendment or approval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmendmentError {
    /// Over [`MAX_BYTES`].
    #[error("{0} bytes, over the limit of {MAX_BYTES}")]
    TooLarge(usize),
    /// Not the magic and version expected.
    #[error("not a rix {0} (bad magic or version)")]
    BadMagic(&'static str),
    /// Shorter than its fixed parts.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The payload is not the JSON object specified.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Amendment or approval.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The payload is valid but not in its canonical form.
    #[error("{0} payload is not in canonical form")]
    NonCanonical(&'static str),
    /// The approval's signature does not verify with the key it names.
    #[error("bad approval signature")]
    BadSignature,
    /// A change's proof of possession does not verify with the key it installs.
    #[error("change {index}: the proof of possession does not verify with the key it installs")]
    BadProof {
        /// The change's index.
        index: usize,
    },
}

/// How many approvals an amendment needs, as written in a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule", deny_unknown_fields)]
pub enum ThresholdRule {
    /// More than half of the members.
    Majority,
    /// Exactly `count`.
    Fixed {
        /// At least 1, at most the number of members.
        count: u64,
    },
}

/// One change of an amendment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum Change {
    /// A new member.
    Admit {
        /// Its code.
        code: MemberCode,
        /// Its name.
        name: String,
        /// Its record-signing key.
        public_key: AuthorKey,
        /// Its node's peer id (empty: no node yet).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        peer_id: String,
        /// Its node's addresses.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addresses: Vec<String>,
        /// The new key's proof of possession, 128 hex digits, if the proposer has it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<String>,
    },
    /// A member leaves; its records after the cut-off are refused.
    Remove {
        /// Its code.
        code: MemberCode,
        /// The last sequence number of its that stays valid (0: none).
        after_seq: u64,
        /// That record's id (absent when `after_seq` is 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_id: Option<RecordId>,
    },
    /// A member's new key.
    RotateKey {
        /// Its code.
        code: MemberCode,
        /// The new key.
        public_key: AuthorKey,
        /// The new key's proof of possession, 128 hex digits.
        proof: String,
    },
    /// A member's key stops being valid after one of its records.
    RevokeKey {
        /// Its code.
        code: MemberCode,
        /// The key revoked.
        public_key: AuthorKey,
        /// The last sequence number signed with it that stays valid (0: none).
        after_seq: u64,
        /// That record's id (absent when `after_seq` is 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_id: Option<RecordId>,
    },
    /// A member's node changes.
    SetNode {
        /// Its code.
        code: MemberCode,
        /// The node's peer id.
        peer_id: String,
        /// Its addresses.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addresses: Vec<String>,
    },
    /// An observer joins.
    AddObserver {
        /// Its peer id.
        peer_id: String,
        /// Who runs it.
        name: String,
        /// Its addresses.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addresses: Vec<String>,
    },
    /// An observer leaves.
    RemoveObserver {
        /// Its peer id.
        peer_id: String,
    },
    /// A new threshold.
    SetThreshold {
        /// The rule.
        threshold: ThresholdRule,
    },
}

/// An amendment's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendmentBody {
    /// 1.
    pub format: u32,
    /// The network's name.
    pub network: String,
    /// The genesis hash.
    pub genesis: RecordId,
    /// The id of the version amended (the genesis hash for version 1).
    pub amends: RecordId,
    /// The number of the version it makes (the amended version's number + 1).
    pub version: u64,
    /// Who proposed it.
    pub proposer: MemberCode,
    /// When.
    pub created_at: Timestamp,
    /// What it changes, in order.
    pub changes: Vec<Change>,
}

/// An amendment: its exact bytes and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amendment {
    /// `"RIXM" 0x01 ‖ payload`.
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes.
    pub id: RecordId,
    /// The decoded content.
    pub body: AmendmentBody,
}

/// An approval's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    /// 1.
    pub format: u32,
    /// The network's name.
    pub network: String,
    /// The amendment approved.
    pub amendment: RecordId,
    /// The approving member.
    pub approver: MemberCode,
    /// The key it signs with (counted only if the amended version gives it to `approver`).
    pub key: AuthorKey,
    /// When.
    pub created_at: Timestamp,
}

/// An approval whose signature verified with the key it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// `"RIXV" 0x01 ‖ signature ‖ payload`.
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes.
    pub id: RecordId,
    /// The decoded content.
    pub body: ApprovalBody,
}

/// Checks the size, magic and version; returns what follows them.
fn after_header<'a>(bytes: &'a [u8], magic: [u8; 4], what: &'static str) -> Result<&'a [u8], AmendmentError> {
    if bytes.len() > MAX_BYTES {
        return Err(AmendmentError::TooLarge(bytes.len()));
    }
    if bytes.len() < 5 {
        return Err(AmendmentError::Truncated(what));
    }
    if bytes[..4] != magic || bytes[4] != VERSION {
        return Err(AmendmentError::BadMagic(what));
    }
    Ok(&bytes[5..])
}

fn canonical<T: Serialize>(value: &T) -> Vec<u8> {
    crate::canonical::encode(value).expect("amendments and approvals hold integers only")
}

fn decode<T: for<'de> Deserialize<'de> + Serialize>(payload: &[u8], what: &'static str) -> Result<T, AmendmentError> {
    let body: T =
        serde_json::from_slice(payload).map_err(|e| AmendmentError::Malformed { what, reason: e.to_string() })?;
    if canonical(&body) != payload {
        return Err(AmendmentError::NonCanonical(what));
    }
    Ok(body)
}

impl Charter {
    /// The genesis hash of this charter as version 1 (see the module documentation).
    pub fn genesis_hash(&self) -> RecordId {
        let mut sorted = self.clone();
        sorted.members.sort_by(|a, b| a.code.cmp(&b.code));
        sorted.observers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        let mut bytes = CHARTER_CONTEXT.to_vec();
        bytes.extend_from_slice(&canonical(&sorted));
        RecordId::of_envelope(&bytes)
    }
}

/// The message a proof of possession signs.
pub fn key_proof_message(amends: &RecordId, code: &MemberCode, key: &AuthorKey) -> Vec<u8> {
    let mut message = KEY_PROOF_CONTEXT.to_vec();
    message.extend_from_slice(amends.as_bytes());
    message.extend_from_slice(code.to_string().as_bytes());
    message.push(0);
    message.extend_from_slice(&key.to_bytes());
    message
}

/// A proof of possession of `key` (the new key signs), as 128 hex digits.
pub fn key_proof(key: &MemberKey, amends: &RecordId, code: &MemberCode) -> String {
    hex::encode(key.sign(&key_proof_message(amends, code, &key.author_key())).to_bytes())
}

fn proof_verifies(proof: &str, amends: &RecordId, code: &MemberCode, key: &AuthorKey) -> bool {
    let Ok(bytes) = <[u8; SIGNATURE_LEN]>::try_from(hex::decode(proof).unwrap_or_default()) else { return false };
    proof.len() == 2 * SIGNATURE_LEN
        && !proof.bytes().any(|b| b.is_ascii_uppercase())
        && key
            .verifying_key()
            .verify_strict(&key_proof_message(amends, code, key), &Signature::from_bytes(&bytes))
            .is_ok()
}

impl Amendment {
    /// The amendment of `body`.
    pub fn new(body: AmendmentBody) -> Self {
        let mut bytes = AMENDMENT_MAGIC.to_vec();
        bytes.push(VERSION);
        bytes.extend_from_slice(&canonical(&body));
        Self { id: RecordId::of_envelope(&bytes), bytes, body }
    }

    /// Reads an amendment and checks everything that needs no charter version: its form and
    /// every proof of possession.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AmendmentError> {
        const WHAT: &str = "amendment";
        let body: AmendmentBody = decode(after_header(bytes, AMENDMENT_MAGIC, WHAT)?, WHAT)?;
        for (index, change) in body.changes.iter().enumerate() {
            let proven = match change {
                Change::Admit { code, public_key, proof: Some(proof), .. }
                | Change::RotateKey { code, public_key, proof } => {
                    proof_verifies(proof, &body.amends, code, public_key)
                }
                _ => true,
            };
            if !proven {
                return Err(AmendmentError::BadProof { index });
            }
        }
        Ok(Self { id: RecordId::of_envelope(bytes), bytes: bytes.to_vec(), body })
    }
}

impl Approval {
    /// `key` approves `amendment` as member `approver`.
    pub fn sign(key: &MemberKey, network: &str, approver: MemberCode, amendment: RecordId, at: Timestamp) -> Self {
        let body = ApprovalBody {
            format: 1,
            network: network.to_owned(),
            amendment,
            approver,
            key: key.author_key(),
            created_at: at,
        };
        let payload = canonical(&body);
        let mut message = APPROVAL_CONTEXT.to_vec();
        message.extend_from_slice(&payload);
        let mut bytes = APPROVAL_MAGIC.to_vec();
        bytes.push(VERSION);
        bytes.extend_from_slice(&key.sign(&message).to_bytes());
        bytes.extend_from_slice(&payload);
        Self { id: RecordId::of_envelope(&bytes), bytes, body }
    }

    /// Reads an approval and verifies its signature with the key it names. Whether that key
    /// counts is the charter chain's question.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AmendmentError> {
        const WHAT: &str = "approval";
        let rest = after_header(bytes, APPROVAL_MAGIC, WHAT)?;
        if rest.len() <= SIGNATURE_LEN {
            return Err(AmendmentError::Truncated(WHAT));
        }
        let signature = Signature::from_bytes(rest[..SIGNATURE_LEN].try_into().expect("64 bytes"));
        let payload = &rest[SIGNATURE_LEN..];
        let body: ApprovalBody = decode(payload, WHAT)?;
        let mut message = APPROVAL_CONTEXT.to_vec();
        message.extend_from_slice(payload);
        body.key.verifying_key().verify_strict(&message, &signature).map_err(|_| AmendmentError::BadSignature)?;
        Ok(Self { id: RecordId::of_envelope(bytes), bytes: bytes.to_vec(), body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CharterMember;

    fn key(seed: u8) -> MemberKey {
        MemberKey::from_seed(&[seed; 32])
    }

    fn charter() -> Charter {
        let mut c = Charter::new("almaty-integrity");
        for (i, code) in ["KZ", "JP", "MN"].iter().enumerate() {
            c.upsert_member(CharterMember {
                code: code.parse().unwrap(),
                name: format!("Customs {code}"),
                public_key: key(i as u8 + 1).author_key(),
                peer_id: String::new(),
                addresses: vec![],
            });
        }
        c
    }

    fn admit_tj(genesis: RecordId, proof_key: &MemberKey) -> AmendmentBody {
        let tj: MemberCode = "TJ".parse().unwrap();
        AmendmentBody {
            format: 1,
            network: "almaty-integrity".into(),
            genesis,
            amends: genesis,
            version: 2,
            proposer: "KZ".parse().unwrap(),
            created_at: "2026-12-03T10:00:00Z".parse().unwrap(),
            changes: vec![Change::Admit {
                code: tj.clone(),
                name: "Customs Service of Tajikistan".into(),
                public_key: key(9).author_key(),
                peer_id: String::new(),
                addresses: vec![],
                proof: Some(key_proof(proof_key, &genesis, &tj)),
            }],
        }
    }

    #[test]
    fn the_genesis_hash_ignores_order_and_layout_but_not_content() {
        let c = charter();
        let mut reordered = c.clone();
        reordered.members.reverse();
        assert_eq!(c.genesis_hash(), reordered.genesis_hash());
        let reparsed = Charter::parse(&c.to_toml(), std::path::Path::new("c.toml")).unwrap();
        assert_eq!(c.genesis_hash(), reparsed.genesis_hash());
        let mut renamed = c.clone();
        renamed.members[0].name.push('!');
        assert_ne!(c.genesis_hash(), renamed.genesis_hash());
    }

    #[test]
    fn an_amendment_reads_back_with_its_id_and_refuses_a_key_its_proposer_does_not_hold() {
        let genesis = charter().genesis_hash();
        let amendment = Amendment::new(admit_tj(genesis, &key(9)));
        let read = Amendment::from_bytes(&amendment.bytes).unwrap();
        assert_eq!((read.id, &read.body), (amendment.id, &amendment.body));
        // The proof made by another key than the one installed.
        let forged = Amendment::new(admit_tj(genesis, &key(8)));
        assert_eq!(Amendment::from_bytes(&forged.bytes).unwrap_err(), AmendmentError::BadProof { index: 0 });
        // A proof for another version does not carry over.
        let mut replayed = admit_tj(genesis, &key(9));
        replayed.amends = amendment.id;
        assert!(matches!(Amendment::from_bytes(&Amendment::new(replayed).bytes), Err(AmendmentError::BadProof { .. })));
        // Any other byte form is refused.
        let mut spaced = amendment.bytes.clone();
        spaced.insert(6, b' ');
        assert!(matches!(
            Amendment::from_bytes(&spaced),
            Err(AmendmentError::Malformed { .. } | AmendmentError::NonCanonical(_))
        ));
    }

    #[test]
    fn an_approval_verifies_with_the_key_it_names_and_nothing_else() {
        let genesis = charter().genesis_hash();
        let amendment = Amendment::new(admit_tj(genesis, &key(9)));
        let at = "2026-12-03T10:05:00Z".parse().unwrap();
        let approval = Approval::sign(&key(2), "almaty-integrity", "JP".parse().unwrap(), amendment.id, at);
        let read = Approval::from_bytes(&approval.bytes).unwrap();
        assert_eq!(read.body.key, key(2).author_key());
        let mut tampered = approval.bytes.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        assert!(Approval::from_bytes(&tampered).is_err());
        let mut resigned = approval.bytes.clone();
        resigned[5] ^= 1;
        assert_eq!(Approval::from_bytes(&resigned).unwrap_err(), AmendmentError::BadSignature);
        assert_eq!(Approval::from_bytes(b"RIXM\x01").unwrap_err(), AmendmentError::BadMagic("approval"));
    }
}
