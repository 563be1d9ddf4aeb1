//! All the filters of a bus, whatever their kind, behind one `matches`.
//!
//! Event patterns go into one [`Matcher`], whose cost follows the event rather than the number of
//! rules. The other kinds (JSONPath, CESQL, SQL) are general expressions no index can
//! answer without running them, so they are kept in a list and run one by one on the event parsed
//! once. A bus that has only patterns never parses its events into a tree at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::filter::Filter;
use crate::matcher::{MatchError, Matcher};

/// The compiled filters of one bus, keyed by a caller's rule id.
#[derive(Debug, Default)]
pub struct Router {
    matcher: Matcher,
    /// Filters that are not patterns, by id.
    others: BTreeMap<u64, Arc<Filter>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds the filter of rule `id`, replacing what that id had.
    pub fn insert(&mut self, id: u64, filter: Arc<Filter>) {
        self.remove(id);
        match filter.pattern() {
            Some(p) => self.matcher.insert(id, Arc::new(p.clone())),
            None => {
                self.others.insert(id, filter);
            }
        }
    }

    /// Removes rule `id`; false if it was not there.
    pub fn remove(&mut self, id: u64) -> bool {
        let in_matcher = self.matcher.remove(id);
        self.others.remove(&id).is_some() || in_matcher
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.matcher.len() + self.others.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of the rules matching an event (its structured-JSON bytes), ascending.
    pub fn matches(&self, event: &[u8]) -> Result<Vec<u64>, MatchError> {
        let mut ids = self.matcher.matches(event)?;
        if !self.others.is_empty() {
            let value: Value = serde_json::from_slice(event).map_err(|e| MatchError {
                offset: byte_offset(event, e.line(), e.column()),
                reason: "not a JSON object",
            })?;
            ids.extend(
                self.others
                    .iter()
                    .filter(|(_, f)| f.matches_value(&value))
                    .map(|(id, _)| *id),
            );
            ids.sort_unstable();
        }
        Ok(ids)
    }
}

/// The byte offset of a 1-based line and column serde_json reported.
fn byte_offset(text: &[u8], line: usize, column: usize) -> usize {
    let start: usize = text
        .split(|b| *b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (start + column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::Router;
    use crate::{Filter, Limits};

    fn filter(v: serde_json::Value) -> Arc<Filter> {
        Arc::new(Filter::parse(&v, &Limits::default()).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn patterns_and_other_kinds_answer_together() {
        let mut r = Router::new();
        r.insert(3, filter(json!({"pattern": {"type": ["a"]}})));
        r.insert(1, filter(json!({"jsonpath": "$[?@.n > 1]"})));
        r.insert(2, filter(json!({"jsonpath": "$.data.missing"})));
        let event = br#"{"type":"a","data":{"n":2}}"#;
        assert_eq!(r.matches(event).ok(), Some(vec![1, 3]));
        // Replacing a rule's filter by another kind takes it out of the other structure.
        r.insert(3, filter(json!({"jsonpath": "$.nothing"})));
        r.insert(1, filter(json!({"pattern": {"type": ["b"]}})));
        assert_eq!(r.matches(event).ok(), Some(vec![]));
        assert_eq!(r.len(), 3);
        assert!(r.remove(2));
        assert!(!r.remove(2));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn malformed_events_are_errors_when_a_tree_is_needed() {
        let mut r = Router::new();
        r.insert(1, filter(json!({"jsonpath": "$.a"})));
        let err = r.matches(b"{\"a\":\n 1,}").err();
        assert!(err.is_some());
    }
}
