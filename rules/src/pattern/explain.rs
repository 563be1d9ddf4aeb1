//! One pattern against one parsed event, with the reason for a non-match: the evaluator behind
//! `POST /v1/test-rule`. Clarity over speed: the bus's hot path is the compiled
//! [`crate::Matcher`]; the property tests keep the two in agreement.

use serde_json::Value;

use super::leaf::{AnythingBut, EventValue, Leaf, Scalar};
use super::{Condition, Mismatch, Pattern, arrays_agree};

/// A leaf of the event: its path, value, and the (array, element) pairs enclosing it.
struct EventLeaf<'a> {
    path: Vec<&'a str>,
    value: EventValue<'a>,
    lower: Option<String>,
    arrays: Vec<(usize, usize)>,
}

pub(super) fn explain(pattern: &Pattern, event: &Value) -> Result<(), Mismatch> {
    let mut leaves = Vec::new();
    let mut next_array = 0;
    flatten(
        event,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut next_array,
        &mut leaves,
    );
    // The failure of the alternative that got furthest (the first such alternative).
    let mut best: Option<(usize, Mismatch)> = None;
    for alternative in &pattern.alternatives {
        let conditions = &alternative.conditions;
        let mut chosen = Vec::new();
        let mut furthest = 0;
        if search(conditions, 0, &leaves, &mut chosen, &mut furthest) {
            return Ok(());
        }
        if best.as_ref().is_none_or(|(n, _)| furthest > *n) {
            best = Some((furthest, mismatch(&conditions[furthest], &leaves)));
        }
    }
    Err(best.map(|(_, m)| m).unwrap_or_else(|| Mismatch {
        field: String::new(),
        pointer: String::new(),
        reason: "the pattern has no alternatives".into(),
    }))
}

fn flatten<'a>(
    v: &'a Value,
    path: &mut Vec<&'a str>,
    arrays: &mut Vec<(usize, usize)>,
    next_array: &mut usize,
    out: &mut Vec<EventLeaf<'a>>,
) {
    let value = match v {
        Value::Object(map) => {
            for (k, child) in map {
                path.push(k);
                flatten(child, path, arrays, next_array, out);
                path.pop();
            }
            return;
        }
        Value::Array(items) => {
            let id = *next_array;
            *next_array += 1;
            for (i, item) in items.iter().enumerate() {
                arrays.push((id, i));
                flatten(item, path, arrays, next_array, out);
                arrays.pop();
            }
            return;
        }
        Value::String(s) => EventValue::Str(s),
        Value::Number(n) => EventValue::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) => EventValue::Bool(*b),
        Value::Null => EventValue::Null,
    };
    out.push(EventLeaf {
        path: path.clone(),
        lower: match value {
            EventValue::Str(s) => Some(s.to_lowercase()),
            _ => None,
        },
        value,
        arrays: arrays.clone(),
    });
}

fn at_path<'l, 'a>(
    leaves: &'l [EventLeaf<'a>],
    c: &'l Condition,
) -> impl Iterator<Item = (usize, &'l EventLeaf<'a>)> + 'l {
    leaves.iter().enumerate().filter(move |(_, l)| {
        l.path.len() == c.path.len() && l.path.iter().zip(&c.path).all(|(a, b)| a == b)
    })
}

fn passes(c: &Condition, l: &EventLeaf<'_>) -> bool {
    c.present || c.leaves.iter().any(|t| t.test(l.value, l.lower.as_deref()))
}

