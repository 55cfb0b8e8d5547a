//! The responder's side of sync: which requests a peer may make (the serve budget), which
//! requests are well-formed, and how a `records` answer is paged under its byte budget.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use crate::Time;
use crate::wire::{MAX_FETCH_RECORDS, SyncRequest};

/// Limits on the sync requests one peer may make of this node. A request over a limit is
/// answered `busy` at once, without touching the replica, and counted as
/// [`crate::Offence::SyncOverLimit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeLimits {
    /// Requests one peer may have in flight (being answered, or written to a slow reader).
    pub inflight_per_peer: usize,
    /// Sustained requests per second per peer (a token bucket).
    pub requests_per_sec: f64,
    /// Requests a peer may make at once after being quiet.
    pub burst: f64,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self { inflight_per_peer: 4, requests_per_sec: 50.0, burst: 100.0 }
    }
}

/// Why a request was answered `busy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The peer already had [`ServeLimits::inflight_per_peer`] requests in flight.
    Inflight,
    /// The peer exceeded its request rate.
    Rate,
}

impl Refusal {
    /// A stable label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Inflight => "inflight",
            Refusal::Rate => "rate",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    tokens: f64,
    refilled: Time,
    inflight: usize,
}

/// Every peer's use of the [`ServeLimits`].
#[derive(Debug, Clone)]
pub struct ServeBudgets<P> {
    limits: ServeLimits,
    peers: HashMap<P, Budget>,
}

impl<P: Clone + Eq + Hash> ServeBudgets<P> {
    /// No peer has asked anything yet.
    pub fn new(limits: ServeLimits) -> Self {
        Self { limits, peers: HashMap::new() }
    }

    /// Takes one request's worth of `peer`'s budget at `now`, or says why not. Every request,
    /// admitted or refused, is in flight until [`ServeBudgets::finished`]: it holds a stream
    /// until its answer (records, or `busy`) is written, so counting them all bounds what a
    /// slow reader can pin in memory.
    pub fn admit(&mut self, peer: &P, now: Time) -> Result<(), Refusal> {
        let limits = self.limits;
        let b = self.peers.entry(peer.clone()).or_insert(Budget { tokens: limits.burst, refilled: now, inflight: 0 });
        b.tokens = (b.tokens + now.since(b.refilled).as_secs_f64() * limits.requests_per_sec).min(limits.burst);
        b.refilled = now;
        let admitted = if b.inflight >= limits.inflight_per_peer {
            Err(Refusal::Inflight)
        } else if b.tokens < 1.0 {
            Err(Refusal::Rate)
        } else {
            b.tokens -= 1.0;
            Ok(())
        };
        b.inflight += 1;
        admitted
    }

    /// A request of `peer`'s has been answered (or its stream failed).
    pub fn finished(&mut self, peer: &P) {
        if let Some(b) = self.peers.get_mut(peer) {
            b.inflight = b.inflight.saturating_sub(1);
        }
    }

    /// `peer` disconnected: its budget starts afresh next time.
    pub fn forget(&mut self, peer: &P) {
        self.peers.remove(peer);
    }

    /// How long a refused peer should wait before retrying: until one token has accrued.
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.limits.requests_per_sec.max(0.001)).max(Duration::from_millis(10))
    }
}

/// Why a request is malformed (answered with an `error` response, never a reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRequest {
    /// `limit` was 0.
    ZeroLimit,
    /// `from` was above `to`.
    EmptyRange {
        /// The request's `from`.
        from: u64,
        /// The request's `to`.
        to: u64,
    },
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRequest::ZeroLimit => write!(f, "limit must be at least 1"),
            BadRequest::EmptyRange { from, to } => {
                write!(f, "from ({from}) must not be above to ({to})")
            }
        }
    }
}

/// A fetch to answer, with its limit within the protocol's and this node's caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// Member code (not yet checked against the charter: that is the replica's lookup).
    pub author: String,
    /// First sequence number, at least 1 (sequence numbers start at 1, so a request's 0 is
    /// read as 1).
    pub from: u64,
    /// Last sequence number, at least `from`.
    pub to: u64,
    /// Most records to send: the request's limit, capped at [`MAX_FETCH_RECORDS`] and at
    /// `batch_cap`.
    pub limit: usize,
}

/// Checks a fetch request and caps its limit at `batch_cap` (`sync.batch_records`); `None`
/// for a summary request.
pub fn check_fetch(request: &SyncRequest, batch_cap: u32) -> Option<Result<Fetch, BadRequest>> {
    let SyncRequest::Fetch { author, from, to, limit } = request else { return None };
    if *limit == 0 {
        return Some(Err(BadRequest::ZeroLimit));
    }
    if from > to {
        return Some(Err(BadRequest::EmptyRange { from: *from, to: *to }));
    }
    let limit = (*limit).min(MAX_FETCH_RECORDS).min(batch_cap.max(1)) as usize;
    Some(Ok(Fetch { author: author.clone(), from: (*from).max(1), to: *to, limit }))
}

