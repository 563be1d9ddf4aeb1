//! What goes wrong with a pattern: at compile time ([`PatternError`]) and, when explaining a
//! non-match, at evaluation time ([`Mismatch`]).

use std::fmt;

/// A pattern (or any filter) does not compile: where (a JSON pointer into the pattern or filter
/// object, and for filters written as text, the line and column in that text) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct PatternError {
    /// RFC 6901 pointer into the pattern (`""` is the whole pattern).
    pub pointer: String,
    /// For a filter written as text (CESQL, SQL, JSONPath): the 1-based line and column in it.
    pub position: Option<TextPosition>,
    /// What is wrong, for a person.
    pub reason: String,
}

/// A place in a filter's text, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    /// The line.
    pub line: u32,
    /// The column, in characters.
    pub column: u32,
}

impl PatternError {
    /// A new error.
    pub fn new(pointer: &str, reason: impl Into<String>) -> PatternError {
        PatternError {
            pointer: pointer.to_string(),
            position: None,
            reason: reason.into(),
        }
    }

    /// An error at a place in a filter's text (the string at `pointer`).
    pub fn in_text(
        pointer: &str,
        position: Option<TextPosition>,
        reason: impl Into<String>,
    ) -> PatternError {
        PatternError {
            pointer: pointer.to_string(),
            position,
            reason: reason.into(),
        }
    }

    fn describe(&self) -> String {
        let at = if self.pointer.is_empty() {
            "pattern"
        } else {
            &self.pointer
        };
        match self.position {
            Some(p) => format!("{at}: {}:{}: {}", p.line, p.column, self.reason),
            None => format!("{at}: {}", self.reason),
        }
    }

    /// The same error, with its pointer placed under `prefix` (a pointer itself).
    pub fn under(mut self, prefix: &str) -> PatternError {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}

/// Why a pattern did not match an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The event field, keys joined with `.` (`data.detail.state`).
    pub field: String,
    /// Where the failing condition is in the pattern (a JSON pointer).
    pub pointer: String,
    /// Why it failed, for a person.
    pub reason: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}
