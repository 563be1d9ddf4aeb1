//! Errors of CESQL: one compile-time error ([`CesqlParseError`], with line and column) and the
//! evaluation errors ([`EvalError`]) that travel beside the value, as the spec's "error list".
//!
//! Evaluation errors are values, not failures: the spec makes every operator total, so an
//! evaluation always has a result and zero or more errors. Their [`ErrorKind`] is the spec's
//! error type (section 3.3), named as the TCK names it (`missingAttribute`, …).

use std::fmt;
use std::num::ParseIntError;
use std::sync::Arc;

/// The error types every CESQL engine must support (spec section 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The text is not a CESQL expression (only ever a [`CesqlParseError`]).
    Parse,
    /// Division or modulo by zero; `ABS` of the smallest integer.
    Math,
    /// An implicit or explicit cast that cannot be done (`INT('abc')`, `'abc' = TRUE`).
    Cast,
    /// An attribute the event does not have.
    MissingAttribute,
    /// A function that does not exist with that number of arguments.
    MissingFunction,
    /// A function refused its arguments (`LEFT('abc', -1)`).
    FunctionEvaluation,
    /// Anything else (a filter whose result is not a Boolean).
    Generic,
}

impl ErrorKind {
    /// The name the TCK uses for this kind (`missingAttribute`, `functionEvaluation`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Parse => "parse",
            ErrorKind::Math => "math",
            ErrorKind::Cast => "cast",
            ErrorKind::MissingAttribute => "missingAttribute",
            ErrorKind::MissingFunction => "missingFunction",
            ErrorKind::FunctionEvaluation => "functionEvaluation",
            ErrorKind::Generic => "generic",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error met while evaluating an expression against one event. The expression still has a
/// value (see the module documentation); this says what went wrong on the way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} error: {message}")]
pub struct EvalError {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<CastSource>,
}

impl EvalError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> EvalError {
        EvalError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn missing_attribute(name: &Arc<str>) -> EvalError {
        EvalError::new(
            ErrorKind::MissingAttribute,
            format!("the event has no attribute {name:?}"),
        )
    }

    pub(crate) fn with_source(mut self, source: ParseIntError) -> EvalError {
        self.source = Some(CastSource(source));
        self
    }

    /// The spec's error type.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What went wrong, for a person.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The underlying error of a failed String to Integer cast, kept as the [`EvalError`]'s source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct CastSource(#[from] ParseIntError);

/// Why a text is not a CESQL expression, and where: `line` and `column` are 1-based and count
/// characters (Unicode scalar values), tabs as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {reason}")]
pub struct CesqlParseError {
    /// 1-based line of the offending token.
    pub line: u32,
    /// 1-based column (in characters) of the offending token.
    pub column: u32,
    /// What was expected or is wrong.
    pub reason: String,
    /// The integer parser's error, for an integer literal out of the 32-bit range.
    #[source]
    pub source: Option<ParseIntError>,
}

impl CesqlParseError {
    /// The error kind, always [`ErrorKind::Parse`]: lets callers treat compile and evaluation
    /// errors alike.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Parse
    }

    pub(crate) fn at(text: &str, offset: usize, reason: impl Into<String>) -> CesqlParseError {
        let (line, column) = line_column(text, offset);
        CesqlParseError {
            line,
            column,
            reason: reason.into(),
            source: None,
        }
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`. Lines end at `\n`; a
/// `\r` before it belongs to the line it ends.
pub(crate) fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}
