//! Rules over the API through the real binary: CRUD with ETags and pagination, validation with
//! pointers, persistence across `kill -9`, `POST /v1/test-rule` for every pattern operator, and
//! rule changes taking effect in the bus's matcher as soon as they are answered.

use serde_json::{Value, json};

use crate::harness::{Server, client, event, problem};

/// A server's rules API.
pub(crate) struct Api {
    c: reqwest::Client,
    url: String,
}

impl Api {
    pub(crate) fn new(srv: &Server) -> Api {
        Api {
            c: client(),
            url: srv.url.clone(),
        }
    }

    fn rule_url(&self, bus: &str, rule: &str) -> String {
        format!("{}/v1/buses/{bus}/rules/{rule}", self.url)
    }

    pub(crate) async fn create_bus(&self, bus: &str) {
        let r = self
            .c
            .put(format!("{}/v1/buses/{bus}", self.url))
            .json(&json!({}))
            .send()
            .await
            .expect("put bus");
        assert_eq!(r.status(), 201, "create bus {bus}");
    }

    pub(crate) async fn put(&self, bus: &str, rule: &str, body: &Value) -> reqwest::Response {
        self.c
            .put(self.rule_url(bus, rule))
            .json(body)
            .send()
            .await
            .expect("put rule")
    }

    /// PUTs a rule that must be accepted; returns it.
    pub(crate) async fn save(&self, bus: &str, rule: &str, body: &Value) -> Value {
        let r = self.put(bus, rule, body).await;
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "save {bus}/{rule}: {v}");
        v
    }

    pub(crate) async fn get(&self, url: &str) -> (u16, Value) {
        let r = self.c.get(url).send().await.expect("get");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn list(&self, bus: &str, query: &str) -> Value {
        let (status, v) = self
            .get(&format!("{}/v1/buses/{bus}/rules{query}", self.url))
            .await;
        assert_eq!(status, 200, "list: {v}");
        v
    }

    async fn delete(&self, url: &str, if_match: Option<&str>) -> reqwest::Response {
        let mut req = self.c.delete(url);
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        req.send().await.expect("delete")
    }

    pub(crate) async fn test_rule(&self, body: &Value) -> reqwest::Response {
        self.c
            .post(format!("{}/v1/test-rule", self.url))
            .json(body)
            .send()
            .await
            .expect("test-rule")
    }

    /// A test-rule request that must succeed; returns the answer.
    pub(crate) async fn tried(&self, body: &Value) -> Value {
        let r = self.test_rule(body).await;
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "test-rule {body}: {v}");
        v
    }

    /// The names of the rules of `bus` matching the event.
    pub(crate) async fn matching(&self, bus: &str, ev: &Value) -> Vec<String> {
        let v = self.tried(&json!({"event": ev, "bus": bus})).await;
        assert_eq!(v["explanation"], Value::Null, "{v}");
        let names: Vec<String> = v["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|n| n.as_str().expect("name").to_owned())
            .collect();
        assert_eq!(v["matched"], json!(!names.is_empty()), "{v}");
        names
    }
}

