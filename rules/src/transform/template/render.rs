//! Writing a placeholder's value into the output, escaped for where it stands.
//!
//! | value | inside a JSON string | a whole JSON value | text template |
//! | --- | --- | --- | --- |
//! | string | escaped content (`"` `\` newlines and control characters) | quoted and escaped | as is |
//! | number, boolean, null | its JSON text (`5`, `true`, `null`) | its JSON text | its JSON text |
//! | object, array | its compact JSON, escaped | its compact JSON, as is | its compact JSON |
//! | missing (path selected nothing) | nothing | `""` | nothing |
//!
//! Escaping follows serde_json's (and RFC 8259's minimum): `\"`, `\\`, `\n`, `\r`, `\t`, `\b`,
//! `\f`, and `\u00XX` for the other control characters; everything else, non-ASCII included, is
//! written as is.

use serde_json::Value;

use super::scan::Escape;
use crate::transform::TransformError;

/// A value to write.
#[derive(Debug, Clone, Copy)]
pub(super) enum Val<'a> {
    /// The path selected nothing.
    Missing,
    /// A string that is not in the event (rule name, ingestion time).
    Str(&'a str),
    /// One node of the event.
    Node(&'a Value),
    /// Several nodes: written as an array.
    Many(&'a [&'a Value]),
    /// The event without `data` and `data_base64`: `<railyard.event>`.
    Attributes(&'a Value),
}

pub(super) fn write(out: &mut Vec<u8>, val: Val<'_>, escape: Escape) -> Result<(), TransformError> {
    let text = match val {
        Val::Str(s) => Some(s),
        Val::Node(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    match (val, text, escape) {
        (Val::Missing, _, Escape::Value) => out.extend_from_slice(b"\"\""),
        (Val::Missing, _, _) => {}
        (_, Some(s), Escape::Text) => out.extend_from_slice(s.as_bytes()),
        (_, Some(s), Escape::InString) => escape_str(out, s),
        (_, Some(s), Escape::Value) => quoted(out, s),
        (_, None, Escape::InString) => {
            let mut json = Vec::with_capacity(64);
            write_json(&mut json, val)?;
            escape_str(out, &String::from_utf8_lossy(&json));
        }
        (_, None, Escape::Value | Escape::Text) => write_json(out, val)?,
    }
    Ok(())
}

/// Compact JSON of a value.
fn write_json(out: &mut Vec<u8>, val: Val<'_>) -> Result<(), TransformError> {
    match val {
        Val::Missing => out.extend_from_slice(b"\"\""),
        Val::Str(s) => quoted(out, s),
        Val::Node(v) => serde_json::to_writer(&mut *out, v).map_err(serialise)?,
        Val::Many(nodes) => {
            out.push(b'[');
            for (i, v) in nodes.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, v).map_err(serialise)?;
            }
            out.push(b']');
        }
        Val::Attributes(Value::Object(map)) => {
            out.push(b'{');
            let mut first = true;
            for (k, v) in map {
                if k == "data" || k == "data_base64" {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                quoted(out, k);
                out.push(b':');
                serde_json::to_writer(&mut *out, v).map_err(serialise)?;
            }
            out.push(b'}');
        }
        Val::Attributes(other) => serde_json::to_writer(&mut *out, other).map_err(serialise)?,
    }
    Ok(())
}

fn serialise(e: serde_json::Error) -> TransformError {
    TransformError {
        pointer: "/template".to_string(),
        reason: format!("cannot write a value as JSON: {e}"),
        source: Some(std::sync::Arc::new(e)),
    }
}

fn quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_str(out, s);
    out.push(b'"');
}

/// JSON string content, without the quotes.
pub(super) fn escape_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape_str(&mut out, s);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn escaping_matches_serde_json() {
        for s in [
            "plain",
            "a \"quote\"",
            "back\\slash",
            "new\nline\r\ttab",
            "\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "é 😀",
            "",
        ] {
            let expected = serde_json::to_string(s).unwrap_or_default();
            assert_eq!(format!("\"{}\"", escaped(s)), expected, "{s:?}");
        }
    }

    #[test]
    fn attributes_leave_out_data() {
        let event = json!({"id": "1", "data": {"x": 1}, "data_base64": "AA==", "type": "t"});
        let mut out = Vec::new();
        assert!(write(&mut out, Val::Attributes(&event), Escape::Value).is_ok());
        let got: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(got, json!({"id": "1", "type": "t"}));
    }
}
