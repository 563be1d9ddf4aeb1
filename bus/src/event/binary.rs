//! An event as a binary-mode message: attributes as `ce-` headers, `datacontenttype` as the
//! content type, the data as the raw body (CloudEvents HTTP binding 1.0.2, §3.1).
//!
//! Used to serve stored events in binary mode and, later, to deliver them that way. It is the
//! exact inverse of binary-mode ingest: a binary-mode request read back this way gives the same
//! headers and byte-identical body.

use super::{Data, Event};

/// A binary-mode message, independent of any HTTP library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryMessage {
    /// `ce-<name>` headers with percent-encoded values, in attribute order.
    pub headers: Vec<(String, String)>,
    /// The `Content-Type` (the event's `datacontenttype`), if it has one.
    pub content_type: Option<String>,
    /// The data, raw.
    pub body: Vec<u8>,
}

/// Percent-encodes a header value: space, `"`, `%` and everything outside printable ASCII
/// (U+0021..U+007E) as `%XX` of its UTF-8 bytes.
pub fn percent_encode(value: &str) -> std::borrow::Cow<'_, str> {
    let needs = |c: u8| !(0x21..=0x7e).contains(&c) || c == b'"' || c == b'%';
    if !value.bytes().any(needs) {
        return std::borrow::Cow::Borrowed(value);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.bytes() {
        if needs(c) {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0xf)]));
        } else {
            out.push(char::from(c));
        }
    }
    std::borrow::Cow::Owned(out)
}

impl Event {
    /// This event as a binary-mode message.
    ///
    /// Data held as a JSON string under a non-JSON `datacontenttype` (text that arrived as a
    /// binary-mode body, or as a string in structured mode) is sent as the text itself; every
    /// other JSON value is sent as its JSON bytes, exactly as stored.
    pub fn to_binary(&self) -> BinaryMessage {
        let mut headers = Vec::with_capacity(8 + self.extensions.len());
        let mut add = |name: &str, value: &str| {
            headers.push((format!("ce-{name}"), percent_encode(value).into_owned()))
        };
        add("specversion", &self.specversion);
        add("id", &self.id);
        add("source", &self.source);
        add("type", &self.ty);
        for (name, value) in [
            ("dataschema", &self.dataschema),
            ("subject", &self.subject),
            ("time", &self.time),
        ] {
            if let Some(v) = value {
                add(name, v);
            }
        }
        for (name, value) in &self.extensions {
            add(name, &value.to_string());
        }
        let json_type = self
            .datacontenttype
            .as_deref()
            .is_none_or(|ct| super::media_type::parse(ct).is_ok_and(|m| m.is_json()));
        let body = match &self.data {
            None => Vec::new(),
            Some(Data::Binary(b)) => b.clone(),
            Some(Data::Json(raw)) if !json_type => {
                match serde_json::from_str::<String>(raw.get()) {
                    Ok(text) => text.into_bytes(),
                    Err(_) => raw.get().as_bytes().to_vec(),
                }
            }
            Some(Data::Json(raw)) => raw.get().as_bytes().to_vec(),
        };
        BinaryMessage {
            headers,
            content_type: self.datacontenttype.clone(),
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("plain-value_1.0"), "plain-value_1.0");
        assert_eq!(percent_encode("a b\"%\u{20ac}~"), "a%20b%22%25%E2%82%AC~");
    }

    #[test]
    fn text_json_and_bytes_bodies() {
        let mut ev = Event::new("1", "/s", "t");
        ev.datacontenttype = Some("text/plain".into());
        ev.data = Some(Data::text("hé llo"));
        ev.extensions
            .insert("n".into(), super::super::ExtensionValue::Integer(5));
        let m = ev.to_binary();
        assert_eq!(m.body, "hé llo".as_bytes());
        assert!(m.headers.contains(&("ce-n".into(), "5".into())));
        ev.datacontenttype = None;
        ev.data = Some(Data::json(br#"{"a": 1}"#).unwrap());
        assert_eq!(ev.to_binary().body, br#"{"a": 1}"#);
        assert_eq!(ev.to_binary().content_type, None);
        ev.data = Some(Data::Binary(vec![0, 255]));
        assert_eq!(ev.to_binary().body, vec![0, 255]);
    }
}
