//! `GET`/`PUT /v1/_clock`: reading and moving the manual clock of a server started with
//! `--manual-clock` (tests of schedules and timestamp tolerances). Without that flag the route
//! does not exist, and it is left out of the OpenAPI document as a test facility.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::json::JsonBody;
use super::problem::ApiError;

fn now(st: &AppState) -> Response {
    let t = st.clock.now();
    axum::Json(json!({ "now": t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true) }))
        .into_response()
}

/// `GET /v1/_clock`
pub async fn get(State(st): State<AppState>) -> Response {
    now(&st)
}

/// `PUT /v1/_clock` with `{"now": "<RFC 3339>"}`; the clock never goes back (an earlier time
/// leaves it where it is).
pub async fn put(
    State(st): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let text = body.get("now").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("invalid-clock", "/now: an RFC 3339 instant is required")
            .with_error("/now", "required, a string")
    })?;
    let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        ApiError::bad_request(
            "invalid-clock",
            format!("/now: {text:?} is not RFC 3339: {e}"),
        )
        .with_error("/now", e.to_string())
    })?;
    st.clock.set(at.to_utc());
    Ok(now(&st))
}
