//! Crash test: the real server under ingest from 32 concurrent clients is killed with SIGKILL at
//! a random moment, ten times in a row on one data directory. After every restart each event
//! whose 202 was received must be readable at its sequence with identical content, and the
//! sequences must be dense.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::harness::{Server, client, event};

const CLIENTS: usize = 32;
const ROUNDS: usize = 10;
const FLAGS: &[&str] = &[
    "--segment-size",
    "1MiB",
    "--max-batch-size",
    "256KiB",
    "--max-event-size",
    "64KiB",
];

type Acked = Arc<Mutex<Vec<(u64, Value)>>>;

/// One client: sends until the server goes away, recording what was acknowledged.
async fn produce(url: String, client_no: usize, round: usize, seed: u64, acked: Acked) {
    let c = client();
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0.. {
        let id = |k: usize| format!("r{round}-c{client_no}-n{n}-{k}");
        let data =
            json!({ "client": client_no, "n": n, "pad": "p".repeat(rng.random_range(10..600)) });
        let (req, sent) = match rng.random_range(0..3) {
            0 => {
                let ev = event(&id(0), data);
                let req = c
                    .post(&url)
                    .header("content-type", "application/cloudevents+json")
                    .body(ev.to_string());
                (req, vec![ev])
            }
            1 => {
                let req = c
                    .post(&url)
                    .header("ce-specversion", "1.0")
                    .header("ce-id", id(0))
                    .header("ce-source", "/crash")
                    .header("ce-type", "binary")
                    .header("ce-traceid", format!("t%20{n}"))
                    .header("content-type", "application/json")
                    .body(data.to_string());
                let ev = json!({
                    "specversion": "1.0", "id": id(0), "source": "/crash", "type": "binary",
                    "datacontenttype": "application/json", "traceid": format!("t {n}"), "data": data,
                });
                (req, vec![ev])
            }
            _ => {
                let evs: Vec<Value> = (0..rng.random_range(2..20))
                    .map(|k| event(&id(k), json!({"k": k, "n": n})))
                    .collect();
                let req = c
                    .post(&url)
                    .header("content-type", "application/cloudevents-batch+json")
                    .body(Value::Array(evs.clone()).to_string());
                (req, evs)
            }
        };
        let Ok(resp) = req.send().await else { return };
        if resp.status() != 202 {
            panic!("unexpected status {}", resp.status());
        }
        let Ok(body) = resp.json::<Value>().await else {
            return;
        };
        let results = body["results"].as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), sent.len(), "{body}");
        let mut a = acked.lock().unwrap();
        for (r, ev) in results.iter().zip(sent) {
            assert_eq!(r["id"], ev["id"]);
            a.push((r["sequence"].as_u64().expect("sequence"), ev));
        }
    }
}

/// Reads the whole bus and checks density and every acknowledged event.
async fn check(url: &str, acked: &BTreeMap<u64, Value>) -> u64 {
    let c = client();
    let mut after = 0u64;
    let mut stored = BTreeMap::new();
    loop {
        let page: Value = c
            .get(format!("{url}?after={after}&limit=1000"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            break;
        }
        for e in events {
            let seq = e["sequence"].as_u64().expect("seq");
            assert_eq!(seq, after + 1, "sequences must be dense");
            after = seq;
            stored.insert(seq, e["event"].clone());
        }
    }
    for (seq, ev) in acked {
        match stored.get(seq) {
            Some(got) => assert_eq!(got, ev, "acked event at {seq} changed"),
            None => panic!("acked event at sequence {seq} lost (stored up to {after})"),
        }
    }
    after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_never_loses_an_acknowledged_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let seed: u64 = rand::random();
    println!("crash test seed {seed:#x}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acked: BTreeMap<u64, Value> = BTreeMap::new();
    for round in 0..ROUNDS {
        let mut srv = Server::start(&data, FLAGS);
        let url = srv.events_url("default");
        let stored = check(&url, &acked).await;
        assert!(stored >= acked.keys().next_back().copied().unwrap_or(0));
        let round_acked: Acked = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|k| {
                tokio::spawn(produce(
                    url.clone(),
                    k,
                    round,
                    rng.random(),
                    round_acked.clone(),
                ))
            })
            .collect();
        let started = Instant::now();
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..1500))).await;
        srv.kill9();
        for t in tasks {
            t.await.expect("client panicked");
        }
        let new = std::mem::take(&mut *round_acked.lock().unwrap());
        println!(
            "round {round}: killed after {:?}, {} events acknowledged",
            started.elapsed(),
            new.len()
        );
        for (seq, ev) in new {
            assert!(
                acked.insert(seq, ev).is_none(),
                "sequence {seq} acknowledged twice"
            );
        }
    }
    let srv = Server::start(&data, FLAGS);
    let stored = check(&srv.events_url("default"), &acked).await;
    assert!(
        acked.len() > 1000,
        "the test should acknowledge plenty of events ({})",
        acked.len()
    );
    println!(
        "{} acknowledged events all present; {stored} stored",
        acked.len()
    );
}

/// Delivery through crashes: 50,000 events reach a real receiver while the server is killed with
/// SIGKILL five times mid-delivery (10,000 more events ingested before each kill); after the
/// last restart every event must have reached the receiver at least once. Duplicates (what the
/// last checkpoint before each kill did not cover) are counted and printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_delivery_loses_no_event() {
    use crate::delivery::{ev, post_batch, rule};
    use crate::receiver::Receiver;

    const TOTAL: usize = 50_000;
    const KILLS: usize = 5;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = client();
    let rx = Receiver::start().await;
    // A receiver that takes 2 ms per request, at most 8 at once: delivery (≤ 4,000/s) is
    // still running when each kill comes.
    rx.set_delay(Duration::from_millis(2));
    let mut srv = Server::start(&data, &[]);
    rule(
        &c,
        &srv,
        "default",
        "crash",
        "t.crash",
        json!([{"id": "t", "kind": "http", "url": rx.url("/"), "mode": "structured", "max_in_flight": 8}]),
    )
    .await;
    let per_round = TOTAL / KILLS;
    let mut rng = StdRng::seed_from_u64(5);
    for round in 0..KILLS {
        for chunk in 0..per_round / 500 {
            let events: Vec<Value> = (0..500)
                .map(|i| ev(&format!("k{round}-{chunk}-{i}"), "t.crash", json!({})))
                .collect();
            post_batch(&c, &srv, "default", &events).await;
        }
        // Kill mid-delivery: once some of this round's events arrived, after a random pause.
        let before = rx.delivered();
        rx.wait_for(Duration::from_secs(60), "deliveries to start", |r| {
            r.delivered() > before + 500
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        srv.kill9();
        let at_kill = rx.delivered();
        assert!(
            at_kill < (round + 1) * per_round,
            "round {round}: the kill came after delivery finished; nothing was tested"
        );
        srv = Server::start(&data, &[]);
    }
    rx.wait_for(Duration::from_secs(180), "every event delivered", |r| {
        r.delivered() == TOTAL
    })
    .await;
    let requests = rx.shared.ok_ids.lock().unwrap().values().sum::<usize>();
    eprintln!(
        "delivery through {KILLS} kills: {TOTAL} events, {requests} deliveries, {} duplicates ({:.2}%)",
        requests - TOTAL,
        (requests - TOTAL) as f64 * 100.0 / TOTAL as f64
    );
    srv.terminate();
}
