//! Publishing as this node's member: choosing the next sequence number without ever signing
//! two records with one number.
//!
//! The [`SigningJournal`] keeps the last record this key signed, next to the key, written and
//! synced before the record is stored or sent. The next record follows the later of the
//! journal and the replica's own chain, so losing the data directory loses no sequence
//! numbers. A missing journal means the key's history is unknown: the daemon recovers it from
//! peers first, and offline publishing refuses.

use std::path::PathBuf;
use std::sync::Mutex;

use rix_record::envelope::SignError;
use rix_record::{Author, ChainHead, Charter, Content, MemberKey, Timestamp, VerifiedRecord};

pub use crate::journal::{JournalState, SigningJournal};
use rix_store::{Inserted, Replica, StoreError};

/// Why a record could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The key's signing history is not known here.
    #[error(
        "this node does not know which record {member} signed last ({journal} is missing). Start the daemon so it recovers {member}'s history from peers, or, if this key has never published anything, create that file empty"
    )]
    HistoryUnknown {
        /// The member.
        member: String,
        /// The journal file.
        journal: PathBuf,
    },
    /// The journal exists but does not hold a valid record of this member.
    #[error("signing journal {path}: {reason}")]
    BadJournal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing the journal failed.
    #[error("signing journal {path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The record is not valid or too large.
    #[error("{0}")]
    Sign(#[from] SignError),
    /// The replica failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The member's last signed record is not in the replica and cannot be stored: nothing new
    /// is signed until it is, or its sequence number would be lost for good.
    #[error(
        "refusing to sign: {member}'s last signed record #{seq} ({id}) is not stored yet and storing it failed: {source}. It is kept in the signing journal and stored before the next record is signed"
    )]
    Unstored {
        /// The member.
        member: String,
        /// Its sequence number.
        seq: u64,
        /// Its id (short form).
        id: String,
        /// Why it could not be stored.
        source: StoreError,
    },
    /// Signing would equivocate (the replica already holds a different record at that
    /// sequence number): refuse rather than fork the chain.
    #[error("refusing to publish: the replica already holds a different record of {member} with seq {seq}")]
    WouldEquivocate {
        /// The member.
        member: String,
        /// The sequence number.
        seq: u64,
    },
}

/// What [`Publisher::sign`] signed, and the earlier record it had to store first.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The new record, journaled.
    pub record: VerifiedRecord,
    /// The member's previous record, which the journal held but the replica did not (its
    /// store had failed), now stored: it must be sent too.
    pub restored: Option<VerifiedRecord>,
}

/// Where `rix key rotate` keeps the new signing key until its rotation takes effect.
pub fn next_key_path(signing: &std::path::Path) -> PathBuf {
    let mut name = signing.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    signing.with_file_name(name)
}

/// Once `charter` gives `member` the key waiting in the next-key file, that key becomes the
/// signing key: the old file is kept beside it as `<signing>.retired-<first 16 hex digits of
/// its public key>`, the next-key file takes its name. Returns the new key if it did.
pub fn adopt_next_key(
    signing: &std::path::Path,
    member: &rix_record::MemberCode,
    charter: &Charter,
) -> Result<Option<MemberKey>, crate::NodeError> {
    let next_path = next_key_path(signing);
    if !next_path.exists() {
        return Ok(None);
    }
    let next = MemberKey::load(&next_path)?;
    if charter.member(member).is_none_or(|m| m.public_key != next.author_key()) {
        return Ok(None);
    }
    let io = |context: String| move |source| crate::NodeError::Io { context, source };
    if signing.exists() {
        let old = MemberKey::load(signing)?;
        let mut name = signing.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".retired-{}", &old.author_key().to_string()[..16]));
        let kept = signing.with_file_name(name);
        std::fs::rename(signing, &kept).map_err(io(format!("keeping the old key as {}", kept.display())))?;
    }
    std::fs::rename(&next_path, signing).map_err(io(format!("installing {}", next_path.display())))?;
    if let Some(dir) = signing.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    tracing::info!(member = %member, key = %next.author_key(), "the rotation of this member's key took effect: signing with the new key");
    Ok(Some(next))
}

