#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::*;

#[test]
fn a_full_http_target_parses() {
    let t = parse_targets(
        &[json!({
            "id": "t1", "kind": "http", "url": "http://127.0.0.1:9/x", "method": "put",
            "headers": {"x-a": "b"}, "mode": "structured", "connection": "c1",
            "transform": {"kind": "constant", "value": 1},
            "timeout": "2s", "max_in_flight": 4, "rate_limit": "100/s",
            "retry": {"max_attempts": 3, "max_age": "1h"}, "ordering_key": "subject"
        })],
        "/targets",
    )
    .unwrap();
    let t = &t[0];
    assert_eq!(t.id, "t1");
    let Kind::Http(h) = &t.kind else {
        panic!("an http target")
    };
    assert_eq!(h.method, ::http::Method::PUT);
    assert_eq!(h.mode, Mode::Structured);
    assert_eq!(t.delivery.max_in_flight, 4);
    assert_eq!(t.delivery.retry.max_attempts, 3);
    assert_eq!(
        t.delivery.rate_limit.unwrap().interval(),
        std::time::Duration::from_millis(10)
    );
    assert_eq!(
        t.delivery.ordering_key,
        Some(OrderingKey::Attribute("subject".into()))
    );
}

#[test]
fn errors_name_the_member() {
    let cases = [
        (json!({"kind": "http", "url": "http://x"}), "/targets/0/id"),
        (json!({"id": "a", "kind": "smtp"}), "/targets/0/kind"),
        (json!({"id": "a", "kind": "http"}), "/targets/0/url"),
        (
            json!({"id": "a", "kind": "http", "url": "ftp://x"}),
            "/targets/0/url",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "timeout": 10}),
            "/targets/0/timeout",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "max_in_flight": 0}),
            "/targets/0/max_in_flight",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "rate_limit": "fast"}),
            "/targets/0/rate_limit",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "retry": {"max_age": "soon"}}),
            "/targets/0/retry/max_age",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "retry": {"tries": 1}}),
            "/targets/0/retry/tries",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "mode": "json"}),
            "/targets/0/mode",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "headers": {"host": "y"}}),
            "/targets/0/headers/host",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "max_inflight": 3}),
            "/targets/0/max_inflight",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "ordering_key": "a b"}),
            "/targets/0/ordering_key",
        ),
        (
            json!({"id": "a", "kind": "http", "url": "http://x", "transform": {"kind": "nope"}}),
            "/targets/0/transform/kind",
        ),
        (
            json!({"id": "a/b", "kind": "http", "url": "http://x"}),
            "/targets/0/id",
        ),
    ];
    for (t, want) in cases {
        let e = parse_targets(std::slice::from_ref(&t), "/targets").unwrap_err();
        assert_eq!(e.pointer, want, "{t}: {e}");
    }
    let dup = json!({"id": "a", "kind": "http", "url": "http://x"});
    let e = parse_targets(&[dup.clone(), dup], "/targets").unwrap_err();
    assert_eq!(e.pointer, "/targets/1/id");
}

#[test]
fn rates_parse() {
    let r = RateLimit::parse("300/s").unwrap();
    assert_eq!(r.count, 300);
    assert_eq!(
        RateLimit::parse("5/10s").unwrap().interval(),
        std::time::Duration::from_secs(2)
    );
    assert!(RateLimit::parse("0/s").is_err());
    assert!(RateLimit::parse("5").is_err());
}
