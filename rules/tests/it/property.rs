//! Property tests: the compiled matcher (and `Pattern::matches_value`) against the reference
//! interpreter in `reference.rs`, on random valid patterns and random events drawn from a small
//! vocabulary (so that matches are frequent), plus robustness on garbage input.
//!
//! Failures are not persisted to a regressions file (the tree is shared); proptest prints the
//! shrunk input, and every assertion message carries the pattern and the event as compact JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use railyard_rules::{Limits, Matcher, Pattern};
use serde_json::{Map, Value, json};

use super::reference;

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

/// Strings found in events (and as exact values / anything-but values in patterns).
const EVENT_STRINGS: &[&str] = &[
    "",
    "x",
    "xy",
    "Xy",
    "XY",
    "ab",
    "a*b",
    "axb",
    "a\\b",
    "10.0.0.1",
    "10.0.0.7",
    "10.0.1.1",
    "2001:db8::1",
    "::ffff:10.0.0.1",
    "éx",
    "ÉX",
    "x😀",
    "true",
    "35",
    "x\"y",
    "tab\t",
    "İx",
];

/// Operands of `prefix`, `suffix` and `equals-ignore-case`.
const PATTERN_STRINGS: &[&str] = &[
    "", "x", "X", "xy", "XY", "a", "b", "y", "Y", "10.", ".1", "é", "É", "😀", "ab", "i", "İ",
];

/// Operands of `wildcard` (all valid: no `**`, only `\*` and `\\` escapes).
const WILDCARDS: &[&str] = &[
    "*", "x*", "*y", "a*b", "*x*", "", "xy", "a\\*b", "a\\\\b", "X*", "*.1", "10.*.1", "\\**",
    "*😀", "é*",
];

/// Operands of `cidr` (all valid).
const CIDRS: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.1",
    "10.0.0.7/24",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "10.0.0.1/32",
    "2001:db8::/32",
    "2001:db8::1",
    "2001:db8::1/128",
    "::/0",
    "::ffff:10.0.0.0/120",
];

fn numbers() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(1.5),
        json!(35),
        json!(3.5e1),
        json!(-0.0),
        json!(10),
        json!(6e9),
        json!(9_007_199_254_740_993_u64),
        json!(9_007_199_254_740_992.0),
        json!(1e-7),
    ]
}

fn strings(pool: &[&str]) -> Vec<Value> {
    pool.iter().map(|s| json!(s)).collect()
}

fn object(entries: Vec<(String, Value)>) -> Value {
    Value::Object(entries.into_iter().collect::<Map<String, Value>>())
}

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        5 => select(strings(EVENT_STRINGS)),
        4 => select(numbers()),
        1 => Just(json!(true)),
        1 => Just(json!(false)),
        1 => Just(Value::Null),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Valid patterns
// ---------------------------------------------------------------------------------------------

fn pattern_key() -> BoxedStrategy<String> {
    prop_oneof![
        12 => select(vec!["a", "b", "c"]).prop_map(String::from),
        1 => Just("a.b".to_string()),
    ]
    .boxed()
}

fn numeric() -> BoxedStrategy<Value> {
    let n = || select(numbers());
    let lower = || select(vec![">", ">="]);
    let upper = || select(vec!["<", "<="]);
    prop_oneof![
        n().prop_map(|x| json!({"numeric": ["=", x]})),
        (lower(), n()).prop_map(|(o, x)| json!({"numeric": [o, x]})),
        (upper(), n()).prop_map(|(o, x)| json!({"numeric": [o, x]})),
        (lower(), n(), upper(), n(), any::<bool>()).prop_map(|(lo, l, uo, u, swap)| {
            let (lf, uf) = (l.as_f64().unwrap_or(0.0), u.as_f64().unwrap_or(0.0));
            let non_empty = lf < uf || (lf == uf && lo == ">=" && uo == "<=");
            if !non_empty {
                json!({"numeric": [lo, l]})
            } else if swap {
                json!({"numeric": [uo, u, lo, l]})
            } else {
                json!({"numeric": [lo, l, uo, u]})
            }
        }),
    ]
    .boxed()
}

