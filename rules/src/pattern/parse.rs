//! From pattern JSON to validated alternatives. Every error names the JSON pointer of the most
//! specific offending place, so a user can find it in a large pattern.
//!
//! Object keys are visited in serde_json's map order (sorted), which is also the order of the
//! conditions in each alternative.

use serde_json::{Map, Value};

use super::leaf::{AnythingBut, Cidr, Leaf, Range, Scalar, mask_u32, mask_u128};
use super::wildcard::Wildcard;
use super::{Condition, Conjunction, Limits, PatternError, escape_pointer};

const OPERATORS: &str =
    "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr";

pub(super) fn parse(pattern: &Value, limits: &Limits) -> Result<Vec<Conjunction>, PatternError> {
    let chars = serde_json::to_string(pattern)
        .map(|s| s.chars().count())
        .unwrap_or(usize::MAX);
    if chars > limits.max_chars {
        return Err(PatternError::new(
            "",
            format!(
                "the pattern is {chars} characters long (compact JSON); at most {} characters are allowed",
                limits.max_chars
            ),
        ));
    }
    let Value::Object(map) = pattern else {
        return Err(PatternError::new(
            "",
            format!(
                "a pattern is a JSON object such as {{\"source\": [\"orders\"]}}; found {}",
                kind(pattern)
            ),
        ));
    };
    let mut path = Vec::new();
    let alternatives = object(map, &mut path, "", 1, limits)?;
    Ok(alternatives
        .into_iter()
        .map(|conditions| Conjunction { conditions })
        .collect())
}

/// The alternatives of one pattern object (each a list of conditions).
fn object(
    map: &Map<String, Value>,
    path: &mut Vec<String>,
    pointer: &str,
    depth: usize,
    limits: &Limits,
) -> Result<Vec<Vec<Condition>>, PatternError> {
    if depth > limits.max_depth {
        return Err(PatternError::new(
            pointer,
            format!(
                "the pattern is nested too deep: at most {} levels are allowed",
                limits.max_depth
            ),
        ));
    }
    if map.is_empty() {
        return Err(PatternError::new(
            pointer,
            "an empty object matches nothing: name at least one field",
        ));
    }
    let mut alternatives: Vec<Vec<Condition>> = vec![Vec::new()];
    for (key, value) in map {
        let ptr = format!("{pointer}/{}", escape_pointer(key));
        if key == "$or" {
            let Value::Array(members) = value else {
                return Err(PatternError::new(
                    &ptr,
                    format!(
                        "$or takes an array of pattern objects; found {}",
                        kind(value)
                    ),
                ));
            };
            if members.is_empty() {
                return Err(PatternError::new(
                    &ptr,
                    "$or needs at least one pattern object (an empty array is not allowed)",
                ));
            }
            let mut any = Vec::new();
            for (i, member) in members.iter().enumerate() {
                let member_ptr = format!("{ptr}/{i}");
                let Value::Object(m) = member else {
                    return Err(PatternError::new(
                        &member_ptr,
                        format!(
                            "each element of $or is a pattern object; found {}",
                            kind(member)
                        ),
                    ));
                };
                any.extend(object(m, path, &member_ptr, depth + 1, limits)?);
                check_count(any.len(), &ptr, limits)?;
            }
            alternatives = cross(&alternatives, &any, &ptr, limits)?;
            continue;
        }
        path.push(key.clone());
        let result = match value {
            Value::Object(m) => object(m, path, &ptr, depth + 1, limits)
                .and_then(|nested| cross(&alternatives, &nested, &ptr, limits)),
            Value::Array(items) => leaf_array(items, path, &ptr).map(|condition| {
                for alternative in &mut alternatives {
                    alternative.push(condition.clone());
                }
                std::mem::take(&mut alternatives)
            }),
            other => Err(PatternError::new(
                &ptr,
                format!(
                    "a field's value is an array of values to match (such as [\"x\"]) or an object of nested fields; found {}",
                    kind(other)
                ),
            )),
        };
        path.pop();
        alternatives = result?;
    }
    Ok(alternatives)
}

