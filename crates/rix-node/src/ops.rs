//! Operations on a replica that both the offline CLI and the daemon run: exporting and importing
//! a signed pack, re-verifying every record, and summarising state. Their reports are the JSON shapes
//! scripts read.

use rix_record::pack::{PackError, PackReader};
use rix_record::{Charter, SignedRecord, VerifiedRecord, VerifyError};
use rix_store::{Durability, Inserted, Replica, StoreError};
use serde::{Deserialize, Serialize};

/// Records per replica batch during import (one atomic write and one flush each).
const IMPORT_BATCH: usize = 512;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Envelopes read.
    pub read: usize,
    /// Newly stored.
    pub stored: usize,
    /// Already held.
    pub duplicates: usize,
    /// Kept as equivocation evidence.
    pub equivocations: usize,
    /// Not accepted, with why.
    pub rejected: Vec<Rejection>,
}

/// A record that failed verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Position in the input (0-based), or in the replica scan.
    pub index: usize,
    /// The id the bytes hash to.
    pub id: String,
    /// Stable reason label (`bad_signature`, `unknown_author`, ...).
    pub reason: String,
    /// The full message.
    pub error: String,
}

/// Hands the full view of every record `filter` selects, newest first, to `each`. Returns how
/// many were handed over.
pub fn export_views(
    replica: &Replica,
    filter: &rix_store::query::RecordFilter,
    each: &mut dyn FnMut(rix_store::query::RecordView) -> std::io::Result<()>,
) -> Result<u64, crate::NodeError> {
    replica.select_each(filter, |stored| {
        each(rix_store::query::RecordView::new(&stored, rix_store::query::Detail::Full))
            .map_err(|source| crate::NodeError::Io { context: "writing the export".into(), source })
    })
}

/// Hands every stored envelope, oldest first, to `each` with the number of records stored (for
/// progress). Returns how many were handed over.
pub fn export_envelopes(
    replica: &Replica,
    each: &mut dyn FnMut(&[u8], u64) -> std::io::Result<()>,
) -> Result<u64, crate::NodeError> {
    let total = replica.len()?;
    let mut done = 0;
    for item in replica.iter_raw() {
        each(&item?.1, total)
            .map_err(|source| crate::NodeError::Io { context: "writing the export".into(), source })?;
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

/// Verifies records against the charter (one batch verification) and stores the valid ones
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
    for r in rix_record::verify_batch(records, charter) {
        match r {
            Ok(v) => {
                slots.push(Ok(verified.len()));
                verified.push(v);
            }
            Err(e) => slots.push(Err(e)),
        }
    }
    let outcomes = if verified.is_empty() { Vec::new() } else { replica.insert_batch_with(&verified, durability)? };
    Ok(StoredBatch { verified, slots, outcomes })
}

/// Reads a signed export (`record-format.md` §6) into an offline replica; see
/// [`import_pack_into`].
pub fn import_pack(
    replica: &Replica,
    charter: &Charter,
    pack: impl std::io::Read,
    progress: impl FnMut(usize),
) -> Result<ImportReport, crate::NodeError> {
    import_pack_into(pack, progress, &mut |records| {
        Ok(verify_and_store(replica, charter, &records, Durability::Synced)?)
    })
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
) -> Result<ImportReport, crate::NodeError> {
    let damaged = |e: PackError, read: usize| match read {
        0 => crate::NodeError::Pack(e.to_string()),
        n => crate::NodeError::Pack(format!("{e} (the {n} records before it were read and imported)")),
    };
    let mut report = ImportReport::default();
    let mut batch: Vec<SignedRecord> = Vec::with_capacity(IMPORT_BATCH);
    let mut flush = |batch: &mut Vec<SignedRecord>, report: &mut ImportReport| -> Result<(), crate::NodeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let first = report.read - batch.len();
        let ids: Vec<String> = batch.iter().map(|r| r.id().to_hex()).collect();
        let stored = store(std::mem::take(batch))?;
        for (i, result) in stored.results().enumerate() {
            match result {
                Ok(Inserted::New) => report.stored += 1,
                Ok(Inserted::Duplicate) => report.duplicates += 1,
                Ok(Inserted::Equivocation { .. }) => report.equivocations += 1,
                Err(e) => report.rejected.push(Rejection {
                    index: first + i,
                    id: ids[i].clone(),
                    reason: e.reason().to_owned(),
                    error: e.to_string(),
                }),
            }
        }
        Ok(())
    };
    for bytes in PackReader::new(pack).map_err(|e| damaged(e, 0))? {
        let bytes = match bytes {
            Ok(bytes) => bytes,
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

/// What `rix verify` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Records checked.
    pub checked: usize,
    /// Records that verified.
    pub valid: usize,
    /// Records that did not.
    pub failures: Vec<Rejection>,
    /// Per author: what is held, gaps, and hash-link breaks.
    pub chains: Vec<ChainView>,
    /// Authors that signed two records with one sequence number, with the evidence.
    pub equivocations: Vec<EquivocationView>,
}

impl VerifyReport {
    /// True when every stored record verified.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One author's chain as the replica holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainView {
    /// Member code.
    pub member: String,
    /// Records held.
    pub held: u64,
    /// All of 1..=contiguous are held.
    pub contiguous: u64,
    /// Highest sequence number held.
    pub max_seq: u64,
    /// Missing sequence numbers, as inclusive ranges.
    pub missing: Vec<(u64, u64)>,
    /// Records whose `prev` is not the held predecessor: `(seq, id)`.
    pub broken_links: Vec<(u64, String)>,
}

impl From<&rix_store::AuthorChain> for ChainView {
    fn from(c: &rix_store::AuthorChain) -> Self {
        Self {
            member: c.author.to_string(),
            held: c.held,
            contiguous: c.contiguous,
            max_seq: c.max_seq,
            missing: c.missing.clone(),
            broken_links: c.issues.iter().map(|i| (i.seq, i.id.to_hex())).collect(),
        }
    }
}

/// Evidence of one equivocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquivocationView {
    /// The member.
    pub member: String,
    /// The sequence number signed twice.
    pub seq: u64,
    /// The conflicting record ids (all signed by the member).
    pub ids: Vec<String>,
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
        let failure = match signed.verify(charter) {
            Ok(_) if signed.id() == id => None,
            Ok(_) => Some(("id_mismatch".to_owned(), "stored under an id its bytes do not hash to".to_owned())),
            Err(e) => Some((e.reason().to_owned(), e.to_string())),
        };
        match failure {
            None => report.valid += 1,
            Some((reason, error)) => report.failures.push(Rejection { index, id: id.to_hex(), reason, error }),
        }
        progress(report.checked);
    }
    // Records are found through the time index: one missing from it would not be checked.
    let counted = replica.len()?;
    if report.checked as u64 != counted {
        report.failures.push(Rejection {
            index: report.checked,
            id: String::new(),
            reason: "index_mismatch".into(),
            error: format!("the time index lists {} records, the replica counts {counted}", report.checked),
        });
    }
    report.chains = replica.chains()?.iter().map(ChainView::from).collect();
    report.equivocations = equivocation_views(replica)?;
    Ok(report)
}