/// Signs and stores records as this node's member, one at a time.
#[derive(Debug)]
pub struct Publisher {
    /// Replaced when a rotation of the member's key takes effect ([`Publisher::rotate`]).
    author: std::sync::RwLock<Author>,
    journal: SigningJournal,
    /// The charter version the journal's record is verified against.
    charter: std::sync::RwLock<Charter>,
    lock: Mutex<()>,
}

impl Publisher {
    /// A publisher for `author`.
    pub fn new(author: Author, journal: SigningJournal, charter: Charter) -> Self {
        Self {
            author: std::sync::RwLock::new(author),
            journal,
            charter: std::sync::RwLock::new(charter),
            lock: Mutex::new(()),
        }
    }

    /// The member it signs as.
    pub fn member(&self) -> rix_record::MemberCode {
        self.author.read().unwrap_or_else(|p| p.into_inner()).member().clone()
    }

    /// The public key it signs with.
    pub fn public_key(&self) -> rix_record::keys::AuthorKey {
        self.author.read().unwrap_or_else(|p| p.into_inner()).key().author_key()
    }

    fn charter(&self) -> Charter {
        self.charter.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A new charter version took effect: the journal's record is verified against it.
    pub fn set_charter(&self, charter: Charter) {
        *self.charter.write().unwrap_or_else(|p| p.into_inner()) = charter;
    }

    /// A rotation of the member's key took effect in `charter`: sign with `key` from now on.
    pub fn rotate(&self, key: MemberKey, charter: Charter) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let member = self.member();
        *self.author.write().unwrap_or_else(|p| p.into_inner()) = Author::new(charter.network.clone(), member, key);
        *self.charter.write().unwrap_or_else(|p| p.into_inner()) = charter;
    }

    /// Whether the key's history is known (journal present).
    pub fn history_known(&self) -> Result<bool, PublishError> {
        Ok(!matches!(self.journal.read(&self.charter())?, JournalState::Unknown))
    }

