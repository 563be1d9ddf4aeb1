//! Delivery: the engine that turns matched (event, rule, target) pairs into attempts, retries,
//! acknowledgements and dead letters, and the target kinds.
//!
//! The flow (each step a module):
//! - [`spec`]: a rule's `targets`, parsed and checked when the rule is saved;
//! - [`dispatch`]: per bus, tails the log, matches each event once, appends its sequence to the
//!   queue of each matched target (RocketMQ's CommitLog → ConsumeQueue), with rule changes
//!   versioned by sequence;
//! - [`worker`]: per target, takes queue entries and due retries, starts attempts within the
//!   target's limits (in flight, rate, ordering key) and settles them;
//! - [`http`]: the HTTP target kind (request per mode, classification of answers);
//! - [`function`]: the function target kind's runtimes (a command per invocation, a function
//!   URL) and their replies;
//! - [`nats`], [`amqp`]: the NATS (core, JetStream) and AMQP 0-9-1 (RabbitMQ) target kinds, with
//!   [`binding`] taking a stored event apart for their binary content mode;
//! - [`retry`]: the delay levels (O(1) scheduling) and backoff;
//! - [`store`]: the durable state (queues, journals, checkpoint) and its protocol;
//! - [`connections`]: credentials for HTTP targets, OAuth tokens cached;
//! - [`trace`]: what happened to recent events;
//! - [`engine`]: the whole, as the API sees it.
//!
//! At-least-once: a delivery is settled only after the target confirmed it (2xx) or it was
//! recorded as a retry or a dead letter; what the last checkpoint did not cover is delivered
//! again after a crash.

pub mod amqp;
pub mod binding;
pub mod connections;
pub mod dispatch;
pub mod engine;
pub mod function;
pub mod hops;
pub mod http;
pub mod local;
pub mod nats;
pub mod retry;
pub mod spec;
pub mod store;
pub mod target;
pub mod trace;
pub mod worker;

pub use connections::{ConnectionError, ConnectionSpec, Connections};
pub use dispatch::RuleDef;
pub use engine::{Engine, EngineConfig, EngineError, TraceAnswer};
pub use spec::{SpecError, TargetSpec, parse_targets};
