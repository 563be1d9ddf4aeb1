//! `{"kind": "jsonpath", "path": "$.data.order"}`: part of the event (EventBridge's
//! `InputPath`).
//!
//! - One node selected: that node (`$.data.order` → the order object).
//! - Several nodes (a wildcard, slice, filter or descendant query): an array of them, in
//!   document order.
//! - Nothing selected: `null`. EventBridge documents no behaviour for an `InputPath` that selects
//!   nothing; Railyard sends `null` rather than skipping the delivery, so a target always
//!   receives exactly one body per matched event and a missing field is visible to it.
//!
//! The shape follows what was selected, not the query: `$.data.items[?@.price > 20]` yields an
//! object when one item qualifies and an array when two do. (The alternative, Jayway JsonPath's
//! "a query that can select several nodes always yields an array", was not taken.) When the
//! shape matters to a target, select a parent whose shape is fixed (`$.data.items`).

use serde_json::{Map, Value};

use super::{TransformError, members};
use crate::jsonpath::JsonPath;

/// A compiled JSONPath extract.
#[derive(Debug, Clone)]
pub struct Extract {
    path: JsonPath,
}

impl Extract {
    pub(super) fn parse(map: &Map<String, Value>) -> Result<Extract, TransformError> {
        members::only(map, "jsonpath", &["kind", "path"])?;
        let path = members::required(
            map,
            "jsonpath",
            "path",
            "{\"kind\": \"jsonpath\", \"path\": \"$.data.order\"}",
        )?;
        let path = JsonPath::parse_value(path).map_err(|e| TransformError::path("/path", e))?;
        Ok(Extract { path })
    }

    /// The compiled path.
    pub fn path(&self) -> &JsonPath {
        &self.path
    }

    /// The selected node, an array of the selected nodes, or `null`.
    pub fn apply(&self, event: &Value) -> Value {
        self.path.select(event).to_value().unwrap_or(Value::Null)
    }
}
