//! Cron expressions: parsing, and the next matching wall-clock reading.
//!
//! This file knows nothing about time zones or daylight saving: it answers "which is the first
//! local date and time at or after this one whose fields match", over naive (wall-clock) time.
//! Turning readings into instants, where DST matters, is [`super::dst`]'s job; keeping the two
//! apart lets each be tested on its own, and the field arithmetic stays free of offsets.
//!
//! Accepted forms:
//!
//! | form | fields |
//! | --- | --- |
//! | 6 fields | `second minute hour day-of-month month day-of-week` (`0 */5 * * * *`) |
//! | 5 fields (crontab) | `minute hour day-of-month month day-of-week`, second 0 |
//! | `cron(…)` (EventBridge) | `minute hour day-of-month month day-of-week year`, second 0, day-of-week `1-7` = `SUN-SAT`, year 1970-2199 |
//! | macros | `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly` |
//!
//! Each field is a comma-separated list of items: `*`, a value, a range `a-b`, each optionally
//! followed by a step `/n`; `a/n` means `a-max/n`. Months take `JAN`-`DEC` and days of the week
//! `SUN`-`SAT` (case-insensitive), also in ranges. Day of week `0` and `7` are both Sunday (in the
//! crontab forms). `?` means `*` and is allowed in the two day fields only. EventBridge's `L`, `W`
//! and `#` are refused with a reason rather than misread.
//!
//! Day-of-month and day-of-week combine as in Vixie cron (and cronie): when either field begins with
//! `*` (or is `?`), a day must match both (in practice the other one); when both are restricted, a
//! day matching either fires. Like Vixie, `*/2` counts as beginning with `*`, so `0 0 */2 * MON`
//! means odd days that are Mondays, not odd days or Mondays.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::SpecError;

/// The JSON pointer of every cron error.
const POINTER: &str = "/cron";

/// The years the EventBridge form's year field accepts (as EventBridge documents).
const YEAR_MIN: i32 = 1970;
const YEAR_MAX: i32 = 2199;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// The expression as written (trimmed): what the public JSON shows.
    text: String,
    seconds: u64,
    minutes: u64,
    hours: u64,
    /// Bits 1-31.
    days: u64,
    /// Bits 1-12.
    months: u64,
    /// Bits 0-6, Sunday = 0.
    weekdays: u64,
    /// The day-of-month field begins with `*` or is `?` (Vixie's DOM_STAR).
    days_star: bool,
    /// The day-of-week field begins with `*` or is `?` (Vixie's DOW_STAR).
    weekdays_star: bool,
    /// Allowed years (bit `y - 1970`), only in the EventBridge form.
    years: Option<[u64; 4]>,
}

/// How one field is read.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names and their values in this field's numbering.
    names: &'static [(&'static str, u32)],
    /// `?` is allowed.
    question: bool,
}

const MONTH_NAMES: [(&str, u32); 12] = [
    ("JAN", 1),
    ("FEB", 2),
    ("MAR", 3),
    ("APR", 4),
    ("MAY", 5),
    ("JUN", 6),
    ("JUL", 7),
    ("AUG", 8),
    ("SEP", 9),
    ("OCT", 10),
    ("NOV", 11),
    ("DEC", 12),
];
const DAY_NAMES: [(&str, u32); 7] = [
    ("SUN", 0),
    ("MON", 1),
    ("TUE", 2),
    ("WED", 3),
    ("THU", 4),
    ("FRI", 5),
    ("SAT", 6),
];
/// EventBridge numbers the days of the week 1 (SUN) to 7 (SAT).
const DAY_NAMES_EB: [(&str, u32); 7] = [
    ("SUN", 1),
    ("MON", 2),
    ("TUE", 3),
    ("WED", 4),
    ("THU", 5),
    ("FRI", 6),
    ("SAT", 7),
];

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    question: false,
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    question: false,
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    question: false,
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    question: true,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
    question: false,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &DAY_NAMES,
    question: true,
};
const DAY_OF_WEEK_EB: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &DAY_NAMES_EB,
    question: true,
};
const YEAR: Field = Field {
    name: "year",
    min: YEAR_MIN as u32,
    max: YEAR_MAX as u32,
    names: &[],
    question: false,
};

