//! Reading a template once into pieces: literal text, and placeholders with the escaping their
//! position calls for.
//!
//! A placeholder is `<` + one or more of `A-Z a-z 0-9 _ - .` + `>`; any other `<` is literal
//! text (`a < b`, `x <= 5`), as EventBridge has no escape for `<` and `>`.
//!
//! Whether a template is JSON is decided by validating it with every placeholder standing for a
//! value: placeholders inside a JSON string stand for string content, the others for a whole
//! value. The stand-ins keep every byte offset, so serde_json's error positions point into the
//! template as written. The stand-in for a value is `[]` padded with spaces, which cannot merge
//! with a neighbouring token (`1<n>` must not validate as the number `10`). A template that is
//! one valid JSON value (an object, an array, a quoted string, a lone placeholder, a number…) is
//! JSON; anything else is text. A template enclosed in `{` … `}` must be valid JSON: it is
//! evidently meant as an object, and EventBridge too rejects such templates at creation.
//!
//! A JSON template is minified as it is read (whitespace outside strings dropped), as
//! EventBridge minifies what it sends, so rendering only concatenates.

use serde_json::value::RawValue;

/// How a placeholder's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// Text template: strings as is, other values as compact JSON, nothing for a missing value.
    Text,
    /// Inside a JSON string: JSON-escaped string content.
    InString,
    /// A whole JSON value: strings quoted, objects and arrays as is, `""` for a missing value.
    Value,
}

/// One piece of a scanned template.
#[derive(Debug)]
pub(super) enum Piece<'t> {
    Literal(String),
    Placeholder {
        name: &'t str,
        /// Where it starts, for errors: (line, column), both 1-based.
        at: (usize, usize),
        escape: Escape,
    },
}

/// A scanned template.
#[derive(Debug)]
pub(super) struct Scanned<'t> {
    pub json: bool,
    pub pieces: Vec<Piece<'t>>,
}

/// Where the template is wrong and why.
#[derive(Debug)]
pub(super) struct ScanError {
    pub at: (usize, usize),
    pub reason: String,
    pub source: Option<serde_json::Error>,
}

struct Found<'t> {
    start: usize,
    end: usize,
    name: &'t str,
    in_string: bool,
    /// Inside a quoted string followed by `:`, that is, an object key.
    in_key: bool,
}

pub(super) fn scan(template: &str) -> Result<Scanned<'_>, ScanError> {
    let mut found = placeholders(template);
    let masked = mask(template, &found);
    mark_strings(&masked, &mut found);
    let probe = probe(&masked, &found);
    let valid = serde_json::from_str::<&RawValue>(&probe);
    let trimmed = template.trim();
    let object_like = trimmed.starts_with('{') && trimmed.ends_with('}');
    if (valid.is_ok() || object_like)
        && let Some(f) = found.iter().find(|f| f.in_key)
    {
        return Err(ScanError {
            at: line_column(template, f.start),
            reason: format!(
                "<{}> is inside an object key; a placeholder cannot be used as an object key",
                f.name
            ),
            source: None,
        });
    }
    let json = match valid {
        Ok(_) => true,
        Err(e) if object_like => return Err(not_json(template, &found, e)),
        Err(_) => false,
    };
    let pieces = if json {
        json_pieces(template, &masked, &found)
    } else {
        text_pieces(template, &found)
    };
    Ok(Scanned { json, pieces })
}

