//! Shopify deliveries as CloudEvents (shopify.dev, "Webhooks delivery structure", "Verify
//! webhooks", "Ignore duplicate webhooks").
//!
//! Shopify's body is the bare resource (an order, a product), so everything about the event is
//! in headers; the mapping reads them and takes only the subject from the body.
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | `X-Shopify-Webhook-Id`, else `X-Shopify-Event-Id` |
//! | `type` | `com.shopify.<X-Shopify-Topic>` with `/` as `.`: `com.shopify.orders.create` |
//! | `source` | `https://<X-Shopify-Shop-Domain>` (`https://acme.myshopify.com`) |
//! | `subject` | the resource's `id` (`820982911946154508`), else absent |
//! | `time` | `X-Shopify-Triggered-At` when it is RFC 3339, else absent |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, byte for byte |
//! | `shopifyapiversion` | `X-Shopify-API-Version` (`2025-01`) |
//! | `shopifyeventid` | `X-Shopify-Event-Id` |
//!
//! Why the webhook id and not the event id: Shopify documents `X-Shopify-Event-Id` as shared by
//! every delivery one merchant action produces (an action that fires `products/create` and
//! `products/update` gives both the same event id), so deduplicating on it would drop distinct
//! events that arrive at the same source. `X-Shopify-Webhook-Id` is per delivery and kept on
//! retries ("use to identify and deduplicate individual deliveries"). The event id is kept as an
//! extension for correlation, and is the id only if a delivery lacks the webhook id.
//!
//! The secret is the app's client secret (or the one shown under Settings → Notifications →
//! Webhooks for a store's own webhooks); the signature is the base64 HMAC-SHA256 of the body.

use bus::event::{Event, ExtensionValue};

use super::{
    MapError, Outcome, Request, WebhookError, json_object, map_header, required_header, rfc3339,
    scalar_text, verify, verify_header,
};

/// Verifies `X-Shopify-Hmac-Sha256`, then maps.
pub(super) fn receive(key: &[u8], req: &Request<'_>) -> Result<Outcome, WebhookError> {
    verify::shopify(key, req.body, verify_header(req, "X-Shopify-Hmac-Sha256")?)?;
    Ok(map(req)?)
}

/// A shop domain: a DNS name (letters, digits, `-`, `.`).
fn domain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A topic: `orders/create`, `app/uninstalled`, `inventory_levels/update`.
fn topic(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'.'))
}

