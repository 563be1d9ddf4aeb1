//! Webhook sources through the real binary, one provider after another on one server: each
//! delivery is signed here per the provider's published algorithm, and each provider gets the
//! same checks: a valid delivery lands on the bus with the documented attributes; a wrong
//! signature, a wrong secret, a missing header and (where the provider signs one) a stale
//! timestamp are each 401 with nothing stored; a repeated delivery id stores one event.
//! Then the handshakes (GitHub ping, Slack url_verification, the CloudEvents OPTIONS), the
//! resource API (write-only secrets, 404, 413) and delivery ids surviving a restart.

use base64::Engine as _;
use reqwest::header::HeaderMap;
use ring::hmac;
use serde_json::{Value, json};

use crate::harness::{Server, client, get_json, problem};

const SECRET: &str = "It's a Secret to Everybody";
const OTHER: &str = "not the secret";
/// A Standard Webhooks secret (`whsec_` + base64 of the key).
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn mac(alg: hmac::Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(alg, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn whsec_key(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim_start_matches("whsec_"))
        .unwrap()
}

/// Signs a delivery: the headers of `body` signed with `secret` at `ts`.
type Sign = fn(secret: &str, body: &[u8], ts: i64) -> Vec<(&'static str, String)>;

/// One provider's delivery: how to sign it and what it must become.
struct Case {
    name: &'static str,
    source: Value,
    body: Vec<u8>,
    /// The headers of a delivery signed with `secret` at `ts`.
    sign: Sign,
    /// The header carrying the signature (removed for the missing-header check).
    signature_header: &'static str,
    /// Whether a timestamp is signed (the stale check).
    timestamped: bool,
    /// Whether the credential is a shared token rather than a MAC of the body.
    token: bool,
    /// Expected attributes of the stored event (a subset of its structured form).
    expect: Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "gh",
            source: json!({"kind": "github", "bus": "hooks", "secret": SECRET}),
            body: br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/acme/app"},"commits":[]}"#.to_vec(),
            sign: |s, body, _| {
                vec![
                    ("x-hub-signature-256", format!("sha256={}", hex(&mac(hmac::HMAC_SHA256, s.as_bytes(), &[body])))),
                    ("x-github-event", "push".into()),
                    ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".into()),
                    ("x-github-hook-id", "292430182".into()),
                    ("content-type", "application/json".into()),
                ]
            },
            signature_header: "x-hub-signature-256",
            timestamped: false,
            token: false,
            expect: json!({"id": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "type": "com.github.push",
                "source": "https://github.com/acme/app", "subject": "refs/heads/main", "githubhookid": "292430182"}),
        },
        Case {
            name: "gl",
            source: json!({"kind": "gitlab", "bus": "hooks", "secret": SECRET}),
            body: br#"{"object_kind":"push","ref":"refs/heads/main","project":{"web_url":"https://gitlab.com/acme/app"}}"#.to_vec(),
            sign: |s, _, _| {
                vec![
                    ("x-gitlab-token", s.to_owned()),
                    ("x-gitlab-event", "Push Hook".into()),
                    ("x-gitlab-event-uuid", "13792a34-cac6-4fda-95a8-c58e00a3954e".into()),
                    ("content-type", "application/json".into()),
                ]
            },
            signature_header: "x-gitlab-token",
            timestamped: false,
            token: true,
            expect: json!({"id": "13792a34-cac6-4fda-95a8-c58e00a3954e", "type": "com.gitlab.push",
                "source": "https://gitlab.com/acme/app"}),
        },
        Case {
            name: "stripe",
            source: json!({"kind": "stripe", "bus": "hooks", "secret": SECRET}),
            body: br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2022-11-15","created":1686089970,"livemode":false,"type":"invoice.paid","data":{"object":{"id":"in_1NG8Du2eZvKYlo2C","object":"invoice"}}}"#.to_vec(),
            sign: |s, body, ts| {
                let t = ts.to_string();
                let good = hex(&mac(hmac::HMAC_SHA256, s.as_bytes(), &[t.as_bytes(), b".", body]));
                // Several v1 signatures (a secret roll): any may match.
                vec![
                    ("stripe-signature", format!("t={t},v1={},v1={good}", "ab".repeat(32))),
                    ("content-type", "application/json".into()),
                ]
            },
            signature_header: "stripe-signature",
            timestamped: true,
            token: false,
            expect: json!({"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "com.stripe.invoice.paid",
                "subject": "in_1NG8Du2eZvKYlo2C", "time": "2023-06-06T22:19:30Z"}),
        },
        Case {
            name: "slack",
            source: json!({"kind": "slack", "bus": "hooks", "secret": SECRET}),
            body: br#"{"token":"x","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":"app_mention","user":"U061F7AUR","text":"hi","ts":"1515449522.000016","channel":"C0LAN2Q65","event_ts":"1515449522000016"},"type":"event_callback","event_id":"Ev0LAN670R","event_time":1515449522}"#.to_vec(),
            sign: |s, body, ts| {
                let t = ts.to_string();
                vec![
                    ("x-slack-signature", format!("v0={}", hex(&mac(hmac::HMAC_SHA256, s.as_bytes(), &[b"v0:", t.as_bytes(), b":", body])))),
                    ("x-slack-request-timestamp", t),
                    ("content-type", "application/json".into()),
                ]
            },
            signature_header: "x-slack-signature",
            timestamped: true,
            token: false,
            expect: json!({"id": "Ev0LAN670R", "type": "com.slack.app_mention", "subject": "C0LAN2Q65",
                "time": "2018-01-08T22:12:02Z"}),
        },
        Case {
            name: "shop",
            source: json!({"kind": "shopify", "bus": "hooks", "secret": SECRET}),
            body: br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"10.00"}"#.to_vec(),
            sign: |s, body, _| {
                vec![
                    ("x-shopify-hmac-sha256", b64(&mac(hmac::HMAC_SHA256, s.as_bytes(), &[body]))),
                    ("x-shopify-topic", "orders/create".into()),
                    ("x-shopify-shop-domain", "acme.myshopify.com".into()),
                    ("x-shopify-webhook-id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".into()),
                    ("x-shopify-event-id", "98880550-7158-44d4-b7cd-2c97c8a091b5".into()),
                    ("x-shopify-api-version", "2024-07".into()),
                    ("content-type", "application/json".into()),
                ]
            },
            signature_header: "x-shopify-hmac-sha256",
            timestamped: false,
            token: false,
            // The delivery's id (kept by Shopify's retries); the event id, shared by every topic
            // one merchant action triggers, is an extension.
            expect: json!({"id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "type": "com.shopify.orders.create",
                "source": "https://acme.myshopify.com", "shopifyeventid": "98880550-7158-44d4-b7cd-2c97c8a091b5"}),
        },
        Case {
            name: "std",
            source: json!({"kind": "standard-webhooks", "bus": "hooks", "secret": WHSEC}),
            body: br#"{"type":"user.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52-5198-4599-803e-771906343485"}}"#.to_vec(),
            sign: |s, body, ts| {
                let t = ts.to_string();
                let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
                // A secret given without whsec_ is used as is: sign with the right key either way.
                let key = if s.starts_with("whsec_") { whsec_key(s) } else { s.as_bytes().to_vec() };
                let sig = b64(&mac(hmac::HMAC_SHA256, &key, &[id.as_bytes(), b".", t.as_bytes(), b".", body]));
                vec![
                    ("webhook-id", id.into()),
                    ("webhook-timestamp", t),
                    ("webhook-signature", format!("v1,{} v1,{sig}", b64(&[7u8; 32]))),
                    ("content-type", "application/json".into()),
                ]
            },
            signature_header: "webhook-signature",
            timestamped: true,
            token: false,
            expect: json!({"id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "time": "2022-11-03T20:26:10.344522Z"}),
        },
        Case {
            name: "generic",
            source: json!({"kind": "hmac", "bus": "hooks", "secret": SECRET, "header": "X-Signature",
                "algorithm": "sha512", "encoding": "base64", "prefix": "sha512=",
                "timestamp_header": "X-Timestamp", "signed_payload": "{timestamp}.{body}",
                "id_header": "X-Delivery", "type": "com.acme.thing", "source": "https://acme.example"}),
            body: br#"{"thing":1}"#.to_vec(),
            sign: |s, body, ts| {
                let t = ts.to_string();
                vec![
                    ("x-signature", format!("sha512={}", b64(&mac(hmac::HMAC_SHA512, s.as_bytes(), &[t.as_bytes(), b".", body])))),
                    ("x-timestamp", t),
                    ("x-delivery", "d-0001".into()),
                    ("content-type", "application/json".into()),
                ]
            },
            signature_header: "x-signature",
            timestamped: true,
            token: false,
            expect: json!({"id": "d-0001", "type": "com.acme.thing", "source": "https://acme.example"}),
        },
        Case {
            name: "ce",
            source: json!({"kind": "cloudevents", "bus": "hooks", "secret": SECRET}),
            body: br#"{"specversion":"1.0","id":"ce-1","source":"/sensors/7","type":"com.acme.reading","data":{"t":21.5}}"#.to_vec(),
            sign: |s, _, _| {
                vec![
                    ("authorization", format!("Bearer {s}")),
                    ("content-type", "application/cloudevents+json".into()),
                ]
            },
            signature_header: "authorization",
            timestamped: false,
            token: true,
            expect: json!({"id": "ce-1", "type": "com.acme.reading", "source": "/sensors/7"}),
        },
    ]
}

struct Hooks {
    srv: Server,
    c: reqwest::Client,
}

impl Hooks {
    async fn post(
        &self,
        name: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> reqwest::Response {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        self.c
            .post(format!("{}/v1/webhooks/{name}", self.srv.url))
            .headers(h)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn next_sequence(&self) -> u64 {
        let b = get_json(&self.c, &format!("{}/v1/buses/hooks", self.srv.url)).await;
        b["stats"]["next_sequence"].as_u64().unwrap()
    }

    async fn event(&self, seq: u64) -> Value {
        get_json(
            &self.c,
            &format!("{}/v1/buses/hooks/events/{seq}", self.srv.url),
        )
        .await
    }
}

async fn start(dir: &std::path::Path, extra: &[&str]) -> Hooks {
    let srv = Server::start(dir, extra);
    let c = client();
    let r = c
        .put(format!("{}/v1/buses/hooks", srv.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    Hooks { srv, c }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_verifies_maps_and_deduplicates() {
    let dir = tempfile::tempdir().unwrap();
    // A small event limit, so the 413 below is for a body the client can send whole before
    // the answer (a large one may be cut off by the early 413, failing the request instead).
    let h = start(&dir.path().join("data"), &["--max-event-size", "8KiB"]).await;
    for case in cases() {
        let name = case.name;
        let secret = if name == "std" { WHSEC } else { SECRET };
        let r =
            h.c.put(format!("{}/v1/sources/{name}", h.srv.url))
                .json(&case.source)
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), 201, "{name}: {}", r.text().await.unwrap());
        let ts = now();
        let before = h.next_sequence().await;

        // Refused, nothing stored: wrong signature (the body changed after signing), wrong
        // secret, missing signature header, stale timestamp.
        let signed = (case.sign)(secret, &case.body, ts);
        let mut tampered = case.body.clone();
        tampered.push(b' ');
        // (GitLab and a CloudEvents bearer send a shared token, which signs no bytes.)
        if !case.token {
            let p = problem(
                h.post(name, &signed, &tampered).await,
                401,
                &format!("{name}: tampered body"),
            )
            .await;
            assert_eq!(
                p["type"], "urn:railyard:problem:invalid-signature",
                "{name}: {p}"
            );
        }
        if name != "ce" {
            let wrong = if name == "std" {
                "whsec_bm90IHRoZSBzZWNyZXQgYXQgYWxsIQ=="
            } else {
                OTHER
            };
            problem(
                h.post(name, &(case.sign)(wrong, &case.body, ts), &case.body)
                    .await,
                401,
                &format!("{name}: wrong secret"),
            )
            .await;
        } else {
            problem(
                h.post(name, &(case.sign)(OTHER, &case.body, ts), &case.body)
                    .await,
                401,
                "ce: wrong bearer",
            )
            .await;
        }
        let missing: Vec<_> = signed
            .iter()
            .filter(|(k, _)| *k != case.signature_header)
            .cloned()
            .collect();
        problem(
            h.post(name, &missing, &case.body).await,
            401,
            &format!("{name}: missing signature header"),
        )
        .await;
        if case.timestamped {
            let stale = (case.sign)(secret, &case.body, ts - 3600);
            let p = problem(
                h.post(name, &stale, &case.body).await,
                401,
                &format!("{name}: stale"),
            )
            .await;
            assert!(
                p["detail"].as_str().unwrap().contains("tolerance"),
                "{name}: {p}"
            );
        }
        assert_eq!(
            h.next_sequence().await,
            before,
            "{name}: refused deliveries stored nothing"
        );

        // Valid: stored with the documented attributes.
        let r = h.post(name, &signed, &case.body).await;
        assert_eq!(r.status(), 200, "{name}");
        let text = r.text().await.unwrap();
        if name == "slack" {
            // Slack shows a response body to the user: the answer is an empty 200.
            assert_eq!(text, "", "slack");
        } else {
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["results"][0]["sequence"], before, "{name}: {body}");
        }
        assert_eq!(h.next_sequence().await, before + 1, "{name}");
        let ev = h.event(before).await;
        for (k, v) in case.expect.as_object().unwrap() {
            assert_eq!(&ev[k], v, "{name}: attribute {k} of {ev}");
        }
        if name != "ce" {
            let payload: Value = serde_json::from_slice(&case.body).unwrap();
            assert_eq!(ev["data"], payload, "{name}: data is the payload");
        }

        // The provider retries: acknowledged, not stored again.
        let again = (case.sign)(secret, &case.body, ts + 1);
        let r = h.post(name, &again, &case.body).await;
        assert_eq!(r.status(), 200, "{name}");
        if name != "slack" {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["results"][0]["duplicate"], true, "{name}: {body}");
        }
        assert_eq!(
            h.next_sequence().await,
            before + 1,
            "{name}: one event per delivery id"
        );
    }

    // GitHub's ping: answered, nothing stored.
    let before = h.next_sequence().await;
    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":292430182}"#;
    let mut headers = (cases()[0].sign)(SECRET, ping, 0);
    headers.retain(|(k, _)| *k != "x-github-event");
    headers.push(("x-github-event", "ping".into()));
    let r = h.post("gh", &headers, ping).await;
    assert_eq!(r.status(), 200);
    // Slack's url_verification: the challenge comes back.
    let challenge = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let ts = now();
    let r = h
        .post(
            "slack",
            &(cases()[3].sign)(SECRET, challenge, ts),
            challenge,
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
        "{text}"
    );
    // An unsigned url_verification is refused like any delivery.
    problem(
        h.post(
            "slack",
            &[("content-type", "application/json".into())],
            challenge,
        )
        .await,
        401,
        "unsigned challenge",
    )
    .await;
    assert_eq!(h.next_sequence().await, before, "handshakes store nothing");

    // The CloudEvents webhook handshake.
    let r =
        h.c.request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/webhooks/ce", h.srv.url),
        )
        .header("WebHook-Request-Origin", "eventemitter.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["webhook-allowed-origin"],
        "eventemitter.example.com"
    );
    assert!(r.headers()["allow"].to_str().unwrap().contains("POST"));

    // Unknown source: 404; over the size limit: 413.
    problem(h.post("nope", &[], b"{}").await, 404, "unknown source").await;
    let big = vec![b' '; 16 << 10];
    problem(
        h.post("gh", &(cases()[0].sign)(SECRET, &big, 0), &big)
            .await,
        413,
        "too large",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_api_keeps_secrets_and_ids_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut h = start(&data, &[]).await;
    let url = format!("{}/v1/sources/gh", h.srv.url);
    // Validation names the member.
    for (body, pointer) in [
        (json!({"bus": "hooks", "secret": "s"}), "/kind"),
        (
            json!({"kind": "bitbucket", "bus": "hooks", "secret": "s"}),
            "/kind",
        ),
        (
            json!({"kind": "github", "bus": "nope", "secret": "s"}),
            "/bus",
        ),
        (json!({"kind": "github", "bus": "hooks"}), "/secret"),
        (
            json!({"kind": "github", "bus": "hooks", "secret": "s", "dedup_window": "forever"}),
            "/dedup_window",
        ),
        (
            json!({"kind": "stripe", "bus": "hooks", "secret": "s", "tolerance": "soon"}),
            "/tolerance",
        ),
        (
            json!({"kind": "github", "bus": "hooks", "secret": "s", "colour": "red"}),
            "/colour",
        ),
        (
            json!({"kind": "hmac", "bus": "hooks", "secret": "s"}),
            "/header",
        ),
        (
            json!({"kind": "standard-webhooks", "bus": "hooks", "secret": "whsec_%%%"}),
            "/secret",
        ),
    ] {
        let r = h.c.put(&url).json(&body).send().await.unwrap();
        let p = problem(r, 400, &format!("{body}")).await;
        assert_eq!(p["errors"][0]["pointer"], pointer, "{body}: {p}");
    }
    let r = h
        .c
        .put(&url)
        .json(&json!({"kind": "github", "bus": "hooks", "secret": SECRET, "description": "app"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let got = get_json(&h.c, &url).await;
    assert!(!got.to_string().contains(SECRET), "{got}");
    assert_eq!(got["secret_set"], true);
    assert_eq!(got["webhook_path"], "/v1/webhooks/gh");
    // Written back as read (without the secret): the secret is kept.
    let mut doc = got.clone();
    for k in [
        "name",
        "created_at",
        "updated_at",
        "version",
        "secret_set",
        "webhook_path",
    ] {
        doc.as_object_mut().unwrap().remove(k);
    }
    let r = h.c.put(&url).json(&doc).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let list = get_json(&h.c, &format!("{}/v1/sources", h.srv.url)).await;
    assert_eq!(list["sources"][0]["name"], "gh");
    // The bus it feeds cannot be deleted from under it.
    let r =
        h.c.delete(format!("{}/v1/buses/hooks", h.srv.url))
            .send()
            .await
            .unwrap();
    problem(r, 409, "bus in use").await;

    let body =
        br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/acme/app"}}"#;
    let headers = (cases()[0].sign)(SECRET, body, 0);
    let r = h.post("gh", &headers, body).await;
    assert_eq!(r.status(), 200);
    let stored = h.next_sequence().await;
    // A delivery id is remembered across a restart.
    assert!(h.srv.terminate().success());
    let h = Hooks {
        srv: Server::start(&data, &[]),
        c: client(),
    };
    let r = h.post("gh", &headers, body).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["results"][0]["duplicate"], true, "{b}");
    let all = get_json(&h.c, &format!("{}/v1/buses/hooks/events", h.srv.url)).await;
    assert_eq!(h.next_sequence().await, stored, "{all}");
    let r =
        h.c.delete(format!("{}/v1/sources/gh", h.srv.url))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 204);
    problem(h.post("gh", &headers, body).await, 404, "deleted source").await;
}
