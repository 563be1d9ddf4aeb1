//! Integration tests: the real `railyard` binary, real HTTP on loopback, real crashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod crash;
mod filters;
mod harness;
mod python_sdk;
mod rules;
mod storage;
