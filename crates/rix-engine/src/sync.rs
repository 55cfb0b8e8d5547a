//! The requester's side of sync: what to fetch given a peer's summary ([`plan`]), what a peer
//! answered as the engine sees it ([`Reply`]), and why a round failed ([`SyncFailure`]). The
//! session itself (summary, plan, paged fetch, `more`, busy retries) runs in
//! [`crate::Engine`].

use std::collections::HashMap;

use crate::wire::{AuthorHead, CharterSummary};

/// What this node holds of one author's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalChain {
    /// Member code.
    pub author: String,
    /// Highest sequence number held (0 if none).
    pub max_seq: u64,
    /// Sequence numbers below `max_seq` not held, as inclusive ranges.
    pub missing: Vec<(u64, u64)>,
}

impl LocalChain {
    /// Every sequence number up to this one is held.
    pub fn contiguous(&self) -> u64 {
        self.missing.first().map_or(self.max_seq, |(from, _)| from - 1)
    }
}

/// A range of one author's sequence numbers to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRange {
    /// Member code.
    pub author: String,
    /// First sequence number.
    pub from: u64,
    /// Last sequence number.
    pub to: u64,
}

/// The ranges to ask a peer for: every gap below our highest record that the peer may fill,
/// and everything above it up to the peer's highest. Only `authors` (the charter's members)
/// are considered, so a peer cannot make us chase authors that do not exist.
pub fn plan(local: &[LocalChain], remote: &[AuthorHead], is_member: impl Fn(&str) -> bool) -> Vec<FetchRange> {
    let local: HashMap<&str, &LocalChain> = local.iter().map(|c| (c.author.as_str(), c)).collect();
    let mut out = Vec::new();
    for head in remote.iter().filter(|h| is_member(&h.author) && h.max_seq > 0) {
        let (max_seq, missing) = match local.get(head.author.as_str()) {
            Some(c) => (c.max_seq, c.missing.as_slice()),
            None => (0, &[][..]),
        };
        for &(from, to) in missing {
            if from <= head.max_seq {
                out.push(FetchRange { author: head.author.clone(), from, to: to.min(head.max_seq) });
            }
        }
        if head.max_seq > max_seq {
            out.push(FetchRange { author: head.author.clone(), from: max_seq + 1, to: head.max_seq });
        }
    }
    out
}

/// A peer's answer to a sync request, decoded as far as the engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<R> {
    /// Its version vector.
    Summary {
        /// Its network name.
        network: String,
        /// What it holds of each author.
        heads: Vec<AuthorHead>,
        /// What it holds of the charter chain, if it says.
        charter: Option<CharterSummary>,
    },
    /// Charter amendments and approvals, not yet checked.
    Charter {
        /// Their bytes, in the order sent.
        items: Vec<Vec<u8>>,
        /// The id of the last one (computed by the driver), to ask for the next page.
        last: Option<String>,
        /// The responder has more.
        more: bool,
    },
    /// Records, not yet verified.
    Records {
        /// The records, in the order sent.
        records: Vec<R>,
        /// Where the next page starts: the last record's sequence number plus one, read
        /// unverified (a lie costs one wasted request, since nothing is trusted before it is
        /// verified). `None` when the last record does not decode as the requested author's
        /// within the range.
        next: Option<u64>,
        /// The responder has more of the range.
        more: bool,
    },
    /// Retry the same request after this long.
    Busy {
        /// Milliseconds.
        retry_after_ms: u64,
    },
    /// The request was refused.
    Error {
        /// Why.
        message: String,
    },
    /// No answer: the stream failed or timed out.
    Failed {
        /// Why, for logs.
        reason: String,
    },
}

/// Why a sync round ended without completing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncFailure {
    /// The peer is on another network.
    WrongNetwork(String),
    /// The peer's charter chain starts from another genesis.
    WrongGenesis(String),
    /// The peer answered with the wrong kind of message.
    Unexpected,
    /// The peer refused a request.
    Refused(String),
    /// The peer stayed busy for longer than the request timeout.
    StayedBusy,
    /// The request failed or timed out.
    Transport(String),
    /// The peer served invalid records (and was banned for it).
    ServedInvalid(usize),
    /// This node could not store what it fetched.
    StoreFailed,
    /// The peer disconnected, or was banned, during the round.
    Disconnected,
}

impl std::fmt::Display for SyncFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncFailure::WrongNetwork(n) => write!(f, "the peer is on network {n:?}"),
            SyncFailure::WrongGenesis(g) => write!(f, "the peer's charter has another genesis ({g})"),
            SyncFailure::Unexpected => write!(f, "the peer answered with the wrong kind of message"),
            SyncFailure::Refused(m) => write!(f, "the peer refused: {m}"),
            SyncFailure::StayedBusy => write!(f, "the peer stayed busy"),
            SyncFailure::Transport(r) => write!(f, "no answer: {r}"),
            SyncFailure::ServedInvalid(n) => write!(f, "the peer served {n} invalid records or charter items"),
            SyncFailure::StoreFailed => write!(f, "this node could not store what it fetched"),
            SyncFailure::Disconnected => write!(f, "the peer disconnected"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(author: &str, max_seq: u64) -> AuthorHead {
        AuthorHead { author: author.into(), contiguous: max_seq, max_seq, held: max_seq }
    }

    #[test]
    fn fetches_what_is_missing_and_what_is_new_only_for_members() {
        let local = vec![LocalChain { author: "KZ".into(), max_seq: 10, missing: vec![(3, 4), (8, 8)] }];
        let remote = vec![head("KZ", 12), head("JP", 5), head("XX", 99), head("RU", 0)];
        let ranges = plan(&local, &remote, |a| a != "XX");
        assert_eq!(
            ranges,
            vec![
                FetchRange { author: "KZ".into(), from: 3, to: 4 },
                FetchRange { author: "KZ".into(), from: 8, to: 8 },
                FetchRange { author: "KZ".into(), from: 11, to: 12 },
                FetchRange { author: "JP".into(), from: 1, to: 5 },
            ]
        );
    }

    #[test]
    fn a_peer_that_knows_less_gets_asked_for_nothing_beyond_its_head() {
        let local = vec![LocalChain { author: "KZ".into(), max_seq: 10, missing: vec![(5, 9)] }];
        assert_eq!(plan(&local, &[head("KZ", 6)], |_| true), vec![FetchRange { author: "KZ".into(), from: 5, to: 6 }]);
        assert!(plan(&local, &[head("KZ", 4)], |_| true).is_empty());
    }
}
