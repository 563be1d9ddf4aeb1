//! Whole-schedule tests: parsing with pointers, DST in Europe/Berlin and America/New_York (2026),
//! catch-up after outages, restarts, and event ids.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn created() -> DateTime<Utc> {
    t("2026-01-01T10:00:00.250Z")
}

fn spec(body: Value) -> ScheduleSpec {
    ScheduleSpec::parse(&body, created()).unwrap()
}

fn refusal(body: Value) -> (String, String) {
    let e = ScheduleSpec::parse(&body, created()).unwrap_err();
    (e.pointer, e.reason)
}

/// The first `n` firings strictly after `from`, as RFC 3339 UTC.
fn firings(s: &ScheduleSpec, from: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = t(from);
    while out.len() < n {
        let Some(next) = s.next_after(at) else { break };
        out.push(spec::rfc3339(next));
        at = next;
    }
    out
}

fn cron(expr: &str, tz: &str) -> ScheduleSpec {
    spec(json!({"bus": "b", "cron": expr, "timezone": tz, "start": "2020-01-01T00:00:00Z"}))
}

// ---- parsing ----

#[test]
fn defaults() {
    let s = spec(json!({"bus": "b", "rate": "5m"}));
    assert_eq!(s.bus, "b");
    assert_eq!(s.when, When::Rate(Rate::parse("5m").unwrap()));
    assert_eq!(
        s.start,
        t("2026-01-01T10:00:00Z"),
        "the creation time, whole seconds"
    );
    assert_eq!(s.end, None);
    assert_eq!(s.event, EventTemplate::default());
    assert_eq!(s.catch_up, CatchUp::Last);
    assert!(!s.delete_after_firing);
    assert!(s.enabled);
    assert_eq!(s.description, None);
    let s = spec(json!({"bus": "b", "cron": "0 */5 * * * *"}));
    assert_eq!(
        s.when,
        When::Cron {
            expr: Cron::parse("0 */5 * * * *").unwrap(),
            tz: chrono_tz::Tz::UTC
        }
    );
}

#[test]
fn every_member() {
    let s = spec(json!({
        "bus": "orders", "cron": "0 0 9 * * MON-FRI", "timezone": "Europe/Berlin",
        "start": "2026-02-01T00:00:00+01:00", "end": "2026-12-31T23:00:00Z",
        "event": {"type": "com.example.tick", "source": "https://example.com/s", "subject": "s",
                  "datacontenttype": "application/json", "dataschema": "https://example.com/d",
                  "data": {"k": [1, 2]}},
        "catch_up": "all", "enabled": false, "description": "weekday mornings",
    }));
    assert_eq!(s.start, t("2026-01-31T23:00:00Z"));
    assert_eq!(s.end, Some(t("2026-12-31T23:00:00Z")));
    assert_eq!(s.event.ty.as_deref(), Some("com.example.tick"));
    assert_eq!(s.event.data, Some(json!({"k": [1, 2]})));
    assert_eq!(s.catch_up, CatchUp::All);
    assert!(!s.enabled);
    assert_eq!(s.description.as_deref(), Some("weekday mornings"));
    let s = spec(
        json!({"bus": "b", "at": "2026-12-01T09:00:00", "timezone": "Europe/Berlin",
                        "delete_after_firing": true, "catch_up": "none"}),
    );
    assert_eq!(
        s.when,
        When::At {
            at: t("2026-12-01T08:00:00Z"),
            tz: Some(chrono_tz::Europe::Berlin)
        }
    );
    assert!(s.delete_after_firing);
    assert_eq!(s.catch_up, CatchUp::None);
}

