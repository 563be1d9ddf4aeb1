//! Standard Webhooks deliveries as CloudEvents (standardwebhooks.com, the specification).
//!
//! Standard Webhooks is what Svix, OpenAI, Resend, Clerk and others send: `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` headers, a `whsec_` secret whose base64 tail is
//! the key, and a JSON payload `{"type", "timestamp", "data"}`. The sender is not one provider,
//! so the `source` is configurable.
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | `webhook-id` (`msg_…`; the spec requires it to stay the same on retries) |
//! | `type` | `type_prefix` followed by the payload's `type`: `user.created`, or `com.example.user.created` with `"type_prefix": "com.example."` |
//! | `source` | the `source` option, else `/webhooks/<source name>` |
//! | `subject` | absent (the payload's `data` has no standard shape) |
//! | `time` | the payload's `timestamp` when it is RFC 3339, else `webhook-timestamp` |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, byte for byte |
//!
//! Options: `tolerance` (seconds or a duration; default 300 s, the spec's five minutes; at most
//! 1 h), `type_prefix` (default none), `source` (a URI-reference).

use bus::event::Event;
use serde_json::Value;

use super::spec::Opts;
use super::{
    MapError, Outcome, Request, SpecError, WebhookError, json_object, required_header, rfc3339,
    unix_time, verify, verify_header,
};

/// The options of a `standard-webhooks` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seconds between `webhook-timestamp` and now beyond which a delivery is refused.
    pub tolerance: i64,
    /// Put before the payload's `type`.
    pub type_prefix: String,
    /// The `source` attribute; `/webhooks/<name>` when absent.
    pub source: Option<String>,
}

impl Options {
    pub(super) fn parse(opts: &mut Opts) -> Result<Options, SpecError> {
        Ok(Options {
            tolerance: opts.tolerance()?,
            type_prefix: opts.string("type_prefix")?.unwrap_or_default(),
            source: opts.source("source")?,
        })
    }

    /// Verifies `webhook-signature` (any `v1`) over id, timestamp and body, then maps.
    pub(super) fn receive(&self, key: &[u8], req: &Request<'_>) -> Result<Outcome, WebhookError> {
        verify::standard(
            key,
            req.body,
            verify_header(req, "webhook-id")?,
            verify_header(req, "webhook-timestamp")?,
            verify_header(req, "webhook-signature")?,
            req.now,
            self.tolerance,
        )?;
        Ok(self.map(req)?)
    }

