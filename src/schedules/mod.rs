//! Schedules on the server side: stored documents, the state of each (the last firing done,
//! and the one in progress), and the task that fires them.
//!
//! When a schedule fires is the business of `sources::schedule` (pure: cron with time zones,
//! rates, one-time `at`, catch-up plans, deterministic ids); this module makes firings happen
//! exactly once across crashes (see [`runner`]).

pub mod runner;
pub mod store;

pub use store::{ScheduleError, Schedules};
