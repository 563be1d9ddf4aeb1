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

use bus::event::Event;
use bus::log::Batch;
use bus::registry::Buses;
use bytes::Bytes;

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

fn fatal(error: String) -> Outcome {
    Outcome::Fatal {
        status: None,
        error,
    }
}
