//! Filter kinds beyond patterns and transforms, through the real binary: rules of every kind saved
//! over REST and routing together, compile errors with pointer, line and column, and
//! `POST /v1/test-rule` answering the output of every transform kind.

use serde_json::{Value, json};

use crate::harness::{Server, problem};
use crate::rules::Api;

fn order(id: &str, total: f64, tier: &str) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "//svc/shop/eu",
        "type": "com.example.order.created", "subject": "orders/17",
        "time": "2026-11-21T10:15:30.123Z", "datacontenttype": "application/json",
        "priority": 3,
        "data": {
            "order": {"id": "o-17", "total": total, "customer": {"tier": tier, "name": "Ada \"the\" Lovelace"}},
            "items": [{"sku": "A", "price": 12.5}, {"sku": "B", "price": 30}],
        },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_of_every_kind_route_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    api.create_bus("shop").await;
    let rules = [
        (
            "by-pattern",
            json!({"pattern": {"type": [{"prefix": "com.example.order."}]}}),
        ),
        (
            "by-cesql",
            json!({"cesql": "source LIKE '//svc/shop/%' AND priority > 2"}),
        ),
        (
            "by-jsonpath",
            json!({"jsonpath": "$.data.items[?@.price > 20]"}),
        ),
        (
            "gold-only",
            json!({"cesql": "EXISTS tier AND tier = 'gold'"}),
        ),
        (
            "by-sql",
            json!({"sql": "SELECT data.order.id WHERE data.order.total > 50.5 AND data.order.customer.tier = 'gold'"}),
        ),
    ];
    for (name, filter) in &rules {
        let saved = api
            .save(
                "shop",
                name,
                &json!({"filter": filter, "targets": [{"id": "t", "kind": "http", "url": "http://127.0.0.1:9/", "transform": {"kind": "constant", "value": 1}}]}),
            )
            .await;
        assert_eq!(saved["filter"], *filter, "stored as given");
    }
    let ev = order("e1", 99.0, "gold");
    assert_eq!(
        api.matching("shop", &ev).await,
        ["by-cesql", "by-jsonpath", "by-pattern", "by-sql"],
        "tier is in data, not an attribute: the gold-only CESQL rule does not match"
    );
    let mut cheap = order("e2", 5.0, "free");
    cheap["data"]["items"] = json!([{"sku": "A", "price": 1}]);
    cheap["priority"] = json!(1);
    assert_eq!(api.matching("shop", &cheap).await, ["by-pattern"]);
    let mut tiered = cheap.clone();
    tiered["tier"] = json!("gold");
    assert_eq!(
        api.matching("shop", &tiered).await,
        ["by-pattern", "gold-only"]
    );

    // A rule changing kind takes effect at once, and a saved rule of any kind can be tried.
    api.save(
        "shop",
        "by-pattern",
        &json!({"filter": {"jsonpath": "$.data[?@.total > 50]"}}),
    )
    .await;
    assert_eq!(api.matching("shop", &cheap).await, Vec::<String>::new());
    let v = api
        .tried(&json!({"event": ev, "bus": "shop", "rule": "by-pattern"}))
        .await;
    assert_eq!(v["matched"], true, "{v}");
    assert_eq!(v["output"], ev, "the default transform is the event as is");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_filters_and_transforms_name_the_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    // (body, pointer, line and column if the filter is text, a word of the reason)
    let cases = [
        (
            json!({"filter": {"cesql": "type = 'a' AND"}}),
            "/filter/cesql",
            Some((1, 15)),
            "",
        ),
        (
            json!({"filter": {"cesql": "type = 'a'\n  AND source LIKE 'x' AND (1 +"}}),
            "/filter/cesql",
            Some((2, 31)),
            "",
        ),
        (
            json!({"filter": {"cesql": "NOSUCH(type) = 'a'"}}),
            "/filter/cesql",
            Some((1, 1)),
            "NOSUCH",
        ),
        (
            json!({"filter": {"cesql": 5}}),
            "/filter/cesql",
            None,
            "string",
        ),
        (
            json!({"filter": {"sql": "SELECT * WHERE type = 'a'\nGROUP BY source"}}),
            "/filter/sql",
            Some((2, 1)),
            "GROUP BY",
        ),
        (
            json!({"filter": {"sql": "SELECT a FROM t JOIN u ON t.x = u.x"}}),
            "/filter/sql",
            Some((1, 17)),
            "JOIN",
        ),
        (
            json!({"filter": {"sql": "SELECT a WHERE b >"}}),
            "/filter/sql",
            Some((1, 19)),
            "",
        ),
        (
            json!({"filter": {"cesql": "  "}}),
            "/filter/cesql",
            None,
            "empty",
        ),
        (
            json!({"filter": {"jsonpath": "$.data[?@.price >]"}}),
            "/filter/jsonpath",
            Some((1, 18)),
            "",
        ),
        (
            json!({"filter": {"jsonpath": "data.price"}}),
            "/filter/jsonpath",
            Some((1, 1)),
            "",
        ),
        (
            json!({"filter": {"pattern": {}, "cesql": "true"}}),
            "/filter",
            None,
            "exactly one",
        ),
        (
            json!({"filter": {"pattern": {"type": ["a"]}}, "targets": [{"id": "a", "kind": "http", "url": "http://127.0.0.1:9/"}, {"id": "b", "kind": "http", "url": "http://127.0.0.1:9/", "transform": {"kind": "template", "paths": {"a": "$.id"}, "template": "<b>"}}]}),
            "/targets/1/transform/template",
            None,
            "b",
        ),
        (
            json!({"filter": {"pattern": {"type": ["a"]}}, "targets": [{"id": "a", "kind": "http", "url": "http://127.0.0.1:9/", "transform": {"kind": "jsonpath", "path": "$["}}]}),
            "/targets/0/transform/path",
            None,
            "",
        ),
        (
            json!({"filter": {"pattern": {"type": ["a"]}}, "targets": [{"id": "a", "kind": "http", "url": "http://127.0.0.1:9/", "transform": {"kind": "nope"}}]}),
            "/targets/0/transform/kind",
            None,
            "nope",
        ),
    ];
    for (body, pointer, position, word) in cases {
        let p = problem(api.put("default", "r1", &body).await, 400, pointer).await;
        let e = &p["errors"][0];
        assert_eq!(e["pointer"], pointer, "{body}: {p}");
        assert!(
            p["detail"]
                .as_str()
                .is_some_and(|d| d.contains(pointer) && d.contains(word)),
            "{body}: {p}"
        );
        match position {
            Some((line, column)) => {
                assert_eq!(
                    (e["line"].clone(), e["column"].clone()),
                    (json!(line), json!(column)),
                    "{body}: {p}"
                );
            }
            None => assert!(e.get("line").is_none(), "{body}: {p}"),
        }
    }
    // Nothing was saved.
    let (status, _) = api
        .get(&format!("{}/v1/buses/default/rules/r1", srv.url))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn test_rule_answers_the_output_of_every_transform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = Server::start(dir.path(), &[]);
    let api = Api::new(&srv);
    let ev = order("e1", 99.0, "gold");
    let filter = json!({"cesql": "type = 'com.example.order.created'"});
    let try_it = |transform: Value| {
        let body = json!({"event": ev, "filter": filter, "transform": transform});
        let api = &api;
        async move { api.tried(&body).await }
    };

    let v = try_it(json!({"kind": "constant", "value": {"hello": [1, 2]}})).await;
    assert_eq!(v["matched"], true, "{v}");
    assert_eq!(v["explanation"], Value::Null, "{v}");
    assert_eq!(v["output"], json!({"hello": [1, 2]}));

    let v = try_it(json!({"kind": "jsonpath", "path": "$.data.order.customer"})).await;
    assert_eq!(v["output"], ev["data"]["order"]["customer"], "{v}");

    // EventBridge's input transformer, its variable spellings and JSON-aware escaping.
    let v = try_it(json!({
        "kind": "template",
        "paths": {"name": "$.data.order.customer.name", "total": "$.data.order.total", "id": "$.id"},
        "template": "{\"who\": \"<name>\", \"total\": <total>, \"rule\": \"<aws.events.rule-name>\", \"event\": <aws.events.event.json>, \"id\": \"<id>\"}",
    }))
    .await;
    let out = &v["output"];
    assert_eq!(out["who"], "Ada \"the\" Lovelace", "{v}");
    assert_eq!(out["total"], 99.0, "{v}");
    assert_eq!(out["rule"], "test-rule", "{v}");
    assert_eq!(out["event"], ev, "{v}");
    assert_eq!(out["id"], "e1", "{v}");

    let v = try_it(json!({
        "kind": "template",
        "paths": {"sku": "$.data.items[0].sku"},
        "template": "Order <sku> at <railyard.event.ingestion-time>\nby rule <railyard.rule-name>",
    }))
    .await;
    let text = v["output"].as_str().expect("text output");
    assert!(text.starts_with("Order A at 20"), "{text}");
    assert!(text.ends_with("\nby rule test-rule"), "{text}");

    let v = try_it(json!({
        "kind": "cloudevent",
        "set": {"type": "com.example.order.enriched", "subject": "o-17"},
        "data": {"kind": "jsonpath", "path": "$.data.order"},
    }))
    .await;
    let out = &v["output"];
    assert_eq!(out["type"], "com.example.order.enriched", "{v}");
    assert_eq!(out["subject"], "o-17", "{v}");
    assert_eq!(out["id"], "e1", "{v}");
    assert_eq!(out["data"], ev["data"]["order"], "{v}");

    // An SQL rule: the projection is the output unless a transform is given.
    let sql = json!({"sql": "SELECT data.order.id, data.order.total * 2 AS doubled, data.order.customer.tier AS \"who.tier\", data.nothing WHERE data.order.total > 50"});
    let v = api.tried(&json!({"event": ev, "filter": sql})).await;
    assert_eq!(v["matched"], true, "{v}");
    assert_eq!(
        v["output"],
        json!({"id": "o-17", "doubled": 198, "who": {"tier": "gold"}}),
        "{v}"
    );
    let v = api
        .tried(
            &json!({"event": ev, "filter": sql, "transform": {"kind": "constant", "value": "x"}}),
        )
        .await;
    assert_eq!(v["output"], "x", "{v}");

    // No match: no output, and the explanation says what the expression gave.
    let mut other = ev.clone();
    other["type"] = json!("com.example.order.deleted");
    let v = api
        .tried(&json!({"event": other, "filter": filter, "transform": {"kind": "constant", "value": 1}}))
        .await;
    assert_eq!(v["matched"], false, "{v}");
    assert_eq!(v["output"], Value::Null, "{v}");
    assert_eq!(v["explanation"]["pointer"], "/filter/cesql", "{v}");
    assert!(
        v["explanation"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("false")),
        "{v}"
    );

    // An evaluation error is explained with its kind.
    let v = api
        .tried(&json!({"event": ev, "filter": {"cesql": "missingattr = 'x'"}}))
        .await;
    assert_eq!(v["matched"], false, "{v}");
    assert!(
        v["explanation"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("missingAttribute")),
        "{v}"
    );

    // A bad transform is a 400 under /transform.
    let p = problem(
        api.test_rule(&json!({"event": ev, "filter": filter, "transform": {"kind": "template", "template": "<nope>"}}))
            .await,
        400,
        "bad transform",
    )
    .await;
    assert!(
        p["errors"][0]["pointer"]
            .as_str()
            .is_some_and(|s| s.starts_with("/transform")),
        "{p}"
    );
}
