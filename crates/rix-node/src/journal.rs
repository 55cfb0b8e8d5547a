//! The signing journal: the last record this node's key signed, kept next to the key and made
//! durable before the record is stored or sent, so a sequence number is never signed twice.
//!
//! The file holds two fixed-size slots and each write overwrites the older one in place with
//! one `fdatasync`. A torn write damages only the slot being written, whose checksum then
//! fails, and the other slot still holds the previous record; that record is the last one that
//! left the node, because nothing leaves before the write returns. Writing in place inside
//! blocks allocated when the file was created needs no metadata update, which keeps the
//! journal, on every publish, off the file system's journal (a create-fsync-rename costs
//! several times as much and queues behind every other writer's sync).
//!
//! ```text
//! file  = slot 0 | slot 1                      each SLOT_BYTES long, zero-filled when unused
//! slot  = "rixjrnl1" | generation u64 BE | length u32 BE | check [8] | record [length]
//! check = first 8 bytes of SHA-256(generation | length | record)
//! ```
//! The valid slot with the higher generation is current; an empty record means the key has
//! signed nothing yet. An older journal, a file holding just the record's bytes (or nothing),
//! is still read, and is replaced by the slotted form on the next write.

use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rix_record::envelope::MAX_RECORD_BYTES;
use rix_record::{Charter, SignedRecord, VerifiedRecord};
use sha2::{Digest, Sha256};

use crate::publish::PublishError;

const MAGIC: &[u8; 8] = b"rixjrnl1";
const HEADER_BYTES: usize = 8 + 8 + 4 + 8;
const SLOT_BYTES: usize = HEADER_BYTES + MAX_RECORD_BYTES;
const FILE_BYTES: usize = 2 * SLOT_BYTES;

/// What the journal says about the key's history.
#[derive(Debug, Clone)]
pub enum JournalState {
    /// The key has never signed a record (the journal exists and is empty).
    Fresh,
    /// The last record the key signed.
    Last(VerifiedRecord),
    /// No journal: the history is unknown.
    Unknown,
}

/// The file that holds the last record a key signed.
#[derive(Debug, Clone)]
pub struct SigningJournal {
    path: PathBuf,
}

/// The current slot of a slotted journal.
struct Current {
    generation: u64,
    record: Vec<u8>,
}

impl SigningJournal {
    /// The journal at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the key as never having signed (done by `rix init` for a new member).
    pub fn create_fresh(&self) -> Result<(), PublishError> {
        self.replace(&slot(1, &[]))
    }

    /// Reads the journal, verifying the record in it against the charter.
    pub fn read(&self, charter: &Charter) -> Result<JournalState, PublishError> {
        let bytes = match self.load()? {
            None => return Ok(JournalState::Unknown),
            Some(current) => current.record,
        };
        if bytes.is_empty() {
            return Ok(JournalState::Fresh);
        }
        SignedRecord::from_bytes(bytes).verify(charter).map(JournalState::Last).map_err(|e| self.bad(e.to_string()))
    }

    /// Records `record` as the last signed, durably, before it may be stored or sent.
    pub fn write_last(&self, record: &VerifiedRecord) -> Result<(), PublishError> {
        let bytes = record.bytes();
        match self.load()? {
            // Generation 0 is the older one-record form.
            Some(current) if current.generation > 0 => {
                let generation = current.generation + 1;
                let offset = (generation % 2) * SLOT_BYTES as u64;
                let file = fs::OpenOptions::new().write(true).open(&self.path).map_err(|e| self.io(e))?;
                file.write_all_at(&slot(generation, bytes), offset)
                    .and_then(|()| file.sync_data())
                    .map_err(|e| self.io(e))
            }
            // Missing, or in the older one-record form: create the slotted file once.
            _ => self.replace(&slot(1, bytes)),
        }
    }

    /// Writes a whole new journal with `first` in slot 1 (generation 1): a temporary file,
    /// synced, renamed over the old one, and the directory synced.
    fn replace(&self, first: &[u8]) -> Result<(), PublishError> {
        let mut contents = vec![0u8; FILE_BYTES];
        contents[SLOT_BYTES..SLOT_BYTES + first.len()].copy_from_slice(first);
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp).map_err(|e| self.io(e))?;
        f.write_all(&contents).and_then(|()| f.sync_all()).map_err(|e| self.io(e))?;
        fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    /// The current record: `None` if there is no journal.
    fn load(&self) -> Result<Option<Current>, PublishError> {
        let file = match fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        let len = file.metadata().map_err(|e| self.io(e))?.len();
        if len != FILE_BYTES as u64 {
            // The older form: the record's bytes, or nothing for a key that never signed.
            let record = fs::read(&self.path).map_err(|e| self.io(e))?;
            return Ok(Some(Current { generation: 0, record }));
        }
        let mut slots = Vec::with_capacity(2);
        for i in 0..2u64 {
            slots.extend(read_slot(&file, i * SLOT_BYTES as u64).map_err(|e| self.io(e))?);
        }
        slots
            .into_iter()
            .max_by_key(|c| c.generation)
            .map(Some)
            .ok_or_else(|| self.bad("neither slot holds a valid entry (damaged file)".into()))
    }

    fn io(&self, source: std::io::Error) -> PublishError {
        PublishError::Io { path: self.path.clone(), source }
    }

