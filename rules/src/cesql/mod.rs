//! CESQL: the CloudEvents SQL Expression Language v1.0.0, as a filter on structured-JSON events.
//!
//! [`Expression::parse`] compiles the text once (operators, functions and `LIKE` patterns
//! resolved, literal sub-expressions folded); [`Expression::evaluate`] runs it against an event
//! and returns the value with the list of errors met; [`Expression::matches`] is the filter view.
//! It passes the whole conformance kit (the TCK, 275 cases, one corrected: see
//! `tests/it/cesql_tck.rs`).
//!
//! # Why a hand-written parser
//! CESQL is not SQL: its precedences differ (`LIKE`/`IN` bind tighter than arithmetic, `AND`/`OR`/
//! `XOR` share one right-associative level), `EXISTS name` and the escapes of its strings do not
//! exist in SQL dialects. A general SQL parser would accept a different language; the grammar is
//! small enough to follow exactly (see `parser.rs` for the precedence table).
//!
//! # Errors and values
//! Every CESQL operator is total: evaluation always gives a value, with zero or more
//! [`EvalError`]s. A node whose operand failed returns its own zero value (`false`, `0`, `""`),
//! so the value is the spec's "fail fast" result the TCK expects, and every error met on the way
//! is reported ("complete evaluation" of the error list). A missing attribute is a
//! `missingAttribute` error, and the sub-expression reading it evaluates to the zero value of its
//! type (Boolean when that cannot be known: a lone attribute). Parse errors are
//! [`CesqlParseError`]s with a 1-based line and column.
//!
//! # Decisions where the spec is silent or ambiguous
//! Where the spec leaves room, the Go SDK (`cloudevents/sdk-go`, `sql/v2`) decides, as it is the
//! engine the TCK was written against and the one Knative runs:
//! - **`AND`/`OR`/`XOR`**: one precedence level, right-associative (the reference grammar):
//!   `a AND b OR c` is `a AND (b OR c)`. Parenthesise mixed chains.
//! - **Integer overflow**: `+ - *` and unary `-` wrap around in 32 bits (Go's `int32`), no error;
//!   `-2147483648 / -1` is `-2147483648`. Division and modulo truncate toward zero (remainder has
//!   the dividend's sign); by zero they give `0` and a math error.
//! - **Integer literals** must fit in 32 bits, or the expression does not compile. A sign written
//!   directly before digits belongs to the literal, so `-2147483648` is valid and `5-3` is `2`
//!   (the reference lexer would reject `5-3`; see the parser).
//! - **String → Integer** accepts an optional `+`/`-` and base-10 digits, nothing else (no
//!   spaces, no `0x`); out of range is a cast error. **String → Boolean** is `true`/`false` in
//!   any case. **Integer → Boolean** is `x != 0`, **Boolean → Integer** 1 or 0 (spec 3.7).
//! - **`=`/`!=`/`<>`** cast the left operand to the right one's type (`TRUE = 'TRUE'` is `false`,
//!   `'TRUE' = TRUE` is `true`); **`IN`** casts the members to the left operand's type and stops
//!   at the first match; `< <= > >=` and arithmetic cast both sides to Integer; `LIKE` casts its
//!   operand to String, and its pattern must be a string literal (a parse error otherwise).
//! - **Unknown functions or wrong arity** compile, and evaluate to `false` with a
//!   `missingFunction` error, as the TCK requires; [`Expression::missing_functions`] lists them at
//!   compile time so callers can warn.
//! - **Strings**: `'…'` or `"…"`; `\'`/`\"` escape the delimiter, a doubled delimiter is one
//!   quote, and other backslash pairs stay verbatim so that `LIKE` patterns keep `\%` and `\_`.
//!   Functions count characters (Unicode scalar values), not bytes as the Go SDK does.
//! - **Attribute names** are case-insensitive and lowered (`EXISTS SOURCE`); longer than 20
//!   characters is accepted (the spec only says SHOULD NOT). `EXISTS` is always true for
//!   `specversion`, `id`, `source`, `type`, the event being assumed valid (spec 3.4.4).
//! - **As a filter** ([`Expression::matches`]) an event passes only if the value is Boolean
//!   `true` and there was no error (spec 1.2); a non-Boolean result adds a `generic` error.
//! - **JSON typing** of attributes is in `resolve.rs`: JSON integers in range are
//!   Integers (`10.0` too), other numbers are Strings of their JSON text.
//! - The TCK's `not_operator.yaml` case "Invalid int cast" (`NOT 10` → `true` with a cast error)
//!   contradicts spec 3.7; we give `false` with no error, as the Go SDK's corrected copy does.

