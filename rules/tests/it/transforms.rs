//! Table-driven tests of transforms and JSONPath filters, and property tests that no input makes
//! them panic.
//!
//! - `tests/cases/transforms.json`: `{"events": {name: event}, "cases": [case]}`. A case has
//!   `name`, `doc` (the documentation it follows), `transform`, and either
//!   - `event` (a name from `events`) or `event_inline` (any JSON), an optional `context`
//!     (`{"rule_name", "ingestion_time"}`), and one expectation: `json` (the output as a JSON
//!     value, from [`Output::Json`] or [`Output::JsonText`]), `json_text` (the exact minified
//!     [`Output::JsonText`]) or `text` (the exact [`Output::Text`]); a case may give both
//!     `json` and `json_text`; or
//!   - `pointer` and `reason_contains`: [`Transform::parse`] must fail at that pointer with a
//!     reason containing every space-separated word (case-insensitive; `a|b` accepts either).
//! - `tests/cases/jsonpath.json`: same `events`; a case has `name`, `doc`, `jsonpath` and either
//!   `event` + `matched` (+ optionally `selected`, the nodes in order), or `column` (or `null`
//!   when unknown) + `reason_contains` for a query that must not compile.
//!
//! Every jsonpath case with an event is also evaluated by jsonpath-rust directly
//! ([`JsonPath::select_with_jsonpath_rust`]), which must agree with [`JsonPath::select`].

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use railyard_rules::{Context, JsonPath, Output, Transform};
use serde_json::{Map, Value, json};

const TRANSFORMS_JSON: &str = include_str!("../cases/transforms.json");
const JSONPATH_JSON: &str = include_str!("../cases/jsonpath.json");

const MIN_CASES: usize = 60;

fn load(file: &str, text: &str) -> (BTreeMap<String, Value>, Vec<Map<String, Value>>) {
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("{file}: not JSON: {e}"),
    };
    let events = match root.get("events") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => panic!("{file}: no \"events\" object"),
    };
    let cases = match root.get("cases") {
        Some(Value::Array(cases)) => cases
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Value::Object(m) => m.clone(),
                _ => panic!("{file}: case {i} is not an object"),
            })
            .collect(),
        _ => panic!("{file}: no \"cases\" array"),
    };
    (events, cases)
}

fn str_of<'a>(file: &str, case: &'a Map<String, Value>, key: &str) -> &'a str {
    match case.get(key) {
        Some(Value::String(s)) => s,
        _ => panic!("{file}: case {:?} has no string {key:?}", case.get("name")),
    }
}

fn event_of(file: &str, events: &BTreeMap<String, Value>, case: &Map<String, Value>) -> Value {
    if let Some(v) = case.get("event_inline") {
        return v.clone();
    }
    let name = str_of(file, case, "event");
    match events.get(name) {
        Some(e) => e.clone(),
        None => panic!("{file}: unknown event {name:?}"),
    }
}

/// Whether `reason` contains every space-separated word of `words` (`a|b`: either).
fn reason_has(reason: &str, words: &str) -> bool {
    let reason = reason.to_lowercase();
    words.split_whitespace().all(|word| {
        word.split('|')
            .any(|alt| reason.contains(&alt.to_lowercase()))
    })
}

