//! `/v1/queues`: internal durable queues (see `docs/queues.md` and the `queues` crate).
//!
//! - `GET /v1/queues`, `PUT|GET|DELETE /v1/queues/{name}`: documents with an ETag, `If-Match`;
//!   GET adds `stats`. A queue that a rule's target or another queue's `dead_letter` names cannot
//!   be deleted (409).
//! - `POST /v1/queues/{name}/messages`: sends CloudEvents straight to the queue, in any
//!   CloudEvents HTTP mode (binary, structured, batch), answered once durable. It needs `admin`:
//!   producers publish to a bus and a rule's `queue` target appends; direct sends are for tools,
//!   tests and migrations.
//! - `POST …/messages:receive|ack|nack|extend`: the consumer's calls (`consume:<name>` scope).
//!   ack, nack and extend answer 200 with a result per receipt (SQS batch semantics).
//! - `GET|DELETE …/dead-letters`, `POST …/dead-letters:redrive`.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bus::log::Batch;
use queues::{EntryError, Queue, QueueError};
use serde_json::{Map, Value, json};
use sources::ingest::{self, Decoded};

use super::AppState;
use super::etag::{if_match, with_etag};
use super::events::{ingest_problem, read_body, rfc3339_micros};
use super::json::JsonBody;
use super::listing::ListQuery;
use super::openapi::Problem;
use super::problem::{ApiError, page_limit};

/// Most messages one receive returns.
const MAX_RECEIVE: u64 = 100;
/// Longest long poll.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// Most receipts in one ack, nack or extend.
const MAX_RECEIPTS: usize = 1000;

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        match e {
            QueueError::Invalid { pointer, reason } => {
                ApiError::bad_request("invalid-request", format!("{pointer}: {reason}"))
                    .with_error(pointer, reason)
            }
            QueueError::NotFound(n) => ApiError::not_found(format!("queue {n:?} does not exist")),
            QueueError::PreconditionFailed { current, .. } => {
                ApiError::precondition("queue", current)
            }
            QueueError::InUse { name, by } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "Conflict",
                format!(
                    "queue {name:?} receives the dead letters of queues {by:?}; change them first"
                ),
            )
            .with("queues", json!(by)),
            QueueError::Log(e) => e.into(),
            QueueError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "the queue is closing (shutdown or deletion); retry",
            ),
            QueueError::Failed(ref why) => {
                tracing::error!(error = %why, "queue refused work");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the queue stopped after a storage error; see the server log",
                )
            }
            QueueError::Meta(e) => ApiError::internal("metadata store failure", &e),
            QueueError::Io { .. } => ApiError::internal("queue storage failure", &e),
        }
    }
}

fn queue(st: &AppState, name: &str) -> Result<Arc<Queue>, ApiError> {
    st.queues
        .queue(name)
        .ok_or_else(|| ApiError::not_found(format!("queue {name:?} does not exist")))
}

fn public(st: &AppState, spec: &queues::QueueSpec) -> Value {
    let mut v = spec.public();
    if let Some(q) = st.queues.queue(&spec.name) {
        v["stats"] = serde_json::to_value(q.stats()).unwrap_or(Value::Null);
    }
    v
}

/// `GET /v1/queues?limit=&cursor=&prefix=`
#[utoipa::path(get, path = "/v1/queues", tag = "queues", params(("limit" = Option<u32>, Query, description = "1 to 1000, default 100"), ("cursor" = Option<String>, Query, description = "The last name of the previous page"), ("prefix" = Option<String>, Query, description = "Only names starting with this")), responses((status = 200, description = "`{queues: [...], next_cursor}`, each with its stats", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let lq = ListQuery::parse(&q, false)?;
    let (page, more) = lq
        .page(
            |after, n| st.queues.list(after, n),
            |s| s.name.as_str(),
            |_| true,
        )
        .map_err(|e| ApiError::internal("listing queues", &e))?;
    let next = match page.last() {
        Some(last) if more => Value::String(last.name.clone()),
        _ => Value::Null,
    };
    let items: Vec<Value> = page.iter().map(|s| public(&st, s)).collect();
    Ok(axum::Json(json!({ "queues": items, "next_cursor": next })).into_response())
}

