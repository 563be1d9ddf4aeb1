//! What an HTTP target sends for one event: the CloudEvents HTTP binding in binary or structured
//! mode, or the payload alone.
//!
//! The payload is the transform's output when the target has a transform, else the SQL rule's
//! projection when the rule is SQL, else the event. In binary and structured mode a `cloudevent`
//! transform's output *is* the event sent; any other output becomes the `data` of the original
//! event (its `datacontenttype` set to the output's media type), so the receiver still gets a
//! CloudEvent with the original attributes. In `body` mode the output is sent as is; with no
//! transform that is the whole event as JSON (as EventBridge sends it without an input
//! transformer).
//!
//! The common case (no transform, structured or body mode) sends the stored bytes untouched.

use bus::event::Event;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use rules::{Context, Output, Transform};
use serde_json::Value;

use crate::spec::{HttpSpec, Mode};

/// A request's headers and body (method and URL come from the spec).
#[derive(Debug)]
pub struct Prepared {
    /// Headers to add, `Content-Type` first.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
}

/// What may shape the payload.
#[derive(Clone, Copy)]
pub struct Shaping<'a> {
    /// The target's transform.
    pub transform: Option<&'a Transform>,
    /// The rule's SQL projection (used when there is no transform).
    pub projection: Option<&'a rules::SqlRule>,
    /// The rule's name (a template variable).
    pub rule: &'a str,
    /// The event's ingestion time, RFC 3339 (a template variable).
    pub ingestion_time: &'a str,
}

fn header(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    Some((
        HeaderName::from_bytes(name.as_bytes()).ok()?,
        HeaderValue::from_str(value).ok()?,
    ))
}

/// Builds the request for `event` (its stored structured JSON). Errors are the transform's or a
/// malformed event's, and are not worth retrying.
pub fn prepare(spec: &HttpSpec, shaping: Shaping<'_>, event: &Bytes) -> Result<Prepared, String> {
    let output = shape(shaping, event)?;
    let (mode, event_json): (Mode, Bytes) = match (spec.mode, output) {
        (Mode::Body, None) => {
            return Ok(Prepared {
                headers: header("content-type", "application/json")
                    .into_iter()
                    .collect(),
                body: event.clone(),
            });
        }
        (Mode::Body, Some(Shaped::Event(v))) => {
            return Ok(Prepared {
                headers: header("content-type", "application/json")
                    .into_iter()
                    .collect(),
                body: Bytes::from(v.to_string()),
            });
        }
        (Mode::Body, Some(Shaped::Data(out))) => {
            let ct = out.content_type();
            return Ok(Prepared {
                headers: header("content-type", ct).into_iter().collect(),
                body: Bytes::from(out.into_bytes()),
            });
        }
        (m, shaped) => (m, as_cloudevent(shaped, event)?),
    };
    match mode {
        Mode::Structured | Mode::Body => Ok(Prepared {
            headers: header(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )
            .into_iter()
            .collect(),
            body: event_json,
        }),
        Mode::Binary => {
            if let Some((headers, body)) = super::binary::fast(&event_json) {
                return Ok(Prepared { headers, body });
            }
            let ev = Event::from_structured_json(&event_json)
                .map_err(|e| format!("the event to send is not a valid CloudEvent: {e}"))?;
            let msg = ev.to_binary();
            let mut headers = Vec::with_capacity(msg.headers.len() + 1);
            if let Some(ct) = &msg.content_type {
                headers.extend(header("content-type", ct));
            }
            for (n, v) in &msg.headers {
                headers.extend(header(n, v));
            }
            Ok(Prepared {
                headers,
                body: Bytes::from(msg.body),
            })
        }
    }
}

/// The CloudEvent (structured JSON) a target that carries whole events sends for `event`: the
/// stored bytes untouched without a transform, a `cloudevent` transform's output, or the
/// original event with the output as its `data`. Bus, queue, function and broker targets send
/// this; HTTP targets send it in binary or structured mode.
pub fn cloudevent(shaping: Shaping<'_>, event: &Bytes) -> Result<Bytes, String> {
    as_cloudevent(shape(shaping, event)?, event)
}

