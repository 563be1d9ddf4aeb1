//! The CLI as a client of the API, against a real server: resources from JSON and YAML files,
//! tables and `-o json`, events put/get/tail/trace, test-rule, and errors that name the field.

use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Server, bin};

fn run(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .args(["--url", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn resources_events_and_errors_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let f = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let bus = f(
        "bus.yaml",
        "description: Orders\nretention:\n  max_age: 7d\n",
    );
    let (ok, out, err) = run(
        &srv.url,
        &["buses", "put", "orders", "-f", &bus, "-o", "json"],
    );
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["description"],
        "Orders"
    );
    let rule = f(
        "rule.yaml",
        "filter:\n  pattern:\n    type: [com.example.created]\n    data:\n      total: [{numeric: ['>', 10]}]\ntargets: []\n",
    );
    let (ok, _, err) = run(
        &srv.url,
        &["rules", "put", "big", "--bus", "orders", "-f", &rule],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = run(&srv.url, &["rules", "list", "--bus", "orders"]);
    assert!(ok);
    assert!(out.starts_with("NAME") && out.contains("big"), "{out}");
    let (ok, out, _) = run(
        &srv.url,
        &["rules", "list", "--bus", "orders", "-o", "json"],
    );
    assert!(ok);
    let rules: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        rules[0]["filter"]["pattern"]["data"]["total"],
        json!([{"numeric": [">", 10]}])
    );
    // A bad rule: exit 1, the pointer and the reason on stderr.
    let bad = f("bad.json", r#"{"filter": {"pattern": {"type": "a"}}}"#);
    let (ok, _, err) = run(
        &srv.url,
        &["rules", "put", "bad", "--bus", "orders", "-f", &bad],
    );
    assert!(!ok);
    assert!(
        err.contains("400") && err.contains("/filter/pattern/type"),
        "{err}"
    );

    let ev = f(
        "ev.json",
        &json!({"specversion": "1.0", "id": "c1", "source": "/cli", "type": "com.example.created", "data": {"total": 12}}).to_string(),
    );
    let (ok, out, err) = run(&srv.url, &["events", "put", "--bus", "orders", "-f", &ev]);
    assert!(ok, "{err}");
    assert!(out.contains("c1"), "{out}");
    let (ok, out, _) = run(
        &srv.url,
        &["events", "get", "1", "--bus", "orders", "-o", "json"],
    );
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], "c1");
    let (ok, out, _) = run(
        &srv.url,
        &[
            "events", "tail", "--bus", "orders", "--after", "0", "--count", "1", "-o", "json",
        ],
    );
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["event"]["id"],
        "c1"
    );
    let (ok, out, _) = run(
        &srv.url,
        &["events", "trace", "1", "--bus", "orders", "-o", "json"],
    );
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["matched_rules"],
        json!(["big"])
    );
    let req = f(
        "test.json",
        &json!({"event": {"specversion": "1.0", "id": "t", "source": "/cli", "type": "com.example.created", "data": {"total": 3}},
                "bus": "orders", "rule": "big"}).to_string(),
    );
    let (ok, out, err) = run(&srv.url, &["test-rule", "-f", &req, "-o", "json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["matched"], false);
    let (ok, _, _) = run(&srv.url, &["rules", "delete", "big", "--bus", "orders"]);
    assert!(ok);
    let (ok, _, err) = run(&srv.url, &["rules", "get", "big", "--bus", "orders"]);
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, out, _) = run(&srv.url, &["buses", "list"]);
    assert!(
        ok && out.contains("orders") && out.contains("default"),
        "{out}"
    );
}

/// `apply` round trip: apply a file, change it, `--dry-run` shows exactly the change, apply it,
/// `--prune` removes what was dropped; the API then shows exactly the file's state.
#[test]
fn apply_dry_run_and_prune() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let file = dir.path().join("resources.yaml");
    let v1 = r#"
