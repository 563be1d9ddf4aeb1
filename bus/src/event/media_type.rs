//! Media types (RFC 9110 §8.3.1, RFC 2045): `type/subtype *( OWS ";" OWS [ name=value ] )`.
//!
//! One parser serves both the `datacontenttype` attribute and the HTTP edge's `Content-Type`, so the
//! same string is judged the same way when it arrives as a header (binary mode) or as an attribute
//! (structured mode), and so the edge can recognise `Application/CloudEvents+JSON; charset=UTF-8`
//! as structured mode: type, subtype and parameter names are case-insensitive and are lowercased
//! here; parameter values keep their case (only some, like `charset`, are case-insensitive).
//!
//! Surrounding whitespace is tolerated, as HTTP field values are trimmed before use; everything else
//! follows the grammar exactly (tokens of `tchar`, values as token or quoted-string).

use std::fmt;

/// A parsed media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Lowercased `type/subtype`.
    essence: String,
    /// Index of the '/' in `essence`.
    slash: usize,
    /// Parameters in order: lowercased name, value (unquoted, escapes removed).
    params: Vec<(String, String)>,
}

/// Why a string is not a media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTypeError(String);

impl fmt::Display for MediaTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MediaTypeError {}

impl MediaType {
    /// Lowercased `type/subtype`, without parameters (the WHATWG "essence").
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// Lowercased top-level type (`application` in `application/json`).
    pub fn ty(&self) -> &str {
        &self.essence[..self.slash]
    }

    /// Lowercased subtype (`cloudevents+json` in `application/cloudevents+json`).
    pub fn subtype(&self) -> &str {
        &self.essence[self.slash + 1..]
    }

    /// The structured syntax suffix (RFC 6838 §4.2.8): `json` in `application/ld+json`.
    pub fn suffix(&self) -> Option<&str> {
        self.subtype().rsplit_once('+').map(|(_, s)| s)
    }

    /// The value of a parameter, by case-insensitive name; the first one if repeated.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in order, names lowercased.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// JSON content: subtype `json` or a `+json` suffix (`application/json`, `text/json`,
    /// `application/cloudevents+json`, `application/vnd.api+json`).
    pub fn is_json(&self) -> bool {
        self.subtype() == "json" || self.suffix() == Some("json")
    }

    /// Textual content that is not JSON: `text/*`, `*/xml`, `*/*+xml`.
    pub fn is_text(&self) -> bool {
        self.ty() == "text" || self.subtype() == "xml" || self.suffix() == Some("xml")
    }
}

impl fmt::Display for MediaType {
    /// The normalised form: lowercased essence, `; name=value` parameters (quoted when needed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.essence)?;
        for (n, v) in &self.params {
            if !v.is_empty() && v.bytes().all(is_tchar) {
                write!(f, "; {n}={v}")?;
            } else {
                write!(f, "; {n}=\"")?;
                for c in v.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")?;
            }
        }
        Ok(())
    }
}

/// Parses a media type; the error names the index and what was expected there.
pub fn parse(s: &str) -> Result<MediaType, MediaTypeError> {
    let b = s.as_bytes();
    let mut i = skip_ows(b, 0);
    let ty_end = token_end(b, i);
    if ty_end == i {
        return Err(expected(b, i, "a type (e.g. 'application')"));
    }
    let mut essence = String::with_capacity(s.len());
    essence.push_str(&s[i..ty_end]);
    let slash = essence.len();
    if b.get(ty_end) != Some(&b'/') {
        return Err(expected(b, ty_end, "'/' after the type"));
    }
    essence.push('/');
    i = ty_end + 1;
    let sub_end = token_end(b, i);
    if sub_end == i {
        return Err(expected(b, i, "a subtype after '/'"));
    }
    essence.push_str(&s[i..sub_end]);
    essence.make_ascii_lowercase();
    i = sub_end;

    let mut params = Vec::new();
    loop {
        i = skip_ows(b, i);
        if i == b.len() {
            break;
        }
        if b[i] != b';' {
            return Err(expected(b, i, "';' before a parameter"));
        }
        i = skip_ows(b, i + 1);
        if i == b.len() || b[i] == b';' {
            continue; // empty parameter, allowed by RFC 9110
        }
        let name_end = token_end(b, i);
        if name_end == i {
            return Err(expected(b, i, "a parameter name"));
        }
        let name = s[i..name_end].to_ascii_lowercase();
        if b.get(name_end) != Some(&b'=') {
            return Err(expected(b, name_end, "'=' after the parameter name"));
        }
        i = name_end + 1;
        let value;
        if b.get(i) == Some(&b'"') {
            (value, i) = quoted_string(s, i)?;
        } else {
            let end = token_end(b, i);
            if end == i {
                return Err(expected(
                    b,
                    i,
                    "a parameter value (a token or a quoted string)",
                ));
            }
            value = s[i..end].to_owned();
            i = end;
        }
        params.push((name, value));
    }
    Ok(MediaType {
        essence,
        slash,
        params,
    })
}

