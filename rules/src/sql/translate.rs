//! sqlparser expressions → the CESQL tree ([`Node`]), so that SQL rules run on the CESQL
//! evaluator: one set of operators, casts, functions and error rules for both languages.
//!
//! | SQL | node | notes |
//! | --- | --- | --- |
//! | `type`, `data.order.total`, `data.items[0].sku`, `data['my key']`, `"data"."a-b"` | `Attr(Path)` | case-sensitive member names; `[n]` indexes arrays |
//! | `123`, `-2147483648` | `Lit(Integer)` | a 32-bit integer |
//! | `99.5`, `1e3`, `10000000000` | `Num` | a decimal (f64) |
//! | `'text'`, `TRUE`, `FALSE` | `Lit` | strings are single-quoted; `"…"` names a member |
//! | `+ - * / %`, `< <= > >=`, `= != <>` | `Arith`, `Ord`, `Eq` | decimals compare and compute as f64 |
//! | `AND`, `OR`, `XOR`, `NOT` | `Logic`, `Not` | chains of one operator become one node |
//! | `x [NOT] IN (…)`, `x [NOT] BETWEEN a AND b` | `In`; `a <= x AND x <= b` | |
//! | `x [NOT] LIKE 'p' [ESCAPE 'c']`, `ILIKE` | `Like` | SQL escapes: only the ESCAPE character escapes |
//! | `x IS [NOT] NULL` | `[NOT] EXISTS` | only for paths: `null` and missing are both absent |
//! | `a \|\| b`, `f(x, …)`, `TRIM(x)`, `SUBSTRING(x, p[, n])`, `SUBSTRING(x FROM p [FOR n])` | `Call` | CESQL's built-in functions only |
//!
//! Anything else is an error naming it (CASE, CAST, subqueries, aggregates, window functions…).
//! Unknown functions are errors here (CESQL compiles them to an error value), since a saved rule
//! calling one could never match.

use sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
    ObjectNamePart, UnaryOperator, Value,
};

use super::error::SqlError;
use super::literal::{escape_of, literal};
use super::path::path;
use crate::cesql::ast::{ArithOp, AttrRef, LogicOp, Node, OrdOp};
use crate::cesql::functions::Func;
use crate::cesql::like::LikePattern;

/// The deepest an expression may nest once translated (as CESQL's `MAX_DEPTH`); bounds the
/// recursion of translation and evaluation.
pub(crate) const MAX_DEPTH: usize = 128;

/// Functions that aggregate over rows: a rule sees one event, so they cannot mean anything.
const AGGREGATES: &[&str] = &[
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "ARRAY_AGG",
    "STRING_AGG",
    "GROUP_CONCAT",
    "LISTAGG",
    "STDDEV",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "VARIANCE",
    "VAR_POP",
    "VAR_SAMP",
    "BIT_AND",
    "BIT_OR",
    "BOOL_AND",
    "BOOL_OR",
    "EVERY",
    "ANY_VALUE",
    "MEDIAN",
    "PERCENTILE_CONT",
    "PERCENTILE_DISC",
];

/// The built-in functions, for error messages.
const FUNCTIONS: &str = "LENGTH, CONCAT, CONCAT_WS, LOWER, UPPER, TRIM, LEFT, RIGHT, SUBSTRING, \
                         ABS, INT, BOOL, STRING, IS_INT, IS_BOOL";

/// Translates one expression (a condition or a projection item).
pub(crate) fn expr(e: &Expr) -> Result<Node, SqlError> {
    Translator { depth: 0 }.expr(e)
}

struct Translator {
    depth: usize,
}

impl Translator {
    fn expr(&mut self, e: &Expr) -> Result<Node, SqlError> {
        self.depth += 1;
        let result = if self.depth > MAX_DEPTH {
            Err(SqlError::nowhere(format!(
                "the expression nests deeper than {MAX_DEPTH} levels"
            )))
        } else {
            self.expr_inner(e)
        };
        self.depth -= 1;
        result
    }

