//! The charter chain's raw material in the replica: every amendment and approval held, stored
//! exactly as received (`a` and `v` entries, `keys.rs`). Which version they give is the charter
//! chain's question (`rix_node::charter`); the store only keeps them, checked and durable.

use rix_record::RecordId;
use rix_record::amendment::{Amendment, Approval};

use crate::error::StoreError;
use crate::keys::{AMENDMENT, APPROVAL};
use crate::replica::Replica;

/// The store key of a charter item's bytes (what `charter_items_after` pages by), if they are
/// an amendment or approval at all.
pub fn charter_key(item: &[u8]) -> Option<Vec<u8>> {
    if item.starts_with(b"RIXM") {
        return Some(amendment_key(&RecordId::of_envelope(item)));
    }
    let approval = Approval::from_bytes(item).ok()?;
    Some(approval_key(&approval))
}

fn amendment_key(id: &RecordId) -> Vec<u8> {
    let mut key = vec![AMENDMENT];
    key.extend_from_slice(id.as_bytes());
    key
}

fn approval_key(approval: &Approval) -> Vec<u8> {
    let mut key = vec![APPROVAL];
    key.extend_from_slice(approval.body.amendment.as_bytes());
    key.extend_from_slice(approval.id.as_bytes());
    key
}

/// Charter items as (store key, bytes).
pub type CharterPage = Vec<(Vec<u8>, Vec<u8>)>;

impl Replica {
    /// Stores an amendment (its form and proofs were checked when it was read); false if it
    /// was already held. Durable when it returns.
    pub fn put_amendment(&self, amendment: &Amendment) -> Result<bool, StoreError> {
        self.put_charter_item(amendment_key(&amendment.id), &amendment.bytes)
    }

    /// Stores an approval (its signature was checked when it was read); false if it was
    /// already held. Durable when it returns.
    pub fn put_approval(&self, approval: &Approval) -> Result<bool, StoreError> {
        self.put_charter_item(approval_key(approval), &approval.bytes)
    }

    fn put_charter_item(&self, key: Vec<u8>, bytes: &[u8]) -> Result<bool, StoreError> {
        let previous = self.db.insert(key, bytes)?;
        if previous.is_none() {
            self.flush()?;
        }
        Ok(previous.is_none())
    }

    /// The charter items after the store key `after` (amendments first, then approvals, each
    /// in key order), as (key, bytes), until `budget` bytes or `limit` items; true if more
    /// remain. The key is what a requester sends back as `after` for the next page.
    pub fn charter_items_after(
        &self,
        after: Option<&[u8]>,
        budget: usize,
        limit: usize,
    ) -> Result<(CharterPage, bool), StoreError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let entries = self.db.scan_prefix([AMENDMENT]).chain(self.db.scan_prefix([APPROVAL]));
        for entry in entries {
            let (key, value) = entry?;
            if after.is_some_and(|a| key.as_ref() <= a) {
                continue;
            }
            if out.len() >= limit || (!out.is_empty() && bytes + value.len() > budget) {
                return Ok((out, true));
            }
            bytes += value.len();
            out.push((key.to_vec(), value.to_vec()));
        }
        Ok((out, false))
    }

    /// How many charter items are held, and the SHA-256 of their store keys in order: two
    /// replicas with the same digest hold the same items.
    pub fn charter_digest(&self) -> Result<(u64, RecordId), StoreError> {
        let mut keys = Vec::new();
        let mut count = 0;
        for key in self.db.scan_prefix([AMENDMENT]).keys().chain(self.db.scan_prefix([APPROVAL]).keys()) {
            keys.extend_from_slice(&key?);
            count += 1;
        }
        Ok((count, RecordId::of_envelope(&keys)))
    }

    /// Every amendment held, by id.
    pub fn amendments(&self) -> Result<Vec<Amendment>, StoreError> {
        self.db
            .scan_prefix([AMENDMENT])
            .map(|entry| {
                let (key, bytes) = entry?;
                Amendment::from_bytes(&bytes).map_err(|e| corrupt(&key, e))
            })
            .collect()
    }

    /// Every approval held, by amendment.
    pub fn approvals(&self) -> Result<Vec<Approval>, StoreError> {
        self.db
            .scan_prefix([APPROVAL])
            .map(|entry| {
                let (key, bytes) = entry?;
                Approval::from_bytes(&bytes).map_err(|e| corrupt(&key, e))
            })
            .collect()
    }
}

fn corrupt(key: &[u8], error: rix_record::amendment::AmendmentError) -> StoreError {
    StoreError::Corrupt { id: crate::replica::hex_string(key), reason: error.to_string() }
}

