//! A stored event (structured JSON, validated at ingest) to a binary-mode message, without
//! building an [`bus::event::Event`]: the members are read as borrowed raw values and only the
//! strings that need it are unescaped. The result is the same as [`Event::to_binary`]'s (same
//! headers, same body); the full parse and validation were measured as the largest cost of a
//! binary-mode delivery, and the stored form needs neither. Anything unexpected (escaped member
//! names, which validated events cannot have) falls back to the full path.
//!
//! [`Event::to_binary`]: bus::event::Event::to_binary

use std::collections::BTreeMap;

use base64::Engine as _;
use bus::event::binary::percent_encode;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::value::RawValue;

/// Headers (`Content-Type` first, when there is one) and body.
pub type Message = (Vec<(HeaderName, HeaderValue)>, Bytes);

/// The text of a JSON string, borrowed when it has no escapes.
fn text(raw: &RawValue) -> Option<std::borrow::Cow<'_, str>> {
    let s = raw.get();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(s)
        .ok()
        .map(std::borrow::Cow::Owned)
}

/// Converts a stored event; `None` when the fast path does not apply.
pub fn fast(stored: &[u8]) -> Option<Message> {
    let members: BTreeMap<&str, &RawValue> = serde_json::from_slice(stored).ok()?;
    let mut headers = Vec::with_capacity(members.len() + 1);
    let content_type = match members.get("datacontenttype") {
        Some(v) => Some(text(v)?),
        None => None,
    };
    if let Some(ct) = &content_type {
        headers.push((http::header::CONTENT_TYPE, HeaderValue::from_str(ct).ok()?));
    }
    let mut name = Vec::with_capacity(32);
    for (k, v) in &members {
        if matches!(*k, "data" | "data_base64" | "datacontenttype") {
            continue;
        }
        let raw = v.get();
        let value = if raw.starts_with('"') {
            text(v)?
        } else if raw == "null" {
            continue;
        } else {
            std::borrow::Cow::Borrowed(raw)
        };
        name.clear();
        name.extend_from_slice(b"ce-");
        name.extend_from_slice(k.as_bytes());
        headers.push((
            HeaderName::from_bytes(&name).ok()?,
            HeaderValue::from_str(&percent_encode(&value)).ok()?,
        ));
    }
    let body = if let Some(b64) = members.get("data_base64") {
        Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(text(b64)?.as_bytes())
                .ok()?,
        )
    } else if let Some(data) = members.get("data") {
        let json_type = content_type
            .as_deref()
            .is_none_or(|ct| bus::event::media_type::parse(ct).is_ok_and(|m| m.is_json()));
        match (json_type, data.get().starts_with('"')) {
            (false, true) => Bytes::from(text(data)?.into_owned()),
            _ => Bytes::copy_from_slice(data.get().as_bytes()),
        }
    } else {
        Bytes::new()
    };
    Some((headers, body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use bus::event::Event;

    fn full(stored: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
        let m = Event::from_structured_json(stored).unwrap().to_binary();
        let mut h: Vec<(String, String)> = m.headers;
        if let Some(ct) = m.content_type {
            h.push(("content-type".into(), ct));
        }
        h.sort();
        (h, m.body)
    }

    #[test]
    fn same_as_the_full_conversion() {
        let cases = [
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":{"a":[1,"\u00e9"]}}"#,
            r#"{"specversion":"1.0","id":"caf\u00e9 \"x\"","source":"/s","type":"t","subject":"a b","time":"2026-01-01T00:00:00Z","n":5,"flag":true,"ext":"v%"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"h\u00e9 llo\n"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"just a string"}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}"#,
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":null}"#,
        ];
        for c in cases {
            let (headers, body) = fast(c.as_bytes()).unwrap();
            let mut h: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                .collect();
            h.sort();
            assert_eq!((h, body.to_vec()), full(c.as_bytes()), "{c}");
        }
    }
}
