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
use http_body_util::{BodyExt as _, Full};

use crate::connections::{Auth, Connections};
use crate::retry::parse_retry_after;
use crate::spec::HttpSpec;
use request::Prepared;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The target confirmed it.
    Delivered {
        /// The HTTP status, for targets that answer with one.
        status: Option<u16>,
        /// What the trace should say beyond the status (where a bus target appended, a reply,
        /// a function's stderr).
        detail: Option<String>,
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

/// The client every HTTP target shares: hyper's pooled keep-alive client over rustls (ring),
/// HTTP/1.1, no redirects, no proxy from the environment. hyper directly rather than reqwest
/// on this path: per request, reqwest re-derived the URI and cloned its connector and client,
/// a measurable share of the CPU of a delivery (reqwest stays for OAuth token requests).
pub type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// Builds the shared client.
pub fn client() -> Result<Client, rustls::Error> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https),
    )
}

/// The client for token requests (OAuth connections): reqwest, no redirects, no proxy.
pub fn token_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(USER_AGENT)
        .build()
}

/// The most of a target's answer that is read (the rest is dropped with the connection).
const MAX_ANSWER: usize = 64 << 10;

const USER_AGENT: &str = concat!("railyard/", env!("CARGO_PKG_VERSION"));

/// Sends one attempt.
pub async fn send(
    client: &Client,
    connections: &Connections,
    spec: &HttpSpec,
    timeout: Duration,
    prepared: &Prepared,
) -> Outcome {
    let exchange = exchange(client, connections, spec, prepared, MAX_ANSWER);
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(answer)) => classify(&answer),
        Ok(Err(outcome)) => outcome,
        Err(_) => timed_out(timeout),
    }
}

/// The outcome of an attempt that got no answer in time.
pub fn timed_out(timeout: Duration) -> Outcome {
    Outcome::Retry {
        status: None,
        error: format!(
            "no answer within the timeout ({})",
            humantime::format_duration(timeout)
        ),
        retry_after: None,
    }
}

/// A target's answer, its body read up to a limit (for callers that need more than the
/// outcome: function targets read their reply from it).
#[derive(Debug)]
pub struct Answer {
    /// The response head.
    pub parts: http::response::Parts,
    /// The body, or why it could not be read whole.
    pub body: Result<Bytes, BodyError>,
}

/// Why an answer's body was not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BodyError {
    /// Over the limit given to [`exchange`].
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while reading it.
    #[error("reading the answer failed: {0}")]
    Read(String),
}

/// Sends the request (again once with a fresh token after a 401 through an OAuth connection)
/// and reads the answer's body up to `limit` bytes; `Err` is the outcome of a request that got
/// no answer. No timeout: the caller puts one around it.
pub async fn exchange(
    client: &Client,
    connections: &Connections,
    spec: &HttpSpec,
    prepared: &Prepared,
    limit: usize,
) -> Result<Answer, Outcome> {
    let mut refreshed = false;
    loop {
        let mut req = http::Request::new(Full::new(prepared.body.clone()));
        *req.method_mut() = spec.method.clone();
        *req.uri_mut() = spec.uri.clone();
        let headers = req.headers_mut();
        headers.reserve(prepared.headers.len() + spec.headers.len() + 2);
        for (n, v) in &prepared.headers {
            headers.append(n.clone(), v.clone());
        }
        for (n, v) in &spec.headers {
            headers.insert(n.clone(), v.clone());
        }
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static(USER_AGENT),
        );
        let mut oauth = false;
        let mut sent_auth = None;
        if let Some(name) = &spec.connection {
            match connections.header(name).await {
                Ok((n, v)) => {
                    sent_auth = Some(v.clone());
                    req.headers_mut().insert(n, v);
                }
                Err(e) => {
                    return Err(Outcome::Retry {
                        status: None,
                        error: e.to_string(),
                        retry_after: None,
                    });
                }
            }
            oauth = matches!(
                connections.get(name).ok().flatten().map(|c| c.auth.clone()),
                Some(Auth::OauthClientCredentials { .. })
            );
        }
        let resp = match client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                return Err(Outcome::Retry {
                    status: None,
                    error: error_text(&e),
                    retry_after: None,
                });
            }
        };
        let (parts, body) = resp.into_parts();
        // Read the answer (bounded) so the connection goes back to the pool.
        let body = match http_body_util::Limited::new(body, limit).collect().await {
            Ok(b) => Ok(b.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge(limit)),
            Err(e) => Err(BodyError::Read(error_text(&*e))),
        };
        if parts.status == 401
            && oauth
            && !refreshed
            && let Some(name) = &spec.connection
        {
            if let Some(v) = &sent_auth {
                connections.invalidate(name, v).await;
            }
            refreshed = true;
            continue;
        }
        return Ok(Answer { parts, body });
    }
}

/// Classifies an answer by its status (see the module doc).
pub fn classify(answer: &Answer) -> Outcome {
    let status = answer.parts.status;
    let code = status.as_u16();
    if status.is_success() {
        return Outcome::Delivered {
            status: Some(code),
            detail: None,
        };
    }
    let retry_after = answer
        .parts
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let body = answer.body.as_ref().map(|b| &b[..]).unwrap_or_default();
    let snippet = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
    let error = if snippet.trim().is_empty() {
        format!("status {code}")
    } else {
        format!("status {code}: {}", snippet.trim())
    };
    if code == 408 || code == 429 || status.is_server_error() {
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
    }
}
