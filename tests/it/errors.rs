//! One test per error class of the control plane, each checking the problem's fields: a stable
//! `type`, the `title`, the `status`, a `detail` that says what to do, and `errors[].pointer` for
//! validation failures.

use serde_json::{Value, json};

use crate::harness::{Server, client, problem};

async fn check(
    resp: reqwest::Response,
    status: u16,
    slug: &str,
    pointer: Option<&str>,
    word: &str,
) -> Value {
    let p = problem(resp, status, slug).await;
    assert_eq!(p["type"], format!("urn:railyard:problem:{slug}"), "{p}");
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains(word)),
        "detail should mention {word:?}: {p}"
    );
    if let Some(ptr) = pointer {
        assert_eq!(p["errors"][0]["pointer"], ptr, "{p}");
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{p}"
        );
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_class_is_a_problem_that_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let c = client();
    let url = |p: &str| format!("{}{p}", srv.url);
    let put = |p: &str, body: &str| {
        c.put(url(p))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };

    // Malformed JSON.
    check(
        put("/v1/buses/default/rules/r", "{\"filter\": ")
            .await
            .unwrap(),
        400,
        "malformed-json",
        None,
        "JSON",
    )
    .await;
    // Wrong type.
    check(
        put(
            "/v1/buses/default/rules/r",
            r#"{"filter": {"pattern": {"type": ["x"]}}, "enabled": "yes"}"#,
        )
        .await
        .unwrap(),
        400,
        "invalid-request",
        Some("/enabled"),
        "/enabled",
    )
    .await;
    // Unknown field.
    check(
        put(
            "/v1/connections/c",
            r#"{"basic": {"username": "u", "password": "p"}, "colour": "red"}"#,
        )
        .await
        .unwrap(),
        400,
        "invalid-connection",
        Some("/colour"),
        "colour",
    )
    .await;
    // Bad name.
    check(
        put(
            "/v1/connections/Bad%20Name",
            r#"{"basic": {"username": "u", "password": "p"}}"#,
        )
        .await
        .unwrap(),
        400,
        "invalid-name",
        Some("/name"),
        "Bad Name",
    )
    .await;
    // 404.
    let r = c.get(url("/v1/buses/nope/rules")).send().await.unwrap();
    check(r, 404, "not-found", None, "nope").await;
    // 412: a stale If-Match.
    put(
        "/v1/buses/default/rules/r",
        r#"{"filter": {"pattern": {"type": ["x"]}}}"#,
    )
    .await
    .unwrap();
    let r = c
        .put(url("/v1/buses/default/rules/r"))
        .header("if-match", "\"7\"")
        .json(&json!({"filter": {"pattern": {"type": ["x"]}}}))
        .send()
        .await
        .unwrap();
    check(r, 412, "precondition-failed", None, "\"1\"").await;
    // 409: deleting a connection a target uses.
    put(
        "/v1/connections/used",
        r#"{"api_key": {"header": "x-key", "value": "s"}}"#,
    )
    .await
    .unwrap();
    let r = put(
        "/v1/buses/default/rules/r",
        &json!({"filter": {"pattern": {"type": ["x"]}}, "targets": [{"id": "t", "kind": "http", "url": "http://127.0.0.1:9/", "connection": "used"}]}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.delete(url("/v1/connections/used")).send().await.unwrap();
    check(r, 409, "conflict", None, "default/r").await;
    // 401 and 403 once a token exists.
    let t: Value = c
        .post(url("/v1/tokens"))
        .json(&json!({"name": "pub", "scopes": ["publish:default"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = t["token"].as_str().unwrap();
    let r = c.get(url("/v1/buses")).send().await.unwrap();
    check(r, 401, "unauthorized", None, "Authorization").await;
    let r = c
        .get(url("/v1/buses"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    check(r, 403, "forbidden", None, "admin").await;
}
