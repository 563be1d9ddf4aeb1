//! CloudEvents HTTP ingest: the edge where outside requests become validated events.
//!
//! The server calls, in order: [`mode_of`] on the headers (415 early, and which body limit applies),
//! [`body_limit`] to cap the body read (413 without buffering an oversized body), then [`decode`].
//! Everything here is synchronous and free of I/O, so every rule is unit-tested without a server.
//!
//! Why not cloudevents-sdk's extractor: it accepts empty ids, malformed sources and any extension
//! name, does not percent-decode header values, rejects batch mode and mixed-case media types, and
//! reads bodies without a limit (see DESIGN.md, Dependencies). The rules themselves live in
//! [`bus::event`], shared with every other producer of events; this module owns only what is
//! HTTP-specific: modes, headers, percent-decoding, body handling, size limits and status codes.
//!
//! Size: an event's size is the length of its structured JSON form ([`Event::encoded_len`]), which
//! is what the log stores, whichever mode it arrived in.

mod batch;
mod binary;
mod error;
mod mode;
pub mod percent;
mod structured;

#[cfg(test)]
mod tests;

use bus::event::Event;
use bytes::Bytes;
use http::HeaderMap;

pub use error::{EntryError, ErrorKind, IngestError};
pub use mode::{BATCH, Mode, STRUCTURED, mode_of};

/// Size and count limits of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest event (its structured JSON form), and largest binary/structured body.
    pub max_event_bytes: usize,
    /// Largest batch body.
    pub max_batch_bytes: usize,
    /// Most events in one batch.
    pub max_batch_events: usize,
}

impl Default for Limits {
    /// 1 MiB per event, 10 MiB and 1000 events per batch.
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
            max_batch_bytes: 10 * 1024 * 1024,
            max_batch_events: 1000,
        }
    }
}

/// The largest body accepted for that mode (binary/structured: `max_event_bytes`; batch:
/// `max_batch_bytes`).
pub fn body_limit(mode: Mode, limits: &Limits) -> usize {
    match mode {
        Mode::Binary | Mode::Structured => limits.max_event_bytes,
        Mode::Batch => limits.max_batch_bytes,
    }
}

/// The result of decoding a request.
// One value per request, moved straight to the log: boxing `Single` would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// Binary or structured mode: one valid event.
    Single(Event),
    /// Batch mode: one result per array entry, in order.
    Batch(Vec<Result<Event, EntryError>>),
}

/// Decodes and validates a request body in the given mode. A whole-request failure is an `Err`;
/// in batch mode, failures of single entries are reported in place.
pub fn decode(
    mode: Mode,
    headers: &HeaderMap,
    body: Bytes,
    limits: &Limits,
) -> Result<Decoded, IngestError> {
    match mode {
        Mode::Binary => binary::decode(headers, body, limits).map(Decoded::Single),
        Mode::Structured => structured::decode(&body, limits).map(Decoded::Single),
        Mode::Batch => batch::decode(&body, limits).map(Decoded::Batch),
    }
}

/// The per-event limit, on the encoded (stored) form.
fn check_size(ev: &Event, limits: &Limits) -> Result<(), IngestError> {
    let len = ev.encoded_len();
    if len > limits.max_event_bytes {
        return Err(IngestError::too_large(format!(
            "event of {len} bytes (structured JSON form) exceeds the limit of {} bytes",
            limits.max_event_bytes
        )));
    }
    Ok(())
}
