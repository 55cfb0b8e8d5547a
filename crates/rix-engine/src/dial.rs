//! Dialling: who dials first, how redials back off, and which of two connections to one peer
//! survives. The network layer carries the dials out; this decides when.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{Rng, Time};

/// How long to wait before dialling `remote` when both peers know each other's address: the
/// peer with the smaller id dials at once, the other about one redial delay later, and only if
/// no connection came in meanwhile. Two nodes started together (or reconnecting after a
/// partition) would otherwise dial each other at the same moment; both dials then succeed and
/// one of the two connections has to be closed again (`docs/performance.md`, "Crossing
/// dials").
pub fn dial_delay<P: Ord>(local: &P, remote: &P, redial_min: Duration, rng: &mut Rng) -> Duration {
    if local < remote { Duration::ZERO } else { rng.jittered(redial_min) }
}

/// Of two connections to one peer, which to close: both sides must pick the same one, or each
/// closes the one the other keeps. The kept one is the connection the peer with the smaller id
/// dialled; if both were dialled the same way, the older. Each connection is given with
/// whether this node dialled it.
pub fn connection_to_close<P: Ord, C>(local: &P, remote: &P, existing: (C, bool), new: (C, bool)) -> C {
    let keep_ours = local < remote;
    match (existing.1 == keep_ours, new.1 == keep_ours) {
        (false, true) => existing.0,
        _ => new.0,
    }
}

#[derive(Debug, Clone, Copy)]
struct Schedule {
    next: Time,
    backoff: Duration,
    connected: bool,
}

/// The redial schedule of the peers this node dials (those with known addresses): the first
/// dial after [`dial_delay`], then, while the peer is not connected, after a jittered delay
/// that doubles from `redial_min` up to `redial_max`.
#[derive(Debug, Clone)]
pub struct Redials<P> {
    min: Duration,
    max: Duration,
    peers: BTreeMap<P, Schedule>,
}

impl<P: Clone + Ord> Redials<P> {
    /// An empty schedule.
    pub fn new(redial_min: Duration, redial_max: Duration) -> Self {
        Self { min: redial_min, max: redial_max.max(redial_min), peers: BTreeMap::new() }
    }

    /// Starts dialling `remote` from `now`.
    pub fn add(&mut self, local: &P, remote: P, now: Time, rng: &mut Rng) {
        let next = now + dial_delay(local, &remote, self.min, rng);
        self.peers.insert(remote, Schedule { next, backoff: self.min, connected: false });
    }

    /// Stops dialling `peer` (it left the charter).
    pub fn remove(&mut self, peer: &P) {
        self.peers.remove(peer);
    }

    /// No dial to `peer` before `until` (it is banned until then).
    pub fn postpone(&mut self, peer: &P, until: Time) {
        if let Some(s) = self.peers.get_mut(peer) {
            s.next = s.next.max(until);
        }
    }

    /// `peer` connected: no dials while it stays, and the back-off starts afresh.
    pub fn connected(&mut self, peer: &P) {
        if let Some(s) = self.peers.get_mut(peer) {
            s.connected = true;
            s.backoff = self.min;
        }
    }

    /// `peer` disconnected at `now`: redial it after a jittered delay (plus the dial delay, so
    /// the peer with the smaller id redials first).
    pub fn disconnected(&mut self, local: &P, peer: &P, now: Time, rng: &mut Rng) {
        let (min, extra) = (self.min, dial_delay(local, peer, self.min, rng));
        if let Some(s) = self.peers.get_mut(peer) {
            s.connected = false;
            s.next = now + rng.jittered(min) + extra;
        }
    }

    /// The peers to dial at `now` (not connected, due, and not excluded by `skip`, such as a
    /// ban); each one's next attempt is pushed back by its doubled back-off.
    pub fn due(&mut self, now: Time, rng: &mut Rng, skip: impl Fn(&P) -> bool) -> Vec<P> {
        let mut out = Vec::new();
        for (peer, s) in &mut self.peers {
            if s.connected || s.next > now {
                continue;
            }
            if skip(peer) {
                // Not now (banned): look again after the back-off, not in a busy loop.
                s.next = now + s.backoff;
            } else {
                out.push(peer.clone());
                s.next = now + rng.jittered(s.backoff);
                s.backoff = (s.backoff * 2).min(self.max);
            }
        }
        out.sort();
        out
    }

    /// When the next dial is due.
    pub fn next_due(&self) -> Option<Time> {
        self.peers.values().filter(|s| !s.connected).map(|s| s.next).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_smaller_peer_id_dials_at_once() {
        let mut rng = Rng::seeded(1);
        let min = Duration::from_secs(1);
        for _ in 0..100 {
            assert_eq!(dial_delay(&1u8, &2u8, min, &mut rng), Duration::ZERO);
            let wait = dial_delay(&2u8, &1u8, min, &mut rng);
            assert!(wait >= min * 3 / 4 && wait < min * 5 / 4, "{wait:?}");
        }
    }

    #[test]
    fn both_ends_of_a_double_connection_close_the_same_one() {
        // Connection "a" was dialled by peer 1, "b" by peer 2. Each side sees them in either
        // order; both must close "b" (the one the larger id dialled).
        let (small, large) = (1u8, 2u8);
        for (existing, new) in [(("a", true), ("b", false)), (("b", false), ("a", true))] {
            assert_eq!(connection_to_close(&small, &large, existing, new), "b");
        }
        for (existing, new) in [(("a", false), ("b", true)), (("b", true), ("a", false))] {
            assert_eq!(connection_to_close(&large, &small, existing, new), "b");
        }
        // Both dialled by the same side: the newer goes.
        assert_eq!(connection_to_close(&small, &large, ("old", true), ("new", true)), "new");
    }

    #[test]
    fn redials_back_off_and_stop_while_connected() {
        let mut rng = Rng::seeded(9);
        let mut r = Redials::new(Duration::from_secs(1), Duration::from_secs(8));
        r.add(&0u8, 1, Time::ZERO, &mut rng);
        assert_eq!(r.due(Time::ZERO, &mut rng, |_| false), vec![1]);
        // Each failed attempt waits about twice as long as the one before, up to the cap.
        let mut now = Time::ZERO;
        let mut gaps = Vec::new();
        for _ in 0..6 {
            let next = r.next_due().unwrap();
            gaps.push(next.since(now));
            now = next;
            assert_eq!(r.due(now, &mut rng, |_| false), vec![1]);
        }
        assert!(gaps[1] > gaps[0] && gaps[2] > gaps[1], "{gaps:?}");
        assert!(gaps.iter().all(|g| *g < Duration::from_secs(10)), "{gaps:?}");
        r.connected(&1);
        assert_eq!(r.next_due(), None);
        assert!(r.due(now + Duration::from_secs(100), &mut rng, |_| false).is_empty());
        // After a disconnect the back-off starts again from the minimum.
        r.disconnected(&0, &1, now, &mut rng);
        let next = r.next_due().unwrap();
        assert!(next.since(now) < Duration::from_millis(1250), "{:?}", next.since(now));
        // A banned peer is not dialled.
        assert!(r.due(next, &mut rng, |p| *p == 1).is_empty());
        r.remove(&1);
        assert_eq!(r.next_due(), None);
    }
}
