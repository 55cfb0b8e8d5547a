//! Publishing as this node's member: choosing the next sequence number without ever signing
//! two records with one number.
//!
//! The [`SigningJournal`] keeps the last record this key signed, next to the key, written and
//! synced before the record is stored or sent. The next record follows the later of the
//! journal and the replica's own chain, so losing the data directory loses no sequence
//! numbers. A missing journal means the key's history is unknown: the daemon recovers it from
//! peers first, and offline publishing refuses.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rix_record::envelope::SignError;
use rix_record::{Author, ChainHead, Charter, Content, SignedRecord, Timestamp, VerifiedRecord};
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
        self.write(&[])
    }

    /// Reads the journal, verifying the record in it against the charter.
    pub fn read(&self, charter: &Charter) -> Result<JournalState, PublishError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(JournalState::Unknown),
            Err(source) => {
                return Err(PublishError::Io { path: self.path.clone(), source });
            }
        };
        if bytes.is_empty() {
            return Ok(JournalState::Fresh);
        }
        SignedRecord::from_bytes(bytes)
            .verify(charter)
            .map(JournalState::Last)
            .map_err(|e| PublishError::BadJournal { path: self.path.clone(), reason: e.to_string() })
    }

    /// Records `record` as the last signed, durably (temporary file, fsync, rename, fsync dir).
    pub fn write_last(&self, record: &VerifiedRecord) -> Result<(), PublishError> {
        self.write(record.bytes())
    }

    fn write(&self, bytes: &[u8]) -> Result<(), PublishError> {
        let io = |source| PublishError::Io { path: self.path.clone(), source };
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
        fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

/// Signs and stores records as this node's member, one at a time.
#[derive(Debug)]
pub struct Publisher {
    author: Author,
    journal: SigningJournal,
    charter: Charter,
    lock: Mutex<()>,
}

impl Publisher {
    /// A publisher for `author`.
    pub fn new(author: Author, journal: SigningJournal, charter: Charter) -> Self {
        Self { author, journal, charter, lock: Mutex::new(()) }
    }

    /// The author.
    pub fn author(&self) -> &Author {
        &self.author
    }

    /// Whether the key's history is known (journal present).
    pub fn history_known(&self) -> Result<bool, PublishError> {
        Ok(!matches!(self.journal.read(&self.charter)?, JournalState::Unknown))
    }

    /// After recovering history from peers: adopt the replica's view of this member's chain
    /// as the journal's.
    pub fn adopt_replica_history(&self, replica: &Replica) -> Result<(), PublishError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match replica.chain(self.author.member())?.max_head {
            Some(head) => {
                let record = replica.get(&head.id)?.expect("chain heads are stored");
                self.journal.write_last(&record)
            }
            None => self.journal.create_fresh(),
        }
    }

    /// The head the next record will follow.
    pub fn head(&self, replica: &Replica) -> Result<Option<ChainHead>, PublishError> {
        let stored = replica.head(self.author.member())?;
        let journal = match self.journal.read(&self.charter)? {
            JournalState::Unknown => {
                return Err(PublishError::HistoryUnknown {
                    member: self.author.member().to_string(),
                    journal: self.journal.path.clone(),
                });
            }
            JournalState::Fresh => None,
            JournalState::Last(record) => {
                if record.record().author != *self.author.member() {
                    return Err(PublishError::BadJournal {
                        path: self.journal.path.clone(),
                        reason: format!("holds a record of {}, not {}", record.record().author, self.author.member()),
                    });
                }
                // The journal is written before the replica; put back what a crash lost.
                if !replica.contains(&record.id())? {
                    replica.insert(&record)?;
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
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let head = self.head(replica)?;
        let record = self.author.sign_next(head, content, now)?;
        self.journal.write_last(&record)?;
        match replica.insert(&record)? {
            Inserted::New | Inserted::Duplicate => Ok(record),
            Inserted::Equivocation { .. } => Err(PublishError::WouldEquivocate {
                member: self.author.member().to_string(),
                seq: record.record().seq,
            }),
        }
    }
}
