//! GitLab deliveries as CloudEvents (docs.gitlab.com, "Webhooks" and "Webhook events").
//!
//! GitLab does not sign: the webhook's secret token comes back verbatim in `X-Gitlab-Token`,
//! compared in constant time. The payload names its kind (`object_kind`), so the type does not
//! depend on the `X-Gitlab-Event` header's prose (`Merge Request Hook`).
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | `Idempotency-Key` (GitLab 17.4+: kept on automatic retries and manual resends); without it, `X-Gitlab-Event-UUID` |
//! | `type` | `com.gitlab.<object_kind>` and `.<object_attributes.action>` (or the top-level `action` of release and similar events) when there is one: `com.gitlab.merge_request.open`, `com.gitlab.push`; system hooks' `event_name` stands in for `object_kind` |
//! | `source` | the project's `web_url`, else `repository.homepage`, else `X-Gitlab-Instance`, else `https://gitlab.com` |
//! | `subject` | the issue's or merge request's `iid` (also for a comment on one), else the `ref` of a push or pipeline, else absent |
//! | `time` | absent (GitLab's timestamps are not all RFC 3339; the bus records the ingestion time) |
//! | `datacontenttype` | `application/json` |
//! | `data` | the payload, byte for byte |
//! | `gitlabinstance` | `X-Gitlab-Instance`, when sent (`https://gitlab.com`) |
//! | `gitlabeventuuid` | `X-Gitlab-Event-UUID`, when sent (shared by every hook the same event triggers) |
//!
//! Why `Idempotency-Key` first: GitLab added it (MR 160952, issue 388692) precisely so receivers
//! can recognise a retry, and its documentation says a resend carries the same key. The older
//! `X-Gitlab-Event-UUID` identifies the triggering event (it exists for recursion detection);
//! it is the fallback for GitLab versions that send no key.

use bus::event::{Event, ExtensionValue};
use serde_json::Value;

use super::{
    MapError, Outcome, Request, WebhookError, json_object, map_header, scalar_text, type_segment,
    verify, verify_header,
};

/// Verifies `X-Gitlab-Token`, then maps.
pub(super) fn receive(key: &[u8], req: &Request<'_>) -> Result<Outcome, WebhookError> {
    verify::gitlab(key, verify_header(req, "X-Gitlab-Token")?)?;
    Ok(map(req)?)
}

/// `Merge Request Hook` → `merge_request` (for payloads that name no kind).
fn kind_from_header(h: &str) -> String {
    let h = h.trim();
    let h = h.strip_suffix(" Hook").unwrap_or(h);
    h.to_ascii_lowercase().replace(' ', "_")
}

