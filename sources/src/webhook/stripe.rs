//! Stripe deliveries as CloudEvents (docs.stripe.com, "Receive Stripe events in your webhook
//! endpoint" and the Event object).
//!
//! The body is a Stripe Event object, which already has everything a CloudEvent needs: an id that
//! Stripe keeps across retries, a type, a creation time. So the mapping reads the payload, not
//! headers; the only header is the signature.
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | the Event's `id` (`evt_…`, the same on every retry) |
//! | `type` | `com.stripe.<type>`: `com.stripe.invoice.paid`, `com.stripe.customer.subscription.created`; thin events keep their version prefix (`com.stripe.v1.billing.meter.error_report_triggered`) |
//! | `source` | `https://api.stripe.com/v1/accounts/<account>` for a Connect event (`account`, or a thin event's `context`), else `https://api.stripe.com` |
//! | `subject` | `data.object.id` (`in_…`, `cus_…`), else a thin event's `related_object.id`, else absent |
//! | `time` | `created` (Unix seconds, or a thin event's RFC 3339 string) |
//! | `datacontenttype` | `application/json` |
//! | `data` | the Event object, byte for byte |
//! | `stripeapiversion` | `api_version`, when present |
//! | `stripelivemode` | `livemode` (boolean), when present |
//!
//! Options: `tolerance`, the largest distance between the signature's `t=` and now (seconds, or
//! a duration such as `"5m"`; default 300 s, Stripe's libraries' default; at most 1 h).

use bus::event::{Event, ExtensionValue};
use serde_json::Value;

use super::spec::Opts;
use super::{
    MapError, Outcome, Request, SpecError, WebhookError, json_object, rfc3339, type_segment,
    unix_time, verify, verify_header,
};

/// The options of a `stripe` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seconds between `t=` and now beyond which a delivery is refused.
    pub tolerance: i64,
}

impl Options {
    pub(super) fn parse(opts: &mut Opts) -> Result<Options, SpecError> {
        Ok(Options {
            tolerance: opts.tolerance()?,
        })
    }

    /// Verifies `Stripe-Signature` (any `v1`, `t` within the tolerance), then maps.
    pub(super) fn receive(&self, key: &[u8], req: &Request<'_>) -> Result<Outcome, WebhookError> {
        verify::stripe(
            key,
            req.body,
            verify_header(req, "Stripe-Signature")?,
            req.now,
            self.tolerance,
        )?;
        Ok(map(req)?)
    }
}

fn account_source(account: &str) -> Option<String> {
    type_segment(account).then(|| format!("https://api.stripe.com/v1/accounts/{account}"))
}

