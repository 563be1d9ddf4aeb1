//! A JSON body extractor whose every rejection is a problem+json naming the place and the reason.
//!
//! axum's own `Json` answers plain-text rejections; control-plane bodies come through here instead
//! so a typo (`"retension"`) or a syntax error answers with the field or the line and column.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::problem::ApiError;

/// Control-plane bodies are small.
const LIMIT: usize = 1 << 20;

/// A JSON request body; an empty body decodes as `{}`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let essence = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            });
        let body = http_body_util::Limited::new(req.into_body(), LIMIT)
            .collect()
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request-too-large",
                    "Payload too large",
                    "the body exceeds 1 MiB",
                )
            })?;
        let bytes = body.to_bytes();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return serde_json::from_str("{}")
                .map(JsonBody)
                .map_err(|e| ApiError::bad_request("invalid-request", e.to_string()));
        }
        if json_type == Some(false) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error(de) {
            Ok(v) => Ok(JsonBody(v)),
            Err((path, e)) => {
                let detail = if e.is_syntax() || e.is_eof() {
                    format!("the body is not valid JSON: {e}")
                } else {
                    format!("{path}: {e}")
                };
                let mut p = ApiError::bad_request(
                    if e.is_data() {
                        "invalid-request"
                    } else {
                        "malformed-json"
                    },
                    detail,
                )
                .with_error(path, e.to_string());
                if e.is_syntax() || e.is_eof() {
                    p = p
                        .with("line", json!(e.line()))
                        .with("column", json!(e.column()));
                }
                Err(p)
            }
        }
    }
}

/// Deserializes, returning the JSON pointer of the failure when it can be told from the error.
fn serde_path_to_error<T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, (String, serde_json::Error)> {
    match T::deserialize(&mut *de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => Ok(v),
        Err(e) => {
            let msg = e.to_string();
            // serde names the offending field in "unknown field `x`" / "missing field `x`".
            let pointer = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.starts_with("unknown field") || msg.starts_with("missing field"))
                .map(|f| format!("/{f}"))
                .unwrap_or_default();
            Err((pointer, e))
        }
    }
}
