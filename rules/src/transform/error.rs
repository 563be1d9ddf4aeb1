//! What goes wrong with a transform: where (a JSON pointer into the transform object) and why,
//! keeping the underlying error (a JSONPath compile error, a serialisation error) as the source.

use std::error::Error;
use std::sync::Arc;

use crate::jsonpath::PathError;

/// A transform does not compile, or (rarely: a `cloudevent` rewrite of an event that is not an
/// object) cannot be applied.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {reason}", if self.pointer.is_empty() { "transform" } else { &self.pointer })]
pub struct TransformError {
    /// RFC 6901 pointer into the transform object (`""` is the whole transform,
    /// `/paths/order`, `/data/template`).
    pub pointer: String,
    /// What is wrong, for a person.
    pub reason: String,
    /// The error underneath, when there is one.
    #[source]
    pub source: Option<Arc<dyn Error + Send + Sync>>,
}

impl TransformError {
    /// A new error without a source.
    pub fn new(pointer: &str, reason: impl Into<String>) -> TransformError {
        TransformError {
            pointer: pointer.to_string(),
            reason: reason.into(),
            source: None,
        }
    }

    /// A JSONPath compile error at `pointer`; the reason repeats the path's column and reason.
    pub fn path(pointer: &str, error: PathError) -> TransformError {
        TransformError {
            pointer: pointer.to_string(),
            reason: error.to_string(),
            source: Some(Arc::new(error)),
        }
    }

    /// The same error, with its pointer placed under `prefix` (a pointer itself).
    pub fn under(mut self, prefix: &str) -> TransformError {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}