/// `GET /v1/queues/{name}`
#[utoipa::path(get, path = "/v1/queues/{name}", tag = "queues", params(("name" = String, Path, description = "Queue name")), responses((status = 200, description = "The queue and `stats: {visible, in_flight, delayed, dead}` (ETag)", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let s = st
        .queues
        .spec(&name)
        .map_err(|e| ApiError::internal("reading a queue", &e))?
        .ok_or_else(|| ApiError::not_found(format!("queue {name:?} does not exist")))?;
    Ok(with_etag(StatusCode::OK, s.version, public(&st, &s)))
}

/// `PUT /v1/queues/{name}`
#[utoipa::path(put, path = "/v1/queues/{name}", tag = "queues", params(("name" = String, Path, description = "Queue name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), request_body(content = Object, description = "`{description?, visibility_timeout? (\"30s\"), max_receives? (10), retention? (\"4d\"), dead_letter? ({kind: keep} | {kind: queue, queue} | {kind: drop})}`"), responses((status = 200, description = "Replaced", body = Object), (status = 201, description = "Created", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    ApiError::check_name("queue", &name)?;
    let current = st
        .queues
        .spec(&name)
        .map_err(|e| ApiError::internal("reading a queue", &e))?
        .map(|s| s.version);
    let expected = if_match(&headers, current, "queue")?;
    let st2 = st.clone();
    let (spec, created) =
        tokio::task::spawn_blocking(move || st2.queues.put(&name, &body, expected))
            .await
            .map_err(|e| ApiError::internal("queue update task", &e))??;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(status, spec.version, public(&st, &spec)))
}

