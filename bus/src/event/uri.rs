//! RFC 3986 syntax checks for `source` (a URI-reference) and `dataschema` (a URI).
//!
//! Only the syntax is checked, never whether the URI resolves: CloudEvents says `source` is a
//! URI-reference and producers use every shape of it (`/mycontext`, `my-service`, `urn:a:b`,
//! `https://x.y/z?q#f`). Rules and consumers match on `source` as a string, so a value that is not
//! a URI-reference would only surface later as a confusing non-match; refusing it at ingest with
//! the exact index of the offending character is kinder.
//!
//! The checker is a single left-to-right pass over the ABNF of RFC 3986 (appendix A), no regex and
//! no allocation: it runs for every ingested event. It does not normalise and does not decode.

use std::fmt;
use std::net::Ipv6Addr;

/// Why a string is not a URI (reference); the message names the index and the character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriError(String);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UriError {}

/// Checks an RFC 3986 `URI-reference` (an absolute URI or a relative reference). Returns the scheme
/// when there is one. The empty string is a valid (empty) relative reference.
pub fn check_reference(s: &str) -> Result<Option<&str>, UriError> {
    let b = s.as_bytes();
    // A ':' before the first '/', '?' or '#' means the part before it must be a scheme: RFC 3986
    // forbids a colon in the first segment of a relative path (path-noscheme).
    let first_delim = b
        .iter()
        .position(|&c| matches!(c, b':' | b'/' | b'?' | b'#'));
    let (scheme, rest_start) = match first_delim {
        Some(i) if b[i] == b':' => {
            check_scheme(&b[..i])?;
            (Some(&s[..i]), i + 1)
        }
        _ => (None, 0),
    };
    check_after_scheme(b, rest_start)?;
    Ok(scheme)
}

/// Checks an RFC 3986 `URI`: a reference that has a scheme (a fragment is allowed, as CloudEvents'
/// `dataschema` is typed URI, not absolute-URI).
pub fn check_absolute(s: &str) -> Result<&str, UriError> {
    match check_reference(s)? {
        Some(scheme) => Ok(scheme),
        None => Err(UriError(
            "has no scheme (expected an absolute URI such as https://example.com/schema)".into(),
        )),
    }
}

fn check_scheme(b: &[u8]) -> Result<(), UriError> {
    let Some(&first) = b.first() else {
        return Err(UriError("empty scheme before ':' at index 0".into()));
    };
    if !first.is_ascii_alphabetic() {
        return Err(UriError(format!(
            "{} at index 0 cannot start a scheme, and a colon is not allowed in the first segment \
             of a relative reference",
            describe(first)
        )));
    }
    for (i, &c) in b.iter().enumerate().skip(1) {
        if !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')) {
            return Err(UriError(format!(
                "{} at index {i} is not allowed in a scheme, and a colon is not allowed in the \
                 first segment of a relative reference",
                describe(c)
            )));
        }
    }
    Ok(())
}

/// Checks `hier-part [ "?" query ] [ "#" fragment ]` (or the relative-part equivalent) starting at
/// `start`. Indexes in messages are relative to the whole string.
fn check_after_scheme(b: &[u8], start: usize) -> Result<(), UriError> {
    let mut i = start;
    if b[i..].starts_with(b"//") {
        let auth_start = i + 2;
        let auth_end = b[auth_start..]
            .iter()
            .position(|&c| matches!(c, b'/' | b'?' | b'#'))
            .map_or(b.len(), |p| auth_start + p);
        check_authority(b, auth_start, auth_end)?;
        i = auth_end;
    }
    // path: pchar and '/'
    while i < b.len() && b[i] != b'?' && b[i] != b'#' {
        i = check_char(b, i, b"/:@", "path")?;
    }
    if i < b.len() && b[i] == b'?' {
        i += 1;
        while i < b.len() && b[i] != b'#' {
            i = check_char(b, i, b"/?:@", "query")?;
        }
    }
    if i < b.len() && b[i] == b'#' {
        i += 1;
        while i < b.len() {
            i = check_char(b, i, b"/?:@", "fragment")?;
        }
    }
    Ok(())
}

fn check_authority(b: &[u8], start: usize, end: usize) -> Result<(), UriError> {
    let mut host_start = start;
    if let Some(at) = b[start..end].iter().position(|&c| c == b'@') {
        let mut i = start;
        while i < start + at {
            i = check_char(b, i, b":", "userinfo")?;
        }
        host_start = start + at + 1;
    }
    let mut i = host_start;
    if b.get(i) == Some(&b'[') {
        let Some(close) = b[i..end].iter().position(|&c| c == b']') else {
            return Err(UriError(format!(
                "'[' at index {i} opens an IP literal that is never closed"
            )));
        };
        let inner = &b[i + 1..i + close];
        check_ip_literal(inner, i + 1)?;
        i += close + 1;
        if i < end && b[i] != b':' {
            return Err(UriError(format!(
                "{} at index {i} is not allowed after an IP literal (expected ':' and a port)",
                describe(b[i])
            )));
        }
    } else {
        // reg-name (IPv4 addresses are a subset of it syntactically)
        while i < end && b[i] != b':' {
            i = check_char(b, i, b"", "host")?;
        }
    }
    if i < end {
        // b[i] == ':' : the port is digits only
        for (j, &c) in b[i + 1..end].iter().enumerate() {
            if !c.is_ascii_digit() {
                return Err(UriError(format!(
                    "{} at index {} is not allowed in a port (digits only)",
                    describe(c),
                    i + 1 + j
                )));
            }
        }
    }
    Ok(())
}

