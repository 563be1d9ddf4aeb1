//! The loop guard of forwarded events.
//!
//! A bus target, or a function's reply routed to a bus, puts an event on a bus where rules may
//! send it on again; two rules that forward to each other's bus would circle forever. Each
//! forward increments the extension `railyardhops` (an integer CloudEvents extension, so rules
//! can match on it and receivers can see it); an event whose count has reached the target's
//! `max_hops` (default 16) is not forwarded: the attempt fails for good and the delivery goes to
//! the dead letters, with a reason that names the limit.

use bytes::Bytes;
use serde_json::Value;

/// The extension that counts forwards.
pub const EXTENSION: &str = "railyardhops";
/// Forwards allowed unless a target says otherwise.
pub const DEFAULT_MAX: u32 = 16;
/// The highest `max_hops` a target may set.
pub const MAX: u64 = 64;

/// The number of forwards behind a structured event (0 when it has none).
pub fn count(event: &Value) -> u64 {
    match event.get(EXTENSION) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// The number of forwards behind a structured event given as bytes (0 when it is not JSON).
pub fn count_bytes(event: &[u8]) -> u64 {
    serde_json::from_slice::<Value>(event).map_or(0, |v| count(&v))
}

/// Refuses a further hop from an event that has already made `n`, under `max`.
pub fn check(n: u64, max: u32) -> Result<(), String> {
    if n >= u64::from(max) {
        return Err(format!(
            "the event has been forwarded {n} times ({EXTENSION} = {n}), the limit of this target (max_hops {max}): it is not forwarded again; is there a cycle of rules?"
        ));
    }
    Ok(())
}

/// `event` (structured JSON) made ready to go on to another bus: its hop count incremented.
/// Refused when the count has reached `max`, or when the event is not a JSON object.
pub fn forward(event: &[u8], max: u32) -> Result<Bytes, String> {
    let mut v: Value = serde_json::from_slice(event)
        .map_err(|e| format!("the event to forward is not JSON: {e}"))?;
    let n = count(&v);
    check(n, max)?;
    let Value::Object(map) = &mut v else {
        return Err("the event to forward is not a JSON object".into());
    };
    map.insert(EXTENSION.into(), Value::from(n + 1));
    Ok(Bytes::from(v.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counts_up_to_the_limit() {
        let ev = br#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#;
        let once = forward(ev, 2).unwrap();
        let v: Value = serde_json::from_slice(&once).unwrap();
        assert_eq!(v[EXTENSION], 1);
        let twice = forward(&once, 2).unwrap();
        let err = forward(&twice, 2).unwrap_err();
        assert!(err.contains("max_hops 2"), "{err}");
        assert_eq!(count(&serde_json::json!({EXTENSION: "3"})), 3);
    }
}
