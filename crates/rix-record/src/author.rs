//! [`Author`]: a member signing its records in sequence, each linked to the previous one.

use crate::content::{Content, FORMAT_VERSION, Record};
use crate::envelope::{SignError, SignedRecord, VerifiedRecord};
use crate::id::RecordId;
use crate::keys::MemberKey;
use crate::member::MemberCode;
use crate::timefmt::Timestamp;

/// The newest record of an author's chain: the next record is `seq + 1` with `prev = id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainHead {
    /// Sequence number of the newest record.
    pub seq: u64,
    /// Its id.
    pub id: RecordId,
}

/// A member that signs records for one network.
#[derive(Debug)]
pub struct Author {
    network: String,
    member: MemberCode,
    key: MemberKey,
}

impl Author {
    /// A member of `network` signing with `key`.
    pub fn new(network: impl Into<String>, member: MemberCode, key: MemberKey) -> Self {
        Self { network: network.into(), member, key }
    }

    /// The member code.
    pub fn member(&self) -> &MemberCode {
        &self.member
    }

    /// The signing key.
    pub fn key(&self) -> &MemberKey {
        &self.key
    }

    /// Signs `content` as the record after `head` (or as record 1 when `head` is `None`).
    /// The caller is responsible for `head` being the true newest record of this author:
    /// signing two records after one head is equivocation, which every replica detects.
    pub fn sign_next(
        &self,
        head: Option<ChainHead>,
        content: Content,
        created_at: Timestamp,
    ) -> Result<VerifiedRecord, SignError> {
        let record = Record {
            format: FORMAT_VERSION,
            network: self.network.clone(),
            author: self.member.clone(),
            author_key: self.key.author_key(),
            seq: head.map_or(1, |h| h.seq + 1),
            prev: head.map(|h| h.id),
            created_at,
            content,
        };
        SignedRecord::sign(record, &self.key)
    }
}

impl VerifiedRecord {
    /// This record as the head of its author's chain.
    pub fn as_head(&self) -> ChainHead {
        ChainHead { seq: self.record().seq, id: self.id() }
    }
}
