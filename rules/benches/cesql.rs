//! Criterion benchmarks of CESQL evaluation on an already-parsed structured-JSON event of about
//! 1 KiB (a `serde_json::Value`, as the dispatcher holds it):
//! - `three_clauses`: `type = … AND source LIKE '…%' AND myint > 5`, matching (all three
//!   clauses run);
//! - `with_function`: the same with `LOWER(type)` and `LENGTH(subject)`, matching;
//! - `early_exit`: the first clause fails, so `AND` short-circuits;
//! - `missing_attribute`: a clause reads an absent extension (the error path, which allocates
//!   its error);
//! - `parse`: compiling the three-clause expression, for scale.
//!
//! Throughput is reported in evaluations per second. Run (release, one core):
//! `cargo bench -p railyard-rules --bench cesql`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use railyard_rules::cesql::Expression;
use serde_json::{Value, json};

const THREE: &str =
    "type = 'com.example.order.created' AND source LIKE '//svc/shop/%' AND myint > 5";
const WITH_FUNCTION: &str = "LOWER(type) = 'com.example.order.created' \
     AND source LIKE '//svc/shop/%' AND LENGTH(subject) > 5";
const EARLY_EXIT: &str =
    "type = 'com.example.order.shipped' AND source LIKE '//svc/shop/%' AND myint > 5";
const MISSING: &str = "type = 'com.example.order.created' AND myext = 'x'";

/// A structured CloudEvent of about 1 KiB: the required attributes, the usual optional ones, a
/// few extensions and an order in `data`.
fn event() -> Value {
    let event = json!({
        "specversion": "1.0",
        "id": "b6c3a0f4-6c1e-4f0e-9d8e-1b2a3c4d5e6f",
        "source": "//svc/shop/eu-west-1/orders",
        "type": "com.example.order.created",
        "subject": "orders/2024/000042",
        "time": "2024-06-13T10:15:30.123Z",
        "datacontenttype": "application/json",
        "dataschema": "https://schemas.example.com/order/created/v3.json",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "partitionkey": "customer-7731",
        "myint": 17,
        "mybool": true,
        "tenant": "acme-europe",
        "region": "eu-west-1",
        "correlationid": "c0ffee00-1234-5678-9abc-def012345678",
        "data": {
            "order": {
                "id": "ord-000042",
                "total": 129.95,
                "currency": "EUR",
                "customer": {"id": "customer-7731", "tier": "gold", "country": "DE"},
                "items": [
                    {"sku": "SKU-1001", "qty": 2, "price": 19.99, "name": "Coffee beans, 1 kg"},
                    {"sku": "SKU-2002", "qty": 1, "price": 89.97, "name": "Hand grinder"},
                    {"sku": "SKU-3003", "qty": 1, "price": 0.0, "name": "Free sample"},
                ],
                "shipping": {"method": "express", "address": {"city": "Berlin", "zip": "10115"}},
                "notes": "Leave at the door if nobody answers; ring twice please, thank you!"
            }
        }
    });
    let size = serde_json::to_vec(&event).expect("serialise").len();
    assert!((950..1200).contains(&size), "the event is {size} bytes");
    event
}

fn bench(c: &mut Criterion) {
    let event = event();
    let mut g = c.benchmark_group("cesql");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    for (name, text, expected) in [
        ("three_clauses", THREE, true),
        ("with_function", WITH_FUNCTION, true),
        ("early_exit", EARLY_EXIT, false),
        ("missing_attribute", MISSING, false),
    ] {
        let expr = Expression::parse(text).expect("compiles");
        assert_eq!(expr.matches(&event).0, expected, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| expr.matches(black_box(&event)).0);
        });
    }
    g.bench_function("parse", |b| {
        b.iter(|| Expression::parse(black_box(THREE)).is_ok());
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
