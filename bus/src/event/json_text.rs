//! JSON text kept byte-exact and shared without copying: the `data` of an event.
//!
//! A `data` member is validated once, at ingest, and after that only copied around as bytes (into
//! the log, into responses). Holding it as a [`Bytes`] slice lets a binary-mode body become the
//! event's data with no copy: the request body is already a `Bytes`, and a copy of every 1 KiB
//! body was a measurable share of the allocator's work on the ingest path.

use bytes::Bytes;
use serde_json::value::RawValue;

/// One valid JSON value, byte for byte as received, without surrounding whitespace.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonText(Bytes);

impl JsonText {
    /// Validates `bytes` as exactly one JSON value and keeps the value's bytes (a slice of the
    /// same buffer: no copy).
    pub fn parse(bytes: Bytes) -> Result<JsonText, serde_json::Error> {
        let range = {
            let raw: &RawValue = serde_json::from_slice(&bytes)?;
            let text = raw.get().as_bytes();
            let start = text.as_ptr() as usize - bytes.as_ptr() as usize;
            start..start + text.len()
        };
        Ok(JsonText(bytes.slice(range)))
    }

    /// Copies an already validated value.
    pub fn from_raw(raw: &RawValue) -> JsonText {
        JsonText(Bytes::copy_from_slice(raw.get().as_bytes()))
    }

    /// A JSON string holding `text`.
    pub fn string(text: &str) -> JsonText {
        let mut out = Vec::with_capacity(text.len() + 2);
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, text);
        JsonText(Bytes::from(out))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        // Validated as JSON (hence UTF-8) on construction; the fallback is unreachable.
        std::str::from_utf8(&self.0).unwrap_or("null")
    }

    /// The JSON text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keeps_the_value_bytes_without_surrounding_whitespace() {
        let body = Bytes::from_static(b"  {\"a\": 1.50, \"b\":[1e3]}\n");
        let j = JsonText::parse(body).unwrap();
        assert_eq!(j.get(), "{\"a\": 1.50, \"b\":[1e3]}");
        assert!(JsonText::parse(Bytes::from_static(b"{\"a\":")).is_err());
        assert!(JsonText::parse(Bytes::from_static(b"1 2")).is_err());
        assert_eq!(
            JsonText::string("h\u{e9} \"x\"").get(),
            "\"h\u{e9} \\\"x\\\"\""
        );
    }
}