    /// After recovering history from peers: adopt the replica's view of this member's chain
    /// as the journal's.
    pub fn adopt_replica_history(&self, replica: &Replica) -> Result<(), PublishError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match replica.chain(&self.member())?.max_head {
            Some(head) => {
                let record = replica.get(&head.id)?.expect("chain heads are stored");
                self.journal.write_last(&record)
            }
            None => self.journal.create_fresh(),
        }
    }

    /// The head the next record will follow.
    pub fn head(&self, replica: &Replica) -> Result<Option<ChainHead>, PublishError> {
        self.head_after(replica, &self.journal.read(&self.charter())?)
    }

    /// [`Publisher::head`] with the journal already read.
    fn head_after(&self, replica: &Replica, journal: &JournalState) -> Result<Option<ChainHead>, PublishError> {
        let stored = replica.head(&self.member())?;
        let journal = match journal {
            JournalState::Unknown => {
                return Err(PublishError::HistoryUnknown {
                    member: self.member().to_string(),
                    journal: self.journal.path().to_owned(),
                });
            }
            JournalState::Fresh => None,
            JournalState::Last(record) => {
                if record.record().author != self.member() {
                    return Err(PublishError::BadJournal {
                        path: self.journal.path().to_owned(),
                        reason: format!("holds a record of {}, not {}", record.record().author, self.member()),
                    });
                }
                Some(record.as_head())
            }
        };
        Ok(match (journal, stored) {
            (Some(j), Some(s)) => Some(if s.seq > j.seq { s } else { j }),
            (j, s) => j.or(s),
        })
    }

    /// Signs `content` as the next record, journals it, stores it, and returns it.
    pub fn publish(&self, replica: &Replica, content: Content, now: Timestamp) -> Result<VerifiedRecord, PublishError> {
        let Signed { record, .. } = self.sign(replica, content, now)?;
        self.store(replica, &record)?;
        Ok(record)
    }

    /// The journal is written before the replica: puts back the journal's record if a crash
    /// lost it from the replica. Returns whether it did.
    pub fn restore(&self, replica: &Replica) -> Result<bool, PublishError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.restore_from(replica, &self.journal.read(&self.charter())?)?.is_some())
    }

    /// Stores `journal`'s record if the replica lacks it, and returns it if it did.
    fn restore_from(&self, replica: &Replica, journal: &JournalState) -> Result<Option<VerifiedRecord>, PublishError> {
        match journal {
            JournalState::Last(record) if !replica.contains(&record.id())? => {
                self.store(replica, record)?;
                Ok(Some(record.clone()))
            }
            _ => Ok(None),
        }
    }

    /// Signs `content` as the next record and journals it. Once this returns the record is
    /// durable (the journal is restored into the replica at start), so it may be sent before
    /// [`Publisher::store`] has put it in the replica.
    ///
    /// The journal holds one record, the last signed. If that one never reached the replica
    /// (its store failed: a full disk), it is stored first and returned in
    /// [`Signed::restored`] to be sent as well; signing the next record without it would
    /// replace it in the journal and lose its sequence number for good, leaving a gap in the
    /// member's chain on every node. If it still cannot be stored, nothing is signed.
    pub fn sign(&self, replica: &Replica, content: Content, now: Timestamp) -> Result<Signed, PublishError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // Read once: the journal is read whole and its record verified.
        let journal = self.journal.read(&self.charter())?;
        let restored = self.restore_from(replica, &journal).map_err(|e| match (e, &journal) {
            (PublishError::Store(source), JournalState::Last(last)) => PublishError::Unstored {
                member: self.member().to_string(),
                seq: last.record().seq,
                id: last.id().short(),
                source,
            },
            (other, _) => other,
        })?;
        let head = self.head_after(replica, &journal)?;
        let record = self.author.read().unwrap_or_else(|p| p.into_inner()).sign_next(head, content, now)?;
        self.journal.write_last(&record)?;
        Ok(Signed { record, restored })
    }

    /// Stores a record [`Publisher::sign`] returned, synced to disk. Returns whether it was new
    /// to the replica (a peer may have synced it back first).
    pub fn store(&self, replica: &Replica, record: &VerifiedRecord) -> Result<bool, PublishError> {
        match replica.insert(record)? {
            Inserted::New => Ok(true),
            Inserted::Duplicate => Ok(false),
            Inserted::Equivocation { .. } => {
                Err(PublishError::WouldEquivocate { member: self.member().to_string(), seq: record.record().seq })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rix_record::content::Publication;
    use rix_record::{KeyFactor, Kind, MemberKey};

    fn content(i: usize) -> Content {
        let p = Publication::new(Kind::Event, format!("Event {i}"), "en".parse().unwrap(), vec![KeyFactor::Hrm]);
        Content::Publication(Box::new(p))
    }

    /// A record signed and journaled whose store failed (here: never attempted) is stored
    /// before the next one is signed, and handed back to be sent: the chain has no gap.
    #[test]
    fn a_signed_record_that_was_never_stored_is_stored_before_the_next_is_signed() {
        let dir = tempfile::tempdir().unwrap();
        let key = MemberKey::from_seed(&[3; 32]);
        let charter = Charter::with_member("test", "KZ".parse().unwrap(), &key);
        let journal = SigningJournal::new(dir.path().join("last-signed.rix"));
        journal.create_fresh().unwrap();
        let publisher = Publisher::new(Author::new("test", "KZ".parse().unwrap(), key), journal, charter);
        let replica = Replica::open(&dir.path().join("replica"), &rix_store::ReplicaOptions::default()).unwrap();

        let first = publisher.publish(&replica, content(1), Timestamp::now()).unwrap();
        // Signed and journaled; the store "fails": nothing reaches the replica.
        let lost = publisher.sign(&replica, content(2), Timestamp::now()).unwrap();
        assert!(lost.restored.is_none());
        assert!(!replica.contains(&lost.record.id()).unwrap());
        let next = publisher.sign(&replica, content(3), Timestamp::now()).unwrap();
        let restored = next.restored.expect("the unstored record comes back");
        assert_eq!(restored.id(), lost.record.id());
        assert!(replica.contains(&restored.id()).unwrap(), "stored before the next was signed");
        assert_eq!(next.record.record().seq, 3);
        assert_eq!(next.record.record().prev, Some(lost.record.id()));
        publisher.store(&replica, &next.record).unwrap();
        let chain = replica.chain(&"KZ".parse().unwrap()).unwrap();
        assert_eq!((chain.held, chain.contiguous, chain.missing.len()), (3, 3, 0));
        assert_eq!(first.record().seq, 1);
    }
}
