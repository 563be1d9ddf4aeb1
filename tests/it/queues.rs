//! Internal queues through the real binary: the API, receive/ack/nack/extend semantics, dead
//! letters, and a `kill -9` after which no acknowledged message comes back and every other one
//! does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, client, event, problem};

async fn post(c: &reqwest::Client, url: &str, body: Value) -> Value {
    let r = c.post(url).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "POST {url}: {v}");
    v
}

async fn send(c: &reqwest::Client, base: &str, q: &str, events: Vec<Value>) -> Value {
    let r = c
        .post(format!("{base}/v1/queues/{q}/messages"))
        .header("content-type", "application/cloudevents-batch+json")
        .body(Value::Array(events).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn receive(c: &reqwest::Client, base: &str, q: &str, body: Value) -> Vec<Value> {
    let v = post(c, &format!("{base}/v1/queues/{q}/messages:receive"), body).await;
    v["messages"].as_array().unwrap().clone()
}

fn receipts(msgs: &[Value]) -> Vec<Value> {
    msgs.iter().map(|m| m["receipt"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_resources_and_consumer_calls() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let (c, base) = (client(), srv.url.clone());
    let qurl = format!("{base}/v1/queues/orders");
    let r = c
        .put(&qurl)
        .json(&json!({"visibility_timeout": "1m", "max_receives": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let r = c
        .put(&qurl)
        .json(&json!({"visibility_timeout": "1 fortnight"}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 400, "bad duration").await;
    assert_eq!(p["errors"][0]["pointer"], "/visibility_timeout");
    let r = c
        .put(&qurl)
        .header("if-match", "\"7\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(r, 412, "if-match").await;
    problem(
        c.get(format!("{base}/v1/queues/nope"))
            .send()
            .await
            .unwrap(),
        404,
        "unknown queue",
    )
    .await;
    // Structured, binary and batch sends.
    let r = c
        .post(format!("{qurl}/messages"))
        .header("content-type", "application/cloudevents+json")
        .body(event("e0", json!({"n": 0})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = send(
        &c,
        &base,
        "orders",
        (1..5)
            .map(|n| event(&format!("e{n}"), json!({"n": n})))
            .collect(),
    )
    .await;
    assert_eq!(sent["results"][3]["sequence"], 5);
    let g: Value = c.get(&qurl).send().await.unwrap().json().await.unwrap();
    assert_eq!(g["stats"]["visible"], 5, "{g}");
    assert_eq!(g["visibility_timeout"], "1m");
    // Receive three; the event is the stored CloudEvent.
    let got = receive(&c, &base, "orders", json!({"max": 3})).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["message_id"], "e0");
    assert_eq!(got[0]["event"]["data"]["n"], 0);
    assert_eq!(got[0]["receive_count"], 1);
    let one = receive(&c, &base, "orders", json!({})).await;
    assert_eq!(one.len(), 1, "max defaults to 1");
    // Ack two and a garbage receipt: per-entry answers.
    let mut rs = receipts(&got[..2]);
    rs.push(json!("garbage"));
    let acked = post(&c, &format!("{qurl}/messages:ack"), json!({"receipts": rs})).await;
    assert_eq!(acked["failed"], 1, "{acked}");
    assert_eq!(acked["results"][0]["ok"], true);
    assert_eq!(
        acked["results"][2]["error"]["type"],
        "urn:railyard:problem:invalid-receipt"
    );
    // Nack e2 now: it comes back with receive_count 2. Extend e3.
    let n = post(
        &c,
        &format!("{qurl}/messages:nack"),
        json!({"receipts": receipts(&got[2..])}),
    )
    .await;
    assert_eq!(n["failed"], 0);
    let ex = post(
        &c,
        &format!("{qurl}/messages:extend"),
        json!({"receipts": receipts(&one), "visibility": "5m"}),
    )
    .await;
    assert_eq!(ex["failed"], 0);
    let again = receive(&c, &base, "orders", json!({"max": 10})).await;
    let ids: Vec<&str> = again
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e2", "e4"]);
    assert_eq!(again[0]["receive_count"], 2);
    // The first receipt of e2 is stale now.
    let stale = post(
        &c,
        &format!("{qurl}/messages:ack"),
        json!({"receipts": receipts(&got[2..])}),
    )
    .await;
    assert_eq!(
        stale["results"][0]["error"]["type"],
        "urn:railyard:problem:stale-receipt"
    );
    // Bad consumer calls.
    for (call, body, pointer) in [
        ("receive", json!({"max": 101}), "/max"),
        ("receive", json!({"wait": "21s"}), "/wait"),
        ("receive", json!({"mystery": 1}), "/mystery"),
        ("ack", json!({"receipts": []}), "/receipts"),
        ("extend", json!({"receipts": ["x"]}), "/visibility"),
    ] {
        let r = c
            .post(format!("{qurl}/messages:{call}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(r, 400, call).await;
        assert_eq!(p["errors"][0]["pointer"], pointer, "{p}");
    }
    // A long poll returns as soon as a message is sent.
    let started = Instant::now();
    let poll = {
        let (c, base) = (c.clone(), base.clone());
        tokio::spawn(async move {
            receive(&c, &base, "orders", json!({"wait": "20s", "max": 10})).await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&c, &base, "orders", vec![event("late", json!({}))]).await;
    let got = poll.await.unwrap();
    assert_eq!(got[0]["message_id"], "late");
    assert!(started.elapsed() < Duration::from_secs(15));
    // A queue that is another's dead-letter queue cannot be deleted.
    let r = c
        .put(format!("{base}/v1/queues/dlq"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .put(&qurl)
        .json(&json!({"dead_letter": {"kind": "queue", "queue": "dlq"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    problem(
        c.delete(format!("{base}/v1/queues/dlq"))
            .send()
            .await
            .unwrap(),
        409,
        "dlq in use",
    )
    .await;
    let list: Value = c
        .get(format!("{base}/v1/queues"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["queues"].as_array().unwrap().len(), 2);
    let r = c.delete(&qurl).send().await.unwrap();
    assert_eq!(r.status(), 204);
    problem(
        c.post(format!("{qurl}/messages:receive"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        404,
        "deleted",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_receives_moves_to_dead_letters_and_redrive_brings_back() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let (c, base) = (client(), srv.url.clone());
    let qurl = format!("{base}/v1/queues/poison");
    c.put(&qurl)
        .json(&json!({"visibility_timeout": "0s", "max_receives": 2}))
        .send()
        .await
        .unwrap();
    send(&c, &base, "poison", vec![event("p", json!({"bad": true}))]).await;
    for n in 1..=2 {
        let got = receive(&c, &base, "poison", json!({})).await;
        assert_eq!(got[0]["receive_count"], n);
    }
    assert!(receive(&c, &base, "poison", json!({})).await.is_empty());
    let dl: Value = c
        .get(format!("{qurl}/dead-letters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = dl["dead_letters"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dl}");
    assert_eq!(items[0]["message_id"], "p");
    assert_eq!(items[0]["receive_count"], 2);
    assert_eq!(items[0]["event"]["data"]["bad"], true);
    let g: Value = c.get(&qurl).send().await.unwrap().json().await.unwrap();
    assert_eq!(g["stats"]["dead"], 1);
    let r = post(&c, &format!("{qurl}/dead-letters:redrive"), json!({})).await;
    assert_eq!(r["redriven"], 1);
    let got = receive(&c, &base, "poison", json!({})).await;
    assert_eq!(got[0]["receive_count"], 1);
    receive(&c, &base, "poison", json!({})).await;
    assert!(receive(&c, &base, "poison", json!({})).await.is_empty());
    let r: Value = c
        .delete(format!("{qurl}/dead-letters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["purged"], 1);
    let g: Value = c.get(&qurl).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        g["stats"],
        json!({"visible": 0, "in_flight": 0, "delayed": 0, "dead": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_loses_no_ack_and_redelivers_every_unacked_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut srv = Server::start(&data, &[]);
    let (c, base) = (client(), srv.url.clone());
    c.put(format!("{base}/v1/queues/work"))
        .json(&json!({"visibility_timeout": "2s"}))
        .send()
        .await
        .unwrap();
    const N: usize = 1000;
    for b in 0..10 {
        let evs = (b * 100..(b + 1) * 100)
            .map(|n| event(&format!("m{n}"), json!({"n": n})))
            .collect();
        send(&c, &base, "work", evs).await;
    }
    // Receive all 1,000 (visibility 10 s) and ack half, from 4 consumers.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, base) = (c.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut unacked) = (Vec::new(), Vec::new());
            loop {
                let got = receive(&c, &base, "work", json!({"max": 50, "visibility": "10s"})).await;
                if got.is_empty() {
                    return (acked, unacked);
                }
                let (ack, keep): (Vec<Value>, Vec<Value>) = got
                    .into_iter()
                    .partition(|m| m["sequence"].as_u64().unwrap() % 2 == 0);
                if !ack.is_empty() {
                    let r = post(
                        &c,
                        &format!("{base}/v1/queues/work/messages:ack"),
                        json!({"receipts": receipts(&ack)}),
                    )
                    .await;
                    assert_eq!(r["failed"], 0, "{r}");
                }
                acked.extend(
                    ack.iter()
                        .map(|m| m["message_id"].as_str().unwrap().to_owned()),
                );
                unacked.extend(
                    keep.iter()
                        .map(|m| m["message_id"].as_str().unwrap().to_owned()),
                );
            }
        }));
    }
    let (mut acked, mut unacked) = (BTreeSet::new(), BTreeSet::new());
    for t in tasks {
        let (a, u) = t.await.unwrap();
        acked.extend(a);
        unacked.extend(u);
    }
    assert_eq!(acked.len() + unacked.len(), N);
    assert_eq!(acked.len(), N / 2);
    // Receives not followed by an ack are written within 100 ms (the journal's flush interval).
    tokio::time::sleep(Duration::from_millis(500)).await;
    srv.kill9();
    let srv = Server::start(&data, &[]);
    let base = srv.url.clone();
    // Every unacked message comes back once its visibility timeout has passed (the deadline
    // recorded before the crash holds after it), with its receive count 2.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut again: BTreeMap<String, u64> = BTreeMap::new();
    while again.len() < unacked.len() && Instant::now() < deadline {
        let got = receive(
            &c,
            &base,
            "work",
            json!({"max": 100, "wait": "5s", "visibility": "5m"}),
        )
        .await;
        for m in got {
            let id = m["message_id"].as_str().unwrap().to_owned();
            assert!(!acked.contains(&id), "acknowledged {id} came back");
            again.insert(id, m["receive_count"].as_u64().unwrap());
        }
    }
    let missing: Vec<&String> = unacked
        .iter()
        .filter(|id| !again.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} unacked never came back: {missing:?}",
        missing.len()
    );
    assert!(
        again.values().all(|n| *n == 2),
        "receive counts survived the crash"
    );
    // Nothing else is left.
    assert!(
        receive(&c, &base, "work", json!({"max": 100}))
            .await
            .is_empty()
    );
}

/// The `queue` target kind: a rule sends matching events (transformed per the target) to a
/// queue, where a consumer receives and acknowledges them; a rule naming a missing queue is
/// refused, and a queue a rule sends to cannot be deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_send_matching_events_to_a_queue() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(&dir.path().join("data"), &[]);
    let (c, base) = (client(), srv.url.clone());
    let r = c
        .put(format!("{base}/v1/buses/default/rules/to-orders"))
        .json(&json!({"filter": {"pattern": {"type": ["com.acme.order"]}},
            "targets": [{"id": "q", "kind": "queue", "queue": "orders"}]}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 400, "unknown queue").await;
    assert_eq!(p["errors"][0]["pointer"], "/targets/0/queue");

    c.put(format!("{base}/v1/queues/orders"))
        .json(&json!({"visibility_timeout": "30s"}))
        .send()
        .await
        .unwrap();
    // Every order as it is to one queue; a second rule sends the big ones, reshaped, to another.
    let r = c
        .put(format!("{base}/v1/buses/default/rules/to-orders"))
        .json(&json!({"filter": {"pattern": {"type": ["com.acme.order"]}},
            "targets": [{"id": "q", "kind": "queue", "queue": "orders"}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    c.put(format!("{base}/v1/queues/big"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let r = c
        .put(format!("{base}/v1/buses/default/rules/big"))
        .json(&json!({"filter": {"pattern": {"type": ["com.acme.order"], "data": {"total": [{"numeric": [">", 100]}]}}},
            "targets": [{"id": "q", "kind": "queue", "queue": "big",
                "transform": {"kind": "cloudevent", "set": {"type": "com.acme.big-order"},
                    "data": {"kind": "jsonpath", "path": "$.data.total"}}}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let mut events = Vec::new();
    for i in 0..50 {
        let mut e = event(&format!("o-{i}"), json!({"total": i * 5}));
        e["type"] = json!("com.acme.order");
        events.push(e);
    }
    let mut other = event("noise", json!({"total": 1000}));
    other["type"] = json!("com.acme.refund");
    events.push(other);
    let r = c
        .post(format!("{base}/v1/buses/default/events"))
        .header("content-type", "application/cloudevents-batch+json")
        .body(Value::Array(events).to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // Every order arrives once, as the CloudEvent it was; acknowledged, it is gone.
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 50 && Instant::now() < deadline {
        let got = receive(&c, &base, "orders", json!({"max": 10, "wait": "1s"})).await;
        for m in &got {
            assert_eq!(m["event"]["type"], "com.acme.order", "{m}");
            assert_eq!(m["event"]["source"], "/it", "{m}");
            let id = m["event"]["id"].as_str().unwrap().to_owned();
            assert!(seen.insert(id.clone()), "{id} received twice");
        }
        if !got.is_empty() {
            let acked = post(
                &c,
                &format!("{base}/v1/queues/orders/messages:ack"),
                json!({"receipts": receipts(&got)}),
            )
            .await;
            assert_eq!(acked["failed"], 0, "{acked}");
        }
    }
    assert_eq!(seen.len(), 50, "orders received: {seen:?}");
    assert!(!seen.contains("noise"));
    // The big orders (total > 100: 29 of them), transformed by their target.
    let mut totals = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while totals.len() < 29 && Instant::now() < deadline {
        let got = receive(&c, &base, "big", json!({"max": 10, "wait": "1s"})).await;
        for m in &got {
            assert_eq!(m["event"]["type"], "com.acme.big-order", "{m}");
            totals.push(m["event"]["data"].as_i64().unwrap());
        }
        if !got.is_empty() {
            post(
                &c,
                &format!("{base}/v1/queues/big/messages:ack"),
                json!({"receipts": receipts(&got)}),
            )
            .await;
        }
    }
    totals.sort_unstable();
    assert_eq!(totals, (21..50).map(|i| i * 5).collect::<Vec<i64>>());
    let g: Value = c
        .get(format!("{base}/v1/queues/orders"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        g["stats"],
        json!({"visible": 0, "in_flight": 0, "delayed": 0, "dead": 0})
    );

    // A queue a rule sends to cannot be deleted; once the rule is gone it can.
    let r = c
        .delete(format!("{base}/v1/queues/orders"))
        .send()
        .await
        .unwrap();
    let p = problem(r, 409, "queue in use").await;
    assert_eq!(p["rules"], json!(["default/to-orders"]));
    let r = c
        .delete(format!("{base}/v1/buses/default/rules/to-orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .delete(format!("{base}/v1/queues/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}
