//! Schedules: events emitted at planned times (issue 7), as pure functions of the clock.
//!
//! The server owns the runtime (a task that sleeps until the next wake-up, persistence, the REST
//! API); everything that decides *what* fires *when* lives here and takes the time as an argument,
//! with no I/O, no async and no system clock, so that DST nights, leap years, restarts and missed
//! firings are tested by passing instants instead of waiting for them.
//!
//! - [`spec`]: the `PUT /v1/schedules/{name}` body, parsed and validated into a [`ScheduleSpec`]
//!   (errors carry a JSON pointer) and written back as JSON.
//! - [`cron`]: cron expressions and the next matching wall-clock reading.
//! - [`dst`]: wall-clock readings to instants in a time zone: the daylight-saving rules.
//! - [`rate`]: fixed periods counted from an anchor.
//! - [`plan`]: which planned times to fire now after a gap, per the [`CatchUp`] policy.
//! - [`event`]: the CloudEvent of one firing, with an id derived from the schedule's name and
//!   the planned time, so a firing re-planned after a crash has the same id.
//!
//! Planned times have a resolution of one second: every firing is a whole second, and instants
//! given with a fraction (an `at`, the creation time) are truncated to the second.

pub mod cron;
pub mod dst;
mod error;
pub mod event;
pub mod plan;
pub mod rate;
pub mod spec;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;

pub use cron::Cron;
pub use error::SpecError;
pub use event::EventTemplate;
pub use plan::{GRACE, MAX_CATCH_UP, Plan};
pub use rate::Rate;

/// A validated schedule: when it fires, and what it emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// The bus the events are appended to (its existence is the server's to check).
    pub bus: String,
    /// When it fires.
    pub when: When,
    /// Firings at or before this instant never happen; a rate counts its periods from it. It is
    /// the creation time unless the body sets `start` (which is how a stored spec keeps it).
    pub start: DateTime<Utc>,
    /// No firing after this instant (`end`, cron and rate only).
    pub end: Option<DateTime<Utc>>,
    /// The event each firing emits.
    pub event: EventTemplate,
    /// What happens to firings missed while the server was down.
    pub catch_up: CatchUp,
    /// An `at` schedule is deleted once it has fired (default false: it stays, finished, so that
    /// `GET` can still show it, as EventBridge Scheduler's default `ActionAfterCompletion: NONE`).
    pub delete_after_firing: bool,
    /// A disabled schedule keeps its definition but plans nothing.
    pub enabled: bool,
    /// Free text for people.
    pub description: Option<String>,
}

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// Whenever the wall clock in `tz` matches the expression (see [`dst`] for DST).
    Cron {
        /// The expression.
        expr: Cron,
        /// The zone whose wall clock is read (default UTC).
        tz: Tz,
    },
    /// Every period, counted from [`ScheduleSpec::start`] (the rate's anchor).
    Rate(Rate),
    /// Once.
    At {
        /// The instant.
        at: DateTime<Utc>,
        /// The zone a local `at` was given in (also used to show the instant).
        tz: Option<Tz>,
    },
}

/// What to do with firings missed while the server was down (default [`CatchUp::Last`]).
///
/// Firings less than [`GRACE`] late are never "missed": every policy fires them all (a server that
/// woke up a little late, or restarted quickly, is late, not absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// Skip missed firings.
    None,
    /// Fire the latest missed firing only, once (unless a firing within the grace already
    /// stands for "the latest").
    #[default]
    Last,
    /// Fire every missed firing, oldest first; at most [`MAX_CATCH_UP`] (the oldest are dropped).
    All,
}

impl CatchUp {
    /// The JSON name: `none`, `last`, `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Last => "last",
            Self::All => "all",
        }
    }
}

impl ScheduleSpec {
    /// The first planned firing strictly after `t`, or `None` (an `at` already passed, past the
    /// `end`, or a cron expression that never matches again). Ignores `enabled`: this is the
    /// schedule's arithmetic; [`ScheduleSpec::plan`] is what honours it.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = t.max(self.start);
        let next = match &self.when {
            When::Cron { expr, tz } => dst::next_after(expr, *tz, t)?,
            When::Rate(rate) => rate.next_after(self.start, t)?,
            When::At { at, .. } => (*at > t).then_some(*at)?,
        };
        match self.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }
}

/// `t` without its fraction of a second.
pub(crate) fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}
