//! Criterion benchmarks of transforms and JSONPath filters on an already-parsed structured-JSON
//! CloudEvent of about 1 KiB (the target engine parses an event once and hands the `Value` to
//! every transform of the matched targets):
//!
//! - `template/json-5-vars`: a JSON template with five named paths (simple paths, so the direct
//!   walk), values inside and outside quotes, one needing escapes; the target is at least 500,000
//!   transforms per second on one core.
//! - `template/json-5-vars-general`: the same with five paths that jsonpath-rust evaluates
//!   (a wildcard, a filter), to show what the direct walk saves.
//! - `template/text-5-vars`: the same values in a text template.
//! - `jsonpath-filter/*`: `matches` for a simple path, a filter (`[?@.price > 20]`), and a
//!   descendant query.
//! - `cloudevent/set-and-template-data`: a rewrite with a JSON template as data.
//!
//! Run (release): `cargo bench -p railyard-rules --bench transform`.
//! Absolute figures drift with the machine's load; the printed events per second are for the
//! run at hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use railyard_rules::{Context, JsonPath, Transform};
use serde_json::{Value, json};

/// A structured CloudEvent of about 1 KiB.
fn event() -> Value {
    let event = json!({
        "specversion": "1.0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "source": "/shop/orders/eu-west-1",
        "type": "com.example.order.created",
        "subject": "order/A-10042",
        "time": "2024-05-01T11:59:59.123Z",
        "datacontenttype": "application/json",
        "tenant": "acme-industries",
        "data": {
            "order": {
                "id": "A-10042",
                "status": "created",
                "customer": {"name": "Ann \"The Hammer\" O'Neil", "email": "ann@example.com", "tier": "gold"},
                "total": 1234.5,
                "currency": "EUR",
                "paid": true,
                "shipping": {"city": "Zürich", "zip": "8001", "street": "Bahnhofstrasse 1", "country": "CH"},
                "note": "leave at the door\nring twice"
            },
            "items": [
                {"sku": "SKU-0001", "name": "hammer", "price": 19.9, "qty": 2},
                {"sku": "SKU-0002", "name": "nails (box of 500)", "price": 7.5, "qty": 4},
                {"sku": "SKU-0003", "name": "workbench", "price": 899.0, "qty": 1},
                {"sku": "SKU-0004", "name": "safety goggles", "price": 24.9, "qty": 3},
                {"sku": "SKU-0005", "name": "tape measure", "price": 12.0, "qty": 1}
            ],
            "channel": "web",
            "campaign": {"id": "spring-sale", "discount": 0.1},
            "metadata": {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "session": "s-8f14e45fceea167a5a36dedd4bea2543"}
        }
    });
    let size = event.to_string().len();
    assert!((900..=1300).contains(&size), "the event is {size} bytes");
    event
}

const CTX: Context<'static> = Context {
    rule_name: "orders-to-billing",
    ingestion_time: "2024-05-01T12:00:00.123Z",
};

fn template(paths: Value, template: &str) -> Transform {
    Transform::parse(&json!({"kind": "template", "paths": paths, "template": template})).unwrap()
}

fn bench(c: &mut Criterion) {
    let event = event();
    let mut g = c.benchmark_group("template");
    g.throughput(Throughput::Elements(1));
    let json5 = template(
        json!({
            "id": "$.data.order.id",
            "customer": "$.data.order.customer.name",
            "total": "$.data.order.total",
            "city": "$.data.order.shipping.city",
            "first": "$.data.items[0].sku",
        }),
        r#"{"order": <id>, "customer": "<customer>", "total": <total>, "ship_to": "<city>", "first_item": <first>}"#,
    );
    g.bench_function("json-5-vars", |b| {
        b.iter(|| json5.apply(black_box(&event), &CTX).unwrap())
    });
    let general5 = template(
        json!({
            "skus": "$.data.items[*].sku",
            "big": "$.data.items[?@.price > 100].name",
            "tier": "$.data.order.customer[?@ == 'gold']",
            "qty": "$.data.items[-1:].qty",
            "ids": "$.data['order','campaign'].id",
        }),
        r#"{"skus": <skus>, "big": "<big>", "tier": <tier>, "qty": <qty>, "ids": <ids>}"#,
    );
    g.bench_function("json-5-vars-general", |b| {
        b.iter(|| general5.apply(black_box(&event), &CTX).unwrap())
    });
    let text5 = template(
        json!({
            "id": "$.data.order.id",
            "customer": "$.data.order.customer.name",
            "total": "$.data.order.total",
            "city": "$.data.order.shipping.city",
            "first": "$.data.items[0].sku",
        }),
        "Order <id> for <customer>: <total> EUR to <city>, first item <first> (<aws.events.rule-name>)",
    );
    g.bench_function("text-5-vars", |b| {
        b.iter(|| text5.apply(black_box(&event), &CTX).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("jsonpath-filter");
    g.throughput(Throughput::Elements(1));
    for (name, path) in [
        ("simple", "$.data.order.customer.tier"),
        ("filter", "$.data.items[?@.price > 20]"),
        ("descendant", "$..discount"),
    ] {
        let path = JsonPath::parse(path).unwrap();
        g.bench_function(name, |b| b.iter(|| path.matches(black_box(&event))));
    }
    g.finish();

    let mut g = c.benchmark_group("cloudevent");
    g.throughput(Throughput::Elements(1));
    let rewrite = Transform::parse(&json!({
        "kind": "cloudevent",
        "set": {"type": "com.example.invoice.requested", "source": "/billing"},
        "data": {"kind": "template", "paths": {"id": "$.data.order.id", "total": "$.data.order.total"},
                 "template": "{\"order\": <id>, \"amount\": <total>}"}
    }))
    .unwrap();
    g.bench_function("set-and-template-data", |b| {
        b.iter(|| rewrite.apply(black_box(&event), &CTX).unwrap())
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
