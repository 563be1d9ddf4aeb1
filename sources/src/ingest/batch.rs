//! Batch mode: `application/cloudevents-batch+json`, a JSON array of structured events.
//!
//! Entries are judged independently, as EventBridge's PutEvents does: one bad entry does not sink
//! the others, and the response reports each entry's fate by index. Only problems with the request
//! as a whole (not JSON, not an array, too many entries, too many bytes) fail it entirely.
//!
//! The array is read as raw element slices, so each entry is parsed once, by the same code as a
//! structured event. Elements past the count limit are skipped (still syntax-checked) rather than
//! kept, so an array of millions of tiny values costs no memory before it is refused, and the 413
//! can still say how many entries were sent.

use std::fmt;

use bus::event::Event;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{EntryError, ErrorKind, IngestError, Limits, structured};

/// Decodes a batch into per-entry results.
pub(crate) fn decode(
    body: &[u8],
    limits: &Limits,
) -> Result<Vec<Result<Event, EntryError>>, IngestError> {
    if body.len() > limits.max_batch_bytes {
        return Err(IngestError::too_large(format!(
            "batch of {} bytes exceeds the limit of {} bytes",
            body.len(),
            limits.max_batch_bytes
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let (entries, count) = Entries {
        keep: limits.max_batch_events,
    }
    .deserialize(&mut de)
    .and_then(|r| de.end().map(|()| r))
    .map_err(|e| array_error(body, &e))?;
    if count > limits.max_batch_events {
        return Err(IngestError::too_large(format!(
            "batch of {count} events exceeds the limit of {} events per request",
            limits.max_batch_events
        )));
    }
    Ok(entries
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            structured::decode(raw.get().as_bytes(), limits)
                .map_err(|error| EntryError { index, error })
        })
        .collect())
}

fn array_error(body: &[u8], e: &serde_json::Error) -> IngestError {
    if e.classify() == serde_json::error::Category::Data {
        let first = body
            .iter()
            .find(|c| !c.is_ascii_whitespace())
            .copied()
            .unwrap_or(b' ');
        let got = match first {
            b'{' => {
                "an object (send a single event with Content-Type application/cloudevents+json)"
            }
            b'"' => "a string",
            b't' | b'f' => "a boolean",
            b'n' => "null",
            _ => "a number",
        };
        return IngestError::new(
            ErrorKind::Invalid,
            None,
            format!("a batch must be a JSON array of events, not {got}"),
        );
    }
    let mut err = IngestError::new(ErrorKind::MalformedJson, None, format!("invalid JSON: {e}"));
    err.position = Some((e.line(), e.column()));
    err
}

/// Reads a JSON array: up to `keep` raw elements, and the total count.
struct Entries {
    keep: usize,
}

impl<'de> DeserializeSeed<'de> for Entries {
    type Value = (Vec<&'de RawValue>, usize);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries {
    type Value = (Vec<&'de RawValue>, usize);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut kept = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.keep));
        let mut count = 0usize;
        loop {
            if count < self.keep {
                match seq.next_element::<&'de RawValue>()? {
                    Some(raw) => kept.push(raw),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            count += 1;
        }
        Ok((kept, count))
    }
}
