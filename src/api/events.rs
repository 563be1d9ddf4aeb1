//! `/v1/buses/{bus}/events`: CloudEvents ingest (binary, structured and batch modes) and reads.
//!
//! Ingest answers 202 only after the events are durable (the log's group commit). Decoding and
//! encoding happen here, on the request's task, so the log's writer thread only copies bytes.
//! Reads return events exactly as stored: the structured JSON bytes written at ingest.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bus::event::Event;
use bus::log::{Batch, Log, Lookup, Record};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sources::ingest::{self, Decoded, EntryError, IngestError, Mode};

use super::AppState;
use super::openapi::Problem;
use super::problem::ApiError;

/// Renders an ingest failure as a problem; the attribute at fault is named in `attribute`, in
/// `errors[0].pointer` and in `detail`.
pub fn ingest_problem(e: &IngestError) -> ApiError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut p = ApiError::new(status, e.slug(), e.kind.title(), e.detail.clone());
    if let Some(attr) = &e.attribute {
        p = p
            .with("attribute", Value::String(attr.clone()))
            .with_error(format!("/{attr}"), e.detail.clone());
    }
    if let Some((line, column)) = e.position {
        p = p.with("line", json!(line)).with("column", json!(column));
    }
    p
}

fn too_large(mode: Mode, limit: usize) -> ApiError {
    let what = match mode {
        Mode::Batch => "batch request limit (max_batch_size)",
        _ => "per-event limit (max_event_size)",
    };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "event-too-large",
        "Event too large",
        format!("the request body exceeds the {limit}-byte {what}"),
    )
}

/// Reads a body of at most `limit` bytes; longer bodies (declared or chunked) are a 413.
pub(super) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    mode: Mode,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(mode, limit));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large(mode, limit))
        }
        Err(e) => Err(ApiError::bad_request(
            "unreadable-body",
            format!("could not read the request body: {e}"),
        )),
    }
}

/// `POST /v1/buses/{bus}/events`
///
/// Takes the request whole: axum's `HeaderMap` extractor clones every header, a measurable cost
/// per event on this path.
#[utoipa::path(post, path = "/v1/buses/{bus}/events", tag = "events", params(("bus" = String, Path, description = "Bus name")), request_body(content = Object, description = "A CloudEvent: binary mode (ce- headers), structured (application/cloudevents+json) or batch (application/cloudevents-batch+json)"), responses((status = 202, description = "`{results: [{id, sequence} | {index, error}]}`, durable", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Too large (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Unsupported media type (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn ingest(
    State(st): State<AppState>,
    Path(bus_name): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let bus = st.bus(&bus_name)?;
    let mode = ingest::mode_of(&headers).map_err(|e| ingest_problem(&e))?;
    let body = read_body(body, &headers, mode, ingest::body_limit(mode, &st.limits)).await?;
    let decoded =
        ingest::decode(mode, &headers, body, &st.limits).map_err(|e| ingest_problem(&e))?;
    let ev = match decoded {
        Decoded::Single(ev) => ev,
        Decoded::Batch(entries) => return ingest_batch(&bus.log, entries).await,
    };
    let mut batch = Batch::with_capacity(1, ev.size_hint());
    batch.push_with(|out| ev.write_structured_json(out));
    let appended = bus.log.append(batch).await?;
    // The hot path: one event, one result, written without building a JSON tree.
    let mut body = Vec::with_capacity(ev.id.len() + 48);
    body.extend_from_slice(b"{\"results\":[{\"id\":");
    serde_json::to_writer(&mut body, &ev.id)
        .map_err(|e| ApiError::internal("encoding a response", &e))?;
    body.extend_from_slice(format!(",\"sequence\":{}}}]}}", appended.first).as_bytes());
    Ok((
        StatusCode::ACCEPTED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// A batch: valid entries are stored together (one atomic append), invalid ones reported in place.
async fn ingest_batch(
    log: &Log,
    entries: Vec<Result<Event, EntryError>>,
) -> Result<Response, ApiError> {
    let mut ids = Vec::with_capacity(entries.len());
    let mut batch = Batch::with_capacity(
        entries.len(),
        entries.iter().flatten().map(Event::size_hint).sum(),
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
                metrics::counter!("railyard_requests_rejected_total", "reason" => e.error.slug())
                    .increment(1);
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
    if !batch.is_empty() {
        let a = log.append(batch).await?;
        for (k, (i, id)) in ids.into_iter().enumerate() {
            results[i] = json!({ "id": id, "sequence": a.first + k as u64 });
        }
    }
    let mut body = json!({ "results": results });
    if failed > 0 {
        body["failed"] = json!(failed);
    }
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// RFC 3339 (UTC, microseconds) for an ingestion timestamp.
pub fn rfc3339_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn parse_u64(q: &HashMap<String, String>, key: &str) -> Result<Option<u64>, ApiError> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(
                "invalid-query",
                format!("query parameter {key}: {v:?} is not a non-negative integer"),
            )
            .with_error(format!("/{key}"), "must be a non-negative integer")
        }),
    }
}

