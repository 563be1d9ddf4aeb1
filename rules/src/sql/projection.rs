//! The `SELECT` list: what a matched event becomes, as AWS IoT's rules engine builds it
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-select.html>).
//!
//! - `*` alone: the event as is. `*` with other items: the event's members, with the items added
//!   (an item replaces a member of the same name), wherever `*` stands in the list.
//! - A path (`data.order.id`) is named by its last member name (`id`), its JSON value copied as
//!   is (objects, arrays, numbers, `null`); a path ending in an index (`data.items[0]`) needs a
//!   name.
//! - Any other expression needs `AS name`; its value is the evaluation's (a decimal stays a JSON
//!   number), or `NULL AS name` for a JSON `null`.
//! - A name in double quotes with dots nests: `AS "customer.id"` gives `{"customer": {"id": …}}`;
//!   with `*`, nesting merges into the event's objects (`AS "data.gross"` adds to `data`). A
//!   member that is not an object is replaced by one. Two items giving the same member, or one
//!   member inside another's value, are refused at compile time.
//! - An item with no value is left out: a path selecting nothing, or an expression whose
//!   evaluation failed (a missing path, a bad cast), as AWS IoT leaves out `Undefined`
//!   (<https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html>). The
//!   evaluation errors are reported beside the output.

use std::sync::Arc;

use serde_json::{Map, Value};
use sqlparser::ast::{Expr, Ident, SelectItem, Spanned};

use super::error::SqlError;
use super::path::path;
use super::translate;
use crate::cesql::EvalError;
use crate::cesql::ast::{Node, Path};
use crate::cesql::eval::Evaluator;
use crate::cesql::resolve;

/// A compiled `SELECT` list.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    /// Whether `*` is in the list.
    star: bool,
    items: Vec<Item>,
}

#[derive(Debug, Clone)]
struct Item {
    /// The output member, as a path of names (`["customer", "id"]`).
    name: Vec<String>,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Path(Arc<Path>),
    Expr(Node),
    Null,
}

