//! Webhook sources: deliveries from SaaS providers, verified on the raw bytes and mapped to
//! CloudEvents (issue 7), for `POST /v1/webhooks/{name}`.
//!
//! The server owns the source documents (`PUT /v1/sources/{name}`), the secret, the bus, the
//! dedup window and the HTTP plumbing; this module owns everything that depends on the provider:
//! which options a kind takes ([`Provider::parse`]), how its secret becomes a MAC key
//! ([`Provider::key`]), and how one request becomes events or a reply ([`Provider::receive`]).
//! Like [`crate::ingest`], it is synchronous and free of I/O (the clock is in the [`Request`]), so
//! every provider is tested without a server.
//!
//! Every provider follows the same order: verify (in [`verify`], on the raw bytes, constant
//! time, failing closed), then parse and map. Nothing of the body is read before the signature
//! passes, so an unauthenticated sender cannot reach the JSON parser or learn anything from the
//! difference between a 400 and a 401.
//!
//! The registry is this file: [`KINDS`], and the two `match`es in [`Provider::parse`] and
//! [`Provider::receive`]. Adding a provider is one module and three lines here.
//!
//! | kind | module | verification | id |
//! | --- | --- | --- | --- |
//! | `github` | [`github`] | `X-Hub-Signature-256` | `X-GitHub-Delivery` |
//! | `gitlab` | [`gitlab`] | `X-Gitlab-Token` | `Idempotency-Key`, else `X-Gitlab-Event-UUID` |
//! | `stripe` | [`stripe`] | `Stripe-Signature` + tolerance | the Event's `id` (`evt_…`) |
//! | `slack` | [`slack`] | `X-Slack-Signature` + tolerance | `event_id` |
//! | `shopify` | [`shopify`] | `X-Shopify-Hmac-Sha256` | `X-Shopify-Webhook-Id` |
//! | `standard-webhooks` | [`standard`] | `webhook-signature` + tolerance | `webhook-id` |
//! | `hmac` | [`hmac`] | configurable | `id_header`, else SHA-256 of the signed bytes |
//! | `cloudevents` | [`cloudevents`] | optional bearer token | the events' own |

pub mod cloudevents;
pub mod github;
pub mod gitlab;
pub mod hmac;
pub mod shopify;
pub mod slack;
mod spec;
pub mod standard;
pub mod stripe;
pub mod verify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::borrow::Cow;

use bus::event::{Data, Event, media_type};
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::ingest::{IngestError, Limits};
use spec::Opts;
pub use spec::SpecError;
pub use verify::VerifyError;

/// Every kind of webhook source, as written in `kind`.
pub const KINDS: &[&str] = &[
    "github",
    "gitlab",
    "stripe",
    "slack",
    "shopify",
    "standard-webhooks",
    "hmac",
    "cloudevents",
];

/// The members of a source document the server handles; [`Provider::parse`] skips them.
pub const COMMON: &[&str] = &[
    "kind",
    "bus",
    "secret",
    "description",
    "dedup_window",
    "enabled",
];

/// One request to `POST /v1/webhooks/{name}`, as the provider sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The body, exactly as received (signatures are over these bytes).
    pub body: &'a Bytes,
    /// Now, in Unix seconds (timestamp tolerances are measured from it).
    pub now: i64,
    /// The source's name (the default `source` attribute of the generic kinds).
    pub source: &'a str,
}

/// What a verified delivery becomes.
#[derive(Debug)]
pub enum Outcome {
    /// Events for the bus: one for every provider, possibly several for a cloudevents batch.
    /// The server drops any whose id it has seen for this source within the dedup window.
    Events(Vec<Event>),
    /// Answer this and store nothing (GitHub ping, Slack url_verification).
    Reply {
        /// The HTTP status.
        status: u16,
        /// Its Content-Type.
        content_type: &'static str,
        /// Its body.
        body: Bytes,
    },
}

