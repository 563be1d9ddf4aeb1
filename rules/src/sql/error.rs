//! Why a text is not a SQL rule, and where.
//!
//! Two sources of errors: sqlparser's own (syntax), whose position only exists inside its message
//! text ("… at Line: 3, Column: 7"), and ours (unsupported constructs, unknown functions, unnamed
//! projections), placed with the span sqlparser attaches to the AST node or with the keyword that
//! introduced a clause. Both end up as one [`SqlError`] with an optional 1-based line and column
//! counted in characters, as sqlparser counts them and as [`crate::TextPosition`] expects.

use sqlparser::ast::Spanned;
use sqlparser::parser::ParserError;
use sqlparser::tokenizer::{Location, Span};

/// Why a text is not a SQL rule. `Display` is `line:column: reason` when the place is known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{reason}", place(*.line, *.column))]
pub struct SqlError {
    /// 1-based line of the offending place, when known.
    pub line: Option<u32>,
    /// 1-based column (in characters) of the offending place, when known.
    pub column: Option<u32>,
    /// What is wrong, for a person.
    pub reason: String,
    /// sqlparser's error, for a syntax error.
    #[source]
    pub source: Option<ParserError>,
}

fn place(line: Option<u32>, column: Option<u32>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{l}:{c}: "),
        (Some(l), None) => format!("{l}: "),
        _ => String::new(),
    }
}

impl SqlError {
    /// An error at a location (sqlparser's "empty" location, line 0, means unknown).
    pub(crate) fn at(location: Location, reason: impl Into<String>) -> SqlError {
        let known = location.line > 0;
        SqlError {
            line: known.then(|| to_u32(location.line)),
            column: (known && location.column > 0).then(|| to_u32(location.column)),
            reason: reason.into(),
            source: None,
        }
    }

    /// An error at the start of an AST node.
    pub(crate) fn node(node: &impl Spanned, reason: impl Into<String>) -> SqlError {
        SqlError::at(node.span().start, reason)
    }

    /// An error at the start of a span.
    pub(crate) fn span(span: Span, reason: impl Into<String>) -> SqlError {
        SqlError::at(span.start, reason)
    }

    /// An error with no position.
    pub(crate) fn nowhere(reason: impl Into<String>) -> SqlError {
        SqlError::at(Location::empty(), reason)
    }

    /// An unsupported construct, named.
    pub(crate) fn unsupported(location: Location, construct: &str) -> SqlError {
        SqlError::at(
            location,
            format!(
                "{construct} is not supported: a SQL rule is one SELECT <projection> \
                 [FROM <name>] [WHERE <condition>] over one event"
            ),
        )
    }

    /// A syntax error from sqlparser. Its message ends in "at Line: X, Column: Y" when it knows
    /// the place; "found: EOF" without a place means the end of `text`.
    pub(crate) fn syntax(text: &str, error: ParserError) -> SqlError {
        let message = match &error {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
            ParserError::RecursionLimitExceeded => format!(
                "the statement nests deeper than {} levels",
                super::statement::RECURSION_LIMIT
            ),
        };
        let (reason, location) = match split_location(&message) {
            Some((reason, location)) => (reason.to_string(), location),
            None if message.contains("found: EOF") => (message.clone(), end_of(text)),
            None => (message.clone(), Location::empty()),
        };
        SqlError {
            source: Some(error),
            ..SqlError::at(location, format!("syntax error: {reason}"))
        }
    }
}

/// Splits "reason at Line: X, Column: Y" into the reason and the location.
fn split_location(message: &str) -> Option<(&str, Location)> {
    let at = message.rfind(" at Line: ")?;
    let (reason, rest) = message.split_at(at);
    let rest = rest.strip_prefix(" at Line: ")?;
    let (line, column) = rest.split_once(", Column: ")?;
    let line = line.trim().parse().ok()?;
    let column = column.trim().parse().ok()?;
    Some((reason, Location::new(line, column)))
}

/// The location just after the last character of `text`.
fn end_of(text: &str) -> Location {
    let line = text.split('\n').count();
    let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Location::new(to_u64(line), to_u64(column))
}

fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn to_u64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_read_from_sqlparser_messages() {
        let e = SqlError::syntax(
            "SELECT a b c",
            ParserError::ParserError(
                "Expected: end of statement, found: c at Line: 1, Column: 12".into(),
            ),
        );
        assert_eq!((e.line, e.column), (Some(1), Some(12)));
        assert_eq!(
            e.reason,
            "syntax error: Expected: end of statement, found: c"
        );
        assert!(e.source.is_some());
        assert_eq!(
            e.to_string(),
            "1:12: syntax error: Expected: end of statement, found: c"
        );
    }

    #[test]
    fn eof_without_a_place_is_the_end_of_the_text() {
        let e = SqlError::syntax(
            "SELECT *\nWHERE x LIKE",
            ParserError::ParserError("Expected: an expression, found: EOF".into()),
        );
        assert_eq!((e.line, e.column), (Some(2), Some(13)));
    }

    #[test]
    fn no_place_is_no_place() {
        let e = SqlError::syntax("x", ParserError::RecursionLimitExceeded);
        assert_eq!((e.line, e.column), (None, None));
        assert!(e.reason.contains("nests deeper"), "{}", e.reason);
    }
}
