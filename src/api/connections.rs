//! `/v1/connections`: credentials for HTTP targets (basic, API key, OAuth client credentials).
//!
//! `PUT` creates (201) or replaces (200); secrets are write-only: no answer ever contains them.
//! `DELETE` of a connection that a rule's target names is a 409 naming the rules, as deleting it
//! would break their deliveries.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use targets::ConnectionError;

use super::AppState;
use super::etag::{if_match, with_etag};
use super::json::JsonBody;
use super::listing::ListQuery;
use super::openapi::Problem;
use super::problem::ApiError;

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> ApiError {
        match e {
            ConnectionError::Invalid(e) => ApiError::spec(&e, "invalid-connection"),
            ConnectionError::NotFound(n) => {
                ApiError::not_found(format!("connection {n:?} does not exist"))
            }
            ConnectionError::PreconditionFailed { current, .. } => {
                ApiError::precondition("connection", current)
            }
            ConnectionError::Token { .. } => ApiError::internal("fetching a token", &e),
            ConnectionError::Meta(e) => ApiError::internal("metadata store failure", &e),
        }
    }
}

/// `GET /v1/connections?limit=&cursor=`
#[utoipa::path(get, path = "/v1/connections", tag = "connections", params(("limit" = Option<u32>, Query, description = "1 to 1000, default 100"), ("cursor" = Option<String>, Query, description = "The last name of the previous page"), ("prefix" = Option<String>, Query, description = "Only names starting with this")), responses((status = 200, description = "`{connections: [...], next_cursor}` without secrets", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let lq = ListQuery::parse(&q, false)?;
    let conns = st.engine.connections();
    let (page, more) = lq
        .page(
            |after, n| conns.list(after, n),
            |c| c.name.as_str(),
            |_| true,
        )
        .map_err(|e| ApiError::internal("listing connections", &e))?;
    let next = match page.last() {
        Some(last) if more => Value::String(last.name.clone()),
        _ => Value::Null,
    };
    let items: Vec<Value> = page.iter().map(|c| c.public()).collect();
    Ok(axum::Json(json!({ "connections": items, "next_cursor": next })).into_response())
}

/// `GET /v1/connections/{name}`
#[utoipa::path(get, path = "/v1/connections/{name}", tag = "connections", params(("name" = String, Path, description = "Connection name")), responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 200, description = "The connection without its secrets (ETag)", body = Object), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let c = st
        .engine
        .connections()
        .get(&name)
        .map_err(|e| ApiError::internal("reading a connection", &e))?
        .ok_or_else(|| ApiError::not_found(format!("connection {name:?} does not exist")))?;
    Ok(with_etag(StatusCode::OK, c.version, c.public()))
}

/// `PUT /v1/connections/{name}`
#[utoipa::path(put, path = "/v1/connections/{name}", tag = "connections", params(("name" = String, Path, description = "Connection name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), request_body(content = Object, description = "`{description?}` and one of `basic`, `api_key`, `oauth_client_credentials`"), responses((status = 200, description = "Replaced", body = Object), (status = 201, description = "Created", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    ApiError::check_name("connection", &name)?;
    let conns = st.engine.connections().clone();
    let current = conns
        .get(&name)
        .map_err(|e| ApiError::internal("reading a connection", &e))?
        .map(|c| c.version);
    let expected = if_match(&headers, current, "connection")?;
    let (spec, created) = tokio::task::spawn_blocking(move || conns.put(&name, &body, expected))
        .await
        .map_err(|e| ApiError::internal("connection update task", &e))??;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(status, spec.version, spec.public()))
}

/// `DELETE /v1/connections/{name}`
#[utoipa::path(delete, path = "/v1/connections/{name}", tag = "connections", params(("name" = String, Path, description = "Connection name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 204, description = "Deleted"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Conflict (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let conns = st.engine.connections().clone();
    let current = conns
        .get(&name)
        .map_err(|e| ApiError::internal("reading a connection", &e))?
        .map(|c| c.version);
    let expected = if_match(&headers, current, "connection")?;
    if current.is_none() {
        return Err(ApiError::not_found(format!(
            "connection {name:?} does not exist"
        )));
    }
    let users: Vec<String> = st
        .buses
        .rules()
        .all()
        .map_err(|e| ApiError::internal("reading rules", &e))?
        .into_iter()
        .filter(|r| {
            r.targets
                .iter()
                .any(|t| t.get("connection").and_then(Value::as_str) == Some(name.as_str()))
        })
        .map(|r| format!("{}/{}", r.bus, r.name))
        .collect();
    if !users.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!(
                "connection {name:?} is used by the targets of rules {users:?}; change or delete them first"
            ),
        )
        .with("rules", json!(users)));
    }
    tokio::task::spawn_blocking(move || conns.delete(&name, expected))
        .await
        .map_err(|e| ApiError::internal("connection delete task", &e))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}
