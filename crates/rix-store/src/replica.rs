//! [`Replica`]: the sled-backed store of verified records and its indexes.
//!
//! Writes are serialised by one lock and applied as one atomic sled batch per call, then
//! flushed before the call returns: a record reported as stored survives a crash of the
//! process (see `docs/architecture.md` for what sled's flush does and does not promise).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rix_record::{ChainHead, MemberCode, RecordId, VerifiedRecord};

use crate::error::StoreError;
use crate::keys;

/// What inserting one verified record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored and indexed.
    New,
    /// This exact record was already held; nothing changed.
    Duplicate,
    /// The author already has a different record with this sequence number. The new one is
    /// kept as evidence (see [`Replica::equivocations`]) but not indexed.
    Equivocation {
        /// The record held for that sequence number.
        existing: RecordId,
    },
}

/// Tuning for [`Replica::open`].
#[derive(Debug, Clone)]
pub struct ReplicaOptions {
    /// sled's page cache, in bytes.
    pub cache_capacity_bytes: u64,
    /// After each write's flush, also `fdatasync` sled's log file. sled's flush writes with
    /// `sync_file_range`, which neither commits the file's size nor flushes the drive's
    /// cache (sled issue 1452): enough to survive the process being killed, not a power cut.
    pub fsync: bool,
    /// How long [`Replica::open`] waits for another process's lock on the store (sled's
    /// background flusher can hold it briefly after a store is dropped).
    pub lock_wait: std::time::Duration,
}

impl Default for ReplicaOptions {
    fn default() -> Self {
        Self { cache_capacity_bytes: 8 * 1024 * 1024, fsync: true, lock_wait: std::time::Duration::from_secs(2) }
    }
}

/// How durable a write is when the insert returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// sled's flush: survives a crash of the process, and reaches the disk at sled's next
    /// background `fsync` (within 500 ms). For records peers also hold.
    Flushed,
    /// Also `fdatasync`ed (when [`ReplicaOptions::fsync`] is on): survives a power cut. For
    /// records this node acknowledges to a user (published, imported).
    Synced,
}

/// A stored record with what the replica knows about it from later records.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The record.
    pub record: VerifiedRecord,
    /// The newest record of the same author that names this one in `supersedes`.
    pub superseded_by: Option<RecordId>,
    /// The author's withdrawal of this record, if held.
    pub withdrawn_by: Option<VerifiedRecord>,
}

/// The local replica.
pub struct Replica {
    pub(crate) db: sled::Db,
    path: PathBuf,
    pub(crate) write_lock: Mutex<()>,
    /// Per author, the end of the gap-free prefix of its chain as last scanned. Chain entries
    /// are never removed, so everything up to it stays held and the next scan starts after it:
    /// a sync round then reads only the entries past it (usually none), not the whole chain.
    pub(crate) known_contiguous: Mutex<BTreeMap<String, ChainHead>>,
    /// sled's log file, for `fdatasync` after flushes ([`ReplicaOptions::fsync`]).
    log_file: Option<std::fs::File>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Replica({})", self.path.display())
    }
}

/// The key layout's version (`keys.rs`). 2: facets in the time index instead of kind and
/// factor index keys.
const FORMAT_VERSION: u32 = 2;

