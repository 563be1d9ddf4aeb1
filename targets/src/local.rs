//! Deliveries that stay in this server: a `bus` target appends the (transformed) event to
//! another bus, where that bus's rules match it like any event. Replies of functions go the same
//! way (see [`append`]).
//!
//! The forwarded event keeps its id, source and type (as EventBridge keeps an event's id from bus
//! to bus); its `railyardhops` extension counts the forward ([`crate::hops`]). The append is
//! durable before the delivery counts as done; a crash in between forwards it again (at least
//! once, like every target), with the same id.
//!
//! A function's reply is appended with [`append_event`], its hop count one more than the
//! invoking event's (see `worker`).
//!
//! A `queue` target sends the event to an internal durable queue ([`send_to_queue`]); the send is
//! durable before the delivery counts as done.

use bus::event::Event;
use bus::log::{Batch, LogError};
use bus::registry::Buses;
use bytes::Bytes;
use queues::{QueueError, Queues};

use crate::hops;
use crate::http::Outcome;

/// Appends `event` (structured JSON, already shaped by the target) to `bus` as a forward
/// allowed up to `max_hops`.
pub async fn append(buses: &Buses, bus: &str, event: &Bytes, max_hops: u32) -> Outcome {
    let forwarded = match hops::forward(event, max_hops) {
        Ok(f) => f,
        Err(e) => return fatal(e),
    };
    // A transform may have produced something that is not a CloudEvent: refuse it here, as
    // ingest would, rather than store it.
    match Event::from_structured_json(&forwarded) {
        Ok(ev) => append_event(buses, bus, &ev).await,
        Err(e) => fatal(format!(
            "the event to append is not a valid CloudEvent: {e}"
        )),
    }
}

/// Appends a validated event to `bus`: durable when `Delivered`, `Retry` when the log refused
/// the write (a full disk), `Fatal` when the bus does not exist.
pub async fn append_event(buses: &Buses, bus: &str, ev: &Event) -> Outcome {
    let Some(target) = buses.get(bus) else {
        return fatal(format!("bus {bus:?} does not exist"));
    };
    let mut batch = Batch::with_capacity(1, ev.size_hint());
    batch.push_with(|out| ev.write_structured_json(out));
    match target.log.append(batch).await {
        Ok(a) => Outcome::Delivered {
            status: None,
            detail: Some(format!("appended to bus {bus:?} at sequence {}", a.first)),
        },
        Err(e) => Outcome::Retry {
            status: None,
            error: format!("appending to bus {bus:?}: {e}"),
            retry_after: None,
        },
    }
}

/// Sends `event` (structured JSON, already shaped by the target) to the internal queue `name`:
/// `Delivered` once durable; `Retry` when the queue cannot take it now (a full disk, a queue
/// closing or failed); `Fatal` when the queue does not exist or the event can never fit.
/// `stored` says the bytes are the stored event, validated at ingest and sent as they are; a
/// transformed event is validated (and normalised) here, as ingest would.
pub async fn send_to_queue(queues: &Queues, name: &str, event: &Bytes, stored: bool) -> Outcome {
    let Some(queue) = queues.queue(name) else {
        return fatal(format!("queue {name:?} does not exist"));
    };
    let batch = if stored {
        let mut batch = Batch::with_capacity(1, event.len());
        batch.push(event);
        batch
    } else {
        let ev = match Event::from_structured_json(event) {
            Ok(ev) => ev,
            Err(e) => {
                return fatal(format!(
                    "the message to send is not a valid CloudEvent: {e}"
                ));
            }
        };
        let mut batch = Batch::with_capacity(1, ev.size_hint());
        batch.push_with(|out| ev.write_structured_json(out));
        batch
    };
    match queue.send_batch(batch).await {
        Ok(seqs) => Outcome::Delivered {
            status: None,
            detail: Some(format!(
                "sent to queue {name:?} as message {}",
                seqs.first().copied().unwrap_or_default()
            )),
        },
        Err(e @ (QueueError::NotFound(_) | QueueError::Log(LogError::TooLarge { .. }))) => {
            fatal(format!("sending to queue {name:?}: {e}"))
        }
        Err(e) => Outcome::Retry {
            status: None,
            error: format!("sending to queue {name:?}: {e}"),
            retry_after: None,
        },
    }
}

fn fatal(error: String) -> Outcome {
    Outcome::Fatal {
        status: None,
        error,
    }
}
