//! [`StoreError`]: what can go wrong with the replica, and the sentences an operator reads when
//! the disk refuses it.

use std::path::{Path, PathBuf};

/// Storage failures. Expected outcomes such as "already held" are [`Inserted`] values instead.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (usually the running daemon) has the store open.
    #[error("the replica at {0} is in use by another process (is the daemon running? then query through it)")]
    Locked(PathBuf),
    /// The disk or file system refused a read or write of the replica: full, read-only, no
    /// permission, failing. The message is a sentence naming the cause and the fix.
    #[error("{}", io_sentence(.path, .source))]
    Io {
        /// The replica's directory (or a file in it), when known.
        path: Option<PathBuf>,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// sled reported something other than an I/O error (a bug it detected).
    #[error("replica storage error: {0}")]
    Storage(String),
    /// Stored bytes no longer decode: disk corruption or a foreign file.
    #[error("replica is corrupt: record {id}: {reason}")]
    Corrupt {
        /// The affected key or id.
        id: String,
        /// What failed.
        reason: String,
    },
    /// The store was written by a different, incompatible version of rix.
    #[error("replica at {path} has format version {found}; this rix reads version {expected}")]
    FormatVersion {
        /// The store's directory.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// Ours.
        expected: u32,
    },
    /// No record id starts with the given prefix.
    #[error("no record with id {0}")]
    NotFound(String),
    /// More than one record id starts with the given prefix.
    #[error("id prefix {prefix} matches {count} records; give more digits")]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// How many match.
        count: usize,
    },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(source) => StoreError::Io { path: None, source },
            sled::Error::Corruption { at, .. } => StoreError::Corrupt {
                id: at.map_or_else(|| "unknown".to_owned(), |a| format!("{a:?}")),
                reason: "sled found its log corrupt".into(),
            },
            other => StoreError::Storage(other.to_string()),
        }
    }
}

impl StoreError {
    /// Whether the disk or file system failed (as opposed to a record-level problem).
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Io { .. })
    }

    /// The same error, naming `path` if it names no file yet.
    pub(crate) fn at(self, path: &Path) -> Self {
        match self {
            Self::Io { path: None, source } => Self::Io { path: Some(path.to_owned()), source },
            other => other,
        }
    }
}

/// What an operator reads when the disk refuses the replica: the cause and what to do, never
/// an operating-system error's debug form.
fn io_sentence(path: &Option<PathBuf>, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let at = path.as_ref().map_or_else(|| "the replica".to_owned(), |p| p.display().to_string());
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            format!("the disk holding {at} is full: free space on it, then retry")
        }
        ErrorKind::ReadOnlyFilesystem => {
            format!("the file system holding {at} is read-only: remount it read-write, then start the daemon again")
        }
        ErrorKind::PermissionDenied => {
            format!("no permission to write {at}: give the user running rix write access to it again")
        }
        ErrorKind::NotFound => format!("{at} has disappeared: restore the node's data directory, then start again"),
        _ if e.raw_os_error() == Some(5) => {
            format!("the disk holding {at} reported an I/O error: check the disk (`dmesg`), then start again")
        }
        _ => format!("writing {at} failed: {e}"),
    }
}