impl Cron {
    /// Parses an expression in one of the forms of the module docs; errors point at `/cron`.
    pub fn parse(text: &str) -> Result<Cron, SpecError> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 0 1 1 *",
            "@monthly" => "0 0 0 1 * *",
            "@weekly" => "0 0 0 * * SUN",
            "@daily" | "@midnight" => "0 0 0 * * *",
            "@hourly" => "0 0 * * * *",
            t if t.starts_with('@') => {
                return Err(err(format!(
                    "unknown macro {t:?} (expected @yearly, @annually, @monthly, @weekly, @daily, \
                     @midnight or @hourly)"
                )));
            }
            t => t,
        };
        let mut cron = if let Some(inner) = expanded
            .strip_prefix("cron(")
            .and_then(|s| s.strip_suffix(')'))
        {
            Self::parse_eventbridge(inner)?
        } else {
            Self::parse_crontab(expanded)?
        };
        cron.text = text.to_owned();
        cron.check_possible()?;
        Ok(cron)
    }

    fn parse_crontab(text: &str) -> Result<Cron, SpecError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            6 => (fields[0], &fields[1..]),
            5 => ("0", &fields[..]),
            n => {
                return Err(err(format!(
                    "expected 6 fields (second minute hour day-of-month month day-of-week), 5 \
                     crontab fields (minute hour day-of-month month day-of-week) or cron(minute \
                     hour day-of-month month day-of-week year); found {n}"
                )));
            }
        };
        let (days, days_star) = parse_field(rest[2], &DAY_OF_MONTH)?;
        let (weekdays, weekdays_star) = parse_field(rest[4], &DAY_OF_WEEK)?;
        // Sunday is both 0 and 7.
        let weekdays = (weekdays & 0x7f) | ((weekdays >> 7) & 1);
        Ok(Cron {
            text: String::new(),
            seconds: parse_field(second, &SECOND)?.0,
            minutes: parse_field(rest[0], &MINUTE)?.0,
            hours: parse_field(rest[1], &HOUR)?.0,
            days,
            days_star,
            months: parse_field(rest[3], &MONTH)?.0,
            weekdays,
            weekdays_star,
            years: None,
        })
    }

    fn parse_eventbridge(inner: &str) -> Result<Cron, SpecError> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(err(format!(
                "cron(…) takes 6 fields (minute hour day-of-month month day-of-week year); found {}",
                fields.len()
            )));
        }
        let (days, days_star) = parse_field(fields[2], &DAY_OF_MONTH)?;
        let (weekdays, weekdays_star) = parse_field(fields[4], &DAY_OF_WEEK_EB)?;
        let (years, _) = parse_years(fields[5])?;
        Ok(Cron {
            text: String::new(),
            seconds: 1,
            minutes: parse_field(fields[0], &MINUTE)?.0,
            hours: parse_field(fields[1], &HOUR)?.0,
            days,
            days_star,
            months: parse_field(fields[3], &MONTH)?.0,
            // 1-7 → 0-6.
            weekdays: weekdays >> 1,
            weekdays_star,
            years: Some(years),
        })
    }

    /// Refuses day/month combinations that can never occur (`0 0 0 30 FEB *`), which would
    /// otherwise be a schedule that silently never fires.
    fn check_possible(&self) -> Result<(), SpecError> {
        // When both day fields are restricted they are or-ed, and every month has every day of
        // the week. Otherwise both must match; every date falls on every day of the week in some
        // year, so only the day of the month against the months can make it impossible.
        if !(self.days_star || self.weekdays_star) {
            return Ok(());
        }
        let possible = (1..=12u32)
            .filter(|m| self.months >> m & 1 == 1)
            .any(|m| self.days & ((1u64 << (max_days(m) + 1)) - 2) != 0);
        if possible {
            Ok(())
        } else {
            Err(err(
                "never matches: no selected day of the month occurs in a selected month",
            ))
        }
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the hour field selects all 24 hours: such an expression describes a pattern
    /// within every hour, and [`super::dst`] lets it fire in both passes of a repeated hour.
    pub fn every_hour(&self) -> bool {
        self.hours == (1 << 24) - 1
    }

    /// Whether the day of `date` matches (day of month, month's day of week, Vixie combination).
    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days >> date.day() & 1 == 1;
        let dow = self.weekdays >> date.weekday().num_days_from_sunday() & 1 == 1;
        if self.days_star || self.weekdays_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn year_allowed(&self, year: i32) -> bool {
        match &self.years {
            None => true,
            Some(bits) => year_bit(bits, year),
        }
    }

    /// The first reading at or after `from` (whole seconds; a fraction of `from` is dropped) that
    /// matches every field, looking no further than the end of `last_year`.
    pub fn next_match(&self, from: NaiveDateTime, last_year: i32) -> Option<NaiveDateTime> {
        let last_year = match self.years {
            Some(_) => last_year.min(YEAR_MAX),
            None => last_year,
        };
        let (mut y, mut mo, mut d) = (from.year(), from.month(), from.day());
        let (mut h, mut mi, mut s) = (from.hour(), from.minute(), from.second());
        loop {
            if y > last_year {
                return None;
            }
            if !self.year_allowed(y) {
                (y, mo, d, h, mi, s) = (y + 1, 1, 1, 0, 0, 0);
                continue;
            }
            match next_bit(self.months, mo) {
                Some(m) if m == mo => {}
                Some(m) => (mo, d, h, mi, s) = (m, 1, 0, 0, 0),
                None => {
                    (y, mo, d, h, mi, s) = (y + 1, 1, 1, 0, 0, 0);
                    continue;
                }
            }
            let first_day = NaiveDate::from_ymd_opt(y, mo, 1)?;
            let last_day = days_in_month(y, mo);
            match (d..=last_day).find(|&dd| {
                first_day
                    .with_day(dd)
                    .is_some_and(|date| self.day_matches(date))
            }) {
                Some(dd) if dd == d => {}
                Some(dd) => (d, h, mi, s) = (dd, 0, 0, 0),
                None => {
                    (mo, d, h, mi, s) = (mo + 1, 1, 0, 0, 0);
                    continue;
                }
            }
            match next_bit(self.hours, h) {
                Some(x) if x == h => {}
                Some(x) => (h, mi, s) = (x, 0, 0),
                None => {
                    (d, h, mi, s) = (d + 1, 0, 0, 0);
                    continue;
                }
            }
            match next_bit(self.minutes, mi) {
                Some(x) if x == mi => {}
                Some(x) => (mi, s) = (x, 0),
                None => {
                    (h, mi, s) = (h + 1, 0, 0);
                    continue;
                }
            }
            match next_bit(self.seconds, s) {
                Some(x) => s = x,
                None => {
                    (mi, s) = (mi + 1, 0);
                    continue;
                }
            }
            return first_day.with_day(d)?.and_hms_opt(h, mi, s);
        }
    }
}

