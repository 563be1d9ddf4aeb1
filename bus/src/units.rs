//! Human units for settings: byte sizes (`1MiB`, `512KiB`, `10GB`, `4096`) and durations
//! (`500ms`, `30s`, `7d`).
//!
//! Settings carry their unit in the string (`flush: "500ms"`, never `flush_ms: 500`), so a reader of
//! a config file never has to guess. Both parsers are shared by the server config, the REST API and
//! the load tool, so the same string means the same thing everywhere.

use std::time::Duration;

/// A unit string that could not be understood; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a {what}: {reason}")]
pub struct UnitError {
    /// The text that was given.
    pub input: String,
    /// What was expected ("byte size", "duration").
    pub what: &'static str,
    /// Why it was refused.
    pub reason: String,
}

/// Parses a byte size: a non-negative integer with an optional unit `B`, `KB`/`MB`/`GB`/`TB`
/// (powers of 1000) or `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024), case-insensitive, an optional
/// space between number and unit.
pub fn parse_bytes(input: &str) -> Result<u64, UnitError> {
    let err = |reason: &str| UnitError {
        input: input.to_owned(),
        what: "byte size",
        reason: reason.to_owned(),
    };
    let s = input.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err(err("expected a number such as 1MiB, 512KiB or 4096"));
    }
    let n: u64 = digits.parse().map_err(|_| err("number out of range"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(err(
                "unknown unit; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB",
            ));
        }
    };
    n.checked_mul(mult).ok_or_else(|| err("value out of range"))
}

/// Formats a byte count in the largest binary unit that divides it exactly (`1048576` → `1MiB`).
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, name) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{}{}", n / size, name);
        }
    }
    format!("{n}B")
}

/// Parses a duration such as `500ms`, `30s`, `5m`, `2h`, `7d` or `1h 30m` (humantime syntax).
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    humantime::parse_duration(input.trim()).map_err(|e| UnitError {
        input: input.to_owned(),
        what: "duration",
        reason: format!("{e}; use a number with a unit such as 500ms, 30s, 5m, 2h or 7d"),
    })
}

/// Formats a duration the way [`parse_duration`] reads it back.
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string().replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_parse_binary_and_decimal_units() {
        assert_eq!(parse_bytes("1KiB"), Ok(1024));
        assert_eq!(parse_bytes("1 MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("10mb"), Ok(10_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("MiB").is_err());
        assert!(parse_bytes("1.5MiB").is_err());
        assert!(parse_bytes("1XB").is_err());
        assert!(parse_bytes("99999999999999999999").is_err());
    }

    #[test]
    fn bytes_format_round_trips() {
        for n in [0, 1, 1024, 1 << 20, 3 << 30, 1000] {
            assert_eq!(parse_bytes(&format_bytes(n)), Ok(n));
        }
    }

    #[test]
    fn durations_parse_and_round_trip() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("soon").is_err());
        let d = Duration::from_secs(5400);
        assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }
}
