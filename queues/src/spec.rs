//! A queue's document: what `PUT /v1/queues/{name}` takes and `GET` shows.
//!
//! ```json
//! {"description": "…", "visibility_timeout": "30s", "max_receives": 10,
//!  "retention": "4d", "dead_letter": {"kind": "keep"}}
//! ```
//! Every member is optional. Durations are strings with a unit (`"30s"`) or whole seconds.
//!
//! - `visibility_timeout` (default 30 s, SQS's; 0 to 12 h): how long a received message stays
//!   hidden from other consumers unless a receive names its own.
//! - `max_receives` (default 10, 1 to 1,000): a message is handed out at most this many times;
//!   the receive that would hand it out once more moves it to the dead letters instead. Ten, as
//!   between RocketMQ's 16 retries and the 3-5 most SQS redrive policies use: enough for
//!   transient consumer failures, few enough that a poison message leaves soon.
//! - `retention` (default 4 days, SQS's; 1 minute to 14 days): older messages are dropped,
//!   dead letters included.
//! - `dead_letter`: `{"kind": "keep"}` (default: the queue's own dead-letter list, which can be
//!   listed, redriven and purged), `{"kind": "queue", "queue": "<other>"}` (appended to another
//!   queue as an ordinary message, as an SQS dead-letter queue) or `{"kind": "drop"}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::QueueError;

/// Default visibility timeout.
pub const DEFAULT_VISIBILITY: Duration = Duration::from_secs(30);
/// Longest visibility timeout (SQS's limit), for the queue and for a receive, nack or extend.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// Default receive limit.
pub const DEFAULT_MAX_RECEIVES: u32 = 10;
/// Highest receive limit.
pub const MAX_MAX_RECEIVES: u32 = 1000;
/// Default retention.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(4 * 24 * 3600);
const MIN_RETENTION: Duration = Duration::from_secs(60);
const MAX_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// Where a message goes once it was received `max_receives` times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadLetter {
    /// Into this queue's dead-letter list.
    Keep,
    /// Appended to another queue.
    Queue {
        /// Its name.
        queue: String,
    },
    /// Dropped (counted in the metrics, logged).
    Drop,
}

/// A stored queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueSpec {
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Milliseconds a received message stays invisible by default.
    pub visibility_timeout_ms: u64,
    /// Receives before a message goes to the dead letters.
    pub max_receives: u32,
    /// Seconds a message is kept.
    pub retention_secs: u64,
    /// What happens to dead letters.
    pub dead_letter: DeadLetter,
    /// Drawn at creation; receipts carry it.
    pub incarnation: u32,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The ETag.
    pub version: u64,
}

impl QueueSpec {
    /// The default visibility timeout.
    pub fn visibility(&self) -> Duration {
        Duration::from_millis(self.visibility_timeout_ms)
    }

    /// The retention.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_secs)
    }

    /// The document as the API shows it (without statistics).
    pub fn public(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "visibility_timeout": bus::units::format_duration(self.visibility()),
            "max_receives": self.max_receives,
            "retention": bus::units::format_duration(self.retention()),
            "dead_letter": serde_json::to_value(&self.dead_letter).unwrap_or(Value::Null),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "version": self.version,
        })
    }
}

/// What a PUT body says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub description: String,
    pub visibility: Duration,
    pub max_receives: u32,
    pub retention: Duration,
    pub dead_letter: DeadLetter,
}

/// Members a GET answer has that a PUT ignores (a document read can be written back).
const READ_ONLY: &[&str] = &["name", "stats", "created_at", "updated_at", "version"];
const WRITABLE: &[&str] = &[
    "description",
    "visibility_timeout",
    "max_receives",
    "retention",
    "dead_letter",
];

/// Reads a duration member: a string with a unit, or whole seconds.
pub fn duration(v: &Value, pointer: &str) -> Result<Duration, QueueError> {
    match v {
        Value::String(s) => {
            bus::units::parse_duration(s).map_err(|e| QueueError::invalid(pointer, e.to_string()))
        }
        Value::Number(n) => n.as_u64().map(Duration::from_secs).ok_or_else(|| {
            QueueError::invalid(pointer, "a number of seconds must be a whole number ≥ 0")
        }),
        _ => Err(QueueError::invalid(
            pointer,
            "a duration such as \"30s\", or whole seconds",
        )),
    }
}

fn within(d: Duration, lo: Duration, hi: Duration, pointer: &str) -> Result<Duration, QueueError> {
    if d < lo || d > hi {
        return Err(QueueError::invalid(
            pointer,
            format!(
                "must be between {} and {}",
                bus::units::format_duration(lo),
                bus::units::format_duration(hi)
            ),
        ));
    }
    Ok(d)
}

/// Checks a visibility timeout given to a receive, nack delay or extend.
pub fn check_visibility(d: Duration, pointer: &str) -> Result<Duration, QueueError> {
    within(d, Duration::ZERO, MAX_VISIBILITY, pointer)
}

