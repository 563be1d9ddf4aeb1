//! What delivery did: an event's trace, and a target's dead letters.
//!
//! - `GET /v1/buses/{bus}/events/{sequence}/trace`: matched rules and, per target, every attempt
//!   and the final state. Recent events come from memory with every attempt; older ones from the
//!   durable state (`"source": "durable"`), which keeps attempts only for deliveries that failed.
//! - `GET …/rules/{rule}/targets/{target}/dead-letters?limit=&cursor=`, `GET …/dead-letters/{id}`,
//!   `POST …/dead-letters:redrive` (`{"ids": [..]}` or `{}` for all), `DELETE …/dead-letters`
//!   (all) and `DELETE …/dead-letters/{id}`. Redrive and purge are durable when they answer.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use targets::TraceAnswer;
use targets::target::Target;

use super::AppState;
use super::json::JsonBody;
use super::openapi::Problem;
use super::problem::{ApiError, page_limit};

fn parse_u64(what: &str, v: &str) -> Result<u64, ApiError> {
    v.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid-request",
            format!("{what} {v:?} is not a non-negative integer"),
        )
        .with_error(format!("/{what}"), "not a non-negative integer")
    })
}

/// `GET /v1/buses/{bus}/events/{sequence}/trace`
#[utoipa::path(get, path = "/v1/buses/{bus}/events/{sequence}/trace", tag = "delivery", params(("bus" = String, Path, description = "Bus name"), ("sequence" = u64, Path, description = "Sequence")), responses((status = 200, description = "`{sequence, dispatched, source, matched_rules, deliveries: [{rule, target, state, attempts}]}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn trace(
    State(st): State<AppState>,
    Path((bus, seq)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    st.bus(&bus)?;
    let seq = parse_u64("sequence", &seq)?;
    match st.engine.trace(&bus, seq) {
        TraceAnswer::NoBus => Err(ApiError::not_found(format!("bus {bus:?} does not exist"))),
        TraceAnswer::NotYet { next } => Err(ApiError::not_found(format!(
            "sequence {seq} is not in bus {bus:?}: the next sequence is {next}"
        ))),
        TraceAnswer::Trace(v) => Ok(axum::Json(v).into_response()),
    }
}

fn target(st: &AppState, bus: &str, rule: &str, target: &str) -> Result<Arc<Target>, ApiError> {
    st.bus(bus)?;
    st.engine.target(bus, rule, target).ok_or_else(|| {
        ApiError::not_found(format!(
            "rule {rule:?} of bus {bus:?} has no target {target:?} (or the rule is disabled)"
        ))
    })
}

/// `GET …/dead-letters?limit=&cursor=` (by id; `next_cursor` is the last id when more follow).
#[utoipa::path(get, path = "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters", tag = "delivery", params(("bus" = String, Path, description = "Bus name"), ("rule" = String, Path, description = "Rule name"), ("target" = String, Path, description = "Target id"), ("limit" = Option<u32>, Query, description = "1 to 1000"), ("cursor" = Option<String>, Query, description = "The last id of the previous page")), responses((status = 200, description = "`{dead_letters: [...], next_cursor}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(st): State<AppState>,
    Path((bus, rule, tid)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let t = target(&st, &bus, &rule, &tid)?;
    let limit = page_limit(&q)?;
    let after = match q.get("cursor") {
        Some(c) => parse_u64("cursor", c)?,
        None => 0,
    };
    let ledger = t.ledger();
    let page = ledger.list(after, limit + 1);
    let more = page.len() > limit;
    let items: Vec<Value> = page
        .iter()
        .take(limit)
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .collect();
    let next = match page.get(limit.saturating_sub(1)) {
        Some(last) if more => json!(last.id.to_string()),
        _ => Value::Null,
    };
    Ok(axum::Json(json!({ "dead_letters": items, "next_cursor": next })).into_response())
}

