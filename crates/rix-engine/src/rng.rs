//! A small seeded random source (SplitMix64): the engine's jitter and the simulator's faults
//! come from it, so one seed replays one run exactly. Not for cryptography.

use std::time::Duration;

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator that always yields the same sequence for the same seed.
    pub fn seeded(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator seeded from the process's hash keys, which the standard library draws at
    /// random: for drivers on real time, where runs need not repeat.
    pub fn from_entropy() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        Rng::seeded(std::collections::hash_map::RandomState::new().build_hasher().finish())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// `period` scaled by a random factor in [0.75, 1.25): periodic work (sync rounds, redials,
    /// index commits) waits this long, so nodes started together, or a whole network after an
    /// outage, do not fall into step (Floyd and Jacobson, "The Synchronization of Periodic
    /// Routing Messages", 1994).
    pub fn jittered(&mut self, period: Duration) -> Duration {
        period.mul_f64(0.75 + self.unit() / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_one_sequence() {
        let (mut a, mut b, mut c) = (Rng::seeded(7), Rng::seeded(7), Rng::seeded(8));
        let xs: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..16).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(xs, (0..16).map(|_| c.next_u64()).collect::<Vec<_>>());
    }

    #[test]
    fn jittered_periods_stay_within_a_quarter_and_spread() {
        let mut rng = Rng::seeded(1);
        let period = Duration::from_secs(4);
        let samples: Vec<Duration> = (0..400).map(|_| rng.jittered(period)).collect();
        assert!(samples.iter().all(|d| *d >= Duration::from_secs(3) && *d < Duration::from_secs(5)));
        let (min, max) = (samples.iter().min().unwrap(), samples.iter().max().unwrap());
        assert!(*max - *min > Duration::from_millis(1800), "spread {:?}", *max - *min);
    }

    #[test]
    fn ranges_and_units_stay_in_bounds() {
        let mut rng = Rng::seeded(3);
        for _ in 0..1000 {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            assert!((5..=9).contains(&rng.range(5, 9)));
        }
        assert!((0..1000).all(|_| rng.range(4, 4) == 4));
    }
}
