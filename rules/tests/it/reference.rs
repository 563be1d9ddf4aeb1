//! A naive reference interpreter of the EventBridge event-pattern language, written straight
//! from `docs/patterns.md` and deliberately independent of the crate (it reads the raw pattern
//! JSON; it uses none of `Pattern`, `Matcher`, `Leaf`, `Wildcard`). Clarity over speed: the
//! pattern is multiplied out into alternatives, the event is flattened into leaves, and each
//! alternative is tried by backtracking over the choice of one leaf per condition.
//!
//! The pattern is assumed valid (the property tests only generate valid patterns); on an invalid
//! one this panics or answers arbitrarily.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// Whether the (valid) `pattern` matches `event` (the structured-JSON CloudEvent).
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let leaves = flatten(event);
    alternatives(pattern, &[])
        .iter()
        .any(|conditions| satisfiable(conditions, &leaves, &mut Vec::new()))
}

/// A scalar of the event, with how it was reached.
#[derive(Debug)]
struct EventLeaf<'e> {
    /// Object keys from the root (array levels leave no trace here: arrays are crushed).
    path: Vec<&'e str>,
    /// A string, number, boolean or null.
    value: &'e Value,
    /// For every event array enclosing the leaf, outermost first: (which array instance, which
    /// element of it).
    arrays: Vec<(usize, usize)>,
}

/// All leaves of the event.
fn flatten(event: &Value) -> Vec<EventLeaf<'_>> {
    fn walk<'e>(
        value: &'e Value,
        path: &mut Vec<&'e str>,
        arrays: &mut Vec<(usize, usize)>,
        next_array: &mut usize,
        out: &mut Vec<EventLeaf<'e>>,
    ) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(key);
                    walk(child, path, arrays, next_array, out);
                    path.pop();
                }
            }
            Value::Array(elements) => {
                let id = *next_array;
                *next_array += 1;
                for (index, element) in elements.iter().enumerate() {
                    arrays.push((id, index));
                    walk(element, path, arrays, next_array, out);
                    arrays.pop();
                }
            }
            scalar => out.push(EventLeaf {
                path: path.clone(),
                value: scalar,
                arrays: arrays.clone(),
            }),
        }
    }
    let mut out = Vec::new();
    walk(event, &mut Vec::new(), &mut Vec::new(), &mut 0, &mut out);
    out
}

/// Two leaves may be used together by one alternative: under every array enclosing both, they
/// sit in the same element.
fn compatible(a: &EventLeaf<'_>, b: &EventLeaf<'_>) -> bool {
    a.arrays.iter().all(|&(array_a, index_a)| {
        b.arrays
            .iter()
            .all(|&(array_b, index_b)| array_a != array_b || index_a == index_b)
    })
}

/// One condition of an alternative: the leaf array `tests` at `path`.
#[derive(Debug, Clone)]
struct Condition<'p> {
    path: Vec<&'p str>,
    tests: &'p [Value],
}

/// The pattern object `object` (sitting at `prefix` in the event) multiplied out: a list of
/// alternatives, each a list of conditions that must all hold.
fn alternatives<'p>(object: &'p Value, prefix: &[&'p str]) -> Vec<Vec<Condition<'p>>> {
    let Value::Object(map) = object else {
        panic!("invalid pattern: not an object: {object}");
    };
    let mut result: Vec<Vec<Condition<'p>>> = vec![Vec::new()];
    for (key, value) in map {
        let options: Vec<Vec<Condition<'p>>> = if key == "$or" {
            let Value::Array(members) = value else {
                panic!("invalid pattern: $or is not an array: {value}");
            };
            // Any member, each at the same level as this object.
            members
                .iter()
                .flat_map(|member| alternatives(member, prefix))
                .collect()
        } else {
            let mut path = prefix.to_vec();
            path.push(key.as_str());
            match value {
                Value::Array(tests) => vec![vec![Condition { path, tests }]],
                Value::Object(_) => alternatives(value, &path),
                _ => panic!("invalid pattern: a leaf is not an array: {value}"),
            }
        };
        // AND with what came before: every way of combining.
        let mut product = Vec::new();
        for before in &result {
            for option in &options {
                let mut both = before.clone();
                both.extend(option.iter().cloned());
                product.push(both);
            }
        }
        result = product;
    }
    result
}