/// Equivocation evidence held by the replica.
pub fn equivocation_views(replica: &Replica) -> Result<Vec<EquivocationView>, StoreError> {
    Ok(replica
        .equivocations()?
        .into_iter()
        .map(|e| EquivocationView {
            member: e.author.to_string(),
            seq: e.seq,
            ids: e.records.iter().map(|r| r.id().to_hex()).collect(),
        })
        .collect())
}

/// `rix status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// The network name.
    pub network: String,
    /// This node's member code (absent for an observer).
    pub member: Option<String>,
    /// This node's peer id.
    pub peer_id: String,
    /// Addresses the node listens on (configured when the daemon is not running).
    pub listen_addresses: Vec<String>,
    /// Whether the answer comes from a running daemon.
    pub daemon_running: bool,
    /// Connected peers (empty when the daemon is not running).
    pub connected_peers: Vec<PeerView>,
    /// Records stored.
    pub records: u64,
    /// Per member: the highest record held and what is missing.
    pub members: Vec<ChainView>,
    /// Equivocation evidence held.
    pub equivocations: Vec<EquivocationView>,
    /// Whether this node may publish now (its signing history is known).
    pub can_publish: bool,
}

/// A connected peer, for `rix status` and `rix peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    /// Its peer id.
    pub peer_id: String,
    /// Its member code, or `observer:NAME`.
    pub member: Option<String>,
    /// The address of the connection.
    pub address: Option<String>,
    /// When a sync round with it last completed (RFC 3339).
    pub last_sync: Option<String>,
    /// Records fetched from it by sync since connecting.
    pub records_fetched: u64,
    /// The gossip protocol agreed with it, such as "Gossipsub v1.2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gossip_protocol: Option<String>,
    /// Whether it is in this node's gossip mesh: records this node relays go to mesh peers.
    #[serde(default)]
    pub in_mesh: bool,
    /// Whether it has told this node that it takes the network's gossip; records are
    /// gossiped only to peers that have.
    #[serde(default)]
    pub gossip_subscribed: bool,
    /// Its gossipsub peer score as this node sees it (below -50 this node stops publishing to
    /// it; below -80 it ignores what the peer sends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gossip_score: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rix_record::content::{Content, Publication};
    use rix_record::{Author, CharterMember, KeyFactor, Kind, MemberKey, Timestamp};

    /// A pack damaged part-way fails the import with how many records came before the damage,
    /// and those records, each verified, are kept.
    #[test]
    fn a_pack_damaged_part_way_keeps_what_came_before_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let replica = Replica::open(dir.path(), &rix_store::ReplicaOptions::default()).unwrap();
        let key = MemberKey::from_seed(&[9; 32]);
        let mut charter = Charter::new("ops-test");
        charter.upsert_member(CharterMember {
            code: "KZ".parse().unwrap(),
            name: "Kazakhstan".into(),
            public_key: key.author_key(),
            peer_id: String::new(),
            addresses: vec![],
        });
        let author = Author::new("ops-test", "KZ".parse().unwrap(), key);
        let mut head = None;
        let mut pack = Vec::new();
        rix_record::pack::write_header(&mut pack).unwrap();
        for i in 0..3 {
            let p = Publication::new(Kind::Event, format!("{i}"), "en".parse().unwrap(), vec![KeyFactor::Leadership]);
            let r = author.sign_next(head, Content::Publication(Box::new(p)), Timestamp::now()).unwrap();
            head = Some(r.as_head());
            rix_record::pack::write_entry(&mut pack, r.bytes()).unwrap();
        }
        // The third entry's length prefix promises more bytes than follow.
        pack.truncate(pack.len() - 5);
        let e = import_pack(&replica, &charter, &pack[..], |_| {}).unwrap_err().to_string();
        assert!(e.contains("the 2 records before it were read and imported"), "{e}");
        assert_eq!(replica.len().unwrap(), 2);
        // Not a pack at all: nothing read, nothing stored, and the error says what was expected.
        let e = import_pack(&replica, &charter, &b"{\"records\": []}"[..], |_| {}).unwrap_err().to_string();
        assert!(e.contains("rix export --format signed"), "{e}");
    }
}
