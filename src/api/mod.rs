//! The HTTP API: one module per resource, merged into one router here.
//!
//! Every error is an [`problem::ApiError`] (problem+json), including unknown routes and methods.

pub mod buses;
pub mod clock;
pub mod connections;
pub mod delivery;
pub mod etag;
pub mod events;
pub mod health;
pub mod json;
pub mod listing;
pub mod openapi;
pub mod problem;
pub mod queues;
pub mod rules;
pub mod schedules;
pub mod sources;
pub mod test_rule;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ::sources::ingest::Limits;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use bus::registry::{Bus, Buses};
use metrics_exporter_prometheus::PrometheusHandle;

use problem::ApiError;

use crate::rulesets::RuleSets;

/// What every handler can reach. Cloned per request by axum, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The shared parts of [`AppState`].
pub struct Shared {
    pub buses: Arc<Buses>,
    /// The compiled rules of every bus; every rule write (and bus delete) goes through it.
    pub rulesets: Arc<RuleSets>,
    /// Delivery: dispatchers, targets, connections, traces, dead letters.
    pub engine: targets::Engine,
    /// API tokens.
    pub tokens: Arc<crate::auth::Tokens>,
    /// Webhook sources and the delivery ids they have seen.
    pub sources: Arc<crate::webhooks::Sources>,
    /// Schedules and their firing state.
    pub schedules: Arc<crate::schedules::Schedules>,
    /// Internal durable queues.
    pub queues: Arc<::queues::Queues>,
    /// Now (the system clock, or a manual one in tests).
    pub clock: Arc<crate::clock::Clock>,
    pub limits: Limits,
    pub metrics: Option<PrometheusHandle>,
    pub ready: Arc<AtomicBool>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }

    /// The bus called `name`, or a 404 problem.
    pub fn bus(&self, name: &str) -> Result<Arc<Bus>, ApiError> {
        self.buses
            .get(name)
            .ok_or_else(|| ApiError::not_found(format!("bus {name:?} does not exist")))
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    if state.clock.is_manual() {
        r = r.route("/v1/_clock", get(clock::get).put(clock::put));
    }
    r.route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/buses", get(buses::list))
        .route(
            "/v1/buses/{bus}",
            get(buses::get).put(buses::put).delete(buses::delete),
        )
        .route(
            "/v1/buses/{bus}/events",
            get(events::list).post(events::ingest),
        )
        .route("/v1/buses/{bus}/events/{sequence}", get(events::get))
        .route("/v1/buses/{bus}/rules", get(rules::list))
        .route(
            "/v1/buses/{bus}/rules/{rule}",
            get(rules::get).put(rules::put).delete(rules::delete),
        )
        .route(
            "/v1/buses/{bus}/events/{sequence}/trace",
            get(delivery::trace),
        )
        .route(
            "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters",
            get(delivery::list).delete(delivery::purge),
        )
        .route(
            "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters:redrive",
            post(delivery::redrive),
        )
        .route(
            "/v1/buses/{bus}/rules/{rule}/targets/{target}/dead-letters/{id}",
            get(delivery::get).delete(delivery::purge_one),
        )
        .route("/v1/connections", get(connections::list))
        .route(
            "/v1/connections/{name}",
            get(connections::get)
                .put(connections::put)
                .delete(connections::delete),
        )
        .route("/v1/sources", get(sources::list))
        .route(
            "/v1/sources/{name}",
            get(sources::get).put(sources::put).delete(sources::delete),
        )
        .route(
            "/v1/webhooks/{name}",
            post(webhooks::receive).options(webhooks::handshake),
        )
        .route("/v1/schedules", get(schedules::list))
        .route(
            "/v1/schedules/{name}",
            get(schedules::get)
                .put(schedules::put)
                .delete(schedules::delete),
        )
        .route("/v1/queues", get(queues::list))
        .route(
            "/v1/queues/{name}",
            get(queues::get).put(queues::put).delete(queues::delete),
        )
        .route("/v1/queues/{name}/messages", post(queues::send))
        .route("/v1/queues/{name}/messages:receive", post(queues::receive))
        .route("/v1/queues/{name}/messages:ack", post(queues::ack))
        .route("/v1/queues/{name}/messages:nack", post(queues::nack))
        .route("/v1/queues/{name}/messages:extend", post(queues::extend))
        .route(
            "/v1/queues/{name}/dead-letters",
            get(queues::dead_letters).delete(queues::purge),
        )
        .route(
            "/v1/queues/{name}/dead-letters:redrive",
            post(queues::redrive),
        )
        .route("/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/tokens/{name}", axum::routing::delete(tokens::delete))
        .route("/v1/test-rule", post(test_rule::test_rule))
        .fallback(|| async { ApiError::not_found("no such resource; the API lives under /v1/") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this resource does not support that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::layer::check,
        ))
        .with_state(state)
}