#[cfg(test)]
mod tests {
    use rix_record::amendment::{AmendmentBody, Change};
    use rix_record::{Charter, MemberKey, Timestamp};

    use super::*;
    use crate::ReplicaOptions;

    #[test]
    fn amendments_and_approvals_survive_a_reopen_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let key = MemberKey::from_seed(&[1; 32]);
        let charter = Charter::with_member("almaty-test", "KZ".parse().unwrap(), &key);
        let genesis = charter.genesis_hash();
        let at: Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
        let amendment = Amendment::new(AmendmentBody {
            format: 1,
            network: charter.network.clone(),
            genesis,
            amends: genesis,
            version: 2,
            proposer: "KZ".parse().unwrap(),
            created_at: at,
            changes: vec![Change::RemoveObserver { peer_id: "x".into() }],
        });
        let approval = Approval::sign(&key, &charter.network, "KZ".parse().unwrap(), amendment.id, at);
        {
            let replica = Replica::open(dir.path(), &ReplicaOptions::default()).unwrap();
            assert!(replica.put_amendment(&amendment).unwrap());
            assert!(!replica.put_amendment(&amendment).unwrap());
            assert!(replica.put_approval(&approval).unwrap());
            assert!(!replica.put_approval(&approval).unwrap());
        }
        let replica = Replica::open(dir.path(), &ReplicaOptions::default()).unwrap();
        assert_eq!(replica.amendments().unwrap(), vec![amendment]);
        assert_eq!(replica.approvals().unwrap(), vec![approval]);
        assert_eq!(replica.len().unwrap(), 0, "not counted as records");
    }
}

/// A record taken out of the replica because a later charter version retired its key, kept as
/// evidence with the reason.
#[derive(Debug, Clone)]
pub struct RetiredRecord {
    /// The record.
    pub record: rix_record::VerifiedRecord,
    /// Why it no longer counts (the verification error, in words).
    pub reason: String,
}

impl Replica {
    /// Takes each record out of the listings, chains, search links and count, and keeps it as
    /// evidence under the `x` prefix with its reason; records not held are skipped. Returns
    /// the ids taken out. Atomic and durable when it returns.
    pub fn retire_records(&self, retired: &[(RecordId, String)]) -> Result<Vec<RecordId>, StoreError> {
        use crate::keys;
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = sled::Batch::default();
        let mut taken = Vec::new();
        let mut authors = Vec::new();
        for (id, reason) in retired {
            let Some(record) = self.get(id)? else { continue };
            let r = record.record();
            let author = r.author.as_str();
            batch.remove(keys::record(id));
            let chain = keys::chain(author, r.seq);
            if self.db.get(&chain)?.is_some_and(|v| v.as_ref() == id.as_bytes()) {
                batch.remove(chain);
            }
            batch.remove(keys::time(r.created_at.unix(), id));
            match &r.content {
                rix_record::Content::Publication(p) => {
                    if let Some(old) = &p.supersedes {
                        batch.remove(keys::link(keys::SUPERSEDES, old, id));
                    }
                }
                rix_record::Content::Withdrawal(w) => batch.remove(keys::link(keys::WITHDRAWS, &w.withdraws, id)),
            }
            let mut value = reason.replace('\0', " ").into_bytes();
            value.push(0);
            value.extend_from_slice(record.bytes());
            batch.insert(keys::retired(author, r.seq, id), value);
            taken.push(*id);
            authors.push(author.to_owned());
        }
        if taken.is_empty() {
            return Ok(taken);
        }
        let count = self.len()?.saturating_sub(taken.len() as u64);
        batch.insert(keys::meta("count"), &count.to_be_bytes());
        self.db.apply_batch(batch)?;
        self.flush()?;
        // Their chains now have gaps: the next scan reads them from the start.
        let mut known = self.known_contiguous.lock().unwrap_or_else(|p| p.into_inner());
        for author in authors {
            known.remove(&author);
        }
        Ok(taken)
    }

    /// Every record taken out by [`Replica::retire_records`], with its reason.
    pub fn retired_records(&self) -> Result<Vec<RetiredRecord>, StoreError> {
        self.db
            .scan_prefix([crate::keys::RETIRED])
            .map(|entry| {
                let (key, value) = entry?;
                let split = value.iter().position(|b| *b == 0).unwrap_or(value.len());
                let reason = String::from_utf8_lossy(&value[..split]).into_owned();
                let bytes = value.get(split + 1..).unwrap_or_default();
                let id = RecordId::of_envelope(bytes);
                let record = crate::replica::decode(&id, bytes)
                    .map_err(|e| StoreError::Corrupt { id: crate::replica::hex_string(&key), reason: e.to_string() })?;
                Ok(RetiredRecord { record, reason })
            })
            .collect()
    }
}
