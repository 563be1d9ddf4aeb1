//! GitHub deliveries as CloudEvents (docs.github.com, "Webhook events and payloads").
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | `X-GitHub-Delivery` (GitHub's delivery GUID; a redelivery keeps it) |
//! | `type` | `com.github.<X-GitHub-Event>` and `.<action>` when the payload has one (`com.github.pull_request.opened`) |
//! | `source` | the repository's `html_url`, else the organization's, else `https://github.com` |
//! | `subject` | the pull request or issue number, the ref of a push, else absent |
//! | `time` | absent (GitHub sends none; the bus records the ingestion time) |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, byte for byte |
//! | `githubhookid` | `X-GitHub-Hook-ID`, when sent |
//!
//! The `ping` event GitHub sends when a webhook is created is answered 200 (`{"ok":true}`)
//! without an event, after its signature is verified like any delivery's.
//!
//! The id is the delivery GUID rather than anything in the payload because GitHub's payloads have
//! no event id, and a redelivery (automatic or from the UI) keeps the GUID, which is what the
//! server's dedup needs.

use std::borrow::Cow;

use bus::event::{Data, Event, ExtensionValue};
use bytes::Bytes;
use serde_json::value::RawValue;

use super::{
    MapError, Outcome, Request, WebhookError, map_header, required_header, type_segment, verify,
    verify_header,
};

/// Verifies `X-Hub-Signature-256`, then maps.
pub(super) fn receive(key: &[u8], req: &Request<'_>) -> Result<Outcome, WebhookError> {
    verify::github(key, req.body, verify_header(req, "X-Hub-Signature-256")?)?;
    Ok(map(req)?)
}

fn map(req: &Request<'_>) -> Result<Outcome, MapError> {
    let kind = required_header(req, "X-GitHub-Event")?;
    if kind == "ping" {
        return Ok(Outcome::Reply {
            status: 200,
            content_type: "application/json",
            body: Bytes::from_static(br#"{"ok":true}"#),
        });
    }
    if !type_segment(kind) {
        return Err(MapError::Header {
            header: "X-GitHub-Event".into(),
            reason: format!("{kind:?} is not an event name"),
        });
    }
    let id = required_header(req, "X-GitHub-Delivery")?;
    let head = Head::read(req.body)?;
    let data =
        Data::json_shared(req.body.clone()).map_err(|e| MapError::Payload(format!("{e}")))?;
    let mut ty = format!("com.github.{kind}");
    if let Some(action) = head.action.and_then(text).filter(|a| type_segment(a)) {
        ty.push('.');
        ty.push_str(&action);
    }
    let source = head
        .repository
        .and_then(html_url)
        .or_else(|| head.organization.and_then(html_url));
    let mut ev = Event::new(id, source.as_deref().unwrap_or("https://github.com"), ty);
    ev.subject = head
        .pull_request
        .and_then(number)
        .or_else(|| head.issue.and_then(number))
        .or_else(|| head.git_ref.and_then(text).map(Cow::into_owned));
    ev.datacontenttype = Some("application/json".into());
    ev.data = Some(data);
    if let Some(h) = map_header(req, "X-GitHub-Hook-ID")?.filter(|h| !h.is_empty()) {
        ev.extensions
            .insert("githubhookid".into(), ExtensionValue::String(h.to_owned()));
    }
    Ok(Outcome::Events(vec![ev]))
}

/// The members of a payload the mapping reads, each kept as raw JSON and read leniently
/// afterwards (a member of an unexpected type is ignored, as if absent). Reading these few
/// members, rather than the payload as a tree, keeps the 1 KiB-and-up body from being copied
/// into a map of strings per delivery.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    action: Option<&'a RawValue>,
    #[serde(borrow, default)]
    repository: Option<&'a RawValue>,
    #[serde(borrow, default)]
    organization: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pull_request: Option<&'a RawValue>,
    #[serde(borrow, default)]
    issue: Option<&'a RawValue>,
    #[serde(rename = "ref", borrow, default)]
    git_ref: Option<&'a RawValue>,
}

impl<'a> Head<'a> {
    fn read(body: &'a [u8]) -> Result<Head<'a>, MapError> {
        // A struct also deserializes from an array: only an object is a payload.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(MapError::Payload("is not a JSON object".into()));
        }
        serde_json::from_slice(body).map_err(|e| MapError::Payload(format!("is not JSON ({e})")))
    }
}

/// A JSON string's text.
fn text<'a>(raw: &'a RawValue) -> Option<Cow<'a, str>> {
    serde_json::from_str::<Cow<'a, str>>(raw.get()).ok()
}

/// `html_url` of an object.
fn html_url(raw: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Url<'a> {
        #[serde(borrow, default)]
        html_url: Option<&'a RawValue>,
    }
    let u: Url<'_> = serde_json::from_str(raw.get()).ok()?;
    u.html_url.and_then(text).map(Cow::into_owned)
}