#[test]
fn refusals_point_at_the_member() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "", "a schedule must be a JSON object"),
        (json!({"rate": "5m"}), "/bus", "is required"),
        (json!({"bus": null, "rate": "5m"}), "/bus", "is required"),
        (
            json!({"bus": 1, "rate": "5m"}),
            "/bus",
            "must be a string, not a number",
        ),
        (
            json!({"bus": "", "rate": "5m"}),
            "/bus",
            "must not be empty",
        ),
        (
            json!({"bus": "b"}),
            "",
            "one of cron, rate or at is required",
        ),
        (
            json!({"bus": "b", "cron": "@daily", "rate": "5m"}),
            "/rate",
            "cron and rate exclude",
        ),
        (
            json!({"bus": "b", "rate": "5m", "at": "2027-01-01T00:00:00Z"}),
            "/at",
            "rate and at exclude",
        ),
        (
            json!({"bus": "b", "rate": "5m", "timzone": "UTC"}),
            "/timzone",
            "unknown member",
        ),
        (
            json!({"bus": "b", "rate": "5m", "a~b": 1}),
            "/a~0b",
            "unknown member",
        ),
        (
            json!({"bus": "b", "cron": "0 61 * * * *"}),
            "/cron",
            "minute: 61 is out of range 0-59",
        ),
        (json!({"bus": "b", "cron": 5}), "/cron", "must be a string"),
        (
            json!({"bus": "b", "rate": "0s"}),
            "/rate",
            "at least 1 second",
        ),
        (
            json!({"bus": "b", "rate": "5m", "timezone": "UTC"}),
            "/timezone",
            "has no time zone",
        ),
        (
            json!({"bus": "b", "cron": "@daily", "timezone": "Europe/Berln"}),
            "/timezone",
            "unknown time zone \"Europe/Berln\"",
        ),
        (
            json!({"bus": "b", "cron": "@daily", "timezone": 1}),
            "/timezone",
            "must be a string",
        ),
        (
            json!({"bus": "b", "at": "tomorrow"}),
            "/at",
            "must be an RFC 3339 date-time",
        ),
        (
            json!({"bus": "b", "at": "2026-12-01 09:00:00Z"}),
            "/at",
            "must be an RFC 3339 date-time",
        ),
        (
            json!({"bus": "b", "at": "2025-12-01T09:00:00Z"}),
            "/at",
            "is not after the schedule's start 2026-01-01T10:00:00Z",
        ),
        (
            json!({"bus": "b", "at": "2026-03-29T02:30:00", "timezone": "Europe/Berlin"}),
            "/at",
            "does not exist in Europe/Berlin",
        ),
        (
            json!({"bus": "b", "at": "2027-01-01T00:00:00Z", "end": "2027-02-01T00:00:00Z"}),
            "/end",
            "has no end",
        ),
        (
            json!({"bus": "b", "rate": "5m", "start": "2026-13-01T00:00:00Z"}),
            "/start",
            "month 13",
        ),
        (
            json!({"bus": "b", "rate": "5m", "end": "2026-01-01T10:00:00Z"}),
            "/end",
            "must be after the start",
        ),
        (
            json!({"bus": "b", "rate": "5m", "end": true}),
            "/end",
            "must be a string, not a boolean",
        ),
        (
            json!({"bus": "b", "rate": "5m", "event": {"type": ""}}),
            "/event/type",
            "non-empty",
        ),
        (
            json!({"bus": "b", "rate": "5m", "event": "x"}),
            "/event",
            "must be an object",
        ),
        (
            json!({"bus": "b", "rate": "5m", "catch_up": "some"}),
            "/catch_up",
            "expected none, last or all",
        ),
        (
            json!({"bus": "b", "rate": "5m", "delete_after_firing": true}),
            "/delete_after_firing",
            "only an at schedule",
        ),
        (
            json!({"bus": "b", "at": "2027-01-01T00:00:00Z", "delete_after_firing": "yes"}),
            "/delete_after_firing",
            "must be true or false, not a string",
        ),
        (
            json!({"bus": "b", "rate": "5m", "enabled": 1}),
            "/enabled",
            "must be true or false",
        ),
        (
            json!({"bus": "b", "rate": "5m", "description": "x".repeat(1025)}),
            "/description",
            "longer than 1024",
        ),
    ];
    for (body, pointer, reason) in cases {
        let (p, r) = refusal(body.clone());
        assert_eq!(p, pointer, "{body}: {r}");
        assert!(r.contains(reason), "{body}: {r:?} lacks {reason:?}");
    }
}

