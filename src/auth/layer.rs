//! The middleware: every request's need ([`super::need`]) against its bearer token's scopes.
//!
//! With no token configured everything passes (loopback only, see `server`). Otherwise a request
//! that needs anything must carry `Authorization: Bearer <token>`: none or an unknown one is 401
//! (with `WWW-Authenticate: Bearer`), a token whose scopes do not cover the need is 403 naming
//! the scope required.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Need, need};
use crate::api::AppState;
use crate::api::problem::ApiError;

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Checks the request; passes it on or answers 401/403.
pub async fn check(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if !st.tokens.enforced() {
        return next.run(req).await;
    }
    let needed = need(req.method(), req.uri().path());
    if needed == Need::Nothing {
        return next.run(req).await;
    }
    let Some(token) = bearer(&req).and_then(|t| st.tokens.verify(t)) else {
        let detail = if bearer(&req).is_some() {
            "the bearer token is not valid (unknown or deleted)"
        } else {
            "this request needs a token: send Authorization: Bearer <token> (railyard token create)"
        };
        let mut resp = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
        .into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    };
    if token.scopes().iter().any(|s| s.grants(&needed)) {
        return next.run(req).await;
    }
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Forbidden",
        format!(
            "token {:?} has scopes {:?}; this request needs {needed}",
            token.name, token.scopes
        ),
    )
    .into_response()
}
