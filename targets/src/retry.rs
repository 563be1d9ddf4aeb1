//! When the next attempt happens: a fixed ladder of delay levels, RocketMQ's design.
//!
//! Every waiting retry sits in the FIFO of one level; all entries of a level wait the same
//! delay, so a FIFO is also due-time order and scheduling is O(1) with no priority queue, however
//! many deliveries wait. The ladder doubles from 1 s to 512 s (exponential backoff), then has a
//! few long levels used only to honour a long `Retry-After`. With the default policy (185
//! attempts), retries climb the ladder for about 17 minutes and then come every 8.5 minutes, which
//! spends the attempts over about 26 hours: the default `max_age` of 24 h ends them first, as in
//! EventBridge.
//!
//! Jitter: each retry waits its level's delay plus up to a quarter more, drawn at random, so a
//! burst of failures does not come back as a burst. Within a level the FIFO head may then be due
//! a little after an entry behind it; that entry waits at most the quarter (a bounded skew).
//!
//! `Retry-After` (seconds or an HTTP date) chooses the first level at least that long, so the next
//! attempt is never earlier than the server asked, and the backoff level is kept when it is longer.

use std::time::{Duration, SystemTime};

/// The delay of each level.
pub const LEVELS: [Duration; 14] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
    Duration::from_secs(32),
    Duration::from_secs(64),
    Duration::from_secs(128),
    Duration::from_secs(256),
    Duration::from_secs(512),
    Duration::from_secs(900),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(7200),
];

/// The highest level exponential backoff reaches (512 s).
pub const BACKOFF_TOP: usize = 9;

/// The level of the retry after `failures` failed attempts (1 = the first failed), given an
/// optional `Retry-After`.
pub fn level(failures: u32, retry_after: Option<Duration>) -> usize {
    let backoff = (failures.saturating_sub(1) as usize).min(BACKOFF_TOP);
    match retry_after {
        None => backoff,
        Some(after) => {
            let asked = LEVELS
                .iter()
                .position(|d| *d >= after)
                .unwrap_or(LEVELS.len() - 1);
            backoff.max(asked)
        }
    }
}

/// The wait at `level` with jitter: the delay plus `jitter` (0..1) times a quarter of it.
pub fn delay(level: usize, jitter: f64) -> Duration {
    let base = LEVELS[level.min(LEVELS.len() - 1)];
    base + base.mul_f64(jitter.clamp(0.0, 1.0) / 4.0)
}

/// Reads a `Retry-After` header value: delta seconds or an HTTP date (relative to `now`).
/// Dates in the past mean "now"; anything unreadable is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate(v)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn httpdate(v: &str) -> Option<SystemTime> {
    let t = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn backoff_doubles_then_stays() {
        assert_eq!(level(1, None), 0);
        assert_eq!(level(2, None), 1);
        assert_eq!(level(10, None), 9);
        assert_eq!(level(185, None), BACKOFF_TOP);
        assert_eq!(LEVELS[level(3, None)], Duration::from_secs(4));
    }

    #[test]
    fn retry_after_picks_a_level_at_least_as_long() {
        assert_eq!(
            LEVELS[level(1, Some(Duration::from_secs(2)))],
            Duration::from_secs(2)
        );
        assert_eq!(
            LEVELS[level(1, Some(Duration::from_secs(3)))],
            Duration::from_secs(4)
        );
        // The backoff wins when it is longer.
        assert_eq!(level(6, Some(Duration::from_secs(2))), 5);
        assert_eq!(
            level(1, Some(Duration::from_secs(100_000))),
            LEVELS.len() - 1
        );
    }

    #[test]
    fn jitter_adds_at_most_a_quarter() {
        assert_eq!(delay(2, 0.0), Duration::from_secs(4));
        assert_eq!(delay(2, 1.0), Duration::from_secs(5));
        assert_eq!(delay(99, 0.0), Duration::from_secs(7200));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
