//! The bus: the event model and its validation, the durable event log, the bus registry, the rule
//! definitions and the metadata store.
//!
//! Everything here is storage and data; nothing knows HTTP. See the module docs of [`log`] for the
//! on-disk format and the durability protocol.

pub mod datadir;
pub mod event;
pub mod log;
pub mod meta;
pub mod registry;
pub mod rules;
pub mod units;