/// Every alternative of `a` joined with every alternative of `b`.
fn cross(
    a: &[Vec<Condition>],
    b: &[Vec<Condition>],
    pointer: &str,
    limits: &Limits,
) -> Result<Vec<Vec<Condition>>, PatternError> {
    check_count(a.len().saturating_mul(b.len()), pointer, limits)?;
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut joined = x.clone();
            joined.extend(y.iter().cloned());
            out.push(joined);
        }
    }
    Ok(out)
}

fn check_count(n: usize, pointer: &str, limits: &Limits) -> Result<(), PatternError> {
    if n > limits.max_alternatives {
        return Err(PatternError::new(
            pointer,
            format!(
                "$or multiplies the pattern into more than {} alternatives",
                limits.max_alternatives
            ),
        ));
    }
    Ok(())
}

/// A leaf array: the tests on the values at `path`.
fn leaf_array(items: &[Value], path: &[String], pointer: &str) -> Result<Condition, PatternError> {
    if items.is_empty() {
        return Err(PatternError::new(
            pointer,
            "an empty array matches nothing: list at least one value",
        ));
    }
    let mut condition = Condition {
        path: path.to_vec(),
        pointer: pointer.to_string(),
        leaves: Vec::new(),
        present: false,
        absent: false,
    };
    for (i, item) in items.iter().enumerate() {
        let ptr = format!("{pointer}/{i}");
        match item {
            Value::String(s) => condition
                .leaves
                .push(Leaf::Exact(Scalar::String(s.clone()))),
            Value::Number(_) => condition
                .leaves
                .push(Leaf::Exact(Scalar::Number(number(item, &ptr)?))),
            Value::Bool(b) => condition.leaves.push(Leaf::Exact(Scalar::Bool(*b))),
            Value::Null => condition.leaves.push(Leaf::Exact(Scalar::Null)),
            Value::Array(_) => {
                return Err(PatternError::new(
                    &ptr,
                    "a value array cannot contain an array",
                ));
            }
            Value::Object(m) => {
                let (op, operand) = single_key(m, &ptr, "an operator object")?;
                let op_ptr = format!("{ptr}/{}", escape_pointer(op));
                match op {
                    "exists" => match operand {
                        Value::Bool(true) => condition.present = true,
                        Value::Bool(false) => condition.absent = true,
                        other => {
                            return Err(PatternError::new(
                                &op_ptr,
                                format!("exists takes true or false; found {}", kind(other)),
                            ));
                        }
                    },
                    _ => condition.leaves.push(operator(op, operand, &op_ptr)?),
                }
            }
        }
    }
    Ok(condition)
}

/// The only key of an operator object.
fn single_key<'a>(
    m: &'a Map<String, Value>,
    pointer: &str,
    what: &str,
) -> Result<(&'a str, &'a Value), PatternError> {
    let mut it = m.iter();
    match (it.next(), m.len()) {
        (Some((k, v)), 1) => Ok((k.as_str(), v)),
        (_, n) => Err(PatternError::new(
            pointer,
            format!("{what} has exactly one key, such as {{\"prefix\": \"x\"}}; found {n} keys"),
        )),
    }
}

fn operator(op: &str, operand: &Value, pointer: &str) -> Result<Leaf, PatternError> {
    Ok(match op {
        "prefix" | "suffix" => {
            let (value, ignore_case) = match operand {
                Value::String(s) => (s.clone(), false),
                Value::Object(m) => {
                    let (inner, v) = single_key(m, pointer, &format!("{op} with an object"))?;
                    let inner_ptr = format!("{pointer}/{}", escape_pointer(inner));
                    if inner != "equals-ignore-case" {
                        return Err(PatternError::new(
                            &inner_ptr,
                            format!(
                                "unknown operator {inner:?} inside {op}; only equals-ignore-case is allowed there"
                            ),
                        ));
                    }
                    (
                        string(v, &inner_ptr, "equals-ignore-case")?.to_lowercase(),
                        true,
                    )
                }
                other => {
                    return Err(PatternError::new(
                        pointer,
                        format!(
                            "{op} takes a string or {{\"equals-ignore-case\": string}}; found {}",
                            kind(other)
                        ),
                    ));
                }
            };
            if op == "prefix" {
                Leaf::Prefix { value, ignore_case }
            } else {
                Leaf::Suffix { value, ignore_case }
            }
        }
        "equals-ignore-case" => {
            Leaf::EqualsIgnoreCase(string(operand, pointer, op)?.to_lowercase())
        }
        "wildcard" => Leaf::Wildcard(wildcard(string(operand, pointer, op)?, pointer)?),
        "numeric" => Leaf::Numeric(numeric(operand, pointer)?),
        "cidr" => Leaf::Cidr(cidr(string(operand, pointer, op)?, pointer)?),
        "anything-but" => Leaf::AnythingBut(anything_but(operand, pointer)?),
        other => {
            return Err(PatternError::new(
                pointer,
                format!("unknown operator {other:?}; the operators are: {OPERATORS}"),
            ));
        }
    })
}