/// A facet to list by.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Facet<'a> {
    Kind(&'a str),
    Factor(&'a str),
}

/// The time-index value of a record (`keys::facets`).
fn time_value(r: &rix_record::Record) -> Vec<u8> {
    match &r.content {
        rix_record::Content::Publication(p) => keys::facets(p.kind.slug(), p.factors.iter().map(|f| f.slug())),
        rix_record::Content::Withdrawal(_) => Vec::new(),
    }
}

/// Format 1 to 2: removes the kind and factor index keys and puts each record's facets into
/// its time-index value, in batches, so that a crash part-way leaves format 1 to redo
/// (every step is idempotent).
fn upgrade_from_v1(db: &sled::Db, path: &Path) -> Result<(), StoreError> {
    const BATCH: usize = 10_000;
    tracing::info!(path = %path.display(), "upgrading the replica's key layout (format 1 to 2); this runs once");
    let started = std::time::Instant::now();
    for prefix in [keys::KIND_V1, keys::FACTOR_V1] {
        loop {
            let stale: Vec<sled::IVec> = db.scan_prefix([prefix]).keys().take(BATCH).collect::<Result<_, _>>()?;
            if stale.is_empty() {
                break;
            }
            let mut batch = sled::Batch::default();
            for key in stale {
                batch.remove(key);
            }
            db.apply_batch(batch)?;
        }
    }
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for item in db.scan_prefix([keys::TIME]) {
        let (key, _) = item?;
        let id = keys::trailing_id(&key);
        let Some(bytes) = db.get(keys::record(&id))? else { continue };
        batch.insert(key, time_value(decode(&id, &bytes)?.record()));
        pending += 1;
        if pending == BATCH {
            db.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    db.apply_batch(batch)?;
    db.insert(keys::meta("format"), &FORMAT_VERSION.to_be_bytes())?;
    db.flush()?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "replica upgraded to format 2");
    Ok(())
}

impl Replica {
    /// Opens (creating if needed) the replica in directory `path`.
    pub fn open(path: &Path, options: &ReplicaOptions) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + options.lock_wait;
        loop {
            match Self::open_once(path, options) {
                Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                result => return result,
            }
        }
    }

    fn open_once(path: &Path, options: &ReplicaOptions) -> Result<Self, StoreError> {
        let db =
            sled::Config::new().path(path).cache_capacity(options.cache_capacity_bytes).open().map_err(
                |e| match &e {
                    sled::Error::Io(io)
                        if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                    {
                        StoreError::Locked(path.to_owned())
                    }
                    _ => StoreError::from(e).at(path),
                },
            )?;
        match db.get(keys::meta("format"))? {
            Some(v) => {
                let found = u32::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt { id: "meta/format".into(), reason: "bad length".into() })?,
                );
                if found == 1 {
                    upgrade_from_v1(&db, path)?;
                } else if found != FORMAT_VERSION {
                    return Err(StoreError::FormatVersion { path: path.to_owned(), found, expected: FORMAT_VERSION });
                }
            }
            None => {
                db.insert(keys::meta("format"), &FORMAT_VERSION.to_be_bytes())?;
                db.flush()?;
            }
        }
        let log_file = if options.fsync {
            let log = path.join("db");
            Some(std::fs::File::open(&log).map_err(|source| StoreError::Io { path: Some(log.clone()), source })?)
        } else {
            None
        };
        Ok(Self { db, path: path.to_owned(), write_lock: Mutex::new(()), known_contiguous: Mutex::default(), log_file })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores one record (see [`Inserted`]) and flushes it to disk before returning.
    pub fn insert(&self, record: &VerifiedRecord) -> Result<Inserted, StoreError> {
        Ok(self.insert_batch(std::slice::from_ref(record))?[0])
    }

    /// Stores many records in one atomic write and one flush (and `fdatasync`, if
    /// [`ReplicaOptions::fsync`]); outcomes in input order.
    pub fn insert_batch(&self, records: &[VerifiedRecord]) -> Result<Vec<Inserted>, StoreError> {
        self.insert_batch_with(records, Durability::Synced)
    }

    /// Like [`Replica::insert_batch`], choosing how durable the write is before returning.
    pub fn insert_batch_with(
        &self,
        records: &[VerifiedRecord],
        durability: Durability,
    ) -> Result<Vec<Inserted>, StoreError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = sled::Batch::default();
        let mut outcomes = Vec::with_capacity(records.len());
        // Records earlier in this batch are not in sled yet; these overlays stand in for them.
        let mut pending_ids = std::collections::HashSet::new();
        let mut pending_chain: BTreeMap<Vec<u8>, RecordId> = BTreeMap::new();
        let mut pending_first: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut added = 0u64;
        for verified in records {
            let id = verified.id();
            if pending_ids.contains(&id) || self.db.contains_key(keys::record(&id))? {
                outcomes.push(Inserted::Duplicate);
                continue;
            }
            let r = verified.record();
            let author = r.author.as_str();
            let chain_key = keys::chain(author, r.seq);
            let existing = match pending_chain.get(&chain_key) {
                Some(id) => Some(*id),
                None => self.db.get(&chain_key)?.map(|v| id_from(&v)).transpose()?,
            };
            // Where a rotated-out key stops counting: the first record signed by a later key,
            // evidence included (a member's first record by its new key may fork from one its
            // old key signed at the same sequence number).
            let first_key = keys::first_by_key(author, &r.author_key.to_bytes());
            let first = match pending_first.get(&first_key) {
                Some(seq) => Some(*seq),
                None => self.db.get(&first_key)?.map(|v| u64_from(&v)),
            };
            if first.is_none_or(|f| r.seq < f) {
                batch.insert(first_key.clone(), &r.seq.to_be_bytes());
                pending_first.insert(first_key, r.seq);
            }
            if let Some(existing) = existing {
                let evidence_key = keys::evidence(author, r.seq, &id);
                batch.insert(evidence_key, verified.bytes());
                tracing::warn!(author, seq = r.seq, %id, %existing, "equivocation: two records with one sequence number");
                outcomes.push(Inserted::Equivocation { existing });
                continue;
            }
            pending_ids.insert(id);
            pending_chain.insert(chain_key.clone(), id);
            added += 1;
            batch.insert(keys::record(&id), verified.bytes());
            batch.insert(chain_key, id.as_bytes().as_slice());
            batch.insert(keys::time(r.created_at.unix(), &id), time_value(r));
            match &r.content {
                rix_record::Content::Publication(p) => {
                    if let Some(old) = &p.supersedes {
                        batch.insert(keys::link(keys::SUPERSEDES, old, &id), &[]);
                    }
                }
                rix_record::Content::Withdrawal(w) => {
                    batch.insert(keys::link(keys::WITHDRAWS, &w.withdraws, &id), &[]);
                }
            }
            outcomes.push(Inserted::New);
        }
        if added > 0 {
            let count = self.len()? + added;
            batch.insert(keys::meta("count"), &count.to_be_bytes());
        }
        let written = self.db.apply_batch(batch).map_err(StoreError::from).and_then(|()| match durability {
            Durability::Synced => self.flush(),
            Durability::Flushed => self.db.flush().map(drop).map_err(StoreError::from),
        });
        written.map_err(|e| e.at(&self.path))?;
        Ok(outcomes)
    }

    /// The lowest sequence number of `author`'s records held that `key` signed (kept from this
    /// release on: keys installed by a rotation sign nothing before it).
    pub fn first_seq_signed_by(
        &self,
        author: &MemberCode,
        key: &rix_record::keys::AuthorKey,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.db.get(keys::first_by_key(author.as_str(), &key.to_bytes()))?.map(|v| u64_from(&v)))
    }

    /// How many records are stored (evidence of equivocation not counted).
    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self.db.get(keys::meta("count"))?.map(|v| u64_from(&v)).unwrap_or(0))
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Whether the record is held.
    pub fn contains(&self, id: &RecordId) -> Result<bool, StoreError> {
        Ok(self.db.contains_key(keys::record(id))?)
    }

    /// The record with this id.
    pub fn get(&self, id: &RecordId) -> Result<Option<VerifiedRecord>, StoreError> {
        self.db.get(keys::record(id))?.map(|bytes| decode(id, &bytes)).transpose()
    }

    /// The id of the record that a full id or unique hex prefix names.
    pub fn resolve(&self, prefix: &str) -> Result<RecordId, StoreError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(prefix));
        }
        let even = &prefix[..prefix.len() & !1];
        let mut scan_key = vec![keys::RECORD];
        scan_key.extend(hex_bytes(even));
        let mut found = None;
        let mut count = 0;
        for item in self.db.scan_prefix(&scan_key).keys() {
            let key = item?;
            let id = keys::trailing_id(&key);
            if id.to_hex().starts_with(&prefix) {
                count += 1;
                found = Some(id);
                if count > 1 && prefix.len() < 64 {
                    // Keep counting a little, to say how ambiguous it is.
                    if count >= 100 {
                        break;
                    }
                }
            }
        }
        match (count, found) {
            (1, Some(id)) => Ok(id),
            (0, _) => Err(StoreError::NotFound(prefix)),
            (count, _) => Err(StoreError::Ambiguous { prefix, count }),
        }
    }

    /// Every stored record, oldest first (by creation time, then id).
    pub fn iter(&self) -> impl Iterator<Item = Result<VerifiedRecord, StoreError>> + '_ {
        self.records_by_time().map(|item| item.and_then(|(id, bytes)| decode(&id, &bytes)))
    }

    /// Every stored record's raw envelope bytes, oldest first, without decoding.
    pub fn iter_raw(&self) -> impl Iterator<Item = Result<(RecordId, Vec<u8>), StoreError>> + '_ {
        self.records_by_time().map(|item| item.map(|(id, bytes)| (id, bytes.to_vec())))
    }

    /// Every stored record, found through the time index and read one lookup at a time. A sled
    /// iterator over the records themselves, alive for a whole scan, left about 90 MiB more
    /// resident in the daemon after reading a million records (246 against 153 MiB after
    /// start); lookups leave nothing (docs/performance.md). Every record has a time entry,
    /// written in the same batch.
    fn records_by_time(&self) -> impl Iterator<Item = Result<(RecordId, sled::IVec), StoreError>> + '_ {
        self.db.scan_prefix([keys::TIME]).keys().filter_map(move |key| {
            let id = match key {
                Ok(key) => keys::trailing_id(&key),
                Err(e) => return Some(Err(e.into())),
            };
            self.db.get(keys::record(&id)).map_err(StoreError::from).transpose().map(|bytes| bytes.map(|b| (id, b)))
        })
    }

    /// A record together with its supersession and withdrawal state.
    pub fn stored(&self, record: VerifiedRecord) -> Result<StoredRecord, StoreError> {
        let author = record.record().author.clone();
        let id = record.id();
        let mut superseded_by: Option<(u64, RecordId)> = None;
        for newer in self.linked(keys::SUPERSEDES, &id)? {
            let r = newer.record();
            // Only the author may supersede its own record; other claims are ignored.
            if r.author == author && superseded_by.is_none_or(|(seq, _)| r.seq > seq) {
                superseded_by = Some((r.seq, newer.id()));
            }
        }
        let withdrawn_by = self.linked(keys::WITHDRAWS, &id)?.into_iter().find(|w| w.record().author == author);
        Ok(StoredRecord { record, superseded_by: superseded_by.map(|(_, id)| id), withdrawn_by })
    }

    /// The newest version of the record: follows `superseded_by` to its end.
    pub fn current_version(&self, id: &RecordId) -> Result<RecordId, StoreError> {
        let mut current = *id;
        // Links point from newer to strictly older records (ids are hashes), so this ends;
        // the bound only guards against a corrupt store.
        for _ in 0..10_000 {
            let Some(record) = self.get(&current)? else {
                break;
            };
            match self.stored(record)?.superseded_by {
                Some(next) => current = next,
                None => break,
            }
        }
        Ok(current)
    }

    /// Records that name `target` in `supersedes` (of any author; callers check authorship).
    pub fn linked_supersessions(&self, target: &RecordId) -> Result<Vec<VerifiedRecord>, StoreError> {
        self.linked(keys::SUPERSEDES, target)
    }

    fn linked(&self, prefix: u8, target: &RecordId) -> Result<Vec<VerifiedRecord>, StoreError> {
        let mut out = Vec::new();
        for key in self.db.scan_prefix(keys::link_prefix(prefix, target)).keys() {
            let by = keys::trailing_id(&key?);
            if let Some(r) = self.get(&by)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Ids from the time index, newest first, of records of one kind (`Facet::Kind`), with one
    /// key factor (`Facet::Factor`), or all (`None`).
    pub(crate) fn ids_newest_first(
        &self,
        facet: Option<Facet<'_>>,
    ) -> impl Iterator<Item = Result<RecordId, StoreError>> + '_ {
        let wanted = facet.map(|f| match f {
            Facet::Kind(slug) => (true, slug.to_owned()),
            Facet::Factor(slug) => (false, slug.to_owned()),
        });
        self.db.scan_prefix([keys::TIME]).rev().filter_map(move |item| match item {
            Err(e) => Some(Err(e.into())),
            Ok((key, value)) => match &wanted {
                Some((kind, slug)) if !keys::facets_match(&value, *kind, slug) => None,
                _ => Some(Ok(keys::trailing_id(&key))),
            },
        })
    }

    /// Every entry under one key prefix ([`keys`]), in key order.
    pub(crate) fn entries(
        &self,
        prefix: u8,
    ) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), StoreError>> + '_ {
        self.db.scan_prefix([prefix]).map(|item| item.map_err(StoreError::from))
    }

    /// An author's record ids, highest sequence number first.
    pub(crate) fn author_ids_newest_first(
        &self,
        author: &MemberCode,
    ) -> impl Iterator<Item = Result<RecordId, StoreError>> + '_ {
        self.db.scan_prefix(keys::chain_prefix(author.as_str())).values().rev().map(|v| id_from(&v?))
    }

    /// Writes everything buffered to disk (and, with [`ReplicaOptions::fsync`], makes it
    /// durable against power loss).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        if let Some(log) = &self.log_file {
            log.sync_data().map_err(|source| StoreError::Io { path: Some(self.path.clone()), source })?;
        }
        Ok(())
    }

    /// Bytes the store occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

