//! Table-driven acceptance tests of the EventBridge event-pattern language.
//!
//! - `tests/cases/match.json`: `{"name", "doc", "pattern", "event", "matched"}`. Each pattern must
//!   compile; [`Pattern::matches_value`] and a [`Matcher`] holding only that pattern must both
//!   give `matched`. The matcher is fed the event twice: its bytes exactly as written in the file
//!   (so number spellings like `3.5e1` or `-0` and string escapes reach it unchanged) and
//!   re-serialised by `serde_json::to_vec`. A matcher holding every pattern at once (ids = case
//!   index) must return, for each event, exactly the cases whose pattern matches it.
//! - `tests/cases/invalid.json`: `{"name", "doc", "pattern", "pointer" | "pointer_prefix",
//!   "reason_contains"}`. [`Pattern::parse`] must fail at that JSON pointer (or one starting with
//!   `pointer_prefix`) with a reason containing every space-separated word of `reason_contains`,
//!   case-insensitively; a word may list alternatives separated by `|` (`"key|operator"`).
//!
//! Every case names the documentation it comes from (`doc`). Failures are collected and reported
//! together; a panic in the code under test is reported as that case's failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use railyard_rules::{Limits, Matcher, Pattern, PatternError};
use serde_json::Value;
use serde_json::value::RawValue;

const MATCH_JSON: &str = include_str!("../cases/match.json");
const INVALID_JSON: &str = include_str!("../cases/invalid.json");

const MIN_MATCH_CASES: usize = 180;
const MIN_INVALID_CASES: usize = 40;

/// One case of `match.json`.
struct MatchCase {
    name: String,
    doc: String,
    pattern: Value,
    /// The event's JSON text as written in the file.
    event_text: String,
    event: Value,
    matched: bool,
}

/// One case of `invalid.json`.
struct InvalidCase {
    name: String,
    doc: String,
    pattern: Value,
    pointer: PointerCheck,
    reason_contains: String,
}

enum PointerCheck {
    Exact(String),
    Prefix(String),
}

type RawCase = BTreeMap<String, Box<RawValue>>;

fn raw_cases(file: &str, text: &str) -> Vec<RawCase> {
    match serde_json::from_str::<Vec<RawCase>>(text) {
        Ok(cases) => cases,
        Err(e) => panic!("{file}: not a JSON array of objects: {e}"),
    }
}

fn field<'a>(file: &str, i: usize, case: &'a RawCase, key: &str) -> &'a RawValue {
    match case.get(key) {
        Some(v) => v,
        None => panic!("{file}: case {i} has no {key:?}"),
    }
}

fn value_field(file: &str, i: usize, case: &RawCase, key: &str) -> Value {
    let raw = field(file, i, case, key);
    match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(e) => panic!("{file}: case {i}: {key:?} is not JSON: {e}"),
    }
}

fn str_field(file: &str, i: usize, case: &RawCase, key: &str) -> String {
    match value_field(file, i, case, key) {
        Value::String(s) => s,
        other => panic!("{file}: case {i}: {key:?} is not a string: {other}"),
    }
}

fn bool_field(file: &str, i: usize, case: &RawCase, key: &str) -> bool {
    match value_field(file, i, case, key) {
        Value::Bool(b) => b,
        other => panic!("{file}: case {i}: {key:?} is not a boolean: {other}"),
    }
}

fn match_cases() -> Vec<MatchCase> {
    const FILE: &str = "match.json";
    raw_cases(FILE, MATCH_JSON)
        .iter()
        .enumerate()
        .map(|(i, c)| MatchCase {
            name: str_field(FILE, i, c, "name"),
            doc: str_field(FILE, i, c, "doc"),
            pattern: value_field(FILE, i, c, "pattern"),
            event_text: field(FILE, i, c, "event").get().to_string(),
            event: value_field(FILE, i, c, "event"),
            matched: bool_field(FILE, i, c, "matched"),
        })
        .collect()
}

fn invalid_cases() -> Vec<InvalidCase> {
    const FILE: &str = "invalid.json";
    raw_cases(FILE, INVALID_JSON)
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let pointer = match (c.get("pointer"), c.get("pointer_prefix")) {
                (Some(_), None) => PointerCheck::Exact(str_field(FILE, i, c, "pointer")),
                (None, Some(_)) => PointerCheck::Prefix(str_field(FILE, i, c, "pointer_prefix")),
                _ => {
                    panic!("{FILE}: case {i} needs exactly one of \"pointer\", \"pointer_prefix\"")
                }
            };
            InvalidCase {
                name: str_field(FILE, i, c, "name"),
                doc: str_field(FILE, i, c, "doc"),
                pattern: value_field(FILE, i, c, "pattern"),
                pointer,
                reason_contains: str_field(FILE, i, c, "reason_contains"),
            }
        })
        .collect()
}

/// Runs `f`, turning a panic into an error carrying its message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        format!("panicked: {msg}")
    })
}

/// Collected failures, reported together.
#[derive(Default)]
struct Failures {
    lines: Vec<String>,
}

