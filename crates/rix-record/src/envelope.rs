//! The signed envelope: the exact bytes that are stored, gossiped, exported and hashed.
//!
//! ```text
//! envelope  = magic (4 bytes: "RIX" 0x01) || signature (64 bytes) || payload
//! payload   = canonical JSON of the Record (see `canonical`)
//! signature = Ed25519(author key, SIGNING_CONTEXT || payload)
//! id        = SHA-256(envelope)
//! ```
//!
//! Every check a replica makes before it accepts bytes from outside happens in
//! [`SignedRecord::verify`], in a fixed order so that the same bytes always fail the same way.

use std::sync::Arc;

use ed25519_dalek::Signature;

use crate::canonical::CanonicalError;
use crate::charter::{Charter, Retirement};
use crate::content::{InvalidField, Record};
use crate::id::RecordId;
use crate::keys::MemberKey;
use crate::member::MemberCode;

/// The first four bytes of every version-1 envelope: `R` `I` `X` 0x01.
pub const MAGIC: [u8; 4] = *b"RIX\x01";
/// Prepended to the payload before signing, so a rix signature can never be replayed as a
/// signature over anything else made with the same key.
pub const SIGNING_CONTEXT: &[u8] = b"rix-record-v1\x00";
/// The largest envelope rix accepts or produces: 256 KiB.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
const SIGNATURE_LEN: usize = 64;
const HEADER_LEN: usize = MAGIC.len() + SIGNATURE_LEN;

