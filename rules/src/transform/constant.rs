//! `{"kind": "constant", "value": …}`: the same JSON value for every event (EventBridge's
//! `Input`), for targets that only need to be poked. `value` may be any JSON, `null` included.

use serde_json::{Map, Value};

use super::{TransformError, members};

/// A constant output.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    value: Value,
}

impl Constant {
    pub(super) fn parse(map: &Map<String, Value>) -> Result<Constant, TransformError> {
        members::only(map, "constant", &["kind", "value"])?;
        let value = members::required(
            map,
            "constant",
            "value",
            "{\"kind\": \"constant\", \"value\": {\"ping\": true}}",
        )?;
        Ok(Constant {
            value: value.clone(),
        })
    }

    /// The value sent for every event.
    pub fn value(&self) -> &Value {
        &self.value
    }
}
