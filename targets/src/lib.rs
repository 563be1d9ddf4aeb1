//! Delivery: the engine that turns matched (event, rule, target) pairs into attempts, retries,
//! acknowledgements and dead letters, and the target kinds (HTTP, function, queue, bus).
//!
//! Nothing is built here yet (see docs/ARCHITECTURE.md).
