//! [`NodeError`]: everything that can go wrong between the CLI and a node, in words an
//! operator can act on.

use std::path::PathBuf;

/// A failed node operation.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The config file.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The charter file.
    #[error(transparent)]
    Charter(#[from] rix_record::CharterError),
    /// A charter command (propose, approve, show a version).
    #[error(transparent)]
    CharterChain(#[from] crate::charter::CharterChainError),
    /// A key file.
    #[error(transparent)]
    Key(#[from] rix_record::KeyError),
    /// The replica.
    #[error(transparent)]
    Store(#[from] rix_store::StoreError),
    /// The search index.
    #[error(transparent)]
    Search(#[from] rix_search::SearchError),
    /// Publishing.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// A record file.
    #[error(transparent)]
    RecordFile(#[from] rix_record::file::RecordFileError),
    /// A reference in a record file that cannot be resolved.
    #[error("{0}")]
    Reference(String),
    /// This node has no member (an observer) and cannot author.
    #[error("this node is an observer (no `member` in its config) and cannot publish")]
    NotAMember,
    /// The config names a member the charter does not list.
    #[error("member {member} is not in the charter {charter}")]
    MemberNotInCharter {
        /// The member.
        member: String,
        /// The charter file.
        charter: PathBuf,
    },
    /// The signing key is not the one the charter lists for the member.
    #[error("the signing key {key} is not {member}'s key in the charter; records signed with it would be rejected")]
    KeyNotInCharter {
        /// The member.
        member: String,
        /// The key file.
        key: PathBuf,
    },
    /// A charter to join does not have the genesis hash it was handed over with.
    #[error("{file} has genesis hash {found}, not {expected}: it is not the charter of the network you were given")]
    GenesisMismatch {
        /// The charter file.
        file: PathBuf,
        /// The hash given.
        expected: String,
        /// The file's.
        found: String,
    },
    /// The member's signing key is revoked by the charter.
    #[error(
        "{member}'s signing key is revoked by the charter; it can sign again once a new key is installed (`rix charter show`)"
    )]
    KeyRevoked {
        /// The member.
        member: String,
    },
    /// A signed export (`rix import`) that cannot be read.
    #[error("{source}{}", imported_before(.read))]
    Pack {
        /// What is wrong with it.
        source: rix_record::pack::PackError,
        /// Records read (and imported) before the damage.
        read: usize,
    },
    /// The member's signing history is unknown (its journal was lost) and no peer has supplied
    /// it yet: publishing could sign two records with one sequence number.
    #[error(
        "this node is still recovering its member's signing history from peers; publishing would risk signing two records with one sequence number. Try again once a peer is connected and synced"
    )]
    HistoryUnknown,
    /// The disk holding the data directory is below the free-space reserve.
    #[error(
        "the disk holding {} has {} free, below the reserve of {} (`store.reserve_mb`): this node takes no records from peers or imports, and publishes only down to half the reserve, until space is freed; it resumes by itself",
        dir.display(), mib(*free), mib(*reserve)
    )]
    DiskReserve {
        /// The data directory.
        dir: PathBuf,
        /// Bytes free.
        free: u64,
        /// The reserve, bytes.
        reserve: u64,
    },
    /// The daemon is shutting down.
    #[error("the node is stopping")]
    Stopping,
    /// The daemon runs without a search index.
    #[error("the search index could not be opened; see the daemon's log (`rix reindex` rebuilds it)")]
    NoSearchIndex,
    /// The network service failed.
    #[error(transparent)]
    Network(#[from] rix_net::NetError),
    /// A task of this node panicked (a bug): the request failed, the node goes on.
    #[error("an internal task failed: {0}")]
    TaskFailed(String),
    /// A worker of the daemon failed; the daemon stopped so that its supervisor restarts it.
    #[error("the daemon's {worker} worker failed ({reason}); the daemon stopped so that its supervisor can restart it")]
    WorkerFailed {
        /// Which worker.
        worker: &'static str,
        /// What happened to it.
        reason: String,
    },
    /// The daemon's API could not be used.
    #[error(transparent)]
    Api(#[from] rix_api::Error),
    /// Some other I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl NodeError {
    /// Whether the replica is locked by another process (a daemon that is starting holds it
    /// before its API answers).
    pub fn is_locked(&self) -> bool {
        matches!(self, Self::Store(rix_store::StoreError::Locked(_)))
    }

    /// What kind of failure it is for a client: the one mapping from a node's errors to the
    /// API's kinds and HTTP statuses.
    pub fn kind(&self) -> rix_api::ErrorKind {
        use rix_api::ErrorKind;
        use rix_store::StoreError;
        match self {
            Self::Store(StoreError::NotFound(_)) => ErrorKind::NotFound,
            Self::Store(StoreError::Ambiguous { .. })
            | Self::RecordFile(_)
            | Self::Reference(_)
            | Self::Pack { .. }
            | Self::Publish(crate::publish::PublishError::Sign(_)) => ErrorKind::Invalid,
            Self::Publish(_) => ErrorKind::Conflict,
            Self::NotAMember
            | Self::MemberNotInCharter { .. }
            | Self::KeyNotInCharter { .. }
            | Self::KeyRevoked { .. } => ErrorKind::Forbidden,
            Self::HistoryUnknown | Self::Stopping | Self::NoSearchIndex | Self::DiskReserve { .. } => {
                ErrorKind::Unavailable
            }
            Self::Api(e) => e.kind(),
            Self::CharterChain(e) => {
                use crate::charter::CharterChainError as C;
                match e {
                    C::Refused { .. } | C::AmbiguousProposal { .. } | C::CutoffBeyondHeld { .. } | C::Unreadable(_) => {
                        ErrorKind::Invalid
                    }
                    C::NotAnApprover { .. } => ErrorKind::Forbidden,
                    C::NoSuchVersion { .. } | C::UnknownProposal(_) => ErrorKind::NotFound,
                    C::NotCurrent { .. } => ErrorKind::Conflict,
                }
            }
            _ => ErrorKind::Node,
        }
    }
}

impl From<NodeError> for rix_api::Error {
    fn from(e: NodeError) -> Self {
        match e {
            // Keep the I/O error itself: a closed stdout must stay recognisable.
            NodeError::Io { context, source } => rix_api::Error::Io { context, source },
            NodeError::Api(e) => e,
            e => rix_api::Error::refused(e.kind(), e.to_string()),
        }
    }
}

fn imported_before(read: &usize) -> String {
    match read {
        0 => String::new(),
        n => format!(" (the {n} records before it were read and imported)"),
    }
}

/// Bytes as MiB, for people.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}