#[test]
fn to_json_shows_defaults_and_round_trips() {
    let bodies = [
        json!({"bus": "b", "rate": "300 seconds"}),
        json!({"bus": "b", "cron": " 0 */5 * * * * ", "timezone": "Europe/Berlin", "catch_up": "all"}),
        json!({"bus": "b", "cron": "cron(15 10 ? * MON-FRI 2026-2030)", "end": "2030-01-01T00:00:00Z",
               "enabled": false, "description": "d", "event": {"type": "t", "data": null}}),
        json!({"bus": "b", "at": "2026-10-25T02:30:00", "timezone": "Europe/Berlin", "delete_after_firing": true}),
        json!({"bus": "b", "at": "2026-12-01T09:00:00.750+01:00"}),
    ];
    for body in bodies {
        let s = spec(body);
        let shown = s.to_json();
        // Parsing the written form gives the same schedule, whatever the creation time.
        assert_eq!(
            ScheduleSpec::parse(&shown, t("2031-01-01T00:00:00Z")).unwrap(),
            s
        );
        assert_eq!(shown["start"], "2026-01-01T10:00:00Z");
    }
    assert_eq!(
        spec(json!({"bus": "b", "rate": "300 seconds"})).to_json(),
        json!({"bus": "b", "rate": "5m", "start": "2026-01-01T10:00:00Z", "event": {},
               "catch_up": "last", "enabled": true})
    );
    assert_eq!(
        spec(json!({"bus": "b", "cron": "@daily"})).to_json()["timezone"],
        "UTC"
    );
    let at = spec(json!({"bus": "b", "at": "2026-10-25T02:30:00", "timezone": "Europe/Berlin"}));
    assert_eq!(
        at.to_json()["at"],
        "2026-10-25T02:30:00+02:00",
        "first occurrence, shown locally"
    );
    assert_eq!(at.to_json()["delete_after_firing"], false);
    let utc = spec(json!({"bus": "b", "at": "2026-12-01T09:00:00.750+01:00"}));
    assert_eq!(utc.to_json()["at"], "2026-12-01T08:00:00Z");
}

// ---- when it fires ----

#[test]
fn rate_fires_every_period_from_the_anchor() {
    let s = spec(json!({"bus": "b", "rate": "5m"}));
    assert_eq!(
        firings(&s, "2000-01-01T00:00:00Z", 3),
        [
            "2026-01-01T10:05:00Z",
            "2026-01-01T10:10:00Z",
            "2026-01-01T10:15:00Z"
        ]
    );
    assert_eq!(
        firings(&s, "2026-03-29T00:58:00Z", 2),
        ["2026-03-29T01:00:00Z", "2026-03-29T01:05:00Z"],
        "elapsed time: DST means nothing to a rate"
    );
    let explicit = spec(
        json!({"bus": "b", "rate": "1h", "start": "2026-06-01T00:00:30Z",
                               "end": "2026-06-01T02:00:30Z"}),
    );
    assert_eq!(
        firings(&explicit, "2026-01-01T00:00:00Z", 5),
        ["2026-06-01T01:00:30Z", "2026-06-01T02:00:30Z"]
    );
}

#[test]
fn at_fires_once_after_start() {
    let s = spec(json!({"bus": "b", "at": "2026-12-01T09:00:00+01:00"}));
    assert_eq!(
        firings(&s, "2026-01-01T00:00:00Z", 3),
        ["2026-12-01T08:00:00Z"]
    );
    assert_eq!(s.next_after(t("2026-12-01T08:00:00Z")), None);
    let ny = spec(json!({"bus": "b", "at": "2026-11-01T01:30:00", "timezone": "America/New_York"}));
    assert_eq!(
        firings(&ny, "2026-01-01T00:00:00Z", 3),
        ["2026-11-01T05:30:00Z"],
        "a repeated local time means its first occurrence (EDT)"
    );
}

