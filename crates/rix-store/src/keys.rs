//! The key layout of the replica's one sled tree. Every kind of entry has a one-byte prefix so
//! that a record and all its index entries are written in one atomic batch.
//!
//! ```text
//! r id                      -> envelope bytes          the records
//! c author 0 seq            -> id                      chain: author + sequence number
//! k kind 0 time id          -> ()                      by kind, then time
//! f factor 0 time id        -> ()                      by key factor, then time
//! t time id                 -> ()                      by creation time
//! s old-id new-id           -> ()                      "new supersedes old" (as claimed)
//! w target-id withdrawal-id -> ()                      "withdrawal names target" (as claimed)
//! e author 0 seq id         -> envelope bytes          equivocation evidence
//! m name                    -> value                   metadata (format version, count)
//! ```
//! `time` is the record's `created_at` in Unix seconds, big-endian with the sign bit flipped so
//! byte order is time order. `seq` is big-endian u64.

use rix_record::RecordId;

pub const RECORD: u8 = b'r';
pub const CHAIN: u8 = b'c';
pub const KIND: u8 = b'k';
pub const FACTOR: u8 = b'f';
pub const TIME: u8 = b't';
pub const SUPERSEDES: u8 = b's';
pub const WITHDRAWS: u8 = b'w';
pub const EVIDENCE: u8 = b'e';
pub const META: u8 = b'm';

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

pub fn facet(prefix: u8, slug: &str, unix: i64, id: &RecordId) -> Vec<u8> {
    cat(&[&[prefix], slug.as_bytes(), &[0], &time_bytes(unix), id.as_bytes()])
}

pub fn facet_prefix(prefix: u8, slug: &str) -> Vec<u8> {
    cat(&[&[prefix], slug.as_bytes(), &[0]])
}

pub fn time(unix: i64, id: &RecordId) -> Vec<u8> {
    cat(&[&[TIME], &time_bytes(unix), id.as_bytes()])
}

pub fn link(prefix: u8, target: &RecordId, by: &RecordId) -> Vec<u8> {
    cat(&[&[prefix], target.as_bytes(), by.as_bytes()])
}

pub fn link_prefix(prefix: u8, target: &RecordId) -> Vec<u8> {
    cat(&[&[prefix], target.as_bytes()])
}

pub fn evidence(author: &str, seq: u64, id: &RecordId) -> Vec<u8> {
    cat(&[&[EVIDENCE], author.as_bytes(), &[0], &seq.to_be_bytes(), id.as_bytes()])
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
