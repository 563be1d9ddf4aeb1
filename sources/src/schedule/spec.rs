//! The schedule document: `PUT /v1/schedules/{name}` bodies in, `GET` bodies out.
//!
//! ```json
//! {"bus": "orders", "cron": "0 */5 * * * *", "timezone": "Europe/Berlin",
//!  "event": {"type": "com.example.tick", "source": "/cron/orders", "data": {"k": 1}},
//!  "catch_up": "last", "enabled": true, "description": "…"}
//! ```
//!
//! | member | meaning |
//! | --- | --- |
//! | `bus` | required: the bus the events go to |
//! | `cron` / `rate` / `at` | exactly one: see [`super::cron`], [`super::rate`]; `at` is RFC 3339 with an offset, or a local date-time (`2026-12-01T09:00:00`) read in `timezone` |
//! | `timezone` | IANA name (`Europe/Berlin`), default `UTC`; cron and at only |
//! | `start` | RFC 3339; nothing fires at or before it and a rate counts from it; default: the creation time |
//! | `end` | RFC 3339; nothing fires after it; cron and rate only |
//! | `event` | the event template ([`super::EventTemplate`]); optional |
//! | `catch_up` | `none`, `last` (default) or `all` |
//! | `delete_after_firing` | `at` only; default `false` |
//! | `enabled` | default `true` |
//! | `description` | at most 1,024 characters |
//!
//! Unknown members are refused (a misspelt `timezone` must not silently mean UTC), and JSON `null`
//! means "absent" for every optional member. The written form ([`ScheduleSpec::to_json`]) always
//! carries `start`, so parsing it again gives the same schedule whatever the creation time passed.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::error::pointer_token;
use super::{CatchUp, Cron, EventTemplate, Rate, ScheduleSpec, SpecError, When, dst, whole_second};

/// The members a schedule may have.
const MEMBERS: [&str; 12] = [
    "bus",
    "cron",
    "rate",
    "at",
    "timezone",
    "start",
    "end",
    "event",
    "catch_up",
    "delete_after_firing",
    "enabled",
    "description",
];

/// Longest `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

impl ScheduleSpec {
    /// Parses and validates a schedule body. `created` (truncated to the second) is the default
    /// `start`: the anchor of a rate (as in EventBridge, a rate runs from creation) and the instant
    /// at or before which nothing fires. Unknown members are refused with their pointer.
    pub fn parse(body: &Value, created: DateTime<Utc>) -> Result<ScheduleSpec, SpecError> {
        let Some(obj) = body.as_object() else {
            return Err(SpecError::new("", "a schedule must be a JSON object"));
        };
        if let Some(key) = obj.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(SpecError::new(
                format!("/{}", pointer_token(key)),
                format!("unknown member; a schedule has {}", MEMBERS.join(", ")),
            ));
        }
        let get = |name: &str| obj.get(name).filter(|v| !v.is_null());

        let bus = match get("bus") {
            None => return Err(SpecError::new("/bus", "is required")),
            Some(v) => string(v, "/bus")?,
        };
        if bus.is_empty() {
            return Err(SpecError::new("/bus", "must not be empty"));
        }

        let kinds: Vec<&str> = ["cron", "rate", "at"]
            .into_iter()
            .filter(|k| get(k).is_some())
            .collect();
        let kind = match kinds[..] {
            [kind] => kind,
            [] => {
                return Err(SpecError::new(
                    "",
                    "one of cron, rate or at is required (when the schedule fires)",
                ));
            }
            [first, second, ..] => {
                return Err(SpecError::new(
                    format!("/{second}"),
                    format!("{first} and {second} exclude each other: give one of cron, rate, at"),
                ));
            }
        };

        let tz = match get("timezone") {
            None => None,
            Some(_) if kind == "rate" => {
                return Err(SpecError::new(
                    "/timezone",
                    "a rate is elapsed time and has no time zone (cron and at have one)",
                ));
            }
            Some(v) => Some(timezone(string(v, "/timezone")?)?),
        };

        let start = match get("start") {
            None => whole_second(created),
            Some(v) => instant(v, "/start")?,
        };

        let when = match kind {
            "cron" => When::Cron {
                expr: Cron::parse(string(get("cron").unwrap_or(&Value::Null), "/cron")?)?,
                tz: tz.unwrap_or(Tz::UTC),
            },
            "rate" => When::Rate(Rate::parse(string(
                get("rate").unwrap_or(&Value::Null),
                "/rate",
            )?)?),
            _ => {
                let at = at(get("at").unwrap_or(&Value::Null), tz)?;
                if at <= start {
                    return Err(SpecError::new(
                        "/at",
                        format!(
                            "{} is not after the schedule's start {}: it would never fire",
                            rfc3339(at),
                            rfc3339(start)
                        ),
                    ));
                }
                When::At { at, tz }
            }
        };

        let end = match get("end") {
            None => None,
            Some(_) if kind == "at" => {
                return Err(SpecError::new(
                    "/end",
                    "an at schedule fires once and has no end",
                ));
            }
            Some(v) => {
                let end = instant(v, "/end")?;
                if end <= start {
                    return Err(SpecError::new(
                        "/end",
                        format!("must be after the start {}", rfc3339(start)),
                    ));
                }
                Some(end)
            }
        };

        let event = match get("event") {
            None => EventTemplate::default(),
            Some(v) => EventTemplate::parse(v)?,
        };

