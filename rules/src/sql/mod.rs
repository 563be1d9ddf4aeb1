//! SQL rules: `SELECT <projection> [FROM <name>] [WHERE <condition>]`, a filter and a transform
//! in one statement, as in AWS IoT's rules engine.
//!
//! [`SqlRule::parse`] compiles the text once; [`SqlRule::matches`] runs the `WHERE` against a
//! structured-JSON CloudEvent and [`SqlRule::project`] builds what a target receives.
//!
//! # Why sqlparser, and why the CESQL evaluator
//! Users write these statements as SQL, so they are parsed as SQL (sqlparser, `GenericDialect`,
//! which accepts AWS IoT's `FROM 'topic'` and `data.items[0]`), with SQL's precedence. What a
//! condition *means* is CESQL's, by translation into the CESQL tree (`translate.rs`): one set of
//! operators, casts, functions and error rules for the two text filters, tested by the CESQL
//! conformance kit. The SQL-only parts are the paths, decimals, `IS NULL` and the projection.
//! `statement.rs` refuses every clause a rule cannot honour, by name; `projection.rs` builds the
//! output.
//!
//! # Decisions
//! - **Precedence** is SQL's, as sqlparser parses it: `NOT` binds tighter than `AND`, which binds
//!   tighter than `OR`, so `a OR b AND c` is `a OR (b AND c)`. CESQL puts `AND`/`OR`/`XOR` on one
//!   right-associative level (`a AND b OR c` is `a AND (b OR c)` there): the same text can mean
//!   something else in a `cesql` filter.
//! - **Paths** name the event's members, `data` included: `type`, `source`, `data.order.total`,
//!   `data.items[0].sku`, `data['odd key']`, `"data"."odd-key"`. Names are case-sensitive (they
//!   are JSON member names, not SQL identifiers). `[n]` indexes an array (a non-negative integer
//!   literal; slices and computed indexes are refused). Strings are single-quoted; double quotes
//!   name a member, so `type = "x"` compares with the member `x`.
//! - **Missing and `null`** are both absent in a condition: a comparison with an absent path is a
//!   missingAttribute error, so the condition does not match (SQL's unknown, AWS IoT's
//!   `Undefined`); `IS NULL` is true for absent paths, `IS NOT NULL` for present ones. `NULL`
//!   anywhere else in a condition is refused (`x = NULL` is never true in SQL).
//! - **Errors** during evaluation make the condition not match, as in CESQL (and as AWS IoT's
//!   `Undefined` does: `Undefined OR true` is `Undefined`,
//!   <https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-operators.html>).
//! - **Numbers**: CESQL has only 32-bit integers. Here JSON numbers that are not 32-bit integers
//!   (`99.5`, `10000000000`) are decimals (f64), and so are literals like `99.5` or `1e3`. When
//!   either side of a comparison, `=`, `IN` or arithmetic is a decimal, both are taken as f64
//!   (as AWS IoT converts both operands of `>` to Decimal): `data.total > 99.5` and
//!   `data.qty = 3.0` work. Integer arithmetic that overflows 32 bits gives a decimal instead of
//!   wrapping; `7 / 2` stays integer division (`3`), as in SQL and AWS IoT (Int / Int is Int).
//! - **LIKE** is SQL's: `%` and `_`, no escape character unless `ESCAPE 'c'` names one (a
//!   backslash is an ordinary character). `ILIKE` compares lowercased. The pattern must be a
//!   string literal.
//! - **Functions** are CESQL's built-ins (`LENGTH`, `CONCAT`, `UPPER`, `SUBSTRING`, `ABS`, `INT`…),
//!   plus `a || b` for `CONCAT`; SQL's special forms `TRIM(x)` and `SUBSTRING(x FROM p FOR n)`
//!   map to them. An unknown function, an aggregate (`COUNT`, `SUM`…) or a window function is a
//!   compile error with its position.
//! - **FROM** is optional and ignored (the rule's bus is the source): one name or quoted topic is
//!   accepted so AWS IoT statements parse unchanged. A missing `WHERE` matches every event.
//! - **Refused** by name, with the place of the keyword: several statements, anything but
//!   SELECT, WITH, JOIN, subqueries, GROUP BY, HAVING, ORDER BY, LIMIT/OFFSET, DISTINCT,
//!   UNION/INTERSECT/EXCEPT, window functions, aggregates, CASE, CAST.
//! - **Bounds**: texts up to [`MAX_CHARS`] characters; sqlparser's recursion limit is lowered so
//!   that even an unoptimised build cannot overflow a thread's stack while parsing, and the
//!   translated tree nests at most 128 levels (`translate::MAX_DEPTH`).

mod error;
mod literal;
mod path;
mod projection;
mod statement;
mod translate;

use serde_json::Value;

pub use error::SqlError;

use crate::cesql::EvalError;
use crate::cesql::ast::Node;
use crate::cesql::eval::Evaluator;
use projection::Projection;

/// The longest text [`SqlRule::parse`] reads, in characters (filters have their own, smaller,
/// [`crate::Limits::max_chars`]). Bounds the depth of the trees sqlparser builds for long
/// operator chains, which are dropped recursively.
pub const MAX_CHARS: usize = 16 * 1024;

/// A compiled SQL rule. Cheap to share: evaluation takes `&self`.
#[derive(Debug, Clone)]
pub struct SqlRule {
    text: Box<str>,
    condition: Option<Node>,
    projection: Projection,
}

/// What [`SqlRule::project`] built for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Projected {
    /// The output: the event (`SELECT *`) or a JSON object of the selected items.
    pub value: Value,
    /// The evaluation errors of the items left out of the output; empty when all went well.
    pub errors: Vec<EvalError>,
}

impl SqlRule {
    /// Compiles `text`. Errors carry the 1-based line and column when the place is known.
    pub fn parse(text: &str) -> Result<SqlRule, SqlError> {
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(SqlError::nowhere(format!(
                "the statement is {chars} characters long; the limit is {MAX_CHARS}"
            )));
        }
        let parts = statement::parse(text)?;
        let projection = Projection::compile(&parts.projection)?;
        let condition = parts.selection.as_ref().map(translate::expr).transpose()?;
        Ok(SqlRule {
            text: text.into(),
            condition,
            projection,
        })
    }

    /// The text the rule was compiled from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the `WHERE` condition holds for a structured-JSON CloudEvent: `true` only when
    /// it evaluates to Boolean `true` without error (no `WHERE`: always). The errors met are
    /// returned alongside, so a caller can explain a rejection.
    pub fn matches(&self, event: &Value) -> (bool, Vec<EvalError>) {
        match &self.condition {
            None => (true, Vec::new()),
            Some(root) => crate::cesql::filter(root, Evaluator::sql(event)),
        }
    }

    /// The output of the projection for an event (normally one that [`SqlRule::matches`]).
    /// Never fails: items without a value are left out and their errors reported.
    pub fn project(&self, event: &Value) -> Projected {
        let (value, errors) = self.projection.apply(event);
        Projected { value, errors }
    }

    /// Whether the projection is `SELECT *` alone: the output is the event as is.
    pub fn selects_event(&self) -> bool {
        self.projection.is_event()
    }
}

impl std::fmt::Display for SqlRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for SqlRule {
    type Err = SqlError;

    fn from_str(s: &str) -> Result<SqlRule, SqlError> {
        SqlRule::parse(s)
    }
}

#[cfg(test)]
mod tests;
