//! The schema registry: versioned JSON Schemas bound to event types, validation on ingest, and
//! discovery from traffic.
//!
//! Nothing is built here yet (see docs/ARCHITECTURE.md).
