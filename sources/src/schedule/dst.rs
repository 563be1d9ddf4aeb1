//! From wall-clock readings to instants: where daylight saving time is decided.
//!
//! A cron schedule is written in local time, but firings are instants. Around a DST change the
//! two do not map one to one, and this file is the only place that decides what happens:
//!
//! - **Spring forward** (Europe/Berlin 2026-03-29, 02:00 CET → 03:00 CEST): readings from 02:00:00
//!   to 02:59:59 never occur, so they never fire. A daily `0 30 2 * * *` is skipped that day (not
//!   moved to 03:00 or 03:30), as AWS EventBridge Scheduler documents.
//! - **Fall back** (Europe/Berlin 2026-10-25, 03:00 CEST → 02:00 CET): readings from 02:00:00 to
//!   02:59:59 occur twice. An expression whose hour field is restricted (`0 30 2 * * *`,
//!   `0 0 */2 * * *`) fires only at the *first* occurrence (CEST), as EventBridge Scheduler
//!   documents ("runs only once"). An expression whose hour field selects every hour
//!   (`0 */5 * * * *`, `0 30 * * * *`, `@hourly`) fires at *both* occurrences: it describes a pattern
//!   within every hour, and its author expects it every 5 minutes or every hour of elapsed time,
//!   not a one-hour silence once a year. (This is also what Vixie cron and cronie do: wildcard-hour
//!   jobs follow elapsed time, fixed-hour jobs run once.) The two firings are distinct instants,
//!   so their event ids differ.
//!
//! Put as one rule: a schedule fires at every instant whose local reading matches the expression,
//! except that for an expression with a restricted hour field, a reading that occurs twice fires
//! only at its first occurrence. With the every-hour rule a cron schedule keeps its elapsed-time
//! rhythm through both changes: `0 */5 * * * *` fires at 01:55 CET and then 03:00 CEST (5 minutes
//! later) in spring, and every 5 minutes through both passes of 02:xx in autumn.

use chrono::{
    DateTime, Datelike, MappedLocalTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::cron::Cron;

/// How far ahead a search looks before concluding that an expression never fires again (a full
/// Gregorian cycle: every date pattern repeats within it).
const SEARCH_YEARS: i32 = 400;

/// Offsets of real zones change by less than this in one step, and never twice within it.
const LOOKAHEAD: TimeDelta = TimeDelta::hours(4);

/// The first firing of `cron` in `tz` strictly after `t` (see the module docs for DST).
pub(crate) fn next_after(cron: &Cron, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Firings are whole seconds, so "after t" is "after t's whole second".
    let t = super::whole_second(t);
    let both = cron.every_hour();
    // Where to start reading. With first occurrences only, the first-occurrence instant grows
    // with the reading, so readings after t's own are enough. When both occurrences fire, a
    // fall-back shortly after t repeats readings below t's own: start as low as the reading of
    // t + 1 s under the later offset would be.
    let offset = offset_seconds(tz, t);
    let lowest = match t.checked_add_signed(LOOKAHEAD) {
        Some(later) if both => offset.min(offset_seconds(tz, later)),
        _ => offset,
    };
    let mut reading = t
        .naive_utc()
        .checked_add_signed(TimeDelta::seconds(lowest + 1))?;
    let last_year = t.year().saturating_add(SEARCH_YEARS);
    // The best second occurrence seen so far (only when both fire).
    let mut best: Option<DateTime<Utc>> = None;
    loop {
        let Some(local) = cron.next_match(reading, last_year) else {
            return best;
        };
        match instants(tz, local) {
            // Spring forward: this reading does not exist.
            None => {}
            Some((first, second)) => {
                if both && second > t {
                    best = Some(best.map_or(second, |b| b.min(second)));
                }
                if first > t {
                    // Every later reading's first occurrence is later still, and its second
                    // occurrence later than that.
                    return Some(best.map_or(first, |b| b.min(first)));
                }
            }
        }
        reading = local.checked_add_signed(TimeDelta::seconds(1))?;
    }
}

/// The instants at which `local` is read in `tz`: (first, second occurrence), equal unless the
/// reading is repeated by a fall-back; `None` when it is skipped by a spring-forward.
pub(crate) fn instants(tz: Tz, local: NaiveDateTime) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match tz.from_local_datetime(&local) {
        MappedLocalTime::Single(t) => {
            let t = t.with_timezone(&Utc);
            Some((t, t))
        }
        MappedLocalTime::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            Some((a.min(b), a.max(b)))
        }
        MappedLocalTime::None => None,
    }
}

/// The UTC offset of `tz` at `t`, in seconds.
fn offset_seconds(tz: Tz, t: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}
