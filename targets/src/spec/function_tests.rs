#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::super::read::Obj;
use super::*;

/// As `parse_target` will: the common members, then the function's, then nothing left.
fn parse_fn(v: &Value) -> Result<(FunctionSpec, DeliverySpec), SpecError> {
    let mut obj = Obj::new(v, "/targets/0")?;
    let mut delivery = super::super::delivery::parse(&mut obj)?;
    let f = parse(&mut obj, &mut delivery)?;
    obj.finish()?;
    Ok((f, delivery))
}

#[test]
fn a_command_function_parses() {
    let (f, d) = parse_fn(&json!({
        "runtime": "command", "command": ["python3", "handler.py", ""],
        "env": {"B": "2", "A_1": "x"}, "workdir": "/srv/fn",
        "max_concurrency": 3, "max_output": 1000, "reply": {"bus": "replies"},
        "timeout": "2s"
    }))
    .unwrap();
    let Runtime::Command(c) = &f.runtime else {
        panic!("{f:?}")
    };
    assert_eq!(c.command, ["python3", "handler.py", ""]);
    assert_eq!(
        c.env,
        [("A_1".into(), "x".into()), ("B".into(), "2".into())]
    );
    assert_eq!(c.workdir.as_deref(), Some(std::path::Path::new("/srv/fn")));
    assert_eq!(f.max_concurrency, 3);
    assert_eq!(f.max_output, 1000);
    assert_eq!(
        f.reply,
        Some(ReplySpec {
            bus: "replies".into()
        })
    );
    assert_eq!(d.max_in_flight, 3, "max_concurrency caps the worker");
    assert_eq!(d.timeout, std::time::Duration::from_secs(2));
}

#[test]
fn defaults() {
    let (f, d) = parse_fn(&json!({"runtime": "command", "command": ["true"]})).unwrap();
    assert_eq!(f.max_concurrency, DEFAULT_MAX_CONCURRENCY);
    assert_eq!(f.max_output, DEFAULT_MAX_OUTPUT);
    assert_eq!(f.reply, None);
    assert_eq!(d.max_in_flight, DEFAULT_MAX_CONCURRENCY);
    assert_eq!(d.timeout, std::time::Duration::from_secs(10));
    let (_, d) = parse_fn(
        &json!({"runtime": "command", "command": ["true"], "max_in_flight": 2, "max_concurrency": 5}),
    )
    .unwrap();
    assert_eq!(d.max_in_flight, 2, "the smaller of the two");
}

#[test]
fn an_http_function_parses() {
    let (f, _) = parse_fn(&json!({
        "runtime": "http", "url": "http://127.0.0.1:8080/fn", "headers": {"x-a": "b"},
        "mode": "structured"
    }))
    .unwrap();
    let Runtime::Http(h) = &f.runtime else {
        panic!("{f:?}")
    };
    assert_eq!(h.method, ::http::Method::POST);
    assert_eq!(h.mode, Mode::Structured);
    let (f, _) = parse_fn(&json!({"runtime": "http", "url": "http://x/"})).unwrap();
    let Runtime::Http(h) = &f.runtime else {
        panic!("{f:?}")
    };
    assert_eq!(h.mode, Mode::Binary, "binary by default");
}

#[test]
fn errors_name_the_member() {
    let cases = [
        (json!({"command": ["true"]}), "/targets/0/runtime"),
        (json!({"runtime": "lambda"}), "/targets/0/runtime"),
        (json!({"runtime": "command"}), "/targets/0/command"),
        (
            json!({"runtime": "command", "command": "true"}),
            "/targets/0/command",
        ),
        (
            json!({"runtime": "command", "command": []}),
            "/targets/0/command",
        ),
        (
            json!({"runtime": "command", "command": ["sh", 1]}),
            "/targets/0/command/1",
        ),
        (
            json!({"runtime": "command", "command": [""]}),
            "/targets/0/command/0",
        ),
        (
            json!({"runtime": "command", "command": ["a\u{0}b"]}),
            "/targets/0/command/0",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "env": {"1A": "x"}}),
            "/targets/0/env/1A",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "env": {"A=B": "x"}}),
            "/targets/0/env/A=B",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "env": {"A": 1}}),
            "/targets/0/env/A",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "env": []}),
            "/targets/0/env",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "workdir": "fn"}),
            "/targets/0/workdir",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "url": "http://x/"}),
            "/targets/0/url",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "max_concurrency": 0}),
            "/targets/0/max_concurrency",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "max_concurrency": 5000}),
            "/targets/0/max_concurrency",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "max_output": "1MiB"}),
            "/targets/0/max_output",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "reply": "b"}),
            "/targets/0/reply",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "reply": {}}),
            "/targets/0/reply/bus",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "reply": {"bus": "Bad Name"}}),
            "/targets/0/reply/bus",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "reply": {"bus": "b", "x": 1}}),
            "/targets/0/reply/x",
        ),
        (
            json!({"runtime": "command", "command": ["true"], "max_concurency": 1}),
            "/targets/0/max_concurency",
        ),
        (json!({"runtime": "http"}), "/targets/0/url"),
        (
            json!({"runtime": "http", "url": "http://x/", "mode": "body"}),
            "/targets/0/mode",
        ),
        (
            json!({"runtime": "http", "url": "http://x/", "method": "PUT"}),
            "/targets/0/method",
        ),
        (
            json!({"runtime": "http", "url": "http://x/", "command": ["true"]}),
            "/targets/0/command",
        ),
        (
            json!({"runtime": "http", "url": "http://x/", "timeout": "1h"}),
            "/targets/0/timeout",
        ),
    ];
    for (t, want) in cases {
        let e = parse_fn(&t).unwrap_err();
        assert_eq!(e.pointer, want, "{t}: {e}");
        assert!(!e.reason.is_empty());
    }
}
