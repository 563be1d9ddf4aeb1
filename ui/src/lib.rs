//! The web console, embedded in the binary and talking only to the public REST API.
//!
//! Nothing is built here yet (see docs/ARCHITECTURE.md).
