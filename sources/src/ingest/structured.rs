//! Structured mode: the body is one `application/cloudevents+json` object.
//!
//! All the work is the model's ([`Event::from_structured_json`]), so a structured event is judged
//! exactly as a log record read back is; this file only adds the size limit. The body length is
//! checked before parsing (cheap, and bounds the work), the encoded length after (that is what the
//! log stores, and what the limit is defined on).

use bus::event::Event;

use super::{IngestError, Limits, check_size};

/// Decodes one structured-mode event (also used for each entry of a batch).
pub(crate) fn decode(body: &[u8], limits: &Limits) -> Result<Event, IngestError> {
    if body.len() > limits.max_event_bytes {
        return Err(IngestError::too_large(format!(
            "event of {} bytes exceeds the limit of {} bytes",
            body.len(),
            limits.max_event_bytes
        )));
    }
    let ev = Event::from_structured_json(body)?;
    check_size(&ev, limits)?;
    Ok(ev)
}