/// Why a delivery cannot be mapped once its signature was verified: a header or a payload member
/// the provider always sends is missing or malformed (400: the sender is authentic but the
/// request is not what the provider sends, so a retry will not help).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// A header the provider always sends is absent.
    #[error("the {0} header is missing")]
    Missing(Cow<'static, str>),
    /// A header is not in the provider's format.
    #[error("the {header} header is malformed: {reason}")]
    Header {
        /// The header.
        header: Cow<'static, str>,
        /// What is wrong.
        reason: String,
    },
    /// The body is not the payload the provider sends.
    #[error("the payload {0}")]
    Payload(String),
    /// The mapped event breaks a CloudEvents rule (a value taken from the payload, such as a
    /// repository URL that is not a URI-reference).
    #[error("the delivery does not make a valid CloudEvent: {0}")]
    Event(String),
}

/// Why a delivery is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Verification failed: bad or missing signature or token, stale timestamp (401).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Verified, but not a delivery of this provider's shape (400).
    #[error(transparent)]
    Map(#[from] MapError),
    /// The `cloudevents` kind's decoding errors (400, 413 or 415), and an event over the size
    /// limit for every kind (413).
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl WebhookError {
    /// The HTTP status: 401, 400, or the ingest error's own (400, 413, 415).
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::Verify(_) => 401,
            WebhookError::Map(_) => 400,
            WebhookError::Ingest(e) => e.status(),
        }
    }
}

/// A provider with its options parsed.
#[derive(Debug, Clone)]
pub struct Provider {
    kind: Kind,
    options: Map<String, Value>,
    limits: Limits,
}

#[derive(Debug, Clone)]
enum Kind {
    Github,
    Gitlab,
    Stripe(stripe::Options),
    Slack(slack::Options),
    Shopify,
    Standard(standard::Options),
    Hmac(Box<hmac::Options>),
    CloudEvents,
}

impl Provider {
    /// `kind` and the provider's own options: the source document minus the common members
    /// ([`COMMON`], which are skipped if present). An unknown kind is a [`SpecError`] at `/kind`;
    /// an unknown or ill-typed member one at its pointer (`/tolerance`).
    pub fn parse(kind: &str, options: &Map<String, Value>) -> Result<Provider, SpecError> {
        let mut opts = Opts::new(options);
        let kind = match kind {
            "github" => Kind::Github,
            "gitlab" => Kind::Gitlab,
            "stripe" => Kind::Stripe(stripe::Options::parse(&mut opts)?),
            "slack" => Kind::Slack(slack::Options::parse(&mut opts)?),
            "shopify" => Kind::Shopify,
            "standard-webhooks" => Kind::Standard(standard::Options::parse(&mut opts)?),
            "hmac" => Kind::Hmac(Box::new(hmac::Options::parse(&mut opts)?)),
            "cloudevents" => Kind::CloudEvents,
            other => {
                return Err(SpecError::new(
                    "/kind",
                    format!(
                        "{other:?} is not a kind of source; one of {}",
                        KINDS.join(", ")
                    ),
                ));
            }
        };
        let options = opts.finish()?;
        Ok(Provider {
            kind,
            options,
            limits: Limits::default(),
        })
    }

    /// The size limits (default [`Limits::default`]): the largest event of every kind, and the
    /// batch limits of the `cloudevents` kind.
    pub fn with_limits(mut self, limits: Limits) -> Provider {
        self.limits = limits;
        self
    }