fn as_cloudevent(shaped: Option<Shaped>, event: &Bytes) -> Result<Bytes, String> {
    match shaped {
        None => Ok(event.clone()),
        Some(Shaped::Event(v)) => Ok(Bytes::from(v.to_string())),
        Some(Shaped::Data(out)) => {
            let mut v: Value = serde_json::from_slice(event)
                .map_err(|e| format!("the stored event is not JSON: {e}"))?;
            if let Value::Object(map) = &mut v {
                map.remove("data_base64");
                map.insert(
                    "datacontenttype".into(),
                    Value::String(out.content_type().into()),
                );
                let data = match out {
                    Output::Text(t) => Value::String(t),
                    other => other.into_value(),
                };
                map.insert("data".into(), data);
            }
            Ok(Bytes::from(v.to_string()))
        }
    }
}

enum Shaped {
    /// A whole CloudEvent (a `cloudevent` transform).
    Event(Value),
    /// A payload.
    Data(Output),
}

impl Shaping<'_> {
    /// Whether the target sends the stored event untouched (no transform, or the `event`
    /// transform, and no SQL projection): [`cloudevent`] then returns the stored bytes, which
    /// ingest already validated.
    pub fn keeps_event(&self) -> bool {
        match self.transform {
            Some(Transform::Event) => true,
            Some(_) => false,
            None => self.projection.is_none(),
        }
    }
}

fn shape(s: Shaping<'_>, event: &Bytes) -> Result<Option<Shaped>, String> {
    if s.keeps_event() {
        return Ok(None);
    }
    let v: Value =
        serde_json::from_slice(event).map_err(|e| format!("the stored event is not JSON: {e}"))?;
    match s.transform {
        Some(t) => {
            let ctx = Context {
                rule_name: s.rule,
                ingestion_time: s.ingestion_time,
            };
            let out = t
                .apply(&v, &ctx)
                .map_err(|e| format!("the transform failed: {e}"))?;
            Ok(Some(match (t, out) {
                (Transform::CloudEvent(_), out) => Shaped::Event(out.into_value()),
                (_, out) => Shaped::Data(out),
            }))
        }
        None => match s.projection {
            Some(sql) => Ok(Some(Shaped::Data(Output::Json(sql.project(&v).value)))),
            None => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn spec(mode: Mode) -> HttpSpec {
        HttpSpec {
            url: reqwest::Url::parse("http://127.0.0.1:1/").unwrap(),
            uri: "http://127.0.0.1:1/".parse().unwrap(),
            method: http::Method::POST,
            headers: vec![],
            mode,
            connection: None,
        }
    }

    fn plain<'a>() -> Shaping<'a> {
        Shaping {
            transform: None,
            projection: None,
            rule: "r",
            ingestion_time: "2026-01-01T00:00:00.000Z",
        }
    }

    fn event() -> Bytes {
        Bytes::from(
            json!({"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":{"n":5}})
                .to_string(),
        )
    }

    fn get<'a>(p: &'a Prepared, name: &str) -> Option<&'a str> {
        p.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn modes() {
        let p = prepare(&spec(Mode::Structured), plain(), &event()).unwrap();
        assert_eq!(p.body, event());
        assert_eq!(
            get(&p, "content-type"),
            Some("application/cloudevents+json; charset=utf-8")
        );
        let p = prepare(&spec(Mode::Binary), plain(), &event()).unwrap();
        assert_eq!(&p.body[..], br#"{"n":5}"#);
        assert_eq!(get(&p, "ce-id"), Some("1"));
        assert_eq!(get(&p, "content-type"), Some("application/json"));
        let p = prepare(&spec(Mode::Body), plain(), &event()).unwrap();
        assert_eq!(p.body, event());
    }

    #[test]
    fn transforms_shape_the_payload() {
        let t = Transform::parse(&json!({"kind": "jsonpath", "path": "$.data.n"})).unwrap();
        let s = Shaping {
            transform: Some(&t),
            ..plain()
        };
        let p = prepare(&spec(Mode::Body), s, &event()).unwrap();
        assert_eq!(&p.body[..], b"5");
        let p = prepare(&spec(Mode::Binary), s, &event()).unwrap();
        assert_eq!(&p.body[..], b"5");
        assert_eq!(get(&p, "ce-type"), Some("t"));
    }
}