#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn add(&mut self, name: &str, doc: &str, msg: String) {
        self.0.push(format!("- {name} [{doc}]\n    {msg}"));
    }

    fn check(self, title: &str, total: usize) {
        assert!(
            self.0.is_empty(),
            "{title}: {} failure(s) over {total} case(s)\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

#[test]
fn case_files_are_big_enough_and_names_unique() {
    let (_, t) = load("transforms.json", TRANSFORMS_JSON);
    let (_, j) = load("jsonpath.json", JSONPATH_JSON);
    assert!(
        t.len() + j.len() >= MIN_CASES,
        "{} transform + {} jsonpath cases, want at least {MIN_CASES}",
        t.len(),
        j.len()
    );
    let mut seen = BTreeSet::new();
    for c in t.iter().chain(&j) {
        let name = str_of("cases", c, "name");
        assert!(
            seen.insert(name.to_string()),
            "duplicate case name {name:?}"
        );
        assert!(!str_of("cases", c, "doc").is_empty(), "{name}: empty doc");
    }
}

#[test]
fn transform_cases() {
    const FILE: &str = "transforms.json";
    let (events, cases) = load(FILE, TRANSFORMS_JSON);
    let mut failures = Failures::default();
    for c in &cases {
        let name = str_of(FILE, c, "name");
        let doc = str_of(FILE, c, "doc");
        let Some(spec) = c.get("transform") else {
            panic!("{FILE}: {name}: no transform");
        };
        let parsed = Transform::parse(spec);
        if let Some(pointer) = c.get("pointer") {
            let words = str_of(FILE, c, "reason_contains");
            match parsed {
                Ok(_) => failures.add(name, doc, format!("expected an error at {pointer}, got Ok")),
                Err(e) => {
                    if Some(e.pointer.as_str()) != pointer.as_str() || !reason_has(&e.reason, words)
                    {
                        failures.add(
                            name,
                            doc,
                            format!(
                                "expected an error at {pointer} containing {words:?}, got {:?}: {:?}",
                                e.pointer, e.reason
                            ),
                        );
                    }
                }
            }
            continue;
        }
        let transform = match parsed {
            Ok(t) => t,
            Err(e) => {
                failures.add(name, doc, format!("parse failed: {e}"));
                continue;
            }
        };
        let event = event_of(FILE, &events, c);
        let rule_name = c
            .get("context")
            .and_then(|x| x.get("rule_name"))
            .and_then(Value::as_str)
            .unwrap_or("orders-to-billing");
        let ingestion_time = c
            .get("context")
            .and_then(|x| x.get("ingestion_time"))
            .and_then(Value::as_str)
            .unwrap_or("2024-05-01T12:00:00.123Z");
        let ctx = Context {
            rule_name,
            ingestion_time,
        };
        let output = match transform.apply(&event, &ctx) {
            Ok(o) => o,
            Err(e) => {
                if let Some(words) = c.get("apply_error").and_then(Value::as_str) {
                    if !reason_has(&e.reason, words) {
                        failures.add(name, doc, format!("apply error {e} lacks {words:?}"));
                    }
                } else {
                    failures.add(name, doc, format!("apply failed: {e}"));
                }
                continue;
            }
        };
        check_output(&mut failures, name, doc, c, output);
    }
    failures.check(FILE, cases.len());
}

fn check_output(
    failures: &mut Failures,
    name: &str,
    doc: &str,
    case: &Map<String, Value>,
    output: Output,
) {
    if case.contains_key("apply_error") {
        failures.add(
            name,
            doc,
            format!("expected an apply error, got {output:?}"),
        );
        return;
    }
    let mut checked = false;
    if let Some(expected) = case.get("json_text") {
        checked = true;
        match &output {
            Output::JsonText(t) if Some(t.as_str()) == expected.as_str() => {}
            other => failures.add(
                name,
                doc,
                format!("expected JsonText {expected}, got {other:?}"),
            ),
        }
    }
    if let Some(expected) = case.get("text") {
        checked = true;
        match &output {
            Output::Text(t) if Some(t.as_str()) == expected.as_str() => {}
            other => failures.add(
                name,
                doc,
                format!("expected Text {expected}, got {other:?}"),
            ),
        }
    }
    if let Some(expected) = case.get("json") {
        checked = true;
        match &output {
            Output::Json(_) | Output::JsonText(_) => {
                if let Output::JsonText(t) = &output
                    && let Err(e) = serde_json::from_str::<Value>(t)
                {
                    failures.add(name, doc, format!("JsonText {t:?} is not JSON: {e}"));
                }
                let got = output.clone().into_value();
                if &got != expected {
                    failures.add(name, doc, format!("expected {expected}, got {got}"));
                }
            }
            Output::Text(t) => failures.add(name, doc, format!("expected JSON, got text {t:?}")),
        }
    }
    if !checked {
        failures.add(name, doc, "the case states no expectation".to_string());
    }
}

#[test]
fn jsonpath_cases() {
    const FILE: &str = "jsonpath.json";
    let (events, cases) = load(FILE, JSONPATH_JSON);
    let mut failures = Failures::default();
    for c in &cases {
        let name = str_of(FILE, c, "name");
        let doc = str_of(FILE, c, "doc");
        let source = str_of(FILE, c, "jsonpath");
        let parsed = JsonPath::parse(source);
        if let Some(words) = c.get("reason_contains").and_then(Value::as_str) {
            let column = c.get("column").and_then(Value::as_u64);
            match parsed {
                Ok(_) => failures.add(name, doc, "expected a compile error, got Ok".to_string()),
                Err(e) => {
                    let column_ok = e.column.map(|c| c as u64) == column;
                    if !column_ok || !reason_has(&e.reason, words) {
                        failures.add(
                            name,
                            doc,
                            format!(
                                "expected column {column:?} and {words:?}, got column {:?}: {:?}",
                                e.column, e.reason
                            ),
                        );
                    }
                    if std::error::Error::source(&e).is_none() && e.column.is_some() {
                        failures.add(name, doc, "the parser's error is not kept".to_string());
                    }
                }
            }
            continue;
        }
        let path = match parsed {
            Ok(p) => p,
            Err(e) => {
                failures.add(name, doc, format!("compile failed: {e}"));
                continue;
            }
        };
        let event = event_of(FILE, &events, c);
        let matched = c.get("matched").and_then(Value::as_bool);
        if Some(path.matches(&event)) != matched {
            failures.add(name, doc, format!("expected matched {matched:?}"));
        }
        let fast = path.select(&event).to_vec();
        let reference = path.select_with_jsonpath_rust(&event).to_vec();
        if fast != reference {
            failures.add(
                name,
                doc,
                format!("select {fast:?} != jsonpath-rust {reference:?}"),
            );
        }
        if let Some(Value::Array(expected)) = c.get("selected") {
            let got: Vec<Value> = fast.into_iter().cloned().collect();
            if &got != expected {
                failures.add(
                    name,
                    doc,
                    format!("selected {got:?}, expected {expected:?}"),
                );
            }
        }
    }
    failures.check(FILE, cases.len());
}

// ---- property tests ----------------------------------------------------------------------

fn fragments(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|v| v.concat())
}

const TEMPLATE_PIECES: &[&str] = &[
    "<a>",
    "<b>",
    "<many>",
    "<gone>",
    "<aws.events.event>",
    "<railyard.event.json>",
    "<aws.events.rule-name>",
    "<railyard.event.ingestion-time>",
    "<undefined>",
    "<",
    ">",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\\"",
    "\\n",
    ":",
    ",",
    " ",
    "\n",
    "x",
    "1",
    "-",
    "true",
    "null",
    "é",
    "😀",
    "\u{0}",
    "<a",
    "a>",
    "<>",
    "<.>",
];

const PATH_PIECES: &[&str] = &[
    "$",
    ".",
    "..",
    "a",
    "b",
    "-",
    "/",
    "[",
    "]",
    "*",
    "?",
    "@",
    "0",
    "1",
    "-1",
    "'",
    "\"",
    ":",
    "(",
    ")",
    "==",
    "!=",
    ">",
    "<",
    "&&",
    "||",
    "!",
    " ",
    "length(",
    "match(",
    ",",
    "9007199254740991",
    "-9007199254740991",
    "99999999999999999999",
    "😀",
    "\\",
    "null",
    "true",
];

fn sample_event() -> Value {
    json!({
        "specversion": "1.0", "id": "e-1", "source": "/shop", "type": "order.created",
        "data": {"a": "say \"hi\"\n\\ok", "b": 5, "many": [1, {"x": null}], "nested": {"k": [true]}}
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        "[a-c\"\\\\\n]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_simple_path() -> impl Strategy<Value = String> {
    let step = prop_oneof![
        "[a-c]".prop_map(|n| format!(".{n}")),
        "[a-c]".prop_map(|n| format!("['{n}']")),
        (-3i64..4).prop_map(|i| format!("[{i}]")),
    ];
    prop::collection::vec(step, 0..5).prop_map(|steps| format!("${}", steps.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random templates never panic, and a template that compiles as JSON renders valid JSON
    /// whatever the event holds (quotes, backslashes, newlines, control characters).
    #[test]
    fn random_templates_never_panic_and_json_stays_json(
        template in fragments(TEMPLATE_PIECES, 24),
        data in arb_json(),
    ) {
        let spec = json!({
            "kind": "template",
            "paths": {"a": "$.data.a", "b": "$.data.b", "many": "$.data.many[*]", "gone": "$.data.none"},
            "template": template,
        });
        if let Ok(t) = Transform::parse(&spec) {
            let ctx = Context { rule_name: "r\"1\n", ingestion_time: "2024-05-01T12:00:00Z" };
            let mut event = sample_event();
            event["data"]["a"] = data;
            if let Ok(Output::JsonText(text)) = t.apply(&event, &ctx) {
                prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{text:?}");
            }
        }
    }

    /// Random paths never panic when compiled or evaluated.
    #[test]
    fn random_paths_never_panic(path in fragments(PATH_PIECES, 16), event in arb_json()) {
        if let Ok(p) = JsonPath::parse(&path) {
            let _ = p.matches(&event);
            let _ = p.select(&event);
            let spec = json!({"kind": "jsonpath", "path": path});
            if let Ok(t) = Transform::parse(&spec) {
                let ctx = Context { rule_name: "r", ingestion_time: "t" };
                let _ = t.apply(&event, &ctx);
            }
        }
    }

    /// The direct walk of simple paths selects exactly what jsonpath-rust selects.
    #[test]
    fn simple_paths_agree_with_jsonpath_rust(path in arb_simple_path(), doc in arb_json()) {
        let p = match JsonPath::parse(&path) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{path}: {e}"))),
        };
        prop_assert!(p.is_simple(), "{path} should take the direct walk");
        prop_assert_eq!(p.select(&doc), p.select_with_jsonpath_rust(&doc), "{}", path);
        prop_assert_eq!(p.matches(&doc), !p.select_with_jsonpath_rust(&doc).is_empty());
    }

    /// Random transform objects never panic.
    #[test]
    fn random_transform_objects_never_panic(spec in arb_json(), event in arb_json()) {
        let _ = Transform::parse(&spec);
        for kind in ["event", "constant", "jsonpath", "template", "cloudevent", "x"] {
            let mut spec = spec.clone();
            if let Value::Object(m) = &mut spec {
                m.insert("kind".into(), kind.into());
            }
            if let Ok(t) = Transform::parse(&spec) {
                let _ = t.apply(&event, &Context { rule_name: "r", ingestion_time: "t" });
            }
        }
    }
}
