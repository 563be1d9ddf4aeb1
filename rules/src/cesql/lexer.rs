//! The CESQL lexer: text to tokens with byte spans, so the parser can report line:column.
//!
//! It follows the reference ANTLR lexer (`CESQLLexer.g4`) with these choices:
//! - Whitespace is space, tab, CR and LF only, as there; any other character outside a string
//!   literal is an error.
//! - A word is a run of ASCII letters, digits and `_`. All digits is an integer literal; one of
//!   `AND OR XOR NOT LIKE EXISTS IN TRUE FALSE` in any case is a keyword (so these are reserved
//!   and cannot name attributes); anything else is a name, which the parser checks as an
//!   attribute (`[A-Za-z0-9]+`) or a function (`[A-Za-z][A-Za-z_]*`) depending on what follows.
//! - A sign is never part of an integer token: `-` and `+` are operators and the parser folds a
//!   sign written directly before digits into the literal (see the parser for why).
//! - String literals are delimited by `'` or `"`. Inside, a backslash and the character after it
//!   are one unit: `\'` in a `'…'` literal and `\"` in a `"…"` literal stand for the quote; every
//!   other pair is kept verbatim, backslash included, so that `LIKE` patterns keep their `\%` and
//!   `\_` escapes (the Go SDK does the same). A doubled delimiter (`'it''s'`) stands for one quote,
//!   as in SQL: the reference lexer accepts it, the spec's EBNF does not mention it.

use super::error::CesqlParseError;

/// A token kind. Literal payloads are decoded here; names keep their spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eq,
    /// `!=` or `<>`.
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
    Not,
    Like,
    Exists,
    In,
    True,
    False,
    /// Unsigned digits, as written.
    Int(String),
    /// A string literal, unescaped.
    Str(String),
    /// An attribute or function name, as written.
    Name(String),
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Plus => "'+'".into(),
            Tok::Minus => "'-'".into(),
            Tok::Star => "'*'".into(),
            Tok::Slash => "'/'".into(),
            Tok::Percent => "'%'".into(),
            Tok::Eq => "'='".into(),
            Tok::NotEq => "'!='".into(),
            Tok::Lt => "'<'".into(),
            Tok::Le => "'<='".into(),
            Tok::Gt => "'>'".into(),
            Tok::Ge => "'>='".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Xor => "XOR".into(),
            Tok::Not => "NOT".into(),
            Tok::Like => "LIKE".into(),
            Tok::Exists => "EXISTS".into(),
            Tok::In => "IN".into(),
            Tok::True => "TRUE".into(),
            Tok::False => "FALSE".into(),
            Tok::Int(d) => format!("integer {d}"),
            Tok::Str(_) => "a string literal".into(),
            Tok::Name(n) => format!("name {n:?}"),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token and its byte span in the text.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, CesqlParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        let single = |tok: Tok| Some((tok, 1));
        let op = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b',' => single(Tok::Comma),
            b'+' => single(Tok::Plus),
            b'-' => single(Tok::Minus),
            b'*' => single(Tok::Star),
            b'/' => single(Tok::Slash),
            b'%' => single(Tok::Percent),
            b'=' => single(Tok::Eq),
            b'!' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::NotEq, 2)),
            b'<' => match bytes.get(i + 1) {
                Some(b'=') => Some((Tok::Le, 2)),
                Some(b'>') => Some((Tok::NotEq, 2)),
                _ => single(Tok::Lt),
            },
            b'>' => match bytes.get(i + 1) {
                Some(b'=') => Some((Tok::Ge, 2)),
                _ => single(Tok::Gt),
            },
            _ => None,
        };
        if let Some((tok, len)) = op {
            i += len;
            tokens.push(Token { tok, start, end: i });
            continue;
        }
        if b == b'\'' || b == b'"' {
            let (value, end) = string_literal(text, start)?;
            i = end;
            tokens.push(Token {
                tok: Tok::Str(value),
                start,
                end,
            });
            continue;
        }
        if b.is_ascii_alphanumeric() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &text[start..i];
            tokens.push(Token {
                tok: word_token(word),
                start,
                end: i,
            });
            continue;
        }
        let c = text[start..].chars().next().unwrap_or('\u{fffd}');
        let reason = if c == '!' {
            "unexpected '!': the not-equal operators are '!=' and '<>'".to_string()
        } else {
            format!("unexpected character {c:?}")
        };
        return Err(CesqlParseError::at(text, start, reason));
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: text.len(),
        end: text.len(),
    });
    Ok(tokens)
}

fn word_token(word: &str) -> Tok {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return Tok::Int(word.to_string());
    }
    const KEYWORDS: [(&str, Tok); 9] = [
        ("AND", Tok::And),
        ("OR", Tok::Or),
        ("XOR", Tok::Xor),
        ("NOT", Tok::Not),
        ("LIKE", Tok::Like),
        ("EXISTS", Tok::Exists),
        ("IN", Tok::In),
        ("TRUE", Tok::True),
        ("FALSE", Tok::False),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map_or_else(|| Tok::Name(word.to_string()), |(_, t)| t.clone())
}

/// Reads the string literal whose opening quote is at byte `start`; returns its value and the
/// byte offset after the closing quote.
fn string_literal(text: &str, start: usize) -> Result<(String, usize), CesqlParseError> {
    let bytes = text.as_bytes();
    let quote = bytes[start];
    let mut value = String::new();
    let mut i = start + 1;
    // Runs of ordinary characters are copied as slices; `i` always sits on a char boundary
    // because the only bytes it stops at are ASCII.
    let mut run = i;
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err(CesqlParseError::at(
                text,
                start,
                format!(
                    "unterminated string literal: no closing {}",
                    if quote == b'\'' { "'" } else { "\"" }
                ),
            ));
        };
        if b == b'\\' {
            value.push_str(&text[run..i]);
            match text[i + 1..].chars().next() {
                Some(c) if c as u32 == u32::from(quote) => value.push(c),
                Some(c) => {
                    value.push('\\');
                    value.push(c);
                }
                None => {
                    value.push('\\');
                    i += 1;
                    run = i;
                    continue;
                }
            }
            i += 1 + text[i + 1..].chars().next().map_or(0, char::len_utf8);
            run = i;
        } else if b == quote {
            value.push_str(&text[run..i]);
            if bytes.get(i + 1) == Some(&quote) {
                value.push(char::from(quote));
                i += 2;
                run = i;
            } else {
                return Ok((value, i + 1));
            }
        } else {
            i += 1;
            // Skip a whole multi-byte character so slicing stays on boundaries.
            while i < bytes.len() && !text.is_char_boundary(i) {
                i += 1;
            }
        }
    }
}