/// Whether each of `conditions` can be satisfied, with all the leaves used (`chosen`, plus the
/// ones chosen for the remaining conditions) pairwise compatible.
fn satisfiable<'e>(
    conditions: &[Condition<'_>],
    leaves: &'e [EventLeaf<'e>],
    chosen: &mut Vec<&'e EventLeaf<'e>>,
) -> bool {
    let Some((condition, rest)) = conditions.split_first() else {
        return true;
    };
    let at_path: Vec<&'e EventLeaf<'e>> = leaves
        .iter()
        .filter(|leaf| leaf.path == condition.path)
        .collect();
    // `{"exists": false}` holds when the path has no leaf at all; it uses no leaf.
    if at_path.is_empty()
        && condition.tests.iter().any(is_exists_false)
        && satisfiable(rest, leaves, chosen)
    {
        return true;
    }
    for leaf in at_path {
        if condition
            .tests
            .iter()
            .any(|test| test_matches(test, leaf.value))
            && chosen.iter().all(|other| compatible(other, leaf))
        {
            chosen.push(leaf);
            if satisfiable(rest, leaves, chosen) {
                return true;
            }
            chosen.pop();
        }
    }
    false
}

fn is_exists_false(test: &Value) -> bool {
    matches!(operator(test), Some(("exists", Value::Bool(false))))
}

/// The single (name, operand) of an operator object.
fn operator(test: &Value) -> Option<(&str, &Value)> {
    match test {
        Value::Object(map) if map.len() == 1 => map.iter().next().map(|(k, v)| (k.as_str(), v)),
        _ => None,
    }
}

/// Whether one element of a leaf array accepts one present event leaf.
fn test_matches(test: &Value, leaf: &Value) -> bool {
    let Value::Object(_) = test else {
        return same_scalar(test, leaf);
    };
    let Some((name, operand)) = operator(test) else {
        panic!("invalid pattern: operator object without exactly one key: {test}");
    };
    match name {
        "exists" => match operand {
            // Any present leaf will do (null included).
            Value::Bool(true) => true,
            // Only satisfied by the absence of leaves, handled in `satisfiable`.
            Value::Bool(false) => false,
            _ => panic!("invalid pattern: exists {operand}"),
        },
        "prefix" => string_op(operand, leaf, |s, p| s.starts_with(p)),
        "suffix" => string_op(operand, leaf, |s, p| s.ends_with(p)),
        "equals-ignore-case" => match (operand, leaf) {
            (Value::String(p), Value::String(s)) => s.to_lowercase() == p.to_lowercase(),
            (Value::String(_), _) => false,
            _ => panic!("invalid pattern: equals-ignore-case {operand}"),
        },
        "wildcard" => match (operand, leaf) {
            (Value::String(p), Value::String(s)) => wildcard_matches(p, s),
            (Value::String(_), _) => false,
            _ => panic!("invalid pattern: wildcard {operand}"),
        },
        "numeric" => match leaf {
            Value::Number(n) => numeric_matches(operand, as_f64(n)),
            _ => false,
        },
        "cidr" => match (operand, leaf) {
            (Value::String(network), Value::String(s)) => cidr_matches(network, s),
            (Value::String(_), _) => false,
            _ => panic!("invalid pattern: cidr {operand}"),
        },
        "anything-but" => !excluded(operand, leaf),
        _ => panic!("invalid pattern: unknown operator {name}"),
    }
}

/// `prefix` / `suffix`: operand is a string, or `{"equals-ignore-case": string}`.
fn string_op(operand: &Value, leaf: &Value, op: fn(&str, &str) -> bool) -> bool {
    let Value::String(s) = leaf else {
        return false;
    };
    match operand {
        Value::String(p) => op(s, p),
        Value::Object(map) => match single(map) {
            Some(("equals-ignore-case", Value::String(p))) => {
                op(&s.to_lowercase(), &p.to_lowercase())
            }
            _ => panic!("invalid pattern: string operand {operand}"),
        },
        _ => panic!("invalid pattern: string operand {operand}"),
    }
}

