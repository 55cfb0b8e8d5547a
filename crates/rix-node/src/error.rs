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
    /// A signed export (`rix import`) that cannot be read.
    #[error("{0}")]
    Pack(String),
    /// A worker of the daemon failed; the daemon stopped so that its supervisor restarts it.
    #[error("the daemon's {worker} worker failed ({reason}); the daemon stopped so that its supervisor can restart it")]
    WorkerFailed {
        /// Which worker.
        worker: &'static str,
        /// What happened to it.
        reason: String,
    },
    /// The daemon's API answered with an error.
    #[error("{0}")]
    Api(String),
    /// Some other I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}
