//! The `nats` target kind: each event published to a NATS subject, in the binary content mode of
//! the CloudEvents NATS protocol binding, with core NATS or JetStream.
//!
//! **The message** (NATS binding 1.0.3, §3.1): every attribute as a `ce-<name>` header
//! (`datacontenttype` as `ce-datacontenttype` too, §3.1.3.1), values in their canonical string
//! form, percent-encoded as the binding requires (§3.1.3.2: space, `"`, `%` and everything
//! outside printable ASCII); the data bytes as the payload (§3.1.1). `Content-Type` also carries
//! the `datacontenttype`, as NATS tools and the HTTP binding's habits expect; it never starts with
//! `application/cloudevents`, so a receiver still sees binary mode (§3).
//!
//! **When an attempt counts as delivered:**
//! - JetStream: when the stream's `PubAck` came back. The header `Nats-Msg-Id` carries the
//!   target's scope and the event's source and id, so a redelivery (a retry whose first try was
//!   stored after all, or a replay after a crash) is dropped by the stream's duplicate window
//!   (2 minutes by default) instead of stored twice.
//! - Core NATS has no acknowledgement. A publish is written to a socket that may already be dead,
//!   and the client library buffers publishes while it reconnects, so "the client took it" proves
//!   nothing. After the publish, the publisher makes a request on the same connection (to a
//!   subject nobody serves; the server's "no responders" answer is enough): the server handles a
//!   connection's messages in order, so the answer proves the event was processed, which for core
//!   NATS means handed to the subscribers connected at that moment. If the client reconnected in
//!   between (its connect counter moved), the event may have been lost with the old connection
//!   and the attempt is retried. What core NATS cannot give, no publisher can: a subscriber that is
//!   disconnected at that moment never gets the event. Use JetStream for durability.
//!
//! **Failures:** connection loss, a timeout, no answer, a stream that is not there (JetStream
//! answers "no responders" until a stream captures the subject; a stream is often created after
//! the rule, and JetStream also answers so for a moment while it recovers after a restart), a
//! full stream: retried. Only what can never succeed is fatal: an event that is not a CloudEvent,
//! a subject template the event cannot fill, a message above the server's `max_payload`.
//!
//! **Connections:** one per target, made at the first attempt and kept; the client reconnects by
//! itself after a loss (at most 2 s between tries). While it is disconnected, attempts fail at
//! once instead of queueing inside the client, so the engine's backoff paces them.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::header::{HeaderMap, HeaderName, HeaderValue, NATS_MESSAGE_ID};
use async_nats::{ConnectOptions, client, jetstream};
use bus::event::binary::percent_encode;
use bytes::Bytes;

use crate::binding::{self, Parts};

const CONTENT_TYPE: HeaderName = HeaderName::from_static("Content-Type");
use crate::http::Outcome;
use crate::spec::{NatsSpec, nats_check_subject, redact};

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Will never succeed: dead-letter.
    #[error("{0}")]
    Fatal(String),
    /// May succeed later.
    #[error("{0}")]
    Retry(String),
}

impl From<Failure> for Outcome {
    fn from(f: Failure) -> Outcome {
        match f {
            Failure::Fatal(error) => Outcome::Fatal {
                status: None,
                error,
            },
            Failure::Retry(error) => Outcome::Retry {
                status: None,
                error,
                retry_after: None,
            },
        }
    }
}

/// A connection and what is derived from it.
#[derive(Clone)]
struct Conn {
    client: async_nats::Client,
    jetstream: Option<jetstream::Context>,
    /// The subject of the round-trip that confirms core publishes (no one serves it).
    ping: String,
}

/// Publishes a target's events to NATS.
pub struct NatsPublisher {
    spec: NatsSpec,
    scope: String,
    shown: String,
    conn: std::sync::Mutex<Option<Conn>>,
    connecting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPublisher")
            .field("spec", &self.spec)
            .field("scope", &self.scope)
            .finish()
    }
}

