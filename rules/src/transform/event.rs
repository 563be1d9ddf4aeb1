//! `{"kind": "event"}`: the CloudEvent as is, the default when a target names no transform (and
//! when a transform object omits `kind`). It has no other members.

use serde_json::{Map, Value};

use super::{TransformError, members};

pub(super) fn parse(map: &Map<String, Value>) -> Result<(), TransformError> {
    members::only(map, "event", &["kind"])
}
