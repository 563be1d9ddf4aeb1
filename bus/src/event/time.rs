//! RFC 3339 `date-time` check for the `time` attribute.
//!
//! The attribute is stored exactly as the producer sent it (never re-formatted: a consumer that
//! signs or hashes the event must see the same bytes), so all that is needed here is a yes/no with a
//! precise reason. A hand-written check is used rather than chrono's parser because chrono accepts
//! a space for the `T` separator and other RFC 3339 variants that CloudEvents' JSON format does not
//! allow, and because the reason must name the part that is wrong.
//!
//! Accepted: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `t`/`z` in either case (RFC 3339 §5.6 note),
//! day checked against the month and leap years, second 60 allowed (leap second).

use std::fmt;

/// Why a string is not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(String);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimeError {}

/// Checks that `s` is an RFC 3339 `date-time`.
pub fn check(s: &str) -> Result<(), TimeError> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4, "year")?;
    sep(b, 4, b'-', "'-' after the year")?;
    let month = digits(b, 5, 2, "month")?;
    if !(1..=12).contains(&month) {
        return Err(TimeError(format!("month {month:02} is out of range 01-12")));
    }
    sep(b, 7, b'-', "'-' after the month")?;
    let day = digits(b, 8, 2, "day")?;
    let max_day = days_in_month(year, month);
    if day < 1 || day > max_day {
        return Err(TimeError(format!(
            "day {day:02} is out of range 01-{max_day:02} for {year:04}-{month:02}"
        )));
    }
    match b.get(10) {
        Some(b'T' | b't') => {}
        Some(b' ') => {
            return Err(TimeError(
                "expected 'T' between date and time at index 10, found a space".into(),
            ));
        }
        Some(_) => {
            return Err(TimeError(
                "expected 'T' between date and time at index 10".into(),
            ));
        }
        None => {
            return Err(TimeError(
                "has a date but no time (expected e.g. 2018-04-05T17:31:00Z)".into(),
            ));
        }
    }
    let hour = digits(b, 11, 2, "hour")?;
    if hour > 23 {
        return Err(TimeError(format!("hour {hour:02} is out of range 00-23")));
    }
    sep(b, 13, b':', "':' after the hour")?;
    let minute = digits(b, 14, 2, "minute")?;
    if minute > 59 {
        return Err(TimeError(format!(
            "minute {minute:02} is out of range 00-59"
        )));
    }
    sep(b, 16, b':', "':' after the minute")?;
    let second = digits(b, 17, 2, "second")?;
    if second > 60 {
        return Err(TimeError(format!(
            "second {second:02} is out of range 00-60"
        )));
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(TimeError(format!(
                "expected digits after the decimal point at index {i}"
            )));
        }
        i += 1 + n;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i += 1,
        Some(b'+' | b'-') => {
            let oh = digits(b, i + 1, 2, "offset hour")?;
            if oh > 23 {
                return Err(TimeError(format!(
                    "offset hour {oh:02} is out of range 00-23"
                )));
            }
            sep(b, i + 3, b':', "':' in the offset (±HH:MM)")?;
            let om = digits(b, i + 4, 2, "offset minute")?;
            if om > 59 {
                return Err(TimeError(format!(
                    "offset minute {om:02} is out of range 00-59"
                )));
            }
            i += 6;
        }
        _ => {
            return Err(TimeError(format!(
                "expected a UTC offset ('Z' or ±HH:MM) at index {i}"
            )));
        }
    }
    if i != b.len() {
        return Err(TimeError(format!(
            "unexpected characters after the offset at index {i}"
        )));
    }
    Ok(())
}

fn digits(b: &[u8], at: usize, n: usize, what: &str) -> Result<u32, TimeError> {
    let Some(part) = b.get(at..at + n) else {
        return Err(TimeError(format!(
            "expected {n} digits for the {what} at index {at}"
        )));
    };
    let mut v = 0u32;
    for &c in part {
        if !c.is_ascii_digit() {
            return Err(TimeError(format!(
                "expected {n} digits for the {what} at index {at}"
            )));
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Ok(v)
}

fn sep(b: &[u8], at: usize, want: u8, what: &str) -> Result<(), TimeError> {
    if b.get(at) == Some(&want) {
        Ok(())
    } else {
        Err(TimeError(format!("expected {what} at index {at}")))
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        for s in [
            "2018-04-05T17:31:00Z",
            "2018-04-05T17:31:00.123456+02:00",
            "2018-04-05t17:31:00z",
            "2018-04-05T17:31:00-00:00",
            "2020-02-29T00:00:00Z",
            "2000-02-29T23:59:60.5Z",
            "1985-04-12T23:20:50.52Z",
            "0001-01-01T00:00:00+23:59",
        ] {
            assert_eq!(check(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn invalid() {
        let cases = [
            (
                "2018-04-05 17:31:00Z",
                "expected 'T' between date and time at index 10, found a space",
            ),
            (
                "2018-04-05T17:31:00",
                "expected a UTC offset ('Z' or ±HH:MM) at index 19",
            ),
            ("2018-13-05T17:31:00Z", "month 13 is out of range 01-12"),
            ("2018-00-05T17:31:00Z", "month 00 is out of range 01-12"),
            (
                "2019-02-29T17:31:00Z",
                "day 29 is out of range 01-28 for 2019-02",
            ),
            (
                "1900-02-29T17:31:00Z",
                "day 29 is out of range 01-28 for 1900-02",
            ),
            (
                "2018-04-31T17:31:00Z",
                "day 31 is out of range 01-30 for 2018-04",
            ),
            ("2018-04-05T24:00:00Z", "hour 24 is out of range 00-23"),
            ("2018-04-05T17:60:00Z", "minute 60 is out of range 00-59"),
            ("2018-04-05T17:31:61Z", "second 61 is out of range 00-60"),
            (
                "2018-04-05T17:31:00.Z",
                "expected digits after the decimal point at index 19",
            ),
            (
                "2018-04-05T17:31:00+0200",
                "expected ':' in the offset (±HH:MM) at index 22",
            ),
            (
                "2018-04-05T17:31:00+24:00",
                "offset hour 24 is out of range 00-23",
            ),
            (
                "2018-04-05T17:31:00Zx",
                "unexpected characters after the offset at index 20",
            ),
            (
                "2018-04-05",
                "has a date but no time (expected e.g. 2018-04-05T17:31:00Z)",
            ),
            (
                "18-04-05T17:31:00Z",
                "expected 4 digits for the year at index 0",
            ),
            (
                "2018/04-05T17:31:00Z",
                "expected '-' after the year at index 4",
            ),
            ("", "expected 4 digits for the year at index 0"),
            (
                "2018-4-05T17:31:00Z",
                "expected 2 digits for the month at index 5",
            ),
            (
                "2018-04-05T17:31Z",
                "expected ':' after the minute at index 16",
            ),
        ];
        for (s, msg) in cases {
            assert_eq!(check(s), Err(TimeError(msg.into())), "{s}");
        }
    }
}
