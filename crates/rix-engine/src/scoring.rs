//! Peer scoring: one misbehaviour tally and one ban table per node. It sits beside gossipsub's
//! own score because sync and replays are invisible to gossipsub. The network layer enforces
//! what this decides (it refuses a banned peer's connections); it keeps no ban clock of its own.
//!
//! The arithmetic (normative in `docs/protocol.md` §9): a peer's tally `p` decays as
//! `p · 0.5^(Δt / half_life)`; each offence adds its points; a tally that reaches the threshold
//! bans the peer for the ban duration and is reset. While banned, further offences are not
//! counted (what was still in flight is not held against the peer twice).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::Time;

/// A kind of misbehaviour, and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offence {
    /// Forwarded an invalid record by gossip.
    InvalidGossip,
    /// Served an invalid record by sync: honest nodes serve only what they verified.
    InvalidSync,
    /// A sync request over the serving limits, or a malformed one.
    SyncOverLimit,
    /// A gossip record already held: a replay, or a harmless race with sync.
    Replay,
}

impl Offence {
    /// Every offence, for metrics that list them all.
    pub const ALL: [Offence; 4] =
        [Offence::InvalidGossip, Offence::InvalidSync, Offence::SyncOverLimit, Offence::Replay];

    /// Points it adds to a tally, for a ban threshold of `threshold` points.
    pub fn points(self, threshold: f64) -> f64 {
        match self {
            // Two invalid gossip records within 95 s ban a peer (0.75 · 0.5^(95/60) + 0.75 ≥ 1):
            // one may be a bug, two is a pattern. At half the threshold each, as before, two
            // records even a second apart never reached it.
            Offence::InvalidGossip => threshold * 0.75,
            Offence::InvalidSync => threshold,
            Offence::SyncOverLimit => 2.0,
            Offence::Replay => 1.0,
        }
    }

    /// A stable label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Offence::InvalidGossip => "invalid_gossip",
            Offence::InvalidSync => "invalid_sync",
            Offence::SyncOverLimit => "sync_over_limit",
            Offence::Replay => "replay",
        }
    }
}

/// The scoring policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoringConfig {
    /// Points that ban a peer (`network.ban_threshold`).
    pub threshold: f64,
    /// How fast a tally is forgiven.
    pub half_life: Duration,
    /// How long a ban lasts (`network.ban_secs`).
    pub ban: Duration,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self { threshold: 100.0, half_life: Duration::from_secs(60), ban: Duration::from_secs(600) }
    }
}

/// What one penalty did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    /// Counted; the tally is now this many points.
    Counted(f64),
    /// The peer is now banned until then.
    Banned(Time),
    /// The peer was banned already: not counted.
    AlreadyBanned,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    points: f64,
    at: Time,
}

/// Tallies and bans, keyed by peer (ordered, so that what expires comes out in one order on every run).
#[derive(Debug, Clone)]
pub struct Scoreboard<P> {
    config: ScoringConfig,
    tallies: BTreeMap<P, Tally>,
    banned: BTreeMap<P, Time>,
}

impl<P: Clone + Ord> Scoreboard<P> {
    /// An empty scoreboard.
    pub fn new(config: ScoringConfig) -> Self {
        Self { config, tallies: BTreeMap::new(), banned: BTreeMap::new() }
    }

    /// The policy.
    pub fn config(&self) -> &ScoringConfig {
        &self.config
    }

    /// Counts `offence` against `peer` at `now`.
    pub fn penalise(&mut self, peer: &P, offence: Offence, now: Time) -> Penalty {
        if self.is_banned(peer, now) {
            return Penalty::AlreadyBanned;
        }
        let points = self.points(peer, now) + offence.points(self.config.threshold);
        if points >= self.config.threshold {
            self.tallies.remove(peer);
            let until = now + self.config.ban;
            self.banned.insert(peer.clone(), until);
            return Penalty::Banned(until);
        }
        self.tallies.insert(peer.clone(), Tally { points, at: now });
        Penalty::Counted(points)
    }

    /// `peer`'s tally at `now`, decayed.
    pub fn points(&self, peer: &P, now: Time) -> f64 {
        self.tallies.get(peer).map_or(0.0, |t| {
            let halvings = now.since(t.at).as_secs_f64() / self.config.half_life.as_secs_f64();
            t.points * 0.5f64.powf(halvings)
        })
    }

    /// Whether `peer` is banned at `now`.
    pub fn is_banned(&self, peer: &P, now: Time) -> bool {
        self.banned.get(peer).is_some_and(|until| *until > now)
    }