pub(crate) fn parse(body: &Value) -> Result<Parsed, QueueError> {
    let Value::Object(m) = body else {
        return Err(QueueError::invalid("", "a queue is a JSON object"));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !WRITABLE.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str()))
    {
        return Err(QueueError::invalid(
            &format!("/{k}"),
            format!("unknown member; a queue has {}", WRITABLE.join(", ")),
        ));
    }
    let description = match m.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.len() <= 1024 => s.clone(),
        Some(Value::String(_)) => {
            return Err(QueueError::invalid("/description", "at most 1024 bytes"));
        }
        Some(_) => return Err(QueueError::invalid("/description", "must be a string")),
    };
    let visibility = match m.get("visibility_timeout") {
        None | Some(Value::Null) => DEFAULT_VISIBILITY,
        Some(v) => check_visibility(duration(v, "/visibility_timeout")?, "/visibility_timeout")?,
    };
    let max_receives = match m.get("max_receives") {
        None | Some(Value::Null) => DEFAULT_MAX_RECEIVES,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(MAX_MAX_RECEIVES)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| {
                QueueError::invalid(
                    "/max_receives",
                    format!("must be a whole number from 1 to {MAX_MAX_RECEIVES}"),
                )
            })?,
    };
    let retention = match m.get("retention") {
        None | Some(Value::Null) => DEFAULT_RETENTION,
        Some(v) => within(
            duration(v, "/retention")?,
            MIN_RETENTION,
            MAX_RETENTION,
            "/retention",
        )?,
    };
    let dead_letter = match m.get("dead_letter") {
        None | Some(Value::Null) => DeadLetter::Keep,
        Some(Value::Object(d)) => dead_letter(d)?,
        Some(_) => {
            return Err(QueueError::invalid(
                "/dead_letter",
                "an object: {\"kind\": \"keep\"}, {\"kind\": \"queue\", \"queue\": \"name\"} or {\"kind\": \"drop\"}",
            ));
        }
    };
    Ok(Parsed {
        description,
        visibility,
        max_receives,
        retention,
        dead_letter,
    })
}

fn dead_letter(d: &Map<String, Value>) -> Result<DeadLetter, QueueError> {
    let kind = match d.get("kind") {
        Some(Value::String(k)) => k.as_str(),
        None => return Err(QueueError::invalid("/dead_letter/kind", "is required")),
        Some(_) => return Err(QueueError::invalid("/dead_letter/kind", "must be a string")),
    };
    let allowed: &[&str] = match kind {
        "keep" | "drop" => &["kind"],
        "queue" => &["kind", "queue"],
        other => {
            return Err(QueueError::invalid(
                "/dead_letter/kind",
                format!("{other:?} is not a dead-letter kind: keep, queue or drop"),
            ));
        }
    };
    if let Some(k) = d.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(QueueError::invalid(
            &format!("/dead_letter/{k}"),
            format!("unknown member for kind {kind:?}"),
        ));
    }
    Ok(match kind {
        "keep" => DeadLetter::Keep,
        "drop" => DeadLetter::Drop,
        _ => {
            let q = match d.get("queue") {
                Some(Value::String(q)) => q.clone(),
                _ => {
                    return Err(QueueError::invalid(
                        "/dead_letter/queue",
                        "is required: the name of another queue",
                    ));
                }
            };
            bus::registry::check_name(&q)
                .map_err(|r| QueueError::invalid("/dead_letter/queue", r))?;
            DeadLetter::Queue { queue: q }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pointer(v: Value) -> String {
        match parse(&v) {
            Err(QueueError::Invalid { pointer, .. }) => pointer,
            other => panic!("{v}: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_members() {
        let p = parse(&json!({})).unwrap();
        assert_eq!(p.visibility, DEFAULT_VISIBILITY);
        assert_eq!(p.max_receives, 10);
        assert_eq!(p.retention, DEFAULT_RETENTION);
        assert_eq!(p.dead_letter, DeadLetter::Keep);
        let p = parse(
            &json!({"visibility_timeout": "2m", "max_receives": 3, "retention": 3600,
                              "dead_letter": {"kind": "queue", "queue": "dlq"}, "version": 4}),
        )
        .unwrap();
        assert_eq!(p.visibility, Duration::from_secs(120));
        assert_eq!(p.retention, Duration::from_secs(3600));
        assert_eq!(
            p.dead_letter,
            DeadLetter::Queue {
                queue: "dlq".into()
            }
        );
        assert_eq!(pointer(json!([])), "");
        assert_eq!(pointer(json!({"retension": "1d"})), "/retension");
        assert_eq!(
            pointer(json!({"visibility_timeout": "13h"})),
            "/visibility_timeout"
        );
        assert_eq!(
            pointer(json!({"visibility_timeout": -1})),
            "/visibility_timeout"
        );
        assert_eq!(pointer(json!({"max_receives": 0})), "/max_receives");
        assert_eq!(pointer(json!({"retention": "10s"})), "/retention");
        assert_eq!(pointer(json!({"dead_letter": "keep"})), "/dead_letter");
        assert_eq!(
            pointer(json!({"dead_letter": {"kind": "x"}})),
            "/dead_letter/kind"
        );
        assert_eq!(
            pointer(json!({"dead_letter": {"kind": "queue"}})),
            "/dead_letter/queue"
        );
        assert_eq!(
            pointer(json!({"dead_letter": {"kind": "keep", "queue": "a"}})),
            "/dead_letter/queue"
        );
        assert_eq!(
            pointer(json!({"dead_letter": {"kind": "queue", "queue": "Bad Name"}})),
            "/dead_letter/queue"
        );
    }
}
