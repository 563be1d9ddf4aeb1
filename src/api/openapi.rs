//! `GET /openapi.json`: the OpenAPI 3.1 description of the API, generated from the handlers'
//! `#[utoipa::path]` attributes (utoipa), so it lists exactly the routes that exist.
//!
//! Resources are described as JSON objects with their documented members in each route's
//! description; errors are RFC 9457 problems ([`Problem`]).

use axum::response::{IntoResponse, Response};
use utoipa::{OpenApi, ToSchema};

/// An RFC 9457 problem, as every error is answered (`application/problem+json`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `urn:railyard:problem:<slug>`.
    r#type: String,
    /// A short summary.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What happened, and what to do.
    detail: String,
    /// For validation failures: where and what.
    errors: Option<Vec<FieldError>>,
}

/// One field of a request that is wrong.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldError {
    /// A JSON pointer into the request.
    pointer: String,
    /// What is wrong there.
    message: String,
    /// Line in a filter written as text.
    line: Option<u32>,
    /// Column in a filter written as text.
    column: Option<u32>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Railyard",
        description = "A CloudEvents event bus: buses, rules, delivery, queues."
    ),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        super::buses::list,
        super::buses::get,
        super::buses::put,
        super::buses::delete,
        super::events::ingest,
        super::events::list,
        super::events::get,
        super::delivery::trace,
        super::rules::list,
        super::rules::get,
        super::rules::put,
        super::rules::delete,
        super::delivery::list,
        super::delivery::get,
        super::delivery::redrive,
        super::delivery::purge,
        super::delivery::purge_one,
        super::connections::list,
        super::connections::get,
        super::connections::put,
        super::connections::delete,
        super::sources::list,
        super::sources::get,
        super::sources::put,
        super::sources::delete,
        super::webhooks::receive,
        super::webhooks::handshake,
        super::schedules::list,
        super::schedules::get,
        super::schedules::put,
        super::schedules::delete,
        super::queues::list,
        super::queues::get,
        super::queues::put,
        super::queues::delete,
        super::queues::send,
        super::queues::receive,
        super::queues::ack,
        super::queues::nack,
        super::queues::extend,
        super::queues::dead_letters,
        super::queues::redrive,
        super::queues::purge,
        super::tokens::list,
        super::tokens::create,
        super::tokens::delete,
        super::test_rule::test_rule,
        document,
    ),
    components(schemas(Problem, FieldError))
)]
pub struct ApiDoc;

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This API's OpenAPI 3.1 document", body = Object)))]
pub async fn document() -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}
