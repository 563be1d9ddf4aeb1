//! The `filter` object of a rule: exactly one kind of filter. Only `pattern` exists yet; CESQL,
//! JSONPath and SQL filters join here, each compiled once when the rule is saved.

use serde_json::Value;

use crate::pattern::{Limits, Pattern, PatternError};

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// An EventBridge event pattern.
    Pattern(Pattern),
}

impl Filter {
    /// Compiles `{"pattern": {…}}`. Errors name a JSON pointer relative to the filter object
    /// (`/pattern/detail/state/0`).
    pub fn parse(filter: &Value, limits: &Limits) -> Result<Filter, PatternError> {
        let Value::Object(map) = filter else {
            return Err(PatternError::new(
                "",
                "a filter is an object such as {\"pattern\": {…}}",
            ));
        };
        let mut kinds = map.keys();
        match (kinds.next().map(String::as_str), kinds.next()) {
            (Some("pattern"), None) => {
                let pattern = &map["pattern"];
                Pattern::parse(pattern, limits)
                    .map(Filter::Pattern)
                    .map_err(|e| e.under("/pattern"))
            }
            (None, _) => Err(PatternError::new(
                "",
                "a filter names one kind: {\"pattern\": {…}}",
            )),
            (Some(_), Some(_)) => Err(PatternError::new(
                "",
                "a filter names exactly one kind (pattern)",
            )),
            (Some(other), None) => Err(PatternError::new(
                &format!("/{}", crate::pattern::escape_pointer(other)),
                format!("unknown filter kind {other:?}; the kinds are: pattern"),
            )),
        }
    }

    /// Whether the filter matches an event given as a parsed structured-JSON CloudEvent, and if
    /// not, why. As with [`Filter::parse`], the pointer is relative to the filter object
    /// (`/pattern/data/state`).
    pub fn explain(&self, event: &Value) -> Result<(), Mismatch> {
        match self {
            Filter::Pattern(p) => p.explain(event).map_err(|mut m| {
                m.pointer = format!("/pattern{}", m.pointer);
                m
            }),
        }
    }

    /// The pattern the filter matches with (every filter kind is a pattern today).
    pub fn into_pattern(self) -> Pattern {
        match self {
            Filter::Pattern(p) => p,
        }
    }
}

use crate::pattern::Mismatch;
