//! The verdict: what a verification or insert result means for the record's sender, by the
//! path it came on. One table, used for gossip, sync and import alike, so the three paths
//! cannot drift apart.

use crate::scoring::Offence;

/// How a record reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Gossipsub.
    Gossip,
    /// Anti-entropy sync.
    Sync,
    /// A signed pack imported by a user.
    Import,
}

impl Source {
    /// A stable label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Source::Gossip => "gossip",
            Source::Sync => "sync",
            Source::Import => "import",
        }
    }
}

/// What verifying and storing one record gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Valid and new: stored.
    New,
    /// Valid, and already held.
    Duplicate,
    /// Valid, but its author signed another record with the same sequence number: kept as
    /// evidence, not as a record.
    Equivocation,
    /// Failed verification (forged, malformed, not a member...).
    Invalid,
    /// Refused for what a newer charter version could change: its author is not a member, or
    /// its key is not (or no longer) the member's. Judged as [`Outcome::Invalid`] when this
    /// node's charter chain agrees with every peer's; otherwise not held against the sender,
    /// which may know a version this node has yet to fetch.
    Unjudged,
}

/// What gossipsub is told about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Acceptance {
    /// Valid: forward it.
    Accept,
    /// Invalid: do not forward, and let gossipsub penalise the sender.
    Reject,
    /// Do not forward, no penalty from gossipsub.
    Ignore,
}

/// The verdict on one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// For gossipsub (meaningful for gossip only).
    pub acceptance: Acceptance,
    /// What the sender is penalised for, if anything.
    pub offence: Option<Offence>,
}

/// The verdict on `outcome` for a record that came by `source`. A failed write is this node's
/// fault, never the sender's: see [`store_failed`].
pub fn verdict(source: Source, outcome: Outcome) -> Verdict {
    let (acceptance, offence) = match (source, outcome) {
        (_, Outcome::New) => (Acceptance::Accept, None),
        // Evidence is kept but not forwarded: the forwarder is not to blame for what the
        // author signed.
        (_, Outcome::Equivocation) => (Acceptance::Ignore, None),
        // gossipsub drops copies it has seen, so a duplicate by gossip is a replay or a race
        // with sync: cheap, so only a flood bans.
        (Source::Gossip, Outcome::Duplicate) => (Acceptance::Ignore, Some(Offence::Replay)),
        (Source::Sync | Source::Import, Outcome::Duplicate) => (Acceptance::Ignore, None),
        (Source::Gossip, Outcome::Invalid) => (Acceptance::Reject, Some(Offence::InvalidGossip)),
        (Source::Gossip, Outcome::Unjudged) => (Acceptance::Ignore, None),
        // Judged by the session: an offence only if the peer holds this node's chain.
        (Source::Sync, Outcome::Unjudged) => (Acceptance::Ignore, None),
        (Source::Import, Outcome::Unjudged) => (Acceptance::Reject, None),
        (Source::Sync, Outcome::Invalid) => (Acceptance::Reject, Some(Offence::InvalidSync)),
        // A user's file: refused record by record, nobody to penalise.
        (Source::Import, Outcome::Invalid) => (Acceptance::Reject, None),
    };
    Verdict { acceptance, offence }
}

/// The verdict when the replica could not store a batch: ignore, penalise nobody (the records
/// come again by sync once the node can store them).
pub fn store_failed() -> Verdict {
    Verdict { acceptance: Acceptance::Ignore, offence: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use Acceptance::*;
        use Outcome::*;
        use Source::*;
        let cases = [
            (Gossip, New, Accept, None),
            (Gossip, Duplicate, Ignore, Some(Offence::Replay)),
            (Gossip, Equivocation, Ignore, None),
            (Gossip, Invalid, Reject, Some(Offence::InvalidGossip)),
            (Sync, New, Accept, None),
            (Sync, Duplicate, Ignore, None),
            (Sync, Equivocation, Ignore, None),
            (Sync, Invalid, Reject, Some(Offence::InvalidSync)),
            (Import, Duplicate, Ignore, None),
            (Import, Invalid, Reject, None),
        ];
        for (source, outcome, acceptance, offence) in cases {
            assert_eq!(verdict(source, outcome), Verdict { acceptance, offence }, "{source:?} {outcome:?}");
        }
        assert_eq!(store_failed(), Verdict { acceptance: Ignore, offence: None });
    }
}