/// How much of a range to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Send the first `take` records read.
    pub take: usize,
    /// Whether the requester should ask again after the last one sent.
    pub more: bool,
}

/// Pages an answer. `sizes` are the byte sizes of the held records of the range, in sequence
/// order: the responder reads up to `limit + 1` of them, so that `more` is true exactly when it
/// holds a record in the range past the last one it sends. Records are added while their total
/// stays within `budget`; the first is always sent, so every answer makes progress (a record is
/// far below the budget).
pub fn page(sizes: impl IntoIterator<Item = usize>, limit: usize, budget: usize) -> Page {
    let (mut take, mut bytes) = (0usize, 0usize);
    for size in sizes {
        if take == limit || (take > 0 && bytes + size > budget) {
            return Page { take, more: true };
        }
        take += 1;
        bytes += size;
    }
    Page { take, more: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_bucket_refills_at_the_sustained_rate() {
        let limits = ServeLimits { inflight_per_peer: 1000, requests_per_sec: 10.0, burst: 5.0 };
        let mut b = ServeBudgets::new(limits);
        for _ in 0..5 {
            b.admit(&1u8, Time::ZERO).unwrap();
            b.finished(&1);
        }
        assert_eq!(b.admit(&1, Time::ZERO), Err(Refusal::Rate));
        // Another peer has its own bucket.
        assert_eq!(b.admit(&2, Time::ZERO), Ok(()));
        // A tenth of a second earns one request.
        b.finished(&1);
        assert_eq!(b.admit(&1, Time::from_millis(100)), Ok(()));
        b.finished(&1);
        assert_eq!(b.admit(&1, Time::from_millis(100)), Err(Refusal::Rate));
        b.finished(&1);
        // Quiet for long, the bucket holds no more than the burst.
        let later = Time::from_millis(100_000);
        let admitted = (0..10)
            .filter(|_| {
                let ok = b.admit(&1, later).is_ok();
                b.finished(&1);
                ok
            })
            .count();
        assert_eq!(admitted, 5);
        assert_eq!(b.retry_after(), Duration::from_millis(100));
    }

    #[test]
    fn requests_in_flight_are_bounded_per_peer() {
        let mut b = ServeBudgets::new(ServeLimits { inflight_per_peer: 2, ..ServeLimits::default() });
        b.admit(&1u8, Time::ZERO).unwrap();
        b.admit(&1, Time::ZERO).unwrap();
        // Refused, and still in flight until its `busy` is written.
        assert_eq!(b.admit(&1, Time::ZERO), Err(Refusal::Inflight));
        b.finished(&1);
        assert_eq!(b.admit(&1, Time::ZERO), Err(Refusal::Inflight));
        b.finished(&1);
        b.finished(&1);
        assert_eq!(b.admit(&1, Time::ZERO), Ok(()));
        b.forget(&1);
        assert_eq!(b.admit(&1, Time::ZERO), Ok(()));
    }

    #[test]
    fn fetches_are_checked_and_capped() {
        let fetch = |from, to, limit| SyncRequest::Fetch { author: "KZ".into(), from, to, limit };
        assert_eq!(check_fetch(&SyncRequest::Summary, 512), None);
        assert_eq!(check_fetch(&fetch(1, 9, 0), 512), Some(Err(BadRequest::ZeroLimit)));
        assert_eq!(check_fetch(&fetch(0, 9, 5), 512).unwrap().unwrap().from, 1);
        assert_eq!(check_fetch(&fetch(9, 9, 5), 512).unwrap().unwrap().from, 9);
        assert_eq!(check_fetch(&fetch(10, 9, 5), 512), Some(Err(BadRequest::EmptyRange { from: 10, to: 9 })));
        let capped = |limit, cap| check_fetch(&fetch(1, 9, limit), cap).unwrap().unwrap().limit;
        assert_eq!(capped(100, 512), 100);
        assert_eq!(capped(10_000, 512), 512);
        assert_eq!(capped(10_000, 10_000), MAX_FETCH_RECORDS as usize);
        assert_eq!(BadRequest::ZeroLimit.to_string(), "limit must be at least 1");
    }

    #[test]
    fn more_is_true_exactly_when_a_record_is_left() {
        // Exactly `limit` held: nothing left, so no `more` (the old rule said `more`).
        assert_eq!(page([10, 10, 10], 3, 1000), Page { take: 3, more: false });
        // One past the limit was read: more.
        assert_eq!(page([10, 10, 10, 10], 3, 1000), Page { take: 3, more: true });
        // Nothing held.
        assert_eq!(page([], 3, 1000), Page { take: 0, more: false });
        // The byte budget stops it early.
        assert_eq!(page([400, 400, 400], 10, 1000), Page { take: 2, more: true });
        // A record larger than the budget still goes alone, so the requester progresses.
        assert_eq!(page([5000, 10], 10, 1000), Page { take: 1, more: true });
    }
}
