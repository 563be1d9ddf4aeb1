//! The `http` target kind: one attempt is one request, classified at the edge.
//!
//! - 2xx: delivered.
//! - 408, 429, 5xx, and every failure without a response (refused, reset, timeout): retried,
//!   honouring `Retry-After`.
//! - 401 through an OAuth connection: the cached token is dropped and the request sent once more
//!   with a fresh one, within the same attempt; a second 401 is final.
//! - Anything else (other 4xx, 3xx: redirects are not followed, since a target that moved is a
//!   configuration to fix, not something to chase on every event): dead-lettered at once.

pub mod binary;
pub mod request;

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::connections::{Auth, Connections};
use crate::retry::parse_retry_after;
use crate::spec::HttpSpec;
use request::Prepared;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The target confirmed it.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Worth trying again.
    Retry {
        /// The status, if there was a response.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// What the server asked for.
        retry_after: Option<Duration>,
    },
    /// Not worth trying again.
    Fatal {
        /// The status, if there was a response.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// The text of a client error with its causes (`error sending request: …: connection refused`).
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

/// The client every HTTP target shares: pooled keep-alive connections, no redirects, no proxy
/// from the environment, rustls.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .no_proxy()
        .user_agent(concat!("railyard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends one attempt.
pub async fn send(
    client: &reqwest::Client,
    connections: &Connections,
    spec: &HttpSpec,
    timeout: Duration,
    prepared: &Prepared,
) -> Outcome {
    let mut refreshed = false;
    loop {
        let mut req = client
            .request(spec.method.clone(), spec.url.clone())
            .timeout(timeout);
        for (n, v) in &prepared.headers {
            req = req.header(n, v);
        }
        for (n, v) in &spec.headers {
            req = req.header(n, v);
        }
        let mut oauth = false;
        let mut sent_auth = None;
        if let Some(name) = &spec.connection {
            match connections.header(name).await {
                Ok((n, v)) => {
                    sent_auth = Some(v.clone());
                    req = req.header(n, v);
                }
                Err(e) => {
                    return Outcome::Retry {
                        status: None,
                        error: e.to_string(),
                        retry_after: None,
                    };
                }
            }
            oauth = matches!(
                connections.get(name).ok().flatten().map(|c| c.auth.clone()),
                Some(Auth::OauthClientCredentials { .. })
            );
        }
        let resp = match req.body(prepared.body.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Retry {
                    status: None,
                    error: error_text(&e),
                    retry_after: None,
                };
            }
        };
        let status = resp.status();
        let code = status.as_u16();
        if code == 401
            && oauth
            && !refreshed
            && let Some(name) = &spec.connection
        {
            if let Some(v) = &sent_auth {
                connections.invalidate(name, v).await;
            }
            refreshed = true;
            let _ = resp.bytes().await;
            continue;
        }
        if status.is_success() {
            // Read the body so the connection goes back to the pool.
            let _ = resp.bytes().await;
            return Outcome::Delivered { status: code };
        }
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let body = resp.bytes().await.unwrap_or_else(|_| Bytes::new());
        let snippet = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
        let error = if snippet.trim().is_empty() {
            format!("status {code}")
        } else {
            format!("status {code}: {}", snippet.trim())
        };
        return if code == 408 || code == 429 || status.is_server_error() {
            Outcome::Retry {
                status: Some(code),
                error,
                retry_after,
            }
        } else {
            Outcome::Fatal {
                status: Some(code),
                error,
            }
        };
    }
}