/// `number` of an object, as written.
fn number(raw: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Num<'a> {
        #[serde(borrow, default)]
        number: Option<&'a RawValue>,
    }
    let n: Num<'_> = serde_json::from_str(raw.get()).ok()?;
    n.number.map(|r| r.get().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::*;

    const SECRET: &str = "It's a Secret to Everybody";

    fn delivery(event: &str, body: &'static [u8]) -> Delivery {
        let mut d = Delivery::new(body);
        d.header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .header("X-GitHub-Hook-ID", "42")
            .header(
                "X-Hub-Signature-256",
                &format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), &[body])),
            );
        d
    }

    #[test]
    fn pull_request_push_and_ping() {
        let p = provider("github", "{}");
        let body = br#"{"action":"opened","number":7,"pull_request":{"number":7},"repository":{"html_url":"https://github.com/acme/app"}}"#;
        let ev = one_event(&p, SECRET, &delivery("pull_request", body));
        assert_eq!(ev.ty, "com.github.pull_request.opened");
        assert_eq!(ev.source, "https://github.com/acme/app");
        assert_eq!(ev.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(ev.subject.as_deref(), Some("7"));
        assert_eq!(ev.time, None);
        assert_eq!(
            ev.extensions["githubhookid"],
            ExtensionValue::String("42".into())
        );
        assert_eq!(data_bytes(&ev), body);

        let push =
            br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/acme/app"}}"#;
        let ev = one_event(&p, SECRET, &delivery("push", push));
        assert_eq!(ev.ty, "com.github.push");
        assert_eq!(ev.subject.as_deref(), Some("refs/heads/main"));

        let org =
            br#"{"action":"member_added","organization":{"html_url":"https://github.com/acme"}}"#;
        let ev = one_event(&p, SECRET, &delivery("organization", org));
        assert_eq!(ev.source, "https://github.com/acme");
        assert_eq!(ev.subject, None);

        let ping = br#"{"zen":"Keep it logically awesome.","hook_id":42}"#;
        match receive_with(&p, SECRET, &delivery("ping", ping)).unwrap() {
            Outcome::Reply { status, body, .. } => {
                assert_eq!(status, 200);
                assert_eq!(&body[..], br#"{"ok":true}"#);
            }
            Outcome::Events(_) => panic!("ping stores nothing"),
        }
    }

    #[test]
    fn refusals() {
        let p = provider("github", "{}");
        let body: &'static [u8] = br#"{"ref":"refs/heads/main"}"#;
        // Wrong secret, tampered body, missing signature: 401, also for a ping.
        assert_status(&p, "wrong", &delivery("push", body), 401);
        let mut d = delivery("push", body);
        d.body = Bytes::from_static(br#"{"ref":"refs/heads/evil"}"#);
        assert_status(&p, SECRET, &d, 401);
        let mut d = delivery("ping", b"{}");
        d.remove("X-Hub-Signature-256");
        assert_verify(
            &p,
            SECRET,
            &d,
            |e| matches!(e, verify::VerifyError::Missing(h) if h == "X-Hub-Signature-256"),
        );
        // The signature given twice is refused, not resolved.
        let mut d = delivery("push", body);
        d.append("X-Hub-Signature-256", "sha256=00");
        assert_status(&p, SECRET, &d, 401);
        // Authentic but not GitHub's shape: 400.
        let mut d = delivery("push", body);
        d.remove("X-GitHub-Delivery");
        assert_map(
            &p,
            SECRET,
            &d,
            MapError::Missing("X-GitHub-Delivery".into()),
        );
        let mut d = delivery("push", body);
        d.remove("X-GitHub-Event");
        assert_map(&p, SECRET, &d, MapError::Missing("X-GitHub-Event".into()));
        assert_status(&p, SECRET, &delivery("push", b"[1]"), 400);
        assert_status(&p, SECRET, &delivery("push/../x", b"{}"), 400);
        // A repository URL that is not a URI-reference makes no valid event: 400, not a bad event.
        assert_status(
            &p,
            SECRET,
            &delivery("push", br#"{"repository":{"html_url":"https://x y"}}"#),
            400,
        );
        // An event over the size limit is a 413, as on the bus API.
        let small = provider("github", "{}").with_limits(crate::ingest::Limits {
            max_event_bytes: 200,
            ..Default::default()
        });
        assert_status(
            &small,
            SECRET,
            &delivery("push", br#"{"ref":"refs/heads/a-branch-with-a-rather-long-name-to-go-over-the-limit-of-two-hundred-bytes-once-encoded"}"#),
            413,
        );
        // No key configured: refused, never accepted unverified.
        assert_eq!(
            p.receive(None, &delivery("push", body).request())
                .unwrap_err()
                .status(),
            401
        );
    }
}
