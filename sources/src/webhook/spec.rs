//! Reading a provider's options out of the source document, with a JSON pointer for every
//! refusal, so a `PUT /v1/sources/{name}` answers 400 naming the member at fault.
//!
//! Members are taken one by one; whatever is left at the end is unknown and refused (a typo such
//! as `tolerence` silently falling back to the default would weaken replay protection unseen).

use std::time::Duration;

use serde_json::{Map, Value};

use super::COMMON;

/// A JSON pointer into the source document and the reason, for 400s on PUT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct SpecError {
    /// JSON pointer into the source document (`/tolerance`).
    pub pointer: String,
    /// Why.
    pub reason: String,
}

impl SpecError {
    pub(crate) fn new(pointer: impl Into<String>, reason: impl Into<String>) -> SpecError {
        SpecError {
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

/// The default timestamp tolerance: 5 minutes, what Stripe, Slack and Standard Webhooks use.
pub const DEFAULT_TOLERANCE: i64 = 300;
/// The largest tolerance accepted: an hour. Replay protection rests on the tolerance being
/// shorter than the dedup window (a replay inside the tolerance is a duplicate id), and the
/// providers' own senders sign immediately before sending.
pub const MAX_TOLERANCE: i64 = 3600;

/// A member name as a JSON pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
pub(crate) fn pointer(name: &str) -> String {
    format!("/{}", name.replace('~', "~0").replace('/', "~1"))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The options not yet taken, and the document as given (returned by [`Opts::finish`]).
pub(crate) struct Opts {
    given: Map<String, Value>,
    left: Map<String, Value>,
}

impl Opts {
    /// The document minus the common members.
    pub(crate) fn new(doc: &Map<String, Value>) -> Opts {
        let given: Map<String, Value> = doc
            .iter()
            .filter(|(k, _)| !COMMON.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Opts {
            left: given.clone(),
            given,
        }
    }

    /// Whether the member is present (and not null).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.left.get(name).is_some_and(|v| !v.is_null())
    }

    /// An optional string member (null is absent).
    pub(crate) fn string(&mut self, name: &str) -> Result<Option<String>, SpecError> {
        match self.left.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(SpecError::new(
                pointer(name),
                format!("is {}; a string was expected", kind_of(&other)),
            )),
        }
    }

    /// An optional string member that must not be empty.
    pub(crate) fn non_empty(&mut self, name: &str) -> Result<Option<String>, SpecError> {
        match self.string(name)? {
            Some(s) if s.is_empty() => Err(SpecError::new(pointer(name), "must not be empty")),
            other => Ok(other),
        }
    }

    /// One of `choices` (default `default`).
    pub(crate) fn choice<'c>(
        &mut self,
        name: &str,
        choices: &[&'c str],
        default: &'c str,
    ) -> Result<&'c str, SpecError> {
        match self.string(name)? {
            None => Ok(default),
            Some(s) => choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&s))
                .copied()
                .ok_or_else(|| {
                    SpecError::new(
                        pointer(name),
                        format!("{s:?} is not one of {}", choices.join(", ")),
                    )
                }),
        }
    }

    /// A `source` attribute: a URI-reference.
    pub(crate) fn source(&mut self, name: &str) -> Result<Option<String>, SpecError> {
        let Some(s) = self.non_empty(name)? else {
            return Ok(None);
        };
        bus::event::uri::check_reference(&s)
            .map_err(|e| SpecError::new(pointer(name), format!("must be a URI-reference ({e})")))?;
        Ok(Some(s))
    }

    /// A header name (RFC 9110 token), lowercased.
    pub(crate) fn header(&mut self, name: &str) -> Result<Option<http::HeaderName>, SpecError> {
        let Some(s) = self.non_empty(name)? else {
            return Ok(None);
        };
        http::HeaderName::from_bytes(s.as_bytes())
            .map(Some)
            .map_err(|_| SpecError::new(pointer(name), format!("{s:?} is not a header name")))
    }

    /// `tolerance`: whole seconds as a number, or a duration string (`"300s"`, `"5m"`,
    /// `"1m 30s"`), from 1 second to [`MAX_TOLERANCE`]; default [`DEFAULT_TOLERANCE`].
    pub(crate) fn tolerance(&mut self) -> Result<i64, SpecError> {
        const NAME: &str = "tolerance";
        let at = pointer(NAME);
        let secs = match self.left.remove(NAME) {
            None | Some(Value::Null) => return Ok(DEFAULT_TOLERANCE),
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                SpecError::new(&at, format!("{n} is not a whole number of seconds"))
            })?,
            Some(Value::String(s)) => {
                let d: Duration = humantime::parse_duration(s.trim()).map_err(|e| {
                    SpecError::new(
                        &at,
                        format!("{s:?} is not a duration such as \"300s\" or \"5m\" ({e})"),
                    )
                })?;
                if d.subsec_nanos() != 0 {
                    return Err(SpecError::new(&at, format!("{s:?} is not whole seconds")));
                }
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
            }
            Some(other) => {
                return Err(SpecError::new(
                    &at,
                    format!(
                        "is {}; seconds (300) or a duration (\"5m\") was expected",
                        kind_of(&other)
                    ),
                ));
            }
        };
        if !(1..=MAX_TOLERANCE).contains(&secs) {
            return Err(SpecError::new(
                &at,
                format!("{secs} s is out of range: from 1 s to {MAX_TOLERANCE} s (1h)"),
            ));
        }
        Ok(secs)
    }

    /// Refuses what is left (the first unknown member by name), else the options as given.
    pub(crate) fn finish(self) -> Result<Map<String, Value>, SpecError> {
        if let Some(name) = self.left.keys().next() {
            return Err(SpecError::new(
                pointer(name),
                "is not an option of this kind of source",
            ));
        }
        Ok(self.given)
    }
}