fn names(list: &Value) -> Vec<&str> {
    list["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect()
}

fn pattern(p: Value) -> Value {
    json!({"filter": {"pattern": p}})
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_crud_with_etags_pagination_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    api.create_bus("orders").await;

    let body = pattern(json!({"type": ["order.created"]}));
    let r = api.put("orders", "r1", &body).await;
    assert_eq!(r.status(), 200, "create answers 200");
    assert_eq!(r.headers()["etag"], "\"1\"");
    let r1: Value = r.json().await.expect("json");
    assert_eq!(r1["name"], "r1");
    assert_eq!(r1["bus"], "orders");
    assert_eq!(r1["description"], "");
    assert_eq!(r1["enabled"], true);
    assert_eq!(r1["filter"], body["filter"]);
    assert_eq!(r1["targets"], json!([]));
    assert_eq!(r1["version"], 1);
    assert!(r1["created_at"].is_string() && r1["updated_at"].is_string());

    let url = api.rule_url("orders", "r1");
    let r = api.c.get(&url).send().await.expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"1\"");
    assert_eq!(r.json::<Value>().await.expect("json"), r1);

    let targets = json!([{"id": "hook", "kind": "http", "url": "http://127.0.0.1:9/hook"}]);
    for name in ["r3", "r2"] {
        let mut b = pattern(json!({"source": ["/it"]}));
        b["targets"] = targets.clone();
        b["description"] = json!(format!("rule {name}"));
        let saved = api.save("orders", name, &b).await;
        assert_eq!(saved["targets"], targets, "targets stored as given");
    }
    let page = api.list("orders", "?limit=2").await;
    assert_eq!(names(&page), ["r1", "r2"]);
    assert_eq!(page["next_cursor"], "r2");
    let page = api.list("orders", "?limit=2&cursor=r2").await;
    assert_eq!(names(&page), ["r3"]);
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(names(&api.list("default", "").await), Vec::<&str>::new());
    let bad = api
        .c
        .get(format!("{}/v1/buses/orders/rules?limit=0", api.url))
        .send()
        .await
        .expect("get");
    problem(bad, 400, "limit 0").await;

    // Replace: the version moves on, created_at stays; If-Match guards it.
    let mut v2 = pattern(json!({"type": ["order.updated"]}));
    v2["description"] = json!("updated");
    let r = api
        .c
        .put(&url)
        .header("if-match", "\"1\"")
        .json(&v2)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200, "replace answers 200");
    assert_eq!(r.headers()["etag"], "\"2\"");
    let replaced: Value = r.json().await.expect("json");
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["created_at"], r1["created_at"]);
    assert_eq!(replaced["filter"], v2["filter"]);
    let stale = api
        .c
        .put(&url)
        .header("if-match", "\"1\"")
        .json(&v2)
        .send()
        .await
        .expect("put");
    problem(stale, 412, "stale If-Match").await;
    let star_missing = api
        .c
        .put(api.rule_url("orders", "nope"))
        .header("if-match", "*")
        .json(&v2)
        .send()
        .await
        .expect("put");
    problem(star_missing, 412, "If-Match * on a missing rule").await;

    let r2 = api.rule_url("orders", "r2");
    problem(
        api.delete(&r2, Some("\"9\"")).await,
        412,
        "stale If-Match on delete",
    )
    .await;
    assert_eq!(api.delete(&r2, Some("\"1\"")).await.status(), 204);
    assert_eq!(api.get(&r2).await.0, 404);
    problem(api.delete(&r2, None).await, 404, "delete twice").await;

    // A 200 on a control-plane write survives kill -9.
    srv.kill9();
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    let (status, got) = api.get(&api.rule_url("orders", "r1")).await;
    assert_eq!(status, 200);
    assert_eq!(got, replaced);
    assert_eq!(names(&api.list("orders", "").await), ["r1", "r3"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_requests_are_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    api.create_bus("orders").await;
    let ok = pattern(json!({"type": ["a"]}));

    let p = problem(api.put("nope", "r1", &ok).await, 404, "unknown bus").await;
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("nope")),
        "{p}"
    );
    problem(
        api.delete(&api.rule_url("nope", "r1"), None).await,
        404,
        "delete on an unknown bus",
    )
    .await;
    assert_eq!(api.get(&api.rule_url("nope", "r1")).await.0, 404);
    assert_eq!(
        api.get(&format!("{}/v1/buses/nope/rules", api.url)).await.0,
        404
    );
    assert_eq!(api.get(&api.rule_url("orders", "r1")).await.0, 404);

    for bad in ["Bad", "-r", "a%20b", &"r".repeat(65)] {
        let p = problem(api.put("orders", bad, &ok).await, 400, "bad rule name").await;
        assert_eq!(p["errors"][0]["pointer"], "/name", "{bad}: {p}");
    }

    let p = problem(
        api.put(
            "orders",
            "r1",
            &json!({"filter": {"pattern": {}}, "state": "ENABLED", "EventPattern": "{}"}),
        )
        .await,
        400,
        "unknown fields",
    )
    .await;
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("state") && detail.contains("EventPattern"),
        "{p}"
    );
    let mut pointers: Vec<&str> = p["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["pointer"].as_str().unwrap_or_default())
        .collect();
    pointers.sort_unstable();
    assert_eq!(pointers, ["/EventPattern", "/state"], "{p}");

    for (body, pointer) in [
        (json!({}), "/filter"),
        (
            json!({"filter": {"pattern": {}}, "targets": {}}),
            "/targets",
        ),
        (
            json!({"filter": {"pattern": {}}, "enabled": "yes"}),
            "/enabled",
        ),
        (
            json!({"filter": {"pattern": {}}, "description": 1}),
            "/description",
        ),
        // The filter's own shape is checked before any pattern is compiled.
        (json!({"filter": {"xpath": "/type"}}), "/filter/xpath"),
        (json!({"filter": "type = 'a'"}), "/filter"),
        (json!({"filter": {}}), "/filter"),
    ] {
        let p = problem(api.put("orders", "r1", &body).await, 400, pointer).await;
        assert_eq!(p["errors"][0]["pointer"], pointer, "{body}: {p}");
        assert!(
            p["detail"].as_str().is_some_and(|d| d.contains(pointer)),
            "{body}: {p}"
        );
    }
    let malformed = api
        .c
        .put(api.rule_url("orders", "r1"))
        .header("content-type", "application/json")
        .body("{\"filter\": ")
        .send()
        .await
        .expect("put");
    problem(malformed, 400, "malformed JSON").await;
    assert_eq!(names(&api.list("orders", "").await), Vec::<&str>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_patterns_name_the_pointer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &["--rules-pattern-max-chars", "200"]);
    let api = Api::new(&srv);
    for (p, pointer) in [
        (
            json!({"detail": {"state": [{"prefix": 5}]}}),
            "/filter/pattern/detail/state/0/prefix",
        ),
        (json!({"type": "order.created"}), "/filter/pattern/type"),
        (json!({"type": [{"nope": 1}]}), "/filter/pattern/type/0"),
        (
            json!({"n": [{"numeric": [">", 5, "<", 5]}]}),
            "/filter/pattern/n/0/numeric",
        ),
    ] {
        let r = api.put("default", "bad", &pattern(p.clone())).await;
        let body = problem(r, 400, pointer).await;
        let got = body["errors"][0]["pointer"].as_str().unwrap_or_default();
        assert!(got.starts_with(pointer), "{p}: {got} for {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(got)),
            "detail names the pointer: {body}"
        );
        assert!(body["errors"][0]["message"].is_string(), "{body}");
        // test-rule compiles drafts the same way.
        let r = api
            .test_rule(&json!({"event": event("e1", json!({})), "filter": {"pattern": p}}))
            .await;
        let body = problem(r, 400, pointer).await;
        assert_eq!(body["errors"][0]["pointer"], got, "{body}");
    }
    // The [rules] limits apply.
    let long = json!({"type": ["x".repeat(300)]});
    let body = problem(
        api.put("default", "long", &pattern(long)).await,
        400,
        "over pattern_max_chars",
    )
    .await;
    assert!(
        body["errors"][0]["pointer"]
            .as_str()
            .is_some_and(|p| p.starts_with("/filter/pattern")),
        "{body}"
    );
    assert_eq!(names(&api.list("default", "").await), Vec::<&str>::new());
}

