//! One error type for every handler, rendered as RFC 9457 `application/problem+json`.
//!
//! Each problem has a stable `type` (`urn:railyard:problem:<slug>`), a `title`, the `status`, a
//! `detail` a person can act on and, for validation failures, `errors: [{pointer, message}]`.
//! Internal errors are logged with their whole source chain and answered with a generic detail:
//! paths, OS errors and store messages never leak to clients.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bus::log::LogError;
use bus::registry::BusError;
use bus::rules::{RuleError, WRITABLE_FIELDS};
use rules::{PatternError, TransformError};
use serde::Serialize;
use serde_json::Value;

use crate::rulesets::WriteError;

/// Where in the request a problem is, and what.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// A JSON pointer into the request body (or `/<attribute>` for event attributes).
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
    /// For a value written as text (a CESQL, SQL or JSONPath filter, a template): the 1-based
    /// line and column in that text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extra members merged into the problem object (e.g. `attribute`, `results`).
    pub extra: serde_json::Map<String, Value>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn with_error(
        mut self,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        self.errors.push(FieldError {
            pointer: pointer.into(),
            message: message.into(),
            line: None,
            column: None,
        });
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 412: `If-Match` does not name the current version of the `what` (`current`, if it exists).
    pub fn precondition(what: &str, current: Option<u64>) -> ApiError {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
            match current {
                Some(v) => format!("the {what} changed since you read it: it is at ETag \"{v}\""),
                None => format!("If-Match names a version but the {what} does not exist"),
            },
        )
    }

    /// 400 unless `name` is a valid resource name (of a `what`).
    pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
        bus::registry::check_name(name).map_err(|r| {
            ApiError::bad_request("invalid-name", format!("{what} name {name:?}: {r}"))
                .with_error("/name", r)
        })
    }

    pub fn bad_request(slug: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, slug, "Bad request", detail)
    }

    /// A filter that does not compile: a 400 naming the place, where `at` is the filter's own
    /// pointer in the request (`/filter`).
    pub fn filter(e: &PatternError, at: &str) -> ApiError {
        let pointer = format!("{at}{}", e.pointer);
        let detail = match e.position {
            Some(p) => format!(
                "{pointer}: line {}, column {}: {}",
                p.line, p.column, e.reason
            ),
            None => format!("{pointer}: {}", e.reason),
        };
        let mut problem = ApiError::bad_request("invalid-filter", detail);
        problem.errors.push(FieldError {
            pointer,
            message: e.reason.clone(),
            line: e.position.map(|p| p.line),
            column: e.position.map(|p| p.column),
        });
        problem
    }

    /// A transform that does not compile: a 400 naming the place, where `at` is the transform's
    /// own pointer in the request (`/targets/0/transform`).
    pub fn transform(e: &TransformError, at: &str) -> ApiError {
        let pointer = format!("{at}{}", e.pointer);
        ApiError::bad_request("invalid-transform", format!("{pointer}: {}", e.reason))
            .with_error(pointer, e.reason.clone())
    }

    /// A failure that is ours, not the client's: logged in full, answered generically.
    /// A target or connection definition that is not valid.
    pub fn spec(e: &targets::SpecError, slug: &'static str) -> ApiError {
        ApiError::bad_request(slug, format!("{}: {}", e.pointer, e.reason))
            .with_error(e.pointer.clone(), e.reason.clone())
    }

    /// A 500 whose detail carries only a correlation id; the cause, with its source chain and
    /// the same id, goes to the log.
    pub fn internal(context: &str, err: &dyn std::error::Error) -> ApiError {
        let mut chain = err.to_string();
        let mut src = err.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        let id = format!("{:016x}", rand::random::<u64>());
        tracing::error!(correlation_id = %id, error = %chain, "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("the server failed to complete the request; its log has the cause under correlation id {id}"),
        )
        .with("correlation_id", Value::String(id))
    }

    /// The problem object.
    pub fn body(&self) -> Value {
        let mut obj = serde_json::Map::new();
        obj.insert(
            "type".into(),
            Value::String(format!("urn:railyard:problem:{}", self.slug)),
        );
        obj.insert("title".into(), Value::String(self.title.into()));
        obj.insert("status".into(), Value::from(self.status.as_u16()));
        obj.insert("detail".into(), Value::String(self.detail.clone()));
        if !self.errors.is_empty() {
            obj.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or(Value::Null),
            );
        }
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("railyard_requests_rejected_total", "reason" => self.slug).increment(1);
        let body = self.body().to_string();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> ApiError {
        match &e {
            LogError::DiskFull { .. } => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient-storage",
                "Insufficient storage",
                "the disk is full: the event was not stored; retry once space is freed (reads still work)",
            ),
            LogError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "the bus is closing (shutdown or deletion); retry",
            ),
            LogError::Failed(_) => {
                tracing::error!(error = %e, "append refused");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the bus stopped accepting events after a storage error; see the server log",
                )
            }
            LogError::TooLarge { bytes, .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request-too-large",
                "Payload too large",
                format!(
                    "the request's {bytes} bytes of events do not fit in one log segment; send smaller batches"
                ),
            ),
            _ => ApiError::internal("storage failure", &e),
        }
    }
}

impl From<BusError> for ApiError {
    fn from(e: BusError) -> ApiError {
        match e {
            BusError::NotFound(name) => ApiError::not_found(format!("bus {name:?} does not exist")),
            BusError::Invalid { pointer, reason } => {
                ApiError::bad_request("invalid-request", format!("{pointer}: {reason}"))
                    .with_error(pointer, reason)
            }
            BusError::PreconditionFailed { current, .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
                format!("the bus changed since you read it: it is at ETag \"{current}\""),
            ),
            BusError::DeleteDefault => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "Conflict",
                "the default bus cannot be deleted",
            ),
            BusError::Log(e) => e.into(),
            BusError::Meta(e) => ApiError::internal("metadata store failure", &e),
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> ApiError {
        match e {
            RuleError::NotFound { bus, rule } => {
                ApiError::not_found(format!("rule {rule:?} does not exist on bus {bus:?}"))
            }
            RuleError::Invalid { pointer, reason } => {
                ApiError::bad_request("invalid-request", format!("{pointer}: {reason}"))
                    .with_error(pointer, reason)
            }
            RuleError::UnknownFields(fields) => {
                let mut p = ApiError::bad_request(
                    "invalid-request",
                    format!(
                        "unknown fields {fields:?}; a rule has: {}",
                        WRITABLE_FIELDS.join(", ")
                    ),
                );
                for f in fields {
                    p = p.with_error(
                        format!("/{}", rules::pattern::escape_pointer(&f)),
                        "unknown field",
                    );
                }
                p
            }
            RuleError::PreconditionFailed { current, .. } => {
                ApiError::precondition("rule", current)
            }
            RuleError::Meta(e) => ApiError::internal("metadata store failure", &e),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> ApiError {
        match e {
            WriteError::Rule(e) => e.into(),
            WriteError::Bus(e) => e.into(),
        }
    }
}

/// The `limit` query parameter of a list: 1 to 1,000, 100 when absent.
pub fn page_limit(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(100),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid-query",
                    format!("query parameter limit: {v:?} is not between 1 and 1000"),
                )
                .with_error("/limit", "must be between 1 and 1000")
            }),
    }
}
