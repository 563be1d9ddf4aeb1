//! `{"kind": "cloudevent", "set": {"type": "…", "subject": "…"}, "data": <transform>}`: a new
//! CloudEvent built from the matched one, for targets that take CloudEvents (another bus, a
//! Knative service) but want them reshaped.
//!
//! The output starts as a copy of the input event's attributes; then:
//!
//! - **`data`** (optional, any transform, default: the input's data unchanged) replaces the
//!   payload. Its output decides `datacontenttype`: JSON (a value, or a JSON template) gives
//!   `application/json`; text from a text template gives `text/plain` and a JSON string as
//!   `data`. `data_base64` is dropped, and so is `dataschema`, which described the old payload.
//! - **`set`** (optional) then overrides attributes with literal values, `datacontenttype` and
//!   `dataschema` included. Names follow the CloudEvents naming rule (lower-case `a-z` and
//!   `0-9`), and at most 20 characters, which the spec recommends and Railyard requires of names
//!   it writes. Values are strings, booleans or integers (the CloudEvents types as the JSON
//!   format carries them); `null` removes an optional attribute or extension. Values are
//!   literals: a value computed from the event is future work (a template per attribute).
//!
//! What cannot be set, and why:
//!
//! - `specversion`: always `1.0`, the only version.
//! - `id`: kept from the input event. The rewrite is the same occurrence, reshaped for one
//!   target, and a kept id is stable across retries and replays, so receivers can deduplicate;
//!   a literal id would give every event the same one. Note that CloudEvents asks `source` +
//!   `id` to be unique per distinct event: a rewrite published to another bus next to its
//!   original should change `source` or `type`.
//! - `data`, `data_base64`: the `data` member is the way to change the payload.
//! - `source` and `type` cannot be removed, and must be non-empty strings.

use serde_json::{Map, Value};

use super::{Context, Output, Transform, TransformError, members};
use crate::pattern::escape_pointer;

/// The longest attribute name Railyard writes (the CloudEvents recommendation).
pub const MAX_ATTRIBUTE_CHARS: usize = 20;

/// A compiled CloudEvent rewrite.
#[derive(Debug, Clone)]
pub struct CloudEvent {
    /// In name order; `None` removes the attribute.
    set: Vec<(String, Option<Value>)>,
    data: Option<Box<Transform>>,
}

impl CloudEvent {
    pub(super) fn parse(
        map: &Map<String, Value>,
        depth: usize,
    ) -> Result<CloudEvent, TransformError> {
        members::only(map, "cloudevent", &["kind", "set", "data"])?;
        let set = match map.get("set") {
            None => Vec::new(),
            Some(Value::Object(set)) => set
                .iter()
                .map(|(name, value)| {
                    let pointer = format!("/set/{}", escape_pointer(name));
                    check_attribute(name, value)
                        .map(|v| (name.clone(), v))
                        .map_err(|reason| TransformError::new(&pointer, reason))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(TransformError::new(
                    "/set",
                    "\"set\" is an object of attribute names to values, as in {\"type\": \
                     \"com.example.order.shipped\"}",
                ));
            }
        };
        let data = match map.get("data") {
            None => None,
            Some(t) => Some(Box::new(
                Transform::parse_nested(t, depth + 1).map_err(|e| e.under("/data"))?,
            )),
        };
        Ok(CloudEvent { set, data })
    }

    /// The rewritten event. Fails only when the event is not a JSON object.
    pub fn apply(&self, event: &Value, ctx: &Context<'_>) -> Result<Output, TransformError> {
        let Value::Object(attributes) = event else {
            return Err(TransformError::new(
                "",
                "a cloudevent rewrite needs the event as a JSON object",
            ));
        };
        let mut out = Map::with_capacity(attributes.len() + self.set.len());
        for (k, v) in attributes {
            if self.data.is_some() && matches!(k.as_str(), "data" | "data_base64" | "dataschema") {
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        if let Some(transform) = &self.data {
            let (data, content_type) =
                match transform.apply(event, ctx).map_err(|e| e.under("/data"))? {
                    Output::Text(text) => (Value::String(text), "text/plain"),
                    json => (json.into_value(), "application/json"),
                };
            out.insert("data".to_string(), data);
            out.insert(
                "datacontenttype".to_string(),
                Value::String(content_type.to_string()),
            );
        }
        for (name, value) in &self.set {
            match value {
                Some(v) => {
                    out.insert(name.clone(), v.clone());
                }
                None => {
                    out.remove(name);
                }
            }
        }
        Ok(Output::Json(Value::Object(out)))
    }
}

/// The value to set (`None`: remove), or why the attribute cannot be set so.
fn check_attribute(name: &str, value: &Value) -> Result<Option<Value>, String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(format!(
            "{name:?} is not a CloudEvents attribute name: names are lower-case letters a-z and \
             digits 0-9"
        ));
    }
    if name.len() > MAX_ATTRIBUTE_CHARS {
        return Err(format!(
            "attribute name {name:?} is longer than {MAX_ATTRIBUTE_CHARS} characters (the \
             CloudEvents recommendation, which Railyard requires of names it writes)"
        ));
    }
    match name {
        "specversion" => return Err("specversion is always \"1.0\"; it cannot be set".to_string()),
        "id" => {
            return Err(
                "id is kept from the input event, so it stays stable across retries and replays; \
                 it cannot be set"
                    .to_string(),
            );
        }
        "data" | "data_base64" => {
            return Err(format!(
                "{name} cannot be set here; the \"data\" member of the transform replaces the payload"
            ));
        }
        _ => {}
    }
    match value {
        Value::Null if matches!(name, "source" | "type") => {
            Err(format!("{name} is a required attribute; it cannot be removed"))
        }
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() && matches!(name, "source" | "type") => {
            Err(format!("{name} cannot be empty"))
        }
        Value::String(_) => Ok(Some(value.clone())),
        Value::Bool(_) | Value::Number(_)
            if matches!(
                name,
                "source" | "type" | "subject" | "time" | "datacontenttype" | "dataschema"
            ) =>
        {
            Err(format!("{name} is a string attribute"))
        }
        Value::Bool(_) => Ok(Some(value.clone())),
        Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {
            Ok(Some(value.clone()))
        }
        Value::Number(_) => Err(
            "CloudEvents integers are whole numbers (-2^31 to 2^31-1); use a string for other numbers"
                .to_string(),
        ),
        Value::Array(_) | Value::Object(_) => Err(
            "CloudEvents attribute values are strings, booleans or integers, not arrays or objects"
                .to_string(),
        ),
    }
}
