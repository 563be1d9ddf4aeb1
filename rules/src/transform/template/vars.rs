//! The predefined variables, in Railyard's spelling and EventBridge's, so that existing input
//! templates work unchanged.
//!
//! | Railyard | EventBridge | value |
//! | --- | --- | --- |
//! | `<railyard.rule-name>` | `<aws.events.rule-name>` | the rule's name, a string |
//! | `<railyard.event.ingestion-time>` | `<aws.events.event.ingestion-time>` | when the bus received the event: the RFC 3339 (ISO 8601) string the caller passed in [`crate::Context`] |
//! | `<railyard.event>` | `<aws.events.event>` | the event without its payload: every attribute, no `data` / `data_base64` (EventBridge: the event without `detail`) |
//! | `<railyard.event.json>` | `<aws.events.event.json>` | the whole event, payload included |
//!
//! Following the EventBridge user guide ("Predefined variables"), the two event variables are
//! meant as the value of a JSON field (`{"original": <aws.events.event.json>}`). Railyard also
//! accepts them inside a JSON string or a text template, where they are written as compact JSON
//! (escaped inside a string, so the output stays valid JSON) instead of EventBridge's unescaped
//! text. EventBridge's copy of the event renames `detail-type` to `detailType`; CloudEvents have
//! no such attribute, so Railyard renames nothing.
//!
//! `<aws.events.rule-arn>` is rejected with a reason: Railyard rules have names, not ARNs.

/// A value the template reads besides its named paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Predefined {
    RuleName,
    IngestionTime,
    Event,
    EventJson,
}

/// `Some(Ok(_))` for a predefined variable, `Some(Err(reason))` for an EventBridge variable
/// Railyard cannot offer, `None` for any other name.
pub(super) fn lookup(name: &str) -> Option<Result<Predefined, &'static str>> {
    let var = match name {
        "railyard.rule-name" | "aws.events.rule-name" => Predefined::RuleName,
        "railyard.event.ingestion-time" | "aws.events.event.ingestion-time" => {
            Predefined::IngestionTime
        }
        "railyard.event" | "aws.events.event" => Predefined::Event,
        "railyard.event.json" | "aws.events.event.json" => Predefined::EventJson,
        "aws.events.rule-arn" => {
            return Some(Err(
                "Railyard rules have no ARN; use <railyard.rule-name> (or <aws.events.rule-name>)",
            ));
        }
        _ => return None,
    };
    Some(Ok(var))
}

/// The predefined variables, for error messages.
pub(super) const NAMES: &str = "<railyard.rule-name>, <railyard.event.ingestion-time>, \
     <railyard.event>, <railyard.event.json> (or their <aws.events.…> spellings)";
