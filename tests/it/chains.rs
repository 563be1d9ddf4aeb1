//! Events that travel on inside the server: `bus` targets forward a (transformed) event to
//! another bus, where that bus's rules deliver it; a cycle of forwarding rules ends at the hop
//! limit, in the dead letters, with a trace that says why.

use std::time::Duration;

use serde_json::{Value, json};

use crate::delivery::{ev, poll_json, post_batch, put_json, rule};
use crate::harness::{Server, client, get_json, problem};
use crate::receiver::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_targets_forward_and_a_cycle_stops_at_the_hop_limit() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(&d.path().join("data"), &[]);
    let c = client();
    let rx = Receiver::start().await;
    for b in ["orders", "audit", "ping", "pong"] {
        put_json(&c, &format!("{}/v1/buses/{b}", srv.url), &json!({})).await;
    }
    // A target naming a bus that does not exist is refused when the rule is saved.
    let r = c
        .put(format!("{}/v1/buses/orders/rules/bad", srv.url))
        .json(&json!({"filter": {"pattern": {"type": ["x"]}},
            "targets": [{"id": "b", "kind": "bus", "bus": "nowhere"}]}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 400, "unknown bus").await;
    assert_eq!(p["errors"][0]["pointer"], "/targets/0/bus");

    // orders → audit (transformed: the data becomes the total), audit → the receiver.
    rule(
        &c,
        &srv,
        "orders",
        "to-audit",
        "com.acme.order",
        json!([{"id": "fwd", "kind": "bus", "bus": "audit",
                "transform": {"kind": "jsonpath", "path": "$.data.n"}}]),
    )
    .await;
    rule(
        &c,
        &srv,
        "audit",
        "deliver",
        "com.acme.order",
        json!([{"id": "out", "kind": "http", "url": rx.url("/audit"), "mode": "structured"}]),
    )
    .await;
    let seqs = post_batch(
        &c,
        &srv,
        "orders",
        &[ev("o-1", "com.acme.order", json!({}))],
    )
    .await;
    rx.wait_for(Duration::from_secs(20), "the forwarded event", |r| {
        r.count() >= 1
    })
    .await;
    let got: Value = serde_json::from_slice(&rx.got()[0].body).unwrap();
    assert_eq!(got["id"], "o-1", "the forwarded event keeps its id: {got}");
    assert_eq!(got["data"], "o-1", "transformed on the way: {got}");
    assert_eq!(got["railyardhops"], 1, "{got}");
    // The first bus's trace says where it went.
    let t = poll_json(
        &c,
        &format!("{}/v1/buses/orders/events/{}/trace", srv.url, seqs[0]),
        |v| v.to_string().contains("delivered"),
    )
    .await;
    assert!(
        t.to_string().contains("appended to bus \\\"audit\\\""),
        "{t}"
    );
    // A bus another bus forwards to cannot be deleted.
    let r = c
        .delete(format!("{}/v1/buses/audit", srv.url))
        .send()
        .await
        .unwrap();
    problem(r, 409, "forwarded to").await;

    // ping ⇄ pong: each forwards every event to the other. The event goes round until the
    // hop limit (16 by default; 3 here), then lands in the dead letters of the rule that
    // refused to forward it.
    for (from, to) in [("ping", "pong"), ("pong", "ping")] {
        rule(
            &c,
            &srv,
            from,
            "bounce",
            "com.acme.ball",
            json!([{"id": "b", "kind": "bus", "bus": to, "max_hops": 3}]),
        )
        .await;
    }
    post_batch(&c, &srv, "ping", &[ev("ball", "com.acme.ball", json!({}))]).await;
    // ping (0) → pong (1) → ping (2) → pong (3): pong's rule refuses the 4th forward.
    let dl = poll_json(
        &c,
        &format!(
            "{}/v1/buses/pong/rules/bounce/targets/b/dead-letters",
            srv.url
        ),
        |v| v["dead_letters"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let letter = &dl["dead_letters"][0];
    let text = letter.to_string();
    assert!(
        text.contains("max_hops 3") && text.contains("cycle"),
        "{letter}"
    );
    let ping = get_json(&c, &format!("{}/v1/buses/ping", srv.url)).await;
    let pong = get_json(&c, &format!("{}/v1/buses/pong", srv.url)).await;
    let stored = |b: &Value| b["stats"]["next_sequence"].as_u64().unwrap() - 1;
    assert_eq!((stored(&ping), stored(&pong)), (2, 2), "{ping} {pong}");
}
