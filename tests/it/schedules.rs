//! Schedules through the real binary, driven by its manual clock (`--manual-clock`, moved with
//! `PUT /v1/_clock`): no test sleeps until a firing time. A rate fires at its planned instants;
//! a cron in Europe/Berlin fires at the right instants across both 2026 daylight-saving
//! changes; kill -9 and restart across firing times, and crashes at the two worst moments of a
//! firing (failpoints before and after its append), neither lose nor duplicate a firing under
//! each catch-up policy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, client, get_json, problem};

struct Sched {
    srv: Server,
    c: reqwest::Client,
}

impl Sched {
    async fn start(data: &std::path::Path, clock: &str, env: &[(&str, &str)]) -> Sched {
        let srv = Server::start_env(data, &["--manual-clock", clock], env);
        Sched { srv, c: client() }
    }

    async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.c
            .put(format!("{}{path}", self.srv.url))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn clock(&self, at: &str) {
        let r = self.put("/v1/_clock", json!({ "now": at })).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn events(&self, bus: &str) -> Vec<Value> {
        let b = get_json(
            &self.c,
            &format!("{}/v1/buses/{bus}/events?limit=1000", self.srv.url),
        )
        .await;
        b["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].clone())
            .collect()
    }

    /// Waits until `bus` holds `n` events (the runner is asynchronous), then returns them.
    async fn wait(&self, bus: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let evs = self.events(bus).await;
            if evs.len() >= n {
                assert_eq!(evs.len(), n, "more events than expected: {evs:#?}");
                return evs;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {n} events, have {evs:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn schedule(&self, name: &str) -> Value {
        get_json(&self.c, &format!("{}/v1/schedules/{name}", self.srv.url)).await
    }
}

/// The planned times of the events of each schedule, by the `schedule` extension.
fn by_schedule(evs: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in evs {
        m.entry(e["schedule"].as_str().unwrap().to_owned())
            .or_default()
            .push(e["time"].as_str().unwrap().to_owned());
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_fires_at_its_planned_instants() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sched::start(&dir.path().join("data"), "2026-03-28T12:00:00Z", &[]).await;
    assert_eq!(s.put("/v1/buses/timers", json!({})).await.status(), 201);
    // Validation names the member.
    for (body, pointer) in [
        (
            json!({"bus": "timers", "rate": "5m", "cron": "0 * * * * *", "event": {"type": "t", "source": "/s"}}),
            "",
        ),
        (
            json!({"bus": "timers", "rate": "soon", "event": {"type": "t", "source": "/s"}}),
            "/rate",
        ),
        (
            json!({"bus": "timers", "cron": "0 61 * * * *", "event": {"type": "t", "source": "/s"}}),
            "/cron",
        ),
        (
            json!({"bus": "timers", "cron": "0 0 * * * *", "timezone": "Mars/Olympus", "event": {"type": "t", "source": "/s"}}),
            "/timezone",
        ),
        (
            json!({"bus": "timers", "at": "tomorrow", "event": {"type": "t", "source": "/s"}}),
            "/at",
        ),
        (
            json!({"bus": "nope", "rate": "5m", "event": {"type": "t", "source": "/s"}}),
            "/bus",
        ),
        (
            json!({"bus": "timers", "rate": "5m", "catch_up": "some", "event": {"type": "t", "source": "/s"}}),
            "/catch_up",
        ),
    ] {
        let r = s.put("/v1/schedules/bad", body.clone()).await;
        let p = problem(r, 400, &body.to_string()).await;
        let got = p["errors"][0]["pointer"].as_str().unwrap();
        assert!(got.starts_with(pointer), "{body}: {p}");
    }
    let r = s
        .put(
            "/v1/schedules/every-5m",
            json!({"bus": "timers", "rate": "5m",
                "event": {"type": "com.acme.tick", "source": "/acme/timers", "data": {"n": 1}}}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let got = s.schedule("every-5m").await;
    assert_eq!(got["next_firing"], "2026-03-28T12:05:00Z", "{got}");
    for (k, at) in ["12:05:00", "12:10:00", "12:15:00"].iter().enumerate() {
        // Just before: nothing new; at the instant: one event, stamped with it.
        s.clock(&format!("2026-03-28T{at}Z")).await;
        let evs = s.wait("timers", k + 1).await;
        let ev = &evs[k];
        assert_eq!(ev["time"], format!("2026-03-28T{at}Z"), "{ev}");
        assert_eq!(ev["type"], "com.acme.tick");
        assert_eq!(ev["source"], "/acme/timers");
        assert_eq!(ev["data"], json!({"n": 1}));
    }
    let evs = s.events("timers").await;
    let ids: std::collections::BTreeSet<String> = evs
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "one id per firing");
    let got = s.schedule("every-5m").await;
    assert_eq!(got["last_fired"], "2026-03-28T12:15:00Z", "{got}");
    assert_eq!(got["next_firing"], "2026-03-28T12:20:00Z", "{got}");
    // The bus it emits to cannot be deleted from under it.
    let r =
        s.c.delete(format!("{}/v1/buses/timers", s.srv.url))
            .send()
            .await
            .unwrap();
    problem(r, 409, "bus in use").await;

    // A one-time schedule fires once and deletes itself.
    let r = s
        .put(
            "/v1/schedules/once",
            json!({"bus": "timers", "at": "2026-03-28T13:00:00Z", "delete_after_firing": true,
                "event": {"type": "com.acme.once", "source": "/acme/timers"}}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    s.clock("2026-03-28T13:00:00Z").await;
    // every-5m fires 13:00 (catch_up last: the missed 12:20 to 12:55 are dropped) and once
    // fires: 3 + 2.
    let evs = s.wait("timers", 5).await;
    let m = by_schedule(&evs);
    assert_eq!(m["once"], vec!["2026-03-28T13:00:00Z"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.schedule("once").await["status"] != 404 {
        assert!(
            Instant::now() < deadline,
            "the one-time schedule was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Walks a schedule's firings by its `next_firing`: moves the clock there and waits for the
/// event each time; returns the instants.
async fn walk(s: &Sched, name: &str, bus: &str, steps: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..steps {
        let n = s.events(bus).await.len();
        let next = s.schedule(name).await["next_firing"]
            .as_str()
            .unwrap()
            .to_owned();
        s.clock(&next).await;
        let evs = s.wait(bus, n + 1).await;
        assert_eq!(evs[n]["time"], next.as_str());
        out.push(next);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_in_berlin_fires_right_across_daylight_saving_changes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sched::start(&dir.path().join("data"), "2026-03-27T12:00:00Z", &[]).await;
    assert_eq!(s.put("/v1/buses/timers", json!({})).await.status(), 201);
    let r = s
        .put(
            "/v1/schedules/nightly",
            json!({"bus": "timers", "cron": "0 30 2 * * *", "timezone": "Europe/Berlin",
                "catch_up": "none", "event": {"type": "com.acme.nightly", "source": "/acme"}}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // 02:30 in Berlin: CET (UTC+1) until 2026-03-29 02:00, when clocks jump to 03:00 CEST
    // (UTC+2): that night has no 02:30 and the schedule skips it.
    assert_eq!(
        walk(&s, "nightly", "timers", 3).await,
        [
            "2026-03-28T01:30:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z"
        ]
    );
    // Into October (catch_up none: the months between are skipped). On 2026-10-25 clocks go
    // back from 03:00 CEST to 02:00 CET: 02:30 happens twice and the schedule fires once, at
    // the first.
    s.clock("2026-10-23T12:00:00Z").await;
    assert_eq!(
        walk(&s, "nightly", "timers", 3).await,
        [
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z"
        ]
    );
    assert_eq!(s.events("timers").await.len(), 6);
}

/// Starts a server at `from` with `failpoint` armed, moves its clock to `to` (a firing time) and
/// waits until the failpoint aborts the process; returns the dead server.
async fn crash_at(data: &std::path::Path, failpoint: &str, from: &str, to: &str) -> Sched {
    let mut s = Sched::start(data, from, &[("RAILYARD_FAILPOINT", failpoint)]).await;
    // The process may die before it answers.
    let _ =
        s.c.put(format!("{}/v1/_clock", s.srv.url))
            .json(&json!({ "now": to }))
            .send()
            .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.srv.is_running() {
        assert!(
            Instant::now() < deadline,
            "the failpoint {failpoint} did not fire"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_and_crashes_neither_lose_nor_duplicate_firings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Sched::start(&data, "2026-05-01T00:00:00Z", &[]).await;
    assert_eq!(s.put("/v1/buses/timers", json!({})).await.status(), 201);
    for policy in ["none", "last", "all"] {
        let r = s
            .put(
                &format!("/v1/schedules/{policy}"),
                json!({"bus": "timers", "rate": "10m", "catch_up": policy,
                    "event": {"type": "com.acme.tick", "source": "/acme"}}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    s.clock("2026-05-01T00:10:00Z").await;
    s.wait("timers", 3).await;

    // kill -9, and back 35 minutes later: 00:20, 00:30 and 00:40 were missed.
    s.srv.kill9();
    s = Sched::start(&data, "2026-05-01T00:45:30Z", &[]).await;
    // Then 00:50 fires for all three; by then the catch-up is settled.
    s.clock("2026-05-01T00:50:00Z").await;
    let evs = s.wait("timers", 3 + 3 + 1 + 3).await;
    let m = by_schedule(&evs);
    let t = |hm: &[&str]| -> Vec<String> {
        hm.iter()
            .map(|x| format!("2026-05-01T00:{x}:00Z"))
            .collect()
    };
    assert_eq!(m["none"], t(&["10", "50"]));
    assert_eq!(m["last"], t(&["10", "40", "50"]));
    assert_eq!(m["all"], t(&["10", "20", "30", "40", "50"]));

    // A crash right after a firing's append, before it is recorded: after the restart the
    // event is found on the bus and not emitted again.
    s.srv.kill9();
    let _crashed = crash_at(
        &data,
        "schedule-after-append",
        "2026-05-01T00:50:00Z",
        "2026-05-01T01:00:00Z",
    )
    .await;
    s = Sched::start(&data, "2026-05-01T01:00:10Z", &[]).await;
    let evs = s.wait("timers", 10 + 3).await;
    for (name, times) in by_schedule(&evs) {
        assert_eq!(
            times
                .iter()
                .filter(|t| *t == "2026-05-01T01:00:00Z")
                .count(),
            1,
            "{name}: {times:?}"
        );
    }

    // A crash after a firing is marked pending, before its append: after the restart it is
    // fired (within the grace of `none` too).
    s.srv.kill9();
    let _crashed = crash_at(
        &data,
        "schedule-before-append",
        "2026-05-01T01:00:10Z",
        "2026-05-01T01:10:00Z",
    )
    .await;
    s = Sched::start(&data, "2026-05-01T01:10:10Z", &[]).await;
    let evs = s.wait("timers", 13 + 3).await;
    for (name, times) in by_schedule(&evs) {
        assert_eq!(
            times
                .iter()
                .filter(|t| *t == "2026-05-01T01:10:00Z")
                .count(),
            1,
            "{name}: {times:?}"
        );
        let unique: std::collections::BTreeSet<_> = times.iter().collect();
        assert_eq!(
            unique.len(),
            times.len(),
            "{name}: no firing twice: {times:?}"
        );
    }
    let ids: std::collections::BTreeSet<String> = evs
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), evs.len(), "every event id is unique");
}
