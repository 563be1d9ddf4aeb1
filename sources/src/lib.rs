//! Sources: how events arrive on a bus.
//!
//! Each source turns outside input into validated [`bus::event::Event`]s and nothing more; appending
//! to the log, auth and HTTP plumbing belong to the server (`src/`), so every source can be tested
//! without a network or a disk.
//!
//! - [`ingest`]: the CloudEvents HTTP binding (binary, structured and batch modes) with strict
//!   validation and size limits, for `POST /v1/buses/{bus}/events`.
//! - [`webhook`]: SaaS webhooks (GitHub, GitLab, Stripe, Slack, Shopify, Standard Webhooks,
//!   generic HMAC) and a plain CloudEvents endpoint, verified on the raw bytes and mapped to
//!   CloudEvents, for `POST /v1/webhooks/{name}`.
//! - [`schedule`]: schedules (cron with time zones, rates, one-time `at`): their specs, when they
//!   fire (DST and catch-up after an outage) and the event of each firing, as pure functions of
//!   the clock; the server runs them.

pub mod ingest;
pub mod schedule;
pub mod webhook;
