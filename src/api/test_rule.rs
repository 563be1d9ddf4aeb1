//! `POST /v1/test-rule`: does this event match this filter, what would a target receive, and if
//! it does not match, why?
//!
//! Three forms, so both drafts and saved rules can be tried:
//! - `{"event": …, "filter": {…}, "transform": {…}}`: the filter (any kind) against the event →
//!   `{"matched", "output", "explanation"}`;
//! - `{"event": …, "bus": "orders"}`: the bus's router (its enabled rules, as events appended
//!   now would see them) → `{"matched", "rules": [names], "output": null, "explanation": null}`;
//! - `{"event": …, "bus": "orders", "rule": "r1", "transform": {…}}`: that saved rule's filter
//!   (enabled or not) → `{"matched", "output", "explanation"}`.
//!
//! `transform` is optional (the default is the event as is, or for an SQL rule its projection);
//! `output` is what a target with that transform would receive, or null when the event does not
//! match. The rule name the transform
//! sees is the saved rule's, or `test-rule` for a draft; the ingestion time is now.
//!
//! The event is validated exactly as structured-mode ingest validates it (a 400 names the
//! attribute under `/event`), and matched in its stored form (the structured JSON the log would
//! hold), so the answer is what the bus would do. `matched` comes from a [`Router`], the structure
//! that routes events; `explanation` from the filter's own evaluator, which names the first field
//! that failed (for patterns) or says what the expression gave.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bus::event::Event;
use rules::{Context, Filter, Router, Transform};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sources::ingest::IngestError;

use super::AppState;
use super::events::ingest_problem;
use super::json::JsonBody;
use super::openapi::Problem;
use super::problem::ApiError;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRule {
    /// A structured-mode CloudEvent, kept as sent so it is judged byte for byte.
    event: Option<Box<RawValue>>,
    filter: Option<Value>,
    /// What a target would receive; default the event as is.
    transform: Option<Value>,
    bus: Option<String>,
    rule: Option<String>,
}

/// Validates the event as structured-mode ingest does; returns its stored form.
fn stored_form(st: &AppState, raw: &RawValue) -> Result<Vec<u8>, ApiError> {
    let under_event = |mut p: ApiError| {
        for e in &mut p.errors {
            e.pointer = format!("/event{}", e.pointer);
        }
        p
    };
    let ev = Event::from_structured_json(raw.get().as_bytes())
        .map_err(|e| under_event(ingest_problem(&IngestError::from(e))))?;
    let len = ev.encoded_len();
    if len > st.limits.max_event_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "event-too-large",
            "Event too large",
            format!(
                "event of {len} bytes (structured JSON form) exceeds the limit of {} bytes",
                st.limits.max_event_bytes
            ),
        ));
    }
    Ok(ev.to_structured_json())
}

/// Runs one filter on the event: the router decides, the evaluator explains, the transform
/// makes the output.
fn run_filter(
    filter: Filter,
    transform: Option<&Transform>,
    rule_name: &str,
    event: &[u8],
) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(event)
        .map_err(|e| ApiError::internal("re-reading an encoded event", &e))?;
    let explained = filter.explain(&value);
    // An SQL rule's projection is what its targets receive unless they name their own transform.
    let projected = match transform {
        None => filter.projection().map(|sql| sql.project(&value).value),
        Some(_) => None,
    };
    let mut router = Router::new();
    router.insert(0, Arc::new(filter));
    let matched = !router
        .matches(event)
        .map_err(|e| ApiError::internal("matching an encoded event", &e))?
        .is_empty();
    if matched == explained.is_err() {
        tracing::error!(
            matched,
            ?explained,
            "the router and the filter's evaluator disagree"
        );
    }
    let explanation = match explained {
        Err(m) if !matched => json!({
            "field": m.field,
            "pointer": format!("/filter{}", m.pointer),
            "reason": m.reason,
        }),
        _ => Value::Null,
    };
    let output = if !matched {
        Value::Null
    } else if let Some(projected) = projected {
        projected
    } else {
        let ingestion_time =
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let ctx = Context {
            rule_name,
            ingestion_time: &ingestion_time,
        };
        transform
            .unwrap_or(&Transform::Event)
            .apply(&value, &ctx)
            .map_err(|e| ApiError::transform(&e, "/transform"))?
            .into_value()
    };
    Ok(json!({ "matched": matched, "output": output, "explanation": explanation }))
}

/// `POST /v1/test-rule`
#[utoipa::path(post, path = "/v1/test-rule", tag = "rules", request_body(content = Object, description = "`{event, filter | bus [, rule], transform?}`"), responses((status = 200, description = "`{matched, output, explanation}` (or `rules` for a bus)", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Conflict (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn test_rule(
    State(st): State<AppState>,
    JsonBody(req): JsonBody<TestRule>,
) -> Result<Response, ApiError> {
    let Some(raw) = &req.event else {
        return Err(
            ApiError::bad_request("invalid-request", "/event: is required (a CloudEvent)")
                .with_error("/event", "is required"),
        );
    };
    let event = stored_form(&st, raw)?;
    let transform = req
        .transform
        .as_ref()
        .map(|t| Transform::parse(t).map_err(|e| ApiError::transform(&e, "/transform")))
        .transpose()?;
    let body = match (req.filter, req.bus, req.rule) {
        (Some(filter), None, None) => {
            let filter = st
                .rulesets
                .compile(&filter)
                .map_err(|e| ApiError::filter(&e, "/filter"))?;
            run_filter(filter, transform.as_ref(), "test-rule", &event)?
        }
        (None, Some(bus), None) => {
            if transform.is_some() {
                return Err(ApiError::bad_request(
                    "invalid-request",
                    "transform applies to one filter: give filter, or bus and rule",
                )
                .with_error("/transform", "not allowed with bus alone"));
            }
            st.bus(&bus)?;
            let names = st
                .rulesets
                .matching(&bus, &event)
                .map_err(|e| ApiError::internal("matching an encoded event", &e))?;
            json!({ "matched": !names.is_empty(), "rules": names, "output": null, "explanation": null })
        }
        (None, Some(bus), Some(rule)) => {
            st.bus(&bus)?;
            let spec = st
                .buses
                .rules()
                .get(&bus, &rule)
                .map_err(|e| ApiError::internal("reading a rule", &e))?
                .ok_or_else(|| {
                    ApiError::not_found(format!("rule {rule:?} does not exist on bus {bus:?}"))
                })?;
            let filter = st.rulesets.compile(&spec.filter).map_err(|e| {
                let mut p = ApiError::filter(&e, "/filter");
                p.status = StatusCode::CONFLICT;
                p.slug = "conflict";
                p.title = "Conflict";
                p.detail = format!(
                    "the saved rule's filter no longer compiles with the server's [rules] limits ({}); save it again",
                    p.detail
                );
                p
            })?;
            run_filter(filter, transform.as_ref(), &rule, &event)?
        }
        (Some(_), Some(_), _) => {
            return Err(ApiError::bad_request(
                "invalid-request",
                "give either filter (to test a draft) or bus (to test saved rules), not both",
            )
            .with_error("/bus", "not allowed with filter"));
        }
        (_, None, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid-request",
                "rule names a saved rule: give its bus too",
            )
            .with_error("/bus", "is required with rule"));
        }
        (None, None, None) => {
            return Err(ApiError::bad_request(
                "invalid-request",
                "give filter (to test a draft: {\"pattern\": {…}}) or bus (to test saved rules)",
            )
            .with_error("/filter", "filter or bus is required"));
        }
    };
    Ok(axum::Json(body).into_response())
}