/// `DELETE /v1/queues/{name}`
#[utoipa::path(delete, path = "/v1/queues/{name}", tag = "queues", params(("name" = String, Path, description = "Queue name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), responses((status = 204, description = "Deleted, with its messages"), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "A rule's target or another queue's dead_letter names it (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = st
        .queues
        .spec(&name)
        .map_err(|e| ApiError::internal("reading a queue", &e))?
        .map(|s| s.version);
    let expected = if_match(&headers, current, "queue")?;
    if current.is_none() {
        return Err(ApiError::not_found(format!(
            "queue {name:?} does not exist"
        )));
    }
    let users: Vec<String> = st
        .buses
        .rules()
        .all()
        .map_err(|e| ApiError::internal("reading rules", &e))?
        .into_iter()
        .filter(|r| {
            r.targets.iter().any(|t| {
                t.get("kind").and_then(Value::as_str) == Some("queue")
                    && t.get("queue").and_then(Value::as_str) == Some(name.as_str())
            })
        })
        .map(|r| format!("{}/{}", r.bus, r.name))
        .collect();
    if !users.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!("queue {name:?} is the target of rules {users:?}; change or delete them first"),
        )
        .with("rules", json!(users)));
    }
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || st2.queues.delete(&name, expected))
        .await
        .map_err(|e| ApiError::internal("queue delete task", &e))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/queues/{name}/messages`
#[utoipa::path(post, path = "/v1/queues/{name}/messages", tag = "queues", params(("name" = String, Path, description = "Queue name")), request_body(content = Object, description = "CloudEvents: binary mode (ce- headers), structured (application/cloudevents+json) or batch (application/cloudevents-batch+json)"), responses((status = 200, description = "`{results: [{id, sequence} | {index, error}], failed?}`, durable", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Too large (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Unsupported media type (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn send(
    State(st): State<AppState>,
    Path(name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let q = queue(&st, &name)?;
    let mode = ingest::mode_of(&headers).map_err(|e| ingest_problem(&e))?;
    // At most half a segment of the queue's log: a request is appended atomically, into one.
    let limit = ingest::body_limit(mode, &st.limits).min(st.queues.max_send_bytes());
    let body = read_body(body, &headers, mode, limit).await?;
    let entries =
        match ingest::decode(mode, &headers, body, &st.limits).map_err(|e| ingest_problem(&e))? {
            Decoded::Single(ev) => vec![Ok(ev)],
            Decoded::Batch(entries) => entries,
        };
    let mut ids = Vec::with_capacity(entries.len());
    let mut batch = Batch::with_capacity(
        entries.len(),
        entries
            .iter()
            .flatten()
            .map(bus::event::Event::size_hint)
            .sum(),
    );
    let mut results = vec![Value::Null; entries.len()];
    let mut failed = 0;
    for (i, entry) in entries.into_iter().enumerate() {
        match entry {
            Ok(ev) => {
                batch.push_with(|out| ev.write_structured_json(out));
                ids.push((i, ev.id));
            }
            Err(e) => {
                failed += 1;
                results[i] = json!({ "index": i, "error": ingest_problem(&e.error).body() });
            }
        }
    }
    if batch.is_empty() && failed > 0 {
        return Err(ApiError::bad_request(
            "invalid-batch",
            format!("none of the {failed} events in the batch is valid; nothing was stored"),
        )
        .with("results", Value::Array(results)));
    }
    let seqs = q.send_batch(batch).await?;
    for ((i, id), seq) in ids.into_iter().zip(seqs) {
        results[i] = json!({ "id": id, "sequence": seq });
    }
    let mut body = json!({ "results": results });
    if failed > 0 {
        body["failed"] = json!(failed);
    }
    Ok(axum::Json(body).into_response())
}

/// Refuses members other than `known` in a consumer call's body.
fn members<'a>(body: &'a Value, known: &[&str]) -> Result<&'a Map<String, Value>, ApiError> {
    let Value::Object(m) = body else {
        return Err(
            ApiError::bad_request("invalid-request", "the body is a JSON object")
                .with_error("", "an object was expected"),
        );
    };
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "invalid-request",
            format!("unknown member {k:?}; this call takes {}", known.join(", ")),
        )
        .with_error(format!("/{k}"), "unknown member"));
    }
    Ok(m)
}

fn duration_member(
    m: &Map<String, Value>,
    key: &str,
    max: Duration,
) -> Result<Option<Duration>, ApiError> {
    let pointer = format!("/{key}");
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let d = queues::spec::duration(v, &pointer)?;
            if d > max {
                return Err(ApiError::bad_request(
                    "invalid-request",
                    format!("{pointer}: at most {}", bus::units::format_duration(max)),
                )
                .with_error(
                    pointer,
                    format!("at most {}", bus::units::format_duration(max)),
                ));
            }
            Ok(Some(d))
        }
    }
}

fn receipts_of(m: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let bad = |p: String, msg: &str| {
        ApiError::bad_request("invalid-request", format!("{p}: {msg}")).with_error(p, msg)
    };
    let Some(Value::Array(a)) = m.get("receipts") else {
        return Err(bad(
            "/receipts".into(),
            "required: an array of receipts from a receive",
        ));
    };
    if a.is_empty() || a.len() > MAX_RECEIPTS {
        return Err(bad(
            "/receipts".into(),
            "between 1 and 1000 receipts per call",
        ));
    }
    a.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("/receipts/{i}"), "a receipt is a string"))
        })
        .collect()
}

/// Per-receipt answers: 200 `{results: [...], failed}`.
fn results(receipts: &[String], r: Vec<Result<(), EntryError>>) -> Response {
    let mut failed = 0;
    let items: Vec<Value> = receipts
        .iter()
        .zip(r)
        .map(|(receipt, r)| match r {
            Ok(()) => json!({"receipt": receipt, "ok": true}),
            Err(e) => {
                failed += 1;
                json!({"receipt": receipt, "ok": false,
                       "error": {"type": format!("urn:railyard:problem:{}", e.slug()), "detail": e.detail()}})
            }
        })
        .collect();
    axum::Json(json!({ "results": items, "failed": failed })).into_response()
}

/// `POST /v1/queues/{name}/messages:receive`
#[utoipa::path(post, path = "/v1/queues/{name}/messages:receive", tag = "queues", params(("name" = String, Path, description = "Queue name")), request_body(content = Object, description = "`{max? (1 to 100, default 1), wait? (\"0s\" to \"20s\", default 0: long poll), visibility? (overrides the queue's visibility_timeout)}`"), responses((status = 200, description = "`{messages: [{message_id, sequence, receipt, receive_count, sent_at, event}]}`, empty when nothing arrived within `wait`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "The queue is closing (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn receive(
    State(st): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let m = members(&body, &["max", "wait", "visibility"])?;
    let max = match m.get("max") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_RECEIVE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("invalid-request", "/max: a whole number from 1 to 100")
                    .with_error("/max", "a whole number from 1 to 100")
            })?,
    };
    let wait = duration_member(m, "wait", MAX_WAIT)?.unwrap_or_default();
    let visibility = duration_member(m, "visibility", queues::spec::MAX_VISIBILITY)?;
    let q = queue(&st, &name)?;
    let msgs = q.receive(max as usize, wait, visibility).await?;
    // Written by hand: each event goes out as the stored bytes, with no parse and re-encode.
    let mut out = Vec::with_capacity(
        16 + msgs
            .iter()
            .map(|m| m.body.len() + m.message_id.len() + 160)
            .sum::<usize>(),
    );
    out.extend_from_slice(b"{\"messages\":[");
    for (i, msg) in msgs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"message_id\":");
        serde_json::to_writer(&mut out, &msg.message_id)
            .map_err(|e| ApiError::internal("encoding a response", &e))?;
        write!(
            out,
            ",\"sequence\":{},\"receipt\":\"{}\",\"receive_count\":{},\"sent_at\":\"{}\",\"event\":",
            msg.sequence,
            msg.receipt,
            msg.receive_count,
            rfc3339_micros(msg.sent_at)
        )
        .map_err(|e| ApiError::internal("encoding a response", &e))?;
        out.extend_from_slice(&msg.body);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        out,
    )
        .into_response())
}