/// The event every operator is tried on.
fn sample() -> Value {
    event(
        "e1",
        json!({
            "state": "running",
            "name": "Order-Created.v2",
            "price": 42.5,
            "count": 7,
            "ip": "10.0.0.7",
            "ip6": "2001:db8::1",
            "tags": ["a", "b"],
            "items": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 5}],
            "nothing": null,
            "empty": "",
        }),
    )
}

/// (what, the pattern under `data`, matches?). Non-matches must be explained at `data.<first key>`
/// unless listed in `OTHER_FIELDS`.
const CASES: &[(&str, &str, bool)] = &[
    ("exact string", r#"{"state": ["running"]}"#, true),
    ("exact string", r#"{"state": ["stopped"]}"#, false),
    ("exact number", r#"{"count": [7.0]}"#, true),
    ("exact number", r#"{"count": [8]}"#, false),
    ("exact typed", r#"{"count": ["7"]}"#, false),
    ("null", r#"{"nothing": [null]}"#, true),
    ("null", r#"{"state": [null]}"#, false),
    ("empty string", r#"{"empty": [""]}"#, true),
    ("empty string", r#"{"state": [""]}"#, false),
    ("prefix", r#"{"name": [{"prefix": "Order-"}]}"#, true),
    ("prefix", r#"{"name": [{"prefix": "order-"}]}"#, false),
    (
        "prefix ignore-case",
        r#"{"name": [{"prefix": {"equals-ignore-case": "order-"}}]}"#,
        true,
    ),
    (
        "prefix ignore-case",
        r#"{"name": [{"prefix": {"equals-ignore-case": "invoice-"}}]}"#,
        false,
    ),
    ("suffix", r#"{"name": [{"suffix": ".v2"}]}"#, true),
    ("suffix", r#"{"name": [{"suffix": ".V2"}]}"#, false),
    (
        "suffix ignore-case",
        r#"{"name": [{"suffix": {"equals-ignore-case": ".V2"}}]}"#,
        true,
    ),
    (
        "suffix ignore-case",
        r#"{"name": [{"suffix": {"equals-ignore-case": ".V3"}}]}"#,
        false,
    ),
    (
        "equals-ignore-case",
        r#"{"state": [{"equals-ignore-case": "RUNNING"}]}"#,
        true,
    ),
    (
        "equals-ignore-case",
        r#"{"state": [{"equals-ignore-case": "STOPPED"}]}"#,
        false,
    ),
    (
        "wildcard",
        r#"{"name": [{"wildcard": "Order-*.v2"}]}"#,
        true,
    ),
    (
        "wildcard",
        r#"{"name": [{"wildcard": "Invoice-*"}]}"#,
        false,
    ),
    (
        "anything-but value",
        r#"{"state": [{"anything-but": "stopped"}]}"#,
        true,
    ),
    (
        "anything-but value",
        r#"{"state": [{"anything-but": "running"}]}"#,
        false,
    ),
    (
        "anything-but number",
        r#"{"count": [{"anything-but": 8}]}"#,
        true,
    ),
    (
        "anything-but number",
        r#"{"count": [{"anything-but": 7}]}"#,
        false,
    ),
    (
        "anything-but list",
        r#"{"state": [{"anything-but": ["stopped", "failed"]}]}"#,
        true,
    ),
    (
        "anything-but list",
        r#"{"state": [{"anything-but": ["running", "failed"]}]}"#,
        false,
    ),
    (
        "anything-but prefix",
        r#"{"state": [{"anything-but": {"prefix": "stop"}}]}"#,
        true,
    ),
    (
        "anything-but prefix",
        r#"{"state": [{"anything-but": {"prefix": "run"}}]}"#,
        false,
    ),
    (
        "anything-but suffix",
        r#"{"state": [{"anything-but": {"suffix": "ped"}}]}"#,
        true,
    ),
    (
        "anything-but suffix",
        r#"{"state": [{"anything-but": {"suffix": "ing"}}]}"#,
        false,
    ),
    (
        "anything-but ignore-case",
        r#"{"state": [{"anything-but": {"equals-ignore-case": ["STOPPED", "FAILED"]}}]}"#,
        true,
    ),
    (
        "anything-but ignore-case",
        r#"{"state": [{"anything-but": {"equals-ignore-case": "RUNNING"}}]}"#,
        false,
    ),
    (
        "anything-but wildcard",
        r#"{"state": [{"anything-but": {"wildcard": "stop*"}}]}"#,
        true,
    ),
    (
        "anything-but wildcard",
        r#"{"state": [{"anything-but": {"wildcard": "run*"}}]}"#,
        false,
    ),
    (
        "anything-but never matches an absent field",
        r#"{"missing": [{"anything-but": "x"}]}"#,
        false,
    ),
    (
        "numeric range",
        r#"{"price": [{"numeric": [">", 40, "<=", 50]}]}"#,
        true,
    ),
    (
        "numeric range",
        r#"{"price": [{"numeric": [">", 50]}]}"#,
        false,
    ),
    (
        "numeric equals",
        r#"{"price": [{"numeric": ["=", 42.5]}]}"#,
        true,
    ),
    (
        "numeric is for numbers",
        r#"{"state": [{"numeric": [">", 0]}]}"#,
        false,
    ),
    ("exists true", r#"{"state": [{"exists": true}]}"#, true),
    ("exists true", r#"{"missing": [{"exists": true}]}"#, false),
    ("exists false", r#"{"missing": [{"exists": false}]}"#, true),
    ("exists false", r#"{"state": [{"exists": false}]}"#, false),
    ("cidr v4", r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, true),
    ("cidr v4", r#"{"ip": [{"cidr": "10.0.1.0/24"}]}"#, false),
    ("cidr v6", r#"{"ip6": [{"cidr": "2001:db8::/32"}]}"#, true),
    ("cidr v6", r#"{"ip6": [{"cidr": "2001:db9::/32"}]}"#, false),
    ("array: any element", r#"{"tags": ["b"]}"#, true),
    ("array: any element", r#"{"tags": ["c"]}"#, false),
    (
        "array of objects: same element",
        r#"{"items": {"sku": ["y"], "qty": [5]}}"#,
        true,
    ),
    (
        "array of objects: same element",
        r#"{"items": {"sku": ["x"], "qty": [5]}}"#,
        false,
    ),
    (
        "$or",
        r#"{"$or": [{"state": ["stopped"]}, {"count": [7]}]}"#,
        true,
    ),
    (
        "$or",
        r#"{"$or": [{"state": ["stopped"]}, {"count": [8]}]}"#,
        false,
    ),
    (
        "all fields must match",
        r#"{"count": [7], "state": ["stopped"]}"#,
        false,
    ),
];

/// Non-matches whose explanation may name one of several fields.
fn expected_fields(what: &str, data: &Value) -> Vec<String> {
    match what {
        "array of objects: same element" => vec!["data.items.sku".into(), "data.items.qty".into()],
        "$or" => vec!["data.state".into(), "data.count".into()],
        "all fields must match" => vec!["data.state".into()],
        _ => {
            let first = data
                .as_object()
                .and_then(|m| m.keys().next())
                .expect("a key");
            vec![format!("data.{first}")]
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_rule_explains_every_operator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    let ev = sample();
    for (what, data, matches) in CASES {
        let data: Value = serde_json::from_str(data).expect("case JSON");
        let filter = json!({"pattern": {"type": ["dev.railyard.test"], "data": data}});
        let v = api.tried(&json!({"event": ev, "filter": filter})).await;
        assert_eq!(v["matched"], json!(matches), "{what}: {data} → {v}");
        if *matches {
            assert_eq!(v["explanation"], Value::Null, "{what}: {v}");
            continue;
        }
        let ex = &v["explanation"];
        let field = ex["field"].as_str().unwrap_or_default();
        assert!(
            expected_fields(what, &data).iter().any(|f| f == field),
            "{what}: explanation names {field:?}: {v}"
        );
        let pointer = ex["pointer"].as_str().unwrap_or_default();
        assert!(
            pointer.starts_with("/filter/pattern/data/"),
            "{what}: pointer {pointer:?}: {v}"
        );
        assert!(
            ex["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{what}: {v}"
        );
    }

    // Attributes and extensions sit at the top level.
    for (p, matches, field) in [
        (json!({"source": ["/it"], "num": [7]}), true, ""),
        (json!({"flag": [true], "ext1": [{"prefix": "v"}]}), true, ""),
        (json!({"source": ["/other"]}), false, "source"),
        (json!({"num": ["7"]}), false, "num"),
    ] {
        let v = api
            .tried(&json!({"event": ev, "filter": {"pattern": p}}))
            .await;
        assert_eq!(v["matched"], json!(matches), "{p}: {v}");
        if !matches {
            assert_eq!(v["explanation"]["field"], field, "{v}");
            assert_eq!(
                v["explanation"]["pointer"],
                json!(format!("/filter/pattern/{field}")),
                "{v}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_rule_requests_are_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    let ev = sample();
    let filter = json!({"pattern": {"type": ["x"]}});

    let mut bad = ev.clone();
    bad["source"] = json!("");
    let p = problem(
        api.test_rule(&json!({"event": bad, "filter": filter}))
            .await,
        400,
        "invalid event",
    )
    .await;
    assert_eq!(p["attribute"], "source", "{p}");
    assert_eq!(p["errors"][0]["pointer"], "/event/source", "{p}");
    let mut bad = ev.clone();
    bad.as_object_mut().expect("object").remove("id");
    let p = problem(
        api.test_rule(&json!({"event": bad, "bus": "default"}))
            .await,
        400,
        "event without id",
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "/event/id", "{p}");
    let p = problem(
        api.test_rule(&json!({"event": [1], "bus": "default"}))
            .await,
        400,
        "event not an object",
    )
    .await;
    assert!(p["detail"].is_string(), "{p}");

    for (body, what) in [
        (json!({"filter": filter}), "no event"),
        (json!({"event": ev}), "neither filter nor bus"),
        (
            json!({"event": ev, "filter": filter, "bus": "default"}),
            "both filter and bus",
        ),
        (json!({"event": ev, "rule": "r1"}), "rule without bus"),
        (
            json!({"event": ev, "filter": filter, "explain": true}),
            "unknown member",
        ),
        (
            json!({"event": ev, "filter": {"xpath": "/a"}}),
            "unknown filter kind",
        ),
    ] {
        problem(api.test_rule(&body).await, 400, what).await;
    }
    problem(
        api.test_rule(&json!({"event": ev, "bus": "nope"})).await,
        404,
        "unknown bus",
    )
    .await;
    problem(
        api.test_rule(&json!({"event": ev, "bus": "default", "rule": "nope"}))
            .await,
        404,
        "unknown rule",
    )
    .await;
    // A bus without rules matches nothing.
    assert_eq!(api.matching("default", &ev).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_changes_are_visible_immediately() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    api.create_bus("orders").await;
    let ev = sample();
    let running = pattern(json!({"data": {"state": ["running"]}}));
    let stopped = pattern(json!({"data": {"state": ["stopped"]}}));
    let by_type = pattern(json!({"type": ["dev.railyard.test"]}));

    api.save("orders", "r1", &running).await;
    assert_eq!(api.matching("orders", &ev).await, ["r1"]);
    assert_eq!(api.matching("default", &ev).await, Vec::<String>::new());
    api.save("orders", "r2", &by_type).await;
    assert_eq!(api.matching("orders", &ev).await, ["r1", "r2"]);

    // A replacement pattern is the new behaviour at once.
    api.save("orders", "r1", &stopped).await;
    assert_eq!(api.matching("orders", &ev).await, ["r2"]);
    let v = api
        .tried(&json!({"event": ev, "bus": "orders", "rule": "r1"}))
        .await;
    assert_eq!(v["matched"], false, "{v}");
    assert_eq!(v["explanation"]["field"], "data.state", "{v}");
    assert_eq!(
        v["explanation"]["pointer"], "/filter/pattern/data/state",
        "{v}"
    );
    api.save("orders", "r1", &running).await;
    assert_eq!(api.matching("orders", &ev).await, ["r1", "r2"]);

    // Disabled: stored, listed, testable by name, but not in the matcher.
    let mut off = by_type.clone();
    off["enabled"] = json!(false);
    let saved = api.save("orders", "r2", &off).await;
    assert_eq!(saved["enabled"], false);
    assert_eq!(api.matching("orders", &ev).await, ["r1"]);
    assert_eq!(names(&api.list("orders", "").await), ["r1", "r2"]);
    let v = api
        .tried(&json!({"event": ev, "bus": "orders", "rule": "r2"}))
        .await;
    assert_eq!(v["matched"], true, "{v}");
    assert_eq!(v["explanation"], Value::Null, "{v}");

    // The matcher is rebuilt from the store on start: enabled rules only.
    srv.kill9();
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    assert_eq!(api.matching("orders", &ev).await, ["r1"]);
    api.save("orders", "r2", &by_type).await;
    assert_eq!(api.matching("orders", &ev).await, ["r1", "r2"]);

    assert_eq!(
        api.delete(&api.rule_url("orders", "r1"), None)
            .await
            .status(),
        204
    );
    assert_eq!(api.matching("orders", &ev).await, ["r2"]);

    // Deleting the bus deletes its rules; a new bus of that name starts empty.
    assert_eq!(
        api.delete(&format!("{}/v1/buses/orders", api.url), None)
            .await
            .status(),
        204
    );
    problem(
        api.test_rule(&json!({"event": ev, "bus": "orders"})).await,
        404,
        "deleted bus",
    )
    .await;
    api.create_bus("orders").await;
    assert_eq!(names(&api.list("orders", "").await), Vec::<&str>::new());
    assert_eq!(api.matching("orders", &ev).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_rule_over_lowered_limits_is_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    let ev = sample();
    let long = pattern(json!({"type": ["dev.railyard.test", "x".repeat(200)]}));
    api.save("default", "long", &long).await;
    api.save("default", "short", &pattern(json!({"source": ["/it"]})))
        .await;
    assert_eq!(api.matching("default", &ev).await, ["long", "short"]);

    srv.kill9();
    let srv = Server::start(dir.path(), &["--rules-pattern-max-chars", "100"]);
    let api = Api::new(&srv);
    assert_eq!(api.matching("default", &ev).await, ["short"]);
    assert!(
        srv.stderr().contains("does not compile"),
        "a warning names the rule: {}",
        srv.stderr()
    );
    // Still stored and readable; testing it by name says why it is out.
    assert_eq!(names(&api.list("default", "").await), ["long", "short"]);
    let p = problem(
        api.test_rule(&json!({"event": ev, "bus": "default", "rule": "long"}))
            .await,
        409,
        "stored rule over the limits",
    )
    .await;
    assert!(
        p["errors"][0]["pointer"]
            .as_str()
            .is_some_and(|p| p.starts_with("/filter")),
        "{p}"
    );
}
