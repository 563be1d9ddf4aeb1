//! `/v1/tokens`: create (the secret is in the answer, once), list (never secrets), delete.
//! Admin only (see `auth`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::json::JsonBody;
use super::openapi::Problem;
use super::problem::ApiError;
use crate::auth::{TokenError, TokenSpec};

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> ApiError {
        match e {
            TokenError::Invalid { pointer, reason } => {
                ApiError::bad_request("invalid-request", format!("{pointer}: {reason}"))
                    .with_error(pointer, reason)
            }
            TokenError::Exists(n) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "Conflict",
                format!("a token named {n:?} exists; delete it first or choose another name"),
            ),
            TokenError::NotFound(n) => ApiError::not_found(format!("token {n:?} does not exist")),
            TokenError::Meta(e) => ApiError::internal("metadata store failure", &e),
        }
    }
}

fn view(t: &TokenSpec) -> Value {
    json!({"name": t.name, "scopes": t.scopes, "hint": t.hint, "created_at": t.created_at})
}

/// `POST /v1/tokens` with `{"name": …, "scopes": [..]}` → 201 with `token` (shown once).
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body(content = Object, description = "`{name, scopes: [admin | publish:<bus> | consume:<queue>]}`"), responses((status = 201, description = "The token with its secret, shown once", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Conflict (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(st): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(m) = &body else {
        return Err(ApiError::bad_request(
            "invalid-request",
            "the body is an object: {\"name\": \"ci\", \"scopes\": [\"publish:orders\"]}",
        )
        .with_error("", "an object was expected"));
    };
    if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "name" | "scopes")) {
        return Err(
            ApiError::bad_request("invalid-request", format!("unknown field {k:?}"))
                .with_error(format!("/{k}"), "unknown field"),
        );
    }
    let name = m.get("name").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("invalid-request", "/name: a string is required")
            .with_error("/name", "a string is required")
    })?;
    let scopes: Vec<String> = match m.get("scopes") {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::bad_request("invalid-request", format!("/scopes/{i}: a string"))
                        .with_error(format!("/scopes/{i}"), "a string was expected")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid-request",
                "/scopes: an array such as [\"admin\"] or [\"publish:orders\"]",
            )
            .with_error("/scopes", "an array of scopes is required"));
        }
    };
    let tokens = st.tokens.clone();
    let name = name.to_owned();
    let (spec, secret) = tokio::task::spawn_blocking(move || tokens.create(&name, &scopes))
        .await
        .map_err(|e| ApiError::internal("token task", &e))??;
    let mut v = view(&spec);
    if let Value::Object(m) = &mut v {
        m.insert("token".into(), Value::String(secret));
    }
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `GET /v1/tokens`
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 200, description = "`{tokens: [{name, scopes, hint, created_at}]}`", body = Object), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(st): State<AppState>) -> Result<Response, ApiError> {
    let all = st
        .tokens
        .list()
        .map_err(|e| ApiError::internal("listing tokens", &e))?;
    let items: Vec<Value> = all.iter().map(view).collect();
    Ok(axum::Json(json!({ "tokens": items, "next_cursor": null })).into_response())
}

/// `DELETE /v1/tokens/{name}`
#[utoipa::path(delete, path = "/v1/tokens/{name}", tag = "tokens", params(("name" = String, Path, description = "Token name")), responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 204, description = "Deleted"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let tokens = st.tokens.clone();
    tokio::task::spawn_blocking(move || tokens.delete(&name))
        .await
        .map_err(|e| ApiError::internal("token task", &e))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}