/// (line, column) of a byte offset, both 1-based, the column counted in characters.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset)
        .map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn placeholders(template: &str) -> Vec<Found<'_>> {
    let bytes = template.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let mut j = i + 1;
            while j < bytes.len() && is_name_byte(bytes[j]) {
                j += 1;
            }
            if j > i + 1 && j < bytes.len() && bytes[j] == b'>' {
                found.push(Found {
                    start: i,
                    end: j + 1,
                    name: template.get(i + 1..j).unwrap_or_default(),
                    in_string: false,
                    in_key: false,
                });
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// The template's bytes with each placeholder replaced by `x`s: no quote or backslash can hide
/// in a placeholder, so strings can be tracked on this copy.
fn mask(template: &str, found: &[Found<'_>]) -> Vec<u8> {
    let mut masked = template.as_bytes().to_vec();
    for f in found {
        if let Some(span) = masked.get_mut(f.start..f.end) {
            span.fill(b'x');
        }
    }
    masked
}

/// Marks the placeholders inside JSON strings, and those inside object keys.
fn mark_strings(masked: &[u8], found: &mut [Found<'_>]) {
    let mut next = 0;
    let mut in_string = false;
    let mut string_first: Option<usize> = None;
    let mut i = 0;
    while i < masked.len() {
        while next < found.len() && found[next].start <= i {
            found[next].in_string = in_string;
            if in_string && string_first.is_none() {
                string_first = Some(next);
            }
            next += 1;
        }
        match (in_string, masked[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') => {
                in_string = false;
                if let Some(first) = string_first.take() {
                    let after = masked.get(i + 1..).unwrap_or_default();
                    let is_key = after
                        .iter()
                        .find(|b| !b.is_ascii_whitespace())
                        .is_some_and(|b| *b == b':');
                    for f in found.iter_mut().take(next).skip(first) {
                        f.in_key = is_key;
                    }
                }
            }
            (false, b'"') => in_string = true,
            _ => {}
        }
        i += 1;
    }
    for f in found.iter_mut().skip(next) {
        f.in_string = in_string;
    }
}

/// The masked template with each placeholder outside strings standing for a value.
fn probe(masked: &[u8], found: &[Found<'_>]) -> String {
    let mut probe = masked.to_vec();
    for f in found.iter().filter(|f| !f.in_string) {
        if let Some(span) = probe.get_mut(f.start..f.end) {
            for (k, b) in span.iter_mut().enumerate() {
                *b = match k {
                    0 => b'[',
                    1 => b']',
                    _ => b' ',
                };
            }
        }
    }
    String::from_utf8_lossy(&probe).into_owned()
}

fn not_json(template: &str, found: &[Found<'_>], e: serde_json::Error) -> ScanError {
    let offset = offset_of(template, e.line(), e.column());
    let at = line_column(template, offset);
    if let Some(f) = found.iter().find(|f| f.start == offset && !f.in_string) {
        return ScanError {
            at,
            reason: format!(
                "<{}> is in the place of an object key; a placeholder cannot be used as an \
                 object key",
                f.name
            ),
            source: Some(e),
        };
    }
    ScanError {
        at,
        reason: format!(
            "the template is enclosed in {{ }} but is not valid JSON (placeholders standing for \
             values): {}",
            strip_position(&e.to_string())
        ),
        source: Some(e),
    }
}

/// The byte offset of serde_json's (line, column); its column counts bytes, 1-based.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

fn strip_position(message: &str) -> &str {
    message
        .find(" at line ")
        .and_then(|i| message.get(..i))
        .unwrap_or(message)
}

fn text_pieces<'t>(template: &'t str, found: &[Found<'t>]) -> Vec<Piece<'t>> {
    let mut pieces = Vec::with_capacity(found.len() * 2 + 1);
    let mut last = 0;
    for f in found {
        if f.start > last {
            pieces.push(Piece::Literal(
                template.get(last..f.start).unwrap_or_default().to_string(),
            ));
        }
        pieces.push(Piece::Placeholder {
            name: f.name,
            at: line_column(template, f.start),
            escape: Escape::Text,
        });
        last = f.end;
    }
    if last < template.len() {
        pieces.push(Piece::Literal(
            template.get(last..).unwrap_or_default().to_string(),
        ));
    }
    pieces
}

/// Pieces of a valid JSON template, whitespace outside strings dropped.
fn json_pieces<'t>(template: &'t str, masked: &[u8], found: &[Found<'t>]) -> Vec<Piece<'t>> {
    let bytes = template.as_bytes();
    let mut pieces = Vec::with_capacity(found.len() * 2 + 1);
    let mut literal: Vec<u8> = Vec::new();
    let flush = |literal: &mut Vec<u8>, pieces: &mut Vec<Piece<'t>>| {
        if !literal.is_empty() {
            let text = String::from_utf8_lossy(literal).into_owned();
            pieces.push(Piece::Literal(text));
            literal.clear();
        }
    };
    let mut next = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(f) = found.get(next).filter(|f| f.start == i) {
            flush(&mut literal, &mut pieces);
            pieces.push(Piece::Placeholder {
                name: f.name,
                at: line_column(template, f.start),
                escape: if f.in_string {
                    Escape::InString
                } else {
                    Escape::Value
                },
            });
            i = f.end;
            next += 1;
            continue;
        }
        let b = bytes[i];
        match (in_string, masked[i]) {
            (true, b'\\') => {
                literal.push(b);
                if let Some(escaped) = bytes.get(i + 1) {
                    literal.push(*escaped);
                }
                i += 2;
                continue;
            }
            (true, b'"') => in_string = false,
            (false, b'"') => in_string = true,
            (false, b' ' | b'\t' | b'\n' | b'\r') => {
                i += 1;
                continue;
            }
            _ => {}
        }
        literal.push(b);
        i += 1;
    }
    flush(&mut literal, &mut pieces);
    pieces
}
