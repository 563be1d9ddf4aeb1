//! Unit tests of SQL rules for what the case file does not show well: the evaluator's decimal
//! rules, bounds on hostile input, and the public API's small promises.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;

fn event() -> Value {
    json!({
        "specversion": "1.0", "id": "1", "source": "//shop", "type": "order.created",
        "data": {"total": 120.5, "qty": 3, "big": 10000000000_i64, "name": "Ada",
                 "items": [{"sku": "A-1", "price": 9.99}], "none": null}
    })
}

fn matches(sql: &str) -> bool {
    SqlRule::parse(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .matches(&event())
        .0
}

#[test]
fn decimals_compare_and_compute_as_f64() {
    assert!(matches("SELECT * WHERE data.total > 99.5"));
    assert!(matches("SELECT * WHERE data.total * 2 = 241"));
    assert!(matches("SELECT * WHERE data.qty = 3.0"));
    assert!(matches("SELECT * WHERE data.big > 2147483647"));
    assert!(matches("SELECT * WHERE data.qty IN (1.5, 3)"));
    assert!(
        matches("SELECT * WHERE 7 / 2 = 3"),
        "integer division stays integer"
    );
}

#[test]
fn integer_overflow_widens_instead_of_wrapping() {
    assert!(matches("SELECT * WHERE 2147483647 + 1 > 0"));
    assert!(matches("SELECT * WHERE -(-2147483648) > 0"));
    let p = SqlRule::parse("SELECT 2147483647 * 2 AS x")
        .unwrap()
        .project(&event());
    assert_eq!(p.value, json!({"x": 4294967294.0}));
}

#[test]
fn cesql_keeps_wrapping_and_typing() {
    // The decimal support must not leak into CESQL: its integer arithmetic still wraps.
    let e = crate::cesql::Expression::parse("2147483647 + 1 = -2147483648").unwrap();
    assert!(e.matches(&event()).0);
}

#[test]
fn errors_make_the_condition_fail_and_are_reported() {
    let rule = SqlRule::parse("SELECT * WHERE data.missing = 1 OR TRUE").unwrap();
    let (matched, errors) = rule.matches(&event());
    assert!(!matched);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message().contains("data.missing"), "{errors:?}");
}

#[test]
fn division_by_zero_in_decimals_is_a_math_error() {
    let (matched, errors) = SqlRule::parse("SELECT * WHERE data.total / 0 > 1")
        .unwrap()
        .matches(&event());
    assert!(!matched);
    assert_eq!(errors[0].kind(), crate::cesql::ErrorKind::Math);
}

#[test]
fn api_text_display_and_selects_event() {
    let rule: SqlRule = "SELECT * WHERE type = 'order.created'".parse().unwrap();
    assert_eq!(rule.text(), "SELECT * WHERE type = 'order.created'");
    assert_eq!(rule.to_string(), rule.text());
    assert!(rule.selects_event());
    assert!(
        !SqlRule::parse("SELECT *, 1 AS one")
            .unwrap()
            .selects_event()
    );
}

/// Runs `f` on a thread with the default test stack (2 MiB), so that a stack overflow fails the
/// test instead of hiding behind a bigger main stack.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_and_long_input_is_an_error_not_a_crash() {
    on_small_stack(|| {
        let shapes: &[(&str, &str)] = &[
            ("(", ")"),
            ("NOT ", ""),
            ("- ", ""),
            ("abs(", ")"),
            ("x IN (", ")"),
            ("CASE WHEN ", " THEN 1 END"),
            ("EXISTS (SELECT * WHERE ", ")"),
            ("NOT x = ", ""),
            ("[", "]"),
        ];
        for (open, close) in shapes {
            for n in [10, 30, 60, 500] {
                let sql = format!("SELECT * WHERE {}1{}", open.repeat(n), close.repeat(n));
                let _ = SqlRule::parse(&sql);
            }
        }
        // Long left-deep chains: parsed iteratively by sqlparser, bounded by our depth limit.
        let chain = format!("SELECT * WHERE 1{}", " + 1".repeat(4000));
        let e = SqlRule::parse(&chain).unwrap_err();
        assert!(e.reason.contains("nests deeper"), "{e}");
        // Long chains of one logic operator are flattened: no depth at all.
        let ors = format!("SELECT * WHERE {}", vec!["data.qty = 1"; 1000].join(" OR "));
        let rule = SqlRule::parse(&ors).unwrap();
        assert!(!rule.matches(&event()).0);
        let too_long = format!("SELECT * WHERE {}", "1+".repeat(MAX_CHARS));
        assert!(SqlRule::parse(&too_long).is_err());
    });
}
