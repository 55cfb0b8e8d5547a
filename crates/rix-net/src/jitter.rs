//! Jitter for periodic work: sync rounds, index commits and redials wait their period times a
//! random factor, so that nodes started together, or a whole network after an outage, do not
//! fall into step and all act at the same moment (Floyd and Jacobson, "The Synchronization of
//! Periodic Routing Messages", 1994). Two nodes that dial each other at the same instant may
//! each refuse the other's connection (one connection per peer); jittered redials break the tie.

use std::time::Duration;

/// `period` scaled by a random factor in [0.75, 1.25).
pub fn jittered(period: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A fresh RandomState is randomly keyed: enough randomness for spreading timers.
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    period.mul_f64(0.75 + (random % 10_000) as f64 / 20_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jittered_periods_stay_within_a_quarter_and_differ() {
        let period = Duration::from_secs(4);
        let samples: Vec<Duration> = (0..200).map(|_| jittered(period)).collect();
        assert!(samples.iter().all(|d| *d >= Duration::from_secs(3) && *d < Duration::from_secs(5)), "{samples:?}");
        let distinct: std::collections::BTreeSet<_> = samples.iter().collect();
        assert!(distinct.len() > 150, "only {} distinct periods of 200", distinct.len());
        let spread = samples.iter().max().unwrap().saturating_sub(*samples.iter().min().unwrap());
        assert!(spread > Duration::from_millis(1500), "periods spread over {spread:?} only");
    }
}
