//! Unit tests of CESQL for what the TCK does not cover: positions of parse errors, multi-line
//! text, string escapes, precedence and associativity, overflow, folding, JSON typing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;

fn event() -> Value {
    json!({
        "specversion": "1.0",
        "id": "e-1",
        "source": "//svc/shop",
        "type": "com.example.order.created",
        "subject": "order-42",
        "myint": 10,
        "mybool": true,
        "big": 10000000000_i64,
        "ratio": 2.5,
        "whole": 7.0,
        "nul": null,
        "data": {"x": 1},
    })
}

fn eval(text: &str) -> Evaluation {
    Expression::parse(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .evaluate(&event())
}

fn value(text: &str) -> CesqlValue {
    let e = eval(text);
    assert!(e.errors.is_empty(), "{text:?}: {:?}", e.errors);
    e.value
}

fn int(text: &str) -> i32 {
    match value(text) {
        CesqlValue::Integer(i) => i,
        other => panic!("{text:?} gave {other:?}"),
    }
}

fn boolean(text: &str) -> bool {
    match value(text) {
        CesqlValue::Boolean(b) => b,
        other => panic!("{text:?} gave {other:?}"),
    }
}

fn string(text: &str) -> String {
    match value(text) {
        CesqlValue::String(s) => s,
        other => panic!("{text:?} gave {other:?}"),
    }
}

fn parse_error(text: &str) -> CesqlParseError {
    match Expression::parse(text) {
        Ok(_) => panic!("{text:?} compiled"),
        Err(e) => e,
    }
}

fn kinds(text: &str) -> Vec<ErrorKind> {
    eval(text).errors.iter().map(EvalError::kind).collect()
}

#[test]
fn parse_errors_name_line_and_column() {
    let e = parse_error("type = 'a' AND (source = 'b'");
    assert_eq!((e.line, e.column), (1, 29), "{e}");
    assert!(e.reason.contains("')' to close the '(' at 1:16"), "{e}");
    assert_eq!(e.to_string(), format!("1:29: {}", e.reason));

    let e = parse_error("type = 'a'\n  AND source LIKE 5");
    assert_eq!((e.line, e.column), (2, 19), "{e}");
    assert!(e.reason.contains("LIKE must be a string literal"), "{e}");

    let e = parse_error("type = 'a' AND\r\n\tsource = # 'b'");
    assert_eq!((e.line, e.column), (2, 11), "{e}");
    assert!(e.reason.contains("unexpected character '#'"), "{e}");

    // Columns count characters, not bytes.
    let e = parse_error("'é' = 'é' AND $");
    assert_eq!((e.line, e.column), (1, 15), "{e}");

    let e = parse_error("subject = 'never closed");
    assert_eq!((e.line, e.column), (1, 11), "{e}");
    assert!(e.reason.contains("unterminated string"), "{e}");

    let e = parse_error("myint > 2147483648");
    assert_eq!((e.line, e.column), (1, 9), "{e}");
    assert!(e.reason.contains("32-bit"), "{e}");
    assert!(
        std::error::Error::source(&e).is_some(),
        "keeps the integer parser's error"
    );

    assert_eq!(parse_error("").reason, "the expression is empty");
    assert_eq!(parse_error("  \n ").line, 2);
    assert!(parse_error("a b").reason.contains("found name \"b\""));
    assert!(parse_error("a IN ()").reason.contains("at least one value"));
    assert!(parse_error("EXISTS 'x'").reason.contains("attribute name"));
    assert!(
        parse_error("my_ext = 1")
            .reason
            .contains("not an attribute name")
    );
    assert!(
        parse_error("abc1(2)")
            .reason
            .contains("not a function name")
    );
    assert!(parse_error("+ 5").reason.contains("unary '+'"));
    assert!(parse_error("1 ! 2").reason.contains("'!='"));
    assert!(
        parse_error("LOWER('a' 'b')")
            .reason
            .contains("expected ',' or ')'")
    );
    assert_eq!(parse_error("x NOT 5").column, 3);
}

#[test]
fn multi_line_expressions() {
    let text = "type LIKE 'com.example.%'\n\tAND (\n\t\tmyint >= 10\r\n\t\tOR missing = 1\n\t)";
    assert!(boolean(text));
    let e = parse_error("type = 'a'\nAND\n(myint > )");
    assert_eq!((e.line, e.column), (3, 10), "{e}");
}

#[test]
fn string_literal_escapes() {
    assert_eq!(string(r#"'it\'s'"#), "it's");
    assert_eq!(string(r#""say \"hi\"""#), "say \"hi\"");
    assert_eq!(
        string("'it''s'"),
        "it's",
        "a doubled delimiter is one quote"
    );
    assert_eq!(string(r#""a""b""#), "a\"b");
    assert_eq!(
        string(r#"'a\"b'"#),
        "a\\\"b",
        "\\\" is only an escape in \"…\""
    );
    assert_eq!(
        string(r"'a\nb'"),
        "a\\nb",
        "other backslash pairs stay verbatim"
    );
    assert_eq!(string(r"'a\\'"), "a\\\\", "a backslash pair is one unit");
    assert_eq!(string("'multi\nline'"), "multi\nline");
    assert_eq!(string("'ünïcødé ✓'"), "ünïcødé ✓");
    assert!(boolean(r"'50%' LIKE '50\%'"));
    assert!(!boolean(r"'50x' LIKE '50\%'"));
    assert!(boolean(r"'a_b' LIKE 'a\_b'"));
    assert!(parse_error(r"'a\'").reason.contains("unterminated"));
}

#[test]
fn keywords_functions_and_attributes_ignore_case() {
    assert!(boolean("Exists SUBJECT and TyPe like 'com.%'"));
    assert_eq!(string("lower('ABC')"), "abc");
    assert_eq!(string("Concat_Ws('-', 'a', 'b')"), "a-b");
    assert!(boolean("MYINT = 10"));
}

#[test]
fn logic_operators_share_one_right_associative_level() {
    // As the reference grammar and the Go SDK: `a AND b OR c` is `a AND (b OR c)`.
    assert!(!boolean("FALSE AND TRUE OR TRUE"));
    assert!(boolean("(FALSE AND TRUE) OR TRUE"));
    assert!(
        boolean("TRUE OR TRUE AND FALSE"),
        "TRUE OR (TRUE AND FALSE)"
    );
    assert!(!boolean("TRUE XOR TRUE XOR FALSE"));
    assert!(boolean("TRUE XOR TRUE XOR TRUE"));
    assert!(boolean("TRUE AND TRUE AND TRUE AND 1"));
    // Comparisons bind tighter than logic, arithmetic tighter than comparisons.
    assert!(boolean("1 + 2 * 3 = 7 AND 7 - 2 - 1 = 4"));
    // NOT binds tighter than `=`: `(NOT TRUE) = FALSE`.
    assert!(boolean("NOT TRUE = FALSE"));
    // LIKE and IN bind tighter than arithmetic: `1 + ('a' LIKE 'a')` is 2.
    assert_eq!(int("1 + 'a' LIKE 'a'"), 2);
    assert_eq!(int("1 + 2 IN (2)"), 2);
    // Unary minus binds tighter than `*`.
    assert_eq!(int("-2 * 3"), -6);
    assert_eq!(int("- myint * 2"), -20);
}

#[test]
fn signs_and_integer_limits() {
    assert_eq!(int("-2147483648"), i32::MIN);
    assert_eq!(int("+5"), 5);
    assert_eq!(int("5-3"), 2, "a '-' after an operand is a subtraction");
    assert_eq!(int("5 - -3"), 8);
    assert_eq!(int("--5"), 5);
    assert!(
        Expression::parse("- 2147483648").is_err(),
        "the literal alone overflows"
    );
    // Overflow wraps, as Go's int32 arithmetic does.
    assert_eq!(int("2147483647 + 1"), i32::MIN);
    assert_eq!(int("-2147483648 - 1"), i32::MAX);
    assert_eq!(int("65536 * 65536"), 0);
    assert_eq!(int("-2147483648 / -1"), i32::MIN);
    assert_eq!(int("-2147483648 % -1"), 0);
    assert_eq!(int("-(-2147483648)"), i32::MIN);
    assert_eq!(int("-7 / 2"), -3, "truncating division");
    assert_eq!(int("-7 % 2"), -1, "remainder has the dividend's sign");
    assert_eq!(int("7 % -2"), 1);
}

#[test]
fn casts() {
    assert_eq!(int("INT('+12')"), 12);
    assert_eq!(int("INT('-0012')"), -12);
    assert_eq!(kinds("INT(' 12')"), [ErrorKind::Cast]);
    assert_eq!(kinds("INT('2147483648')"), [ErrorKind::Cast]);
    assert_eq!(kinds("INT('0x10')"), [ErrorKind::Cast]);
    assert!(boolean("BOOL('tRuE')"));
    assert!(boolean(
        "IS_INT('42') AND NOT IS_INT('4.2') AND IS_BOOL('FALSE') AND IS_BOOL(7)"
    ));
    assert!(!boolean("IS_BOOL('yes')"));
    assert_eq!(string("STRING(-42)"), "-42");
    assert_eq!(kinds("'abc' = TRUE"), [ErrorKind::Cast]);
    assert!(boolean("myint = '10'"), "right is String: 10 becomes '10'");
    assert!(boolean("'10' = myint"));
    assert!(boolean("mybool = 'true'"));
    assert_eq!(kinds("'x' < 1"), [ErrorKind::Cast]);
    let e = eval("INT('nope')");
    assert!(
        std::error::Error::source(&e.errors[0]).is_some(),
        "keeps the parse error"
    );
}

#[test]
fn errors_are_collected_and_values_are_fail_fast() {
    let e = eval("missing + other");
    assert_eq!(e.value, CesqlValue::Integer(0));
    assert_eq!(
        e.errors.iter().map(EvalError::kind).collect::<Vec<_>>(),
        [ErrorKind::MissingAttribute, ErrorKind::MissingAttribute]
    );
    assert!(e.errors[0].message().contains("\"missing\""));
    // An operator never computes on a failed operand: no math error here.
    assert_eq!(kinds("missing / 0"), [ErrorKind::MissingAttribute]);
    // A function's own error keeps the value the spec gives it, its callers get zero values.
    assert_eq!(
        eval("LEFT('abc', -1)").value,
        CesqlValue::String("abc".into())
    );
    assert_eq!(
        eval("LENGTH(LEFT('abc', -1))").value,
        CesqlValue::Integer(0)
    );
    // Short-circuit: the right side is not evaluated.
    assert!(eval("FALSE AND missing").errors.is_empty());
    assert!(eval("TRUE OR 1 / 0 = 0").errors.is_empty());
    assert_eq!(kinds("FALSE OR missing"), [ErrorKind::MissingAttribute]);
    // IN stops at the first match.
    assert!(eval("1 IN (1, missing)").errors.is_empty());
    assert_eq!(kinds("1 IN (missing, 1)"), [ErrorKind::MissingAttribute]);
    // Unknown functions compile, are listed, and fail at evaluation without evaluating their
    // arguments.
    let x = Expression::parse("nosuch(missing) OR LENGTH('a', 'b') = 1").unwrap();
    let listed: Vec<_> = x
        .missing_functions()
        .iter()
        .map(|m| (m.name.as_str(), m.arity, m.line, m.column))
        .collect();
    assert_eq!(listed, [("NOSUCH", 1, 1, 1), ("LENGTH", 2, 1, 20)]);
    let e = x.evaluate(&event());
    assert_eq!(e.value, CesqlValue::Boolean(false));
    assert_eq!(
        e.errors.iter().map(EvalError::kind).collect::<Vec<_>>(),
        [ErrorKind::MissingFunction]
    );
}

#[test]
fn json_typing_of_attributes() {
    assert_eq!(value("myint"), CesqlValue::Integer(10));
    assert_eq!(value("mybool"), CesqlValue::Boolean(true));
    assert_eq!(value("whole"), CesqlValue::Integer(7), "7.0 is an integer");
    assert_eq!(value("big"), CesqlValue::String("10000000000".into()));
    assert_eq!(value("ratio"), CesqlValue::String("2.5".into()));
    assert_eq!(kinds("ratio > 2"), [ErrorKind::Cast]);
    assert_eq!(
        kinds("nul"),
        [ErrorKind::MissingAttribute],
        "null is absent"
    );
    assert_eq!(
        kinds("data"),
        [ErrorKind::MissingAttribute],
        "data is not an attribute"
    );
    assert!(!boolean("EXISTS data OR EXISTS nul"));
    // Required attributes always exist, even if a malformed event lacks them.
    let x = Expression::parse("EXISTS id AND EXISTS time").unwrap();
    assert_eq!(x.evaluate(&json!({})).value, CesqlValue::Boolean(false));
    let x = Expression::parse("EXISTS id").unwrap();
    assert_eq!(x.evaluate(&json!({})).value, CesqlValue::Boolean(true));
    // A non-object event has no attributes.
    let x = Expression::parse("subject").unwrap();
    assert_eq!(
        x.evaluate(&json!([1])).errors[0].kind(),
        ErrorKind::MissingAttribute
    );
}

#[test]
fn string_functions_count_characters() {
    assert_eq!(int("LENGTH('héllo')"), 5);
    assert_eq!(string("LEFT('héllo', 2)"), "hé");
    assert_eq!(string("RIGHT('héllo', 4)"), "éllo");
    assert_eq!(string("SUBSTRING('héllo', 2, 2)"), "él");
    assert_eq!(string("SUBSTRING('héllo', -2)"), "lo");
    assert_eq!(
        kinds("SUBSTRING('abc', 1, -1)"),
        [ErrorKind::FunctionEvaluation]
    );
    assert_eq!(string("UPPER('straße')"), "STRASSE");
    assert_eq!(string("TRIM('\u{2003} x \n')"), "x");
    assert_eq!(string("TRIM('   ')"), "");
    assert_eq!(string("CONCAT(1, TRUE, 'x')"), "1truex");
    assert_eq!(string("CONCAT_WS(', ', subject, myint)"), "order-42, 10");
    assert_eq!(kinds("ABS(-2147483648)"), [ErrorKind::Math]);
}

#[test]
fn filters_need_a_boolean_true_and_no_error() {
    let m = |t: &str| Expression::parse(t).unwrap().matches(&event());
    assert_eq!(m("type LIKE 'com.example.%' AND myint > 5"), (true, vec![]));
    assert!(!m("myint > 50").0);
    let (passed, errors) = m("myint");
    assert!(!passed);
    assert_eq!(errors[0].kind(), ErrorKind::Generic);
    let (passed, errors) = m("missing = 1 OR TRUE");
    assert!(!passed, "an error rejects the event");
    assert_eq!(errors[0].kind(), ErrorKind::MissingAttribute);
}

#[test]
fn literal_sub_expressions_are_folded_unless_they_fail() {
    let x = Expression::parse("myint > 2 * 3 + LENGTH('ab')").unwrap();
    match &x.root {
        Node::Ord(_, _, r) => assert_eq!(**r, Node::Lit(CesqlValue::Integer(8))),
        other => panic!("{other:?}"),
    }
    let x = Expression::parse("1 / 0").unwrap();
    assert!(
        matches!(x.root, Node::Arith(..)),
        "an error is kept for evaluation"
    );
    assert_eq!(kinds("1 / 0"), [ErrorKind::Math]);
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        "{}1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse_error(&deep).reason.contains("nests deeper"));
    let ok = format!("{}1{}", "(".repeat(50), ")".repeat(50));
    assert_eq!(int(&ok), 1);
    let long_sum = vec!["myint"; 10_000].join(" + ");
    assert!(parse_error(&long_sum).reason.contains("nests deeper"));
    let nots = format!("{}TRUE", "NOT ".repeat(100_000));
    assert!(parse_error(&nots).reason.contains("nests deeper"));
    // Long chains of one logic operator are flat and cost no depth.
    let ors = vec!["myint = 1"; 10_000].join(" OR ");
    assert!(!boolean(&ors));
}

#[test]
fn dotted_paths_resolve_into_the_whole_event() {
    use super::ast::{AttrRef, Path};
    use super::resolve;
    use super::value::Val;
    use std::sync::Arc;

    let path = |t: &str| {
        AttrRef::Path(Arc::new(Path {
            segments: t.split('.').map(Into::into).collect(),
            text: t.into(),
        }))
    };
    let ev = json!({"type": "t", "data": {"order": {"total": 12, "items": [{"sku": "a"}]}}});
    assert_eq!(
        resolve::value(&ev, &path("data.order.total")),
        Some(Val::Int(12))
    );
    assert_eq!(
        resolve::value(&ev, &path("data.order.items.0.sku")),
        Some(Val::Str("a".into()))
    );
    assert_eq!(
        resolve::value(&ev, &path("type")),
        Some(Val::Str("t".into()))
    );
    assert!(resolve::value(&ev, &path("data.order.nope")).is_none());
    assert!(resolve::value(&ev, &path("data.order.items.x")).is_none());
    assert!(resolve::exists(&ev, &path("data.order")));
    assert_eq!(&**path("data.order").display_name(), "data.order");
}