    /// The kind, as written in `kind`.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Github => "github",
            Kind::Gitlab => "gitlab",
            Kind::Stripe(_) => "stripe",
            Kind::Slack(_) => "slack",
            Kind::Shopify => "shopify",
            Kind::Standard(_) => "standard-webhooks",
            Kind::Hmac(_) => "hmac",
            Kind::CloudEvents => "cloudevents",
        }
    }

    /// Whether a secret is required: for every kind but `cloudevents`, where it is an optional
    /// bearer token.
    pub fn secret_required(&self) -> bool {
        !matches!(self.kind, Kind::CloudEvents)
    }

    /// The MAC key (or shared token) from the secret as the user wrote it: for Standard Webhooks
    /// the base64 after `whsec_`, for every other kind the secret's bytes. A [`SpecError`] at
    /// `/secret` if it is empty or malformed.
    pub fn key(&self, secret: &str) -> Result<Vec<u8>, SpecError> {
        if secret.is_empty() {
            return Err(SpecError::new("/secret", "must not be empty"));
        }
        match self.kind {
            Kind::Standard(_) => {
                let key = verify::standard_key(secret).map_err(|e| SpecError::new("/secret", e))?;
                if key.is_empty() {
                    return Err(SpecError::new("/secret", "the key after whsec_ is empty"));
                }
                Ok(key)
            }
            Kind::Gitlab | Kind::CloudEvents
                if secret.bytes().any(|b| !(b' '..=b'~').contains(&b)) =>
            {
                // Sent back in a header, so only printable ASCII can ever match.
                Err(SpecError::new(
                    "/secret",
                    "a token sent in a header is printable ASCII",
                ))
            }
            _ => Ok(secret.as_bytes().to_vec()),
        }
    }

    /// The options as given (for GET): the document minus the common members, so no secret.
    pub fn options(&self) -> Map<String, Value> {
        self.options.clone()
    }

    /// The largest body worth reading for these headers (413 beyond it): the batch limit for a
    /// `cloudevents` batch, else the event limit (a delivery becomes one event whose `data` is the
    /// body).
    pub fn body_limit(&self, headers: &HeaderMap) -> usize {
        match self.kind {
            Kind::CloudEvents => crate::ingest::mode_of(headers)
                .map(|m| crate::ingest::body_limit(m, &self.limits))
                .unwrap_or(self.limits.max_event_bytes),
            _ => self.limits.max_event_bytes,
        }
    }

    /// Whether a successful delivery should be answered 200 with an empty body rather than with
    /// the stored events' ids. True for Slack: it shows a slash command's response body to the
    /// user, and a body that is not a `response_action` breaks a modal submission.
    pub fn quiet_ack(&self) -> bool {
        matches!(self.kind, Kind::Slack(_))
    }

    /// Verifies, then maps. Verification comes first, always, on the raw bytes; nothing is parsed
    /// before it passes. `key` is `None` only for a `cloudevents` source without a secret; for
    /// any other kind `None` is refused ([`VerifyError::NoKey`]).
    pub fn receive(&self, key: Option<&[u8]>, req: &Request<'_>) -> Result<Outcome, WebhookError> {
        let need = || key.ok_or(VerifyError::NoKey);
        let outcome = match &self.kind {
            // Decoded and validated by ingest, with its own size checks.
            Kind::CloudEvents => return cloudevents::receive(key, req, &self.limits),
            Kind::Github => github::receive(need()?, req)?,
            Kind::Gitlab => gitlab::receive(need()?, req)?,
            Kind::Stripe(o) => o.receive(need()?, req)?,
            Kind::Slack(o) => o.receive(need()?, req)?,
            Kind::Shopify => shopify::receive(need()?, req)?,
            Kind::Standard(o) => o.receive(need()?, req)?,
            Kind::Hmac(o) => o.receive(need()?, req)?,
        };
        if let Outcome::Events(events) = &outcome {
            for ev in events {
                check(ev, &self.limits)?;
            }
        }
        Ok(outcome)
    }
}

/// Every mapped event is held to the rules ingested events are: valid, and within the size limit.
fn check(ev: &Event, limits: &Limits) -> Result<(), WebhookError> {
    ev.validate().map_err(|e| MapError::Event(e.to_string()))?;
    let len = ev.encoded_len();
    if len > limits.max_event_bytes {
        return Err(IngestError::too_large(format!(
            "the event of {len} bytes (structured JSON form) exceeds the limit of {} bytes",
            limits.max_event_bytes
        ))
        .into());
    }
    Ok(())
}

