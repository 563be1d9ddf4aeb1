//! Deciding what fires now: the catch-up policy after a gap.
//!
//! The runtime keeps one watermark per schedule, `last_fired`: every planned time at or before it
//! is done (fired, or deliberately skipped). On every wake-up (at the planned time, or at startup
//! after a crash) it calls [`ScheduleSpec::plan`] with the watermark and the clock, appends the
//! events of [`Plan::fire`] (ids derived from the planned times), then stores the last planned
//! time of `fire` (or `now`: everything at or before it has been decided) and sleeps until
//! [`Plan::next`]. If the server dies between appending and storing, the same planned times come
//! back with the same ids; if it dies before appending, they come back as due. Either way nothing
//! is lost, and a duplicate is recognisable by its id.
//!
//! Which due firings fire ("due" = planned after the watermark, at or before now):
//!
//! - less than [`GRACE`] late: always, under every policy (a wake-up a little late, or a quick
//!   restart, is not an outage);
//! - older (missed): per [`CatchUp`]: `none` skips them; `last` fires the latest of them only, and
//!   only when nothing due within the grace already stands for "the latest"; `all` fires all of
//!   them, oldest first, at most [`MAX_CATCH_UP`] in one plan (the oldest are dropped: after a long
//!   outage, the recent past matters more, and a bus flooded with a month of per-second ticks
//!   helps nobody).
//!
//! Finding the latest due firings only needs "next after", so it works the same for cron, rate
//! and `at`: it looks back over a window that grows ×4 from one minute until it holds enough
//! firings, so a week-long outage of a per-second schedule costs a few thousand steps, not
//! 604,800.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

use super::{CatchUp, ScheduleSpec};

/// How late a firing may be and still count as on time, under every catch-up policy.
pub const GRACE: TimeDelta = TimeDelta::seconds(60);

/// The most firings one plan returns (`catch_up: all` after a long outage).
pub const MAX_CATCH_UP: usize = 1000;

/// What to fire now, and when to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The planned times to fire now, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// The next planned time after now (the wake-up), or `None` if the schedule is finished or
    /// disabled.
    pub next: Option<DateTime<Utc>>,
}

impl ScheduleSpec {
    /// What to fire at `now`, given `last_fired`: the watermark of planned times already dealt
    /// with (`None` if never; then from [`ScheduleSpec::start`], at or before which nothing fires).
    /// See the module docs for the policies. A disabled schedule fires nothing and has no next
    /// wake-up (on re-enabling, the runtime should set the watermark to the re-enabling time, or
    /// the disabled period is caught up like an outage).
    pub fn plan(&self, last_fired: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Plan {
        if !self.enabled {
            return Plan {
                fire: Vec::new(),
                next: None,
            };
        }
        let from = last_fired.map_or(self.start, |l| l.max(self.start));
        let next = self.next_after(from.max(now));
        if now <= from {
            return Plan {
                fire: Vec::new(),
                next,
            };
        }
        let grace_start = now.checked_sub_signed(GRACE).map_or(from, |g| g.max(from));
        let mut fire = self.latest_in(grace_start, now, MAX_CATCH_UP);
        if grace_start > from {
            match self.catch_up {
                CatchUp::None => {}
                CatchUp::Last => {
                    if fire.is_empty() {
                        fire = self.latest_in(from, grace_start, 1);
                    }
                }
                CatchUp::All => {
                    let mut older = self.latest_in(from, grace_start, MAX_CATCH_UP - fire.len());
                    older.append(&mut fire);
                    fire = older;
                }
            }
        }
        Plan { fire, next }
    }

    /// The latest `n` planned times in `(lo, hi]`, oldest first.
    fn latest_in(&self, lo: DateTime<Utc>, hi: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        if n == 0 || hi <= lo {
            return Vec::new();
        }
        let mut width = TimeDelta::minutes(1);
        loop {
            let window_start = hi
                .checked_sub_signed(width)
                .filter(|s| *s > lo)
                .unwrap_or(lo);
            let found = self.collect(window_start, hi, n);
            if found.len() >= n || window_start == lo {
                return found;
            }
            width = width.checked_mul(4).unwrap_or(TimeDelta::MAX);
        }
    }

    /// The planned times in `(lo, hi]`, keeping the latest `n`, oldest first.
    fn collect(&self, lo: DateTime<Utc>, hi: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut kept = VecDeque::with_capacity(n.min(MAX_CATCH_UP));
        let mut t = lo;
        while let Some(p) = self.next_after(t).filter(|p| *p <= hi) {
            if kept.len() == n {
                kept.pop_front();
            }
            kept.push_back(p);
            t = p;
        }
        kept.into()
    }
}