impl NatsPublisher {
    /// A publisher for `spec`; no connection is made until the first attempt.
    ///
    /// `scope` names the target for JetStream's duplicate detection (for instance
    /// `"<bus>/<rule>/<target>"`): two targets sending the same event to one stream must not
    /// drop each other's copies, while one target's redeliveries must be dropped.
    pub fn new(spec: NatsSpec, scope: impl Into<String>) -> NatsPublisher {
        let shown = spec
            .urls
            .iter()
            .map(|u| redact(u))
            .collect::<Vec<_>>()
            .join(", ");
        NatsPublisher {
            spec,
            scope: scope.into(),
            shown,
            conn: std::sync::Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    /// Publishes one event (its structured JSON, as stored or as transformed) and says how the
    /// attempt ended; never takes longer than `timeout`.
    pub async fn publish(&self, event: &Bytes, timeout: Duration) -> Outcome {
        let parts = match binding::parts(event) {
            Ok(p) => p,
            Err(e) => return Failure::Fatal(e).into(),
        };
        let subject = match self.spec.subject.render(|n| parts.text(n)) {
            Ok(s) => s,
            Err(e) => return Failure::Fatal(e).into(),
        };
        if let Err(e) = nats_check_subject(&subject) {
            return Failure::Fatal(format!(
                "{e} (from the template {:?})",
                self.spec.subject.as_str()
            ))
            .into();
        }
        let headers = match self.headers(&parts) {
            Ok(h) => h,
            Err(e) => return Failure::Fatal(e).into(),
        };
        let subject = subject.into_owned();
        let send = self.send(subject, headers, parts.data.clone());
        match tokio::time::timeout(timeout, send).await {
            Ok(Ok(())) => Outcome::Delivered {
                status: None,
                detail: Some("published".into()),
            },
            Ok(Err(f)) => f.into(),
            Err(_) => Failure::Retry(format!(
                "no acknowledgement from NATS ({}) within the timeout ({})",
                self.shown,
                humantime::format_duration(timeout)
            ))
            .into(),
        }
    }

    /// The binary-mode headers (and, for JetStream, `Nats-Msg-Id`).
    fn headers(&self, parts: &Parts<'_>) -> Result<HeaderMap, String> {
        let mut h = HeaderMap::new();
        let mut name = String::with_capacity(32);
        let mut put = |attr: &str, value: &str, h: &mut HeaderMap| -> Result<(), String> {
            name.clear();
            name.push_str("ce-");
            name.push_str(attr);
            let n: HeaderName = name
                .parse()
                .map_err(|_| format!("{attr:?} cannot be a NATS header name"))?;
            let v: HeaderValue = percent_encode(value)
                .parse()
                .map_err(|_| format!("the value of {attr} cannot be a NATS header value"))?;
            h.insert(n, v);
            Ok(())
        };
        for (attr, value) in &parts.attributes {
            put(attr, &value.text(), &mut h)?;
        }
        if let Some(ct) = &parts.content_type {
            put("datacontenttype", ct, &mut h)?;
            let v: HeaderValue = percent_encode(ct)
                .parse()
                .map_err(|_| "the datacontenttype cannot be a NATS header value".to_owned())?;
            h.insert(CONTENT_TYPE, v);
        }
        if self.spec.jetstream {
            let source = parts.text("source").unwrap_or(Cow::Borrowed(""));
            let id = parts.id().unwrap_or("");
            let key = format!("{}\u{1f}{source}\u{1f}{id}", self.scope);
            let v: HeaderValue = percent_encode(&key)
                .parse()
                .map_err(|_| "the event id cannot be a NATS header value".to_owned())?;
            h.insert(NATS_MESSAGE_ID, v);
        }
        Ok(h)
    }

    async fn send(
        &self,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), Failure> {
        let conn = self.connection().await?;
        if conn.client.connection_state() != async_nats::connection::State::Connected {
            return Err(Failure::Retry(format!(
                "not connected to NATS ({}); the client is reconnecting",
                self.shown
            )));
        }
        match &conn.jetstream {
            Some(js) => self.send_jetstream(js, subject, headers, payload).await,
            None => self.send_core(&conn, subject, headers, payload).await,
        }
    }

    async fn send_jetstream(
        &self,
        js: &jetstream::Context,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), Failure> {
        use jetstream::context::PublishErrorKind as K;
        let classify = |e: jetstream::context::PublishError, subject: &str| match e.kind() {
            K::MaxPayloadExceeded => Failure::Fatal(format!("{e} (NATS {})", self.shown)),
            K::StreamNotFound => Failure::Retry(format!(
                "no JetStream stream captures the subject {subject:?} (NATS {})",
                self.shown
            )),
            _ => Failure::Retry(format!(
                "JetStream publish to {subject:?} failed: {} (NATS {})",
                crate::http::error_text(&e),
                self.shown
            )),
        };
        let ack = js
            .publish_with_headers(subject.clone(), headers, payload)
            .await
            .map_err(|e| classify(e, &subject))?;
        let ack = ack.await.map_err(|e| classify(e, &subject))?;
        if ack.duplicate {
            tracing::debug!(stream = %ack.stream, seq = ack.sequence, "JetStream dropped a redelivery as a duplicate");
        }
        Ok(())
    }

    async fn send_core(
        &self,
        conn: &Conn,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), Failure> {
        let stats = conn.client.statistics();
        let epoch = stats.connects.load(Ordering::Acquire);
        conn.client
            .publish_with_headers(subject.clone(), headers, payload)
            .await
            .map_err(|e| match e.kind() {
                client::PublishErrorKind::MaxPayloadExceeded
                | client::PublishErrorKind::InvalidSubject => {
                    Failure::Fatal(format!("publish to {subject:?}: {e} (NATS {})", self.shown))
                }
                _ => Failure::Retry(format!(
                    "publish to {subject:?} failed: {} (NATS {})",
                    crate::http::error_text(&e),
                    self.shown
                )),
            })?;
        match conn.client.request(conn.ping.clone(), Bytes::new()).await {
            Ok(_) => {}
            Err(e) if e.kind() == client::RequestErrorKind::NoResponders => {}
            Err(e) => {
                return Err(Failure::Retry(format!(
                    "NATS ({}) did not confirm the publish: {}",
                    self.shown,
                    crate::http::error_text(&e)
                )));
            }
        }
        if stats.connects.load(Ordering::Acquire) != epoch {
            return Err(Failure::Retry(format!(
                "the connection to NATS ({}) was lost and made again during the publish; the server may not have the event",
                self.shown
            )));
        }
        Ok(())
    }

    /// The cached connection, made if there is none.
    async fn connection(&self) -> Result<Conn, Failure> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let conn = self.connect().await?;
        if let Ok(mut slot) = self.conn.lock() {
            *slot = Some(conn.clone());
        }
        Ok(conn)
    }

    fn cached(&self) -> Option<Conn> {
        self.conn.lock().ok().and_then(|c| c.clone())
    }

    async fn connect(&self) -> Result<Conn, Failure> {
        let mut servers = Vec::with_capacity(self.spec.urls.len());
        let mut auth = None;
        for u in &self.spec.urls {
            let (server, creds) = split_credentials(u);
            servers.push(server);
            if auth.is_none() {
                auth = creds;
            }
        }
        let shown = Arc::new(self.shown.clone());
        let mut options = ConnectOptions::new()
            .name("railyard")
            .connection_timeout(Duration::from_secs(10))
            // The attempt's timeout bounds every wait; the client's own would cut it shorter.
            .request_timeout(None)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100u64.saturating_mul(1 << attempts.min(5)).min(2_000))
            })
            .event_callback(move |event| {
                let shown = shown.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!(nats = %shown, "connected to NATS")
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!(nats = %shown, "disconnected from NATS; reconnecting")
                        }
                        other => tracing::debug!(nats = %shown, event = %other, "NATS event"),
                    }
                }
            });
        match auth {
            Some(Credentials::UserPassword(u, p)) => options = options.user_and_password(u, p),
            Some(Credentials::Token(t)) => options = options.token(t),
            None => {}
        }
        let client = options.connect(servers.as_slice()).await.map_err(|e| {
            Failure::Retry(format!(
                "cannot connect to NATS ({}): {}",
                self.shown,
                crate::http::error_text(&e)
            ))
        })?;
        let jetstream = self.spec.jetstream.then(|| {
            jetstream::context::ContextBuilder::new()
                .timeout(Duration::from_secs(300))
                .build(client.clone())
        });
        let ping = format!("{}.railyard-confirm", client.new_inbox());
        Ok(Conn {
            client,
            jetstream,
            ping,
        })
    }
}

