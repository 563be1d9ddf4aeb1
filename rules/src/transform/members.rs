//! Hand validation of a transform object's members, so that every error names the member
//! (serde's `deny_unknown_fields` would say "unknown field" without a pointer, and could not
//! tell `"kind": 5` from a missing kind).

use serde_json::{Map, Value};

use super::TransformError;
use crate::pattern::escape_pointer;

/// Rejects any member of `map` not in `allowed`, naming it and listing the allowed ones.
pub(super) fn only(
    map: &Map<String, Value>,
    kind: &str,
    allowed: &[&str],
) -> Result<(), TransformError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(TransformError::new(
            &pointer(unknown),
            format!(
                "unknown member {unknown:?} of the {kind:?} transform; its members are: {}",
                allowed.join(", ")
            ),
        )),
    }
}

/// The member `key`, which must be present.
pub(super) fn required<'a>(
    map: &'a Map<String, Value>,
    kind: &str,
    key: &str,
    example: &str,
) -> Result<&'a Value, TransformError> {
    map.get(key).ok_or_else(|| {
        TransformError::new(
            "",
            format!("a {kind:?} transform needs {key:?}, as in {example}"),
        )
    })
}

/// The pointer to the member `key` of the transform object.
pub(super) fn pointer(key: &str) -> String {
    format!("/{}", escape_pointer(key))
}
