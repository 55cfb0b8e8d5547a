//! One author's chain as the replica holds it: what is held, the gap-free prefix and what is
//! missing, the hash links, the heads sync summaries carry, and equivocation evidence.

use std::collections::BTreeMap;

use rix_record::{ChainHead, MemberCode, RecordId, VerifiedRecord};

use crate::error::StoreError;
use crate::keys;
use crate::replica::{Replica, decode, id_from};

/// What the replica holds of one author's sequence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuthorChain {
    /// The author.
    pub author: MemberCode,
    /// Records held.
    pub held: u64,
    /// Every record 1..=contiguous is held.
    pub contiguous: u64,
    /// The highest sequence number held.
    pub max_seq: u64,
    /// The head of the contiguous prefix (what this author's next record links to, if
    /// nothing is missing).
    pub head: Option<ChainHead>,
    /// The record with the highest sequence number held.
    pub max_head: Option<ChainHead>,
    /// Sequence numbers below `max_seq` that are not held, as inclusive ranges.
    pub missing: Vec<(u64, u64)>,
    /// Inconsistencies in the hash links.
    pub issues: Vec<ChainIssue>,
}

/// A hash-link inconsistency in an author's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainIssue {
    /// The record whose `prev` does not match.
    pub seq: u64,
    /// Its id.
    pub id: RecordId,
    /// What it links to.
    pub links_to: RecordId,
    /// What the replica holds for `seq - 1`.
    pub held: RecordId,
}

/// Two or more distinct records signed by one author with one sequence number.
#[derive(Debug, Clone)]
pub struct Equivocation {
    /// The author.
    pub author: MemberCode,
    /// The sequence number.
    pub seq: u64,
    /// All conflicting records held (the indexed one first).
    pub records: Vec<VerifiedRecord>,
}

impl Replica {
    /// The record an author signed with this sequence number, if held.
    pub fn id_at(&self, author: &MemberCode, seq: u64) -> Result<Option<RecordId>, StoreError> {
        self.db.get(keys::chain(author.as_str(), seq))?.map(|v| id_from(&v)).transpose()
    }