/// What a URL's user info means to NATS.
enum Credentials {
    UserPassword(String, String),
    Token(String),
}

/// The URL without its user info, and the credentials it carried (async-nats ignores them).
fn split_credentials(url: &str) -> (String, Option<Credentials>) {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return (url.to_owned(), None);
    };
    let user = percent_decode(u.username());
    let password = u.password().map(percent_decode);
    if user.is_empty() && password.is_none() {
        return (url.to_owned(), None);
    }
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let creds = match password {
        Some(p) => Credentials::UserPassword(user, p),
        None => Credentials::Token(user),
    };
    (u.to_string(), Some(creds))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn credentials_leave_the_url() {
        let (u, c) = split_credentials("nats://al%40ice:p%2Fw@h:4222");
        assert_eq!(u, "nats://h:4222");
        assert!(
            matches!(c, Some(Credentials::UserPassword(ref a, ref b)) if a == "al@ice" && b == "p/w")
        );
        let (u, c) = split_credentials("tls://s3cret@h:4443");
        assert_eq!(u, "tls://h:4443");
        assert!(matches!(c, Some(Credentials::Token(ref t)) if t == "s3cret"));
        let (u, c) = split_credentials("nats://h:4222");
        assert_eq!(u, "nats://h:4222");
        assert!(c.is_none());
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
