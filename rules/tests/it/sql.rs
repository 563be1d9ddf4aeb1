//! Table-driven tests of SQL rules, and a property test that no text makes the parser panic.
//!
//! `tests/cases/sql.json` is `{"events": {name: event}, "cases": [case]}`. A case has `name`,
//! `sql` and either
//! - `event` (a name from `events`, or an inline JSON object), `matched` (what
//!   [`SqlRule::matches`] answers) and optionally `output` (what [`SqlRule::project`] builds,
//!   compared as JSON values); the same text as a `{"sql": …}` filter must match alike and expose
//!   its projection; or
//! - `error`: [`SqlRule::parse`] must fail with a reason containing that text (case-insensitive),
//!   at `line` and `column` when the case gives them (`null`: no position). The same text as a
//!   filter must fail at the pointer `/sql` with the same position.
//!
//! Failures are collected and reported together.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use railyard_rules::{Filter, Limits, SqlRule};
use serde_json::{Map, Value, json};

const SQL_JSON: &str = include_str!("../cases/sql.json");
const MIN_CASES: usize = 50;

fn load() -> (BTreeMap<String, Value>, Vec<Map<String, Value>>) {
    let root: Value = serde_json::from_str(SQL_JSON).unwrap_or_else(|e| panic!("sql.json: {e}"));
    let events = match root.get("events") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => panic!("sql.json: no \"events\" object"),
    };
    let cases = match root.get("cases") {
        Some(Value::Array(cases)) => cases
            .iter()
            .map(|c| match c {
                Value::Object(m) => m.clone(),
                other => panic!("sql.json: a case is not an object: {other}"),
            })
            .collect(),
        _ => panic!("sql.json: no \"cases\" array"),
    };
    (events, cases)
}

fn text<'a>(case: &'a Map<String, Value>, key: &str) -> &'a str {
    match case.get(key) {
        Some(Value::String(s)) => s,
        _ => panic!(
            "sql.json: case {:?} has no string {key:?}",
            case.get("name")
        ),
    }
}

/// An optional position field: absent means "not checked", `null` means "no position".
fn position(case: &Map<String, Value>, key: &str) -> Option<Option<u32>> {
    case.get(key).map(|v| v.as_u64().map(|n| n as u32))
}

fn filter_of(sql: &str) -> Result<Filter, railyard_rules::PatternError> {
    Filter::parse(&json!({ "sql": sql }), &Limits::default())
}

#[test]
fn case_file_is_big_enough_and_names_unique() {
    let (_, cases) = load();
    assert!(cases.len() >= MIN_CASES, "only {} cases", cases.len());
    let mut seen = BTreeSet::new();
    for c in &cases {
        assert!(
            seen.insert(text(c, "name").to_string()),
            "duplicate {:?}",
            c.get("name")
        );
    }
}

#[test]
fn sql_cases() {
    let (events, cases) = load();
    let mut failures = Vec::new();
    for case in &cases {
        let name = text(case, "name");
        let sql = text(case, "sql");
        if let Err(msg) = check_case(&events, case, sql) {
            failures.push(format!("- {name}: {sql}\n    {msg}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn check_case(
    events: &BTreeMap<String, Value>,
    case: &Map<String, Value>,
    sql: &str,
) -> Result<(), String> {
    if let Some(Value::String(expected)) = case.get("error") {
        let err = match SqlRule::parse(sql) {
            Ok(_) => return Err(format!("compiled; expected an error with {expected:?}")),
            Err(e) => e,
        };
        if !err.reason.to_lowercase().contains(&expected.to_lowercase()) {
            return Err(format!("reason {:?} lacks {expected:?}", err.reason));
        }
        for (key, got) in [("line", err.line), ("column", err.column)] {
            if let Some(want) = position(case, key)
                && want != got
            {
                return Err(format!("{key}: expected {want:?}, got {got:?} ({err})"));
            }
        }
        let Err(pe) = filter_of(sql) else {
            return Err("compiled as a filter".into());
        };
        let got = pe.position.map(|p| (p.line, p.column));
        let want = err.line.map(|l| (l, err.column.unwrap_or(1)));
        if pe.pointer != "/sql" || got != want {
            return Err(format!(
                "filter error at {} {got:?}, expected /sql {want:?}",
                pe.pointer
            ));
        }
        return Ok(());
    }
    let event = match case.get("event") {
        Some(Value::String(n)) => events.get(n).cloned().ok_or(format!("no event {n:?}"))?,
        Some(inline @ Value::Object(_)) => inline.clone(),
        other => return Err(format!("bad event {other:?}")),
    };
    let rule = SqlRule::parse(sql).map_err(|e| format!("does not compile: {e}"))?;
    let (matched, errors) = rule.matches(&event);
    let want = case.get("matched").and_then(Value::as_bool);
    if Some(matched) != want {
        return Err(format!(
            "matched {matched} (errors {errors:?}), expected {want:?}"
        ));
    }
    if let Some(output) = case.get("output") {
        let got = rule.project(&event).value;
        if &got != output {
            return Err(format!("output {got}, expected {output}"));
        }
    }
    let filter = filter_of(sql).map_err(|e| format!("not a filter: {e}"))?;
    if filter.kind() != "sql" || filter.matches_value(&event) != matched {
        return Err("the filter disagrees with the rule".into());
    }
    if filter.projection().map(SqlRule::text) != Some(sql) {
        return Err("the filter does not expose its projection".into());
    }
    match (filter.explain(&event), matched) {
        (Ok(()), true) => {}
        (Err(m), false) if m.pointer == "/sql" && !m.reason.is_empty() => {}
        (other, _) => return Err(format!("explain gave {other:?}")),
    }
    Ok(())
}

/// Pieces of SQL to build random statements that get past the tokenizer often.
const PIECES: &[&str] = &[
    "SELECT ",
    "*",
    " WHERE ",
    " FROM ",
    "'t'",
    "data",
    ".",
    "a",
    "[",
    "]",
    "0",
    "(",
    ")",
    ",",
    " AND ",
    " OR ",
    " NOT ",
    "=",
    "<>",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    " LIKE ",
    " ESCAPE ",
    "'%x_'",
    " IN ",
    " IS ",
    " NULL",
    " AS ",
    "\"a.b\"",
    "1.5",
    "2147483648",
    "upper",
    "abs",
    "count",
    " GROUP BY ",
    " ORDER BY ",
    " LIMIT 1",
    " UNION ",
    "SELECT",
    " JOIN ",
    "'",
    "\"",
    ";",
    "\n",
    " BETWEEN ",
    " CASE WHEN ",
    " THEN ",
    " END",
    "||",
    "TRUE",
];

fn statement() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,80}") {
        let _ = SqlRule::parse(&text);
    }

    #[test]
    fn random_statements_never_panic_and_evaluate(sql in statement()) {
        let event = json!({"type": "t", "data": {"a": [1, 2.5, "x"], "b": {"c": null}}});
        if let Ok(rule) = SqlRule::parse(&sql) {
            let (matched, errors) = rule.matches(&event);
            prop_assert!(!matched || errors.is_empty());
            let projected = rule.project(&event);
            prop_assert!(projected.value.is_object());
        }
    }
}