impl Failures {
    fn add(&mut self, name: &str, doc: &str, what: &str, expected: &str, got: &str) {
        self.lines.push(format!(
            "- {name} [{doc}]\n    {what}: expected {expected}, got {got}"
        ));
    }

    fn check(self, title: &str, total: usize) {
        if self.lines.is_empty() {
            return;
        }
        let mut report = format!(
            "{title}: {} failure(s) over {total} case(s)\n",
            self.lines.len()
        );
        for line in &self.lines {
            let _ = writeln!(report, "{line}");
        }
        panic!("{report}");
    }
}

fn compile(pattern: &Value) -> Result<Result<Pattern, PatternError>, String> {
    guarded(|| Pattern::parse(pattern, &Limits::default()))
}

fn ids(matched: bool, id: u64) -> Vec<u64> {
    if matched { vec![id] } else { vec![] }
}

#[test]
fn case_files_are_big_enough() {
    let m = match_cases().len();
    let i = invalid_cases().len();
    assert!(
        m >= MIN_MATCH_CASES,
        "match.json has {m} cases, want at least {MIN_MATCH_CASES}"
    );
    assert!(
        i >= MIN_INVALID_CASES,
        "invalid.json has {i} cases, want at least {MIN_INVALID_CASES}"
    );
}

#[test]
fn case_names_are_unique() {
    let mut seen = std::collections::BTreeSet::new();
    for name in match_cases().iter().map(|c| &c.name) {
        assert!(
            seen.insert(format!("match: {name}")),
            "duplicate match.json case {name:?}"
        );
    }
    for name in invalid_cases().iter().map(|c| &c.name) {
        assert!(
            seen.insert(format!("invalid: {name}")),
            "duplicate invalid.json case {name:?}"
        );
    }
}

#[test]
fn match_cases_one_pattern_at_a_time() {
    let cases = match_cases();
    let mut failures = Failures::default();
    for c in &cases {
        let expected = ids(c.matched, 1);
        let pattern = match compile(&c.pattern) {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                failures.add(
                    &c.name,
                    &c.doc,
                    "Pattern::parse",
                    "Ok",
                    &format!("Err({e})"),
                );
                continue;
            }
            Err(panic) => {
                failures.add(&c.name, &c.doc, "Pattern::parse", "Ok", &panic);
                continue;
            }
        };
        match guarded(|| pattern.matches_value(&c.event)) {
            Ok(got) if got == c.matched => {}
            Ok(got) => failures.add(
                &c.name,
                &c.doc,
                "Pattern::matches_value",
                &c.matched.to_string(),
                &got.to_string(),
            ),
            Err(panic) => failures.add(
                &c.name,
                &c.doc,
                "Pattern::matches_value",
                &c.matched.to_string(),
                &panic,
            ),
        }
        let reserialised = match serde_json::to_vec(&c.event) {
            Ok(bytes) => bytes,
            Err(e) => panic!("{}: cannot serialise the event: {e}", c.name),
        };
        let inputs: [(&str, &[u8]); 2] = [
            (
                "Matcher::matches (event bytes as written)",
                c.event_text.as_bytes(),
            ),
            ("Matcher::matches (serde_json::to_vec)", &reserialised),
        ];
        let pattern = Arc::new(pattern);
        let matcher = guarded(|| {
            let mut m = Matcher::new();
            m.insert(1, Arc::clone(&pattern));
            m
        });
        let matcher = match matcher {
            Ok(m) => m,
            Err(panic) => {
                failures.add(&c.name, &c.doc, "Matcher::insert", "no panic", &panic);
                continue;
            }
        };
        for (what, bytes) in inputs {
            match guarded(|| matcher.matches(bytes)) {
                Ok(Ok(got)) if got == expected => {}
                Ok(Ok(got)) => {
                    failures.add(
                        &c.name,
                        &c.doc,
                        what,
                        &format!("{expected:?}"),
                        &format!("{got:?}"),
                    );
                }
                Ok(Err(e)) => {
                    failures.add(
                        &c.name,
                        &c.doc,
                        what,
                        &format!("{expected:?}"),
                        &format!("Err({e})"),
                    );
                }
                Err(panic) => failures.add(&c.name, &c.doc, what, &format!("{expected:?}"), &panic),
            }
        }
    }
    failures.check("match.json, one pattern at a time", cases.len());
}