/// Why bytes were not accepted as a record. Each variant names one check of the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Longer than [`MAX_RECORD_BYTES`].
    #[error("record is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Ends before a complete envelope.
    #[error("record is truncated ({0})")]
    Truncated(String),
    /// Does not start with the rix magic bytes.
    #[error("not a rix record (bad magic bytes)")]
    BadMagic,
    /// A rix envelope of a version this build does not read.
    #[error("record envelope version {0} is not supported by this rix")]
    UnsupportedVersion(u8),
    /// The payload is not a well-formed record.
    #[error("malformed record payload: {0}")]
    Malformed(String),
    /// Well-formed, but not in the one canonical encoding.
    #[error("record payload is not in canonical form")]
    NonCanonical,
    /// Well-formed, but a field breaks a rule.
    #[error("invalid record: {0}")]
    InvalidField(#[from] InvalidField),
    /// Belongs to another network.
    #[error("record belongs to network {found:?}, not {expected:?}")]
    WrongNetwork {
        /// This node's network.
        expected: String,
        /// The record's.
        found: String,
    },
    /// The author is not a member in the charter.
    #[error("author {0} is not a member of this network's charter")]
    UnknownAuthor(MemberCode),
    /// Signed with a key its member held, after that key's cut-off (revoked, or its member
    /// removed).
    #[error("record {seq} of {member} is signed with a key retired after record {after_seq}")]
    KeyRetired {
        /// The author.
        member: MemberCode,
        /// The record's sequence number.
        seq: u64,
        /// The key's last valid sequence number.
        after_seq: u64,
    },
    /// The record's author key is not the charter's key for that member.
    #[error("record claims author {0}, but its key is not {0}'s key in the charter")]
    KeyMismatch(MemberCode),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

impl VerifyError {
    /// A short stable label, for metrics and counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Truncated(_) => "truncated",
            Self::BadMagic => "bad_magic",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Malformed(_) => "malformed",
            Self::NonCanonical => "non_canonical",
            Self::InvalidField(_) => "invalid_field",
            Self::WrongNetwork { .. } => "wrong_network",
            Self::UnknownAuthor(_) => "unknown_author",
            Self::KeyMismatch(_) => "key_mismatch",
            Self::KeyRetired { .. } => "key_retired",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// Why a record could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// A field breaks a rule.
    #[error("invalid record: {0}")]
    InvalidField(#[from] InvalidField),
    /// The signed envelope would exceed [`MAX_RECORD_BYTES`].
    #[error("record would be {size} bytes signed, over the {limit}-byte limit; shorten the body or split the record")]
    TooLarge {
        /// The size it would have.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The signing key is not the key the record names.
    #[error("the signing key does not match the record's author_key")]
    WrongKey,
    /// A value with no canonical form.
    #[error("{0}")]
    Canonical(#[from] CanonicalError),
}

/// Envelope bytes of unknown validity, as received from a file or a peer.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRecord {
    bytes: Arc<[u8]>,
}

impl std::fmt::Debug for SignedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignedRecord({} bytes, id {})", self.bytes.len(), self.id().short())
    }
}

impl SignedRecord {
    /// Wraps untrusted bytes; nothing is checked until [`SignedRecord::verify`].
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self { bytes: bytes.into() }
    }

    /// The envelope bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The id these bytes would have: SHA-256 of the envelope.
    pub fn id(&self) -> RecordId {
        RecordId::of_envelope(&self.bytes)
    }

    /// Signs `record` with `key`, after validating it.
    pub fn sign(record: Record, key: &MemberKey) -> Result<VerifiedRecord, SignError> {
        if record.author_key != key.author_key() {
            return Err(SignError::WrongKey);
        }
        record.validate()?;
        let payload = encode_payload(&record)?;
        let size = HEADER_LEN + payload.len();
        if size > MAX_RECORD_BYTES {
            return Err(SignError::TooLarge { size, limit: MAX_RECORD_BYTES });
        }
        let signature = key.sign(&signing_input(&payload));
        let mut bytes = Vec::with_capacity(size);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&signature.to_bytes());
        bytes.extend_from_slice(&payload);
        let bytes: Arc<[u8]> = bytes.into();
        Ok(VerifiedRecord { id: RecordId::of_envelope(&bytes), bytes, record: Arc::new(record) })
    }

    /// Checks everything that needs no charter: size, envelope, encoding, canonical form,
    /// field rules. Returns the record and its signature, not yet checked.
    pub fn decode(&self) -> Result<(Record, Signature), VerifyError> {
        let bytes = &self.bytes[..];
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(VerifyError::TooLarge { size: bytes.len(), limit: MAX_RECORD_BYTES });
        }
        if bytes.len() < MAGIC.len() {
            return Err(VerifyError::Truncated(format!("{} bytes, no complete header", bytes.len())));
        }
        if bytes[..3] != MAGIC[..3] {
            return Err(VerifyError::BadMagic);
        }
        if bytes[3] != MAGIC[3] {
            return Err(VerifyError::UnsupportedVersion(bytes[3]));
        }
        if bytes.len() <= HEADER_LEN {
            return Err(VerifyError::Truncated(format!("{} bytes, no payload", bytes.len())));
        }
        let signature = Signature::from_bytes(bytes[MAGIC.len()..HEADER_LEN].try_into().expect("64 bytes"));
        let payload = &bytes[HEADER_LEN..];
        // Straight into the record (no intermediate JSON tree): decoding is most of the cost of
        // verification besides the signature.
        let record: Record = serde_json::from_slice(payload).map_err(|e| {
            if e.classify() == serde_json::error::Category::Eof {
                VerifyError::Truncated(e.to_string())
            } else {
                VerifyError::Malformed(e.to_string())
            }
        })?;
        match encode_payload(&record) {
            Ok(canonical) if canonical == payload => {}
            _ => return Err(VerifyError::NonCanonical),
        }
        record.validate()?;
        Ok((record, signature))
    }

    /// Full verification against the charter. The only way to a [`VerifiedRecord`] from bytes.
    pub fn verify(&self, charter: &Charter) -> Result<VerifiedRecord, VerifyError> {
        let (record, signature) = self.decode()?;
        check_authority(&record, &self.id(), charter)?;
        record
            .author_key
            .verifying_key()
            .verify_strict(&signing_input(&self.bytes[HEADER_LEN..]), &signature)
            .map_err(|_| VerifyError::BadSignature)?;
        Ok(VerifiedRecord { id: self.id(), bytes: self.bytes.clone(), record: Arc::new(record) })
    }
}

