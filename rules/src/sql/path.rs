//! Paths into the event, as SQL writes them: `type`, `data.order.total`, `data.items[0].sku`,
//! `data['odd key']`, `"data"."odd-key"`.
//!
//! sqlparser gives three shapes for these (an identifier, a compound identifier, and a field
//! access chain once a subscript appears); all become one CESQL [`Path`] of segments, member
//! names kept as written (case-sensitive: they are JSON member names) and indexes as decimal
//! text, which the resolver applies to arrays. Only literal indexes are accepted: a computed
//! index or a slice has no single meaning for a filter compiled once.

use std::sync::Arc;

use sqlparser::ast::{AccessExpr, Expr, Ident, Subscript, Value};

use super::error::SqlError;
use super::translate::SpanStart;
use crate::cesql::ast::Path;

/// A path, and the name a projection gives it by default (its last member name).
pub(crate) struct SqlPath {
    pub(crate) path: Arc<Path>,
    pub(crate) name: Option<String>,
}

/// The path an expression names, if it is one (`None` for any other expression).
pub(crate) fn path(e: &Expr) -> Result<Option<SqlPath>, SqlError> {
    let mut p = PathBuilder::default();
    match e {
        Expr::Identifier(i) => p.name(i),
        Expr::CompoundIdentifier(parts) => parts.iter().for_each(|i| p.name(i)),
        Expr::CompoundFieldAccess { root, access_chain } => {
            match &**root {
                Expr::Identifier(i) => p.name(i),
                Expr::CompoundIdentifier(parts) => parts.iter().for_each(|i| p.name(i)),
                _ => return Ok(None),
            }
            for access in access_chain {
                match access {
                    AccessExpr::Dot(Expr::Identifier(i)) => p.name(i),
                    AccessExpr::Dot(Expr::CompoundIdentifier(parts)) => {
                        parts.iter().for_each(|i| p.name(i));
                    }
                    AccessExpr::Subscript(Subscript::Index { index }) => p.index(index)?,
                    AccessExpr::Dot(other) => {
                        return Err(SqlError::node(other, "expected a member name after '.'"));
                    }
                    AccessExpr::Subscript(_) => {
                        return Err(SqlError::unsupported(e.span_start(), "array slices"));
                    }
                }
            }
        }
        _ => return Ok(None),
    }
    Ok(Some(p.build()))
}

#[derive(Default)]
struct PathBuilder {
    segments: Vec<Box<str>>,
    text: String,
    last_name: Option<String>,
}

impl PathBuilder {
    fn name(&mut self, i: &Ident) {
        if !self.text.is_empty() {
            self.text.push('.');
        }
        self.text.push_str(&i.to_string());
        self.segments.push(i.value.as_str().into());
        self.last_name = Some(i.value.clone());
    }

    fn index(&mut self, index: &Expr) -> Result<(), SqlError> {
        let segment = match index {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) if n.parse::<u32>().is_ok() => n.clone(),
                Value::SingleQuotedString(s) => s.clone(),
                _ => return Err(bad_index(index)),
            },
            _ => return Err(bad_index(index)),
        };
        self.text.push_str(&format!("[{index}]"));
        self.last_name =
            matches!(index, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)))
                .then(|| segment.clone());
        self.segments.push(segment.into());
        Ok(())
    }

    fn build(self) -> SqlPath {
        SqlPath {
            path: Arc::new(Path {
                segments: self.segments.into_boxed_slice(),
                text: self.text.into(),
            }),
            name: self.last_name,
        }
    }
}

fn bad_index(index: &Expr) -> SqlError {
    SqlError::node(
        index,
        "a subscript is a non-negative integer ([0]) or a quoted member name (['key'])",
    )
}