/// A header's value as text; absent is `Ok(None)`; given twice or not visible ASCII is a reason.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("it is given more than once".into());
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| "it is not visible ASCII".into())
}

/// A header that verification reads: given twice or not ASCII fails closed (401).
fn verify_header<'a>(req: &Request<'a>, name: &str) -> Result<Option<&'a str>, VerifyError> {
    header_text(req.headers, name).map_err(|reason| VerifyError::Malformed {
        header: name.to_owned().into(),
        reason,
    })
}

/// A header that mapping reads (400 when malformed).
fn map_header<'a>(req: &Request<'a>, name: &'static str) -> Result<Option<&'a str>, MapError> {
    header_text(req.headers, name).map_err(|reason| MapError::Header {
        header: name.into(),
        reason,
    })
}

/// A header that mapping needs.
fn required_header<'a>(req: &Request<'a>, name: &'static str) -> Result<&'a str, MapError> {
    map_header(req, name)?
        .filter(|v| !v.trim().is_empty())
        .ok_or(MapError::Missing(name.into()))
}

/// The body as a JSON object, and as `data` (the exact bytes, shared rather than copied).
fn json_object(body: &Bytes) -> Result<(Map<String, Value>, Data), MapError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| MapError::Payload(format!("is not JSON ({e})")))?;
    let Value::Object(map) = value else {
        return Err(MapError::Payload("is not a JSON object".into()));
    };
    let data = Data::json_shared(body.clone()).map_err(|e| MapError::Payload(format!("{e}")))?;
    Ok((map, data))
}

/// A name fit for a `type` segment: letters, digits, `_`, `-` and `.`.
fn type_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Unix seconds as an RFC 3339 UTC timestamp (`2023-11-14T22:13:20Z`), for years 1970 to 9999.
fn unix_time(secs: i64) -> Option<String> {
    if !(0..=253_402_300_799).contains(&secs) {
        return None;
    }
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A timestamp the payload or a header gives: kept when it is RFC 3339, dropped otherwise (a
/// badly formatted time is not worth refusing an authentic delivery for).
fn rfc3339(s: &str) -> Option<String> {
    bus::event::time::check(s).ok().map(|()| s.to_owned())
}

/// A JSON value as an id-like string: strings as they are, numbers in their JSON form.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The body as `data` for the generic kinds: JSON when the Content-Type says so (or there is
/// none and it parses), text for a textual Content-Type, bytes otherwise; absent when empty.
fn body_data(req: &Request<'_>) -> Result<(Option<String>, Option<Data>), MapError> {
    if req.body.is_empty() {
        return Ok((None, None));
    }
    let ct = map_header(req, "Content-Type")?;
    let parsed = ct.map(|c| (c, media_type::parse(c)));
    match parsed {
        Some((c, Ok(mt))) if mt.is_json() => Data::json_shared(req.body.clone())
            .map(|d| (Some(c.to_owned()), Some(d)))
            .map_err(|e| {
                MapError::Payload(format!(
                    "is not JSON although the Content-Type is {c} ({e})"
                ))
            }),
        Some((c, Ok(mt))) if mt.is_text() => match std::str::from_utf8(req.body) {
            Ok(text) => Ok((Some(c.to_owned()), Some(Data::text(text)))),
            Err(_) => Ok((Some(c.to_owned()), Some(Data::Binary(req.body.to_vec())))),
        },
        Some((c, Ok(_))) => Ok((Some(c.to_owned()), Some(Data::Binary(req.body.to_vec())))),
        Some((c, Err(_))) => Err(MapError::Header {
            header: "Content-Type".into(),
            reason: format!("{c:?} is not a media type"),
        }),
        None => match Data::json_shared(req.body.clone()) {
            Ok(d) => Ok((Some("application/json".into()), Some(d))),
            Err(_) => Ok((
                Some("application/octet-stream".into()),
                Some(Data::Binary(req.body.to_vec())),
            )),
        },
    }
}