pub(crate) fn decode(id: &RecordId, bytes: &[u8]) -> Result<VerifiedRecord, StoreError> {
    let record = VerifiedRecord::reload_trusted(bytes)
        .map_err(|e| StoreError::Corrupt { id: id.to_hex(), reason: e.to_string() })?;
    if record.id() != *id {
        return Err(StoreError::Corrupt { id: id.to_hex(), reason: "bytes do not hash to their id".into() });
    }
    Ok(record)
}

pub(crate) fn id_from(v: &[u8]) -> Result<RecordId, StoreError> {
    let bytes: [u8; 32] = v
        .try_into()
        .map_err(|_| StoreError::Corrupt { id: hex_string(v), reason: "index value is not an id".into() })?;
    Ok(RecordId::from_bytes(bytes))
}

fn u64_from(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

fn hex_bytes(even_hex: &str) -> Vec<u8> {
    (0..even_hex.len()).step_by(2).map(|i| u8::from_str_radix(&even_hex[i..i + 2], 16).expect("checked hex")).collect()
}

pub(crate) fn hex_string(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::RecordFilter;
    use rix_record::content::{Content, Publication};
    use rix_record::{Author, KeyFactor, Kind, MemberKey, Timestamp};

    #[test]
    fn a_format_1_replica_is_upgraded_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica");
        let author = Author::new("test", "KZ".parse().unwrap(), MemberKey::from_seed(&[5; 32]));
        let specs = [
            (Kind::BestPractice, vec![KeyFactor::Hrm]),
            (Kind::CaseStudy, vec![KeyFactor::Hrm, KeyFactor::Automation]),
            (Kind::BestPractice, vec![KeyFactor::Automation]),
        ];
        let mut records: Vec<VerifiedRecord> = Vec::new();
        for (i, (kind, factors)) in specs.into_iter().enumerate() {
            let p = Publication::new(kind, format!("R{i}"), "en".parse().unwrap(), factors);
            let at: Timestamp = format!("2026-01-0{}T00:00:00Z", i + 1).parse().unwrap();
            let head = records.last().map(|r| r.as_head());
            records.push(author.sign_next(head, Content::Publication(Box::new(p)), at).unwrap());
        }
        {
            let replica = Replica::open(&path, &ReplicaOptions::default()).unwrap();
            replica.insert_batch(&records).unwrap();
            // Rewrite it into format 1: kind and factor index keys, empty time values.
            for r in &records {
                let (id, t) = (r.id(), r.record().created_at.unix());
                let p = r.record().publication().unwrap();
                let old_key = |prefix: u8, slug: &str| {
                    [&[prefix], slug.as_bytes(), &[0], &keys::time_bytes(t), id.as_bytes()].concat()
                };
                replica.db.insert(old_key(keys::KIND_V1, p.kind.slug()), &[]).unwrap();
                for f in &p.factors {
                    replica.db.insert(old_key(keys::FACTOR_V1, f.slug()), &[]).unwrap();
                }
                replica.db.insert(keys::time(t, &id), &[]).unwrap();
            }
            replica.db.insert(keys::meta("format"), &1u32.to_be_bytes()).unwrap();
            replica.flush().unwrap();
        }
        let replica = Replica::open(&path, &ReplicaOptions::default()).unwrap();
        assert_eq!(replica.db.get(keys::meta("format")).unwrap().unwrap().as_ref(), FORMAT_VERSION.to_be_bytes());
        for prefix in [keys::KIND_V1, keys::FACTOR_V1] {
            assert_eq!(replica.db.scan_prefix([prefix]).count(), 0, "format-1 index keys removed");
        }
        let titles = |f: RecordFilter| -> Vec<String> {
            replica.list(&f).unwrap().records.into_iter().map(|r| r.title).collect()
        };
        assert_eq!(titles(RecordFilter::default()), ["R2", "R1", "R0"]);
        assert_eq!(titles(RecordFilter { kind: Some(Kind::BestPractice), ..Default::default() }), ["R2", "R0"]);
        assert_eq!(titles(RecordFilter { factor: Some(KeyFactor::Hrm), ..Default::default() }), ["R1", "R0"]);
        assert_eq!(replica.len().unwrap(), 3);
    }
}
