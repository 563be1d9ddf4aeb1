//! A JSONPath that does not compile: the column and the reason, with jsonpath-rust's error kept
//! as the source.
//!
//! jsonpath-rust reports syntax errors through pest, whose error carries the byte offset of the
//! failure and the grammar rules it expected there (`expected comparable`). The offset becomes a
//! 1-based character column and the rule names become words. Its other errors (a bad argument to
//! `count()`, nesting deeper than 128) carry no position; when their message quotes a fragment
//! of the query in backticks, the fragment is looked up in the query to give a column, otherwise
//! [`PathError::column`] is `None`.

use jsonpath_rust::parser::Rule;
use jsonpath_rust::parser::errors::JsonPathError;
use pest::error::{ErrorVariant, InputLocation};
use serde_json::Value;

/// A JSONPath query that does not compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct PathError {
    /// The query as written.
    pub path: String,
    /// The 1-based character column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong, for a person.
    pub reason: String,
    /// jsonpath-rust's own error, when it produced one.
    #[source]
    pub source: Option<JsonPathError>,
}

impl PathError {
    pub(super) fn from_parser(path: &str, error: JsonPathError) -> PathError {
        let (column, reason) = match &error {
            JsonPathError::PestError(pest) => {
                let offset = match pest.location {
                    InputLocation::Pos(p) => p,
                    InputLocation::Span((p, _)) => p,
                };
                let reason = match &pest.variant {
                    ErrorVariant::ParsingError {
                        positives,
                        negatives,
                    } => expected(path, offset, positives, negatives),
                    ErrorVariant::CustomError { message } => message.clone(),
                };
                (Some(column_of(path, offset)), reason)
            }
            JsonPathError::MaxNestingDepthExceeded(max) => (
                None,
                format!("brackets and parentheses nest deeper than {max} levels"),
            ),
            other => {
                let message = other.to_string();
                (fragment_column(path, &message), message)
            }
        };
        PathError {
            path: path.to_string(),
            column,
            reason,
            source: Some(error),
        }
    }

    pub(super) fn not_a_string(value: &Value) -> PathError {
        PathError {
            path: value.to_string(),
            column: None,
            reason: "a JSONPath is a string such as \"$.data.id\"".to_string(),
            source: None,
        }
    }

    fn describe(&self) -> String {
        match self.column {
            Some(c) => format!(
                "invalid JSONPath {:?} at column {c}: {}",
                self.path, self.reason
            ),
            None => format!("invalid JSONPath {:?}: {}", self.path, self.reason),
        }
    }
}

/// The 1-based character column of a byte offset.
fn column_of(path: &str, offset: usize) -> usize {
    path.char_indices().take_while(|(i, _)| *i < offset).count() + 1
}

/// The column of the first backticked fragment of `message` found in `path`.
fn fragment_column(path: &str, message: &str) -> Option<usize> {
    let start = message.find('`')? + 1;
    let len = message.get(start..)?.find('`')?;
    let fragment = message.get(start..start + len)?;
    if fragment.is_empty() {
        return None;
    }
    path.find(fragment).map(|offset| column_of(path, offset))
}

/// "unexpected \"x\"; expected a selector or the end of the query".
fn expected(path: &str, offset: usize, positives: &[Rule], negatives: &[Rule]) -> String {
    let found = match path.get(offset..).and_then(|rest| rest.chars().next()) {
        Some(c) => format!("unexpected {c:?}"),
        None if path.is_empty() => "the query is empty".to_string(),
        None => "the query ends too early".to_string(),
    };
    let mut words: Vec<&str> = positives.iter().map(|r| rule_words(*r)).collect();
    words.dedup();
    if words.is_empty() {
        let unexpected: Vec<&str> = negatives.iter().map(|r| rule_words(*r)).collect();
        return format!("{found} ({})", unexpected.join(", "));
    }
    let list = match words.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    format!("{found}; expected {list}")
}

/// A grammar rule of jsonpath-rust's RFC 9535 grammar, in words.
fn rule_words(rule: Rule) -> &'static str {
    match rule {
        Rule::jp_query | Rule::main => "a query starting with $",
        Rule::EOI => "the end of the query",
        Rule::segment | Rule::child_segment | Rule::descendant_segment => {
            "a segment (.name, [selector] or ..name)"
        }
        Rule::selector | Rule::bracketed_selection => {
            "a selector ('name', index, slice, * or ?filter)"
        }
        Rule::member_name_shorthand | Rule::ALPHA | Rule::name_first | Rule::name_char => {
            "a member name"
        }
        Rule::wildcard_selector => "*",
        Rule::comparable | Rule::literal => {
            "a value to compare (literal, @.path, $.path or function)"
        }
        Rule::comp_op => "a comparison operator (==, !=, <, <=, >, >=)",
        Rule::atom_expr | Rule::logical_expr | Rule::logical_expr_and => {
            "a filter expression (comparison, @.path test or function)"
        }
        Rule::string | Rule::name_selector => "a quoted string",
        Rule::int | Rule::index_selector => "an integer",
        Rule::slice_selector => "a slice (start:end:step)",
        Rule::name_segment | Rule::index_segment => "a .name or [index] of a singular query",
        Rule::function_expr => "a function (length, count, value, match, search)",
        _ => "valid JSONPath syntax",
    }
}
