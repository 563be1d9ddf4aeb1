//! The rate limit: attempts start one per interval on a schedule (GCRA with a tolerance of one
//! interval), so a limit of 100/s spreads attempts 10 ms apart rather than letting 100 go at
//! once. A wake-up that comes late by less than an interval keeps the schedule (the next slot
//! is counted from the slot, not from the late wake-up), so timer lateness does not slow the
//! rate; after an idle spell at most one extra attempt may start at once.

use std::time::{Duration, Instant};

/// When the next attempt may start.
#[derive(Debug)]
pub struct Pace {
    next: Option<Instant>,
}

impl Pace {
    /// No attempt yet.
    pub fn new() -> Pace {
        Pace { next: None }
    }

    /// Whether an attempt may start at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.next.is_none_or(|n| n <= now)
    }

    /// Records an attempt started at `now` under a limit of one per `interval`.
    pub fn take(&mut self, now: Instant, interval: Duration) {
        let floor = now.checked_sub(interval).unwrap_or(now);
        let from = self.next.map_or(now, |n| n.max(floor));
        self.next = Some(from + interval);
    }

    /// When the next attempt may start, if it is limited.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn spacing_holds_and_idle_time_banks_one_slot_at_most() {
        let t0 = Instant::now();
        let mut p = Pace::new();
        let ms = Duration::from_millis;
        assert!(p.ready(t0));
        p.take(t0, ms(10));
        assert!(!p.ready(t0 + ms(5)));
        assert!(p.ready(t0 + ms(10)));
        // Late by 3 ms: the next slot stays on the schedule (t0 + 20 ms).
        p.take(t0 + ms(13), ms(10));
        assert!(p.ready(t0 + ms(20)));
        // A long pause banks one slot, no more.
        p.take(t0 + ms(1000), ms(10));
        assert!(p.ready(t0 + ms(1000)));
        p.take(t0 + ms(1000), ms(10));
        assert!(!p.ready(t0 + ms(1005)));
    }
}