    /// Lifts the bans that have run out by `now`, and returns those peers; forgets tallies
    /// that have decayed below a point's hundredth, so the table does not grow for ever.
    pub fn expire(&mut self, now: Time) -> Vec<P> {
        let lifted: Vec<P> = self.banned.iter().filter(|(_, until)| **until <= now).map(|(p, _)| p.clone()).collect();
        for p in &lifted {
            self.banned.remove(p);
        }
        let faded: Vec<P> = self.tallies.keys().filter(|p| self.points(p, now) < 0.01).cloned().collect::<Vec<_>>();
        for p in faded {
            self.tallies.remove(&p);
        }
        lifted
    }

    /// When the next ban runs out.
    pub fn next_expiry(&self) -> Option<Time> {
        self.banned.values().min().copied()
    }

    /// The peers banned at `now`.
    pub fn banned(&self, now: Time) -> impl Iterator<Item = &P> {
        self.banned.iter().filter(move |(_, until)| **until > now).map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board() -> Scoreboard<u8> {
        Scoreboard::new(ScoringConfig::default())
    }

    #[test]
    fn two_invalid_gossip_records_within_95_seconds_ban() {
        for gap in [0u64, 1_500, 60_000, 94_000] {
            let mut b = board();
            assert!(matches!(b.penalise(&1, Offence::InvalidGossip, Time::ZERO), Penalty::Counted(p) if p == 75.0));
            let at = Time::from_millis(gap);
            assert_eq!(
                b.penalise(&1, Offence::InvalidGossip, at),
                Penalty::Banned(at + Duration::from_secs(600)),
                "gap {gap}"
            );
            assert!(b.is_banned(&1, at) && !b.is_banned(&2, at));
        }
        let mut b = board();
        b.penalise(&1, Offence::InvalidGossip, Time::ZERO);
        assert!(matches!(b.penalise(&1, Offence::InvalidGossip, Time::from_millis(96_000)), Penalty::Counted(_)));
    }

    #[test]
    fn one_invalid_sync_batch_bans_at_once() {
        let mut b = board();
        assert!(matches!(b.penalise(&3, Offence::InvalidSync, Time::ZERO), Penalty::Banned(_)));
    }

    #[test]
    fn tallies_halve_every_half_life() {
        let mut b = board();
        for _ in 0..40 {
            b.penalise(&1, Offence::Replay, Time::ZERO);
        }
        assert_eq!(b.points(&1, Time::ZERO), 40.0);
        assert!((b.points(&1, Time::from_millis(60_000)) - 20.0).abs() < 1e-9);
        assert!((b.points(&1, Time::from_millis(120_000)) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn replays_ban_only_a_sustained_flood() {
        let mut b = board();
        // One replay a second decays to a steady tally far below the threshold...
        for s in 0..600 {
            assert!(matches!(b.penalise(&1, Offence::Replay, Time::from_millis(s * 1000)), Penalty::Counted(_)));
        }
        // ...while a hundred at once is a ban.
        let now = Time::from_millis(700_000);
        let outcomes: Vec<Penalty> = (0..100).map(|_| b.penalise(&2, Offence::Replay, now)).collect();
        assert!(matches!(outcomes[99], Penalty::Banned(_)));
    }

    #[test]
    fn banned_peers_are_not_counted_again_and_bans_expire() {
        let mut b = board();
        let Penalty::Banned(until) = b.penalise(&1, Offence::InvalidSync, Time::ZERO) else { panic!() };
        assert_eq!(b.penalise(&1, Offence::InvalidSync, Time::from_millis(5)), Penalty::AlreadyBanned);
        assert_eq!(b.next_expiry(), Some(until));
        assert!(b.expire(Time::from_millis(599_999)).is_empty());
        assert_eq!(b.expire(until), vec![1]);
        assert!(!b.is_banned(&1, until) && b.next_expiry().is_none());
        // The tally starts from zero after a ban.
        assert!(matches!(b.penalise(&1, Offence::Replay, until), Penalty::Counted(p) if p == 1.0));
    }

    #[test]
    fn faded_tallies_are_forgotten() {
        let mut b = board();
        b.penalise(&1, Offence::Replay, Time::ZERO);
        b.expire(Time::from_millis(60_000 * 6));
        assert!(b.tallies.contains_key(&1));
        b.expire(Time::from_millis(60_000 * 7));
        assert!(!b.tallies.contains_key(&1));
    }
}
