//! Rules: filters (EventBridge patterns now; CESQL, JSONPath and SQL later) and transforms,
//! compiled once per rule and combined into one matcher per bus.
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
//! - [`filter`]: the `filter` object of a rule (`{"pattern": …}`), the seam where the other filter
//!   kinds will plug in.

pub mod cesql;
pub mod filter;
pub mod matcher;
pub mod pattern;

pub use cesql::{CesqlParseError, CesqlValue, EvalError, Evaluation, Expression};
pub use filter::Filter;
pub use matcher::{MatchError, Matcher};
pub use pattern::{Limits, Mismatch, Pattern, PatternError};