fn single(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    if map.len() == 1 {
        map.iter().next().map(|(k, v)| (k.as_str(), v))
    } else {
        None
    }
}

fn as_f64(n: &serde_json::Number) -> f64 {
    match n.as_f64() {
        Some(x) => x,
        None => panic!("number {n} has no f64 value"),
    }
}

/// Typed equality of two scalars; numbers compare as f64 (so `-0.0 == 0.0`).
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => as_f64(x) == as_f64(y),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

/// `numeric`: `["=", x]` or up to one lower and one upper comparison; all must hold.
fn numeric_matches(operand: &Value, x: f64) -> bool {
    let Value::Array(items) = operand else {
        panic!("invalid pattern: numeric {operand}");
    };
    assert!(
        items.len() % 2 == 0 && !items.is_empty(),
        "invalid pattern: numeric {operand}"
    );
    items.chunks(2).all(|pair| {
        let (Value::String(op), Value::Number(bound)) = (&pair[0], &pair[1]) else {
            panic!("invalid pattern: numeric {operand}");
        };
        let bound = as_f64(bound);
        match op.as_str() {
            "=" => x == bound,
            "<" => x < bound,
            "<=" => x <= bound,
            ">" => x > bound,
            ">=" => x >= bound,
            _ => panic!("invalid pattern: numeric comparison {op}"),
        }
    })
}

/// `cidr`: `leaf` parses as an IP address of the same family as the network and agrees with it
/// on the first `length` bits. A bare address is a full-length network.
fn cidr_matches(network: &str, leaf: &str) -> bool {
    let (address, length) = match network.split_once('/') {
        Some((address, length)) => (address, Some(length)),
        None => (network, None),
    };
    let Ok(network) = address.parse::<IpAddr>() else {
        panic!("invalid pattern: cidr address {address}");
    };
    let Ok(leaf) = leaf.parse::<IpAddr>() else {
        return false;
    };
    let length = |full: u32| -> u32 {
        match length {
            None => full,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if n <= full => n,
                _ => panic!("invalid pattern: cidr prefix length {text}"),
            },
        }
    };
    match (network, leaf) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits = length(32);
            bits == 0 || (u32::from(n) ^ u32::from(a)) >> (32 - bits) == 0
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits = length(128);
            bits == 0 || (u128::from(n) ^ u128::from(a)) >> (128 - bits) == 0
        }
        _ => false,
    }
}

/// One element of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    /// Any run of characters, possibly empty.
    Star,
    /// Exactly this character.
    Char(char),
}

fn wildcard_tokens(pattern: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => Token::Star,
            '\\' => match chars.next() {
                Some(e @ ('*' | '\\')) => Token::Char(e),
                _ => panic!("invalid pattern: wildcard escape in {pattern:?}"),
            },
            c => Token::Char(c),
        });
    }
    tokens
}

