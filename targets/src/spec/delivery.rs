//! The delivery policy members every target kind shares: `timeout`, `max_in_flight`,
//! `rate_limit`, `retry` and `ordering_key`.
//!
//! Durations are strings with units (`"10s"`, `"24h"`), never bare numbers: a unit-less number
//! is a question nobody should have to ask.

use std::time::Duration;

use serde_json::Value;

use super::SpecError;
use super::read::{Obj, kind_of};

/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default concurrent attempts per target.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 64;
/// Upper bound of `max_in_flight`.
pub const MAX_IN_FLIGHT: u64 = 4096;
/// EventBridge's default: 185 attempts.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 185;
/// EventBridge's default maximum event age.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// How a target's deliveries are paced and retried.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySpec {
    /// Per attempt, connection included.
    pub timeout: Duration,
    /// Attempts in flight at once.
    pub max_in_flight: usize,
    /// Attempts started per second, if limited.
    pub rate_limit: Option<RateLimit>,
    /// When to give up.
    pub retry: RetryPolicy,
    /// FIFO per key: one delivery in flight per key, in sequence order.
    pub ordering_key: Option<OrderingKey>,
}

impl Default for DeliverySpec {
    fn default() -> DeliverySpec {
        DeliverySpec {
            timeout: DEFAULT_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT as usize,
            rate_limit: None,
            retry: RetryPolicy::default(),
            ordering_key: None,
        }
    }
}

/// A rate: `count` per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Attempts per period.
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl RateLimit {
    /// The spacing between attempts at this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }

    /// Parses `"300/s"`, `"20/m"`, `"1000/h"` or `"5/10s"`.
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        let (count, per) = text.split_once('/').ok_or_else(|| {
            format!("{text:?} is not a rate; write it as \"300/s\" (also /m, /h, /10s)")
        })?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("{text:?}: the count is a whole number above zero"))?;
        let per = match per.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            other => humantime::parse_duration(other)
                .map_err(|e| format!("{text:?}: the period {other:?} is not a duration ({e})"))?,
        };
        if per.is_zero() || per > Duration::from_secs(86_400) {
            return Err(format!(
                "{text:?}: the period is above zero and at most a day"
            ));
        }
        Ok(RateLimit { count, per })
    }
}

/// When to stop retrying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// No attempt starts once the event is older than this (from its ingestion).
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// What the FIFO key of an event is.
#[derive(Debug, Clone)]
pub enum OrderingKey {
    /// A context attribute or extension by name (`subject`, `partitionkey`).
    Attribute(String),
    /// A JSONPath into the structured event (`$.data.customer`): its first node.
    Path(rules::JsonPath),
}

impl PartialEq for OrderingKey {
    fn eq(&self, other: &OrderingKey) -> bool {
        match (self, other) {
            (OrderingKey::Attribute(a), OrderingKey::Attribute(b)) => a == b,
            (OrderingKey::Path(a), OrderingKey::Path(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl OrderingKey {
    /// The key of an event (its structured JSON), as text; `None` when the event has none
    /// (such events are not ordered).
    pub fn of(&self, event: &Value) -> Option<String> {
        let v = match self {
            OrderingKey::Attribute(name) => event.get(name)?,
            OrderingKey::Path(path) => path.select(event).to_vec().into_iter().next()?,
        };
        match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

fn duration(obj: &mut Obj, name: &str, max: Duration) -> Result<Option<Duration>, SpecError> {
    let at = obj.ptr(name);
    match obj.take(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let d = humantime::parse_duration(&s).map_err(|e| {
                SpecError::new(
                    &at,
                    format!("{s:?} is not a duration such as \"10s\" ({e})"),
                )
            })?;
            if d.is_zero() || d > max {
                return Err(SpecError::new(
                    &at,
                    format!(
                        "{s:?} is out of range: above zero and at most {}",
                        humantime::format_duration(max)
                    ),
                ));
            }
            Ok(Some(d))
        }
        Some(other) => Err(SpecError::new(
            &at,
            format!(
                "is {}; a duration string such as \"10s\" was expected",
                kind_of(&other)
            ),
        )),
    }
}

/// Takes the delivery members out of a target object.
pub(super) fn parse(obj: &mut Obj) -> Result<DeliverySpec, SpecError> {
    let mut spec = DeliverySpec::default();
    if let Some(t) = duration(obj, "timeout", Duration::from_secs(300))? {
        spec.timeout = t;
    }
    if let Some(n) = obj.opt_count("max_in_flight", MAX_IN_FLIGHT)? {
        spec.max_in_flight = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(r) = obj.opt_str("rate_limit")? {
        spec.rate_limit =
            Some(RateLimit::parse(&r).map_err(|e| SpecError::new(obj.ptr("rate_limit"), e))?);
    }
    if let Some(mut retry) = obj.opt_obj("retry")? {
        if let Some(n) = retry.opt_count("max_attempts", 10_000)? {
            spec.retry.max_attempts = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(d) = duration(&mut retry, "max_age", Duration::from_secs(7 * 86_400))? {
            spec.retry.max_age = d;
        }
        retry.finish()?;
    }
    if let Some(key) = obj.opt_str("ordering_key")? {
        let at = obj.ptr("ordering_key");
        spec.ordering_key = Some(if key.starts_with('$') {
            OrderingKey::Path(
                rules::JsonPath::parse(&key)
                    .map_err(|e| SpecError::new(&at, format!("{key:?}: {e}")))?,
            )
        } else if !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            OrderingKey::Attribute(key)
        } else {
            return Err(SpecError::new(
                &at,
                format!(
                    "{key:?} is neither an attribute name (a-z, 0-9) nor a JSONPath starting with $"
                ),
            ));
        });
    }
    Ok(spec)
}
