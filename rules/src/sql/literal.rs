//! Literals of SQL rules: numbers (32-bit integers, or decimals beyond that), single-quoted
//! strings, booleans, and the one-character string of `LIKE … ESCAPE`.
//!
//! `NULL` is refused in conditions: SQL's `x = NULL` is never true, which is never what was
//! meant; `IS [NOT] NULL` (and `NULL AS name` in a projection) are the ways to say it.

use sqlparser::ast::{Expr, Value};

use super::error::SqlError;
use super::translate::SpanStart;
use crate::cesql::CesqlValue;
use crate::cesql::ast::Node;

/// A literal (`negative`: written after a unary minus).
pub(crate) fn literal(v: &Value, negative: bool, e: &Expr) -> Result<Node, SqlError> {
    match v {
        Value::Number(digits, _) => {
            let text = if negative {
                format!("-{digits}")
            } else {
                digits.clone()
            };
            if let Ok(i) = text.parse::<i64>() {
                return Ok(match i32::try_from(i) {
                    Ok(i) => Node::Lit(CesqlValue::Integer(i)),
                    // Exact up to 2^53, as JSON numbers are in practice.
                    #[allow(clippy::cast_precision_loss)]
                    Err(_) => Node::Num(i as f64),
                });
            }
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Node::Num(f)),
                _ => Err(SqlError::node(e, format!("{text} is not a finite number"))),
            }
        }
        Value::SingleQuotedString(s) => Ok(Node::Lit(CesqlValue::String(s.clone()))),
        Value::Boolean(b) => Ok(Node::Lit(CesqlValue::Boolean(*b))),
        Value::Null => Err(SqlError::node(
            e,
            "NULL is only allowed in IS [NOT] NULL (and as a projection item): a member that \
             is missing or null is absent",
        )),
        other => Err(SqlError::unsupported(
            e.span_start(),
            &format!("the literal {other}"),
        )),
    }
}

/// The character of `ESCAPE 'c'`.
pub(crate) fn escape_of(e: &Expr) -> Result<char, SqlError> {
    if let Expr::Value(v) = e
        && let Value::SingleQuotedString(s) = &v.value
    {
        let mut chars = s.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Ok(c);
        }
    }
    Err(SqlError::node(e, "ESCAPE takes a string of one character"))
}