/// Whether `s` matches the wildcard `pattern` (plain recursion over characters).
fn wildcard_matches(pattern: &str, s: &str) -> bool {
    fn go(tokens: &[Token], s: &[char]) -> bool {
        match tokens.split_first() {
            None => s.is_empty(),
            Some((Token::Star, rest)) => (0..=s.len()).any(|skip| go(rest, &s[skip..])),
            Some((Token::Char(c), rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    let chars: Vec<char> = s.chars().collect();
    go(&wildcard_tokens(pattern), &chars)
}

/// Whether `anything-but` with this operand excludes the present leaf.
fn excluded(operand: &Value, leaf: &Value) -> bool {
    match operand {
        Value::String(_) | Value::Number(_) => same_scalar(operand, leaf),
        Value::Array(values) => values.iter().any(|v| same_scalar(v, leaf)),
        Value::Object(map) => {
            let Some((name, inner)) = single(map) else {
                panic!("invalid pattern: anything-but {operand}");
            };
            let Value::String(s) = leaf else {
                // All nested forms exclude strings only.
                return false;
            };
            let strings: Vec<&str> = match inner {
                Value::String(p) => vec![p.as_str()],
                Value::Array(list) => list
                    .iter()
                    .map(|v| match v {
                        Value::String(p) => p.as_str(),
                        _ => panic!("invalid pattern: anything-but {operand}"),
                    })
                    .collect(),
                _ => panic!("invalid pattern: anything-but {operand}"),
            };
            match name {
                "prefix" => strings.iter().any(|p| s.starts_with(p)),
                "suffix" => strings.iter().any(|p| s.ends_with(p)),
                "equals-ignore-case" => {
                    strings.iter().any(|p| s.to_lowercase() == p.to_lowercase())
                }
                "wildcard" => strings.iter().any(|p| wildcard_matches(p, s)),
                _ => panic!("invalid pattern: anything-but {operand}"),
            }
        }
        _ => panic!("invalid pattern: anything-but {operand}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::matches;

    #[track_caller]
    fn yes(pattern: serde_json::Value, event: serde_json::Value) {
        assert!(
            matches(&pattern, &event),
            "expected a match\npattern: {pattern}\nevent: {event}"
        );
    }

    #[track_caller]
    fn no(pattern: serde_json::Value, event: serde_json::Value) {
        assert!(
            !matches(&pattern, &event),
            "expected no match\npattern: {pattern}\nevent: {event}"
        );
    }

    #[test]
    fn array_consistency_example_from_the_docs() {
        let event = json!({"e": [{"f": "John", "l": "Doe"}, {"f": "Anna", "l": "Smith"}]});
        yes(json!({"e": {"f": ["Anna"], "l": ["Smith"]}}), event.clone());
        yes(json!({"e": {"f": ["John"], "l": ["Doe"]}}), event.clone());
        no(json!({"e": {"f": ["Anna"], "l": ["Doe"]}}), event.clone());
        // exists:true uses a leaf, so it participates in consistency.
        let sparse = json!({"e": [{"f": "John"}, {"l": "Doe"}]});
        no(
            json!({"e": {"f": ["John"], "l": [{"exists": true}]}}),
            sparse.clone(),
        );
        yes(
            json!({"e": {"f": ["John"]}, "x": [{"exists": false}]}),
            sparse,
        );
        // Consistency holds across $or alternatives' leaves too, but only within one alternative.
        no(
            json!({"e": {"f": ["Anna"], "$or": [{"l": ["Doe"]}, {"l": ["Nobody"]}]}}),
            event.clone(),
        );
        yes(
            json!({"e": {"f": ["Anna"], "$or": [{"l": ["Doe"]}, {"l": ["Smith"]}]}}),
            event,
        );
    }

    #[test]
    fn arrays_are_crushed_and_nested_arrays_are_distinct_instances() {
        yes(json!({"a": [3]}), json!({"a": [1, [2, 3]]}));
        yes(json!({"a": {"b": [2]}}), json!({"a": [{"b": 1}, {"b": 2}]}));
        // Two arrays at different paths are independent.
        yes(
            json!({"a": {"b": ["x"]}, "c": {"d": ["y"]}}),
            json!({"a": [{"b": "z"}, {"b": "x"}], "c": [{"d": "y"}, {"d": "w"}]}),
        );
        // Same outer element, different inner elements of a nested array.
        no(
            json!({"a": {"b": ["x"], "c": ["y"]}}),
            json!({"a": [[{"b": "x"}, {"c": "y"}]]}),
        );
        yes(
            json!({"a": {"b": ["x"], "c": ["y"]}}),
            json!({"a": [[{"b": "x", "c": "y"}]]}),
        );
        // A leaf outside an array is compatible with any element.
        yes(
            json!({"a": {"b": ["x"], "c": ["y"]}}),
            json!({"a": {"b": [["q"], ["x"]], "c": "y"}}),
        );
        // The same path named in two conditions of one alternative must use one element.
        no(
            json!({"a": ["x"], "$or": [{"a": ["y"]}]}),
            json!({"a": ["x", "y"]}),
        );
        yes(
            json!({"a": ["x"], "$or": [{"a": ["x"]}]}),
            json!({"a": ["x", "y"]}),
        );
    }

    #[test]
    fn exact_values_are_typed() {
        yes(json!({"a": [35]}), json!({"a": 3.5e1}));
        yes(json!({"a": [35.0]}), json!({"a": 35}));
        yes(json!({"a": [0]}), json!({"a": -0.0}));
        no(json!({"a": [5]}), json!({"a": "5"}));
        no(json!({"a": ["true"]}), json!({"a": true}));
        yes(json!({"a": [null]}), json!({"a": null}));
        no(json!({"a": [null]}), json!({"b": null}));
        yes(json!({"a": [""]}), json!({"a": ""}));
        no(json!({"a": [""]}), json!({"a": "x"}));
        no(json!({"a": ["x"]}), json!({"a": {"b": "x"}}));
        // Keys are real paths.
        no(json!({"a.b": ["x"]}), json!({"a": {"b": "x"}}));
        yes(json!({"a.b": ["x"]}), json!({"a.b": "x"}));
        no(json!({"a": {"b": ["x"]}}), json!({"a.b": "x"}));
    }

    #[test]
    fn string_operators() {
        yes(json!({"a": [{"prefix": "ab"}]}), json!({"a": "abc"}));
        no(json!({"a": [{"prefix": "ab"}]}), json!({"a": "Abc"}));
        yes(
            json!({"a": [{"prefix": {"equals-ignore-case": "aB"}}]}),
            json!({"a": "Abc"}),
        );
        yes(json!({"a": [{"suffix": "bc"}]}), json!({"a": "abc"}));
        yes(
            json!({"a": [{"suffix": {"equals-ignore-case": "BC"}}]}),
            json!({"a": "abc"}),
        );
        yes(
            json!({"a": [{"equals-ignore-case": "ÉX"}]}),
            json!({"a": "éx"}),
        );
        no(
            json!({"a": [{"equals-ignore-case": "x"}]}),
            json!({"a": "xy"}),
        );
        no(json!({"a": [{"prefix": "5"}]}), json!({"a": 5}));
        yes(json!({"a": [{"wildcard": "a*b"}]}), json!({"a": "ab"}));
        yes(json!({"a": [{"wildcard": "a*b"}]}), json!({"a": "a*xb"}));
        no(json!({"a": [{"wildcard": "a*b"}]}), json!({"a": "abc"}));
        yes(json!({"a": [{"wildcard": "a\\*b"}]}), json!({"a": "a*b"}));
        no(json!({"a": [{"wildcard": "a\\*b"}]}), json!({"a": "axb"}));
        yes(json!({"a": [{"wildcard": "a\\\\b"}]}), json!({"a": "a\\b"}));
        yes(json!({"a": [{"wildcard": "*"}]}), json!({"a": ""}));
        yes(json!({"a": [{"wildcard": "*x*"}]}), json!({"a": "x"}));
        no(json!({"a": [{"wildcard": ""}]}), json!({"a": "x"}));
    }

    #[test]
    fn numeric_and_cidr() {
        yes(
            json!({"a": [{"numeric": [">", 0, "<=", 5]}]}),
            json!({"a": 5}),
        );
        no(
            json!({"a": [{"numeric": [">", 0, "<=", 5]}]}),
            json!({"a": 0}),
        );
        yes(
            json!({"a": [{"numeric": ["<=", 5, ">", 0]}]}),
            json!({"a": 0.5}),
        );
        yes(json!({"a": [{"numeric": ["=", 35]}]}), json!({"a": 3.5e1}));
        no(json!({"a": [{"numeric": ["=", 35]}]}), json!({"a": "35"}));
        yes(json!({"a": [{"numeric": [">=", 6e9]}]}), json!({"a": 6e9}));
        yes(
            json!({"a": [{"cidr": "10.0.0.0/24"}]}),
            json!({"a": "10.0.0.255"}),
        );
        no(
            json!({"a": [{"cidr": "10.0.0.0/24"}]}),
            json!({"a": "10.0.1.0"}),
        );
        yes(
            json!({"a": [{"cidr": "10.0.0.7/24"}]}),
            json!({"a": "10.0.0.1"}),
        );
        yes(
            json!({"a": [{"cidr": "10.0.0.1"}]}),
            json!({"a": "10.0.0.1"}),
        );
        no(
            json!({"a": [{"cidr": "10.0.0.1"}]}),
            json!({"a": "10.0.0.2"}),
        );
        no(
            json!({"a": [{"cidr": "10.0.0.0/8"}]}),
            json!({"a": "010.0.0.1"}),
        );
        no(
            json!({"a": [{"cidr": "0.0.0.0/0"}]}),
            json!({"a": "::ffff:10.0.0.1"}),
        );
        yes(
            json!({"a": [{"cidr": "::/0"}]}),
            json!({"a": "::ffff:10.0.0.1"}),
        );
        yes(
            json!({"a": [{"cidr": "2001:db8::/32"}]}),
            json!({"a": "2001:db8::1"}),
        );
        no(
            json!({"a": [{"cidr": "2001:db8::/32"}]}),
            json!({"a": "2001:db9::1"}),
        );
        no(json!({"a": [{"cidr": "0.0.0.0/0"}]}), json!({"a": 10}));
    }

    #[test]
    fn exists() {
        yes(json!({"a": [{"exists": true}]}), json!({"a": null}));
        no(json!({"a": [{"exists": true}]}), json!({"a": []}));
        no(json!({"a": [{"exists": true}]}), json!({"a": {"b": 1}}));
        yes(json!({"a": [{"exists": false}]}), json!({"a": {"b": 1}}));
        yes(json!({"a": [{"exists": false}]}), json!({"a": [[], {}]}));
        no(
            json!({"a": [{"exists": false}]}),
            json!({"a": [[], [null]]}),
        );
        yes(json!({"a": [{"exists": false}]}), json!({"b": 1}));
        yes(json!({"a": [{"exists": false}, "x"]}), json!({"a": "x"}));
        no(json!({"a": [{"exists": false}, "x"]}), json!({"a": "y"}));
    }

    #[test]
    fn anything_but() {
        yes(json!({"a": [{"anything-but": "x"}]}), json!({"a": 5}));
        yes(json!({"a": [{"anything-but": "x"}]}), json!({"a": null}));
        no(json!({"a": [{"anything-but": "x"}]}), json!({"b": "y"}));
        no(json!({"a": [{"anything-but": "x"}]}), json!({"a": "x"}));
        yes(
            json!({"a": [{"anything-but": "x"}]}),
            json!({"a": ["x", "y"]}),
        );
        no(json!({"a": [{"anything-but": 5}]}), json!({"a": 5.0}));
        yes(json!({"a": [{"anything-but": 5}]}), json!({"a": "5"}));
        no(
            json!({"a": [{"anything-but": ["a", "b"]}]}),
            json!({"a": "b"}),
        );
        yes(json!({"a": [{"anything-but": [1, 2]}]}), json!({"a": 3}));
        no(
            json!({"a": [{"anything-but": {"prefix": "x"}}]}),
            json!({"a": "xy"}),
        );
        yes(
            json!({"a": [{"anything-but": {"prefix": "x"}}]}),
            json!({"a": 5}),
        );
        no(
            json!({"a": [{"anything-but": {"suffix": "y"}}]}),
            json!({"a": "xy"}),
        );
        no(
            json!({"a": [{"anything-but": {"equals-ignore-case": ["q", "XY"]}}]}),
            json!({"a": "xY"}),
        );
        yes(
            json!({"a": [{"anything-but": {"equals-ignore-case": "q"}}]}),
            json!({"a": "xY"}),
        );
        no(
            json!({"a": [{"anything-but": {"wildcard": ["q*", "x*"]}}]}),
            json!({"a": "xY"}),
        );
        yes(
            json!({"a": [{"anything-but": {"wildcard": "q*"}}]}),
            json!({"a": "xY"}),
        );
    }

    #[test]
    fn or_nests_and_multiplies_out() {
        let p = json!({
            "a": ["1"],
            "$or": [
                {"b": ["2"]},
                {"c": {"$or": [{"d": ["3"]}, {"e": ["4"]}]}}
            ]
        });
        yes(p.clone(), json!({"a": "1", "b": "2"}));
        yes(p.clone(), json!({"a": "1", "c": {"e": "4"}}));
        no(p.clone(), json!({"a": "1", "c": {"f": "4"}}));
        no(p, json!({"b": "2", "c": {"d": "3"}}));
        // An object with only $or.
        yes(
            json!({"$or": [{"a": ["x"]}, {"b": ["y"]}]}),
            json!({"b": "y"}),
        );
    }
}
