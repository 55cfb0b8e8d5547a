//! Operations on a replica that both the offline CLI and the daemon run: exporting and importing
//! a signed pack, re-verifying every record, and summarising state. Their reports are the JSON shapes
//! scripts read.

pub use rix_api::{ChainView, EquivocationView, ImportReport, PeerView, Rejection, StatusView, VerifyReport};
use rix_record::pack::{EntryKind, PackError, PackReader};
use rix_record::{Charter, SignedRecord, VerifiedRecord, VerifyError};
use rix_store::{Durability, Inserted, Replica, StoreError};

/// Records per replica batch during import (one atomic write and one flush each).
const IMPORT_BATCH: usize = 512;

/// Hands the full view of every record `filter` selects, newest first, to `each`. Returns how
/// many were handed over.
pub fn export_views(
    replica: &Replica,
    filter: &rix_store::query::RecordFilter,
    each: &mut dyn FnMut(rix_store::query::RecordView) -> std::io::Result<()>,
) -> Result<u64, crate::NodeError> {
    replica.select_each(filter, |stored| {
        each(rix_store::query::view(&stored, rix_store::query::Detail::Full))
            .map_err(|source| crate::NodeError::Io { context: "writing the export".into(), source })
    })
}

/// Hands every stored envelope, oldest first, then the equivocation evidence, to `each` with
/// the number of entries expected (for progress). Returns how many were handed over.
pub fn export_envelopes(replica: &Replica, each: &mut rix_api::backend::PackSink<'_>) -> Result<u64, crate::NodeError> {
    let written = |source| crate::NodeError::Io { context: "writing the export".into(), source };
    // The records a replica keeps as evidence are the conflicting ones after the first, which
    // is the one indexed and exported as a record.
    let evidence: Vec<VerifiedRecord> =
        replica.equivocations()?.into_iter().flat_map(|e| e.records.into_iter().skip(1)).collect();
    // Charter items first: an import applies the versions they make before it judges the
    // records (a member admitted, a key rotated in).
    let (charter, _) = replica.charter_items_after(None, usize::MAX, usize::MAX)?;
    let total = replica.len()? + evidence.len() as u64 + charter.len() as u64;
    let mut done = 0;
    for (_, bytes) in &charter {
        each(EntryKind::Charter, bytes, total).map_err(written)?;
        done += 1;
    }
    for item in replica.iter_raw() {
        each(EntryKind::Record, &item?.1, total).map_err(written)?;
        done += 1;
    }
    for record in &evidence {
        each(EntryKind::Evidence, record.bytes(), total).map_err(written)?;
        done += 1;
    }
    Ok(done)
}

/// What verifying and storing one batch gave: the valid records, each input's slot (its index
/// among them, or why it was rejected), and what the replica did with each valid one.
#[derive(Debug)]
pub struct StoredBatch {
    /// The records that verified, in input order.
    pub verified: Vec<VerifiedRecord>,
    /// Per input record: its index in `verified`, or its rejection.
    pub slots: Vec<Result<usize, VerifyError>>,
    /// Per verified record: what the replica did.
    pub outcomes: Vec<Inserted>,
}

impl StoredBatch {
    /// Per input record: what the replica did, or why it was rejected.
    pub fn results(&self) -> impl Iterator<Item = Result<Inserted, &VerifyError>> + '_ {
        self.slots.iter().map(|s| s.as_ref().map(|i| self.outcomes[*i]))
    }
}

