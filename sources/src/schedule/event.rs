//! The event a firing emits.
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | `<schedule name>:<planned time, RFC 3339 UTC, whole seconds>`, e.g. `nightly:2026-03-29T01:00:00Z` |
//! | `source` | the template's `source`, default `/schedules/<name>` (the name percent-encoded) |
//! | `type` | the template's `type`, default `com.railyard.schedule.fired` |
//! | `subject`, `datacontenttype`, `dataschema`, `data` | the template's, when given |
//! | `time` | the planned time (not the moment the server got round to it) |
//! | `schedule` | extension: the schedule's name |
//!
//! The id is a function of the name and the planned instant only, never of when the firing was
//! computed: a server killed after appending a firing but before recording it re-plans the same
//! planned time after restart and emits the same id, so the duplicate can be recognised (and two
//! schedules never share an id, even with the same `source`). Defaults exist for `type` and
//! `source` because a schedule's main job is often only to say "it is time": `{"bus": "b",
//! "rate": "5m"}` is a complete, useful schedule.

use bus::event::{Data, Event, ExtensionValue};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::pointer_token;
use super::spec::{kind, rfc3339, string};
use super::{ScheduleSpec, SpecError};

/// The `type` of a firing whose template names none.
pub const DEFAULT_TYPE: &str = "com.railyard.schedule.fired";

/// The extension attribute naming the schedule.
pub const SCHEDULE_EXTENSION: &str = "schedule";

/// The members of `event`.
const MEMBERS: [&str; 6] = [
    "type",
    "source",
    "subject",
    "datacontenttype",
    "dataschema",
    "data",
];

/// What each firing emits: the `event` member of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventTemplate {
    /// `type`; [`DEFAULT_TYPE`] when absent.
    pub ty: Option<String>,
    /// `source`; `/schedules/<name>` when absent.
    pub source: Option<String>,
    /// `subject`.
    pub subject: Option<String>,
    /// `datacontenttype`.
    pub datacontenttype: Option<String>,
    /// `dataschema`.
    pub dataschema: Option<String>,
    /// `data`: any JSON value, `null` included (an explicit null payload, as for events).
    pub data: Option<Value>,
}

impl EventTemplate {
    /// Parses the `event` member; errors point below `/event`. The attributes are held to the
    /// CloudEvents rules of ingested events, checked here rather than at every firing.
    pub fn parse(v: &Value) -> Result<EventTemplate, SpecError> {
        let Some(obj) = v.as_object() else {
            return Err(SpecError::new(
                "/event",
                format!("must be an object, not {}", kind(v)),
            ));
        };
        if let Some(key) = obj.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(SpecError::new(
                format!("/event/{}", pointer_token(key)),
                format!("unknown member; the event has {}", MEMBERS.join(", ")),
            ));
        }
        let text = |name: &str| -> Result<Option<String>, SpecError> {
            match obj.get(name).filter(|v| !v.is_null()) {
                None => Ok(None),
                Some(v) => string(v, &format!("/event/{name}")).map(|s| Some(s.to_owned())),
            }
        };
        let template = EventTemplate {
            ty: text("type")?,
            source: text("source")?,
            subject: text("subject")?,
            datacontenttype: text("datacontenttype")?,
            dataschema: text("dataschema")?,
            data: obj.get("data").cloned(),
        };
        // A sample firing shows whether the attributes are valid.
        let sample = template.build("x", "x".into(), "2026-01-01T00:00:00Z".into());
        sample.validate().map_err(|e| {
            let attribute = if e.attribute == "id" || e.attribute == "time" {
                String::new()
            } else {
                format!("/{}", e.attribute)
            };
            SpecError::new(format!("/event{attribute}"), e.reason)
        })?;
        Ok(template)
    }

    /// The JSON form: the members that are set.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (name, value) in [
            ("type", &self.ty),
            ("source", &self.source),
            ("subject", &self.subject),
            ("datacontenttype", &self.datacontenttype),
            ("dataschema", &self.dataschema),
        ] {
            if let Some(v) = value {
                m.insert(name.into(), Value::from(v.as_str()));
            }
        }
        if let Some(data) = &self.data {
            m.insert("data".into(), data.clone());
        }
        Value::Object(m)
    }

    fn build(&self, name: &str, id: String, time: String) -> Event {
        let source = self
            .source
            .clone()
            .unwrap_or_else(|| format!("/schedules/{}", percent_encode(name)));
        let ty = self.ty.as_deref().unwrap_or(DEFAULT_TYPE);
        let mut ev = Event::new(id, source, ty);
        ev.subject.clone_from(&self.subject);
        ev.datacontenttype.clone_from(&self.datacontenttype);
        ev.dataschema.clone_from(&self.dataschema);
        ev.time = Some(time);
        ev.extensions.insert(
            SCHEDULE_EXTENSION.into(),
            ExtensionValue::String(name.to_owned()),
        );
        ev.data = self.data.as_ref().and_then(|v| {
            // Serialising a Value cannot fail, and its text is valid JSON.
            serde_json::to_vec(v).ok().and_then(|b| Data::json(&b).ok())
        });
        ev
    }
}

/// The id of the firing of schedule `name` planned at `at`.
pub fn firing_id(name: &str, at: DateTime<Utc>) -> String {
    format!("{name}:{}", rfc3339(at))
}

impl ScheduleSpec {
    /// The event of the firing of schedule `name` planned at `at` (see the module docs). The
    /// template was validated by [`ScheduleSpec::parse`]; a name that is not a valid id on its
    /// own is still safe in the id, and is percent-encoded in the default `source`.
    pub fn event(&self, name: &str, at: DateTime<Utc>) -> Event {
        self.event.build(name, firing_id(name, at), rfc3339(at))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so any name makes a valid
/// URI-reference path segment.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("nightly-report_1.x~"), "nightly-report_1.x~");
        assert_eq!(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn template_errors_point_below_event() {
        let err = |v: Value| EventTemplate::parse(&v).unwrap_err();
        let e = err(json!({"type": ""}));
        assert_eq!(e.pointer, "/event/type");
        let e = err(json!({"type": 5}));
        assert_eq!(
            (e.pointer.as_str(), e.reason.as_str()),
            ("/event/type", "must be a string, not a number")
        );
        assert_eq!(err(json!({"source": "a b"})).pointer, "/event/source");
        assert_eq!(err(json!({"subject": ""})).pointer, "/event/subject");
        assert_eq!(
            err(json!({"datacontenttype": "json"})).pointer,
            "/event/datacontenttype"
        );
        assert_eq!(
            err(json!({"dataschema": "relative"})).pointer,
            "/event/dataschema"
        );
        let e = err(json!({"id": "x"}));
        assert_eq!(e.pointer, "/event/id");
        assert!(e.reason.starts_with("unknown member"));
        assert_eq!(err(json!({"a/b": 1})).pointer, "/event/a~1b");
        assert_eq!(err(json!([])).pointer, "/event");
        // null is absent for attributes, a payload for data.
        let t = EventTemplate::parse(&json!({"type": null, "data": null})).unwrap();
        assert_eq!(t.ty, None);
        assert_eq!(t.data, Some(Value::Null));
    }
}
