//! The task that fires schedules, exactly once each, across crashes.
//!
//! A firing is three steps: record `pending` (its planned time and the bus's next sequence),
//! append its event (durable), record it fired (the watermark moves to its planned time). A crash between the first two leaves a
//! pending firing whose event is not on the bus; between the last two, one whose event is.
//! At start the runner tells them apart by looking for the firing's event id (derived from the
//! schedule and the planned time) on the bus from the recorded sequence on: found, the firing
//! is done; not found, it is a missed firing and the schedule's `catch_up` policy decides, as
//! for every firing planned while the server was down. No firing is emitted twice and none the
//! policy keeps is lost.
//!
//! One task serves every schedule: it plans each against the clock, fires what is due, and
//! sleeps until the earliest next firing, a schedule change, or (manual clock) a clock move.

use std::sync::Arc;
use std::time::Duration;

use bus::log::{Batch, Log};
use bus::registry::Buses;
use chrono::{DateTime, Utc};

use sources::schedule::ScheduleSpec;

use super::store::{Entry, Pending, Schedules, State, rfc3339};
use crate::clock::Clock;

/// The longest the runner sleeps on the system clock, so a clock step (NTP) is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How long the runner waits before retrying a firing whose append failed (disk full).
const RETRY: Duration = Duration::from_secs(1);

/// Test-only crash points (`RAILYARD_FAILPOINT`): the process aborts at the named step, as a
/// kill -9 would, to prove the recovery above.
fn failpoint(name: &str) {
    if std::env::var("RAILYARD_FAILPOINT").is_ok_and(|f| f == name) {
        tracing::error!(failpoint = name, "aborting at a test failpoint");
        std::process::abort();
    }
}

/// Whether the event with `id` is on `log` at or after sequence `from` (a handful of records:
/// those appended between the pending record and the crash).
fn appended(log: &Log, from: u64, id: &str) -> Result<bool, bus::log::LogError> {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        id: std::borrow::Cow<'a, str>,
    }
    for seq in from.max(log.first_sequence())..log.next_sequence() {
        if let bus::log::Lookup::Found(r) = log.get(seq)?
            && serde_json::from_slice::<Id<'_>>(&r.body).is_ok_and(|e| e.id == id)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Settles firings left pending by a crash (see the module doc).
pub fn recover(schedules: &Schedules, buses: &Buses) {
    for e in schedules.all() {
        let Some(p) = e.state.pending else { continue };
        let Some(bus) = buses.get(&e.spec.bus) else {
            continue;
        };
        let id = e.spec.event(&e.doc.name, p.at).id;
        let done = match appended(&bus.log, p.from, &id) {
            Ok(done) => done,
            Err(err) => {
                tracing::error!(schedule = %e.doc.name, error = %err, "cannot read the bus to settle a pending firing; it stays pending");
                continue;
            }
        };
        let state = if done {
            fired(e.state, p.at)
        } else {
            // Not on the bus: a due firing like any other, for the plan to decide.
            State {
                pending: None,
                ..e.state
            }
        };
        tracing::info!(schedule = %e.doc.name, planned = %rfc3339(p.at), done, "settled a firing pending at the last stop");
        if let Err(err) = schedules.record(&e.doc.name, state) {
            tracing::error!(schedule = %e.doc.name, error = %err, "recording a settled firing");
        }
    }
}

/// `state` after the firing planned at `at` is on the bus.
fn fired(state: State, at: DateTime<Utc>) -> State {
    State {
        mark: Some(state.mark.map_or(at, |m| m.max(at))),
        last_fired: Some(at),
        pending: None,
    }
}

/// Fires one planned firing; `Err` leaves it pending for a retry.
async fn fire(
    schedules: &Schedules,
    buses: &Buses,
    name: &str,
    state: &mut State,
    spec: &ScheduleSpec,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(bus) = buses.get(&spec.bus) else {
        // The bus went away (deleting a bus a schedule uses is refused; this is a race):
        // the firing cannot happen, and waiting would not help.
        tracing::warn!(schedule = name, bus = %spec.bus, "the schedule's bus does not exist; firing skipped");
        *state = State {
            mark: Some(at),
            pending: None,
            ..*state
        };
        schedules.record(name, *state)?;
        return Ok(());
    };
    let ev = spec.event(name, at);
    *state = State {
        pending: Some(Pending {
            at,
            from: bus.log.next_sequence(),
        }),
        ..*state
    };
    schedules.record(name, *state)?;
    failpoint("schedule-before-append");
    let mut batch = Batch::with_capacity(1, ev.size_hint());
    batch.push_with(|out| ev.write_structured_json(out));
    let appended = bus.log.append(batch).await?;
    failpoint("schedule-after-append");
    *state = fired(*state, at);
    schedules.record(name, *state)?;
    metrics::counter!("railyard_schedule_firings_total", "schedule" => name.to_owned())
        .increment(1);
    tracing::debug!(schedule = name, planned = %rfc3339(at), sequence = appended.first, "fired");
    Ok(())
}

/// Plans and fires one schedule at `now`; returns its next planned time, or `Err` if a firing
/// failed (it is retried).
async fn tick(
    schedules: &Schedules,
    buses: &Buses,
    e: &Entry,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let name = &e.doc.name;
    let mut state = e.state;
    let plan = e.spec.plan(state.mark, now);
    let fired_any = !plan.fire.is_empty();
    for at in plan.fire {
        fire(schedules, buses, name, &mut state, &e.spec, at).await?;
    }
    // Planned instants the policy skipped are decided too: move the watermark past them, so
    // later plans do not weigh them again. Written only when there are such instants.
    let start = state.mark.unwrap_or(e.spec.start);
    if e.spec.enabled && e.spec.next_after(start).is_some_and(|t| t <= now) {
        state.mark = Some(now);
        schedules.record(name, state)?;
    }
    if fired_any && plan.next.is_none() && e.spec.delete_after_firing {
        match schedules.delete(name, Some(e.doc.version)) {
            Ok(()) => {
                tracing::info!(schedule = %name, "one-time schedule fired and deleted itself")
            }
            Err(err) => {
                tracing::warn!(schedule = %name, error = %err, "deleting a fired one-time schedule")
            }
        }
    }
    Ok(plan.next)
}

/// Runs the schedules until the task is aborted.
pub async fn run(schedules: Arc<Schedules>, buses: Arc<Buses>, clock: Arc<Clock>) {
    loop {
        let now = clock.now();
        let mut wake: Option<DateTime<Utc>> = None;
        for e in schedules.all() {
            let next = match tick(&schedules, &buses, &e, now).await {
                Ok(next) => next,
                Err(err) => {
                    tracing::error!(schedule = %e.doc.name, error = %err, "firing failed; retrying");
                    Some(now + chrono::Duration::from_std(RETRY).unwrap_or_default())
                }
            };
            wake = match (wake, next) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let sleep = async {
            match (&*clock, wake) {
                (Clock::System, Some(at)) => {
                    let cap =
                        clock.now() + chrono::Duration::from_std(MAX_SLEEP).unwrap_or_default();
                    clock.sleep_until(at.min(cap)).await;
                }
                (Clock::System, None) => tokio::time::sleep(MAX_SLEEP).await,
                (Clock::Manual(_), Some(at)) => clock.sleep_until(at).await,
                (Clock::Manual(_), None) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = schedules.changed.notified() => {}
        }
    }
}