    fn boxed(&mut self, e: &Expr) -> Result<Box<Node>, SqlError> {
        self.expr(e).map(Box::new)
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<Node, SqlError> {
        if let Some(p) = path(e)? {
            return Ok(Node::Attr(AttrRef::Path(p.path)));
        }
        match e {
            Expr::Value(v) => literal(&v.value, false, e),
            Expr::Nested(inner) => self.expr(inner),
            Expr::UnaryOp { op, expr: inner } => match op {
                UnaryOperator::Not => Ok(Node::Not(self.boxed(inner)?)),
                UnaryOperator::Minus => match &**inner {
                    Expr::Value(v) if matches!(v.value, Value::Number(..)) => {
                        literal(&v.value, true, e)
                    }
                    _ => Ok(Node::Neg(self.boxed(inner)?)),
                },
                UnaryOperator::Plus => self.expr(inner),
                other => Err(SqlError::unsupported(
                    e.span_start(),
                    &format!("the operator {other}"),
                )),
            },
            Expr::BinaryOp { left, op, right } => self.binary(e, left, op, right),
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
                let Some(p) = path(inner)? else {
                    return Err(SqlError::node(
                        &**inner,
                        "IS [NOT] NULL applies to a path such as data.order.id",
                    ));
                };
                let exists = Node::Exists(AttrRef::Path(p.path));
                Ok(if matches!(e, Expr::IsNull(_)) {
                    Node::Not(Box::new(exists))
                } else {
                    exists
                })
            }
            Expr::InList {
                expr: value,
                list,
                negated,
            } => {
                if list.is_empty() {
                    return Err(SqlError::node(e, "IN needs at least one value"));
                }
                let value = self.boxed(value)?;
                let set = list
                    .iter()
                    .map(|m| self.expr(m))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Node::In {
                    negated: *negated,
                    value,
                    set: set.into_boxed_slice(),
                })
            }
            Expr::Between {
                expr: value,
                negated,
                low,
                high,
            } => {
                let value = self.expr(value)?;
                let low = Node::Ord(OrdOp::Ge, Box::new(value.clone()), self.boxed(low)?);
                let high = Node::Ord(OrdOp::Le, Box::new(value), self.boxed(high)?);
                let both = Node::Logic(LogicOp::And, Box::new([low, high]));
                Ok(if *negated {
                    Node::Not(Box::new(both))
                } else {
                    both
                })
            }
            Expr::Like {
                negated,
                any,
                expr: value,
                pattern,
                escape_char,
            }
            | Expr::ILike {
                negated,
                any,
                expr: value,
                pattern,
                escape_char,
            } => {
                let ignore_case = matches!(e, Expr::ILike { .. });
                if *any {
                    return Err(SqlError::unsupported(e.span_start(), "LIKE ANY"));
                }
                let escape = escape_char.as_deref().map(escape_of).transpose()?;
                let Expr::Value(v) = &**pattern else {
                    return Err(SqlError::node(
                        &**pattern,
                        "the pattern of LIKE must be a string literal",
                    ));
                };
                let Value::SingleQuotedString(text) = &v.value else {
                    return Err(SqlError::node(
                        &**pattern,
                        "the pattern of LIKE must be a string literal",
                    ));
                };
                let text = if ignore_case {
                    text.to_lowercase()
                } else {
                    text.clone()
                };
                let pattern = LikePattern::compile_sql(&text, escape).map_err(|at| {
                    SqlError::node(
                        &**pattern,
                        format!(
                            "the escape character at character {} of the pattern must be \
                             followed by %, _ or itself",
                            at + 1
                        ),
                    )
                })?;
                let mut value = self.boxed(value)?;
                if ignore_case {
                    value = Box::new(Node::Call(Func::Lower, Box::new([*value])));
                }
                Ok(Node::Like {
                    negated: *negated,
                    value,
                    pattern,
                })
            }
            Expr::Function(f) => self.function(e, f),
            Expr::Trim {
                expr: value,
                trim_where: None,
                trim_what: None,
                trim_characters: None,
            } => Ok(Node::Call(Func::Trim, Box::new([self.expr(value)?]))),
            Expr::Substring {
                expr: value,
                substring_from: Some(from),
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(value)?, self.expr(from)?];
                let f = match substring_for {
                    Some(n) => {
                        args.push(self.expr(n)?);
                        Func::SubstringLen
                    }
                    None => Func::Substring,
                };
                Ok(Node::Call(f, args.into_boxed_slice()))
            }
            _ => Err(SqlError::unsupported(e.span_start(), &describe(e))),
        }
    }

    fn binary(
        &mut self,
        e: &Expr,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
    ) -> Result<Node, SqlError> {
        let arith = |op| {
            move |t: &mut Translator| -> Result<Node, SqlError> {
                Ok(Node::Arith(op, t.boxed(left)?, t.boxed(right)?))
            }
        };
        let ord = |op| {
            move |t: &mut Translator| -> Result<Node, SqlError> {
                Ok(Node::Ord(op, t.boxed(left)?, t.boxed(right)?))
            }
        };
        match op {
            BinaryOperator::Plus => arith(ArithOp::Add)(self),
            BinaryOperator::Minus => arith(ArithOp::Sub)(self),
            BinaryOperator::Multiply => arith(ArithOp::Mul)(self),
            BinaryOperator::Divide => arith(ArithOp::Div)(self),
            BinaryOperator::Modulo => arith(ArithOp::Rem)(self),
            BinaryOperator::Lt => ord(OrdOp::Lt)(self),
            BinaryOperator::LtEq => ord(OrdOp::Le)(self),
            BinaryOperator::Gt => ord(OrdOp::Gt)(self),
            BinaryOperator::GtEq => ord(OrdOp::Ge)(self),
            BinaryOperator::Eq | BinaryOperator::NotEq => Ok(Node::Eq {
                negated: *op == BinaryOperator::NotEq,
                left: self.boxed(left)?,
                right: self.boxed(right)?,
            }),
            BinaryOperator::And => self.logic(LogicOp::And, op, e),
            BinaryOperator::Or => self.logic(LogicOp::Or, op, e),
            BinaryOperator::Xor => self.logic(LogicOp::Xor, op, e),
            BinaryOperator::StringConcat => Ok(Node::Call(
                Func::Concat,
                Box::new([self.expr(left)?, self.expr(right)?]),
            )),
            other => Err(SqlError::unsupported(
                e.span_start(),
                &format!("the operator {other}"),
            )),
        }
    }

    /// A chain of one logic operator, flattened without recursing along the chain, so that long
    /// generated `a OR b OR c …` cost no depth.
    fn logic(&mut self, kind: LogicOp, op: &BinaryOperator, e: &Expr) -> Result<Node, SqlError> {
        let mut pending = vec![e];
        let mut operands = Vec::new();
        while let Some(next) = pending.pop() {
            match next {
                Expr::BinaryOp { left, op: o, right } if o == op => {
                    pending.push(right);
                    pending.push(left);
                }
                other => operands.push(self.expr(other)?),
            }
        }
        Ok(Node::Logic(kind, operands.into_boxed_slice()))
    }

    fn function(&mut self, e: &Expr, f: &Function) -> Result<Node, SqlError> {
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => i.value.to_ascii_uppercase(),
            _ => return Err(SqlError::node(e, format!("unknown function {}", f.name))),
        };
        if f.over.is_some() {
            return Err(SqlError::unsupported(
                e.span_start(),
                "window functions (OVER)",
            ));
        }
        if AGGREGATES.contains(&name.as_str()) {
            return Err(SqlError::unsupported(
                e.span_start(),
                &format!("the aggregate function {name}"),
            ));
        }
        if f.filter.is_some() || !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(SqlError::unsupported(
                e.span_start(),
                "FILTER, WITHIN GROUP and IGNORE/RESPECT NULLS",
            ));
        }
        let args = match &f.args {
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(SqlError::unsupported(
                        e.span_start(),
                        "DISTINCT, ORDER BY or LIMIT inside a function call",
                    ));
                }
                list.args.as_slice()
            }
            FunctionArguments::Subquery(_) => {
                return Err(SqlError::unsupported(e.span_start(), "a subquery"));
            }
            FunctionArguments::None => &[],
        };
        let Some(func) = Func::resolve(&name, args.len()) else {
            let plural = if args.len() == 1 { "" } else { "s" };
            return Err(SqlError::node(
                e,
                format!(
                    "unknown function {name} with {} argument{plural}; the functions are: \
                     {FUNCTIONS}",
                    args.len()
                ),
            ));
        };
        let mut nodes = Vec::with_capacity(args.len());
        for arg in args {
            match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(a)) => nodes.push(self.expr(a)?),
                FunctionArg::Unnamed(_) => {
                    return Err(SqlError::node(e, "* is not a function argument"));
                }
                _ => return Err(SqlError::unsupported(e.span_start(), "named arguments")),
            }
        }
        Ok(Node::Call(func, nodes.into_boxed_slice()))
    }
}

/// Names an unsupported expression for an error message.
fn describe(e: &Expr) -> String {
    match e {
        Expr::Case { .. } => "CASE".into(),
        Expr::Cast { .. } => "CAST (use INT(x), STRING(x) or BOOL(x))".into(),
        Expr::Exists { .. } | Expr::Subquery(_) | Expr::InSubquery { .. } => "a subquery".into(),
        Expr::Tuple(_) => "a row value (a, b)".into(),
        Expr::Array(_) => "an array literal".into(),
        Expr::Interval(_) => "INTERVAL".into(),
        Expr::SimilarTo { .. } => "SIMILAR TO".into(),
        Expr::RLike { .. } => "RLIKE/REGEXP".into(),
        Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => "* inside an expression".into(),
        other => {
            let text = other.to_string();
            let short: String = text.chars().take(40).collect();
            let dots = if short.len() < text.len() { "…" } else { "" };
            format!("the expression {short}{dots}")
        }
    }
}

/// Where an expression starts.
pub(crate) trait SpanStart {
    fn span_start(&self) -> sqlparser::tokenizer::Location;
}

impl SpanStart for Expr {
    fn span_start(&self) -> sqlparser::tokenizer::Location {
        sqlparser::ast::Spanned::span(self).start
    }
}
