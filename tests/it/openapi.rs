//! `/openapi.json` against the real server: an OpenAPI 3.1 document, and every operation it lists
//! exists (no router fallback, no 405), never answers 5xx to a plain call, and answers with a
//! status the document lists for it.

use serde_json::{Value, json};

use crate::harness::{Server, client, get_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_exists_and_answers_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let c = client();
    let doc = get_json(&c, &format!("{}/openapi.json", srv.url)).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    // Something to find: a rule with a target, a connection, a token, an event.
    let r = c
        .put(format!("{}/v1/buses/default/rules/walk", srv.url))
        .json(&json!({"filter": {"pattern": {"type": ["x"]}},
                      "targets": [{"id": "t", "kind": "http", "url": "http://127.0.0.1:9/"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let paths = doc["paths"].as_object().unwrap();
    let mut ops: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    // Deletions last, so that the rest finds what it reads.
    ops.sort_by_key(|(m, p, _)| (m == "delete", p.clone()));
    assert!(ops.len() >= 29, "{} operations", ops.len());
    for (method, path, op) in ops {
        let url = path
            .replace("{bus}", "default")
            .replace("{rule}", "walk")
            .replace("{target}", "t")
            .replace("{sequence}", "1")
            .replace("{id}", "1")
            .replace("{name}", "walk");
        let url = format!("{}{url}", srv.url);
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = c.request(m, &url);
        if method == "post" || method == "put" {
            let body = if path.ends_with("/events") {
                json!({"specversion": "1.0", "id": "w", "source": "/walk", "type": "x"})
            } else {
                json!({})
            };
            let ct = if path.ends_with("/events") {
                "application/cloudevents+json"
            } else {
                "application/json"
            };
            req = req.header("content-type", ct).body(body.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert!(status < 500, "{method} {path}: {status} {text}");
        assert_ne!(status, 405, "{method} {path}: the router does not have it");
        assert!(
            !text.contains("no such resource"),
            "{method} {path}: not routed: {text}"
        );
        let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert!(
            documented.iter().any(|s| s.as_str() == status.to_string()),
            "{method} {path}: answered {status}, documented {documented:?}: {text}"
        );
    }
}

/// Schemathesis (PyPI, installed by `scripts/test`) fuzzes every operation of the document
/// against the live server: no 5xx, no response that violates the document (status, content
/// type, schema).
#[test]
fn schemathesis_finds_no_server_error_and_no_violation() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let out = std::process::Command::new("schemathesis")
        .args([
            "run",
            &format!("{}/openapi.json", srv.url),
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "25",
            "--seed",
            "20261121",
        ])
        .env("NO_COLOR", "1")
        // Its cache directory goes with the test's, not into the checkout.
        .current_dir(dir.path())
        .output()
        .expect("schemathesis is installed by scripts/test (pip install schemathesis)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("passed"), "{text}");
}
