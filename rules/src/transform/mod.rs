//! Transforms: what a target receives for a matched event.
//!
//! A transform is a JSON object naming its `kind`; each kind lives in its own file. All are
//! compiled once when the rule is saved ([`Transform::parse`]: every error names a JSON pointer
//! into the transform object and the reason, like [`crate::PatternError`]) and applied as pure
//! functions of the event, the rule name and the ingestion time ([`Transform::apply`]). The
//! crate has no clock: the caller passes the ingestion time in the [`Context`].
//!
//! | kind | object | output |
//! | --- | --- | --- |
//! | `event` (the default, also when `kind` is omitted) | `{"kind": "event"}` | the CloudEvent as is |
//! | `constant` | `{"kind": "constant", "value": …}` | any JSON value |
//! | `jsonpath` | `{"kind": "jsonpath", "path": "$.data.order"}` | the selected node(s): see [`jsonpath`] |
//! | `template` | `{"kind": "template", "paths": {…}, "template": "…"}` | EventBridge's input transformer: see [`template`] |
//! | `cloudevent` | `{"kind": "cloudevent", "set": {…}, "data": <transform>}` | a new CloudEvent: see [`cloudevent`] |
//!
//! The output is an [`Output`]: a JSON value, JSON text rendered by a JSON template (valid by
//! construction and deliberately not re-parsed: a target sends bytes, and parsing them back
//! into a tree would cost more than rendering them), or plain text from a template that is not
//! JSON. [`Output::content_type`] says which media type a target should send it as.
//!
//! Unknown members are errors, so a typo (`"tempalte"`) is caught when the rule is saved rather
//! than silently falling back to a default.

pub mod cloudevent;
pub mod constant;
mod error;
pub mod event;
pub mod jsonpath;
mod members;
pub mod template;

use serde_json::Value;

pub use cloudevent::CloudEvent;
pub use constant::Constant;
pub use error::TransformError;
pub use jsonpath::Extract;
pub use template::Template;

/// How deep `cloudevent` transforms may nest through their `data` member.
const MAX_DEPTH: usize = 8;

/// What a transform may read besides the event. Both values are passed in: the crate has no
/// clock and no knowledge of rules.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The rule's name (`<railyard.rule-name>`, `<aws.events.rule-name>`).
    pub rule_name: &'a str,
    /// When the bus received the event, as an RFC 3339 timestamp in UTC
    /// (`2024-05-01T12:00:00.123Z`), substituted as is for
    /// `<railyard.event.ingestion-time>` / `<aws.events.event.ingestion-time>`.
    pub ingestion_time: &'a str,
}

/// What a transform produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A JSON value (kinds `event`, `constant`, `jsonpath`, `cloudevent`).
    Json(Value),
    /// Minified JSON text from a JSON template; valid JSON by construction.
    JsonText(String),
    /// Plain text from a template that is not JSON.
    Text(String),
}

impl Output {
    /// The media type to send the output as.
    pub fn content_type(&self) -> &'static str {
        match self {
            Output::Json(_) | Output::JsonText(_) => "application/json",
            Output::Text(_) => "text/plain; charset=utf-8",
        }
    }

    /// The output as a JSON value: JSON text is parsed, plain text becomes a JSON string.
    pub fn into_value(self) -> Value {
        match self {
            Output::Json(v) => v,
            Output::JsonText(text) => match serde_json::from_str(&text) {
                Ok(v) => v,
                // Unreachable by construction; keep the text rather than lose it.
                Err(_) => Value::String(text),
            },
            Output::Text(text) => Value::String(text),
        }
    }

    /// The bytes to send: compact JSON, or the text as is.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Output::Json(v) => v.to_string().into_bytes(),
            Output::JsonText(text) | Output::Text(text) => text.into_bytes(),
        }
    }
}

/// A compiled transform.
#[derive(Debug, Clone, Default)]
pub enum Transform {
    /// The event as is.
    #[default]
    Event,
    /// A constant value.
    Constant(Constant),
    /// A JSONPath extract.
    JsonPath(Extract),
    /// EventBridge's input transformer.
    Template(Template),
    /// A rewritten CloudEvent.
    CloudEvent(CloudEvent),
}

impl Transform {
    /// Compiles a transform object. Errors name a JSON pointer relative to the transform object
    /// (`/paths/order`, `/data/template`).
    pub fn parse(transform: &Value) -> Result<Transform, TransformError> {
        Transform::parse_nested(transform, 0)
    }

    pub(crate) fn parse_nested(
        transform: &Value,
        depth: usize,
    ) -> Result<Transform, TransformError> {
        let Value::Object(map) = transform else {
            return Err(TransformError::new(
                "",
                "a transform is an object such as {\"kind\": \"event\"}",
            ));
        };
        if depth > MAX_DEPTH {
            return Err(TransformError::new(
                "",
                format!("transforms nest at most {MAX_DEPTH} levels deep"),
            ));
        }
        let kind = match map.get("kind") {
            None => "event",
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) => {
                return Err(TransformError::new(
                    "/kind",
                    "\"kind\" is a string: event, constant, jsonpath, template or cloudevent",
                ));
            }
        };
        match kind {
            "event" => event::parse(map).map(|()| Transform::Event),
            "constant" => Constant::parse(map).map(Transform::Constant),
            "jsonpath" => Extract::parse(map).map(Transform::JsonPath),
            "template" => Template::parse(map).map(Transform::Template),
            "cloudevent" => CloudEvent::parse(map, depth).map(Transform::CloudEvent),
            other => Err(TransformError::new(
                "/kind",
                format!(
                    "unknown kind {other:?}; the kinds are: event, constant, jsonpath, template, \
                     cloudevent"
                ),
            )),
        }
    }

    /// Applies the transform to an event given as a parsed structured-JSON CloudEvent.
    ///
    /// Only a `cloudevent` rewrite can fail, when the event is not a JSON object.
    pub fn apply(&self, event: &Value, ctx: &Context<'_>) -> Result<Output, TransformError> {
        match self {
            Transform::Event => Ok(Output::Json(event.clone())),
            Transform::Constant(c) => Ok(Output::Json(c.value().clone())),
            Transform::JsonPath(e) => Ok(Output::Json(e.apply(event))),
            Transform::Template(t) => t.apply(event, ctx),
            Transform::CloudEvent(c) => c.apply(event, ctx),
        }
    }
}