fn map(req: &Request<'_>) -> Result<Outcome, MapError> {
    let t = required_header(req, "X-Shopify-Topic")?;
    if !topic(t) {
        return Err(MapError::Header {
            header: "X-Shopify-Topic".into(),
            reason: format!("{t:?} is not a topic"),
        });
    }
    let shop = required_header(req, "X-Shopify-Shop-Domain")?;
    if !domain(shop) {
        return Err(MapError::Header {
            header: "X-Shopify-Shop-Domain".into(),
            reason: format!("{shop:?} is not a domain"),
        });
    }
    let event_id = map_header(req, "X-Shopify-Event-Id")?.filter(|v| !v.is_empty());
    let id = match map_header(req, "X-Shopify-Webhook-Id")?.filter(|v| !v.is_empty()) {
        Some(id) => id,
        None => event_id.ok_or(MapError::Missing("X-Shopify-Webhook-Id".into()))?,
    };
    let (payload, data) = json_object(req.body)?;
    let mut ev = Event::new(
        id,
        format!("https://{shop}"),
        format!("com.shopify.{}", t.replace('/', ".")),
    );
    ev.subject = payload.get("id").and_then(scalar_text);
    ev.time = map_header(req, "X-Shopify-Triggered-At")?.and_then(rfc3339);
    ev.datacontenttype = Some("application/json".into());
    ev.data = Some(data);
    if let Some(v) = map_header(req, "X-Shopify-API-Version")?.filter(|v| !v.is_empty()) {
        ev.extensions
            .insert("shopifyapiversion".into(), ExtensionValue::String(v.into()));
    }
    if let Some(e) = event_id {
        ev.extensions
            .insert("shopifyeventid".into(), ExtensionValue::String(e.into()));
    }
    Ok(Outcome::Events(vec![ev]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::*;

    const SECRET: &str = "shpss_0123456789abcdef0123456789abcdef";
    const ORDER: &[u8] = br#"{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508","email":"jon@example.com","total_price":"403.00"}"#;

    /// Signed as Shopify documents: base64 of the HMAC-SHA256 of the raw body.
    fn delivery(body: &'static [u8]) -> Delivery {
        let mut d = Delivery::new(body);
        d.header(
            "X-Shopify-Hmac-Sha256",
            &hmac_b64(ring::hmac::HMAC_SHA256, SECRET.as_bytes(), &[body]),
        )
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Shop-Domain", "acme.myshopify.com")
        .header("X-Shopify-API-Version", "2025-01")
        .header(
            "X-Shopify-Webhook-Id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        )
        .header("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5")
        .header("X-Shopify-Triggered-At", "2025-03-14T16:02:45.123456789Z")
        .header("Content-Type", "application/json");
        d
    }

    #[test]
    fn order_created() {
        let p = provider("shopify", "{}");
        let ev = one_event(&p, SECRET, &delivery(ORDER));
        assert_eq!(ev.id, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
        assert_eq!(ev.ty, "com.shopify.orders.create");
        assert_eq!(ev.source, "https://acme.myshopify.com");
        assert_eq!(ev.subject.as_deref(), Some("820982911946154508"));
        assert_eq!(ev.time.as_deref(), Some("2025-03-14T16:02:45.123456789Z"));
        assert_eq!(
            ev.extensions["shopifyapiversion"],
            ExtensionValue::String("2025-01".into())
        );
        assert_eq!(
            ev.extensions["shopifyeventid"],
            ExtensionValue::String("98880550-7158-44d4-b7cd-2c97c8a091b5".into())
        );
        assert_eq!(data_bytes(&ev), ORDER);
        // Without the webhook id the event id stands in; a time that is not RFC 3339 is dropped.
        let mut d = delivery(br#"{"shop_id":1}"#);
        d.remove("X-Shopify-Webhook-Id")
            .header("X-Shopify-Triggered-At", "yesterday")
            .header("X-Shopify-Topic", "app/uninstalled");
        let ev = one_event(&p, SECRET, &d);
        assert_eq!(ev.id, "98880550-7158-44d4-b7cd-2c97c8a091b5");
        assert_eq!(ev.ty, "com.shopify.app.uninstalled");
        assert_eq!(ev.time, None);
        assert_eq!(ev.subject, None);
    }

    #[test]
    fn refusals() {
        let p = provider("shopify", "{}");
        assert_verify(&p, "shpss_other", &delivery(ORDER), |e| {
            *e == verify::VerifyError::Mismatch
        });
        let mut d = delivery(ORDER);
        d.body = bytes::Bytes::from_static(br#"{"id":1,"total_price":"0.01"}"#);
        assert_status(&p, SECRET, &d, 401);
        let mut d = delivery(ORDER);
        d.remove("X-Shopify-Hmac-Sha256");
        assert_verify(
            &p,
            SECRET,
            &d,
            |e| matches!(e, verify::VerifyError::Missing(h) if h == "X-Shopify-Hmac-Sha256"),
        );
        // Hex where base64 belongs is malformed, still 401.
        let mut d = delivery(ORDER);
        let hex = hmac_sha256_hex(SECRET.as_bytes(), &[ORDER]);
        d.header("X-Shopify-Hmac-Sha256", &hex);
        assert_status(&p, SECRET, &d, 401);
        let mut d = delivery(ORDER);
        d.remove("X-Shopify-Topic");
        assert_map(&p, SECRET, &d, MapError::Missing("X-Shopify-Topic".into()));
        let mut d = delivery(ORDER);
        d.remove("X-Shopify-Shop-Domain");
        assert_map(
            &p,
            SECRET,
            &d,
            MapError::Missing("X-Shopify-Shop-Domain".into()),
        );
        let mut d = delivery(ORDER);
        d.header("X-Shopify-Shop-Domain", "evil.com/path");
        assert_status(&p, SECRET, &d, 400);
        let mut d = delivery(ORDER);
        d.remove("X-Shopify-Webhook-Id")
            .remove("X-Shopify-Event-Id");
        assert_map(
            &p,
            SECRET,
            &d,
            MapError::Missing("X-Shopify-Webhook-Id".into()),
        );
        assert_eq!(spec_error("shopify", r#"{"shop":"x"}"#).0, "/shop");
    }
}
