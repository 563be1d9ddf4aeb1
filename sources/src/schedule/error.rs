//! The one error type of schedule specs.
//!
//! A schedule is written by hand (a `PUT` body), so every refusal names the member at fault as a
//! JSON pointer into the request body (`/cron`, `/event/type`) and says what would be accepted: the
//! server turns it into a problem-details `errors` entry without knowing anything about schedules.

use std::fmt;

/// Why a schedule body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Render(self))]
pub struct SpecError {
    /// JSON pointer (RFC 6901) to the member at fault; empty for the body as a whole.
    pub pointer: String,
    /// The rule broken, in words the author can act on.
    pub reason: String,
}

impl SpecError {
    /// A rule broken at `pointer`.
    pub fn new(pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

/// Display helper: `/cron: …`, or just the reason for whole-body problems.
struct Render<'a>(&'a SpecError);

impl fmt::Display for Render<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.pointer.is_empty() {
            f.write_str(&self.0.reason)
        } else {
            write!(f, "{}: {}", self.0.pointer, self.0.reason)
        }
    }
}

/// One reference token of a JSON pointer (RFC 6901 §3: `~` is `~0`, `/` is `~1`).
pub(crate) fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_escaping() {
        assert_eq!(SpecError::new("/cron", "bad").to_string(), "/cron: bad");
        assert_eq!(
            SpecError::new("", "not an object").to_string(),
            "not an object"
        );
        assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
    }
}