/// Verifies records against the charter (`verify_batch`: strict, on every core) and stores the valid ones
/// in one write: the step every path that takes records from outside shares (gossip, sync,
/// import, online or offline).
pub fn verify_and_store(
    replica: &Replica,
    charter: &Charter,
    records: &[SignedRecord],
    durability: Durability,
) -> Result<StoredBatch, StoreError> {
    let mut verified: Vec<VerifiedRecord> = Vec::with_capacity(records.len());
    let mut slots = Vec::with_capacity(records.len());
    let mut by_retired_keys = Vec::new();
    for r in rix_record::verify_batch(records, charter) {
        // A rotated-out key counts only before its member's first record by a later key.
        let r = match r {
            Ok(v) if charter.retirement(&v.record().author, &v.record().author_key).is_some() => {
                by_retired_keys.push(v.clone());
                crate::charter::check_rotation(replica, charter, v.record())?.map(|()| v)
            }
            other => other,
        };
        match r {
            Ok(v) => {
                slots.push(Ok(verified.len()));
                verified.push(v);
            }
            Err(e) => slots.push(Err(e)),
        }
    }
    let outcomes = if verified.is_empty() { Vec::new() } else { replica.insert_batch_with(&verified, durability)? };
    // This batch may hold both a member's first record by a new key and, after it, records
    // by the key it replaced: those are taken out now.
    let mut refused = Vec::new();
    for v in &by_retired_keys {
        if let Err(e) = crate::charter::check_rotation(replica, charter, v.record())? {
            refused.push((v.id(), format!("{}: {e}", e.reason())));
        }
    }
    replica.retire_records(&refused)?;
    // A member's first record by a key that replaced another lowers where the old key stops
    // counting: records the old key signed that the replica already held may now be past it.
    let lowered = verified.iter().any(|v| {
        let r = v.record();
        charter.retired.iter().any(|k| k.code == r.author && matches!(k.why, rix_record::Retirement::Rotated))
            && replica.first_seq_signed_by(&r.author, &r.author_key).ok().flatten() == Some(r.seq)
    });
    if lowered {
        crate::charter::rejudge(replica, charter)?;
    }
    Ok(StoredBatch { verified, slots, outcomes })
}

/// Reads a signed export as a stream and hands its records, in batches, to `store` (which
/// verifies and stores them: [`verify_and_store`] offline, the daemon's ingest pipeline when it
/// runs, which also indexes what is new): a pack of any size is imported in bounded memory. A
/// pack found damaged part-way fails the import; the records before the damage are kept (each
/// was verified), and the error says how many.
pub fn import_pack_into(
    pack: impl std::io::Read,
    mut progress: impl FnMut(usize),
    store: &mut dyn FnMut(Vec<SignedRecord>) -> Result<StoredBatch, crate::NodeError>,
    store_charter: &mut dyn FnMut(Vec<Vec<u8>>) -> Result<crate::charter::Accepted, crate::NodeError>,
) -> Result<ImportReport, crate::NodeError> {
    let damaged = |source: PackError, read: usize| crate::NodeError::Pack { source, read };
    let mut report = ImportReport::default();
    let mut batch: Vec<SignedRecord> = Vec::with_capacity(IMPORT_BATCH);
    let mut flush = |batch: &mut Vec<SignedRecord>, report: &mut ImportReport| -> Result<(), crate::NodeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let first = report.read - batch.len();
        let ids: Vec<rix_record::RecordId> = batch.iter().map(SignedRecord::id).collect();
        let stored = store(std::mem::take(batch))?;
        for (i, result) in stored.results().enumerate() {
            match result {
                Ok(Inserted::New) => report.stored += 1,
                Ok(Inserted::Duplicate) => report.duplicates += 1,
                Ok(Inserted::Equivocation { .. }) => report.equivocations += 1,
                Err(e) => report.rejected.push(Rejection {
                    index: first + i,
                    id: Some(ids[i]),
                    reason: e.reason().to_owned(),
                    error: e.to_string(),
                }),
            }
        }
        Ok(())
    };
    // Evidence entries are stored like records: the replica keeps one that conflicts with a
    // record it holds as evidence, and reports it so.
    for entry in PackReader::new(pack).map_err(|e| damaged(e, 0))? {
        let bytes = match entry {
            // Charter items come first in a pack rix writes; each is taken when read, so that
            // the records after it are judged under the versions it makes.
            Ok((EntryKind::Charter, bytes)) => {
                flush(&mut batch, &mut report)?;
                let id = rix_record::RecordId::of_envelope(&bytes);
                let accepted = store_charter(vec![bytes])?;
                report.charter_items += accepted.new.len();
                for error in accepted.invalid {
                    let (index, reason) = (report.read, "charter_item".to_owned());
                    report.rejected.push(Rejection { index, id: Some(id), reason, error });
                }
                report.read += 1;
                progress(report.read);
                continue;
            }
            Ok((_kind, bytes)) => bytes,
            Err(e) => {
                flush(&mut batch, &mut report)?;
                return Err(damaged(e, report.read));
            }
        };
        report.read += 1;
        batch.push(SignedRecord::from_bytes(bytes));
        if batch.len() == IMPORT_BATCH {
            flush(&mut batch, &mut report)?;
        }
        progress(report.read);
    }
    flush(&mut batch, &mut report)?;
    Ok(report)
}