fn err(reason: impl Into<String>) -> SpecError {
    SpecError::new(POINTER, reason)
}

/// The lowest set bit at or above `from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = bits >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

fn year_bit(bits: &[u64; 4], year: i32) -> bool {
    let Ok(i) = usize::try_from(year - YEAR_MIN) else {
        return false;
    };
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

/// The most days a month can have (February: 29).
fn max_days(month: u32) -> u32 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if !leap => 28,
        m => max_days(m),
    }
}

/// Parses one field into a bit set of its values, and whether it begins with `*` or is `?`.
fn parse_field(text: &str, field: &Field) -> Result<(u64, bool), SpecError> {
    let mut bits = 0u64;
    for_each_value(text, field, |v| bits |= 1 << v)?;
    Ok((bits, text.starts_with('*') || text == "?"))
}

/// The EventBridge year field, as bits over 1970-2199.
fn parse_years(text: &str) -> Result<([u64; 4], bool), SpecError> {
    let mut bits = [0u64; 4];
    for_each_value(text, &YEAR, |v| {
        let i = (v - YEAR.min) as usize;
        if let Some(w) = bits.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    })?;
    Ok((bits, text.starts_with('*')))
}

/// Calls `set` with every value the field selects (in the field's own numbering).
fn for_each_value(text: &str, field: &Field, mut set: impl FnMut(u32)) -> Result<(), SpecError> {
    let name = field.name;
    if text == "?" {
        if !field.question {
            return Err(err(format!(
                "{name}: '?' is only allowed in day-of-month and day-of-week"
            )));
        }
        (field.min..=field.max).for_each(set);
        return Ok(());
    }
    for item in text.split(',') {
        if item.is_empty() {
            return Err(err(format!("{name}: empty item in the list {text:?}")));
        }
        if let Some(c) = item.chars().find(|c| matches!(c, 'L' | 'W' | '#')) {
            let named = field.names.iter().any(|(n, _)| n.contains(c));
            if !named || item.contains('#') {
                return Err(err(format!(
                    "{name}: {c:?} (last / weekday / nth) is not supported in {item:?}"
                )));
            }
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| {
                    err(format!(
                        "{name}: step {s:?} in {item:?} is not a whole number"
                    ))
                })?;
                if step == 0 {
                    return Err(err(format!("{name}: step in {item:?} must be at least 1")));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a, field)?, value(b, field)?);
            if a > b {
                return Err(err(format!(
                    "{name}: range {range:?} goes backwards (write it as two ranges)"
                )));
            }
            (a, b)
        } else {
            let a = value(range, field)?;
            // `a/n` runs from a to the end of the field; a lone value is just itself.
            (a, if item.contains('/') { field.max } else { a })
        };
        (lo..=hi).step_by(step as usize).for_each(&mut set);
    }
    Ok(())
}

