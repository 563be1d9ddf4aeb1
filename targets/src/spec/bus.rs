//! The members of a `bus` target: `bus`, the bus the (transformed) event is appended to, and
//! `max_hops`, the loop guard.

use super::SpecError;
use super::read::Obj;
use crate::hops;

/// Another bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusSpec {
    /// Its name.
    pub bus: String,
    /// An event that has already been forwarded (by bus targets or as a function's reply) this
    /// many times is not forwarded again: a cycle of rules ends there, in the dead letters.
    pub max_hops: u32,
}

/// Reads the members of a `bus` target from `obj`.
pub(crate) fn parse(obj: &mut Obj) -> Result<BusSpec, SpecError> {
    let bus = obj.required_str("bus")?;
    bus::registry::check_name(&bus).map_err(|r| SpecError::new(obj.ptr("bus"), r))?;
    Ok(BusSpec {
        bus,
        max_hops: max_hops(obj)?,
    })
}

/// `max_hops`: 1 to 64, default [`hops::DEFAULT_MAX`].
pub(crate) fn max_hops(obj: &mut Obj) -> Result<u32, SpecError> {
    Ok(obj
        .opt_count("max_hops", hops::MAX)?
        .map_or(hops::DEFAULT_MAX, |n| n as u32))
}
