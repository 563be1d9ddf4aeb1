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

/// The `ce-type` of a request the receiver got.
fn ce_type(g: &crate::receiver::Got) -> String {
    g.header("ce-type").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_replies_chain_to_another_bus_and_a_reply_cycle_stops_at_the_hop_limit() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(&d.path().join("data"), &[]);
    let c = client();
    let rx = Receiver::start().await;
    // The HTTP "function": answers an order with a binary-mode CloudEvent reply, and a loop
    // event with another loop event (a cycle through the function and its own bus).
    rx.answer(|g, n| match ce_type(g).as_str() {
        "com.acme.order" => (
            200,
            vec![
                ("ce-specversion", "1.0".into()),
                ("ce-id", format!("reply-{}", g.id().unwrap_or_default())),
                ("ce-source", "/fn/pricing".into()),
                ("ce-type", "com.acme.priced".into()),
            ],
        ),
        "com.acme.loop" => (
            200,
            vec![
                ("ce-specversion", "1.0".into()),
                ("ce-id", format!("loop-{n}")),
                ("ce-source", "/fn/loop".into()),
                ("ce-type", "com.acme.loop".into()),
            ],
        ),
        _ => (200, vec![]),
    });
    for b in ["orders", "priced", "loop"] {
        put_json(&c, &format!("{}/v1/buses/{b}", srv.url), &json!({})).await;
    }
    // A reply bus that does not exist is refused when the rule is saved.
    let r = c
        .put(format!("{}/v1/buses/orders/rules/bad", srv.url))
        .json(&json!({"filter": {"pattern": {"type": ["x"]}},
            "targets": [{"id": "f", "kind": "function", "runtime": "http", "url": rx.url("/fn"),
                         "reply": {"bus": "nowhere"}}]}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 400, "unknown reply bus").await;
    assert_eq!(p["errors"][0]["pointer"], "/targets/0/reply/bus");

    rule(
        &c,
        &srv,
        "orders",
        "price",
        "com.acme.order",
        json!([{"id": "fn", "kind": "function", "runtime": "http", "url": rx.url("/fn"),
                "reply": {"bus": "priced"}}]),
    )
    .await;
    rule(
        &c,
        &srv,
        "priced",
        "notify",
        "com.acme.priced",
        json!([{"id": "out", "kind": "http", "url": rx.url("/out")}]),
    )
    .await;
    let seqs = post_batch(
        &c,
        &srv,
        "orders",
        &[ev("o-7", "com.acme.order", json!({}))],
    )
    .await;
    rx.wait_for(Duration::from_secs(20), "the reply delivered", |r| {
        r.got().iter().any(|g| ce_type(g) == "com.acme.priced")
    })
    .await;
    let out = rx
        .got()
        .into_iter()
        .find(|g| ce_type(g) == "com.acme.priced")
        .unwrap();
    assert_eq!(out.id().as_deref(), Some("reply-o-7"));
    assert_eq!(out.header("ce-railyardhops").as_deref(), Some("1"));
    let t = poll_json(
        &c,
        &format!("{}/v1/buses/orders/events/{}/trace", srv.url, seqs[0]),
        |v| v.to_string().contains("delivered"),
    )
    .await;
    assert!(
        t.to_string()
            .contains("reply \\\"reply-o-7\\\" appended to bus \\\"priced\\\""),
        "{t}"
    );

    // loop → function → reply on loop → function → …: stopped at 16 hops, before invoking.
    rule(
        &c,
        &srv,
        "loop",
        "spin",
        "com.acme.loop",
        json!([{"id": "fn", "kind": "function", "runtime": "http", "url": rx.url("/fn"),
                "reply": {"bus": "loop"}}]),
    )
    .await;
    post_batch(&c, &srv, "loop", &[ev("l-0", "com.acme.loop", json!({}))]).await;
    let dl = poll_json(
        &c,
        &format!(
            "{}/v1/buses/loop/rules/spin/targets/fn/dead-letters",
            srv.url
        ),
        |v| v["dead_letters"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let letter = dl["dead_letters"][0].to_string();
    assert!(
        letter.contains("max_hops 16") && letter.contains("cycle"),
        "{letter}"
    );
    let invoked = rx
        .got()
        .iter()
        .filter(|g| ce_type(g) == "com.acme.loop")
        .count();
    assert_eq!(invoked, 16, "invoked for hops 0 to 15, not for the 16th");
    let lp = get_json(&c, &format!("{}/v1/buses/loop", srv.url)).await;
    assert_eq!(lp["stats"]["next_sequence"].as_u64().unwrap() - 1, 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_function_replies_with_plain_output_and_failures_are_dead_lettered() {
    let d = tempfile::tempdir().unwrap();
    let srv = Server::start(&d.path().join("data"), &[]);
    let c = client();
    let rx = Receiver::start().await;
    for b in ["jobs", "results"] {
        put_json(&c, &format!("{}/v1/buses/{b}", srv.url), &json!({})).await;
    }
    // Reads the event on stdin, prints its data doubled: plain output, wrapped into a reply.
    let script = "import json,sys; e=json.load(sys.stdin); print(json.dumps({'double': e['data']['n'] * 2}))";
    rule(
        &c,
        &srv,
        "jobs",
        "run",
        "com.acme.job",
        json!([{"id": "py", "kind": "function", "runtime": "command",
                "command": ["python3", "-c", script], "reply": {"bus": "results"}},
               {"id": "fails", "kind": "function", "runtime": "command",
                "command": ["sh", "-c", "echo broken >&2; exit 3"],
                "retry": {"max_attempts": 2}}]),
    )
    .await;
    rule(
        &c,
        &srv,
        "results",
        "out",
        "com.railyard.function.reply",
        json!([{"id": "out", "kind": "http", "url": rx.url("/out"), "mode": "structured"}]),
    )
    .await;
    let mut e = ev("j-1", "com.acme.job", json!({}));
    e["data"] = json!({"n": 21});
    post_batch(&c, &srv, "jobs", &[e]).await;
    rx.wait_for(Duration::from_secs(30), "the command's reply", |r| {
        r.count() >= 1
    })
    .await;
    let got: Value = serde_json::from_slice(&rx.got()[0].body).unwrap();
    assert_eq!(got["data"], json!({"double": 42}), "{got}");
    assert_eq!(got["source"], "/functions/run/py");
    // Exit 3: retried once, then a dead letter that keeps the exit code and stderr.
    let dl = poll_json(
        &c,
        &format!(
            "{}/v1/buses/jobs/rules/run/targets/fails/dead-letters",
            srv.url
        ),
        |v| v["dead_letters"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let letter = dl["dead_letters"][0].to_string();
    assert!(
        letter.contains('3') && letter.contains("broken"),
        "{letter}"
    );
}
