//! Webhook sources on the server side: the stored sources ([`store`]), the delivery ids seen
//! lately ([`seen`]), and what `POST /v1/webhooks/{name}` does with a verified delivery.
//!
//! Verifying and mapping are the providers' business (`sources::webhook`, pure and tested
//! without a network); this module owns what needs the disk: the sources' documents with their
//! write-only secrets, and the per-source window of delivery ids already stored, so that a
//! provider's retry of a delivery that was stored is acknowledged without a second event.

pub mod seen;
pub mod store;

pub use store::{SourceError, Sources};