/// One value: a number in range or a name.
fn value(text: &str, field: &Field) -> Result<u32, SpecError> {
    let name = field.name;
    if text.is_empty() {
        return Err(err(format!("{name}: a value is missing")));
    }
    let v = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().ok()
    } else {
        let upper = text.to_ascii_uppercase();
        match field.names.iter().find(|(n, _)| *n == upper) {
            Some(&(_, v)) => Some(v),
            None if field.names.is_empty() => {
                return Err(err(format!("{name}: {text:?} is not a number")));
            }
            None => {
                let names: Vec<&str> = field.names.iter().map(|(n, _)| *n).collect();
                return Err(err(format!(
                    "{name}: {text:?} is neither a number nor one of {}",
                    names.join(", ")
                )));
            }
        }
    };
    match v {
        Some(v) if (field.min..=field.max).contains(&v) => Ok(v),
        _ => Err(err(format!(
            "{name}: {text} is out of range {}-{}",
            field.min, field.max
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn next(expr: &str, from: &str) -> String {
        Cron::parse(expr)
            .unwrap()
            .next_match(at(from), 2400)
            .map_or("none".into(), |t| {
                t.format("%Y-%m-%d %H:%M:%S %a").to_string()
            })
    }

    fn reason(expr: &str) -> String {
        let e = Cron::parse(expr).unwrap_err();
        assert_eq!(e.pointer, "/cron");
        e.reason
    }

    #[test]
    fn wildcards_values_lists_ranges_steps() {
        assert_eq!(
            next("* * * * * *", "2026-01-01 00:00:00"),
            "2026-01-01 00:00:00 Thu"
        );
        assert_eq!(
            next("0 */5 * * * *", "2026-01-01 00:00:01"),
            "2026-01-01 00:05:00 Thu"
        );
        assert_eq!(
            next("0 */5 * * * *", "2026-01-01 23:56:00"),
            "2026-01-02 00:00:00 Fri"
        );
        assert_eq!(
            next("30 15 10 * * *", "2026-01-01 10:15:31"),
            "2026-01-02 10:15:30 Fri"
        );
        assert_eq!(
            next("0 0 9,17 * * *", "2026-01-01 10:00:00"),
            "2026-01-01 17:00:00 Thu"
        );
        assert_eq!(
            next("0 0 9-11 * * *", "2026-01-01 11:00:01"),
            "2026-01-02 09:00:00 Fri"
        );
        assert_eq!(
            next("0 10-50/20 * * * *", "2026-01-01 00:31:00"),
            "2026-01-01 00:50:00 Thu"
        );
        assert_eq!(
            next("0 15/20 * * * *", "2026-01-01 00:36:00"),
            "2026-01-01 00:55:00 Thu"
        );
        assert_eq!(
            next("0 1,2,40-42/2 * * * *", "2026-01-01 00:03:00"),
            "2026-01-01 00:40:00 Thu"
        );
        assert_eq!(
            next("0 0 0 * * *", "2026-01-01 00:00:00"),
            "2026-01-01 00:00:00 Thu"
        );
    }

    #[test]
    fn five_fields_mean_second_zero() {
        assert_eq!(
            next("*/15 * * * *", "2026-01-01 00:00:01"),
            "2026-01-01 00:15:00 Thu"
        );
        assert_eq!(
            next("0 12 * * MON-FRI", "2026-01-02 12:00:01"),
            "2026-01-05 12:00:00 Mon"
        );
    }

    #[test]
    fn names_are_case_insensitive_and_sunday_is_0_and_7() {
        assert_eq!(
            next("0 0 0 * jan,Mar *", "2026-02-01 00:00:00"),
            "2026-03-01 00:00:00 Sun"
        );
        assert_eq!(
            next("0 0 0 * * SAT", "2026-01-01 00:00:00"),
            "2026-01-03 00:00:00 Sat"
        );
        assert_eq!(
            next("0 0 0 * * 7", "2026-01-01 00:00:00"),
            "2026-01-04 00:00:00 Sun"
        );
        assert_eq!(
            next("0 0 0 * * 0", "2026-01-01 00:00:00"),
            "2026-01-04 00:00:00 Sun"
        );
        assert_eq!(
            next("0 0 0 * * 5-7", "2026-01-03 00:00:01"),
            "2026-01-04 00:00:00 Sun"
        );
        assert_eq!(
            next("0 0 0 * * fri-sat", "2026-01-03 00:00:01"),
            "2026-01-09 00:00:00 Fri"
        );
        assert_eq!(
            next("0 0 0 ? * WED", "2026-01-01 00:00:00"),
            "2026-01-07 00:00:00 Wed"
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_combine_as_in_vixie_cron() {
        // Both restricted: either matches (the 13th, or any Friday).
        assert_eq!(
            next("0 0 0 13 * FRI", "2026-01-01 00:00:00"),
            "2026-01-02 00:00:00 Fri"
        );
        assert_eq!(
            next("0 0 0 13 * FRI", "2026-01-10 00:00:00"),
            "2026-01-13 00:00:00 Tue"
        );
        // Day of month `*`: the day of week decides.
        assert_eq!(
            next("0 0 0 * * FRI", "2026-01-10 00:00:00"),
            "2026-01-16 00:00:00 Fri"
        );
        // A stepped `*` counts as unrestricted: both must match (odd days that are Mondays).
        assert_eq!(
            next("0 0 0 */2 * MON", "2026-01-01 00:00:00"),
            "2026-01-05 00:00:00 Mon"
        );
        assert_eq!(
            next("0 0 0 */2 * MON", "2026-01-06 00:00:00"),
            "2026-01-19 00:00:00 Mon"
        );
    }

    #[test]
    fn month_ends_and_leap_years() {
        assert_eq!(
            next("0 0 0 31 * *", "2026-04-01 00:00:00"),
            "2026-05-31 00:00:00 Sun"
        );
        assert_eq!(
            next("0 0 0 30 * *", "2026-01-31 00:00:00"),
            "2026-03-30 00:00:00 Mon"
        );
        assert_eq!(
            next("0 0 0 29 2 *", "2026-01-01 00:00:00"),
            "2028-02-29 00:00:00 Tue"
        );
        assert_eq!(
            next("0 0 0 29 2 *", "2096-03-01 00:00:00"),
            "2104-02-29 00:00:00 Fri"
        );
        assert_eq!(
            next("0 0 0 29 2 *", "2000-01-01 00:00:00"),
            "2000-02-29 00:00:00 Tue"
        );
        assert_eq!(
            next("59 59 23 31 12 *", "2026-12-31 23:59:59"),
            "2026-12-31 23:59:59 Thu"
        );
        assert_eq!(
            next("0 0 0 1 1 *", "2026-12-31 23:59:59"),
            "2027-01-01 00:00:00 Fri"
        );
        assert_eq!(
            next("0 0 0 * * *", "2028-02-28 00:00:01"),
            "2028-02-29 00:00:00 Tue"
        );
        assert_eq!(next("0 0 0 29 2 *", "2400-03-01 00:00:00"), "none");
    }

    #[test]
    fn macros() {
        assert_eq!(
            next("@hourly", "2026-01-01 00:00:01"),
            "2026-01-01 01:00:00 Thu"
        );
        assert_eq!(
            next("@daily", "2026-01-01 00:00:01"),
            "2026-01-02 00:00:00 Fri"
        );
        assert_eq!(
            next("@weekly", "2026-01-01 00:00:01"),
            "2026-01-04 00:00:00 Sun"
        );
        assert_eq!(
            next("@monthly", "2026-01-01 00:00:01"),
            "2026-02-01 00:00:00 Sun"
        );
        assert_eq!(
            next("@annually", "2026-01-01 00:00:01"),
            "2027-01-01 00:00:00 Fri"
        );
        assert!(reason("@often").contains("unknown macro"));
    }

    #[test]
    fn eventbridge_form() {
        // 10:15 every Monday to Friday (EventBridge numbers SUN=1 … SAT=7).
        assert_eq!(
            next("cron(15 10 ? * 2-6 *)", "2026-01-03 00:00:00"),
            "2026-01-05 10:15:00 Mon"
        );
        assert_eq!(
            next("cron(15 10 ? * MON-FRI *)", "2026-01-03 00:00:00"),
            "2026-01-05 10:15:00 Mon"
        );
        assert_eq!(
            next("cron(0 12 1 * ? 2027)", "2026-03-01 00:00:00"),
            "2027-01-01 12:00:00 Fri"
        );
        assert_eq!(
            next("cron(0 12 1 * ? 2026-2027)", "2027-12-01 12:00:01"),
            "none"
        );
        assert_eq!(
            next("cron(0/30 * * * ? *)", "2026-01-01 00:00:01"),
            "2026-01-01 00:30:00 Thu"
        );
        assert!(reason("cron(0 12 L * ? *)").contains("not supported"));
        assert!(reason("cron(0 12 ? * 6#3 *)").contains("not supported"));
        assert!(reason("cron(0 12 1 * ? 1969)").contains("out of range 1970-2199"));
        assert!(reason("cron(0 12 1 * ?)").contains("6 fields"));
        assert!(reason("cron(0 12 ? * 0 *)").contains("out of range 1-7"));
    }

    #[test]
    fn every_hour_is_about_the_hour_field() {
        assert!(Cron::parse("0 */5 * * * *").unwrap().every_hour());
        assert!(Cron::parse("0 30 0-23 * * *").unwrap().every_hour());
        assert!(!Cron::parse("0 30 */2 * * *").unwrap().every_hour());
        assert!(!Cron::parse("@daily").unwrap().every_hour());
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        assert!(reason("* * * *").contains("found 4"));
        assert!(reason("* * * * * * *").contains("found 7"));
        assert_eq!(reason("60 * * * * *"), "second: 60 is out of range 0-59");
        assert_eq!(reason("0 60 * * * *"), "minute: 60 is out of range 0-59");
        assert_eq!(reason("0 0 24 * * *"), "hour: 24 is out of range 0-23");
        assert_eq!(
            reason("0 0 0 0 * *"),
            "day-of-month: 0 is out of range 1-31"
        );
        assert_eq!(reason("0 0 0 * 13 *"), "month: 13 is out of range 1-12");
        assert_eq!(reason("0 0 0 * * 8"), "day-of-week: 8 is out of range 0-7");
        assert!(reason("0 0 0 * FOO *").contains("neither a number nor one of JAN"));
        assert!(reason("0 x * * * *").contains("\"x\" is not a number"));
        assert!(reason("0 */0 * * * *").contains("at least 1"));
        assert!(reason("0 */a * * * *").contains("not a whole number"));
        assert!(reason("0 5-1 * * * *").contains("goes backwards"));
        assert!(reason("0 1,,2 * * * *").contains("empty item"));
        assert!(reason("0 1- * * * *").contains("a value is missing"));
        assert!(reason("? * * * * *").contains("only allowed in day-of-month"));
        assert!(reason("0 0 0 30 FEB *").contains("never matches"));
        assert!(reason("0 0 0 31 4,6,9,11 *").contains("never matches"));
        // Possible once or-ed with a day of the week, or in some selected month.
        assert!(Cron::parse("0 0 0 30 FEB MON").is_ok());
        assert!(Cron::parse("0 0 0 31 4,5 *").is_ok());
        assert!(Cron::parse("0 0 0 29 2 *").is_ok());
    }
}
