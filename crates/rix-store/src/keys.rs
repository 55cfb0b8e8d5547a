//! The key layout of the replica's one sled tree. Every kind of entry has a one-byte prefix so
//! that a record and all its index entries are written in one atomic batch.
//!
//! ```text
//! r id                      -> envelope bytes          the records
//! c author 0 seq            -> id                      chain: author + sequence number
//! t time id                 -> facets                  by creation time
//! s old-id new-id           -> ()                      "new supersedes old" (as claimed)
//! w target-id withdrawal-id -> ()                      "withdrawal names target" (as claimed)
//! e author 0 seq id         -> envelope bytes          equivocation evidence
//! m name                    -> value                   metadata (format version, count)
//! x author 0 seq id         -> reason 0 envelope       records taken out after a charter
//!                                                      version retired their key
//! y author 0 key            -> seq                     the lowest sequence number held of
//!                                                      the author signed with that key
//! a amendment-id            -> amendment bytes         charter amendments
//! v amendment-id approval-id -> approval bytes         their approvals
//! ```
//! `time` is the record's `created_at` in Unix seconds, big-endian with the sign bit flipped so
//! byte order is time order. `seq` is big-endian u64. `facets` is a publication's kind slug
//! followed by its key-factor slugs, each ended by a 0 byte (empty for a withdrawal), so that
//! listing by kind or factor walks the time index without decoding records, and `rix stats` is
//! computed from the `c`, `s`, `w` and `t` entries alone.
//!
//! Three keys per record (plus links): sled keeps per-page metadata in memory for every page
//! of the tree, even pages not cached, and its leaves split at 16 entries, so resident memory
//! grows with the number of keys. Format 1 also had `k kind 0 time id` and `f factor 0 time
//! id` index keys (about three more keys per record); opening a format-1 replica removes them.

use rix_record::RecordId;

pub const RECORD: u8 = b'r';
pub const CHAIN: u8 = b'c';
/// Format 1 only: the kind index, removed on upgrade.
pub const KIND_V1: u8 = b'k';
/// Format 1 only: the key-factor index, removed on upgrade.
pub const FACTOR_V1: u8 = b'f';
pub const TIME: u8 = b't';
pub const SUPERSEDES: u8 = b's';
pub const WITHDRAWS: u8 = b'w';
pub const EVIDENCE: u8 = b'e';
pub const META: u8 = b'm';
pub const AMENDMENT: u8 = b'a';
pub const RETIRED: u8 = b'x';
pub const FIRST_BY_KEY: u8 = b'y';
pub const APPROVAL: u8 = b'v';

pub fn record(id: &RecordId) -> Vec<u8> {
    cat(&[&[RECORD], id.as_bytes()])
}

pub fn chain_prefix(author: &str) -> Vec<u8> {
    cat(&[&[CHAIN], author.as_bytes(), &[0]])
}

pub fn chain(author: &str, seq: u64) -> Vec<u8> {
    cat(&[&chain_prefix(author), &seq.to_be_bytes()])
}

pub fn time_bytes(unix: i64) -> [u8; 8] {
    ((unix as u64) ^ (1 << 63)).to_be_bytes()
}

/// The value of a time-index key: kind slug, then factor slugs, each ended by 0.
pub fn facets<'a>(kind: &'a str, factors: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for slug in std::iter::once(kind).chain(factors) {
        out.extend_from_slice(slug.as_bytes());
        out.push(0);
    }
    out
}

/// Whether a time-index value names this kind (`kind`) or this key factor (`!kind`).
pub fn facets_match(value: &[u8], kind: bool, slug: &str) -> bool {
    let mut parts = value.split(|b| *b == 0).filter(|p| !p.is_empty());
    if kind { parts.next() == Some(slug.as_bytes()) } else { parts.skip(1).any(|p| p == slug.as_bytes()) }
}

/// The Unix seconds of a time-index key.
pub fn time_of(key: &[u8]) -> i64 {
    (u64::from_be_bytes(key[1..9].try_into().expect("time keys hold 8 time bytes")) ^ (1 << 63)) as i64
}

pub fn time(unix: i64, id: &RecordId) -> Vec<u8> {
    cat(&[&[TIME], &time_bytes(unix), id.as_bytes()])
}

pub fn link(prefix: u8, target: &RecordId, by: &RecordId) -> Vec<u8> {
    cat(&[&[prefix], target.as_bytes(), by.as_bytes()])
}

/// The two ids of a link key: the target, then the record that names it.
pub fn link_ids(key: &[u8]) -> (RecordId, RecordId) {
    let id = |at: usize| RecordId::from_bytes(key[at..at + 32].try_into().expect("link keys hold two ids"));
    (id(1), id(33))
}

/// The author code of a chain key.
pub fn chain_author(key: &[u8]) -> &[u8] {
    let rest = &key[1..];
    &rest[..rest.iter().position(|b| *b == 0).unwrap_or(rest.len())]
}

pub fn link_prefix(prefix: u8, target: &RecordId) -> Vec<u8> {
    cat(&[&[prefix], target.as_bytes()])
}

pub fn evidence(author: &str, seq: u64, id: &RecordId) -> Vec<u8> {
    cat(&[&[EVIDENCE], author.as_bytes(), &[0], &seq.to_be_bytes(), id.as_bytes()])
}

pub fn retired(author: &str, seq: u64, id: &RecordId) -> Vec<u8> {
    cat(&[&[RETIRED], author.as_bytes(), &[0], &seq.to_be_bytes(), id.as_bytes()])
}

pub fn first_by_key(author: &str, key: &[u8; 32]) -> Vec<u8> {
    cat(&[&[FIRST_BY_KEY], author.as_bytes(), &[0], key])
}

pub fn meta(name: &str) -> Vec<u8> {
    cat(&[&[META], name.as_bytes()])
}

/// The record id at the end of an index key.
pub fn trailing_id(key: &[u8]) -> RecordId {
    RecordId::from_bytes(key[key.len() - 32..].try_into().expect("index keys end in an id"))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