fn string<'a>(v: &'a Value, pointer: &str, op: &str) -> Result<&'a str, PatternError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(PatternError::new(
            pointer,
            format!("{op} takes a string; found {}", kind(other)),
        )),
    }
}

fn wildcard(s: &str, pointer: &str) -> Result<Wildcard, PatternError> {
    Wildcard::parse(s)
        .map_err(|reason| PatternError::new(pointer, format!("wildcard {s:?}: {reason}")))
}

fn number(v: &Value, pointer: &str) -> Result<f64, PatternError> {
    match v.as_f64() {
        // -0.0 == 0.0 already; store +0.0 so hashing agrees with equality.
        Some(x) if x.is_finite() => Ok(if x == 0.0 { 0.0 } else { x }),
        _ => Err(PatternError::new(
            pointer,
            format!("expected a finite number; found {}", kind(v)),
        )),
    }
}

fn numeric(operand: &Value, pointer: &str) -> Result<Range, PatternError> {
    let Value::Array(items) = operand else {
        return Err(PatternError::new(
            pointer,
            format!(
                "numeric takes an array of comparisons such as [\">\", 0, \"<=\", 5]; found {}",
                kind(operand)
            ),
        ));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(PatternError::new(
            pointer,
            "numeric takes one or two pairs of comparison and number, such as [\">\", 0, \"<=\", 5]",
        ));
    }
    let mut range = Range {
        lower: None,
        upper: None,
    };
    for (pair, chunk) in items.chunks(2).enumerate() {
        let op_ptr = format!("{pointer}/{}", pair * 2);
        let num_ptr = format!("{pointer}/{}", pair * 2 + 1);
        let Value::String(op) = &chunk[0] else {
            return Err(PatternError::new(
                &op_ptr,
                format!(
                    "expected a comparison (=, <, <=, >, >=); found {}",
                    kind(&chunk[0])
                ),
            ));
        };
        let x = number(&chunk[1], &num_ptr)?;
        match op.as_str() {
            "=" => {
                if items.len() != 2 {
                    return Err(PatternError::new(
                        &op_ptr,
                        "numeric \"=\" cannot be combined with other comparisons",
                    ));
                }
                range.lower = Some((x, true));
                range.upper = Some((x, true));
            }
            ">" | ">=" => {
                if range.lower.is_some() {
                    return Err(PatternError::new(
                        &op_ptr,
                        "numeric allows one lower bound (> or >=); found two",
                    ));
                }
                range.lower = Some((x, op == ">="));
            }
            "<" | "<=" => {
                if range.upper.is_some() {
                    return Err(PatternError::new(
                        &op_ptr,
                        "numeric allows one upper bound (< or <=); found two",
                    ));
                }
                range.upper = Some((x, op == "<="));
            }
            other => {
                return Err(PatternError::new(
                    &op_ptr,
                    format!("unknown numeric comparison {other:?}; use =, <, <=, > or >="),
                ));
            }
        }
    }
    if let (Some((lo, lo_inc)), Some((hi, hi_inc))) = (range.lower, range.upper)
        && (lo > hi || (lo == hi && !(lo_inc && hi_inc)))
    {
        return Err(PatternError::new(
            pointer,
            format!("numeric range is empty: no number is above {lo} and below {hi}"),
        ));
    }
    Ok(range)
}