        let catch_up = match get("catch_up") {
            None => CatchUp::default(),
            Some(v) => match string(v, "/catch_up")? {
                "none" => CatchUp::None,
                "last" => CatchUp::Last,
                "all" => CatchUp::All,
                other => {
                    return Err(SpecError::new(
                        "/catch_up",
                        format!("{other:?} is not a policy: expected none, last or all"),
                    ));
                }
            },
        };

        let delete_after_firing = match get("delete_after_firing") {
            None => false,
            Some(_) if kind != "at" => {
                return Err(SpecError::new(
                    "/delete_after_firing",
                    "only an at schedule fires once and can delete itself",
                ));
            }
            Some(v) => boolean(v, "/delete_after_firing")?,
        };

        let enabled = match get("enabled") {
            None => true,
            Some(v) => boolean(v, "/enabled")?,
        };

        let description = match get("description") {
            None => None,
            Some(v) => {
                let d = string(v, "/description")?;
                if d.chars().count() > MAX_DESCRIPTION_CHARS {
                    return Err(SpecError::new(
                        "/description",
                        format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
                    ));
                }
                Some(d.to_owned())
            }
        };

        Ok(ScheduleSpec {
            bus: bus.to_owned(),
            when,
            start,
            end,
            event,
            catch_up,
            delete_after_firing,
            enabled,
            description,
        })
    }

    /// The public JSON form (what `GET` returns). It always has `start`, `timezone` (cron),
    /// `event`, `catch_up`, `enabled` and, for `at`, `delete_after_firing`, so that it shows the
    /// defaults in force and parses back to the same schedule.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("bus".into(), Value::from(self.bus.as_str()));
        match &self.when {
            When::Cron { expr, tz } => {
                m.insert("cron".into(), Value::from(expr.as_str()));
                m.insert("timezone".into(), Value::from(tz.name()));
            }
            When::Rate(rate) => {
                m.insert("rate".into(), Value::from(rate.to_text()));
            }
            When::At { at, tz } => {
                let shown = match tz {
                    Some(tz) => at
                        .with_timezone(tz)
                        .to_rfc3339_opts(SecondsFormat::Secs, true),
                    None => rfc3339(*at),
                };
                m.insert("at".into(), Value::from(shown));
                if let Some(tz) = tz {
                    m.insert("timezone".into(), Value::from(tz.name()));
                }
                m.insert(
                    "delete_after_firing".into(),
                    Value::from(self.delete_after_firing),
                );
            }
        }
        m.insert("start".into(), Value::from(rfc3339(self.start)));
        if let Some(end) = self.end {
            m.insert("end".into(), Value::from(rfc3339(end)));
        }
        m.insert("event".into(), self.event.to_json());
        m.insert("catch_up".into(), Value::from(self.catch_up.as_str()));
        m.insert("enabled".into(), Value::from(self.enabled));
        if let Some(d) = &self.description {
            m.insert("description".into(), Value::from(d.as_str()));
        }
        Value::Object(m)
    }
}

/// `t` as RFC 3339 in UTC, whole seconds, `Z` (the form of ids and `time`).
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn string<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, SpecError> {
    v.as_str()
        .ok_or_else(|| SpecError::new(pointer, format!("must be a string, not {}", kind(v))))
}

fn boolean(v: &Value, pointer: &str) -> Result<bool, SpecError> {
    v.as_bool()
        .ok_or_else(|| SpecError::new(pointer, format!("must be true or false, not {}", kind(v))))
}

/// The JSON type of `v`, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn timezone(name: &str) -> Result<Tz, SpecError> {
    name.parse::<Tz>().map_err(|_| {
        SpecError::new(
            "/timezone",
            format!(
                "unknown time zone {name:?}: expected an IANA name such as Europe/Berlin or UTC"
            ),
        )
    })
}

/// A strict RFC 3339 date-time with an offset (the rules of the CloudEvents `time` attribute).
fn instant(v: &Value, pointer: &str) -> Result<DateTime<Utc>, SpecError> {
    let s = string(v, pointer)?;
    offset_time(s).map_err(|e| {
        SpecError::new(
            pointer,
            format!("must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z ({e})"),
        )
    })
}

fn offset_time(s: &str) -> Result<DateTime<Utc>, String> {
    bus::event::time::check(s).map_err(|e| e.to_string())?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| whole_second(t.with_timezone(&Utc)))
        .map_err(|e| e.to_string())
}

/// `at`: RFC 3339 with an offset, or a local date-time read in `tz` (default UTC). A local time
/// skipped by a spring-forward is refused; one repeated by a fall-back means its first occurrence.
fn at(v: &Value, tz: Option<Tz>) -> Result<DateTime<Utc>, SpecError> {
    let s = string(v, "/at")?;
    let offset_error = match offset_time(s) {
        Ok(t) => return Ok(t),
        Err(e) => e,
    };
    let Ok(local) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") else {
        return Err(SpecError::new(
            "/at",
            format!(
                "must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z, or a local \
                 date-time such as 2026-12-01T09:00:00 read in /timezone ({offset_error})"
            ),
        ));
    };
    let tz = tz.unwrap_or(Tz::UTC);
    match dst::instants(tz, local) {
        Some((first, _)) => Ok(whole_second(first)),
        None => Err(SpecError::new(
            "/at",
            format!("{s} does not exist in {tz}: the clocks skip it (daylight saving time)"),
        )),
    }
}