    fn map(&self, req: &Request<'_>) -> Result<Outcome, MapError> {
        let id = required_header(req, "webhook-id")?;
        let (payload, data) = json_object(req.body)?;
        let kind = payload
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                MapError::Payload("has no type (Standard Webhooks requires one)".into())
            })?;
        let source = match &self.source {
            Some(s) => s.clone(),
            None => format!("/webhooks/{}", req.source),
        };
        let mut ev = Event::new(id, source, format!("{}{kind}", self.type_prefix));
        ev.time = payload
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(rfc3339)
            .or_else(|| {
                required_header(req, "webhook-timestamp")
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .and_then(unix_time)
            });
        ev.datacontenttype = Some("application/json".into());
        ev.data = Some(data);
        Ok(Outcome::Events(vec![ev]))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::*;
    use base64::Engine as _;

    /// The secret of the Standard Webhooks reference libraries' test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const TS: i64 = 1_614_265_330;
    const USER_CREATED: &[u8] = br#"{"type":"user.created","timestamp":"2021-02-25T15:02:10.123Z","data":{"id":"user_1","email":"a@example.com"}}"#;

    fn key() -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&SECRET["whsec_".len()..])
            .unwrap()
    }

    fn delivery(body: &'static [u8]) -> Delivery {
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let sig = hmac_b64(
            ring::hmac::HMAC_SHA256,
            &key(),
            &[id.as_bytes(), b".", TS.to_string().as_bytes(), b".", body],
        );
        let mut d = Delivery::new(body);
        d.header("webhook-id", id)
            .header("webhook-timestamp", &TS.to_string())
            .header("webhook-signature", &format!("v1,{sig}"))
            .header("Content-Type", "application/json");
        d.now = TS + 10;
        d
    }

    #[test]
    fn user_created() {
        let p = provider("standard-webhooks", "{}");
        let ev = one_event(&p, SECRET, &delivery(USER_CREATED));
        assert_eq!(ev.id, "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(ev.ty, "user.created");
        assert_eq!(ev.source, "/webhooks/my-hook");
        assert_eq!(ev.time.as_deref(), Some("2021-02-25T15:02:10.123Z"));
        assert_eq!(ev.subject, None);
        assert_eq!(data_bytes(&ev), USER_CREATED);
        let p = provider(
            "standard-webhooks",
            r#"{"type_prefix":"com.example.","source":"https://api.example.com","tolerance":"1m"}"#,
        );
        let ev = one_event(&p, SECRET, &delivery(USER_CREATED));
        assert_eq!(ev.ty, "com.example.user.created");
        assert_eq!(ev.source, "https://api.example.com");
        // No usable timestamp in the payload: the signed header's.
        let ev = one_event(
            &p,
            SECRET,
            &delivery(br#"{"type":"ping","timestamp":"now"}"#),
        );
        assert_eq!(ev.time.as_deref(), Some("2021-02-25T15:02:10Z"));
    }

    #[test]
    fn published_vector_verifies_then_maps() {
        // The reference libraries' vector: it verifies (no 401), and its payload has no type,
        // which a Standard Webhooks payload must have (400).
        let body = br#"{"test": 2432232314}"#;
        let mut d = Delivery::new(body);
        d.header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
            .header("webhook-timestamp", "1614265330")
            .header(
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            );
        d.now = TS;
        let p = provider("standard-webhooks", "{}");
        assert_status(&p, SECRET, &d, 400);
        d.now = TS + 301;
        assert_status(&p, SECRET, &d, 401);
    }

    #[test]
    fn refusals() {
        let p = provider("standard-webhooks", "{}");
        assert_verify(
            &p,
            "whsec_dGhpcyBpcyBhbm90aGVyIGtleQ==",
            &delivery(USER_CREATED),
            |e| *e == verify::VerifyError::Mismatch,
        );
        for h in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut d = delivery(USER_CREATED);
            d.remove(h);
            assert_verify(
                &p,
                SECRET,
                &d,
                |e| matches!(e, verify::VerifyError::Missing(m) if m == h),
            );
        }
        // The id is signed: another id with the same signature fails.
        let mut d = delivery(USER_CREATED);
        d.header("webhook-id", "msg_other");
        assert_status(&p, SECRET, &d, 401);
        let mut d = delivery(USER_CREATED);
        d.now = TS - 400;
        assert_verify(&p, SECRET, &d, |e| {
            matches!(e, verify::VerifyError::Stale { .. })
        });
        // Several signatures, one of them right.
        let mut d = delivery(USER_CREATED);
        let good = d.headers["webhook-signature"].to_str().unwrap().to_owned();
        d.header(
            "webhook-signature",
            &format!("v1a,c29tZXRoaW5n v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {good}"),
        );
        one_event(&p, SECRET, &d);
        // Secrets and options.
        assert_eq!(p.key("whsec_not base64!").unwrap_err().pointer, "/secret");
        assert_eq!(p.key("whsec_").unwrap_err().pointer, "/secret");
        assert_eq!(p.key("").unwrap_err().pointer, "/secret");
        assert_eq!(p.key(SECRET).unwrap(), key());
        assert_eq!(
            spec_error("standard-webhooks", r#"{"source":"not a uri"}"#).0,
            "/source"
        );
        assert_eq!(
            spec_error("standard-webhooks", r#"{"type_prefix":7}"#).0,
            "/type_prefix"
        );
    }
}
