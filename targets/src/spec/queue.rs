//! The members of a `queue` target: `queue`, the internal durable queue the (transformed) event
//! is sent to as a structured CloudEvent, where consumers receive it with a visibility timeout
//! (`POST /v1/queues/{queue}/messages:receive`).

use super::SpecError;
use super::read::Obj;

/// An internal queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Its name.
    pub queue: String,
}

/// Reads the members of a `queue` target from `obj`.
pub(crate) fn parse(obj: &mut Obj) -> Result<QueueSpec, SpecError> {
    let queue = obj.required_str("queue")?;
    bus::registry::check_name(&queue).map_err(|r| SpecError::new(obj.ptr("queue"), r))?;
    Ok(QueueSpec { queue })
}
