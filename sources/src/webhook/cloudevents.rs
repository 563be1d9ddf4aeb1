//! The `cloudevents` kind: a plain CloudEvents HTTP endpoint (binary, structured or batch mode)
//! behind a webhook name, for senders that already speak CloudEvents (Azure Event Grid, Knative,
//! another Railyard) but cannot be given a bus API key.
//!
//! Decoding is [`crate::ingest`]'s, unchanged: the same modes, validation and limits as
//! `POST /v1/buses/{bus}/events`, and the same errors (400, 413, 415). The events are stored as
//! sent; there is no mapping table, the sender chose every attribute.
//!
//! The secret is optional. With one, `Authorization: Bearer <secret>` is required (compared in
//! constant time; missing or wrong is 401, before the body is decoded). Without one, the endpoint
//! is open, as CloudEvents webhooks commonly are; the HTTP layer answers the CloudEvents abuse
//! protection handshake (`OPTIONS` with `WebHook-Request-Origin`).
//!
//! A batch is all or nothing here, unlike on the bus API: the answer to a webhook is one status
//! the sender retries on, so one bad entry refuses the request (with the entry's error, and its
//! index in the detail) rather than storing the rest and answering 200.

use super::{Outcome, Request, WebhookError, verify, verify_header};
use crate::ingest::{self, Decoded, IngestError, Limits};

/// Verifies the bearer token when there is a key, then decodes.
pub(super) fn receive(
    key: Option<&[u8]>,
    req: &Request<'_>,
    limits: &Limits,
) -> Result<Outcome, WebhookError> {
    if let Some(key) = key {
        verify::bearer(key, verify_header(req, "Authorization")?)?;
    }
    let mode = ingest::mode_of(req.headers)?;
    match ingest::decode(mode, req.headers, req.body.clone(), limits)? {
        Decoded::Single(ev) => Ok(Outcome::Events(vec![ev])),
        Decoded::Batch(entries) => {
            let mut events = Vec::with_capacity(entries.len());
            for entry in entries {
                match entry {
                    Ok(ev) => events.push(ev),
                    Err(e) => {
                        return Err(IngestError {
                            detail: format!("entry {}: {}", e.index, e.error.detail),
                            ..e.error
                        }
                        .into());
                    }
                }
            }
            Ok(Outcome::Events(events))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::super::{Provider, VerifyError};
    use super::*;

    const EVENT: &[u8] = br#"{"specversion":"1.0","id":"e-1","source":"/orders","type":"com.acme.order.created","data":{"n":1}}"#;

    fn structured(body: &'static [u8]) -> Delivery {
        let mut d = Delivery::new(body);
        d.header("Content-Type", "application/cloudevents+json");
        d
    }

    fn events(p: &Provider, key: Option<&[u8]>, d: &Delivery) -> Vec<bus::event::Event> {
        match p.receive(key, &d.request()).unwrap() {
            Outcome::Events(e) => e,
            Outcome::Reply { .. } => panic!("events expected"),
        }
    }

    #[test]
    fn open_endpoint_all_modes() {
        let p = provider("cloudevents", "{}");
        assert!(!p.secret_required());
        let ev = &events(&p, None, &structured(EVENT))[0];
        assert_eq!(ev.id, "e-1");
        assert_eq!(ev.ty, "com.acme.order.created");
        let mut binary = Delivery::new(br#"{"n":2}"#);
        binary
            .header("ce-specversion", "1.0")
            .header("ce-id", "e-2")
            .header("ce-source", "/orders")
            .header("ce-type", "com.acme.order.created")
            .header("Content-Type", "application/json");
        assert_eq!(events(&p, None, &binary)[0].id, "e-2");
        let mut batch = Delivery::new(
            br#"[{"specversion":"1.0","id":"a","source":"/s","type":"t"},{"specversion":"1.0","id":"b","source":"/s","type":"t"}]"#,
        );
        batch.header("Content-Type", "application/cloudevents-batch+json");
        let ids: Vec<String> = events(&p, None, &batch).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(
            p.body_limit(&batch.headers),
            Limits::default().max_batch_bytes
        );
        assert_eq!(
            p.body_limit(&binary.headers),
            Limits::default().max_event_bytes
        );
    }

    #[test]
    fn bearer_secret() {
        let p = provider("cloudevents", "{}");
        let key = p.key("s3cret-token").unwrap();
        let mut d = structured(EVENT);
        d.header("Authorization", "Bearer s3cret-token");
        assert_eq!(events(&p, Some(&key), &d)[0].id, "e-1");
        d.header("Authorization", "bearer s3cret-token");
        assert_eq!(events(&p, Some(&key), &d).len(), 1);
        for (value, want) in [
            (Some("Bearer wrong"), VerifyError::Mismatch),
            (Some("Bearer s3cret-toke"), VerifyError::Mismatch),
            (
                Some("Basic czNjcmV0LXRva2Vu"),
                VerifyError::Malformed {
                    header: "Authorization".into(),
                    reason: "it is not \"Bearer <token>\"".into(),
                },
            ),
            (None, VerifyError::Missing("Authorization".into())),
        ] {
            let mut d = structured(EVENT);
            if let Some(v) = value {
                d.header("Authorization", v);
            }
            match p.receive(Some(&key), &d.request()) {
                Err(WebhookError::Verify(e)) => assert_eq!(e, want),
                other => panic!("{value:?}: {other:?}"),
            }
        }
        // Verification before decoding: a bad token on a malformed body is still 401.
        let mut d = structured(b"not json");
        d.header("Authorization", "Bearer wrong");
        assert_eq!(
            p.receive(Some(&key), &d.request()).unwrap_err().status(),
            401
        );
        assert_eq!(p.key("tab\there").unwrap_err().pointer, "/secret");
    }

    #[test]
    fn ingest_errors_keep_their_status() {
        let p = provider("cloudevents", "{}");
        let status = |d: &Delivery| p.receive(None, &d.request()).unwrap_err().status();
        assert_eq!(status(&structured(b"{")), 400);
        assert_eq!(
            status(&structured(
                br#"{"specversion":"1.0","id":"","source":"/s","type":"t"}"#
            )),
            400
        );
        let mut plain = Delivery::new(b"{}");
        plain.header("Content-Type", "application/json");
        assert_eq!(status(&plain), 415);
        let mut batch = Delivery::new(
            br#"[{"specversion":"1.0","id":"a","source":"/s","type":"t"},{"specversion":"1.0","id":"b","source":"/s"}]"#,
        );
        batch.header("Content-Type", "application/cloudevents-batch+json");
        match p.receive(None, &batch.request()) {
            Err(WebhookError::Ingest(e)) => {
                assert_eq!(e.status(), 400);
                assert!(e.detail.starts_with("entry 1: "), "{}", e.detail);
            }
            other => panic!("{other:?}"),
        }
        let small = provider("cloudevents", "{}").with_limits(Limits {
            max_event_bytes: 64,
            ..Limits::default()
        });
        assert_eq!(
            small
                .receive(None, &structured(EVENT).request())
                .unwrap_err()
                .status(),
            413
        );
        assert_eq!(spec_error("cloudevents", r#"{"token":"x"}"#).0, "/token");
    }
}