fn map(req: &Request<'_>) -> Result<Outcome, MapError> {
    let (payload, data) = json_object(req.body)?;
    let id = payload
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| MapError::Payload("is not a Stripe Event: it has no id".into()))?;
    let kind = payload
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| MapError::Payload("is not a Stripe Event: it has no type".into()))?;
    if !type_segment(kind) {
        return Err(MapError::Payload(format!(
            "has the type {kind:?}, which is not an event type"
        )));
    }
    let source = payload
        .get("account")
        .or_else(|| payload.get("context"))
        .and_then(Value::as_str)
        .and_then(account_source)
        .unwrap_or_else(|| "https://api.stripe.com".to_owned());
    let mut ev = Event::new(id, source, format!("com.stripe.{kind}"));
    let payload = Value::Object(payload);
    ev.subject = payload
        .pointer("/data/object/id")
        .or_else(|| payload.pointer("/related_object/id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    ev.time = match payload.get("created") {
        Some(Value::Number(n)) => n.as_i64().and_then(unix_time),
        Some(Value::String(s)) => rfc3339(s),
        _ => None,
    };
    ev.datacontenttype = Some("application/json".into());
    if let Some(v) = payload.get("api_version").and_then(Value::as_str) {
        ev.extensions
            .insert("stripeapiversion".into(), ExtensionValue::String(v.into()));
    }
    if let Some(live) = payload.get("livemode").and_then(Value::as_bool) {
        ev.extensions
            .insert("stripelivemode".into(), ExtensionValue::Boolean(live));
    }
    ev.data = Some(data);
    Ok(Outcome::Events(vec![ev]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::*;

    const SECRET: &str = "whsec_test_8RqVZpL3nK2mX9aT";
    const T: i64 = 1_700_000_000;

    const INVOICE_PAID: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2023-10-16","created":1686089970,"data":{"object":{"id":"in_1NG8Dt2eZvKYlo2C","object":"invoice","status":"paid"}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"invoice.paid"}"#;

    /// A delivery signed the way Stripe documents: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
    fn delivery(body: &'static [u8], t: i64, secret: &str) -> Delivery {
        let v1 = hmac_sha256_hex(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
        let mut d = Delivery::new(body);
        d.header("Stripe-Signature", &format!("t={t},v1={v1}"));
        d.header("Content-Type", "application/json; charset=utf-8");
        d.now = t + 5;
        d
    }

    #[test]
    fn invoice_paid() {
        let p = provider("stripe", "{}");
        let ev = one_event(&p, SECRET, &delivery(INVOICE_PAID, T, SECRET));
        assert_eq!(ev.id, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(ev.ty, "com.stripe.invoice.paid");
        assert_eq!(ev.source, "https://api.stripe.com");
        assert_eq!(ev.subject.as_deref(), Some("in_1NG8Dt2eZvKYlo2C"));
        assert_eq!(ev.time.as_deref(), Some("2023-06-06T22:19:30Z"));
        assert_eq!(
            ev.extensions["stripeapiversion"],
            ExtensionValue::String("2023-10-16".into())
        );
        assert_eq!(
            ev.extensions["stripelivemode"],
            ExtensionValue::Boolean(false)
        );
        assert_eq!(data_bytes(&ev), INVOICE_PAID);
    }

    #[test]
    fn connect_thin_and_rolled_secrets() {
        let p = provider("stripe", "{}");
        let connect = br#"{"id":"evt_2","object":"event","account":"acct_1032D82eZvKYlo2C","created":1700000000,"data":{"object":{"id":"cus_9"}},"livemode":true,"type":"customer.created"}"#;
        let ev = one_event(&p, SECRET, &delivery(connect, T, SECRET));
        assert_eq!(
            ev.source,
            "https://api.stripe.com/v1/accounts/acct_1032D82eZvKYlo2C"
        );
        assert_eq!(ev.subject.as_deref(), Some("cus_9"));
        assert_eq!(
            ev.extensions["stripelivemode"],
            ExtensionValue::Boolean(true)
        );
        let thin = br#"{"id":"evt_test_65R9","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","livemode":false,"created":"2024-09-17T06:20:52.246Z","related_object":{"id":"mtr_test_61R9","type":"billing.meter"}}"#;
        let ev = one_event(&p, SECRET, &delivery(thin, T, SECRET));
        assert_eq!(ev.ty, "com.stripe.v1.billing.meter.error_report_triggered");
        assert_eq!(ev.time.as_deref(), Some("2024-09-17T06:20:52.246Z"));
        assert_eq!(ev.subject.as_deref(), Some("mtr_test_61R9"));
        // During a secret roll Stripe signs with both secrets: any v1 may match.
        let mut d = delivery(INVOICE_PAID, T, SECRET);
        let old = hmac_sha256_hex(
            b"whsec_old",
            &[T.to_string().as_bytes(), b".", INVOICE_PAID],
        );
        let new = d.headers["Stripe-Signature"].to_str().unwrap().to_owned();
        d.header("Stripe-Signature", &format!("{new},v1={old}"));
        one_event(&p, "whsec_old", &d);
        one_event(&p, SECRET, &d);
    }

    #[test]
    fn refusals() {
        let p = provider("stripe", "{}");
        assert_verify(&p, "whsec_other", &delivery(INVOICE_PAID, T, SECRET), |e| {
            *e == verify::VerifyError::Mismatch
        });
        let mut d = delivery(INVOICE_PAID, T, SECRET);
        d.body = bytes::Bytes::from_static(br#"{"id":"evt_forged","type":"invoice.paid"}"#);
        assert_status(&p, SECRET, &d, 401);
        let mut d = delivery(INVOICE_PAID, T, SECRET);
        d.now = T + 301;
        assert_verify(&p, SECRET, &d, |e| {
            matches!(
                e,
                verify::VerifyError::Stale {
                    age: 301,
                    tolerance: 300
                }
            )
        });
        // A timestamp in the future is as stale as one in the past.
        d.now = T - 301;
        assert_status(&p, SECRET, &d, 401);
        let mut d = delivery(INVOICE_PAID, T, SECRET);
        d.remove("Stripe-Signature");
        assert_verify(
            &p,
            SECRET,
            &d,
            |e| matches!(e, verify::VerifyError::Missing(h) if h == "Stripe-Signature"),
        );
        // The tolerance is an option.
        let lenient = provider("stripe", r#"{"tolerance":"10m"}"#);
        let mut d = delivery(INVOICE_PAID, T, SECRET);
        d.now = T + 599;
        one_event(&lenient, SECRET, &d);
        // Authentic but not an Event: 400.
        assert_status(&p, SECRET, &delivery(br#"{"type":"x"}"#, T, SECRET), 400);
        assert_status(&p, SECRET, &delivery(br#"{"id":"evt_1"}"#, T, SECRET), 400);
        assert_status(&p, SECRET, &delivery(b"[]", T, SECRET), 400);
    }

    #[test]
    fn tolerance_option() {
        let tol = |o: &str| match provider("stripe", o).kind {
            super::super::Kind::Stripe(o) => o.tolerance,
            _ => unreachable!(),
        };
        assert_eq!(tol("{}"), 300);
        assert_eq!(tol(r#"{"tolerance":600}"#), 600);
        assert_eq!(tol(r#"{"tolerance":"5m"}"#), 300);
        assert_eq!(tol(r#"{"tolerance":"1m 30s"}"#), 90);
        assert_eq!(tol(r#"{"tolerance":null}"#), 300);
        for bad in [
            r#"{"tolerance":0}"#,
            r#"{"tolerance":-5}"#,
            r#"{"tolerance":1.5}"#,
            r#"{"tolerance":"2h"}"#,
            r#"{"tolerance":"1500ms"}"#,
            r#"{"tolerance":"soon"}"#,
            r#"{"tolerance":true}"#,
        ] {
            assert_eq!(spec_error("stripe", bad).0, "/tolerance", "{bad}");
        }
        assert_eq!(spec_error("stripe", r#"{"tolerence":300}"#).0, "/tolerence");
        // The common members are the server's, not unknown options.
        provider(
            "stripe",
            r#"{"kind":"stripe","bus":"b","secret":"s","description":"d","dedup_window":"1h","enabled":true}"#,
        );
    }
}