#[test]
fn cron_across_month_ends_and_leap_days() {
    assert_eq!(
        firings(&cron("0 0 12 31 * *", "UTC"), "2026-01-31T12:00:00Z", 3),
        [
            "2026-03-31T12:00:00Z",
            "2026-05-31T12:00:00Z",
            "2026-07-31T12:00:00Z"
        ]
    );
    assert_eq!(
        firings(
            &cron("0 0 0 29 FEB *", "Europe/Berlin"),
            "2026-01-01T00:00:00Z",
            2
        ),
        ["2028-02-28T23:00:00Z", "2032-02-28T23:00:00Z"]
    );
    let with_end = spec(json!({"bus": "b", "cron": "0 0 0 1 * *", "end": "2026-03-01T00:00:00Z"}));
    assert_eq!(
        firings(&with_end, "2026-01-01T00:00:00Z", 5),
        ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]
    );
    // Nothing at or before start.
    let s = spec(json!({"bus": "b", "cron": "0 0 10 * * *"}));
    assert_eq!(
        firings(&s, "2025-01-01T00:00:00Z", 1),
        ["2026-01-02T10:00:00Z"]
    );
}

// ---- daylight saving time, 2026 ----
// Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST → 02:00 CET (01:00Z).
// America/New_York: 2026-03-08 02:00 EST → 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT → 01:00 EST (06:00Z).

#[test]
fn berlin_spring_forward_skips_the_missing_hour() {
    // A daily 02:30 does not exist on 2026-03-29: skipped, not moved.
    assert_eq!(
        firings(
            &cron("0 30 2 * * *", "Europe/Berlin"),
            "2026-03-28T00:00:00Z",
            3
        ),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z"
        ]
    );
    // Every 5 minutes: 01:55 CET, then 03:00 CEST, five minutes of elapsed time later.
    assert_eq!(
        firings(
            &cron("0 */5 * * * *", "Europe/Berlin"),
            "2026-03-29T00:50:00Z",
            3
        ),
        [
            "2026-03-29T00:55:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:05:00Z"
        ]
    );
    // Hourly at :30: 01:30 CET, then 03:30 CEST.
    assert_eq!(
        firings(
            &cron("0 30 * * * *", "Europe/Berlin"),
            "2026-03-28T23:59:00Z",
            3
        ),
        [
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:30:00Z",
            "2026-03-29T02:30:00Z"
        ]
    );
    // A daily 03:00 still fires at the new 03:00.
    assert_eq!(
        firings(
            &cron("0 0 3 * * *", "Europe/Berlin"),
            "2026-03-28T12:00:00Z",
            1
        ),
        ["2026-03-29T01:00:00Z"]
    );
}

