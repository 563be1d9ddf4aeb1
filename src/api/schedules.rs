//! `/v1/schedules`: events on a schedule: cron with a time zone, a rate, or once `at` an
//! instant. `PUT` creates (201) or replaces (200) with an ETag; answers add `last_fired` and
//! `next_firing`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::etag::{if_match, with_etag};
use super::json::JsonBody;
use super::openapi::Problem;
use super::problem::ApiError;
use crate::schedules::ScheduleError;

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> ApiError {
        match e {
            ScheduleError::Invalid { pointer, reason } => {
                ApiError::bad_request("invalid-schedule", format!("{pointer}: {reason}"))
                    .with_error(pointer, reason)
            }
            ScheduleError::NotFound(n) => {
                ApiError::not_found(format!("schedule {n:?} does not exist"))
            }
            ScheduleError::PreconditionFailed { current, .. } => {
                ApiError::precondition("schedule", current)
            }
            ScheduleError::Meta(e) => ApiError::internal("metadata store failure", &e),
        }
    }
}

/// `GET /v1/schedules?limit=&cursor=&prefix=`
#[utoipa::path(get, path = "/v1/schedules", tag = "schedules", params(("limit" = Option<u32>, Query, description = "1 to 1000, default 100"), ("cursor" = Option<String>, Query, description = "The last name of the previous page"), ("prefix" = Option<String>, Query, description = "Only names starting with this")), responses((status = 200, description = "`{schedules: [...], next_cursor}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let lq = super::listing::ListQuery::parse(&q, false)?;
    let (page, more) = lq
        .page(
            |after, n| Ok::<_, std::convert::Infallible>(st.schedules.page(after, n)),
            |e| e.doc.name.as_str(),
            |_| true,
        )
        .unwrap_or_else(|e: std::convert::Infallible| match e {});
    let next = match page.last() {
        Some(last) if more => Value::String(last.doc.name.clone()),
        _ => Value::Null,
    };
    let now = st.clock.now();
    let items: Vec<Value> = page.iter().map(|e| e.public(now)).collect();
    Ok(axum::Json(json!({ "schedules": items, "next_cursor": next })).into_response())
}

/// `GET /v1/schedules/{name}`
#[utoipa::path(get, path = "/v1/schedules/{name}", tag = "schedules", params(("name" = String, Path, description = "Schedule name")), responses((status = 200, description = "The schedule with `last_fired` and `next_firing` (ETag)", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let e = st
        .schedules
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("schedule {name:?} does not exist")))?;
    Ok(with_etag(
        StatusCode::OK,
        e.doc.version,
        e.public(st.clock.now()),
    ))
}

/// `PUT /v1/schedules/{name}`
#[utoipa::path(put, path = "/v1/schedules/{name}", tag = "schedules", params(("name" = String, Path, description = "Schedule name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), request_body(content = Object, description = "`{bus, cron + timezone? | rate | at, event: {type, source, subject?, data?, datacontenttype?}, catch_up?: none|last|all, delete_after_firing?, enabled?, description?}`"), responses((status = 200, description = "Replaced", body = Object), (status = 201, description = "Created", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    ApiError::check_name("schedule", &name)?;
    let current = st.schedules.get(&name).map(|e| e.doc.version);
    let expected = if_match(&headers, current, "schedule")?;
    let now = st.clock.now();
    let st2 = st.clone();
    let (entry, created) = tokio::task::spawn_blocking(move || {
        st2.schedules
            .put(&name, &body, expected, now, |b| st2.buses.get(b).is_some())
    })
    .await
    .map_err(|e| ApiError::internal("schedule update task", &e))??;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(status, entry.doc.version, entry.public(now)))
}

/// `DELETE /v1/schedules/{name}`
#[utoipa::path(delete, path = "/v1/schedules/{name}", tag = "schedules", params(("name" = String, Path, description = "Schedule name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), responses((status = 204, description = "Deleted"), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = st.schedules.get(&name).map(|e| e.doc.version);
    let expected = if_match(&headers, current, "schedule")?;
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || st2.schedules.delete(&name, expected))
        .await
        .map_err(|e| ApiError::internal("schedule delete task", &e))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}
