//! What a function answered, as a CloudEvent reply.
//!
//! Command (stdout):
//! - empty, or only whitespace: no reply;
//! - a JSON object with a `specversion` member: a structured CloudEvent, validated as ingest
//!   validates one (invalid: the invocation fails, see below);
//! - any other JSON value: the `data` of a new event (`application/json`);
//! - other UTF-8 text: the `data` as a string (`text/plain; charset=utf-8`), bytes exactly as
//!   written; anything else: bytes (`application/octet-stream`, `data_base64`).
//!
//! A wrapped reply is `type` [`REPLY_TYPE`], `source` `/functions/<rule>/<target>`, and an `id`
//! derived from the `source` and `id` of the event the function got (a SHA-256, 32 hex digits):
//! a redelivered invocation produces the same reply id, so consumers deduplicating on
//! `(source, id)` see one reply. A fixed type rather than `<original type>.reply`: a rule can
//! match every reply of a function by its `source`, and types do not grow with each hop of a
//! chain. No `time`: the bus records when the reply arrived.
//!
//! HTTP (an answer with a 2xx status): binary mode (`ce-` headers) or structured mode
//! (`application/cloudevents+json`) is a reply, decoded by the ingest edge's own decoder
//! ([`sources::ingest`]: the same percent-decoding, media type and validation rules as events
//! POSTed to a bus, rather than a second, laxer reader); 204, an empty structured body, or
//! anything else (a plain JSON answer, as OpenFaaS functions often give) is no reply. Batch mode
//! is refused: a reply is one event.
//!
//! A reply that claims to be a CloudEvent but is not a valid one fails the invocation as
//! [`Outcome::Fatal`](crate::http::Outcome::Fatal): the function's answer is wrong the same way
//! on every retry, and dropping the reply silently would break a chain without a trace; the dead
//! letter says why and can be redriven once the function is fixed.

use bus::event::{Data, Event};
use bytes::Bytes;
use serde_json::Value;

/// The `type` of a reply made from a command's plain output.
pub const REPLY_TYPE: &str = "com.railyard.function.reply";

/// The `source` of a function's wrapped replies.
pub fn reply_source(rule: &str, target: &str) -> String {
    format!("/functions/{rule}/{target}")
}

/// The reply id for the event `input` (its structured JSON): 32 hex digits of the SHA-256 of
/// its `source` and `id` (of the whole input if it has neither).
pub fn reply_id(input: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Cause {
        id: String,
        source: String,
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"railyard function reply\0");
    match serde_json::from_slice::<Cause>(input) {
        Ok(c) => {
            ctx.update(c.source.as_bytes());
            ctx.update(b"\0");
            ctx.update(c.id.as_bytes());
        }
        Err(_) => ctx.update(input),
    }
    let digest = ctx.finish();
    let mut id = String::with_capacity(32);
    for b in &digest.as_ref()[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// The reply in a command's stdout (see the module doc); `Err` says why it is not a valid one.
pub fn from_stdout(stdout: &[u8], input: &[u8], source: &str) -> Result<Option<Event>, String> {
    let trimmed = stdout.trim_ascii();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let (datacontenttype, data) = match serde_json::from_slice::<Value>(trimmed) {
        Ok(Value::Object(m)) if m.contains_key("specversion") => {
            return Event::from_structured_json(trimmed)
                .map(Some)
                .map_err(|e| format!("the reply is not a valid CloudEvent: {e}"));
        }
        Ok(_) => (
            "application/json",
            Data::json(trimmed).map_err(|e| format!("the reply is not JSON: {e}"))?,
        ),
        Err(_) => match std::str::from_utf8(stdout) {
            Ok(text) => ("text/plain; charset=utf-8", Data::text(text)),
            Err(_) => ("application/octet-stream", Data::Binary(stdout.to_vec())),
        },
    };
    let mut ev = Event::new(reply_id(input), source, REPLY_TYPE);
    ev.datacontenttype = Some(datacontenttype.to_owned());
    ev.data = Some(data);
    ev.validate()
        .map_err(|e| format!("the reply is not a valid CloudEvent: {e}"))?;
    Ok(Some(ev))
}

/// The reply in an HTTP function's 2xx answer (see the module doc).
pub fn from_answer(
    parts: &http::response::Parts,
    body: Bytes,
    max_bytes: usize,
) -> Result<Option<Event>, String> {
    use sources::ingest::{self, Decoded, Mode};
    if parts.status == http::StatusCode::NO_CONTENT {
        return Ok(None);
    }
    let mode = match ingest::mode_of(&parts.headers) {
        Ok(m) => m,
        // Unsupported: either not a CloudEvent at all (no reply), or a CloudEvents format this
        // bus does not read, which is a wrong reply.
        Err(e) => {
            let claims = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| {
                    ct.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("application/cloudevents")
                });
            return if claims {
                Err(format!("the reply is not a valid CloudEvent: {e}"))
            } else {
                Ok(None)
            };
        }
    };
    match mode {
        Mode::Batch => return Err("the reply is a batch; a function replies with one event".into()),
        Mode::Structured if body.trim_ascii().is_empty() => return Ok(None),
        Mode::Structured | Mode::Binary => {}
    }
    let limits = ingest::Limits {
        max_event_bytes: max_bytes,
        ..ingest::Limits::default()
    };
    match ingest::decode(mode, &parts.headers, body, &limits) {
        Ok(Decoded::Single(ev)) => Ok(Some(ev)),
        Ok(Decoded::Batch(_)) => {
            Err("the reply is a batch; a function replies with one event".into())
        }
        Err(e) => Err(format!("the reply is not a valid CloudEvent: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const INPUT: &[u8] = br#"{"specversion":"1.0","id":"e1","source":"/s","type":"t"}"#;

    fn reply(stdout: &[u8]) -> Option<Event> {
        from_stdout(stdout, INPUT, "/functions/r/t").unwrap()
    }

    #[test]
    fn stdout_kinds() {
        assert_eq!(reply(b""), None);
        assert_eq!(reply(b" \n"), None);
        let ce =
            reply(b"{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/f\",\"type\":\"done\"}\n")
                .unwrap();
        assert_eq!((ce.id.as_str(), ce.ty.as_str()), ("x", "done"));
        let j = reply(b"{\"total\": 3}\n").unwrap();
        assert_eq!(j.ty, REPLY_TYPE);
        assert_eq!(j.source, "/functions/r/t");
        assert_eq!(j.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(j.data, Some(Data::json(b"{\"total\": 3}").unwrap()));
        let t = reply(b"hello\n").unwrap();
        assert_eq!(t.data, Some(Data::text("hello\n")));
        let b = reply(&[0xff, 0x00]).unwrap();
        assert_eq!(b.data, Some(Data::Binary(vec![0xff, 0])));
        assert!(from_stdout(b"{\"specversion\":\"1.0\"}", INPUT, "/f").is_err());
    }

    #[test]
    fn reply_ids_are_deterministic() {
        let a = reply(b"1").unwrap().id;
        assert_eq!(a, reply(b"2").unwrap().id);
        assert_eq!(a.len(), 32);
        let other = reply_id(br#"{"specversion":"1.0","id":"e2","source":"/s","type":"t"}"#);
        assert_ne!(a, other);
    }
}