/// `POST /v1/queues/{name}/messages:ack`
#[utoipa::path(post, path = "/v1/queues/{name}/messages:ack", tag = "queues", params(("name" = String, Path, description = "Queue name")), request_body(content = Object, description = "`{receipts: [..]}` (1 to 1000)"), responses((status = 200, description = "`{results: [{receipt, ok, error?: {type, detail}}], failed}`; acknowledged messages are durable", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn ack(
    State(st): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let m = members(&body, &["receipts"])?;
    let receipts = receipts_of(m)?;
    let q = queue(&st, &name)?;
    let r = q.ack(&receipts).await;
    Ok(results(&receipts, r))
}

/// `POST /v1/queues/{name}/messages:nack`
#[utoipa::path(post, path = "/v1/queues/{name}/messages:nack", tag = "queues", params(("name" = String, Path, description = "Queue name")), request_body(content = Object, description = "`{receipts: [..], delay? (\"0s\" to \"12h\": visible again after it)}`"), responses((status = 200, description = "`{results: [{receipt, ok, error?: {type, detail}}], failed}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn nack(
    State(st): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let m = members(&body, &["receipts", "delay"])?;
    let receipts = receipts_of(m)?;
    let delay = duration_member(m, "delay", queues::spec::MAX_VISIBILITY)?;
    let q = queue(&st, &name)?;
    let r = q.nack(&receipts, delay).await;
    Ok(results(&receipts, r))
}

