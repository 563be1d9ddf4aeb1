//! `POST /v1/webhooks/{name}`: a provider's delivery to a source, and `OPTIONS` for the
//! CloudEvents webhook handshake.
//!
//! The order is fixed: find the source, read the body (413 beyond the limit), let its provider
//! verify the raw bytes and only then map them (401 for any signature or timestamp failure,
//! nothing stored), drop the deliveries whose id the source stored within its window, append
//! the rest as one durable batch, and only then mark their ids seen. The answer is 200 once the
//! events are durable, as providers count any 2xx as delivered.
//!
//! These routes need no API token: the signature is the credential (see `auth::need`).

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bus::log::Batch;

use sources::ingest::Mode;
use sources::webhook::{Outcome, Request, WebhookError};

use super::AppState;
use super::events::{ingest_problem, read_body};
use super::openapi::Problem;
use super::problem::ApiError;
use crate::webhooks::seen::Claim;
use crate::webhooks::store::Source;

fn refused(source: &Source, e: &WebhookError) -> ApiError {
    source.meters.refused.increment(1);
    let source = source.spec.name.as_str();
    match e {
        WebhookError::Verify(v) => {
            tracing::info!(source, reason = %v, "webhook delivery refused");
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid-signature",
                "Delivery not verified",
                format!("source {source:?}: {v}; nothing was stored"),
            )
        }
        WebhookError::Ingest(i) => ingest_problem(i),
        other => ApiError::new(
            StatusCode::from_u16(other.status()).unwrap_or(StatusCode::BAD_REQUEST),
            "invalid-delivery",
            "Delivery not accepted",
            format!("source {source:?}: {other}; nothing was stored"),
        ),
    }
}

/// `POST /v1/webhooks/{name}`
#[utoipa::path(post, path = "/v1/webhooks/{name}", tag = "sources", params(("name" = String, Path, description = "Source name")), request_body(content = Object, description = "The provider's delivery, verified on its raw bytes"), responses((status = 200, description = "Stored (durable), or a duplicate of a stored delivery: `{results: [{id, sequence} | {id, duplicate: true}]}`; or the provider's handshake answer (GitHub ping, Slack url_verification)", body = Object), (status = 400, description = "A header or payload the provider always sends is missing or malformed (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Signature, secret or timestamp not valid; nothing stored (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such source (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Another copy of this delivery is being stored (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Too large (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The source is disabled (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn receive(
    State(st): State<AppState>,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let source = st
        .sources
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("source {name:?} does not exist")))?;
    if !source.spec.enabled {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "source-disabled",
            "Source disabled",
            format!("source {name:?} is disabled; deliveries are refused until it is enabled"),
        )
        .into_response();
        e.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Ok(e);
    }
    let limit = source.provider.body_limit(&parts.headers);
    // Only for the 413's wording: which limit was exceeded.
    let mode = if limit > st.limits.max_event_bytes {
        Mode::Batch
    } else {
        Mode::Structured
    };
    let body = read_body(body, &parts.headers, mode, limit).await?;
    let now = st.clock.now();
    let req = Request {
        headers: &parts.headers,
        body: &body,
        now: now.timestamp(),
        source: &name,
    };
    let events = match source.provider.receive(source.key(), &req) {
        Ok(Outcome::Events(evs)) => evs,
        Ok(Outcome::Reply {
            status,
            content_type,
            body,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok((status, [(header::CONTENT_TYPE, content_type)], body).into_response());
        }
        Err(e) => return Err(refused(&source, &e)),
    };
    let bus = st.buses.get(&source.spec.bus).ok_or_else(|| {
        ApiError::not_found(format!(
            "bus {:?} of source {name:?} does not exist",
            source.spec.bus
        ))
    })?;
    let window = source.window();
    let mut claims = Vec::with_capacity(events.len());
    // Per event: its id, and its sequence once stored (None: a duplicate).
    let mut results: Vec<(&str, Option<u64>)> = Vec::with_capacity(events.len());
    let mut mine = HashSet::new();
    let mut batch = Batch::with_capacity(events.len(), events.iter().map(|e| e.size_hint()).sum());
    for ev in &events {
        let claim = if window.is_zero() {
            None
        } else if mine.contains(ev.id.as_str()) {
            results.push((&ev.id, None));
            continue;
        } else {
            match st
                .sources
                .seen()
                .claim(&name, &ev.id, now.timestamp(), window)
            {
                Claim::Duplicate => {
                    source.meters.duplicates.increment(1);
                    results.push((&ev.id, None));
                    continue;
                }
                Claim::Busy => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "delivery-in-progress",
                        "Delivery in progress",
                        format!(
                            "delivery {:?} of source {name:?} is being stored by another request; retry",
                            ev.id
                        ),
                    ));
                }
                Claim::Fresh(c) => Some(c),
            }
        };
        mine.insert(ev.id.as_str());
        batch.push_with(|out| ev.write_structured_json(out));
        claims.push(claim);
        results.push((&ev.id, Some(0)));
    }
    if !claims.is_empty() {
        let appended = bus.log.append(batch).await?;
        let now = now.timestamp();
        let mut seq = appended.first;
        for (_, s) in results.iter_mut().filter(|(_, s)| s.is_some()) {
            *s = Some(seq);
            seq += 1;
        }
        for c in claims.into_iter().flatten() {
            c.commit(now);
        }
        source.meters.events.increment(seq - appended.first);
    }
    if source.provider.quiet_ack() {
        // Slack shows a response body to the user (slash commands) or reads it as an action.
        return Ok(StatusCode::OK.into_response());
    }
    // Written by hand: no JSON tree per delivery on this path.
    let mut body = Vec::with_capacity(32 + results.len() * 64);
    body.extend_from_slice(b"{\"results\":[");
    for (i, (id, seq)) in results.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"id\":");
        serde_json::to_writer(&mut body, id)
            .map_err(|e| ApiError::internal("encoding a response", &e))?;
        match seq {
            Some(s) => body.extend_from_slice(format!(",\"sequence\":{s}}}").as_bytes()),
            None => body.extend_from_slice(b",\"duplicate\":true}"),
        }
    }
    body.extend_from_slice(b"]}");
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// `OPTIONS /v1/webhooks/{name}`: the abuse-protection handshake of the CloudEvents HTTP
/// webhook spec. A sender asks with `WebHook-Request-Origin`; the answer allows that origin
/// (the source exists, so its owner asked for these deliveries) at any rate.
#[utoipa::path(options, path = "/v1/webhooks/{name}", tag = "sources", params(("name" = String, Path, description = "Source name"), ("WebHook-Request-Origin" = Option<String>, Header, description = "The sender's origin")), responses((status = 200, description = "Allowed: `WebHook-Allowed-Origin`, `WebHook-Allowed-Rate`, `Allow`"), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such source (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn handshake(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if st.sources.get(&name).is_none() {
        return Err(ApiError::not_found(format!(
            "source {name:?} does not exist"
        )));
    }
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    if let Some(origin) = headers.get("webhook-request-origin") {
        h.insert("webhook-allowed-origin", origin.clone());
        h.insert("webhook-allowed-rate", HeaderValue::from_static("*"));
    }
    Ok(resp)
}
