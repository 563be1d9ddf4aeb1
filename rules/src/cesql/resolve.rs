//! How an [`AttrRef`] finds its value in a structured-JSON CloudEvent: the one place that knows
//! the event's shape.
//!
//! Attributes are the top-level members of the event, except `data` and `data_base64` (the
//! payload, which CESQL does not address). A member that is `null` is absent, as the CloudEvents
//! JSON format says. Typing (spec 3.2: what is not a CESQL primitive is a String):
//! - JSON string → String (URI, URI-reference and Timestamp attributes are Strings too);
//! - JSON boolean → Boolean;
//! - JSON number that is an integer in the 32-bit range → Integer; that includes `10.0`, since
//!   JSON does not tell `10` from `10.0` and a re-serialised Integer attribute may come out so;
//! - any other number → String of its JSON text (`3.5`, `10000000000`): a CloudEvents Integer
//!   cannot hold it, and the spec represents non-primitive values as Strings;
//! - array or object (not valid attribute values) → String of its compact JSON text.
//!
//! Paths (SQL rules only) walk the whole event, `data` included, and type numbers differently:
//! a JSON number that is not a 32-bit integer is a decimal (`Val::Num`), not a String, so that
//! `data.total > 99.5` compares numbers. A `null` at the end of a path is absent, as for attributes.
//!
//! Attribute names are matched exactly after the expression lowered them: CloudEvents attribute
//! names are lowercase, so a member spelled `myExt` is not reachable.

use std::borrow::Cow;

use serde_json::Value;

use super::ast::{AttrRef, Path};
use super::value::Val;

/// The attributes every valid event has: `EXISTS` is always true for them (spec 3.4.4).
const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];

/// The value `r` refers to, or `None` if the event does not have it.
pub(crate) fn value<'a>(event: &'a Value, r: &AttrRef) -> Option<Val<'a>> {
    let v = lookup(event, r)?;
    match (r, v) {
        (AttrRef::Path(_), Value::Number(n)) if int32(n).is_none() => {
            n.as_f64().filter(|f| f.is_finite()).map(Val::Num)
        }
        _ => json_to_val(v),
    }
}

/// Whether the event has what `r` refers to.
pub(crate) fn exists(event: &Value, r: &AttrRef) -> bool {
    match r {
        AttrRef::Attribute(name) if REQUIRED.contains(&&**name) => true,
        _ => lookup(event, r).is_some(),
    }
}

/// The JSON value `r` refers to (never `null`).
pub(crate) fn lookup<'a>(event: &'a Value, r: &AttrRef) -> Option<&'a Value> {
    let v = match r {
        AttrRef::Attribute(name) => {
            if &**name == "data" || &**name == "data_base64" {
                return None;
            }
            event.as_object()?.get(&**name)?
        }
        AttrRef::Path(path) => walk(event, path)?,
    };
    (!v.is_null()).then_some(v)
}

/// Follows a path: object members by name, array elements by decimal index. `null` is returned
/// as it is (a projection copies it).
pub(crate) fn walk<'a>(event: &'a Value, path: &Path) -> Option<&'a Value> {
    path.segments.iter().try_fold(event, |v, seg| match v {
        Value::Object(m) => m.get(&**seg),
        Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// A JSON value as a CESQL value (see the module documentation); `None` for `null`.
pub(crate) fn json_to_val(v: &Value) -> Option<Val<'_>> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => Val::Bool(*b),
        Value::String(s) => Val::Str(Cow::Borrowed(s)),
        Value::Number(n) => match int32(n) {
            Some(i) => Val::Int(i),
            None => Val::Str(Cow::Owned(n.to_string())),
        },
        other => Val::Str(Cow::Owned(other.to_string())),
    })
}

/// The number as a 32-bit integer, if it is one (`10` and `10.0` alike).
pub(crate) fn int32(n: &serde_json::Number) -> Option<i32> {
    if let Some(i) = n.as_i64() {
        return i32::try_from(i).ok();
    }
    if n.is_u64() {
        return None;
    }
    let f = n.as_f64()?;
    let in_range = f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX);
    // The range check makes the conversion exact when the fraction is zero.
    #[allow(clippy::cast_possible_truncation)]
    (in_range && f.fract() == 0.0).then_some(f as i32)
}