#[test]
fn berlin_fall_back_fires_a_fixed_time_once() {
    // 02:30 occurs at 00:30Z (CEST) and 01:30Z (CET): a daily 02:30 fires at the first only.
    let daily = cron("0 30 2 * * *", "Europe/Berlin");
    assert_eq!(
        firings(&daily, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
    // Asked during the second pass, the next is tomorrow's.
    assert_eq!(
        daily.next_after(t("2026-10-25T01:10:00Z")),
        Some(t("2026-10-26T01:30:00Z"))
    );
    // A restricted hour with a dense minute field fires through the first pass only.
    let in_hour_two = cron("0 */20 2 * * *", "Europe/Berlin");
    assert_eq!(
        firings(&in_hour_two, "2026-10-24T12:00:00Z", 4),
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:20:00Z",
            "2026-10-25T00:40:00Z",
            "2026-10-26T01:00:00Z"
        ]
    );
    // Every two hours: 00:00, 02:00 (CEST), 04:00 CET.
    assert_eq!(
        firings(
            &cron("0 0 */2 * * *", "Europe/Berlin"),
            "2026-10-24T21:00:00Z",
            3
        ),
        [
            "2026-10-24T22:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T03:00:00Z"
        ]
    );
}

#[test]
fn berlin_fall_back_keeps_every_hour_patterns_in_elapsed_time() {
    // Hourly at :30: 02:30 CEST and 02:30 CET both fire: an hour apart, as every other hour.
    assert_eq!(
        firings(
            &cron("0 30 * * * *", "Europe/Berlin"),
            "2026-10-24T22:00:00Z",
            5
        ),
        [
            "2026-10-24T22:30:00Z",
            "2026-10-24T23:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-25T02:30:00Z"
        ]
    );
    // Asked during the first pass (02:45 CEST), the next is 02:30 CET: an earlier reading.
    assert_eq!(
        cron("0 30 * * * *", "Europe/Berlin").next_after(t("2026-10-25T00:45:00Z")),
        Some(t("2026-10-25T01:30:00Z"))
    );
    // Every 5 minutes, straight through both passes: 28 firings from 00:00Z to 02:15Z.
    let five = firings(
        &cron("0 */5 * * * *", "Europe/Berlin"),
        "2026-10-24T23:55:00Z",
        28,
    );
    let expected: Vec<String> = (0..28)
        .map(|i| spec::rfc3339(t("2026-10-25T00:00:00Z") + TimeDelta::minutes(5 * i)))
        .collect();
    assert_eq!(five, expected);
    // Every second, across the instant the clocks go back.
    assert_eq!(
        firings(
            &cron("* * * * * *", "Europe/Berlin"),
            "2026-10-25T00:59:58Z",
            3
        ),
        [
            "2026-10-25T00:59:59Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:00:01Z"
        ]
    );
}

#[test]
fn new_york_2026_transitions() {
    assert_eq!(
        firings(
            &cron("0 30 2 * * *", "America/New_York"),
            "2026-03-07T00:00:00Z",
            2
        ),
        ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"],
        "02:30 does not exist on 2026-03-08"
    );
    assert_eq!(
        firings(
            &cron("0 */30 * * * *", "America/New_York"),
            "2026-03-08T06:00:00Z",
            3
        ),
        [
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:30:00Z"
        ],
        "01:30 EST, 03:00 EDT, 03:30 EDT"
    );
    assert_eq!(
        firings(
            &cron("0 30 1 * * *", "America/New_York"),
            "2026-10-31T12:00:00Z",
            2
        ),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
        "01:30 EDT only, then 01:30 EST the next day"
    );
    assert_eq!(
        firings(
            &cron("0 30 * * * *", "America/New_York"),
            "2026-11-01T04:00:00Z",
            4
        ),
        [
            "2026-11-01T04:30:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-01T07:30:00Z"
        ],
        "00:30 EDT, 01:30 EDT, 01:30 EST, 02:30 EST"
    );
    // Weekdays at 09:00 local stay at 09:00 local on both sides.
    assert_eq!(
        firings(
            &cron("0 0 9 * * MON-FRI", "America/New_York"),
            "2026-03-06T00:00:00Z",
            2
        ),
        ["2026-03-06T14:00:00Z", "2026-03-09T13:00:00Z"]
    );
}

// ---- plan ----

fn fired(p: &Plan) -> Vec<String> {
    p.fire.iter().map(|t| spec::rfc3339(*t)).collect()
}

fn with_policy(body: Value, policy: &str) -> ScheduleSpec {
    let mut body = body;
    body["catch_up"] = json!(policy);
    spec(body)
}

#[test]
fn on_time_and_slightly_late_firings_fire_under_every_policy() {
    for policy in ["none", "last", "all"] {
        let s = with_policy(json!({"bus": "b", "rate": "5m"}), policy);
        let p = s.plan(None, t("2026-01-01T10:04:59Z"));
        assert_eq!(
            (fired(&p), p.next),
            (vec![], Some(t("2026-01-01T10:05:00Z")))
        );
        let p = s.plan(None, t("2026-01-01T10:05:00Z"));
        assert_eq!(fired(&p), ["2026-01-01T10:05:00Z"], "{policy}");
        assert_eq!(p.next, Some(t("2026-01-01T10:10:00Z")));
        let p = s.plan(None, t("2026-01-01T10:05:59Z"));
        assert_eq!(fired(&p), ["2026-01-01T10:05:00Z"], "{policy}: 59 s late");
        let p = s.plan(Some(t("2026-01-01T10:05:00Z")), t("2026-01-01T10:05:30Z"));
        assert_eq!(
            (fired(&p), p.next),
            (vec![], Some(t("2026-01-01T10:10:00Z")))
        );
    }
}

#[test]
fn missed_firings_follow_the_policy() {
    let body = json!({"bus": "b", "rate": "5m"});
    let last = Some(t("2026-01-01T10:05:00Z"));
    // Down from 10:06 to 10:31:30: 10:10 … 10:30 missed, none within the grace.
    let now = t("2026-01-01T10:31:30Z");
    let p = with_policy(body.clone(), "none").plan(last, now);
    assert_eq!(
        (fired(&p), p.next),
        (vec![], Some(t("2026-01-01T10:35:00Z")))
    );
    let p = with_policy(body.clone(), "last").plan(last, now);
    assert_eq!(fired(&p), ["2026-01-01T10:30:00Z"]);
    let p = with_policy(body.clone(), "all").plan(last, now);
    assert_eq!(
        fired(&p),
        [
            "2026-01-01T10:10:00Z",
            "2026-01-01T10:15:00Z",
            "2026-01-01T10:20:00Z",
            "2026-01-01T10:25:00Z",
            "2026-01-01T10:30:00Z"
        ]
    );
    assert_eq!(p.next, Some(t("2026-01-01T10:35:00Z")));
    // Back at 10:30:20: 10:30 is merely late; `last` needs nothing older.
    let now = t("2026-01-01T10:30:20Z");
    assert_eq!(
        fired(&with_policy(body.clone(), "none").plan(last, now)),
        ["2026-01-01T10:30:00Z"]
    );
    assert_eq!(
        fired(&with_policy(body.clone(), "last").plan(last, now)),
        ["2026-01-01T10:30:00Z"]
    );
    assert_eq!(with_policy(body, "all").plan(last, now).fire.len(), 5);
}

#[test]
fn never_fired_counts_from_start() {
    let s = with_policy(json!({"bus": "b", "rate": "1h"}), "all");
    let p = s.plan(None, t("2026-01-01T13:30:00Z"));
    assert_eq!(
        fired(&p),
        [
            "2026-01-01T11:00:00Z",
            "2026-01-01T12:00:00Z",
            "2026-01-01T13:00:00Z"
        ]
    );
    // A watermark before the start (the schedule was replaced) counts from the start.
    let p = s.plan(Some(t("2025-01-01T00:00:00Z")), t("2026-01-01T11:00:00Z"));
    assert_eq!(fired(&p), ["2026-01-01T11:00:00Z"]);
    // A clock behind the watermark fires nothing and waits for the next after the watermark.
    let p = s.plan(Some(t("2026-01-01T12:00:00Z")), t("2026-01-01T11:30:00Z"));
    assert_eq!(
        (fired(&p), p.next),
        (vec![], Some(t("2026-01-01T13:00:00Z")))
    );
}

#[test]
fn catch_up_all_is_capped_and_drops_the_oldest() {
    let s = with_policy(
        json!({"bus": "b", "rate": "1s", "start": "2026-01-01T00:00:00Z"}),
        "all",
    );
    let now = t("2026-01-08T00:00:00Z");
    let p = s.plan(None, now);
    assert_eq!(p.fire.len(), MAX_CATCH_UP);
    assert_eq!(p.fire[999], now);
    assert_eq!(p.fire[0], now - TimeDelta::seconds(999));
    assert!(
        p.fire
            .windows(2)
            .all(|w| w[1] - w[0] == TimeDelta::seconds(1))
    );
    // `none` and `last` still fire the 60 firings within the grace.
    for policy in ["none", "last"] {
        let s = with_policy(
            json!({"bus": "b", "rate": "1s", "start": "2026-01-01T00:00:00Z"}),
            policy,
        );
        let p = s.plan(None, now);
        assert_eq!(p.fire.len(), 60, "{policy}");
        assert_eq!(p.fire[0], now - TimeDelta::seconds(59));
    }
}

#[test]
fn at_schedules_under_each_policy() {
    let body = json!({"bus": "b", "at": "2026-06-01T12:00:00Z"});
    for policy in ["none", "last", "all"] {
        let s = with_policy(body.clone(), policy);
        let p = s.plan(None, t("2026-06-01T11:00:00Z"));
        assert_eq!(
            (fired(&p), p.next),
            (vec![], Some(t("2026-06-01T12:00:00Z")))
        );
        let p = s.plan(None, t("2026-06-01T12:00:10Z"));
        assert_eq!(
            (fired(&p), p.next),
            (vec!["2026-06-01T12:00:00Z".to_owned()], None)
        );
        let p = s.plan(Some(t("2026-06-01T12:00:00Z")), t("2026-06-01T12:05:00Z"));
        assert_eq!((fired(&p), p.next), (vec![], None));
        let late = fired(&s.plan(None, t("2026-06-01T15:00:00Z")));
        if policy == "none" {
            assert!(late.is_empty());
        } else {
            assert_eq!(late, ["2026-06-01T12:00:00Z"], "{policy}");
        }
    }
}

#[test]
fn disabled_plans_nothing() {
    let s = spec(json!({"bus": "b", "rate": "1m", "enabled": false}));
    assert_eq!(
        s.plan(None, t("2026-02-01T00:00:00Z")),
        Plan {
            fire: vec![],
            next: None
        }
    );
    assert!(s.next_after(t("2026-02-01T00:00:00Z")).is_some());
}

#[test]
fn catch_up_across_the_berlin_fall_back() {
    let s = spec(
        json!({"bus": "b", "cron": "0 30 * * * *", "timezone": "Europe/Berlin",
                        "catch_up": "all", "start": "2026-10-01T00:00:00Z"}),
    );
    let p = s.plan(Some(t("2026-10-24T23:30:00Z")), t("2026-10-25T02:45:00Z"));
    assert_eq!(
        fired(&p),
        [
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-25T02:30:00Z"
        ]
    );
    assert_eq!(p.next, Some(t("2026-10-25T03:30:00Z")));
}

/// A runtime in miniature: the log of appended event ids, and the stored watermark.
struct Runtime {
    log: Vec<String>,
    watermark: Option<DateTime<Utc>>,
}

impl Runtime {
    /// One wake-up; `crash_before_store` kills it after appending, before storing the watermark.
    fn wake(&mut self, s: &ScheduleSpec, now: DateTime<Utc>, crash_before_store: bool) {
        let p = s.plan(self.watermark, now);
        for at in &p.fire {
            let id = s.event("tick", *at).id;
            if !self.log.contains(&id) {
                self.log.push(id);
            }
        }
        if !crash_before_store && let Some(last) = p.fire.last() {
            self.watermark = Some(*last);
        }
    }
}

#[test]
fn kill_and_restart_neither_loses_nor_duplicates() {
    // A rate of 2m from 10:00: planned firings at 10:02, 10:04, …
    let body = json!({"bus": "b", "rate": "2m", "start": "2026-01-01T10:00:00Z"});
    let id = |hm: &str| format!("tick:2026-01-01T{hm}:00Z");
    for policy in ["none", "last", "all"] {
        let s = with_policy(body.clone(), policy);
        // Killed right after appending 10:02, before recording it; restarted at 10:02:30, then on
        // time at 10:04: 10:02 comes back with the same id (recognised), 10:04 comes once.
        let mut rt = Runtime {
            log: vec![],
            watermark: None,
        };
        rt.wake(&s, t("2026-01-01T10:02:00Z"), true);
        rt.wake(&s, t("2026-01-01T10:02:30Z"), false);
        rt.wake(&s, t("2026-01-01T10:04:00Z"), false);
        rt.wake(&s, t("2026-01-01T10:04:00Z"), false);
        assert_eq!(rt.log, [id("10:02"), id("10:04")], "{policy}");
        // Down from 10:04:10 to 10:10:20: 10:06 and 10:08 missed, 10:10 is 20 s late.
        rt.wake(&s, t("2026-01-01T10:10:20Z"), false);
        let expected: Vec<String> = match policy {
            "all" => ["10:02", "10:04", "10:06", "10:08", "10:10"].map(id).into(),
            _ => ["10:02", "10:04", "10:10"].map(id).into(),
        };
        assert_eq!(rt.log, expected, "{policy}");
        // Down from 10:10:30 to 10:17:30: 10:12, 10:14, 10:16 missed, none within the grace.
        rt.wake(&s, t("2026-01-01T10:17:30Z"), false);
        let tail: Vec<String> = match policy {
            "none" => vec![],
            "last" => vec![id("10:16")],
            _ => ["10:12", "10:14", "10:16"].map(id).into(),
        };
        assert_eq!(rt.log[expected.len()..], tail, "{policy}");
        // And on time after that.
        rt.wake(&s, t("2026-01-01T10:18:00Z"), false);
        assert_eq!(rt.log.last(), Some(&id("10:18")), "{policy}");
        assert_eq!(rt.log.len(), expected.len() + tail.len() + 1, "{policy}");
    }
}

// ---- events ----

#[test]
fn event_of_a_firing() {
    let s = spec(json!({"bus": "b", "rate": "5m"}));
    let at = t("2026-03-29T01:00:00Z");
    let ev = s.event("nightly", at);
    assert_eq!(ev.id, "nightly:2026-03-29T01:00:00Z");
    assert_eq!(ev.source, "/schedules/nightly");
    assert_eq!(ev.ty, "com.railyard.schedule.fired");
    assert_eq!(ev.time.as_deref(), Some("2026-03-29T01:00:00Z"));
    assert_eq!(
        ev.extensions["schedule"],
        bus::event::ExtensionValue::String("nightly".into())
    );
    assert_eq!(ev.data, None);
    ev.validate().unwrap();
    // Deterministic: the same name and planned time give the same event, in any process.
    assert_eq!(s.event("nightly", at), ev);
    assert_ne!(s.event("nightly", at + TimeDelta::seconds(1)).id, ev.id);
    assert_ne!(s.event("daily", at).id, ev.id);
    // An awkward name is percent-encoded in the default source.
    let odd = s.event("my report/1", at);
    assert_eq!(odd.source, "/schedules/my%20report%2F1");
    odd.validate().unwrap();

    let s = spec(json!({"bus": "b", "rate": "5m", "event": {
        "type": "com.example.tick", "source": "urn:example:clock", "subject": "s1",
        "datacontenttype": "application/json", "data": {"n": 1}}}));
    let ev = s.event("tick", at);
    ev.validate().unwrap();
    assert_eq!(
        String::from_utf8(ev.to_structured_json()).unwrap(),
        r#"{"specversion":"1.0","id":"tick:2026-03-29T01:00:00Z","source":"urn:example:clock","type":"com.example.tick","datacontenttype":"application/json","subject":"s1","time":"2026-03-29T01:00:00Z","schedule":"tick","data":{"n":1}}"#
    );
}

/// Every firing `next_after` finds over a DST day equals a brute-force scan of every minute
/// applying the rule of [`dst`] literally: the reading matches, and for a restricted hour field
/// the instant is the reading's first occurrence.
#[test]
fn next_after_agrees_with_a_minute_by_minute_scan() {
    let days = [
        ("Europe/Berlin", "2026-03-28T12:00:00Z"),
        ("Europe/Berlin", "2026-10-24T12:00:00Z"),
        ("America/New_York", "2026-03-07T12:00:00Z"),
        ("America/New_York", "2026-10-31T12:00:00Z"),
        // Half-hour DST, southern hemisphere: Lord Howe falls back 02:00 → 01:30 on 2026-04-05.
        ("Australia/Lord_Howe", "2026-04-04T00:00:00Z"),
        ("Australia/Lord_Howe", "2026-10-03T00:00:00Z"),
    ];
    let exprs = [
        "0 * * * * *",
        "0 */5 * * * *",
        "0 7,30,45 * * * *",
        "0 15 */2 * * *",
        "0 * 1-2 * * *",
        "0 30 2 * * *",
        "0 45 1 * * *",
    ];
    let mut total = 0;
    for (zone, from) in days {
        for expr in exprs {
            let s = cron(expr, zone);
            let tz: chrono_tz::Tz = zone.parse().unwrap();
            let c = Cron::parse(expr).unwrap();
            let start = t(from);
            let end = start + TimeDelta::hours(36);
            let mut expected = Vec::new();
            let mut u = start + TimeDelta::minutes(1);
            while u <= end {
                let reading = u.with_timezone(&tz).naive_local();
                let matches = c.next_match(reading, 3000) == Some(reading);
                let first = dst::instants(tz, reading).map(|(f, _)| f) == Some(u);
                if matches && (c.every_hour() || first) {
                    expected.push(spec::rfc3339(u));
                }
                u += TimeDelta::minutes(1);
            }
            let mut got = Vec::new();
            let mut at = start;
            while let Some(next) = s.next_after(at).filter(|n| *n <= end) {
                got.push(spec::rfc3339(next));
                at = next;
            }
            assert_eq!(got, expected, "{expr} in {zone} from {from}");
            total += got.len();
        }
    }
    assert!(total > 5000, "{total}");
}
