//! What goes wrong with a pattern: at compile time ([`PatternError`]) and, when explaining a
//! non-match, at evaluation time ([`Mismatch`]).

use std::fmt;

/// A pattern does not compile: where (a JSON pointer into the pattern) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}", pointer = if self.pointer.is_empty() { "pattern" } else { &self.pointer })]
pub struct PatternError {
    /// RFC 6901 pointer into the pattern (`""` is the whole pattern).
    pub pointer: String,
    /// What is wrong, for a person.
    pub reason: String,
}

impl PatternError {
    /// A new error.
    pub fn new(pointer: &str, reason: impl Into<String>) -> PatternError {
        PatternError {
            pointer: pointer.to_string(),
            reason: reason.into(),
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
