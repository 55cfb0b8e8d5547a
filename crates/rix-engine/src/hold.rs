//! The forward hold: a new, valid gossip record is stored at once but reported valid to
//! gossipsub (which then relays it) only `hold` after it arrived. Every node that receives a
//! record tells its mesh peers at once that it has it (gossipsub 1.2 IDONTWANT), and gossipsub
//! relays only to mesh peers that have not; the hold gives those notices time to arrive. On
//! nine nodes it halves the bytes each node receives (`docs/performance.md`). It delays only
//! relayed copies, never the publisher's own.

use std::collections::VecDeque;
use std::time::Duration;

use crate::Time;

/// Messages waiting out the hold, in arrival order (so in release order).
#[derive(Debug, Clone)]
pub struct ForwardHold<M> {
    hold: Duration,
    waiting: VecDeque<(Time, M)>,
}

impl<M> ForwardHold<M> {
    /// A hold of `hold` (zero: release at once).
    pub fn new(hold: Duration) -> Self {
        Self { hold, waiting: VecDeque::new() }
    }

    /// Holds `message`, which arrived at `arrived`; returns it at once if its hold has already
    /// passed at `now`.
    pub fn push(&mut self, message: M, arrived: Time, now: Time) -> Option<M> {
        let release = arrived + self.hold;
        if release <= now && self.waiting.is_empty() {
            return Some(message);
        }
        self.waiting.push_back((release, message));
        None
    }

    /// The messages whose hold has passed at `now`.
    pub fn release(&mut self, now: Time) -> Vec<M> {
        let mut out = Vec::new();
        while self.waiting.front().is_some_and(|(at, _)| *at <= now) {
            out.push(self.waiting.pop_front().expect("checked").1);
        }
        out
    }

    /// When the next message is due.
    pub fn next_release(&self) -> Option<Time> {
        self.waiting.front().map(|(at, _)| *at)
    }

    /// How many are waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none are waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_leave_in_order_once_their_hold_has_passed() {
        let mut hold = ForwardHold::new(Duration::from_millis(15));
        assert_eq!(hold.push("a", Time::from_millis(0), Time::from_millis(1)), None);
        assert_eq!(hold.push("b", Time::from_millis(5), Time::from_millis(6)), None);
        assert_eq!(hold.next_release(), Some(Time::from_millis(15)));
        assert!(hold.release(Time::from_millis(14)).is_empty());
        assert_eq!(hold.release(Time::from_millis(15)), vec!["a"]);
        assert_eq!(hold.release(Time::from_millis(100)), vec!["b"]);
        assert!(hold.is_empty() && hold.next_release().is_none());
    }

    #[test]
    fn a_record_that_waited_out_its_hold_in_the_queue_leaves_at_once() {
        let mut hold = ForwardHold::new(Duration::from_millis(15));
        assert_eq!(hold.push(1, Time::from_millis(0), Time::from_millis(40)), Some(1));
        let mut none = ForwardHold::new(Duration::ZERO);
        assert_eq!(none.push(2, Time::from_millis(7), Time::from_millis(7)), Some(2));
    }

    #[test]
    fn a_late_record_does_not_overtake_earlier_ones() {
        let mut hold = ForwardHold::new(Duration::from_millis(15));
        assert_eq!(hold.push(1, Time::from_millis(10), Time::from_millis(10)), None);
        // Its own hold has passed, but one before it still waits: it queues behind it.
        assert_eq!(hold.push(2, Time::from_millis(0), Time::from_millis(20)), None);
        assert_eq!(hold.release(Time::from_millis(25)), vec![1, 2]);
        assert_eq!(hold.len(), 0);
    }
}