/// The view of one author's chain as the replica holds it.
pub fn chain_view(c: &rix_store::AuthorChain) -> ChainView {
    ChainView {
        member: c.author.clone(),
        held: c.held,
        contiguous: c.contiguous,
        max_seq: c.max_seq,
        missing: c.missing.clone(),
        broken_links: c.issues.iter().map(|i| (i.seq, i.id)).collect(),
    }
}

/// Re-verifies every stored record and reports chains and equivocations.
pub fn verify_replica(
    replica: &Replica,
    charter: &Charter,
    mut progress: impl FnMut(usize),
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    for (index, item) in replica.iter_raw().enumerate() {
        let (id, bytes) = item?;
        report.checked += 1;
        let signed = SignedRecord::from_bytes(bytes);
        let verdict = match signed.verify(charter) {
            Ok(v) => crate::charter::check_rotation(replica, charter, v.record())?.map(|()| v),
            Err(e) => Err(e),
        };
        let failure = match verdict {
            Ok(_) if signed.id() == id => None,
            Ok(_) => Some(("id_mismatch".to_owned(), "stored under an id its bytes do not hash to".to_owned())),
            Err(e) => Some((e.reason().to_owned(), e.to_string())),
        };
        match failure {
            None => report.valid += 1,
            Some((reason, error)) => report.failures.push(Rejection { index, id: Some(id), reason, error }),
        }
        progress(report.checked);
    }
    // Records are found through the time index: one missing from it would not be checked.
    let counted = replica.len()?;
    if report.checked as u64 != counted {
        report.failures.push(Rejection {
            index: report.checked,
            id: None,
            reason: "index_mismatch".into(),
            error: format!("the time index lists {} records, the replica counts {counted}", report.checked),
        });
    }
    report.chains = replica.chains()?.iter().map(chain_view).collect();
    report.equivocations = equivocation_views(replica)?;
    Ok(report)
}

/// Equivocation evidence held by the replica.
pub fn equivocation_views(replica: &Replica) -> Result<Vec<EquivocationView>, StoreError> {
    Ok(replica
        .equivocations()?
        .into_iter()
        .map(|e| EquivocationView { member: e.author, seq: e.seq, ids: e.records.iter().map(|r| r.id()).collect() })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rix_record::content::{Content, Publication};
    use rix_record::{Author, KeyFactor, Kind, MemberKey, Timestamp};

    /// A pack damaged part-way fails the import with how many records came before the damage,
    /// and those records, each verified, are kept.
    #[test]
    fn a_pack_damaged_part_way_keeps_what_came_before_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(dir.path(), &rix_store::ReplicaOptions::default()).unwrap();
        let key = MemberKey::from_seed(&[9; 32]);
        let charter = Charter::with_member("ops-test", "KZ".parse().unwrap(), &key);
        let author = Author::new("ops-test", "KZ".parse().unwrap(), key);
        let mut head = None;
        let mut pack = Vec::new();
        rix_record::pack::write_header_v1(&mut pack).unwrap();
        for i in 0..3 {
            let p = Publication::new(Kind::Event, format!("{i}"), "en".parse().unwrap(), vec![KeyFactor::Leadership]);
            let r = author.sign_next(head, Content::Publication(Box::new(p)), Timestamp::now()).unwrap();
            head = Some(r.as_head());
            rix_record::pack::write_entry_v1(&mut pack, r.bytes()).unwrap();
        }
        // The third entry's length prefix promises more bytes than follow.
        pack.truncate(pack.len() - 5);
        let import_pack = |pack: &[u8]| {
            import_pack_into(
                pack,
                |_| {},
                &mut |records| Ok(verify_and_store(&replica, &charter, &records, Durability::Synced)?),
                &mut |_| unreachable!("the pack holds no charter item"),
            )
        };
        let e = import_pack(&pack[..]).unwrap_err().to_string();
        assert!(e.contains("the 2 records before it were read and imported"), "{e}");
        assert_eq!(replica.len().unwrap(), 2);
        // Not a pack at all: nothing read, nothing stored, and the error says what was expected.
        let e = import_pack(&b"{\"records\": []}"[..]).unwrap_err().to_string();
        assert!(e.contains("rix export --format signed"), "{e}");
    }
}