    /// Up to `limit` of an author's records with sequence numbers in `from..=to`, in order.
    pub fn range(
        &self,
        author: &MemberCode,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedRecord>, StoreError> {
        let start = keys::chain(author.as_str(), from);
        let end = keys::chain(author.as_str(), to);
        let mut out = Vec::new();
        for item in self.db.range(start..=end).take(limit) {
            let (_, v) = item?;
            let id = id_from(&v)?;
            if let Some(r) = self.get(&id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Authors with at least one record held.
    pub fn authors(&self) -> Result<Vec<MemberCode>, StoreError> {
        let mut out: Vec<MemberCode> = Vec::new();
        let mut cursor = vec![keys::CHAIN];
        loop {
            let next = self.db.range(cursor.clone()..).keys().next().transpose()?;
            let Some(key) = next.filter(|k| k.first() == Some(&keys::CHAIN)) else {
                break;
            };
            let end = key.iter().position(|&b| b == 0).unwrap_or(key.len());
            let code = std::str::from_utf8(&key[1..end]).map_err(|_| StoreError::Corrupt {
                id: "chain index".into(),
                reason: "author code is not UTF-8".into(),
            })?;
            out.push(
                code.parse().map_err(|e| StoreError::Corrupt { id: "chain index".into(), reason: format!("{e}") })?,
            );
            // Skip past this author's entries: the next key after "c author \x01".
            cursor = [&key[..end], &[1u8]].concat();
        }
        Ok(out)
    }

    /// What is held of one author's sequence: gaps and broken links included. Checking links
    /// reads every record of the author; [`Replica::chain_heads`] is the cheap variant.
    pub fn chain(&self, author: &MemberCode) -> Result<AuthorChain, StoreError> {
        self.scan_chain(author, true)
    }

    /// The author's highest-numbered record held: one index lookup, for publishing.
    pub fn head(&self, author: &MemberCode) -> Result<Option<rix_record::ChainHead>, StoreError> {
        let prefix = keys::chain_prefix(author.as_str());
        let Some(entry) = self.db.scan_prefix(&prefix).next_back() else { return Ok(None) };
        let (key, value) = entry?;
        let seq = key
            .get(prefix.len()..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StoreError::Corrupt { id: format!("chain/{author}"), reason: "bad chain key".into() })?;
        Ok(Some(rix_record::ChainHead { seq, id: id_from(&value)? }))
    }

    /// Every author's chain without the hash-link check, for every sync round (`issues` is
    /// always empty). Only the chain index past each author's known gap-free prefix is read,
    /// so a round costs a few lookups per member however many records are held.
    pub fn chain_heads(&self) -> Result<Vec<AuthorChain>, StoreError> {
        self.authors()?.iter().map(|a| self.scan_chain(a, false)).collect()
    }

    fn scan_chain(&self, author: &MemberCode, check_links: bool) -> Result<AuthorChain, StoreError> {
        let known = match check_links {
            // Checking links reads every record, from the first.
            true => None,
            false => self.known_contiguous.lock().unwrap_or_else(|p| p.into_inner()).get(author.as_str()).copied(),
        };
        let mut chain = AuthorChain {
            author: author.clone(),
            held: known.map_or(0, |h| h.seq),
            contiguous: known.map_or(0, |h| h.seq),
            max_seq: known.map_or(0, |h| h.seq),
            head: known,
            max_head: known,
            missing: vec![],
            issues: vec![],
        };
        let mut prev: Option<(u64, RecordId)> = known.map(|h| (h.seq, h.id));
        let from = keys::chain(author.as_str(), known.map_or(0, |h| h.seq + 1));
        let to = keys::chain(author.as_str(), u64::MAX);
        for item in self.db.range(from..=to) {
            let (k, v) = item?;
            let seq = u64::from_be_bytes(k[k.len() - 8..].try_into().expect("8 bytes"));
            let id = id_from(&v)?;
            chain.held += 1;
            let expected = prev.map_or(1, |(s, _)| s + 1);
            if seq > expected {
                chain.missing.push((expected, seq - 1));
            }
            if chain.missing.is_empty() {
                chain.contiguous = seq;
                chain.head = Some(ChainHead { seq, id });
            }
            if let Some((_, pid)) = prev.filter(|(s, _)| check_links && *s + 1 == seq) {
                let record = self
                    .get(&id)?
                    .ok_or_else(|| StoreError::Corrupt { id: id.to_hex(), reason: "indexed but not stored".into() })?;
                if record.record().prev != Some(pid) {
                    chain.issues.push(ChainIssue { seq, id, links_to: record.record().prev.unwrap_or(pid), held: pid });
                }
            }
            chain.max_seq = seq;
            chain.max_head = Some(ChainHead { seq, id });
            prev = Some((seq, id));
        }
        if let Some(head) = chain.head {
            let mut known = self.known_contiguous.lock().unwrap_or_else(|p| p.into_inner());
            let entry = known.entry(author.as_str().to_owned()).or_insert(head);
            // A concurrent scan may have seen more; keep the longer prefix.
            if head.seq > entry.seq {
                *entry = head;
            }
        }
        Ok(chain)
    }

    /// Every author's chain.
    pub fn chains(&self) -> Result<Vec<AuthorChain>, StoreError> {
        self.authors()?.iter().map(|a| self.chain(a)).collect()
    }

    /// All equivocation evidence held.
    pub fn equivocations(&self) -> Result<Vec<Equivocation>, StoreError> {
        let mut grouped: BTreeMap<(String, u64), Vec<VerifiedRecord>> = BTreeMap::new();
        for item in self.db.scan_prefix([keys::EVIDENCE]) {
            let (k, v) = item?;
            let id = keys::trailing_id(&k);
            let record = decode(&id, &v)?;
            let r = record.record();
            grouped.entry((r.author.to_string(), r.seq)).or_default().push(record);
        }
        let mut out = Vec::new();
        for ((author, seq), mut evidence) in grouped {
            let author: MemberCode = author.parse().expect("stored author codes are valid");
            if let Some(indexed) = self.id_at(&author, seq)?.and_then(|id| self.get(&id).transpose()) {
                evidence.insert(0, indexed?);
            }
            out.push(Equivocation { author, seq, records: evidence });
        }
        Ok(out)
    }
}
