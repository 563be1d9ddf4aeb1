//! Rules: filters (EventBridge patterns, CESQL, JSONPath, SQL) and transforms, compiled once per rule
//! and combined into one router per bus.
//!
//! Pure by design: no I/O, no async, no clock, so anyone can embed it and tests can run millions of
//! cases.
//!
//! - [`pattern`]: the EventBridge event-pattern language. [`Pattern::parse`] validates a pattern
//!   (every error names a JSON pointer into the pattern) and normalises it into alternatives of
//!   conditions; [`Pattern::explain`] evaluates one pattern against one event and says why it
//!   did not match.
//! - [`matcher`]: all patterns of a bus in one structure; [`Matcher::matches`] reads the event's
//!   raw JSON bytes once, looking only at the fields some rule names, and returns the ids of the
//!   matching rules. Its cost follows the event and the matches, not the number of rules.
//! - [`cesql`]: the CloudEvents SQL Expression Language v1 ([`Expression`]): compiled once,
//!   evaluated against a structured-JSON event to a value and a list of errors, exactly as the
//!   spec and its conformance kit say.
//! - [`sql`]: SQL rules, `SELECT <projection> WHERE <condition>` ([`SqlRule`]): a filter and a
//!   transform in one statement, as in AWS IoT, parsed with sqlparser and evaluated by the CESQL
//!   evaluator over paths into the whole event (`data.order.total > 99.5`).
//! - [`filter`]: the `filter` object of a rule: one kind (`{"pattern": …}`, `{"cesql": …}`,
//!   `{"jsonpath": …}`, `{"sql": …}`), compiled once. A SQL filter also carries the default
//!   output of the rule's targets ([`Filter::projection`]).
//! - [`router`]: every filter of a bus behind one `matches`: patterns in the [`Matcher`], the
//!   other kinds run on the event parsed once.
//! - [`jsonpath`]: RFC 9535 JSONPath queries (with jsonpath-rust), compiled once; a filter matches
//!   when its query selects a node, and transforms use them to extract values.
//! - [`transform`]: what a target receives: the event, a constant, a JSONPath extract, an
//!   EventBridge-style input template, or a rewritten CloudEvent. [`Transform::parse`] validates
//!   (errors name a JSON pointer into the transform), [`Transform::apply`] is a pure function of
//!   the event, the rule name and the ingestion time.

pub mod cesql;
pub mod filter;
pub mod jsonpath;
pub mod matcher;
pub mod pattern;
pub mod router;
pub mod sql;
pub mod transform;

pub use cesql::{CesqlParseError, CesqlValue, EvalError, Evaluation, Expression};
pub use filter::Filter;
pub use jsonpath::{JsonPath, Nodes, PathError};
pub use matcher::{MatchError, Matcher};
pub use pattern::{Limits, Mismatch, Pattern, PatternError, TextPosition};
pub use router::Router;
pub use sql::{Projected, SqlError, SqlRule};
pub use transform::{Context, Output, Transform, TransformError};
