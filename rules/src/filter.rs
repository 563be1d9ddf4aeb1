//! The `filter` object of a rule: exactly one kind of filter, compiled once when the rule is
//! saved.
//!
//! | kind | object | matches when |
//! | --- | --- | --- |
//! | `pattern` | `{"pattern": {…}}` | the EventBridge event pattern matches ([`crate::pattern`]) |
//! | `jsonpath` | `{"jsonpath": "$.data.items[?@.price > 20]"}` | the query selects at least one node |
//! | `cesql` | `{"cesql": "type = 'order.created' AND qty > 5"}` | the CESQL expression is Boolean `true` without error |
//! | `sql` | `{"sql": "SELECT data.order.id WHERE data.order.total > 99.5"}` | the `WHERE` is `true` without error (no `WHERE`: always) |
//!
//! A `sql` filter is also a transform: its `SELECT` list is what the rule's targets receive
//! unless a target names its own transform ([`Filter::projection`]). Its compile errors (syntax,
//! unsupported SQL such as `GROUP BY`, unknown functions) carry the line and column when sqlparser
//! knows them ([`crate::sql`]).
//!
//! A CESQL expression calling a function that does not exist (or with the wrong number of
//! arguments) is refused when the rule is saved, with the call's line and column. The language
//! makes such a call an evaluation error (the conformance kit expects it), which for a saved rule
//! would only mean a filter that can never match.
//!
//! Patterns are what a bus's [`crate::Matcher`] indexes; the other kinds are evaluated one by one
//! on the parsed event ([`crate::Router`] does both). Filters written as text are held to the
//! same size limit as patterns ([`Limits::max_chars`]), and their errors carry the line and
//! column in the text besides the JSON pointer of the text in the filter object.

use serde_json::Value;

use crate::cesql::Expression;
use crate::jsonpath::JsonPath;
use crate::pattern::{Limits, Mismatch, Pattern, PatternError, TextPosition};
use crate::sql::SqlRule;

/// The kinds, as a user would read them in an error.
const KINDS: &str = "pattern, cesql, jsonpath, sql";

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// An EventBridge event pattern.
    Pattern(Pattern),
    /// A JSONPath query (RFC 9535): matches when it selects at least one node.
    JsonPath(JsonPath),
    /// A CESQL expression: matches when it evaluates to Boolean `true` without error.
    Cesql(Expression),
    /// A SQL rule: matches when its `WHERE` is `true` without error; its `SELECT` list is the
    /// default output of the rule's targets.
    Sql(SqlRule),
}