    fn bad(&self, reason: String) -> PublishError {
        PublishError::BadJournal { path: self.path.clone(), reason }
    }
}

fn check(generation: u64, record: &[u8]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(generation.to_be_bytes())
        .chain_update((record.len() as u32).to_be_bytes())
        .chain_update(record)
        .finalize();
    digest[..8].try_into().expect("8 of 32 bytes")
}

fn slot(generation: u64, record: &[u8]) -> Vec<u8> {
    assert!(record.len() <= MAX_RECORD_BYTES, "signed records are at most MAX_RECORD_BYTES");
    let mut out = Vec::with_capacity(HEADER_BYTES + record.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&(record.len() as u32).to_be_bytes());
    out.extend_from_slice(&check(generation, record));
    out.extend_from_slice(record);
    out
}

/// The slot at `offset`, if it is valid (read only as far as its length says).
fn read_slot(file: &fs::File, offset: u64) -> std::io::Result<Option<Current>> {
    let mut header = [0u8; HEADER_BYTES];
    file.read_exact_at(&mut header, offset)?;
    let generation = u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"));
    let length = u32::from_be_bytes(header[16..20].try_into().expect("4 bytes")) as usize;
    if &header[..8] != MAGIC || length > MAX_RECORD_BYTES {
        return Ok(None);
    }
    let mut record = vec![0u8; length];
    file.read_exact_at(&mut record, offset + HEADER_BYTES as u64)?;
    Ok((header[20..28] == check(generation, &record)).then_some(Current { generation, record }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rix_record::content::{Content, Publication};
    use rix_record::{Author, KeyFactor, Kind, MemberKey, Timestamp};

    fn setup() -> (tempfile::TempDir, SigningJournal, Author, Charter) {
        let dir = tempfile::tempdir().unwrap();
        let key = MemberKey::from_seed(&[7; 32]);
        let charter = Charter::with_member("test", "KZ".parse().unwrap(), &key);
        let journal = SigningJournal::new(dir.path().join("last-signed.rix"));
        (dir, journal, Author::new("test", "KZ".parse().unwrap(), key), charter)
    }

    fn sign(author: &Author, head: Option<&VerifiedRecord>, i: usize) -> VerifiedRecord {
        let p = Publication::new(
            Kind::BestPractice,
            format!("Practice {i}"),
            "en".parse().unwrap(),
            vec![KeyFactor::Automation],
        );
        author.sign_next(head.map(|h| h.as_head()), Content::Publication(Box::new(p)), Timestamp::now()).unwrap()
    }

    fn last(journal: &SigningJournal, charter: &Charter) -> Option<u64> {
        match journal.read(charter).unwrap() {
            JournalState::Last(r) => Some(r.record().seq),
            JournalState::Fresh => None,
            JournalState::Unknown => panic!("the journal exists"),
        }
    }

    #[test]
    fn alternates_slots_and_reads_back_the_newest() {
        let (_dir, journal, author, charter) = setup();
        assert!(matches!(journal.read(&charter).unwrap(), JournalState::Unknown));
        journal.create_fresh().unwrap();
        assert_eq!(last(&journal, &charter), None);
        let mut head = None;
        for i in 1..=5 {
            let r = sign(&author, head.as_ref(), i);
            journal.write_last(&r).unwrap();
            assert_eq!(last(&journal, &charter), Some(i as u64));
            assert_eq!(fs::metadata(journal.path()).unwrap().len(), FILE_BYTES as u64, "written in place");
            head = Some(r);
        }
    }

    #[test]
    fn a_torn_write_leaves_the_previous_record() {
        let (_dir, journal, author, charter) = setup();
        journal.create_fresh().unwrap();
        let first = sign(&author, None, 1);
        journal.write_last(&first).unwrap();
        let second = sign(&author, Some(&first), 2);
        journal.write_last(&second).unwrap();
        // Tear the newest slot (generation 3, slot 1): its last bytes never reached the disk.
        let file = fs::OpenOptions::new().write(true).open(journal.path()).unwrap();
        file.write_all_at(&[0u8; 16], (SLOT_BYTES + HEADER_BYTES + second.bytes().len() - 16) as u64).unwrap();
        assert_eq!(last(&journal, &charter), Some(1), "the slot that failed its check is ignored");
        // Both slots damaged: an error that names the file, not a guess.
        file.write_all_at(b"xxxxxxxx", 0).unwrap();
        let err = journal.read(&charter).unwrap_err().to_string();
        assert!(err.contains("last-signed.rix") && err.contains("damaged"), "{err}");
    }

    #[test]
    fn reads_and_upgrades_the_one_record_form() {
        let (_dir, journal, author, charter) = setup();
        fs::write(journal.path(), b"").unwrap();
        assert_eq!(last(&journal, &charter), None, "an empty file is a fresh key");
        let first = sign(&author, None, 1);
        fs::write(journal.path(), first.bytes()).unwrap();
        assert_eq!(last(&journal, &charter), Some(1));
        let second = sign(&author, Some(&first), 2);
        journal.write_last(&second).unwrap();
        assert_eq!(fs::metadata(journal.path()).unwrap().len(), FILE_BYTES as u64);
        assert_eq!(last(&journal, &charter), Some(2));
    }
}