/// `POST /v1/queues/{name}/messages:extend`
#[utoipa::path(post, path = "/v1/queues/{name}/messages:extend", tag = "queues", params(("name" = String, Path, description = "Queue name")), request_body(content = Object, description = "`{receipts: [..], visibility (\"0s\" to \"12h\", from now)}`"), responses((status = 200, description = "`{results: [{receipt, ok, error?: {type, detail}}], failed}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn extend(
    State(st): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let m = members(&body, &["receipts", "visibility"])?;
    let receipts = receipts_of(m)?;
    let visibility =
        duration_member(m, "visibility", queues::spec::MAX_VISIBILITY)?.ok_or_else(|| {
            ApiError::bad_request("invalid-request", "/visibility: required, such as \"60s\"")
                .with_error("/visibility", "required")
        })?;
    let q = queue(&st, &name)?;
    let r = q.extend(&receipts, visibility).await;
    Ok(results(&receipts, r))
}

/// `GET /v1/queues/{name}/dead-letters?limit=&cursor=`
#[utoipa::path(get, path = "/v1/queues/{name}/dead-letters", tag = "queues", params(("name" = String, Path, description = "Queue name"), ("limit" = Option<u32>, Query, description = "1 to 1000, default 100"), ("cursor" = Option<String>, Query, description = "The last sequence of the previous page")), responses((status = 200, description = "`{dead_letters: [{sequence, message_id, receive_count, dead_lettered_at, sent_at, event}], next_cursor}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn dead_letters(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(k) = params.keys().find(|k| *k != "limit" && *k != "cursor") {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("query parameter {k:?} is not known here; the parameters are limit, cursor"),
        )
        .with_error(format!("/{k}"), "unknown query parameter"));
    }
    let limit = page_limit(&params)?;
    let after = match params.get("cursor") {
        None => 0,
        Some(c) => c.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "invalid-query",
                format!("query parameter cursor: {c:?} is not a sequence"),
            )
            .with_error("/cursor", "a sequence from a previous page")
        })?,
    };
    let q = queue(&st, &name)?;
    let page = q.dead_letters(after, limit + 1)?;
    let more = page.len() > limit;
    let items: Vec<Value> = page
        .iter()
        .take(limit)
        .map(|d| {
            let event = d
                .body
                .as_deref()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .unwrap_or(Value::Null);
            json!({
                "sequence": d.sequence,
                "message_id": d.message_id,
                "receive_count": d.receive_count,
                "dead_lettered_at": rfc3339_micros(d.dead_at),
                "sent_at": rfc3339_micros(d.sent_at),
                "event": event,
            })
        })
        .collect();
    let next = match page.get(limit.saturating_sub(1)) {
        Some(last) if more => json!(last.sequence.to_string()),
        _ => Value::Null,
    };
    Ok(axum::Json(json!({ "dead_letters": items, "next_cursor": next })).into_response())
}

/// `POST /v1/queues/{name}/dead-letters:redrive`
#[utoipa::path(post, path = "/v1/queues/{name}/dead-letters:redrive", tag = "queues", params(("name" = String, Path, description = "Queue name")), request_body(content = Object, description = "`{}` for all, or `{sequences: [..]}`; they become receivable again with a receive count of 0"), responses((status = 200, description = "`{redriven}`, durable", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Not JSON (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn redrive(
    State(st): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let m = members(&body, &["sequences"])?;
    let seqs = match m.get("sequences") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_u64().ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid-request",
                            format!("/sequences/{i}: not a sequence"),
                        )
                        .with_error(
                            format!("/sequences/{i}"),
                            "a sequence (integer) was expected",
                        )
                    })
                })
                .collect::<Result<Vec<u64>, _>>()?,
        ),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid-request",
                "/sequences: an array was expected",
            )
            .with_error("/sequences", "an array of sequences was expected"));
        }
    };
    let q = queue(&st, &name)?;
    let n = q.redrive(seqs.as_deref()).await?;
    Ok(axum::Json(json!({ "redriven": n })).into_response())
}

/// `DELETE /v1/queues/{name}/dead-letters`
#[utoipa::path(delete, path = "/v1/queues/{name}/dead-letters", tag = "queues", params(("name" = String, Path, description = "Queue name")), responses((status = 200, description = "`{purged}`, durable", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn purge(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let q = queue(&st, &name)?;
    let n = q.purge(None).await?;
    Ok(axum::Json(json!({ "purged": n })).into_response())
}