#[test]
fn match_cases_all_patterns_in_one_matcher() {
    let cases = match_cases();
    let mut failures = Failures::default();
    let mut patterns: Vec<Option<Pattern>> = Vec::with_capacity(cases.len());
    for c in &cases {
        match compile(&c.pattern) {
            Ok(Ok(p)) => patterns.push(Some(p)),
            Ok(Err(e)) => {
                failures.add(
                    &c.name,
                    &c.doc,
                    "Pattern::parse",
                    "Ok",
                    &format!("Err({e})"),
                );
                patterns.push(None);
            }
            Err(panic) => {
                failures.add(&c.name, &c.doc, "Pattern::parse", "Ok", &panic);
                patterns.push(None);
            }
        }
    }
    let arcs: Vec<(u64, Arc<Pattern>)> = patterns
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().map(|p| (i as u64, Arc::new(p.clone()))))
        .collect();
    let inserted = arcs.len();
    let matcher = match guarded(move || {
        let mut m = Matcher::new();
        for (id, p) in arcs {
            m.insert(id, p);
        }
        m
    }) {
        Ok(m) => m,
        Err(panic) => {
            failures.add("(all patterns)", "-", "Matcher::insert", "no panic", &panic);
            failures.check("match.json, all patterns in one matcher", cases.len());
            return;
        }
    };
    match guarded(|| matcher.len()) {
        Ok(n) if n == inserted => {}
        Ok(n) => failures.add(
            "(all patterns)",
            "-",
            "Matcher::len",
            &inserted.to_string(),
            &n.to_string(),
        ),
        Err(panic) => failures.add(
            "(all patterns)",
            "-",
            "Matcher::len",
            &inserted.to_string(),
            &panic,
        ),
    }
    for c in &cases {
        // The reference: every compiled pattern evaluated on its own.
        let mut expected = Vec::new();
        let mut reference_ok = true;
        for (i, p) in patterns.iter().enumerate() {
            let Some(p) = p else { continue };
            match guarded(|| p.matches_value(&c.event)) {
                Ok(true) => expected.push(i as u64),
                Ok(false) => {}
                Err(_) => reference_ok = false,
            }
        }
        if !reference_ok {
            failures.add(
                &c.name,
                &c.doc,
                "Pattern::matches_value over all patterns (the reference)",
                "no panic",
                "a panic",
            );
            continue;
        }
        match guarded(|| matcher.matches(c.event_text.as_bytes())) {
            Ok(Ok(got)) if got == expected => {}
            Ok(Ok(got)) => {
                let missing: Vec<&str> = expected
                    .iter()
                    .filter(|id| !got.contains(id))
                    .map(|&id| cases[id as usize].name.as_str())
                    .collect();
                let extra: Vec<String> = got
                    .iter()
                    .filter(|id| !expected.contains(id))
                    .map(|&id| {
                        cases
                            .get(id as usize)
                            .map_or_else(|| format!("unknown id {id}"), |c| c.name.clone())
                    })
                    .collect();
                failures.add(
                    &c.name,
                    &c.doc,
                    "Matcher::matches with all patterns",
                    &format!("{} ids", expected.len()),
                    &format!(
                        "{} ids (unsorted or duplicated: {}; missing patterns: {missing:?}; extra patterns: {extra:?})",
                        got.len(),
                        !got.windows(2).all(|w| w[0] < w[1]),
                    ),
                );
            }
            Ok(Err(e)) => failures.add(
                &c.name,
                &c.doc,
                "Matcher::matches with all patterns",
                &format!("{expected:?}"),
                &format!("Err({e})"),
            ),
            Err(panic) => failures.add(
                &c.name,
                &c.doc,
                "Matcher::matches with all patterns",
                &format!("{expected:?}"),
                &panic,
            ),
        }
    }
    failures.check("match.json, all patterns in one matcher", cases.len());
}

/// Whether `reason` contains every space-separated word of `words`, a word being one or more
/// `|`-separated alternatives; case-insensitive.
fn reason_has(reason: &str, words: &str) -> bool {
    let reason = reason.to_lowercase();
    words.split_whitespace().all(|word| {
        word.split('|')
            .any(|alt| reason.contains(&alt.to_lowercase()))
    })
}

#[test]
fn invalid_cases_are_rejected_with_a_pointer_and_reason() {
    let cases = invalid_cases();
    let mut failures = Failures::default();
    for c in &cases {
        let expected = match &c.pointer {
            PointerCheck::Exact(p) => format!(
                "Err at {p:?} with a reason containing {:?}",
                c.reason_contains
            ),
            PointerCheck::Prefix(p) => format!(
                "Err at a pointer starting with {p:?} with a reason containing {:?}",
                c.reason_contains
            ),
        };
        let err = match compile(&c.pattern) {
            Ok(Ok(_)) => {
                failures.add(&c.name, &c.doc, "Pattern::parse", &expected, "Ok");
                continue;
            }
            Ok(Err(e)) => e,
            Err(panic) => {
                failures.add(&c.name, &c.doc, "Pattern::parse", &expected, &panic);
                continue;
            }
        };
        let pointer_ok = match &c.pointer {
            PointerCheck::Exact(p) => err.pointer == *p,
            PointerCheck::Prefix(p) => err.pointer.starts_with(p.as_str()),
        };
        if !pointer_ok || !reason_has(&err.reason, &c.reason_contains) {
            failures.add(
                &c.name,
                &c.doc,
                "Pattern::parse",
                &expected,
                &format!("Err at {:?}: {:?}", err.pointer, err.reason),
            );
        }
    }
    failures.check("invalid.json", cases.len());
}
