//! Percent-encoding of binary-mode header values (CloudEvents HTTP binding 1.0.2 §3.1.3.2).
//!
//! Header values are ASCII, so a producer percent-encodes space, `"`, `%` and everything outside
//! printable ASCII, as UTF-8. Decoding is lenient the way browsers' URL decoding is: a `%` that is
//! not followed by two hex digits stays literal (`100%`, `%4` at the end, `%ZZ`), because refusing
//! `100%` from a producer that never encoded anything helps nobody. What is not tolerated is a
//! decoded value that is not UTF-8 (`%FF`): CloudEvents strings are Unicode, and guessing a
//! replacement would silently change the value.

use std::borrow::Cow;

/// A decoded header value that is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    /// Index, in the decoded bytes, of the first byte that is not part of valid UTF-8.
    pub index: usize,
}

/// Decodes `%XX` sequences; bytes that are not part of a valid escape are kept as they are (raw
/// non-ASCII header bytes included). The result must be UTF-8.
pub fn decode(raw: &[u8]) -> Result<Cow<'_, str>, NotUtf8> {
    if !raw.contains(&b'%') {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|e| NotUtf8 {
                index: e.valid_up_to(),
            });
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        let escaped = match (c, raw.get(i + 1), raw.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)),
            _ => None,
        };
        match escaped {
            Some((h, l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|e| NotUtf8 {
        index: e.utf8_error().valid_up_to(),
    })
}

pub use bus::event::binary::percent_encode as encode;

fn hex(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}