fn check_ip_literal(inner: &[u8], at: usize) -> Result<(), UriError> {
    if let Some((b'v' | b'V', rest)) = inner.split_first() {
        // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        let hex = rest.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        let tail = &rest[hex..];
        let ok = hex > 0
            && tail.len() > 1
            && tail[0] == b'.'
            && tail[1..]
                .iter()
                .all(|&c| is_unreserved(c) || is_sub_delim(c) || c == b':');
        return if ok {
            Ok(())
        } else {
            Err(UriError(format!(
                "IP literal at index {at} is not a valid IPvFuture address"
            )))
        };
    }
    let valid = std::str::from_utf8(inner)
        .ok()
        .is_some_and(|t| t.parse::<Ipv6Addr>().is_ok());
    if valid {
        Ok(())
    } else {
        Err(UriError(format!(
            "IP literal at index {at} is not a valid IPv6 address"
        )))
    }
}

/// Checks one unreserved / sub-delim / pct-encoded character, or one of `extra`, at `i`; returns the
/// index after it.
fn check_char(b: &[u8], i: usize, extra: &[u8], part: &str) -> Result<usize, UriError> {
    let c = b[i];
    if is_unreserved(c) || is_sub_delim(c) || extra.contains(&c) {
        return Ok(i + 1);
    }
    if c == b'%' {
        let ok = b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
        return if ok {
            Ok(i + 3)
        } else {
            Err(UriError(format!(
                "'%' at index {i} is not followed by two hexadecimal digits"
            )))
        };
    }
    Err(UriError(format!(
        "{} at index {i} is not allowed in the {part}",
        describe(c)
    )))
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(c: u8) -> bool {
    matches!(
        c,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Names a byte for an error message: `space`, `'<'`, `non-ASCII byte 0xC3`, `control byte 0x0A`.
fn describe(c: u8) -> String {
    match c {
        b' ' => "space".to_owned(),
        0x21..=0x7e => format!("'{}'", c as char),
        0x80.. => format!("non-ASCII byte 0x{c:02X}"),
        _ => format!("control byte 0x{c:02X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_references() {
        for s in [
            "",
            "/mycontext",
            "my-service",
            "urn:a:b",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "https://x.y/z?q#f",
            "https://user:pw@example.com:8080/a/b;c=d?x=1&y=%20#frag/?",
            "http://[::1]:80/",
            "http://[2001:db8::7]/c=GB?objectClass?one",
            "http://[v7.fe80::a+en1]/",
            "//authority-only",
            "mailto:John.Doe@example.com",
            "./this:that",
            "?query-only",
            "#frag",
            "a/b:c",
            "http://host:/empty-port",
        ] {
            assert!(
                check_reference(s).is_ok(),
                "{s:?}: {:?}",
                check_reference(s)
            );
        }
        assert_eq!(check_reference("urn:a:b"), Ok(Some("urn")));
        assert_eq!(check_reference("/x"), Ok(None));
    }

    #[test]
    fn invalid_references() {
        let cases = [
            ("a b", "space at index 1 is not allowed in the path"),
            (
                "/caf\u{e9}",
                "non-ASCII byte 0xC3 at index 4 is not allowed in the path",
            ),
            (
                "/x%zz",
                "'%' at index 2 is not followed by two hexadecimal digits",
            ),
            (
                "/x%4",
                "'%' at index 2 is not followed by two hexadecimal digits",
            ),
            (
                "1a:b",
                "'1' at index 0 cannot start a scheme, and a colon is not allowed in the first \
                 segment of a relative reference",
            ),
            (":b", "empty scheme before ':' at index 0"),
            (
                "http://[::1/x",
                "'[' at index 7 opens an IP literal that is never closed",
            ),
            (
                "http://[::g]/",
                "IP literal at index 8 is not a valid IPv6 address",
            ),
            (
                "http://h:8o/",
                "'o' at index 10 is not allowed in a port (digits only)",
            ),
            ("http://a]b/", "']' at index 8 is not allowed in the host"),
            ("/a#b#c", "'#' at index 4 is not allowed in the fragment"),
            ("/a<b", "'<' at index 2 is not allowed in the path"),
            (
                "/a\nb",
                "control byte 0x0A at index 2 is not allowed in the path",
            ),
            (
                "http://[::1]x/",
                "'x' at index 12 is not allowed after an IP literal (expected ':' and a port)",
            ),
        ];
        for (s, msg) in cases {
            assert_eq!(check_reference(s), Err(UriError(msg.into())), "{s:?}");
        }
    }

    #[test]
    fn absolute() {
        assert_eq!(check_absolute("https://s.example/v1#x"), Ok("https"));
        assert_eq!(check_absolute("urn:schema:1"), Ok("urn"));
        assert!(check_absolute("/relative").is_err());
        assert!(check_absolute("relative").is_err());
        assert!(check_absolute("1http://x").is_err());
    }
}
