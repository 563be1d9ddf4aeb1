#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The providers' published test vectors where they give them, and each way a delivery is
//! refused: wrong signature, wrong secret, missing header, stale timestamp.

use super::verify::*;

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut c = ring::hmac::Context::with_key(&k);
    for p in parts {
        c.update(p);
    }
    c.sign()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn github_documented_vector() {
    // docs.github.com, "Validating webhook deliveries": secret, payload and expected signature.
    let secret = b"It's a Secret to Everybody";
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(github(secret, b"Hello, World!", Some(sig)), Ok(()));
    assert_eq!(
        github(secret, b"Hello, World?", Some(sig)),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        github(b"wrong", b"Hello, World!", Some(sig)),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        github(secret, b"Hello, World!", None),
        Err(VerifyError::Missing("X-Hub-Signature-256".into()))
    );
    assert!(matches!(
        github(secret, b"Hello, World!", Some("sha1=abc")),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn slack_documented_vector() {
    // api.slack.com, "Verifying requests from Slack": the worked example.
    let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let ts = "1531420618";
    assert_eq!(
        slack(secret, body, Some(sig), Some(ts), 1_531_420_618, 300),
        Ok(())
    );
    assert_eq!(
        slack(secret, body, Some(sig), Some(ts), 1_531_420_618 + 301, 300),
        Err(VerifyError::Stale {
            age: 301,
            tolerance: 300
        })
    );
    assert_eq!(
        slack(
            secret,
            body,
            Some(sig),
            Some("1531420619"),
            1_531_420_619,
            300
        ),
        Err(VerifyError::Mismatch),
        "the timestamp is signed"
    );
    assert_eq!(
        slack(secret, body, Some(sig), None, 1_531_420_618, 300),
        Err(VerifyError::Missing("X-Slack-Request-Timestamp".into()))
    );
}

#[test]
fn standard_webhooks_documented_vector() {
    // The Standard Webhooks reference libraries' test vector.
    let key = standard_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = br#"{"test": 2432232314}"#;
    let id = Some("msg_p5jXN8AQM9LWM0D4loKWxJek");
    let ts = Some("1614265330");
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(
        standard(&key, body, id, ts, Some(good), 1_614_265_330, 300),
        Ok(())
    );
    // Several signatures (a secret roll): any may match.
    let several = format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {good}");
    assert_eq!(
        standard(&key, body, id, ts, Some(&several), 1_614_265_330, 300),
        Ok(())
    );
    assert_eq!(
        standard(
            &key,
            body,
            Some("msg_other"),
            ts,
            Some(good),
            1_614_265_330,
            300
        ),
        Err(VerifyError::Mismatch)
    );
    assert!(matches!(
        standard(&key, body, id, ts, Some(good), 1_614_265_330 + 600, 300),
        Err(VerifyError::Stale { .. })
    ));
    assert_eq!(
        standard(&key, body, id, None, Some(good), 1_614_265_330, 300),
        Err(VerifyError::Missing("webhook-timestamp".into()))
    );
}

#[test]
fn stripe_signatures() {
    // Stripe documents the algorithm, not a vector: t=<unix>, v1 = hex HMAC-SHA256 of "<t>.<body>".
    let secret = b"whsec_test_secret";
    let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    let t = 1_700_000_000i64;
    let v1 = hmac_hex(secret, &[t.to_string().as_bytes(), b".", body]);
    let header = format!("t={t},v1=deadbeef,v1={v1},v0=ignored");
    assert_eq!(stripe(secret, body, Some(&header), t + 10, 300), Ok(()));
    assert!(matches!(
        stripe(secret, body, Some(&header), t + 301, 300),
        Err(VerifyError::Stale { .. })
    ));
    assert_eq!(
        stripe(b"other", body, Some(&header), t, 300),
        Err(VerifyError::Mismatch)
    );
    assert!(matches!(
        stripe(secret, body, Some("v1=abcd"), t, 300),
        Err(VerifyError::Malformed { .. })
    ));
    assert_eq!(
        stripe(secret, body, None, t, 300),
        Err(VerifyError::Missing("Stripe-Signature".into()))
    );
}

#[test]
fn shopify_gitlab_and_generic() {
    let body = br#"{"id":1}"#;
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"shpss_secret");
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        ring::hmac::sign(&k, body).as_ref(),
    );
    assert_eq!(shopify(b"shpss_secret", body, Some(&b64)), Ok(()));
    assert_eq!(
        shopify(b"nope", body, Some(&b64)),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(gitlab(b"tok", Some("tok")), Ok(()));
    assert_eq!(gitlab(b"tok", Some("tok2")), Err(VerifyError::Mismatch));
    assert_eq!(
        gitlab(b"tok", None),
        Err(VerifyError::Missing("X-Gitlab-Token".into()))
    );
    let sig = format!("sha256={}", hmac_hex(b"k", &[body]));
    assert_eq!(
        generic(
            Algorithm::Sha256,
            Encoding::Hex,
            "sha256=",
            b"k",
            &[body],
            "X-Signature",
            Some(&sig)
        ),
        Ok(())
    );
    assert!(matches!(
        generic(
            Algorithm::Sha512,
            Encoding::Hex,
            "sha256=",
            b"k",
            &[body],
            "X-Signature",
            Some(&sig)
        ),
        Err(VerifyError::Mismatch | VerifyError::Malformed { .. })
    ));
}

#[test]
fn bearer_tokens() {
    assert_eq!(bearer(b"tok", Some("Bearer tok")), Ok(()));
    assert_eq!(bearer(b"tok", Some("BEARER  tok ")), Ok(()));
    assert_eq!(
        bearer(b"tok", Some("Bearer tok2")),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(bearer(b"tok", Some("Bearer ")), Err(VerifyError::Mismatch));
    assert!(matches!(
        bearer(b"tok", Some("tok")),
        Err(VerifyError::Malformed { .. })
    ));
    assert_eq!(
        bearer(b"tok", None),
        Err(VerifyError::Missing("Authorization".into()))
    );
}

#[test]
fn registry() {
    use super::{KINDS, Provider, Request};
    let min = |kind: &str| -> serde_json::Map<String, serde_json::Value> {
        match kind {
            "hmac" => serde_json::from_str(r#"{"header":"X-Sig"}"#).unwrap(),
            _ => serde_json::Map::new(),
        }
    };
    for kind in KINDS {
        let p = Provider::parse(kind, &min(kind)).unwrap();
        assert_eq!(p.kind(), *kind);
        assert_eq!(p.secret_required(), *kind != "cloudevents");
        assert_eq!(p.key("").unwrap_err().pointer, "/secret");
        if p.secret_required() {
            // No key configured: refused (401), never accepted unverified.
            let headers = http::HeaderMap::new();
            let body = bytes::Bytes::from_static(b"{}");
            let req = Request {
                headers: &headers,
                body: &body,
                now: 0,
                source: "s",
            };
            let e = p.receive(None, &req).unwrap_err();
            assert_eq!(e.status(), 401, "{kind}");
            assert!(matches!(e, super::WebhookError::Verify(VerifyError::NoKey)));
        }
    }
    let e = Provider::parse("bitbucket", &serde_json::Map::new()).unwrap_err();
    assert_eq!(e.pointer, "/kind");
    assert!(e.reason.contains("github"), "{}", e.reason);
}