/// `GET …/dead-letters/{id}`
#[utoipa::path(get, path = "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters/{id}", tag = "delivery", params(("bus" = String, Path, description = "Bus name"), ("rule" = String, Path, description = "Rule name"), ("target" = String, Path, description = "Target id"), ("id" = u64, Path, description = "Dead-letter id")), responses((status = 200, description = "The dead letter", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(st): State<AppState>,
    Path((bus, rule, tid, id)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let t = target(&st, &bus, &rule, &tid)?;
    let id = parse_u64("id", &id)?;
    let ledger = t.ledger();
    let d = ledger
        .dead
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("dead letter {id} does not exist")))?;
    Ok(axum::Json(serde_json::to_value(d).unwrap_or(Value::Null)).into_response())
}

fn ids_of(body: &Value) -> Result<Option<Vec<u64>>, ApiError> {
    let Value::Object(m) = body else {
        return Err(ApiError::bad_request(
            "invalid-request",
            "the body is an object: {} for all, or {\"ids\": [1, 2]}",
        )
        .with_error("", "an object was expected"));
    };
    if let Some(k) = m.keys().find(|k| *k != "ids") {
        return Err(
            ApiError::bad_request("invalid-request", format!("unknown field {k:?}"))
                .with_error(format!("/{k}"), "unknown field"),
        );
    }
    match m.get("ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_u64().ok_or_else(|| {
                    ApiError::bad_request("invalid-request", format!("/ids/{i}: not an id"))
                        .with_error(
                            format!("/ids/{i}"),
                            "a dead-letter id (integer) was expected",
                        )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(
            ApiError::bad_request("invalid-request", "/ids: an array was expected")
                .with_error("/ids", "an array of ids was expected"),
        ),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `POST …/dead-letters:redrive`
#[utoipa::path(post, path = "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters:redrive", tag = "delivery", params(("bus" = String, Path, description = "Bus name"), ("rule" = String, Path, description = "Rule name"), ("target" = String, Path, description = "Target id")), request_body(content = Object, description = "`{}` for all, or `{ids: [..]}`"), responses((status = 200, description = "`{redriven}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn redrive(
    State(st): State<AppState>,
    Path((bus, rule, tid)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let t = target(&st, &bus, &rule, &tid)?;
    let ids = ids_of(&body)?;
    let t2 = t.clone();
    let n = tokio::task::spawn_blocking(move || t2.ledger().redrive(ids.as_deref(), now_ms()))
        .await
        .map_err(|e| ApiError::internal("redrive task", &e))?
        .map_err(|e| ApiError::internal("redriving dead letters", &e))?;
    t.wake.notify_one();
    Ok(axum::Json(json!({ "redriven": n })).into_response())
}

/// `DELETE …/dead-letters` (all)
#[utoipa::path(delete, path = "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters", tag = "delivery", params(("bus" = String, Path, description = "Bus name"), ("rule" = String, Path, description = "Rule name"), ("target" = String, Path, description = "Target id")), responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 200, description = "`{purged}`", body = Object), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn purge(
    State(st): State<AppState>,
    Path((bus, rule, tid)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let t = target(&st, &bus, &rule, &tid)?;
    let n = tokio::task::spawn_blocking(move || t.ledger().purge(None))
        .await
        .map_err(|e| ApiError::internal("purge task", &e))?
        .map_err(|e| ApiError::internal("purging dead letters", &e))?;
    Ok(axum::Json(json!({ "purged": n })).into_response())
}

/// `DELETE …/dead-letters/{id}`
#[utoipa::path(delete, path = "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters/{id}", tag = "delivery", params(("bus" = String, Path, description = "Bus name"), ("rule" = String, Path, description = "Rule name"), ("target" = String, Path, description = "Target id"), ("id" = u64, Path, description = "Dead-letter id")), responses((status = 204, description = "Purged"), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn purge_one(
    State(st): State<AppState>,
    Path((bus, rule, tid, id)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let t = target(&st, &bus, &rule, &tid)?;
    let id = parse_u64("id", &id)?;
    let n = tokio::task::spawn_blocking(move || t.ledger().purge(Some(&[id])))
        .await
        .map_err(|e| ApiError::internal("purge task", &e))?
        .map_err(|e| ApiError::internal("purging a dead letter", &e))?;
    if n == 0 {
        return Err(ApiError::not_found(format!(
            "dead letter {id} does not exist"
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