kind: bus
name: orders
spec: {description: Orders}
---
kind: connection
name: shop
spec: {api_key: {header: x-api-key, value: s3cret}}
---
kind: rule
bus: orders
name: big
spec:
  filter: {pattern: {type: [created]}}
  targets:
    - {id: hook, kind: http, url: "http://127.0.0.1:9/", connection: shop}
---
kind: rule
bus: orders
name: small
spec: {filter: {pattern: {type: [tiny]}}}
"#;
    std::fs::write(&file, v1).unwrap();
    let f = file.to_str().unwrap();
    let (ok, out, err) = run(&srv.url, &["apply", "-f", f]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "+ bus orders",
            "+ connection shop",
            "+ rule orders/big",
            "+ rule orders/small"
        ]
    );
    let (ok, out, _) = run(&srv.url, &["apply", "-f", f]);
    assert!(ok);
    assert_eq!(out.trim(), "no changes", "applying again changes nothing");

    // Change one rule's filter and drop the other.
    let v2 = v1
        .replace("type: [created]", "type: [created, updated]")
        .replace("---\nkind: rule\nbus: orders\nname: small\nspec: {filter: {pattern: {type: [tiny]}}}\n", "");
    std::fs::write(&file, &v2).unwrap();
    let (ok, out, _) = run(&srv.url, &["apply", "-f", f, "--dry-run", "--prune"]);
    assert!(ok);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "~ rule orders/big",
            r#"    /filter/pattern/type: ["created"] → ["created","updated"]"#,
            "- rule orders/small",
        ],
        "{out}"
    );
    // Dry run changed nothing.
    let (_, out, _) = run(
        &srv.url,
        &["rules", "list", "--bus", "orders", "-o", "json"],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (ok, _, err) = run(&srv.url, &["apply", "-f", f]);
    assert!(ok, "{err}");
    let (_, out, _) = run(
        &srv.url,
        &["rules", "list", "--bus", "orders", "-o", "json"],
    );
    let rules: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        rules.as_array().unwrap().len(),
        2,
        "without --prune, nothing is deleted"
    );
    let (ok, out, err) = run(&srv.url, &["apply", "-f", f, "--prune"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "- rule orders/small");
    let (_, out, _) = run(
        &srv.url,
        &["rules", "list", "--bus", "orders", "-o", "json"],
    );
    let rules: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["name"], "big");
    assert_eq!(
        rules[0]["filter"],
        json!({"pattern": {"type": ["created", "updated"]}})
    );
    let (_, out, _) = run(&srv.url, &["apply", "-f", f, "--prune", "--dry-run"]);
    assert_eq!(
        out.trim(),
        "no changes",
        "the API shows exactly the file's state"
    );
}