fn anything_but() -> BoxedStrategy<Value> {
    let s = || select(strings(EVENT_STRINGS));
    let p = || select(strings(PATTERN_STRINGS));
    // Non-empty: an empty anything-but prefix or suffix is an error.
    let ne = || {
        select(
            strings(PATTERN_STRINGS)
                .into_iter()
                .filter(|s| s.as_str() != Some(""))
                .collect::<Vec<_>>(),
        )
    };
    let w = || select(strings(WILDCARDS));
    prop_oneof![
        s().prop_map(|x| json!({"anything-but": x})),
        select(numbers()).prop_map(|x| json!({"anything-but": x})),
        vec(s(), 1..=3).prop_map(|x| json!({"anything-but": x})),
        vec(select(numbers()), 1..=3).prop_map(|x| json!({"anything-but": x})),
        ne().prop_map(|x| json!({"anything-but": {"prefix": x}})),
        ne().prop_map(|x| json!({"anything-but": {"suffix": x}})),
        vec(ne(), 1..=3).prop_map(|x| json!({"anything-but": {"prefix": x}})),
        vec(ne(), 1..=3).prop_map(|x| json!({"anything-but": {"suffix": x}})),
        p().prop_map(|x| json!({"anything-but": {"equals-ignore-case": x}})),
        vec(p(), 1..=3).prop_map(|x| json!({"anything-but": {"equals-ignore-case": x}})),
        w().prop_map(|x| json!({"anything-but": {"wildcard": x}})),
        vec(w(), 1..=3).prop_map(|x| json!({"anything-but": {"wildcard": x}})),
    ]
    .boxed()
}

/// One element of a leaf array.
fn leaf_test() -> BoxedStrategy<Value> {
    let p = || select(strings(PATTERN_STRINGS));
    prop_oneof![
        6 => scalar(),
        2 => p().prop_map(|x| json!({"prefix": x})),
        1 => p().prop_map(|x| json!({"prefix": {"equals-ignore-case": x}})),
        2 => p().prop_map(|x| json!({"suffix": x})),
        1 => p().prop_map(|x| json!({"suffix": {"equals-ignore-case": x}})),
        2 => p().prop_map(|x| json!({"equals-ignore-case": x})),
        2 => select(strings(WILDCARDS)).prop_map(|x| json!({"wildcard": x})),
        3 => numeric(),
        2 => select(strings(CIDRS)).prop_map(|x| json!({"cidr": x})),
        2 => any::<bool>().prop_map(|x| json!({"exists": x})),
        4 => anything_but(),
    ]
    .boxed()
}

fn leaf_array() -> BoxedStrategy<Value> {
    vec(leaf_test(), 1..=3).prop_map(Value::Array).boxed()
}

/// A pattern object whose fields sit at path length `depth` (0 for the root); `$or` may nest
/// `or_budget` levels deep below this object.
fn pattern_object(depth: usize, or_budget: usize) -> BoxedStrategy<Value> {
    let field_value = if depth < 2 {
        prop_oneof![3 => leaf_array(), 1 => pattern_object(depth + 1, or_budget)].boxed()
    } else {
        leaf_array()
    };
    let or = if or_budget > 0 {
        proptest::option::weighted(0.25, vec(pattern_object(depth, or_budget - 1), 1..=3)).boxed()
    } else {
        Just(None).boxed()
    };
    (
        vec((pattern_key(), field_value), 0..=2),
        (pattern_key(), leaf_array()),
        or,
    )
        .prop_map(|(fields, fallback, or)| {
            let mut map: Map<String, Value> = fields.into_iter().collect();
            if map.is_empty() && or.is_none() {
                map.insert(fallback.0, fallback.1);
            }
            if let Some(members) = or {
                map.insert("$or".to_string(), Value::Array(members));
            }
            Value::Object(map)
        })
        .boxed()
}

