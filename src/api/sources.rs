//! `/v1/sources`: webhook sources (GitHub, GitLab, Stripe, Slack, Shopify, Standard Webhooks,
//! generic HMAC, plain CloudEvents), each receiving at `/v1/webhooks/{name}`.
//!
//! `PUT` creates (201) or replaces (200) with an ETag; the secret is write-only (answers say
//! `secret_set`), and a replacement without one keeps the stored secret.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::etag::{if_match, with_etag};
use super::json::JsonBody;
use super::listing::ListQuery;
use super::openapi::Problem;
use super::problem::ApiError;
use crate::webhooks::SourceError;

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> ApiError {
        match e {
            SourceError::Invalid { pointer, reason } => {
                ApiError::bad_request("invalid-source", format!("{pointer}: {reason}"))
                    .with_error(pointer, reason)
            }
            SourceError::NotFound(n) => ApiError::not_found(format!("source {n:?} does not exist")),
            SourceError::PreconditionFailed { current, .. } => {
                ApiError::precondition("source", current)
            }
            SourceError::Meta(e) => ApiError::internal("metadata store failure", &e),
            e @ SourceError::Seen { .. } => ApiError::internal("webhook delivery ids", &e),
        }
    }
}

/// `GET /v1/sources?limit=&cursor=&prefix=`
#[utoipa::path(get, path = "/v1/sources", tag = "sources", params(("limit" = Option<u32>, Query, description = "1 to 1000, default 100"), ("cursor" = Option<String>, Query, description = "The last name of the previous page"), ("prefix" = Option<String>, Query, description = "Only names starting with this")), responses((status = 200, description = "`{sources: [...], next_cursor}` without secrets", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let lq = ListQuery::parse(&q, false)?;
    let (page, more) = lq
        .page(
            |after, n| st.sources.list(after, n),
            |s| s.name.as_str(),
            |_| true,
        )
        .map_err(|e| ApiError::internal("listing sources", &e))?;
    let next = match page.last() {
        Some(last) if more => Value::String(last.name.clone()),
        _ => Value::Null,
    };
    let items: Vec<Value> = page.iter().map(|s| s.public()).collect();
    Ok(axum::Json(json!({ "sources": items, "next_cursor": next })).into_response())
}

/// `GET /v1/sources/{name}`
#[utoipa::path(get, path = "/v1/sources/{name}", tag = "sources", params(("name" = String, Path, description = "Source name")), responses((status = 200, description = "The source without its secret (ETag)", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let s = st
        .sources
        .spec(&name)
        .map_err(|e| ApiError::internal("reading a source", &e))?
        .ok_or_else(|| ApiError::not_found(format!("source {name:?} does not exist")))?;
    Ok(with_etag(StatusCode::OK, s.version, s.public()))
}

/// `PUT /v1/sources/{name}`
#[utoipa::path(put, path = "/v1/sources/{name}", tag = "sources", params(("name" = String, Path, description = "Source name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), request_body(content = Object, description = "`{kind, bus, secret, description?, dedup_window?, enabled?, …provider options}`; kind is one of github, gitlab, stripe, slack, shopify, standard-webhooks, hmac, cloudevents"), responses((status = 200, description = "Replaced", body = Object), (status = 201, description = "Created", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    ApiError::check_name("source", &name)?;
    let current = st
        .sources
        .spec(&name)
        .map_err(|e| ApiError::internal("reading a source", &e))?
        .map(|s| s.version);
    let expected = if_match(&headers, current, "source")?;
    let st2 = st.clone();
    let (spec, created) = tokio::task::spawn_blocking(move || {
        st2.sources
            .put(&name, &body, expected, |b| st2.buses.get(b).is_some())
    })
    .await
    .map_err(|e| ApiError::internal("source update task", &e))??;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(status, spec.version, spec.public()))
}

/// `DELETE /v1/sources/{name}`
#[utoipa::path(delete, path = "/v1/sources/{name}", tag = "sources", params(("name" = String, Path, description = "Source name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), responses((status = 204, description = "Deleted"), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = st
        .sources
        .spec(&name)
        .map_err(|e| ApiError::internal("reading a source", &e))?
        .map(|s| s.version);
    let expected = if_match(&headers, current, "source")?;
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || st2.sources.delete(&name, expected))
        .await
        .map_err(|e| ApiError::internal("source delete task", &e))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}
