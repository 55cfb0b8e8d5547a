//! Time as the engine sees it: an instant on a clock the caller owns. The daemon maps the
//! monotonic clock onto it ([`Clock`]); the simulator advances a virtual one. Nothing in the
//! engine reads a clock itself, so every policy can be driven to any moment in a test.

use std::ops::{Add, AddAssign};
use std::time::{Duration, Instant};

/// An instant: the time elapsed since the caller's origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Time {
        Time(Duration::from_millis(ms))
    }

    /// Time since the origin.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this is (zero if it is not after it).
    pub fn since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(rhs))
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

/// Maps the process's monotonic clock onto [`Time`], for drivers that run on real time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn start() -> Clock {
        Clock { origin: Instant::now() }
    }

    /// Now.
    pub fn now(&self) -> Time {
        Time(self.origin.elapsed())
    }

    /// The monotonic instant of `t`, for sleeping until a timer is due.
    pub fn instant(&self, t: Time) -> Instant {
        self.origin + t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_add_and_subtract_without_going_below_the_origin() {
        let t = Time::from_millis(1_500);
        assert_eq!((t + Duration::from_millis(500)).since(t), Duration::from_millis(500));
        assert_eq!(t.since(t + Duration::from_secs(1)), Duration::ZERO);
        assert!(Time::ZERO < t);
    }

    #[test]
    fn the_clock_maps_instants_back_and_forth() {
        let clock = Clock::start();
        let t = clock.now() + Duration::from_millis(20);
        assert_eq!(clock.instant(t).duration_since(clock.instant(Time::ZERO)), t.since_origin());
    }
}
