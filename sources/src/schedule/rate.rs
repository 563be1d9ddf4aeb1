//! Rate schedules: a fixed period of elapsed time, counted from an anchor.
//!
//! A rate ignores time zones and DST by construction: `1d` is 86,400 seconds, not "same time
//! tomorrow" (use cron for that). Firings are `anchor + k × period` for k ≥ 1: the anchor itself
//! (the schedule's creation, as in EventBridge) is not a firing, so a schedule created at 10:00:00
//! with `5m` first fires at 10:05:00. Being pure arithmetic, the next firing after any instant is
//! computed directly, without walking through the missed ones.

use chrono::{DateTime, TimeDelta, Utc};

use super::SpecError;

/// The shortest period accepted.
pub const MIN_RATE_SECONDS: i64 = 1;
/// The longest period accepted (a year; longer periods are better written as cron or `at`).
pub const MAX_RATE_SECONDS: i64 = 366 * 86_400;

/// A period of whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    seconds: i64,
}

const UNITS: [(&[&str], i64); 4] = [
    (&["s", "sec", "secs", "second", "seconds"], 1),
    (&["m", "min", "mins", "minute", "minutes"], 60),
    (&["h", "hour", "hours"], 3_600),
    (&["d", "day", "days"], 86_400),
];

impl Rate {
    /// Parses `5m`, `30s`, `1h`, `1d`, `5 minutes`, `1 hour`, or EventBridge's `rate(5 minutes)`;
    /// errors point at `/rate`.
    pub fn parse(text: &str) -> Result<Rate, SpecError> {
        let err = |reason: String| SpecError::new("/rate", reason);
        let inner = text.trim();
        let inner = inner
            .strip_prefix("rate(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or(inner)
            .trim();
        let split = inner
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(inner.len());
        let (number, unit) = (&inner[..split], inner[split..].trim_start());
        let usage = "a number and a unit such as 30s, 5m, 1h, 1d or 5 minutes";
        if number.is_empty() || unit.is_empty() {
            return Err(err(format!("{text:?} is not a rate: expected {usage}")));
        }
        let unit_lower = unit.to_ascii_lowercase();
        let Some(&(_, scale)) = UNITS
            .iter()
            .find(|(names, _)| names.contains(&&*unit_lower))
        else {
            return Err(err(format!(
                "unknown unit {unit:?}: expected s, m, h or d (or seconds, minutes, hours, days)"
            )));
        };
        let seconds = number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .filter(|s| *s <= MAX_RATE_SECONDS);
        match seconds {
            Some(s) if s >= MIN_RATE_SECONDS => Ok(Rate { seconds: s }),
            Some(_) => Err(err(format!(
                "the period must be at least {MIN_RATE_SECONDS} second"
            ))),
            None => Err(err(format!(
                "the period must be at most {} days",
                MAX_RATE_SECONDS / 86_400
            ))),
        }
    }

    /// A rate of `seconds` (None outside 1 s to 366 days).
    pub fn from_seconds(seconds: i64) -> Option<Rate> {
        (MIN_RATE_SECONDS..=MAX_RATE_SECONDS)
            .contains(&seconds)
            .then_some(Rate { seconds })
    }

    /// The period in seconds.
    pub fn seconds(self) -> i64 {
        self.seconds
    }

    /// The canonical text: the largest unit that divides the period (`90s`, `5m`, `36h`, `2d`).
    pub fn to_text(self) -> String {
        let s = self.seconds;
        match UNITS.iter().rev().find(|(_, scale)| s % scale == 0) {
            Some((names, scale)) => format!("{}{}", s / scale, names[0]),
            None => format!("{s}s"),
        }
    }

    /// The first firing `anchor + k × period` (k ≥ 1) strictly after `t`.
    pub fn next_after(self, anchor: DateTime<Utc>, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let elapsed = t.signed_duration_since(anchor).num_seconds();
        // num_seconds rounds toward zero; for t ≥ anchor that is the floor, and firings are whole
        // seconds after a whole-second anchor, so "after t" is "after anchor + elapsed".
        let k = if t < anchor {
            1
        } else {
            elapsed / self.seconds + 1
        };
        let offset = k.checked_mul(self.seconds)?;
        anchor.checked_add_signed(TimeDelta::try_seconds(offset)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn secs(text: &str) -> i64 {
        Rate::parse(text).unwrap().seconds()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(secs("30s"), 30);
        assert_eq!(secs("5m"), 300);
        assert_eq!(secs("1h"), 3_600);
        assert_eq!(secs("1d"), 86_400);
        assert_eq!(secs("5 minutes"), 300);
        assert_eq!(secs("1 minute"), 60);
        assert_eq!(secs("2 Hours"), 7_200);
        assert_eq!(secs("rate(5 minutes)"), 300);
        assert_eq!(secs("rate(1 day)"), 86_400);
        assert_eq!(secs(" 10 sec "), 10);
        assert_eq!(secs("366d"), MAX_RATE_SECONDS);
    }

    #[test]
    fn refusals() {
        let reason = |s: &str| {
            let e = Rate::parse(s).unwrap_err();
            assert_eq!(e.pointer, "/rate");
            e.reason
        };
        assert!(reason("0s").contains("at least 1 second"));
        assert!(reason("367d").contains("at most 366 days"));
        assert!(reason("99999999999999999999s").contains("at most"));
        assert!(reason("5").contains("expected a number and a unit"));
        assert!(reason("m").contains("expected a number and a unit"));
        assert!(reason("-5m").contains("expected a number and a unit"));
        assert!(reason("1.5h").contains("unknown unit"));
        assert!(reason("5w").contains("unknown unit"));
        assert!(reason("").contains("not a rate"));
    }

    #[test]
    fn canonical_text() {
        for (input, text) in [
            ("90s", "90s"),
            ("300s", "5m"),
            ("36h", "36h"),
            ("48 hours", "2d"),
        ] {
            assert_eq!(Rate::parse(input).unwrap().to_text(), text);
            assert_eq!(Rate::parse(text).unwrap(), Rate::parse(input).unwrap());
        }
        assert_eq!(Rate::from_seconds(0), None);
        assert_eq!(Rate::from_seconds(60).unwrap().to_text(), "1m");
    }

    #[test]
    fn firings_count_from_the_anchor() {
        let r = Rate::parse("5m").unwrap();
        let anchor = t("2026-01-01T10:00:00Z");
        let next = |s: &str| r.next_after(anchor, t(s)).unwrap().to_rfc3339();
        assert_eq!(next("2025-06-01T00:00:00Z"), "2026-01-01T10:05:00+00:00");
        assert_eq!(next("2026-01-01T10:00:00Z"), "2026-01-01T10:05:00+00:00");
        assert_eq!(
            next("2026-01-01T10:04:59.999Z"),
            "2026-01-01T10:05:00+00:00"
        );
        assert_eq!(next("2026-01-01T10:05:00Z"), "2026-01-01T10:10:00+00:00");
        assert_eq!(next("2026-01-01T10:05:00.5Z"), "2026-01-01T10:10:00+00:00");
        assert_eq!(next("2026-03-29T01:58:00Z"), "2026-03-29T02:00:00+00:00");
        assert_eq!(next("2027-01-01T10:00:00Z"), "2027-01-01T10:05:00+00:00");
    }
}
