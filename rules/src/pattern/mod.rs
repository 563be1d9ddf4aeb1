//! The EventBridge event-pattern language.
//!
//! A pattern is a JSON object shaped like the events it matches. It is matched against the
//! structured-JSON form of a CloudEvent: attributes at the top level, `data` below. Semantics, as
//! EventBridge defines them (and as aws/event-ruler implements them):
//!
//! - Every named field must match; fields not named are ignored. A leaf is always an array and
//!   matches when any of its elements matches any of the event's values at that path.
//! - Arrays in the event are "crushed": `{"a": [{"b": 1}, {"b": 2}]}` has the values 1 and 2 at
//!   `a.b`. A value array matches when any element matches. Fields under the same array of objects
//!   must be satisfied by the same element (array consistency).
//! - Exact values are typed: a string never matches a number, `"true"` never matches `true`.
//!   Numbers compare as f64 (`35`, `35.0`, `3.5e1` are equal).
//! - `prefix`, `suffix`, `equals-ignore-case`, `wildcard` and `cidr` match strings only; `numeric`
//!   matches numbers only. `anything-but` matches any present value that is not excluded (a
//!   number is "anything but" a string), never an absent field.
//! - `exists` looks at leaves only: an object-valued field does not exist as a leaf, and neither
//!   does an empty array. `null` is a value: it exists.
//! - `$or` (an array of pattern objects) may appear at any level; the pattern is normalised to
//!   alternatives (disjunctive normal form), each a list of [`Condition`]s.
//!
//! Decisions where EventBridge is silent or loose: keys are real paths (`{"a.b": …}` is not
//! `{"a": {"b": …}}`); `$or` must be an array of objects (event-ruler's fallback that treats a
//! malformed `$or` as a field name is not kept); empty objects and empty leaf arrays are errors;
//! `cidr` takes an address with or without a prefix length and ignores host bits; ignore-case
//! compares Unicode lowercase forms.

mod error;
mod explain;
mod leaf;
mod parse;
mod wildcard;

pub use error::{Mismatch, PatternError, TextPosition};
pub use leaf::{AnythingBut, Cidr, EventValue, Leaf, Range, Scalar};
pub use wildcard::Wildcard;

/// Bounds on what a pattern may be. EventBridge caps a pattern at 2,048 characters; the default
/// here is twice that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most characters of the pattern's compact JSON text.
    pub max_chars: usize,
    /// Deepest nesting of objects (`$or` members count as a level).
    pub max_depth: usize,
    /// Most alternatives after `$or` is multiplied out.
    pub max_alternatives: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_chars: 4096,
            max_depth: 32,
            max_alternatives: 1024,
        }
    }
}

/// A validated pattern, normalised to alternatives.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    alternatives: Vec<Conjunction>,
}

/// One alternative: every condition must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Conjunction {
    /// In the pattern's order.
    pub conditions: Vec<Condition>,
}

/// The condition on one field: any of the leaves matches a value at `path`, or (when `absent` is
/// set, from `{"exists": false}`) the field has no value at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Keys from the event's root to the field.
    pub path: Vec<String>,
    /// Where the leaf array is in the pattern (a JSON pointer).
    pub pointer: String,
    /// The value tests, `exists` excluded.
    pub leaves: Vec<Leaf>,
    /// `{"exists": true}` is among the leaves.
    pub present: bool,
    /// `{"exists": false}` is among the leaves.
    pub absent: bool,
}

impl Pattern {
    /// Validates and normalises a pattern.
    pub fn parse(pattern: &serde_json::Value, limits: &Limits) -> Result<Pattern, PatternError> {
        parse::parse(pattern, limits).map(|alternatives| Pattern { alternatives })
    }

    /// Parses the JSON text of a pattern, then validates it.
    pub fn from_json(text: &str, limits: &Limits) -> Result<Pattern, PatternError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            PatternError::new(
                "",
                format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
            )
        })?;
        Pattern::parse(&value, limits)
    }

    /// The alternatives (at least one).
    pub fn alternatives(&self) -> &[Conjunction] {
        &self.alternatives
    }

    /// Evaluates the pattern against a structured-JSON CloudEvent. On a non-match, names the
    /// first field (in pattern order, of the alternative that got furthest) whose condition
    /// failed, and why.
    pub fn explain(&self, event: &serde_json::Value) -> Result<(), Mismatch> {
        explain::explain(self, event)
    }

    /// Whether the pattern matches the event.
    pub fn matches_value(&self, event: &serde_json::Value) -> bool {
        self.explain(event).is_ok()
    }
}

/// Array consistency: two leaves, each given by its enclosing (array, element) pairs, may be used
/// together unless they sit in different elements of the same array.
pub(crate) fn arrays_agree<T: PartialEq>(a: &[(T, T)], b: &[(T, T)]) -> bool {
    a.iter()
        .all(|(id, i)| b.iter().all(|(id2, j)| id != id2 || i == j))
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
