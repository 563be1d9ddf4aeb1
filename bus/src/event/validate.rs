//! The CloudEvents 1.0 rules, checked on a decoded [`Event`].
//!
//! Decoders (structured JSON here, binary mode in `sources::ingest`, webhook mappers) first turn
//! their input into an [`Event`], checking only what the in-memory type cannot express (JSON types,
//! presence, duplicate members); every value rule lives here, once, so all producers of events are
//! held to the same standard. The first broken rule is reported, in a fixed order (specversion, the
//! required attributes, the optional ones, then extensions by name), so the same bad event always
//! gets the same answer.

use super::{Event, EventError, ExtensionValue, media_type, time, uri};

/// Attribute names an extension may not take: the core attributes and the `data` member.
pub const RESERVED_NAMES: [&str; 9] = [
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
];

/// Longest extension name CloudEvents recommends (and Railyard enforces).
pub const MAX_EXTENSION_NAME_LEN: usize = 20;

/// The one spec version accepted.
pub const SPEC_VERSION: &str = "1.0";

/// The reason given for an extension value of a type CloudEvents cannot carry.
pub(crate) const EXTENSION_TYPES: &str =
    "must be a string, a boolean or an integer between -2147483648 and 2147483647";

/// Checks every rule; see [`Event::validate`].
pub(crate) fn validate(ev: &Event) -> Result<(), EventError> {
    check_specversion(&ev.specversion)?;
    non_empty("id", &ev.id)?;
    non_empty("source", &ev.source)?;
    uri::check_reference(&ev.source)
        .map_err(|e| EventError::new("source", format!("must be a URI-reference ({e})")))?;
    non_empty("type", &ev.ty)?;
    if let Some(ct) = &ev.datacontenttype {
        media_type::parse(ct).map_err(|e| {
            EventError::new(
                "datacontenttype",
                format!("must be a media type such as application/json ({e})"),
            )
        })?;
    }
    if let Some(schema) = &ev.dataschema {
        if schema.is_empty() {
            return Err(EventError::new("dataschema", "must be a non-empty URI"));
        }
        uri::check_absolute(schema)
            .map_err(|e| EventError::new("dataschema", format!("must be an absolute URI ({e})")))?;
    }
    if let Some(subject) = &ev.subject {
        non_empty("subject", subject)?;
    }
    if let Some(t) = &ev.time {
        time::check(t).map_err(|e| {
            EventError::new(
                "time",
                format!("must be an RFC 3339 timestamp such as 2018-04-05T17:31:00Z ({e})"),
            )
        })?;
    }
    for (name, value) in &ev.extensions {
        check_extension_name(name)?;
        if let ExtensionValue::Integer(n) = value {
            check_integer(name, *n)?;
        }
    }
    Ok(())
}

/// `specversion` must be exactly "1.0".
pub(crate) fn check_specversion(v: &str) -> Result<(), EventError> {
    if v == SPEC_VERSION {
        Ok(())
    } else {
        Err(EventError::new(
            "specversion",
            format!("unsupported specversion {v:?}: only 1.0 is supported"),
        ))
    }
}

/// An extension name: 1 to 20 characters `[a-z0-9]`, not a reserved attribute name.
pub fn check_extension_name(name: &str) -> Result<(), EventError> {
    if name.is_empty() {
        return Err(EventError::new(
            name,
            "an extension name must not be empty (1 to 20 lowercase letters or digits)",
        ));
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
    {
        return Err(EventError::new(
            name,
            format!(
                "extension names may only contain lowercase letters a-z and digits 0-9 \
                 ({c:?} at index {i} is not allowed)"
            ),
        ));
    }
    if name.len() > MAX_EXTENSION_NAME_LEN {
        return Err(EventError::new(
            name,
            format!(
                "extension names are limited to {MAX_EXTENSION_NAME_LEN} characters (this one has {})",
                name.len()
            ),
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(EventError::new(
            name,
            "is a reserved attribute name and cannot be used as an extension",
        ));
    }
    Ok(())
}

/// CloudEvents' Integer type is 32-bit signed.
pub(crate) fn check_integer(name: &str, n: i64) -> Result<(), EventError> {
    if i32::try_from(n).is_ok() {
        Ok(())
    } else {
        Err(EventError::new(
            name,
            format!("{EXTENSION_TYPES} (got {n})"),
        ))
    }
}

fn non_empty(attribute: &str, v: &str) -> Result<(), EventError> {
    if v.is_empty() {
        Err(EventError::new(attribute, "must be a non-empty string"))
    } else {
        Ok(())
    }
}