/// Depth-first search for leaves satisfying conditions `i..`, consistent with `chosen`.
fn search(
    conditions: &[Condition],
    i: usize,
    leaves: &[EventLeaf<'_>],
    chosen: &mut Vec<usize>,
    furthest: &mut usize,
) -> bool {
    *furthest = (*furthest).max(i);
    let Some(c) = conditions.get(i) else {
        return true;
    };
    let mut any_at_path = false;
    for (idx, l) in at_path(leaves, c) {
        any_at_path = true;
        if passes(c, l)
            && chosen
                .iter()
                .all(|&j| arrays_agree(&leaves[j].arrays, &l.arrays))
        {
            chosen.push(idx);
            let ok = search(conditions, i + 1, leaves, chosen, furthest);
            chosen.pop();
            if ok {
                return true;
            }
        }
    }
    c.absent && !any_at_path && search(conditions, i + 1, leaves, chosen, furthest)
}

fn mismatch(c: &Condition, leaves: &[EventLeaf<'_>]) -> Mismatch {
    let found: Vec<&EventLeaf<'_>> = at_path(leaves, c).map(|(_, l)| l).collect();
    let reason = if found.is_empty() {
        format!("the field is absent; expected {}", expectation(c))
    } else if found.iter().any(|l| passes(c, l)) {
        "the values that match sit in different elements of an array than the other matched fields (array consistency)".to_string()
    } else {
        let shown: Vec<String> = found.iter().take(5).map(|l| show(l.value)).collect();
        let more = if found.len() > 5 { ", …" } else { "" };
        format!(
            "found {}{more}; expected {}",
            shown.join(", "),
            expectation(c)
        )
    };
    Mismatch {
        field: c.path.join("."),
        pointer: c.pointer.clone(),
        reason,
    }
}

fn expectation(c: &Condition) -> String {
    let mut parts: Vec<String> = c.leaves.iter().map(describe).collect();
    if c.present {
        parts.push("the field to exist".into());
    }
    if c.absent {
        parts.push("the field to be absent".into());
    }
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("one of: {}", parts.join("; "))
    }
}

fn show(v: EventValue<'_>) -> String {
    match v {
        EventValue::Str(s) => format!("{s:?}"),
        EventValue::Num(x) => x.to_string(),
        EventValue::Bool(b) => b.to_string(),
        EventValue::Null => "null".into(),
    }
}

fn scalar(s: &Scalar) -> String {
    match s {
        Scalar::String(s) => format!("the string {s:?}"),
        Scalar::Number(x) => format!("the number {x}"),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Null => "null".into(),
    }
}

fn describe(leaf: &Leaf) -> String {
    let case = |ic: bool| if ic { " (ignoring case)" } else { "" };
    match leaf {
        Leaf::Exact(s) => scalar(s),
        Leaf::Prefix { value, ignore_case } => {
            format!("a string starting with {value:?}{}", case(*ignore_case))
        }
        Leaf::Suffix { value, ignore_case } => {
            format!("a string ending with {value:?}{}", case(*ignore_case))
        }
        Leaf::EqualsIgnoreCase(v) => format!("a string equal to {v:?} ignoring case"),
        Leaf::Wildcard(w) => format!("a string matching the wildcard {:?}", w.source),
        Leaf::Numeric(r) => {
            let mut bounds = Vec::new();
            if let (Some((lo, true)), Some((hi, true))) = (r.lower, r.upper)
                && lo == hi
            {
                return format!("a number = {lo}");
            }
            if let Some((lo, inc)) = r.lower {
                bounds.push(format!("{} {lo}", if inc { ">=" } else { ">" }));
            }
            if let Some((hi, inc)) = r.upper {
                bounds.push(format!("{} {hi}", if inc { "<=" } else { "<" }));
            }
            format!("a number {}", bounds.join(" and "))
        }
        Leaf::Cidr(c) => format!("an IP address in {}/{}", c.network, c.prefix_len),
        Leaf::AnythingBut(ab) => match ab {
            AnythingBut::Values(list) => format!(
                "anything but {}",
                list.iter().map(scalar).collect::<Vec<_>>().join(" or ")
            ),
            AnythingBut::Prefix(p) => format!("anything but a string starting with {p:?}"),
            AnythingBut::Suffix(p) => format!("anything but a string ending with {p:?}"),
            AnythingBut::EqualsIgnoreCase(list) => {
                format!("anything but {list:?} (ignoring case)")
            }
            AnythingBut::Wildcard(list) => format!(
                "anything but a string matching {:?}",
                list.iter().map(|w| w.source.as_str()).collect::<Vec<_>>()
            ),
        },
    }
}
