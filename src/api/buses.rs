//! `/v1/buses`: list, create or update (`PUT`), read and delete buses.
//!
//! `PUT` is create-or-replace of the writable fields (description, retention), answering 201 on
//! create and 200 on update. Every bus carries an ETag (its version); `If-Match` on `PUT` and
//! `DELETE` makes the write conditional and answers 412 when someone else changed it first.
//! Deleting a bus deletes its rules too (cascade), in the store and in its matcher.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bus::registry::{Bus, BusSpec, BusUpdate};
use serde_json::{Value, json};

use super::AppState;
use super::etag::{if_match, with_etag};
use super::json::JsonBody;
use super::listing::ListQuery;
use super::openapi::Problem;
use super::problem::ApiError;

fn view(spec: &BusSpec, bus: &Bus) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    v["stats"] = json!({
        "first_sequence": bus.log.first_sequence(),
        "next_sequence": bus.log.next_sequence(),
        "retained_bytes": bus.log.retained_bytes(),
    });
    v
}

/// `GET /v1/buses?limit=&cursor=`
#[utoipa::path(get, path = "/v1/buses", tag = "buses", params(("limit" = Option<u32>, Query, description = "1 to 1000, default 100"), ("cursor" = Option<String>, Query, description = "The last name of the previous page"), ("prefix" = Option<String>, Query, description = "Only names starting with this")), responses((status = 200, description = "`{buses: [...], next_cursor}`", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let lq = ListQuery::parse(&q, false)?;
    let all: Vec<(BusSpec, Arc<Bus>)> = st.buses.all().into_iter().map(|b| (b.spec(), b)).collect();
    let (page, more) = lq.page(
        |after, n| {
            Ok::<_, ApiError>(
                all.iter()
                    .filter(|(s, _)| s.name.as_str() > after)
                    .take(n)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        },
        |(s, _)| s.name.as_str(),
        |_| true,
    )?;
    let next = match page.last() {
        Some((s, _)) if more => Value::String(s.name.clone()),
        _ => Value::Null,
    };
    let items: Vec<Value> = page.iter().map(|(s, b)| view(s, b)).collect();
    Ok(axum::Json(json!({ "buses": items, "next_cursor": next })).into_response())
}

/// `GET /v1/buses/{bus}`
#[utoipa::path(get, path = "/v1/buses/{bus}", tag = "buses", params(("bus" = String, Path, description = "Bus name")), responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 200, description = "The bus (ETag)", body = Object), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let bus = st.bus(&name)?;
    let spec = bus.spec();
    Ok(with_etag(StatusCode::OK, spec.version, view(&spec, &bus)))
}

/// `PUT /v1/buses/{bus}`
#[utoipa::path(put, path = "/v1/buses/{bus}", tag = "buses", params(("bus" = String, Path, description = "Bus name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), request_body(content = Object, description = "`{description?, retention?: {max_age?, max_bytes?}}`"), responses((status = 200, description = "Replaced", body = Object), (status = 201, description = "Created", body = Object), (status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(update): JsonBody<BusUpdate>,
) -> Result<Response, ApiError> {
    let current = st.buses.get(&name).map(|b| b.spec().version);
    let expected = if_match(&headers, current, "bus")?;
    let buses = st.buses.clone();
    let n = name.clone();
    let (spec, created) = tokio::task::spawn_blocking(move || buses.put(&n, update, expected))
        .await
        .map_err(|e| ApiError::internal("bus update task", &e))??;
    let bus = st.bus(&name)?;
    if created {
        let dir = st.buses.data_dir().bus_dir(&name).join("delivery");
        st.engine
            .add_bus(bus.clone(), dir)
            .await
            .map_err(|e| ApiError::internal("starting delivery for a new bus", &e))?;
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = with_etag(status, spec.version, view(&spec, &bus));
    if created {
        if let Ok(loc) = HeaderValue::from_str(&format!("/v1/buses/{name}")) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
    }
    Ok(resp)
}

/// `DELETE /v1/buses/{bus}`
#[utoipa::path(delete, path = "/v1/buses/{bus}", tag = "buses", params(("bus" = String, Path, description = "Bus name"), ("If-Match" = Option<String>, Header, description = "The ETag the write expects")), responses((status = 400, description = "Invalid request (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 204, description = "Deleted with its rules and events"), (status = 404, description = "Not found (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Conflict (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 412, description = "If-Match does not match (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "No valid token (problem+json)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token's scopes do not allow this (problem+json)", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = st.buses.get(&name).map(|b| b.spec().version);
    let expected = if_match(&headers, current, "bus")?;
    let mut feeding: Vec<String> = st
        .sources
        .using_bus(&name)
        .map_err(|e| ApiError::internal("reading sources", &e))?
        .into_iter()
        .map(|s| format!("source {s}"))
        .collect();
    // Rules of other buses whose bus targets forward here.
    feeding.extend(
        st.buses
            .rules()
            .all()
            .map_err(|e| ApiError::internal("reading rules", &e))?
            .into_iter()
            .filter(|r| {
                r.bus != name
                    && r.targets.iter().any(|t| {
                        let named = match t.get("kind").and_then(serde_json::Value::as_str) {
                            Some("bus") => t.get("bus"),
                            Some("function") => t.pointer("/reply/bus"),
                            _ => None,
                        };
                        named.and_then(serde_json::Value::as_str) == Some(name.as_str())
                    })
            })
            .map(|r| format!("rule {}/{}", r.bus, r.name)),
    );
    feeding.extend(
        st.schedules
            .using_bus(&name)
            .into_iter()
            .map(|s| format!("schedule {s}")),
    );
    if !feeding.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!("bus {name:?} receives the events of {feeding:?}; change or delete them first"),
        )
        .with("feeding", serde_json::json!(feeding)));
    }
    // Through the rule sets: the bus's rules go with it, in the store and in its matcher.
    let rulesets = st.rulesets.clone();
    let n = name.clone();
    tokio::task::spawn_blocking(move || rulesets.delete_bus(&n, expected))
        .await
        .map_err(|e| ApiError::internal("bus delete task", &e))??;
    // Its files are gone; stop its dispatcher and workers.
    st.engine.remove_bus(&name).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
