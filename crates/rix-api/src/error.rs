//! [`Error`]: what can go wrong when a node is asked something, by kind. The kind decides the
//! HTTP status the daemon answers with and is read back from it by the client, so a caller
//! sees the same kind whichever backend answered.

use serde::{Deserialize, Serialize};

/// Why a node refused or failed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nothing by that id or prefix (404).
    NotFound,
    /// The request cannot be done as asked: an ambiguous prefix, a bad record file or pack,
    /// a reference that resolves to nothing (400).
    Invalid,
    /// This node may not do it: an observer cannot author, a key not in the charter (403).
    Forbidden,
    /// It conflicts with the node's state: publishing refused to avoid equivocation (409).
    Conflict,
    /// Not now: the node is recovering its signing history, or is short of disk space;
    /// retry later (503).
    Unavailable,
    /// The node failed: storage, search index, an internal error (500).
    Node,
}

impl ErrorKind {
    /// The HTTP status the daemon answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Invalid => 400,
            Self::Forbidden => 403,
            Self::Conflict => 409,
            Self::Unavailable => 503,
            Self::Node => 500,
        }
    }

    /// The kind an HTTP error status means.
    pub fn from_status(status: u16) -> Self {
        match status {
            404 => Self::NotFound,
            400 | 405 | 411 | 413 | 415 | 422 => Self::Invalid,
            401 | 403 => Self::Forbidden,
            409 => Self::Conflict,
            503 => Self::Unavailable,
            _ => Self::Node,
        }
    }
}

/// A failed request to a node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node refused or failed the request; the message says why in words a user can act
    /// on.
    #[error("{message}")]
    Refused {
        /// What kind of failure.
        kind: ErrorKind,
        /// The node's words.
        message: String,
    },
    /// The daemon's API could not be reached.
    #[error("the daemon's API at {base}: {source}")]
    Unreachable {
        /// The API's base URL.
        base: String,
        /// What the HTTP client said.
        source: Box<ureq::Error>,
    },
    /// The daemon answered something this client cannot read: a different version of rix,
    /// or an answer cut short.
    #[error("the daemon's API at {base}: unreadable answer to {what}: {reason}")]
    Malformed {
        /// The API's base URL.
        base: String,
        /// The request.
        what: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// Writing or reading local data failed (an export's output, an import's file).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// A refusal of this kind.
    pub fn refused(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::Refused { kind, message: message.into() }
    }

    /// The kind, for a refusal; a failure to reach or read the daemon is the node's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Refused { kind, .. } => *kind,
            Self::Unreachable { .. } | Self::Malformed { .. } | Self::Io { .. } => ErrorKind::Node,
        }
    }

    /// An error while writing the output of `context`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// The JSON body of an error response: `{"error": MESSAGE, "kind": KIND}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The message.
    pub error: String,
    /// The kind (absent from daemons before this field existed).
    #[serde(default)]
    pub kind: Option<ErrorKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_its_http_status() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::Invalid,
            ErrorKind::Forbidden,
            ErrorKind::Conflict,
            ErrorKind::Unavailable,
            ErrorKind::Node,
        ] {
            assert_eq!(ErrorKind::from_status(kind.status()), kind);
        }
    }
}