impl Filter {
    /// Compiles a filter object. Errors name a JSON pointer relative to the filter object
    /// (`/pattern/detail/state/0`, `/jsonpath`) and, for text, the place in it.
    pub fn parse(filter: &Value, limits: &Limits) -> Result<Filter, PatternError> {
        let Value::Object(map) = filter else {
            return Err(PatternError::new(
                "",
                format!(
                    "a filter is an object naming one kind ({KINDS}), such as {{\"pattern\": {{…}}}}"
                ),
            ));
        };
        let mut kinds = map.iter();
        let (kind, body) = match (kinds.next(), kinds.next()) {
            (Some(only), None) => only,
            (None, _) => {
                return Err(PatternError::new(
                    "",
                    format!("a filter names one kind ({KINDS}): {{\"pattern\": {{…}}}}"),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(PatternError::new(
                    "",
                    format!("a filter names exactly one kind ({KINDS})"),
                ));
            }
        };
        let at = format!("/{}", crate::pattern::escape_pointer(kind));
        match kind.as_str() {
            "pattern" => Pattern::parse(body, limits)
                .map(Filter::Pattern)
                .map_err(|e| e.under("/pattern")),
            "jsonpath" => {
                let text = text_of(
                    body,
                    &at,
                    "a JSONPath query such as \"$.data.items[?@.price > 20]\"",
                    limits,
                )?;
                JsonPath::parse(text).map(Filter::JsonPath).map_err(|e| {
                    let position = e.column.map(|c| TextPosition {
                        line: 1,
                        column: u32::try_from(c).unwrap_or(u32::MAX),
                    });
                    PatternError::in_text(&at, position, e.reason)
                })
            }
            "cesql" => {
                let text = text_of(
                    body,
                    &at,
                    "a CESQL expression such as \"type = 'order.created'\"",
                    limits,
                )?;
                let e = Expression::parse(text).map_err(|e| {
                    let position = TextPosition {
                        line: e.line,
                        column: e.column,
                    };
                    PatternError::in_text(&at, Some(position), e.reason)
                })?;
                if let Some(f) = e.missing_functions().first() {
                    let position = TextPosition {
                        line: f.line,
                        column: f.column,
                    };
                    return Err(PatternError::in_text(
                        &at,
                        Some(position),
                        format!(
                            "no function {} takes {} argument{}",
                            f.name,
                            f.arity,
                            if f.arity == 1 { "" } else { "s" }
                        ),
                    ));
                }
                Ok(Filter::Cesql(e))
            }
            "sql" => {
                let text = text_of(
                    body,
                    &at,
                    "a SQL statement such as \"SELECT * WHERE type = 'order.created'\"",
                    limits,
                )?;
                SqlRule::parse(text).map(Filter::Sql).map_err(|e| {
                    let position = e.line.map(|line| TextPosition {
                        line,
                        column: e.column.unwrap_or(1),
                    });
                    PatternError::in_text(&at, position, e.reason)
                })
            }
            other => Err(PatternError::new(
                &at,
                format!("unknown filter kind {other:?}; the kinds are: {KINDS}"),
            )),
        }
    }

    /// The kind's name, as in the filter object.
    pub fn kind(&self) -> &'static str {
        match self {
            Filter::Pattern(_) => "pattern",
            Filter::JsonPath(_) => "jsonpath",
            Filter::Cesql(_) => "cesql",
            Filter::Sql(_) => "sql",
        }
    }

    /// The SQL rule, for a `sql` filter: its projection ([`SqlRule::project`]) is the default
    /// output of the rule's targets, in place of the event as is.
    pub fn projection(&self) -> Option<&SqlRule> {
        match self {
            Filter::Sql(rule) => Some(rule),
            _ => None,
        }
    }

    /// The pattern, for a pattern filter (what a [`crate::Matcher`] indexes).
    pub fn pattern(&self) -> Option<&Pattern> {
        match self {
            Filter::Pattern(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the filter matches an event given as a parsed structured-JSON CloudEvent.
    pub fn matches_value(&self, event: &Value) -> bool {
        match self {
            Filter::Pattern(p) => p.matches_value(event),
            Filter::JsonPath(q) => q.matches(event),
            Filter::Cesql(e) => e.matches(event).0,
            Filter::Sql(rule) => rule.matches(event).0,
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
            Filter::JsonPath(q) => {
                if q.matches(event) {
                    Ok(())
                } else {
                    Err(Mismatch {
                        field: String::new(),
                        pointer: "/jsonpath".into(),
                        reason: format!("the query {:?} selected no node", q.as_str()),
                    })
                }
            }
            Filter::Cesql(e) => {
                let evaluation = e.evaluate(event);
                let (matched, errors) = e.matches(event);
                if matched {
                    return Ok(());
                }
                let reason = if errors.is_empty() {
                    format!("the expression evaluated to {}", evaluation.value)
                } else {
                    let list: Vec<String> = errors
                        .iter()
                        .map(|err| format!("{} error: {}", err.kind().as_str(), err.message()))
                        .collect();
                    format!(
                        "the expression evaluated to {} with {}",
                        evaluation.value,
                        list.join("; ")
                    )
                };
                Err(Mismatch {
                    field: String::new(),
                    pointer: "/cesql".into(),
                    reason,
                })
            }
            Filter::Sql(rule) => {
                let (matched, errors) = rule.matches(event);
                if matched {
                    return Ok(());
                }
                let reason = if errors.is_empty() {
                    "the WHERE condition is false".to_string()
                } else {
                    let list: Vec<String> = errors
                        .iter()
                        .map(|err| format!("{} error: {}", err.kind().as_str(), err.message()))
                        .collect();
                    format!("the WHERE condition is not true: {}", list.join("; "))
                };
                Err(Mismatch {
                    field: String::new(),
                    pointer: "/sql".into(),
                    reason,
                })
            }
        }
    }
}

/// The text of a filter written as a string, within the size limit.
fn text_of<'a>(
    body: &'a Value,
    at: &str,
    expected: &str,
    limits: &Limits,
) -> Result<&'a str, PatternError> {
    let Value::String(text) = body else {
        return Err(PatternError::new(
            at,
            format!("must be a string: {expected}"),
        ));
    };
    let chars = text.chars().count();
    if chars > limits.max_chars {
        return Err(PatternError::new(
            at,
            format!(
                "is {chars} characters long; the limit is {}",
                limits.max_chars
            ),
        ));
    }
    if text.trim().is_empty() {
        return Err(PatternError::new(at, format!("is empty: {expected}")));
    }
    Ok(text)
}