// `ast`, `eval`, `functions`, `like`, `resolve` and `value` are shared with the SQL rules
// (`crate::sql`), which compile to the same tree and run the same evaluator.
pub(crate) mod ast;
mod error;
pub(crate) mod eval;
pub(crate) mod functions;
mod lexer;
pub(crate) mod like;
mod parser;
pub(crate) mod resolve;
pub(crate) mod value;

use serde_json::Value;

pub use error::{CesqlParseError, ErrorKind, EvalError};
pub use parser::MAX_DEPTH;
pub use value::{CesqlType, CesqlValue};

use ast::Node;
use eval::Evaluator;

/// A compiled CESQL expression. Cheap to share: evaluation takes `&self`.
#[derive(Debug, Clone)]
pub struct Expression {
    root: Node,
    text: Box<str>,
    missing_functions: Vec<MissingFunction>,
}

/// A call that no built-in function answers (unknown name, or a known name with another number
/// of arguments). It compiles, and evaluates to `false` with a `missingFunction` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFunction {
    /// The name, upper-cased.
    pub name: String,
    /// The number of arguments of the call.
    pub arity: usize,
    /// 1-based line of the call.
    pub line: u32,
    /// 1-based column of the call.
    pub column: u32,
}

/// The result of evaluating an expression against one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The value (the zero value of the expression's type if an error decided it).
    pub value: CesqlValue,
    /// Every error met, in evaluation order; empty when all went well.
    pub errors: Vec<EvalError>,
}

impl Expression {
    /// Compiles `text`. Errors carry the 1-based line and column of the offending token; their
    /// `Display` is `line:column: reason`.
    pub fn parse(text: &str) -> Result<Expression, CesqlParseError> {
        let parsed = parser::parse(text)?;
        Ok(Expression {
            root: parsed.root,
            text: text.into(),
            missing_functions: parsed.missing_functions,
        })
    }

    /// The text the expression was compiled from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The calls no function answers (see [`MissingFunction`]); empty for a sound expression.
    pub fn missing_functions(&self) -> &[MissingFunction] {
        &self.missing_functions
    }

    /// Evaluates against a structured-JSON CloudEvent (context attributes and extensions at the
    /// top level; `data` and `data_base64` are not attributes).
    pub fn evaluate(&self, event: &Value) -> Evaluation {
        let mut ev = Evaluator::new(event);
        let value = ev.eval(&self.root).into_owned();
        Evaluation {
            value,
            errors: ev.errors,
        }
    }

    /// The expression as a filter: `true` only when it evaluates to Boolean `true` without any
    /// error (spec 1.2). The errors are returned alongside, so a caller can explain a rejection.
    pub fn matches(&self, event: &Value) -> (bool, Vec<EvalError>) {
        filter(&self.root, Evaluator::new(event))
    }
}

/// Runs `root` as a filter: `true` only for Boolean `true` without any error; a non-Boolean
/// result adds a `generic` error. Shared by CESQL and the SQL rules' `WHERE`.
pub(crate) fn filter<'a>(root: &'a Node, mut ev: Evaluator<'a>) -> (bool, Vec<EvalError>) {
    let value = ev.eval(root);
    let mut errors = ev.errors;
    let passed = match value {
        value::Val::Bool(b) => b && errors.is_empty(),
        other => {
            if errors.is_empty() {
                errors.push(EvalError::new(
                    ErrorKind::Generic,
                    format!(
                        "a filter must evaluate to a Boolean, this one gave the {}",
                        other.describe()
                    ),
                ));
            }
            false
        }
    };
    (passed, errors)
}

impl std::fmt::Display for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Expression {
    type Err = CesqlParseError;

    fn from_str(s: &str) -> Result<Expression, CesqlParseError> {
        Expression::parse(s)
    }
}

#[cfg(test)]
mod tests;
