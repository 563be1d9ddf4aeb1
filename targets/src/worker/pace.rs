//! The rate limit: attempts start at most one per interval (GCRA without burst), so a limit of
//! 100/s spreads attempts 10 ms apart rather than letting 100 go at once.

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
        let from = self.next.map_or(now, |n| n.max(now));
        self.next = Some(from + interval);
    }

    /// When the next attempt may start, if it is limited.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_holds_and_idle_time_is_not_banked() {
        let t0 = Instant::now();
        let mut p = Pace::new();
        let ms = Duration::from_millis;
        assert!(p.ready(t0));
        p.take(t0, ms(10));
        assert!(!p.ready(t0 + ms(5)));
        assert!(p.ready(t0 + ms(10)));
        p.take(t0 + ms(10), ms(10));
        // A long pause does not allow a burst afterwards.
        p.take(t0 + ms(1000), ms(10));
        assert!(!p.ready(t0 + ms(1005)));
    }
}