fn map(req: &Request<'_>) -> Result<Outcome, MapError> {
    let id = match map_header(req, "Idempotency-Key")?.filter(|v| !v.is_empty()) {
        Some(key) => key,
        None => map_header(req, "X-Gitlab-Event-UUID")?
            .filter(|v| !v.is_empty())
            .ok_or(MapError::Missing("X-Gitlab-Event-UUID".into()))?,
    };
    let (payload, data) = json_object(req.body)?;
    let header_kind = map_header(req, "X-Gitlab-Event")?.map(kind_from_header);
    let kind = payload
        .get("object_kind")
        .or_else(|| payload.get("event_name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(header_kind)
        .ok_or(MapError::Payload(
            "has no object_kind and there is no X-Gitlab-Event header".into(),
        ))?;
    if !type_segment(&kind) {
        return Err(MapError::Payload(format!(
            "names the kind {kind:?}, which is not an event name"
        )));
    }
    let payload = Value::Object(payload);
    let mut ty = format!("com.gitlab.{kind}");
    if let Some(action) = payload
        .pointer("/object_attributes/action")
        .or_else(|| payload.get("action"))
        .and_then(Value::as_str)
        .filter(|a| type_segment(a))
    {
        ty.push('.');
        ty.push_str(action);
    }
    let instance = map_header(req, "X-Gitlab-Instance")?.filter(|v| !v.is_empty());
    let source = payload
        .pointer("/project/web_url")
        .or_else(|| payload.pointer("/repository/homepage"))
        .and_then(Value::as_str)
        .or(instance)
        .unwrap_or("https://gitlab.com");
    let mut ev = Event::new(id, source, ty);
    ev.subject = ["/object_attributes/iid", "/merge_request/iid", "/issue/iid"]
        .iter()
        .find_map(|p| payload.pointer(p).and_then(scalar_text))
        .or_else(|| {
            payload
                .get("ref")
                .or_else(|| payload.pointer("/object_attributes/ref"))
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        });
    ev.datacontenttype = Some("application/json".into());
    ev.data = Some(data);
    if let Some(i) = instance {
        ev.extensions.insert(
            "gitlabinstance".into(),
            ExtensionValue::String(i.to_owned()),
        );
    }
    if let Some(u) = map_header(req, "X-Gitlab-Event-UUID")?.filter(|v| !v.is_empty()) {
        ev.extensions.insert(
            "gitlabeventuuid".into(),
            ExtensionValue::String(u.to_owned()),
        );
    }
    Ok(Outcome::Events(vec![ev]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::*;

    const TOKEN: &str = "glpat-not-really-a-token";

    fn delivery(header_kind: &str, body: &'static [u8]) -> Delivery {
        let mut d = Delivery::new(body);
        d.header("X-Gitlab-Token", TOKEN)
            .header("X-Gitlab-Event", header_kind)
            .header(
                "X-Gitlab-Event-UUID",
                "e2a9a5c2-1111-4a0c-9c3f-000000000001",
            )
            .header("Idempotency-Key", "f6d7e8a9-2222-4b1c-8d4e-000000000002")
            .header("X-Gitlab-Instance", "https://gitlab.example.com");
        d
    }

    const PUSH: &[u8] = br#"{"object_kind":"push","event_name":"push","ref":"refs/heads/main","project":{"id":15,"web_url":"https://gitlab.example.com/acme/app"},"commits":[]}"#;
    const MR: &[u8] = br#"{"object_kind":"merge_request","event_type":"merge_request","project":{"web_url":"https://gitlab.example.com/acme/app"},"object_attributes":{"id":99,"iid":12,"action":"open","source_branch":"feature"}}"#;
    const NOTE: &[u8] = br#"{"object_kind":"note","project":{"web_url":"https://gitlab.example.com/acme/app"},"object_attributes":{"id":1244,"noteable_type":"MergeRequest"},"merge_request":{"iid":12}}"#;

    #[test]
    fn push_merge_request_and_note() {
        let p = provider("gitlab", "{}");
        let ev = one_event(&p, TOKEN, &delivery("Push Hook", PUSH));
        assert_eq!(ev.id, "f6d7e8a9-2222-4b1c-8d4e-000000000002");
        assert_eq!(ev.ty, "com.gitlab.push");
        assert_eq!(ev.source, "https://gitlab.example.com/acme/app");
        assert_eq!(ev.subject.as_deref(), Some("refs/heads/main"));
        assert_eq!(ev.time, None);
        assert_eq!(data_bytes(&ev), PUSH);
        assert_eq!(
            ev.extensions["gitlabinstance"],
            ExtensionValue::String("https://gitlab.example.com".into())
        );
        assert_eq!(
            ev.extensions["gitlabeventuuid"],
            ExtensionValue::String("e2a9a5c2-1111-4a0c-9c3f-000000000001".into())
        );

        let ev = one_event(&p, TOKEN, &delivery("Merge Request Hook", MR));
        assert_eq!(ev.ty, "com.gitlab.merge_request.open");
        assert_eq!(ev.subject.as_deref(), Some("12"));

        let ev = one_event(&p, TOKEN, &delivery("Note Hook", NOTE));
        assert_eq!(ev.ty, "com.gitlab.note");
        assert_eq!(ev.subject.as_deref(), Some("12"));
    }

    #[test]
    fn fallbacks() {
        let p = provider("gitlab", "{}");
        // Before GitLab 17.4 there is no Idempotency-Key: the event UUID is the id.
        let mut d = delivery("Push Hook", PUSH);
        d.remove("Idempotency-Key");
        assert_eq!(
            one_event(&p, TOKEN, &d).id,
            "e2a9a5c2-1111-4a0c-9c3f-000000000001"
        );
        // A payload without object_kind takes the kind from the header; no project: the instance.
        let mut d = delivery("Release Hook", br#"{"action":"create","tag":"v1.0"}"#);
        d.remove("X-Gitlab-Event-UUID");
        let ev = one_event(&p, TOKEN, &d);
        assert_eq!(ev.ty, "com.gitlab.release.create");
        assert_eq!(ev.source, "https://gitlab.example.com");
        assert!(!ev.extensions.contains_key("gitlabeventuuid"));
        let mut d = delivery("System Hook", br#"{"event_name":"project_create"}"#);
        d.remove("X-Gitlab-Instance");
        let ev = one_event(&p, TOKEN, &d);
        assert_eq!(ev.ty, "com.gitlab.project_create");
        assert_eq!(ev.source, "https://gitlab.com");
    }

    #[test]
    fn refusals() {
        let p = provider("gitlab", "{}");
        assert_verify(&p, "other-token", &delivery("Push Hook", PUSH), |e| {
            *e == verify::VerifyError::Mismatch
        });
        // A prefix of the token is not the token.
        assert_status(&p, &TOKEN[..10], &delivery("Push Hook", PUSH), 401);
        let mut d = delivery("Push Hook", PUSH);
        d.remove("X-Gitlab-Token");
        assert_verify(
            &p,
            TOKEN,
            &d,
            |e| matches!(e, verify::VerifyError::Missing(h) if h == "X-Gitlab-Token"),
        );
        let mut d = delivery("Push Hook", PUSH);
        d.remove("X-Gitlab-Event-UUID").remove("Idempotency-Key");
        assert_map(
            &p,
            TOKEN,
            &d,
            MapError::Missing("X-Gitlab-Event-UUID".into()),
        );
        assert_status(&p, TOKEN, &delivery("Push Hook", b"not json"), 400);
        let mut d = delivery("Push Hook", b"{}");
        d.remove("X-Gitlab-Event");
        assert_status(&p, TOKEN, &d, 400);
        // Options: gitlab takes none.
        assert_eq!(
            spec_error("gitlab", r#"{"tolerance":"5m"}"#).0,
            "/tolerance"
        );
    }
}
