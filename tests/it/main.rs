//! Integration tests: the real `railyard` binary, real HTTP on loopback, real crashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod auth;
mod chains;
mod cli;
mod crash;
mod delivery;
mod errors;
mod filters;
mod harness;
mod openapi;
mod python_sdk;
mod queues;
mod receiver;
mod rules;
mod schedules;
mod storage;
mod webhooks;
