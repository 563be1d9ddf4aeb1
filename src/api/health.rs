//! `/healthz` (the process is alive), `/readyz` (it accepts traffic: storage open, not shutting
//! down) and `/metrics` (Prometheus text).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::openapi::Problem;

/// `GET /healthz`
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`
#[utoipa::path(get, path = "/readyz", tag = "meta", responses((status = 200, description = "Ready"), (status = 503, description = "Shutting down")))]
pub async fn readyz(State(st): State<AppState>) -> Response {
    if st.ready.load(Ordering::Acquire) {
        axum::Json(json!({ "status": "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "shutting down" })),
        )
            .into_response()
    }
}

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", tag = "meta", responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 200, description = "Prometheus text", content_type = "text/plain"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn metrics(State(st): State<AppState>) -> Response {
    let text = st.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response()
}
