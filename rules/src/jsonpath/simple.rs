//! The direct walk for simple paths: a chain of member names and indices, read from
//! jsonpath-rust's syntax tree so that the walk and the general evaluator see the same query.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use serde_json::Value;

/// One step of a simple path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// `.name` or `['name']`: the member of an object.
    Name(String),
    /// `[i]`: the element of an array; a negative index counts from the end (RFC 9535 §2.3.3).
    Index(i64),
}

/// The steps of the query when every segment is a single name or index selector.
pub(super) fn steps(query: &JpQuery) -> Option<Vec<Step>> {
    query
        .segments
        .iter()
        .map(|segment| match segment {
            Segment::Selector(Selector::Name(name)) => Some(Step::Name(name.clone())),
            Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
            _ => None,
        })
        .collect()
}

/// The node at the end of the steps, if every step finds one.
pub(super) fn walk<'a>(steps: &[Step], root: &'a Value) -> Option<&'a Value> {
    let mut node = root;
    for step in steps {
        node = match step {
            Step::Name(name) => node.as_object()?.get(name)?,
            Step::Index(i) => {
                let array = node.as_array()?;
                let index = if *i >= 0 {
                    usize::try_from(*i).ok()?
                } else {
                    let back = usize::try_from(i.unsigned_abs()).ok()?;
                    array.len().checked_sub(back)?
                };
                array.get(index)?
            }
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn negative_indices_count_from_the_end() {
        let v = json!([1, 2, 3]);
        assert_eq!(walk(&[Step::Index(-1)], &v), Some(&json!(3)));
        assert_eq!(walk(&[Step::Index(-3)], &v), Some(&json!(1)));
        assert_eq!(walk(&[Step::Index(-4)], &v), None);
        assert_eq!(walk(&[Step::Index(3)], &v), None);
        assert_eq!(walk(&[Step::Index(i64::MIN)], &v), None);
    }

    #[test]
    fn names_need_objects_and_indices_need_arrays() {
        let v = json!({"a": [{"b": 1}]});
        assert_eq!(
            walk(
                &[
                    Step::Name("a".into()),
                    Step::Index(0),
                    Step::Name("b".into())
                ],
                &v
            ),
            Some(&json!(1))
        );
        assert_eq!(walk(&[Step::Index(0)], &v), None);
        assert_eq!(
            walk(&[Step::Name("a".into()), Step::Name("0".into())], &v),
            None
        );
    }
}
