//! Rules: filters (EventBridge patterns, CESQL, JSONPath, SQL) and transforms, compiled once per
//! rule and combined into one matcher per bus.
//!
//! Pure by design: no I/O, no async, no clock, so anyone can embed it and tests can run millions of
//! cases. Nothing is built here yet (see docs/ARCHITECTURE.md).
