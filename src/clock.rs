//! The server's notion of now, for the parts whose behaviour depends on the wall clock:
//! schedules (when to fire) and webhook timestamp tolerances.
//!
//! Normally the system clock. `serve --manual-clock <RFC 3339>` starts a clock that stands still
//! until `PUT /v1/_clock` moves it, so that tests drive schedules through the real binary
//! without sleeping (a firing "in five minutes" happens the moment the test says so), and a
//! restart across a firing time is a restart with the clock moved. The route exists only with
//! a manual clock.

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// The clock.
#[derive(Debug)]
pub enum Clock {
    /// The system clock.
    System,
    /// A clock moved only by hand; the watch wakes whoever waits on it.
    Manual(watch::Sender<DateTime<Utc>>),
}

impl Clock {
    /// A manual clock standing at `at`.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock::Manual(watch::channel(at).0)
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(tx) => *tx.borrow(),
        }
    }

    /// Whether the clock is manual.
    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    /// Moves a manual clock (never backwards: schedules assume time does not run back).
    /// Returns false for the system clock.
    pub fn set(&self, at: DateTime<Utc>) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(tx) => {
                tx.send_modify(|t| *t = (*t).max(at));
                true
            }
        }
    }

    /// Sleeps until `at` by this clock (forever, for a manual clock nobody moves).
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match self {
            Clock::System => {
                let wait = (at - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            Clock::Manual(tx) => {
                let mut rx = tx.subscribe();
                let _ = rx.wait_for(|now| *now >= at).await;
            }
        }
    }
}