fn cidr(s: &str, pointer: &str) -> Result<Cidr, PatternError> {
    let bad = |why: &str| {
        PatternError::new(
            pointer,
            format!("cidr {s:?} is not a CIDR block such as 10.0.0.0/24 or 2001:db8::/32: {why}"),
        )
    };
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max && !l.starts_with('+') => n,
            _ => return Err(bad(&format!("the prefix length must be 0 to {max}"))),
        },
    };
    let network = match ip {
        std::net::IpAddr::V4(v4) => {
            std::net::IpAddr::V4((u32::from(v4) & mask_u32(prefix_len)).into())
        }
        std::net::IpAddr::V6(v6) => {
            std::net::IpAddr::V6((u128::from(v6) & mask_u128(prefix_len)).into())
        }
    };
    Ok(Cidr {
        network,
        prefix_len,
    })
}

fn anything_but(operand: &Value, pointer: &str) -> Result<AnythingBut, PatternError> {
    const FORMS: &str = "anything-but takes a string, a number, a list of strings or of numbers, or {\"prefix\"|\"suffix\"|\"equals-ignore-case\"|\"wildcard\": …}";
    match operand {
        Value::String(s) => Ok(AnythingBut::Values(vec![Scalar::String(s.clone())])),
        Value::Number(_) => Ok(AnythingBut::Values(vec![Scalar::Number(number(
            operand, pointer,
        )?)])),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(PatternError::new(
                    pointer,
                    "anything-but with an empty list excludes nothing; list at least one value",
                ));
            }
            let strings = items[0].is_string();
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let ptr = format!("{pointer}/{i}");
                match item {
                    Value::String(s) if strings => values.push(Scalar::String(s.clone())),
                    Value::Number(_) if !strings => {
                        values.push(Scalar::Number(number(item, &ptr)?))
                    }
                    Value::String(_) | Value::Number(_) => {
                        return Err(PatternError::new(
                            &ptr,
                            "an anything-but list is all strings or all numbers, not both",
                        ));
                    }
                    other => {
                        return Err(PatternError::new(
                            &ptr,
                            format!(
                                "an anything-but list holds strings or numbers; found {}",
                                kind(other)
                            ),
                        ));
                    }
                }
            }
            Ok(AnythingBut::Values(values))
        }
        Value::Object(m) => {
            let (op, inner) = single_key(m, pointer, "anything-but with an object")?;
            let ptr = format!("{pointer}/{}", escape_pointer(op));
            match op {
                "prefix" | "suffix" => {
                    let mut list = Vec::new();
                    for (s, p) in strings(inner, &ptr, op)? {
                        if s.is_empty() {
                            return Err(PatternError::new(
                                &p,
                                format!(
                                    "anything-but {op} must not be empty (it would exclude every string)"
                                ),
                            ));
                        }
                        list.push(s.to_string());
                    }
                    Ok(if op == "prefix" {
                        AnythingBut::Prefix(list)
                    } else {
                        AnythingBut::Suffix(list)
                    })
                }
                "equals-ignore-case" => Ok(AnythingBut::EqualsIgnoreCase(
                    strings(inner, &ptr, op)?
                        .into_iter()
                        .map(|(s, _)| s.to_lowercase())
                        .collect(),
                )),
                "wildcard" => Ok(AnythingBut::Wildcard(
                    strings(inner, &ptr, op)?
                        .into_iter()
                        .map(|(s, p)| wildcard(s, &p))
                        .collect::<Result<_, _>>()?,
                )),
                other => Err(PatternError::new(
                    &ptr,
                    format!(
                        "unknown operator {other:?} inside anything-but; use prefix, suffix, equals-ignore-case or wildcard"
                    ),
                )),
            }
        }
        other => Err(PatternError::new(
            pointer,
            format!("{FORMS}; found {}", kind(other)),
        )),
    }
}

/// A string or a non-empty list of strings, each with its pointer.
fn strings<'a>(
    v: &'a Value,
    pointer: &str,
    op: &str,
) -> Result<Vec<(&'a str, String)>, PatternError> {
    match v {
        Value::String(s) => Ok(vec![(s.as_str(), pointer.to_string())]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let ptr = format!("{pointer}/{i}");
                string(item, &ptr, op).map(|s| (s, ptr))
            })
            .collect(),
        Value::Array(_) => Err(PatternError::new(
            pointer,
            format!("{op} with an empty list: list at least one string"),
        )),
        other => Err(PatternError::new(
            pointer,
            format!(
                "{op} takes a string or a list of strings; found {}",
                kind(other)
            ),
        )),
    }
}

/// How a value is called in messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
