//! ETags and `If-Match`, shared by every resource with a version (buses, rules).
//!
//! A resource's ETag is its version (`"3"`). `If-Match` on a write makes it conditional: the
//! store compares versions under its write lock and the API answers 412 when they differ.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::problem::ApiError;

/// The ETag header value of a version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// A JSON response carrying an ETag.
pub fn with_etag(status: StatusCode, version: u64, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::ETAG, etag(version));
    resp
}

/// Reads `If-Match: "3"` (or `W/"3"`); `*` means "any existing version" and is a 412 when the
/// resource (`what`, for the detail) does not exist.
pub fn if_match(
    headers: &HeaderMap,
    current: Option<u64>,
    what: &str,
) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return match current {
            Some(c) => Ok(Some(c)),
            None => Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
                format!("If-Match: * but the {what} does not exist"),
            )),
        };
    }
    let tag = s.trim_start_matches("W/").trim_matches('"');
    tag.parse::<u64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid-header",
            format!("If-Match {s:?} is not an ETag of this API (such as \"3\")"),
        )
    })
}
