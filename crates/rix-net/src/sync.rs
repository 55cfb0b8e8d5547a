//! Anti-entropy planning: given what this node holds and a peer's summary, which records to
//! fetch. Pure logic, no IO, so it is tested without sockets.

use std::collections::HashMap;

use crate::protocol::AuthorHead;

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