/// `serve --resources`: the same file applied at start, with auth on too; a file that does not
/// apply stops the start with the reason.
#[test]
fn serve_applies_resources_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("resources.yaml");
    std::fs::write(
        &file,
        "kind: bus\nname: orders\n---\nkind: rule\nbus: orders\nname: r\nspec: {filter: {pattern: {type: [x]}}}\n",
    )
    .unwrap();
    // A token exists: the server's own apply still works.
    let out = Command::new(bin())
        .args([
            "token",
            "create",
            "--scope",
            "admin",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let (ok, err) = (out.status.success(), String::from_utf8_lossy(&out.stderr));
    assert!(ok, "{err}");
    let srv = Server::start(&data, &["--resources", file.to_str().unwrap()]);
    let (ok, out, err) = run(&srv.url, &["rules", "list", "--bus", "orders"]);
    assert!(!ok && err.contains("401"), "auth is on: {out} {err}");
    drop(srv);
    let out = Command::new(bin())
        .args(["token", "list", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        !list.contains("serve-resources"),
        "the server's own token is never stored: {list}"
    );

    let data2 = dir.path().join("data2");
    let srv = Server::start(&data2, &["--resources", file.to_str().unwrap()]);
    let (ok, out, _) = run(
        &srv.url,
        &["rules", "list", "--bus", "orders", "-o", "json"],
    );
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()[0]["name"], "r");
    drop(srv);
    std::fs::write(
        &file,
        "kind: rule\nname: bad\nspec: {filter: {pattern: {type: x}}}\n",
    )
    .unwrap();
    let err = Server::try_start(
        &dir.path().join("data3"),
        &["--resources", file.to_str().unwrap()],
    )
    .err()
    .unwrap_or_default();
    assert!(
        err.contains("resources") && err.contains("/filter/pattern/type"),
        "{err}"
    );
}

/// Lists filter before they page: `prefix` on names, `enabled` on rules; unknown parameters are
/// a 400 naming them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_by_prefix_and_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let c = crate::harness::client();
    for (name, enabled) in [
        ("a1", true),
        ("a2", false),
        ("a3", true),
        ("b1", true),
        ("a4", true),
    ] {
        let r = c
            .put(format!("{}/v1/buses/default/rules/{name}", srv.url))
            .json(&json!({"filter": {"pattern": {"type": [name]}}, "enabled": enabled}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let names = |v: &Value| -> Vec<String> {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let url = format!("{}/v1/buses/default/rules", srv.url);
    let p1 = crate::harness::get_json(&c, &format!("{url}?prefix=a&enabled=true&limit=2")).await;
    assert_eq!(names(&p1), ["a1", "a3"]);
    assert_eq!(p1["next_cursor"], "a3");
    let p2 = crate::harness::get_json(
        &c,
        &format!("{url}?prefix=a&enabled=true&limit=2&cursor=a3"),
    )
    .await;
    assert_eq!(names(&p2), ["a4"]);
    assert_eq!(p2["next_cursor"], Value::Null);
    let off = crate::harness::get_json(&c, &format!("{url}?enabled=false")).await;
    assert_eq!(names(&off), ["a2"]);
    let r = c.get(format!("{url}?enabled=yes")).send().await.unwrap();
    crate::harness::problem(r, 400, "enabled=yes").await;
    let r = c.get(format!("{url}?sort=name")).send().await.unwrap();
    let p = crate::harness::problem(r, 400, "unknown parameter").await;
    assert_eq!(p["errors"][0]["pointer"], "/sort");
    let buses = crate::harness::get_json(&c, &format!("{}/v1/buses?prefix=def", srv.url)).await;
    assert_eq!(buses["buses"].as_array().unwrap().len(), 1);
}

#[test]
fn sources_and_schedules_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let f = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    // The secret comes from the environment, not the file.
    let source = f("gh.yaml", "kind: github\nbus: default\ndescription: app\n");
    let out = Command::new(bin())
        .args([
            "sources",
            "put",
            "gh",
            "-f",
            &source,
            "--secret-env",
            "GH_SECRET",
        ])
        .args(["-o", "json", "--url", &srv.url])
        .env("GH_SECRET", "from-the-environment")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, out, err) = run(&srv.url, &["sources", "list", "-o", "json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "gh");
    assert_eq!(list[0]["secret_set"], true);
    assert!(!out.contains("from-the-environment"), "{out}");
    let (ok, table, err) = run(&srv.url, &["sources", "list"]);
    assert!(ok && table.contains("/v1/webhooks/gh"), "{table}{err}");
    // Without a secret a github source is refused, naming the member.
    let (ok, _, err) = run(&srv.url, &["sources", "put", "bad", "-f", &source]);
    assert!(!ok && err.contains("/secret"), "{err}");

    let sched = f(
        "nightly.yaml",
        "bus: default\ncron: 0 30 2 * * *\ntimezone: Europe/Berlin\nevent:\n  type: com.acme.nightly\n  source: /jobs\n",
    );
    let (ok, out, err) = run(
        &srv.url,
        &["schedules", "put", "nightly", "-f", &sched, "-o", "json"],
    );
    assert!(ok, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["timezone"], "Europe/Berlin");
    assert!(s["next_firing"].as_str().is_some(), "{s}");
    let (ok, _, err) = run(&srv.url, &["schedules", "delete", "nightly"]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&srv.url, &["schedules", "list", "-o", "json"]);
    assert!(ok);
    assert_eq!(out.trim(), "[]");
}