/// Parses the quoted-string starting at `start` (the opening quote); returns the unescaped value and
/// the index after the closing quote.
fn quoted_string(s: &str, start: usize) -> Result<(String, usize), MediaTypeError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match b.get(i) {
            None => {
                return Err(MediaTypeError(format!(
                    "quoted string starting at index {start} is not closed"
                )));
            }
            Some(b'"') => break,
            Some(b'\\') => match b.get(i + 1) {
                Some(&c) if c == b'\t' || c >= 0x20 && c != 0x7f => {
                    out.push(c);
                    i += 2;
                }
                _ => return Err(expected(b, i + 1, "a visible character after '\\'")),
            },
            Some(&c) if c == b'\t' || c >= 0x20 && c != 0x7f => {
                out.push(c);
                i += 1;
            }
            Some(_) => return Err(expected(b, i, "a visible character in the quoted string")),
        }
    }
    // Only ASCII bytes were removed (backslashes), so multi-byte sequences are intact.
    let value = String::from_utf8(out)
        .map_err(|_| MediaTypeError("quoted string is not valid UTF-8".into()))?;
    Ok((value, i + 1))
}

fn expected(b: &[u8], i: usize, what: &str) -> MediaTypeError {
    match b.get(i) {
        None => MediaTypeError(format!("expected {what} at index {i}, found the end")),
        Some(b' ') => MediaTypeError(format!("expected {what} at index {i}, found a space")),
        Some(&c) if c.is_ascii_graphic() => MediaTypeError(format!(
            "expected {what} at index {i}, found '{}'",
            c as char
        )),
        Some(&c) => MediaTypeError(format!(
            "expected {what} at index {i}, found byte 0x{c:02X}"
        )),
    }
}

fn skip_ows(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_tchar(b[i]) {
        i += 1;
    }
    i
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let m = parse("Application/CloudEvents+JSON; charset=UTF-8").unwrap();
        assert_eq!(m.essence(), "application/cloudevents+json");
        assert_eq!(m.ty(), "application");
        assert_eq!(m.subtype(), "cloudevents+json");
        assert_eq!(m.suffix(), Some("json"));
        assert_eq!(m.param("CHARSET"), Some("UTF-8"));
        assert!(m.is_json());
        assert!(!m.is_text());
        assert_eq!(m.to_string(), "application/cloudevents+json; charset=UTF-8");

        let m = parse(" text/plain ;format=\"a \\\"b\\\";c\" ;; x=1 ").unwrap();
        assert_eq!(
            m.params().collect::<Vec<_>>(),
            vec![("format", "a \"b\";c"), ("x", "1")]
        );
        assert_eq!(m.to_string(), "text/plain; format=\"a \\\"b\\\";c\"; x=1");
        assert!(m.is_text());
        assert!(!m.is_json());
    }

    #[test]
    fn kinds() {
        for (s, json, text) in [
            ("application/json", true, false),
            ("text/json", true, true),
            ("application/vnd.api+json", true, false),
            ("application/json-seq", false, false),
            ("application/xml", false, true),
            ("image/svg+xml", false, true),
            ("text/html;charset=utf-8", false, true),
            ("application/octet-stream", false, false),
        ] {
            let m = parse(s).unwrap();
            assert_eq!((m.is_json(), m.is_text()), (json, text), "{s}");
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            (
                "",
                "expected a type (e.g. 'application') at index 0, found the end",
            ),
            (
                "text",
                "expected '/' after the type at index 4, found the end",
            ),
            (
                "text/",
                "expected a subtype after '/' at index 5, found the end",
            ),
            (
                "te xt/plain",
                "expected '/' after the type at index 2, found a space",
            ),
            (
                "text/plain x",
                "expected ';' before a parameter at index 11, found 'x'",
            ),
            (
                "text/plain; charset",
                "expected '=' after the parameter name at index 19, found the end",
            ),
            (
                "text/plain; =x",
                "expected a parameter name at index 12, found '='",
            ),
            (
                "text/plain; a=",
                "expected a parameter value (a token or a quoted string) at index 14, found the end",
            ),
            (
                "text/plain; a=\"open",
                "quoted string starting at index 14 is not closed",
            ),
            (
                "text/pl\u{e9}in",
                "expected ';' before a parameter at index 7, found byte 0xC3",
            ),
            (
                "text/plain; a=b c",
                "expected ';' before a parameter at index 16, found 'c'",
            ),
            (
                "application/json; a=\"x\u{1}\"",
                "expected a visible character in the quoted string at index 22, found byte 0x01",
            ),
        ];
        for (s, msg) in cases {
            assert_eq!(parse(s), Err(MediaTypeError(msg.into())), "{s:?}");
        }
    }
}