/// `GET /v1/buses/{bus}/events?after=<seq>|since=<RFC 3339>&limit=<n>`
#[utoipa::path(get, path = "/v1/buses/{bus}/events", tag = "events", params(("bus" = String, Path, description = "Bus name"), ("after" = Option<u64>, Query, description = "Events after this sequence"), ("since" = Option<String>, Query, description = "Events ingested at or after this RFC 3339 time"), ("limit" = Option<u32>, Query, description = "1 to 1000")), responses((status = 200, description = "`{events: [{sequence, ingested_at, event}], next_after}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(st): State<AppState>,
    Path(bus_name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let bus = st.bus(&bus_name)?;
    let limit = parse_u64(&q, "limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid-query",
            format!("query parameter limit: {limit} is not between 1 and 1000"),
        )
        .with_error("/limit", "must be between 1 and 1000"));
    }
    let after = match (parse_u64(&q, "after")?, q.get("since")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid-query",
                "give either after or since, not both",
            ));
        }
        (Some(a), None) => a,
        (None, Some(since)) => {
            let t = chrono::DateTime::parse_from_rfc3339(since).map_err(|e| {
                ApiError::bad_request(
                    "invalid-query",
                    format!("query parameter since: {since:?} is not an RFC 3339 time: {e}"),
                )
                .with_error(
                    "/since",
                    "must be an RFC 3339 time such as 2026-01-02T03:04:05Z",
                )
            })?;
            bus.log.seek_time(t.timestamp_micros()).saturating_sub(1)
        }
        (None, None) => 0,
    };
    let log = &bus.log;
    let records = tokio::task::block_in_place(|| log.read_after(after, limit as usize, 8 << 20))?;
    let next_after = records
        .last()
        .map_or(after.max(log.first_sequence().saturating_sub(1)), |r| {
            r.sequence
        });
    let mut out = Vec::with_capacity(records.iter().map(|r| r.body.len() + 96).sum::<usize>() + 64);
    out.extend_from_slice(b"{\"events\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(&mut out, r);
    }
    out.extend_from_slice(format!("],\"next_after\":{next_after}}}").as_bytes());
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        out,
    )
        .into_response())
}

fn sequence_headers(h: &mut HeaderMap, r: &Record) {
    h.insert("railyard-sequence", HeaderValue::from(r.sequence));
    if let Ok(v) = HeaderValue::from_str(&rfc3339_micros(r.timestamp)) {
        h.insert("railyard-ingested-at", v);
    }
}

fn write_item(out: &mut Vec<u8>, r: &Record) {
    out.extend_from_slice(
        format!(
            "{{\"sequence\":{},\"ingested_at\":\"{}\",\"event\":",
            r.sequence,
            rfc3339_micros(r.timestamp)
        )
        .as_bytes(),
    );
    out.extend_from_slice(&r.body);
    out.push(b'}');
}

/// `GET /v1/buses/{bus}/events/{sequence}[?mode=binary]`: the event exactly as stored, in
/// structured mode (default) or in binary mode (`ce-` headers, the data as the body).
#[utoipa::path(get, path = "/v1/buses/{bus}/events/{sequence}", tag = "events", params(("bus" = String, Path, description = "Bus name"), ("sequence" = u64, Path, description = "Sequence"), ("mode" = Option<String>, Query, description = "binary for ce- headers and the raw data")), responses((status = 200, description = "The event as stored", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 410, description = "Removed by retention", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(st): State<AppState>,
    Path((bus_name, seq)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let bus = st.bus(&bus_name)?;
    let binary = match q.get("mode").map(String::as_str) {
        None | Some("structured") => false,
        Some("binary") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid-query",
                format!("query parameter mode: {other:?} is not structured or binary"),
            )
            .with_error("/mode", "must be structured or binary"));
        }
    };
    let seq: u64 = seq.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid-path",
            format!("sequence {seq:?} is not a non-negative integer"),
        )
        .with_error("/sequence", "must be a non-negative integer")
    })?;
    match tokio::task::block_in_place(|| bus.log.get(seq))? {
        Lookup::Found(r) if binary => {
            let ev = bus::event::Event::from_structured_json(&r.body)
                .map_err(|e| ApiError::internal("stored event does not decode", &e))?;
            let msg = ev.to_binary();
            let mut resp = Response::new(Body::from(msg.body));
            let h = resp.headers_mut();
            for (name, value) in &msg.headers {
                if let (Ok(n), Ok(v)) = (
                    header::HeaderName::try_from(name.as_str()),
                    HeaderValue::from_str(value),
                ) {
                    h.append(n, v);
                }
            }
            if let Some(ct) = msg
                .content_type
                .as_deref()
                .and_then(|ct| HeaderValue::from_str(ct).ok())
            {
                h.insert(header::CONTENT_TYPE, ct);
            }
            sequence_headers(h, &r);
            Ok(resp)
        }
        Lookup::Found(r) => {
            let mut resp = Response::new(Body::from(r.body.clone()));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/cloudevents+json"),
            );
            sequence_headers(h, &r);
            Ok(resp)
        }
        Lookup::Expired { first } => Err(ApiError::new(
            StatusCode::GONE,
            "expired",
            "Gone",
            format!(
                "sequence {seq} was deleted by the bus's retention; the oldest retained sequence is {first}"
            ),
        )),
        Lookup::NotYet { next } => Err(ApiError::not_found(format!(
            "bus {bus_name:?} has no event at sequence {seq}; its next sequence is {next}"
        ))),
    }
}