/// Verifies many envelopes, each exactly as [`SignedRecord::verify`] does (`verify_strict` for
/// every signature), spread over the machine's cores when there are enough of them to be worth
/// a thread.
///
/// Not with an ed25519 batch verification, though it is about 2.5 times faster per signature:
/// its random linear combination cannot give `verify_strict`'s answer for every input. A
/// signature whose `R` has a small-order component passes it with probability 1/2 to 1/8, and
/// one whose `R` is of small order passes it outright, where `verify_strict` always refuses both.
/// The holder of a member's key could then sign a record that some replicas store and others
/// refuse, depending on what it was batched with. Every replica must give every envelope the
/// same answer (record-format.md §2, step 12).
pub fn verify_batch(records: &[SignedRecord], charter: &Charter) -> Vec<Result<VerifiedRecord, VerifyError>> {
    /// Fewer records than this per thread are verified on the calling thread alone.
    const PER_THREAD: usize = 32;
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(records.len() / PER_THREAD);
    if threads <= 1 {
        return records.iter().map(|r| r.verify(charter)).collect();
    }
    let chunk = records.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = records
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|r| r.verify(charter)).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a verification thread panicked")).collect()
    })
}

/// Checks that the record's network and author match the charter.
fn check_authority(record: &Record, id: &RecordId, charter: &Charter) -> Result<(), VerifyError> {
    if record.network != charter.network {
        return Err(VerifyError::WrongNetwork { expected: charter.network.clone(), found: record.network.clone() });
    }
    if let Some(retired) = charter.retirement(&record.author, &record.author_key) {
        return match &retired.why {
            // Bounded by its member's chain: only before the first record signed by a later key
            // (record-format.md §10.5), which needs the replica (`rix_node::charter`).
            Retirement::Rotated => Ok(()),
            Retirement::Revoked(cutoff) | Retirement::Removed(cutoff) if cutoff.admits(record.seq, id) => Ok(()),
            Retirement::Revoked(cutoff) | Retirement::Removed(cutoff) => Err(VerifyError::KeyRetired {
                member: record.author.clone(),
                seq: record.seq,
                after_seq: cutoff.after_seq,
            }),
        };
    }
    let member = charter.member(&record.author).ok_or_else(|| VerifyError::UnknownAuthor(record.author.clone()))?;
    if member.public_key != record.author_key {
        return Err(VerifyError::KeyMismatch(record.author.clone()));
    }
    Ok(())
}

/// The canonical payload bytes of a record.
pub fn encode_payload(record: &Record) -> Result<Vec<u8>, CanonicalError> {
    crate::canonical::encode(record)
}

/// The bytes an author's key signs: [`SIGNING_CONTEXT`] followed by the payload.
pub fn signing_input(payload: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(SIGNING_CONTEXT.len() + payload.len());
    input.extend_from_slice(SIGNING_CONTEXT);
    input.extend_from_slice(payload);
    input
}

/// A record whose bytes have been checked: either signed here or verified against the charter.
///
/// Cheap to clone (the bytes and the decoded record are shared).
#[derive(Clone, Debug)]
pub struct VerifiedRecord {
    id: RecordId,
    bytes: Arc<[u8]>,
    record: Arc<Record>,
}

impl VerifiedRecord {
    /// The record id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The exact envelope bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The decoded record.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The envelope, for sending on.
    pub fn signed(&self) -> SignedRecord {
        SignedRecord { bytes: self.bytes.clone() }
    }

    /// Re-reads bytes that were verified before they were stored. Decodes without checking
    /// the signature; use [`SignedRecord::verify`] to re-check (as `rix verify` does).
    pub fn reload_trusted(bytes: impl Into<Arc<[u8]>>) -> Result<Self, VerifyError> {
        let signed = SignedRecord::from_bytes(bytes);
        let (record, _) = signed.decode()?;
        Ok(Self { id: signed.id(), bytes: signed.bytes, record: Arc::new(record) })
    }
}
