//! GitHub deliveries as CloudEvents (docs.github.com, "Webhook events and payloads").
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | `X-GitHub-Delivery` (GitHub's delivery GUID; a redelivery keeps it) |
//! | `type` | `com.github.<X-GitHub-Event>` and `.<action>` when the payload has one (`com.github.pull_request.opened`) |
//! | `source` | the repository's `html_url`, else the organization's, else `https://github.com` |
//! | `subject` | the pull request or issue number, the ref of a push, else absent |
//! | `time` | absent (GitHub sends none; the bus records the ingestion time) |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, byte for byte |
//! | `githubhookid` | `X-GitHub-Hook-ID`, when sent |
//!
//! The `ping` event GitHub sends when a webhook is created is answered 200 without an event.

use bus::event::{Data, Event, ExtensionValue};
use serde_json::Value;

/// What a GitHub delivery becomes.
#[derive(Debug)]
pub enum Mapped {
    /// An event for the bus.
    Event(Box<Event>),
    /// `ping`: answer 200 and store nothing.
    Ping,
}

/// Why a delivery cannot be mapped (after its signature was verified).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// A header GitHub always sends is absent.
    #[error("the {0} header is missing")]
    Missing(&'static str),
    /// The body is not a JSON object.
    #[error("the payload is not a JSON object: {0}")]
    Payload(String),
}

fn header_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Maps a verified delivery: its `X-GitHub-Event`, `X-GitHub-Delivery` and `X-GitHub-Hook-ID`
/// headers and its JSON body.
pub fn map(
    event: Option<&str>,
    delivery: Option<&str>,
    hook_id: Option<&str>,
    body: &[u8],
) -> Result<Mapped, MapError> {
    let kind = event.ok_or(MapError::Missing("X-GitHub-Event"))?;
    if kind == "ping" {
        return Ok(Mapped::Ping);
    }
    if !header_safe(kind) {
        return Err(MapError::Payload(format!(
            "X-GitHub-Event {kind:?} is not an event name"
        )));
    }
    let id = delivery.ok_or(MapError::Missing("X-GitHub-Delivery"))?;
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| MapError::Payload(e.to_string()))?;
    if !payload.is_object() {
        return Err(MapError::Payload("a JSON object was expected".into()));
    }
    let mut ty = format!("com.github.{kind}");
    if let Some(action) = payload
        .get("action")
        .and_then(Value::as_str)
        .filter(|a| header_safe(a))
    {
        ty.push('.');
        ty.push_str(action);
    }
    let source = payload
        .pointer("/repository/html_url")
        .or_else(|| payload.pointer("/organization/html_url"))
        .and_then(Value::as_str)
        .unwrap_or("https://github.com");
    let mut ev = Event::new(id, source, ty);
    ev.subject = payload
        .pointer("/pull_request/number")
        .or_else(|| payload.pointer("/issue/number"))
        .map(|n| n.to_string())
        .or_else(|| {
            payload
                .get("ref")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    ev.datacontenttype = Some("application/json".into());
    ev.data = Some(Data::json(body).map_err(|e| MapError::Payload(e.to_string()))?);
    if let Some(h) = hook_id.filter(|h| !h.is_empty()) {
        ev.extensions
            .insert("githubhookid".into(), ExtensionValue::String(h.to_owned()));
    }
    Ok(Mapped::Event(Box::new(ev)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pull_request_and_push_and_ping() {
        let body = br#"{"action":"opened","number":7,"pull_request":{"number":7},"repository":{"html_url":"https://github.com/acme/app"}}"#;
        let Mapped::Event(ev) = map(Some("pull_request"), Some("d-1"), Some("42"), body).unwrap()
        else {
            panic!("an event");
        };
        assert_eq!(ev.ty, "com.github.pull_request.opened");
        assert_eq!(ev.source, "https://github.com/acme/app");
        assert_eq!(ev.id, "d-1");
        assert_eq!(ev.subject.as_deref(), Some("7"));
        assert_eq!(
            ev.extensions["githubhookid"],
            ExtensionValue::String("42".into())
        );
        ev.validate().unwrap();
        let push =
            br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/acme/app"}}"#;
        let Mapped::Event(ev) = map(Some("push"), Some("d-2"), None, push).unwrap() else {
            panic!("an event");
        };
        assert_eq!(ev.ty, "com.github.push");
        assert_eq!(ev.subject.as_deref(), Some("refs/heads/main"));
        assert!(matches!(
            map(Some("ping"), Some("d-3"), None, b"{}").unwrap(),
            Mapped::Ping
        ));
        assert_eq!(
            map(None, Some("d"), None, b"{}").unwrap_err(),
            MapError::Missing("X-GitHub-Event")
        );
        assert_eq!(
            map(Some("push"), None, None, b"{}").unwrap_err(),
            MapError::Missing("X-GitHub-Delivery")
        );
        assert!(matches!(
            map(Some("push"), Some("d"), None, b"[1]"),
            Err(MapError::Payload(_))
        ));
    }
}
