//! The one error type of the event model.
//!
//! Every rejection of an event names the attribute at fault and the rule it broke, because the
//! person reading a 400 has to fix exactly one field of their producer and should not have to guess
//! which. The HTTP edge (`sources::ingest`) maps this onto RFC 9457 problem details; the log uses
//! the same type when a stored record fails to decode.

use std::fmt;

/// Why an event was refused.
///
/// `attribute` is the CloudEvents attribute (or JSON member) at fault: `"id"`, `"source"`,
/// `"time"`, an extension name such as `"myext"`, `"data"`, `"data_base64"`. It is empty when the
/// problem is the document as a whole (JSON that does not parse, or that is not an object); for
/// JSON syntax errors `position` holds serde_json's (line, column), and the reason repeats it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Render(self))]
pub struct EventError {
    /// The attribute or member at fault; empty for whole-document problems.
    pub attribute: String,
    /// The rule broken, in words a producer can act on.
    pub reason: String,
    /// (line, column), both 1-based, of a JSON syntax error; `None` otherwise.
    pub position: Option<(usize, usize)>,
}

impl EventError {
    /// A rule broken by one attribute.
    pub fn new(attribute: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            attribute: attribute.into(),
            reason: reason.into(),
            position: None,
        }
    }

    /// A required attribute that is absent (or JSON `null`, which means absent).
    pub fn missing(attribute: &str) -> Self {
        Self::new(attribute, "is required")
    }

    /// JSON that does not parse, inside `attribute` (empty for the whole document). The reason keeps
    /// serde_json's message, which ends with "at line L column C".
    pub fn json(attribute: &str, err: &serde_json::Error) -> Self {
        Self {
            attribute: attribute.to_owned(),
            reason: format!("invalid JSON: {err}"),
            position: Some((err.line(), err.column())),
        }
    }
}

/// Display helper: `attribute 'source': must be …`, or just the reason for document-level errors.
struct Render<'a>(&'a EventError);

impl fmt::Display for Render<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.attribute.is_empty() {
            f.write_str(&self.0.reason)
        } else {
            write!(f, "attribute '{}': {}", self.0.attribute, self.0.reason)
        }
    }
}
