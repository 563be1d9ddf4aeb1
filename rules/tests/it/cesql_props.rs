//! Property tests of CESQL: no input panics the compiler or the evaluator.
//!
//! - Arbitrary strings, and strings built from CESQL's own tokens (which reach far deeper into the
//!   parser than random characters), never panic [`Expression::parse`].
//! - Random well-formed expressions (every operator and function, literals at the edges of the
//!   integer range, attributes present, absent or oddly typed) compile, and evaluating them against
//!   random events never panics; `matches` agrees with `evaluate`.

use proptest::prelude::*;
use railyard_rules::cesql::{CesqlValue, Expression};
use serde_json::{Value, json};

const TOKENS: &[&str] = &[
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "AND",
    "or",
    "XOR",
    "NOT",
    "LIKE",
    "EXISTS",
    "IN",
    "TRUE",
    "false",
    "0",
    "1",
    "-1",
    "2147483647",
    "2147483648",
    "-2147483648",
    "'a'",
    "'%b_'",
    "\"q\\\"\"",
    "'\\'",
    "'",
    "\"",
    "myint",
    "mystr",
    "missing",
    "id",
    "LENGTH",
    "CONCAT",
    "CONCAT_WS",
    "SUBSTRING",
    "LEFT",
    "ABS",
    "INT",
    "BOOL",
    "IS_INT",
    "nosuch",
    "_",
    "!",
    "\n",
    " ",
    "é",
    "\\",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|ts| ts.join(" "))
}

fn glued_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|ts| ts.concat())
}

/// The body of a `'…'` literal whose value is `s` (a backslash pair stays two backslashes).
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "''")
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|i| i.to_string()),
        Just("-2147483648".to_string()),
        Just("2147483647".to_string()),
        Just("0".to_string()),
        "[a-zA-Z0-9 %_\\\\'\"é]{0,8}".prop_map(|s| format!("'{}'", quote(&s))),
        Just("TRUE".to_string()),
        Just("false".to_string()),
        prop::sample::select(vec![
            "myint", "mystr", "mybool", "numstr", "big", "frac", "missing"
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec!["myint", "missing", "id", "time"])
            .prop_map(|a| format!("EXISTS {a}")),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 64, 4, |inner| {
        let binop = prop::sample::select(vec![
            "AND", "OR", "XOR", "=", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "%",
        ]);
        let unary = prop::sample::select(vec![
            "LENGTH", "LOWER", "UPPER", "TRIM", "ABS", "INT", "BOOL", "STRING", "IS_INT", "IS_BOOL",
        ]);
        prop_oneof![
            (inner.clone(), binop, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            inner.clone().prop_map(|x| format!("NOT {x}")),
            inner.clone().prop_map(|x| format!("-{x}")),
            (unary, inner.clone()).prop_map(|(f, x)| format!("{f}({x})")),
            (inner.clone(), inner.clone()).prop_map(|(x, n)| format!("LEFT({x}, {n})")),
            (inner.clone(), inner.clone()).prop_map(|(x, n)| format!("RIGHT({x}, {n})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(x, p, l)| format!("SUBSTRING({x}, {p}, {l})")),
            (inner.clone(), inner.clone()).prop_map(|(x, p)| format!("SUBSTRING({x}, {p})")),
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|xs| format!("CONCAT({})", xs.join(", "))),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|xs| format!("CONCAT_WS({})", xs.join(", "))),
            (inner.clone(), "[a-z%_\\\\]{0,6}", any::<bool>()).prop_map(|(x, p, not)| format!(
                "({x} {}LIKE '{}')",
                if not { "NOT " } else { "" },
                quote(&p)
            )),
            (
                inner.clone(),
                prop::collection::vec(inner.clone(), 1..4),
                any::<bool>()
            )
                .prop_map(|(x, set, not)| format!(
                    "({x} {}IN ({}))",
                    if not { "NOT " } else { "" },
                    set.join(", ")
                )),
            prop::collection::vec(inner, 0..3).prop_map(|xs| format!("NOSUCH({})", xs.join(", "))),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    (
        any::<i64>(),
        "[ -~é]{0,10}",
        any::<bool>(),
        prop::sample::select(vec!["12", "-7", "TRUE", "x", "", "99999999999"]),
        any::<f64>(),
        any::<bool>(),
    )
        .prop_map(|(i, s, b, numstr, f, with_time)| {
            let mut e = json!({
                "specversion": "1.0",
                "id": "p",
                "source": "/p",
                "type": "p",
                "myint": i % 4096,
                "mystr": s,
                "mybool": b,
                "numstr": numstr,
                "big": i,
                "frac": if f.is_finite() { json!(f) } else { json!(null) },
            });
            if with_time {
                e["time"] = json!("2024-01-01T00:00:00Z");
            }
            e
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Expression::parse(&text);
    }

    #[test]
    fn parsing_token_soup_never_panics(text in prop_oneof![token_soup(), glued_soup()]) {
        if let Err(e) = Expression::parse(&text) {
            prop_assert!(e.line >= 1 && e.column >= 1);
        }
    }

    #[test]
    fn evaluating_random_expressions_never_panics(text in expression(), event in event()) {
        let expr = Expression::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let eval = expr.evaluate(&event);
        let (passed, errors) = expr.matches(&event);
        let expected = eval.value == CesqlValue::Boolean(true) && eval.errors.is_empty();
        prop_assert_eq!(passed, expected, "{} on {}", text, event);
        prop_assert!(errors.len() >= eval.errors.len());
    }
}
