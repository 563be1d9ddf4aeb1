//! A stored event (structured JSON, validated at ingest) taken apart for the binary content mode
//! of the message-broker bindings (NATS, AMQP): its attributes with their JSON types, its
//! `datacontenttype` and its data as bytes.
//!
//! The same reading as [`crate::http::binary`]: members are borrowed raw values and only the
//! strings that need it are unescaped, without building a [`bus::event::Event`]. It keeps what
//! the HTTP path throws away, the type of each attribute, because the AMQP binding sends
//! booleans and integers as native AMQP values. Member names are read as `Cow` so an escaped
//! name (which validated events cannot have) costs an allocation instead of a fallback path.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::value::RawValue;

/// One context attribute's value, with its JSON type.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr<'a> {
    /// A string (unescaped).
    Str(Cow<'a, str>),
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// Any other JSON value, as written (not expected in a valid event).
    Other(&'a str),
}

impl Attr<'_> {
    /// The canonical string form (CloudEvents type system): strings as they are, booleans as
    /// `true`/`false`, integers in decimal.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Attr::Str(s) => Cow::Borrowed(s),
            Attr::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Attr::Int(i) => Cow::Owned(i.to_string()),
            Attr::Other(raw) => Cow::Borrowed(raw),
        }
    }
}

/// An event in binary content mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts<'a> {
    /// `datacontenttype`, if the event has one.
    pub content_type: Option<Cow<'a, str>>,
    /// Every other attribute (not `data`, `data_base64` or `datacontenttype`), by name; members
    /// whose value is `null` are left out.
    pub attributes: Vec<(Cow<'a, str>, Attr<'a>)>,
    /// The data: `data_base64` decoded, a JSON string's text when the content type is not JSON,
    /// else the JSON value as written; empty when the event has none.
    pub data: Bytes,
}

impl Parts<'_> {
    /// An attribute by name.
    pub fn get(&self, name: &str) -> Option<&Attr<'_>> {
        if name == "datacontenttype" {
            return None;
        }
        self.attributes
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| &self.attributes[i].1)
    }

    /// An attribute's canonical string form, `datacontenttype` included (for templates).
    pub fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        if name == "datacontenttype" {
            return self.content_type.as_deref().map(Cow::Borrowed);
        }
        self.get(name).map(Attr::text)
    }

    /// The `id` attribute.
    pub fn id(&self) -> Option<&str> {
        match self.get("id") {
            Some(Attr::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// The text of a JSON string, borrowed when it has no escapes.
fn text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(s).ok().map(Cow::Owned)
}

/// Takes a stored event apart. Errors mean the bytes are not a JSON object of the expected
/// shape, which retrying will not change.
pub fn parts(stored: &[u8]) -> Result<Parts<'_>, String> {
    let members: BTreeMap<Cow<'_, str>, &RawValue> = serde_json::from_slice(stored)
        .map_err(|e| format!("the event to send is not a JSON object: {e}"))?;
    let content_type = match members.get("datacontenttype") {
        Some(v) if v.get() == "null" => None,
        Some(v) => Some(text(v).ok_or("datacontenttype is not a string")?),
        None => None,
    };
    let mut attributes = Vec::with_capacity(members.len());
    let mut data = None;
    let mut data_base64 = None;
    for (name, v) in members {
        match name.as_ref() {
            "data" => data = Some(v),
            "data_base64" => data_base64 = Some(v),
            "datacontenttype" => {}
            _ => {
                let raw = v.get();
                let value = match raw.as_bytes().first() {
                    Some(b'"') => Attr::Str(
                        text(v).ok_or_else(|| format!("attribute {name} is not a valid string"))?,
                    ),
                    _ if raw == "null" => continue,
                    _ if raw == "true" => Attr::Bool(true),
                    _ if raw == "false" => Attr::Bool(false),
                    _ => match raw.parse::<i64>() {
                        Ok(i) => Attr::Int(i),
                        Err(_) => Attr::Other(raw),
                    },
                };
                attributes.push((name, value));
            }
        }
    }
    let data = match (data_base64, data) {
        (Some(b64), _) if b64.get() != "null" => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(text(b64).ok_or("data_base64 is not a string")?.as_bytes())
                .map_err(|e| format!("data_base64 is not base64: {e}"))?,
        ),
        // `"data": null` travels as the JSON text `null`, as the HTTP binding's path sends it.
        (_, Some(d)) => {
            let json_type = content_type
                .as_deref()
                .is_none_or(|ct| bus::event::media_type::parse(ct).is_ok_and(|m| m.is_json()));
            if !json_type && d.get().starts_with('"') {
                Bytes::from(
                    text(d)
                        .ok_or("data is not a valid string")?
                        .into_owned()
                        .into_bytes(),
                )
            } else {
                Bytes::copy_from_slice(d.get().as_bytes())
            }
        }
        _ => Bytes::new(),
    };
    Ok(Parts {
        content_type,
        attributes,
        data,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use bus::event::Event;
    use bus::event::binary::percent_encode;

    /// The binary mapping of the full model, for comparison.
    fn full(stored: &[u8]) -> (Vec<(String, String)>, Option<String>, Vec<u8>) {
        let m = Event::from_structured_json(stored).unwrap().to_binary();
        let mut h = m.headers;
        h.sort();
        (h, m.content_type, m.body)
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
            let p = parts(c.as_bytes()).unwrap();
            let mut h: Vec<(String, String)> = p
                .attributes
                .iter()
                .map(|(n, v)| (format!("ce-{n}"), percent_encode(&v.text()).into_owned()))
                .collect();
            h.sort();
            let ct = p.content_type.as_deref().map(str::to_owned);
            assert_eq!((h, ct, p.data.to_vec()), full(c.as_bytes()), "{c}");
        }
    }

    #[test]
    fn types_and_lookups() {
        let p = parts(
            br#"{"specversion":"1.0","id":"x\"1","source":"/s","type":"t","n":-5,"flag":false,"datacontenttype":"text/plain"}"#,
        )
        .unwrap();
        assert_eq!(p.get("n"), Some(&Attr::Int(-5)));
        assert_eq!(p.get("flag"), Some(&Attr::Bool(false)));
        assert_eq!(p.id(), Some("x\"1"));
        assert_eq!(p.text("datacontenttype").as_deref(), Some("text/plain"));
        assert_eq!(p.text("type").as_deref(), Some("t"));
        assert_eq!(p.get("missing"), None);
        assert!(p.data.is_empty());
        assert!(parts(b"[1]").is_err());
    }
}
