//! JSONPath (RFC 9535) queries over a structured-JSON CloudEvent, compiled once per rule.
//!
//! Used in three places: the `{"jsonpath": "…"}` filter (an event matches when the query selects
//! at least one node), the `jsonpath` transform (extract part of the event) and the named paths
//! of the `template` transform (EventBridge's `InputPathsMap`). A query is matched against the
//! structured-JSON form of the event: attributes at the top level, `data` below
//! (`$.data.order.id`, `$.type`).
//!
//! Why it is built this way:
//!
//! - **Compile once.** [`JsonPath::parse`] runs jsonpath-rust's parser (`parse_json_path`) when
//!   the rule is saved and keeps the syntax tree; evaluation runs `js_path_process` on that tree.
//!   jsonpath-rust's convenience `query` re-parses on every call, which would put a PEG parse on
//!   the per-event path.
//! - **A fast path for simple paths.** Most paths in filters and templates are plain chains of
//!   member names and indices (`$.data.order.id`, `$.data.items[0]`). jsonpath-rust builds a
//!   normalized-path string for every node it visits, which costs an allocation per step; a
//!   direct walk over the `serde_json::Value` costs nothing. Such paths are detected from the
//!   syntax tree (so both evaluators read the same query) and walked directly; anything with a
//!   wildcard, slice, filter, descendant segment or several selectors goes to jsonpath-rust.
//!   [`JsonPath::select_with_jsonpath_rust`] always takes the general route: tests compare the
//!   two on random paths and documents.
//! - **EventBridge paths work unchanged.** EventBridge accepts dotted names with dashes and
//!   slashes (`$.detail.instance-id`, `$.detail-type`), which RFC 9535's shorthand rejects. A
//!   path that fails to parse but is such a dotted path is read as its bracketed equivalent
//!   (`$['detail']['instance-id']`). Paths that RFC 9535 accepts are never rewritten.
//! - **Errors say where.** A syntax error carries the 1-based column (from the PEG parser's
//!   position) and what was expected, in words rather than grammar rule names. See
//!   [`PathError`].
//!
//! RFC 9535 semantics, as jsonpath-rust implements them (the case file
//! `tests/cases/jsonpath.json` pins each): a member that is absent is *nothing*, not `null`, so
//! `[?@.price > 20]` skips elements without `price`, `[?@.x == null]` is false for an absent
//! `x`, and `[?@.price != 10]` is true for an element without `price`; comparisons across types
//! are false (`"30" > 20` is false); filters apply to the members of objects as well as the
//! elements of arrays; `match()` anchors its I-Regexp, `search()` does not. jsonpath-rust also
//! accepts the non-standard functions `in`, `nin`, `none_of`, `any_of` and `subset_of`.
//! `match()` and `search()` compile their regular expression on every evaluation: keep them
//! out of hot filters.
//!
//! A known leniency of jsonpath-rust 1.0: whitespace inside a dotted member name is accepted
//! and kept (`$.a b` reads the member `"a b"`), where RFC 9535 rejects the query. Whitespace
//! between segments (`$.a .b`) is valid RFC 9535 and means `$.a.b`.

mod compat;
mod error;
mod simple;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

pub use error::PathError;

use simple::Step;

/// A compiled JSONPath query.
#[derive(Debug, Clone)]
pub struct JsonPath {
    /// The query as the user wrote it.
    source: String,
    /// jsonpath-rust's syntax tree, evaluated with `js_path_process`.
    query: JpQuery,
    /// For a chain of names and indices, the steps of the direct walk.
    steps: Option<Vec<Step>>,
}

/// The nodes a query selected, without copying them.
#[derive(Debug, Clone, PartialEq)]
pub enum Nodes<'a> {
    /// The query selected nothing (an absent member is nothing, not `null`).
    Nothing,
    /// Exactly one node.
    One(&'a Value),
    /// Two nodes or more, in document order as jsonpath-rust returns them.
    Many(Vec<&'a Value>),
}

impl<'a> Nodes<'a> {
    /// Whether nothing was selected.
    pub fn is_empty(&self) -> bool {
        matches!(self, Nodes::Nothing)
    }

    /// The selection as one value: `None` for nothing, the node itself for one node, an array of
    /// copies for several (the rule of the `jsonpath` transform and of template paths).
    pub fn to_value(&self) -> Option<Value> {
        match self {
            Nodes::Nothing => None,
            Nodes::One(v) => Some((*v).clone()),
            Nodes::Many(vs) => Some(Value::Array(vs.iter().map(|v| (*v).clone()).collect())),
        }
    }

    /// The selected nodes in order.
    pub fn to_vec(&self) -> Vec<&'a Value> {
        match self {
            Nodes::Nothing => Vec::new(),
            Nodes::One(v) => vec![*v],
            Nodes::Many(vs) => vs.clone(),
        }
    }

    fn from_vec(mut nodes: Vec<&'a Value>) -> Nodes<'a> {
        match nodes.len() {
            0 => Nodes::Nothing,
            1 => Nodes::One(nodes.swap_remove(0)),
            _ => Nodes::Many(nodes),
        }
    }
}

impl JsonPath {
    /// Compiles a query. Errors carry the column and what was wrong.
    pub fn parse(source: &str) -> Result<JsonPath, PathError> {
        let query = match parse_json_path(source) {
            Ok(q) => q,
            Err(e) => {
                let original = PathError::from_parser(source, e);
                let rewritten = compat::bracketed(source).ok_or_else(|| original.clone())?;
                parse_json_path(&rewritten).map_err(|_| original)?
            }
        };
        Ok(JsonPath {
            source: source.to_string(),
            steps: simple::steps(&query),
            query,
        })
    }

    /// Compiles a query given as a JSON value, which must be a string.
    pub fn parse_value(value: &Value) -> Result<JsonPath, PathError> {
        match value {
            Value::String(s) => JsonPath::parse(s),
            other => Err(PathError::not_a_string(other)),
        }
    }

    /// The query as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the query is a plain chain of member names and indices, evaluated by a direct
    /// walk instead of jsonpath-rust.
    pub fn is_simple(&self) -> bool {
        self.steps.is_some()
    }

    /// Whether the query selects at least one node: the `jsonpath` filter.
    pub fn matches(&self, event: &Value) -> bool {
        match &self.steps {
            Some(steps) => simple::walk(steps, event).is_some(),
            None => !self.select_with_jsonpath_rust(event).is_empty(),
        }
    }

    /// The nodes the query selects.
    pub fn select<'a>(&self, event: &'a Value) -> Nodes<'a> {
        match &self.steps {
            Some(steps) => simple::walk(steps, event).map_or(Nodes::Nothing, Nodes::One),
            None => self.select_with_jsonpath_rust(event),
        }
    }

    /// The nodes the query selects, always evaluated by jsonpath-rust (`js_path_process`), even
    /// for a simple path: the reference the direct walk is tested against. An evaluation error
    /// (jsonpath-rust reports one only for a query whose result is not a node, which a parsed
    /// query never is) selects nothing.
    pub fn select_with_jsonpath_rust<'a>(&self, event: &'a Value) -> Nodes<'a> {
        match js_path_process(&self.query, event) {
            Ok(refs) => Nodes::from_vec(refs.into_iter().map(|r| r.val()).collect()),
            Err(_) => Nodes::Nothing,
        }
    }
}