impl Projection {
    pub(crate) fn compile(list: &[SelectItem]) -> Result<Projection, SqlError> {
        let mut star = false;
        let mut items: Vec<Item> = Vec::with_capacity(list.len());
        for item in list {
            let (expr, alias) = match item {
                SelectItem::Wildcard(options) => {
                    let plain = options.opt_ilike.is_none()
                        && options.opt_exclude.is_none()
                        && options.opt_except.is_none()
                        && options.opt_replace.is_none()
                        && options.opt_rename.is_none()
                        && options.opt_alias.is_none();
                    if !plain {
                        return Err(SqlError::unsupported(
                            item.span().start,
                            "* with EXCEPT, EXCLUDE, REPLACE, RENAME or ILIKE",
                        ));
                    }
                    if star {
                        return Err(SqlError::node(item, "* appears twice"));
                    }
                    star = true;
                    continue;
                }
                SelectItem::QualifiedWildcard(..) => {
                    return Err(SqlError::unsupported(
                        item.span().start,
                        "name.* (select the path itself)",
                    ));
                }
                SelectItem::ExprWithAliases { .. } => {
                    return Err(SqlError::unsupported(item.span().start, "several aliases"));
                }
                SelectItem::UnnamedExpr(e) => (e, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            };
            let compiled = compile_item(expr, alias)?;
            if let Some(other) = items.iter().find(|i| overlaps(&i.name, &compiled.name)) {
                let at = alias.map_or_else(|| expr.span(), |a| a.span);
                return Err(SqlError::span(
                    at,
                    format!(
                        "the output member {:?} overlaps {:?} given by an earlier item; \
                         rename one with AS",
                        compiled.name.join("."),
                        other.name.join(".")
                    ),
                ));
            }
            items.push(compiled);
        }
        Ok(Projection { star, items })
    }

    /// Whether the output is the event as is (`SELECT *`).
    pub(crate) fn is_event(&self) -> bool {
        self.star && self.items.is_empty()
    }

    /// The output for one event, and the errors of the items left out.
    pub(crate) fn apply(&self, event: &Value) -> (Value, Vec<EvalError>) {
        if self.is_event() {
            return (event.clone(), Vec::new());
        }
        let mut out = match (self.star, event) {
            (true, Value::Object(members)) => members.clone(),
            _ => Map::new(),
        };
        let mut errors = Vec::new();
        for item in &self.items {
            let value = match &item.source {
                Source::Null => Some(Value::Null),
                Source::Path(p) => resolve::walk(event, p).cloned(),
                Source::Expr(node) => {
                    let mut ev = Evaluator::sql(event);
                    let v = ev.eval(node).to_json();
                    if ev.errors.is_empty() {
                        Some(v)
                    } else {
                        errors.extend(ev.errors);
                        None
                    }
                }
            };
            if let Some(value) = value {
                insert(&mut out, &item.name, value);
            }
        }
        (Value::Object(out), errors)
    }
}

fn compile_item(expr: &Expr, alias: Option<&Ident>) -> Result<Item, SqlError> {
    let name = match alias {
        Some(a) => Some(alias_name(a)?),
        None => None,
    };
    if let Expr::Value(v) = expr
        && v.value == sqlparser::ast::Value::Null
    {
        let name = name.ok_or_else(|| SqlError::node(expr, "NULL needs a name: NULL AS name"))?;
        return Ok(Item {
            name,
            source: Source::Null,
        });
    }
    if let Some(p) = path(expr)? {
        let name = match (name, p.name) {
            (Some(n), _) => n,
            (None, Some(last)) => vec![last],
            (None, None) => {
                return Err(SqlError::node(
                    expr,
                    "a path ending in an index needs a name: add AS name",
                ));
            }
        };
        return Ok(Item {
            name,
            source: Source::Path(p.path),
        });
    }
    let node = translate::expr(expr)?;
    let name = name.ok_or_else(|| {
        SqlError::node(
            expr,
            "an expression in the projection needs a name: add AS name",
        )
    })?;
    Ok(Item {
        name,
        source: Source::Expr(node),
    })
}

/// The output member an alias names: dotted when quoted (`"customer.id"`).
fn alias_name(alias: &Ident) -> Result<Vec<String>, SqlError> {
    if alias.quote_style.is_none() {
        return Ok(vec![alias.value.clone()]);
    }
    let parts: Vec<String> = alias.value.split('.').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(SqlError::span(
            alias.span,
            format!(
                "{:?} is not a member name: dots separate non-empty names",
                alias.value
            ),
        ));
    }
    Ok(parts)
}

/// Whether two output members are the same or one holds the other.
fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Sets `value` at the member path `name`, creating (or replacing with) objects on the way.
fn insert(out: &mut Map<String, Value>, name: &[String], value: Value) {
    let Some((last, parents)) = name.split_last() else {
        return;
    };
    let mut map = out;
    for parent in parents {
        let slot = map
            .entry(parent.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(inner) = slot else {
            return;
        };
        map = inner;
    }
    map.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn overlapping_members() {
        assert!(overlaps(&names(&["a"]), &names(&["a"])));
        assert!(overlaps(&names(&["a"]), &names(&["a", "b"])));
        assert!(overlaps(&names(&["a", "b"]), &names(&["a"])));
        assert!(!overlaps(&names(&["a", "b"]), &names(&["a", "c"])));
    }

    #[test]
    fn insert_nests_and_replaces_non_objects() {
        let mut m = Map::new();
        m.insert("a".into(), Value::from(1));
        insert(&mut m, &names(&["a", "b"]), Value::from(2));
        insert(&mut m, &names(&["c", "d", "e"]), Value::from(3));
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"a": {"b": 2}, "c": {"d": {"e": 3}}})
        );
    }
}