/// How many alternatives the pattern has once `$or` is multiplied out.
fn alternative_count(pattern: &Value) -> usize {
    let Value::Object(map) = pattern else {
        return 1;
    };
    map.iter().fold(1usize, |count, (key, value)| {
        let factor = match value {
            Value::Array(members) if key == "$or" => members
                .iter()
                .fold(0usize, |sum, m| sum.saturating_add(alternative_count(m))),
            Value::Object(_) => alternative_count(value),
            _ => 1,
        };
        count.saturating_mul(factor)
    })
}

/// A valid pattern (within the default limits).
fn pattern() -> BoxedStrategy<Value> {
    pattern_object(0, 2)
        .prop_filter("too many alternatives", |p| alternative_count(p) <= 64)
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

fn event_key() -> BoxedStrategy<String> {
    prop_oneof![
        12 => select(vec!["a", "b", "c"]).prop_map(String::from),
        1 => Just("a.b".to_string()),
        1 => Just("d".to_string()),
    ]
    .boxed()
}

/// Any event value: scalars, objects, arrays of anything (nested, empty), up to a few levels.
fn event_value() -> BoxedStrategy<Value> {
    scalar()
        .prop_recursive(6, 40, 3, |inner| {
            prop_oneof![
                3 => vec((event_key(), inner.clone()), 0..=3).prop_map(object),
                2 => vec(inner, 0..=3).prop_map(Value::Array),
            ]
        })
        .boxed()
}

/// A structured-JSON event: always an object.
fn event() -> BoxedStrategy<Value> {
    vec((event_key(), event_value()), 1..=4)
        .prop_map(object)
        .boxed()
}

/// Randomness for steering an event towards a pattern (see [`guided`]).
type Guide = Vec<(bool, Index, u8, Index)>;

fn guide() -> BoxedStrategy<Guide> {
    vec(
        (
            proptest::bool::weighted(0.8),
            any::<Index>(),
            0u8..8,
            any::<Index>(),
        ),
        6,
    )
    .boxed()
}

/// The conditions of the pattern (all alternatives): path and leaf array.
fn conditions<'p>(pattern: &'p Value, prefix: &[String], out: &mut Vec<(Vec<String>, &'p Value)>) {
    let Value::Object(map) = pattern else {
        return;
    };
    for (key, value) in map {
        match value {
            Value::Array(members) if key == "$or" => {
                for member in members {
                    conditions(member, prefix, out);
                }
            }
            Value::Array(_) => {
                let mut path = prefix.to_vec();
                path.push(key.clone());
                out.push((path, value));
            }
            Value::Object(_) => {
                let mut path = prefix.to_vec();
                path.push(key.clone());
                conditions(value, &path, out);
            }
            _ => {}
        }
    }
}

/// Values likely to satisfy (or just miss) the tests of the pattern: its operands, and variants.
fn hints(pattern: &Value, out: &mut Vec<Value>) {
    match pattern {
        Value::String(s) => {
            let plain = s.replace("\\*", "*").replace("\\\\", "\\");
            for variant in [
                s.clone(),
                s.to_uppercase(),
                s.to_lowercase(),
                format!("{s}y"),
                format!("x{s}"),
                plain.replace('*', ""),
                plain.replace('*', "zz"),
                s.split('/').next().unwrap_or("").to_string(),
            ] {
                out.push(Value::String(variant));
            }
        }
        Value::Number(n) => {
            out.push(pattern.clone());
            if let Some(x) = n.as_f64() {
                out.extend([json!(x), json!(x + 0.5), json!(x - 0.5)]);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| hints(v, out)),
        Value::Object(map) => map.values().for_each(|v| hints(v, out)),
        Value::Bool(_) | Value::Null => out.push(pattern.clone()),
    }
}

/// `base` with values from the pattern's operands placed at the pattern's paths (sometimes in
/// arrays, sometimes inside an existing array of objects), so that matches are frequent.
fn guided(pattern: &Value, base: &Value, guide: &Guide) -> Value {
    let mut found = Vec::new();
    conditions(pattern, &[], &mut found);
    let anything = strings(EVENT_STRINGS);
    let mut event = base.clone();
    for (k, (path, tests)) in found.iter().enumerate() {
        let (include, hint, shape, at) = &guide[k % guide.len()];
        if !include {
            continue;
        }
        let mut pool = Vec::new();
        hints(tests, &mut pool);
        let first = pool
            .get(hint.index(pool.len().max(1)))
            .cloned()
            .unwrap_or(Value::Null);
        let second = anything[at.index(anything.len())].clone();
        let value = match shape {
            0..=3 => first,
            4 => json!([first, second]),
            5 => json!([second, first]),
            6 => json!([[first], []]),
            _ => json!([]),
        };
        set_path(&mut event, path, value, at.index(1 << 16));
    }
    event
}

/// Sets the value at `path`, making objects on the way; through an array it goes into one of
/// its object (or array) elements, or a new object pushed onto it.
fn set_path(node: &mut Value, path: &[String], value: Value, at: usize) {
    let Some((key, rest)) = path.split_first() else {
        *node = value;
        return;
    };
    match node {
        Value::Array(elements) => {
            let i = at % elements.len().max(1);
            match elements.get_mut(i) {
                Some(element) if element.is_object() || element.is_array() => {
                    set_path(element, path, value, at / 3);
                }
                _ => {
                    elements.push(json!({}));
                    if let Some(last) = elements.last_mut() {
                        set_path(last, path, value, at / 3);
                    }
                }
            }
        }
        Value::Object(map) => {
            let child = map.entry(key.clone()).or_insert(Value::Null);
            set_path(child, rest, value, at);
        }
        other => {
            *other = json!({});
            set_path(other, path, value, at);
        }
    }
}

/// An event for a pattern: random, or random and then steered towards the pattern.
type EventSeed = (Value, Guide, bool);

fn event_seed() -> BoxedStrategy<EventSeed> {
    (event(), guide(), proptest::bool::weighted(0.75)).boxed()
}

fn event_for(pattern: &Value, (base, guide, steer): &EventSeed) -> Value {
    if *steer {
        guided(pattern, base, guide)
    } else {
        base.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Unusual but valid JSON renderings of an event (whitespace, escapes, number spellings)
// ---------------------------------------------------------------------------------------------

/// A tiny deterministic generator (xorshift), seeded by proptest.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn render(value: &Value, seed: u64) -> Vec<u8> {
    let mut out = String::new();
    render_into(value, &mut Rng(seed | 1), &mut out);
    out.into_bytes()
}

fn whitespace(rng: &mut Rng, out: &mut String) {
    out.push_str(["", "", " ", "\n", "\t", "\r\n  "][rng.below(6) as usize]);
}

fn render_string(s: &str, rng: &mut Rng, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if rng.below(2) == 0 => out.push_str("\\/"),
            c if (c as u32) < 0x20 || rng.below(4) == 0 => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    if rng.below(2) == 0 {
                        out.push_str(&format!("\\u{unit:04x}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn render_number(n: &serde_json::Number, rng: &mut Rng, out: &mut String) {
    let text = n.to_string();
    let Some(x) = n.as_f64() else {
        out.push_str(&text);
        return;
    };
    let forms = [text, format!("{x:e}"), format!("{x:E}"), format!("{x:?}")];
    // Only spellings that read back as the same f64.
    let valid: Vec<&String> = forms
        .iter()
        .filter(|f| f.parse::<f64>().ok() == Some(x))
        .collect();
    match valid.get(rng.below(valid.len().max(1) as u64) as usize) {
        Some(form) => out.push_str(form),
        None => out.push_str(&n.to_string()),
    }
}

fn render_into(value: &Value, rng: &mut Rng, out: &mut String) {
    whitespace(rng, out);
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => render_number(n, rng, out),
        Value::String(s) => render_string(s, rng, out),
        Value::Array(elements) => {
            out.push('[');
            for (i, element) in elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render_into(element, rng, out);
            }
            whitespace(rng, out);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, child)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                whitespace(rng, out);
                render_string(key, rng, out);
                whitespace(rng, out);
                out.push(':');
                render_into(child, rng, out);
            }
            whitespace(rng, out);
            out.push('}');
        }
    }
    whitespace(rng, out);
}

// ---------------------------------------------------------------------------------------------
// a. One pattern at a time
// ---------------------------------------------------------------------------------------------

fn compact(value: &Value) -> String {
    value.to_string()
}

fn parse_valid(p: &Value) -> Result<Pattern, TestCaseError> {
    Pattern::parse(p, &Limits::default()).map_err(|e| {
        TestCaseError::fail(format!(
            "a valid pattern was rejected: {e}\npattern: {}",
            compact(p)
        ))
    })
}

fn check_pair(
    p: &Value,
    pattern: &Arc<Pattern>,
    e: &Value,
    seed: u64,
) -> Result<(), TestCaseError> {
    const ID: u64 = 42;
    let expected = reference::matches(p, e);
    let explained = pattern.explain(e);
    prop_assert_eq!(
        pattern.matches_value(e),
        expected,
        "Pattern::matches_value disagrees with the reference (reference says {})\npattern: {}\nevent:   {}\nexplain: {:?}",
        expected,
        compact(p),
        compact(e),
        explained
    );
    let mut matcher = Matcher::new();
    matcher.insert(ID, Arc::clone(pattern));
    let want: Result<Vec<u64>, railyard_rules::MatchError> =
        Ok(if expected { vec![ID] } else { vec![] });
    let bytes = serde_json::to_vec(e).map_err(|err| TestCaseError::fail(err.to_string()))?;
    prop_assert_eq!(
        matcher.matches(&bytes),
        want.clone(),
        "Matcher::matches disagrees with the reference (reference says {})\npattern: {}\nevent:   {}",
        expected,
        compact(p),
        compact(e)
    );
    let unusual = render(e, seed);
    prop_assert_eq!(
        matcher.matches(&unusual),
        want,
        "Matcher::matches on an unusual rendering of the event disagrees with the reference \
         (reference says {})\npattern: {}\nevent:   {}\nbytes:   {}",
        expected,
        compact(p),
        compact(e),
        String::from_utf8_lossy(&unusual)
    );
    Ok(())
}

const EVENTS_PER_PATTERN: usize = 5;

proptest! {
    #![proptest_config(Config {
        cases: 2_000, // x EVENTS_PER_PATTERN = 10,000 pairs
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn compiled_matcher_agrees_with_reference(
        p in pattern(),
        events in vec((event_seed(), any::<u64>()), EVENTS_PER_PATTERN),
    ) {
        let pattern = Arc::new(parse_valid(&p)?);
        for (e, seed) in &events {
            check_pair(&p, &pattern, &event_for(&p, e), *seed)?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// b. Many rules in one matcher, with removals, re-insertions and replacements
// ---------------------------------------------------------------------------------------------

const RULES: usize = 200;
const EVENTS: usize = 200;

/// Checks every event against `matcher`, whose rules are `rules` (id -> pattern index), given
/// `truth[pattern][event]` from the reference.
fn check_all(
    stage: &str,
    matcher: &Matcher,
    rules: &BTreeMap<u64, usize>,
    patterns: &[Value],
    events: &[Value],
    truth: &[Vec<bool>],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(matcher.len(), rules.len(), "{}: Matcher::len", stage);
    for (j, e) in events.iter().enumerate() {
        let want: Vec<u64> = rules
            .iter()
            .filter(|&(_, &i)| truth[i][j])
            .map(|(&id, _)| id)
            .collect();
        let bytes = serde_json::to_vec(e).map_err(|err| TestCaseError::fail(err.to_string()))?;
        let got = match matcher.matches(&bytes) {
            Ok(ids) => ids,
            Err(err) => {
                return Err(TestCaseError::fail(format!(
                    "{stage}: Matcher::matches failed: {err}\nevent: {}",
                    compact(e)
                )));
            }
        };
        if got != want {
            let wrong: Vec<String> = got
                .iter()
                .filter(|id| !want.contains(id))
                .chain(want.iter().filter(|id| !got.contains(id)))
                .map(|id| {
                    let pattern = rules.get(id).map(|&i| compact(&patterns[i]));
                    format!(
                        "  id {id} (reference says {}): {}",
                        want.contains(id),
                        pattern.unwrap_or_else(|| "<no such rule>".into())
                    )
                })
                .collect();
            return Err(TestCaseError::fail(format!(
                "{stage}: ids {got:?}, reference says {want:?}\nevent: {}\ndisagreeing rules:\n{}",
                compact(e),
                wrong.join("\n")
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config {
        cases: 3,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn many_rules_in_one_matcher_agree(
        patterns in vec(pattern(), RULES),
        seeds in vec((event_seed(), any::<Index>()), EVENTS),
        removed in vec(proptest::bool::weighted(1.0 / 3.0), RULES),
        reinsert in vec(any::<bool>(), RULES),
        replacements in vec((any::<Index>(), any::<Index>()), 10),
    ) {
        // Each event is steered towards one of the patterns (or not at all).
        let events: Vec<Value> = seeds
            .iter()
            .map(|(seed, which)| event_for(&patterns[which.index(RULES)], seed))
            .collect();
        let compiled: Vec<Arc<Pattern>> = patterns
            .iter()
            .map(|p| parse_valid(p).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let truth: Vec<Vec<bool>> = patterns
            .iter()
            .map(|p| events.iter().map(|e| reference::matches(p, e)).collect())
            .collect();

        let mut matcher = Matcher::new();
        prop_assert!(matcher.is_empty());
        let mut rules: BTreeMap<u64, usize> = BTreeMap::new();
        for (i, pattern) in compiled.iter().enumerate() {
            matcher.insert(i as u64, Arc::clone(pattern));
            rules.insert(i as u64, i);
        }
        check_all("all inserted", &matcher, &rules, &patterns, &events, &truth)?;

        for (i, &gone) in removed.iter().enumerate() {
            if gone {
                prop_assert!(matcher.remove(i as u64), "remove({}) of a present rule", i);
                prop_assert!(!matcher.remove(i as u64), "remove({}) twice", i);
                rules.remove(&(i as u64));
            }
        }
        prop_assert!(!matcher.remove(u64::MAX), "remove of an unknown id");
        check_all("a third removed", &matcher, &rules, &patterns, &events, &truth)?;

        // Removed patterns come back under new ids; some present ids get another pattern.
        for (i, (&gone, &back)) in removed.iter().zip(&reinsert).enumerate() {
            if gone && back {
                let id = (RULES + i) as u64 * 1_000;
                matcher.insert(id, Arc::clone(&compiled[i]));
                rules.insert(id, i);
            }
        }
        for (which, with) in &replacements {
            let ids: Vec<u64> = rules.keys().copied().collect();
            if ids.is_empty() {
                break;
            }
            let id = *which.get(&ids);
            let i = with.index(RULES);
            matcher.insert(id, Arc::clone(&compiled[i]));
            rules.insert(id, i);
        }
        check_all("re-inserted and replaced", &matcher, &rules, &patterns, &events, &truth)?;
    }
}

// ---------------------------------------------------------------------------------------------
// c. Parsing arbitrary JSON never panics
// ---------------------------------------------------------------------------------------------

const OPERATORS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "numeric",
    "cidr",
    "exists",
    "anything-but",
    "$or",
];

fn garbage_key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(OPERATORS.to_vec()).prop_map(String::from),
        3 => select(vec!["a", "b", "", "a.b", "/", "~", "$OR", "Prefix"]).prop_map(String::from),
        1 => "\\PC{0,6}",
    ]
    .boxed()
}

fn garbage_scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        select(numbers()),
        select(vec![
            "=",
            "<",
            "<=",
            ">",
            ">=",
            "==",
            "!",
            "*",
            "**",
            "a**b",
            "\\",
            "a\\",
            "\\x",
            "\\*",
            "10.0.0.0/33",
            "::/129",
            "1.2.3.4/-1",
            "x/24",
            "10.0.0.0/",
            "/8",
            "010.0.0.1",
            "1.2.3.4/08",
            "::ffff:1.2.3.4/200",
            "",
        ])
        .prop_map(|s| json!(s)),
        select(strings(EVENT_STRINGS)),
        select(OPERATORS.to_vec()).prop_map(|s| json!(s)),
        "\\PC{0,8}".prop_map(Value::String),
    ]
    .boxed()
}

fn garbage() -> BoxedStrategy<Value> {
    garbage_scalar()
        .prop_recursive(6, 48, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..=4).prop_map(Value::Array),
                vec((garbage_key(), inner), 0..=4).prop_map(object),
            ]
        })
        .boxed()
}

/// Replaces the `n`th node (pre-order, modulo the node count) of `value` with `with`.
fn mutate(value: &mut Value, n: Index, with: Value) {
    fn count(value: &Value) -> usize {
        1 + match value {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(m) => m.values().map(count).sum(),
            _ => 0,
        }
    }
    fn replace(value: &mut Value, n: &mut usize, with: &mut Option<Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *value = w;
            }
            return;
        }
        *n -= 1;
        match value {
            Value::Array(a) => a.iter_mut().for_each(|v| replace(v, n, with)),
            Value::Object(m) => m.values_mut().for_each(|v| replace(v, n, with)),
            _ => {}
        }
    }
    let mut n = n.index(count(value));
    replace(value, &mut n, &mut Some(with));
}

fn limits() -> BoxedStrategy<Limits> {
    prop_oneof![
        3 => Just(Limits::default()),
        1 => (0usize..200, 0usize..8, 0usize..8).prop_map(|(max_chars, max_depth, max_alternatives)| Limits {
            max_chars,
            max_depth,
            max_alternatives,
        }),
    ]
    .boxed()
}

/// Parses `candidate`; if it is accepted, also evaluates it and runs it in a matcher (any
/// outcome is fine, only panics fail).
fn parse_and_use(candidate: &Value, limits: &Limits, e: &Value) {
    if let Ok(pattern) = Pattern::parse(candidate, limits) {
        let _ = pattern.explain(e);
        let mut matcher = Matcher::new();
        matcher.insert(1, Arc::new(pattern));
        if let Ok(bytes) = serde_json::to_vec(e) {
            let _ = matcher.matches(&bytes);
        }
    }
    let _ = Pattern::from_json(&candidate.to_string(), limits);
}

proptest! {
    #![proptest_config(Config {
        cases: 2_000,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn compile_never_panics(
        arbitrary in garbage(),
        wrapped in (garbage_key(), garbage()),
        (mut near_valid, at, with) in (pattern(), any::<Index>(), garbage()),
        limits in limits(),
        e in event(),
        cut in any::<Index>(),
    ) {
        parse_and_use(&arbitrary, &limits, &e);
        // Garbage one level down, where parsing gets further.
        parse_and_use(&object(vec![wrapped]), &limits, &e);
        // A valid pattern with one node replaced by garbage.
        mutate(&mut near_valid, at, with);
        parse_and_use(&near_valid, &limits, &e);
        // Truncated pattern text.
        let text = near_valid.to_string();
        let cut = text
            .char_indices()
            .map(|(i, _)| i)
            .nth(cut.index(text.chars().count().max(1)))
            .unwrap_or(0);
        let _ = Pattern::from_json(&text[..cut], &limits);
    }
}

// ---------------------------------------------------------------------------------------------
// d. The matcher never panics on arbitrary bytes
// ---------------------------------------------------------------------------------------------

/// Bytes that look a little like JSON, so the reader gets past the first byte.
fn jsonish_bytes() -> BoxedStrategy<Vec<u8>> {
    let pieces: Vec<&'static [u8]> = vec![
        b"{", b"}", b"[", b"]", b"\"", b":", b",", b" ", b"\"a\"", b"\"b\"", b"\"c\"", b"1", b"-",
        b"0", b".", b"e", b"E", b"+", b"1.5", b"35", b"true", b"false", b"null", b"tru", b"\\",
        b"\\u", b"\\ud83d", b"\\ude00", b"00", b"x", b"\xff", b"\xc3", b"\xe9", b"\x00", b"\"x\"",
        b"\\\"",
    ];
    vec(select(pieces), 0..64)
        .prop_map(|ps| {
            let mut out = b"{".to_vec();
            ps.iter().for_each(|p| out.extend_from_slice(p));
            out
        })
        .boxed()
}

/// Deeply nested (but bounded) objects and arrays.
fn nested_bytes() -> BoxedStrategy<Vec<u8>> {
    (vec(any::<bool>(), 0..300), any::<bool>())
        .prop_map(|(levels, close)| {
            let mut out = b"{\"a\":".to_vec();
            for &array in &levels {
                out.extend_from_slice(if array { b"[" } else { b"{\"a\":" });
            }
            out.extend_from_slice(b"1");
            if close {
                for &array in levels.iter().rev() {
                    out.push(if array { b']' } else { b'}' });
                }
                out.push(b'}');
            }
            out
        })
        .boxed()
}

fn damaged_event() -> BoxedStrategy<Vec<u8>> {
    (
        event(),
        any::<u64>(),
        any::<Index>(),
        any::<Index>(),
        any::<u8>(),
        0u8..3,
    )
        .prop_map(|(e, seed, at, at2, byte, how)| {
            let mut bytes = render(&e, seed);
            let len = bytes.len();
            match how {
                0 => bytes.truncate(at.index(len + 1)),
                1 => {
                    if len > 0 {
                        bytes[at.index(len)] = byte;
                    }
                }
                _ => {
                    let (a, b) = (at.index(len + 1), at2.index(len + 1));
                    bytes.drain(a.min(b)..a.max(b));
                }
            }
            bytes
        })
        .boxed()
}

#[test]
fn matcher_never_panics_on_arbitrary_bytes() {
    // A runner counts its successes across runs: one per run.
    let runner = || {
        TestRunner::new(Config {
            cases: 3_000,
            failure_persistence: None,
            ..Config::default()
        })
    };
    // One matcher holding many rules over the vocabulary, built once.
    let patterns = match vec(pattern(), 100).new_tree(&mut runner()) {
        Ok(tree) => tree.current(),
        Err(reason) => panic!("generating patterns: {reason}"),
    };
    let mut matcher = Matcher::new();
    for (i, p) in patterns.iter().enumerate() {
        match Pattern::parse(p, &Limits::default()) {
            Ok(pattern) => matcher.insert(i as u64, Arc::new(pattern)),
            Err(e) => panic!("a valid pattern was rejected: {e}\npattern: {p}"),
        }
    }

    // Valid events must be read fine.
    let valid = (event(), any::<u64>());
    let result = runner().run(&valid, |(e, seed)| {
        let bytes = render(&e, seed);
        prop_assert!(
            matcher.matches(&bytes).is_ok(),
            "a valid event was refused: {}",
            String::from_utf8_lossy(&bytes)
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }

    let bytes = prop_oneof![
        vec(any::<u8>(), 0..256),
        jsonish_bytes(),
        nested_bytes(),
        damaged_event(),
    ];
    let result = runner().run(&bytes, |bytes| {
        // Only a panic is a failure; an error is the expected answer to most of these.
        let _ = matcher.matches(&bytes);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// The generators themselves
// ---------------------------------------------------------------------------------------------

/// The generated pairs must match often enough (and not always) for the comparison to mean
/// something. Uses the reference only.
#[test]
fn generated_pairs_match_often_enough() {
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let pairs = match vec((pattern(), event_seed()), 2_000).new_tree(&mut runner) {
        Ok(tree) => tree.current(),
        Err(reason) => panic!("generating pairs: {reason}"),
    };
    let hits = pairs
        .iter()
        .filter(|(p, seed)| reference::matches(p, &event_for(p, seed)))
        .count();
    let rate = hits as f64 / pairs.len() as f64;
    eprintln!("reference match rate of generated pairs: {rate:.2}");
    assert!(
        (0.15..=0.85).contains(&rate),
        "reference match rate {rate:.2} of generated pairs is out of range"
    );
}
