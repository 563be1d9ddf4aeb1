//! Reading a JSON object member by member, with errors that name each member's pointer, and a
//! final check that nothing unknown was left.

use serde_json::{Map, Value};

use super::SpecError;

/// An object being read; members are taken out as they are read.
pub(crate) struct Obj {
    map: Map<String, Value>,
    at: String,
}

impl Obj {
    /// `value` must be an object.
    pub(crate) fn new(value: &Value, at: &str) -> Result<Obj, SpecError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map: map.clone(),
                at: at.to_owned(),
            }),
            other => Err(SpecError::new(
                at,
                format!("is {}; an object was expected", kind_of(other)),
            )),
        }
    }

    /// The pointer of a member.
    pub(crate) fn ptr(&self, name: &str) -> String {
        format!("{}/{name}", self.at)
    }

    /// Takes a member out (absent: `None`).
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name)
    }

    /// A string member that must be there.
    pub(crate) fn required_str(&mut self, name: &str) -> Result<String, SpecError> {
        match self.opt_str(name)? {
            Some(s) => Ok(s),
            None => Err(SpecError::new(self.ptr(name), "is required")),
        }
    }

    /// A string member, `null` or absent meaning `None`.
    pub(crate) fn opt_str(&mut self, name: &str) -> Result<Option<String>, SpecError> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(SpecError::new(
                self.ptr(name),
                format!("is {}; a string was expected", kind_of(&other)),
            )),
        }
    }

    /// A positive integer member within `1..=max`.
    pub(crate) fn opt_count(&mut self, name: &str, max: u64) -> Result<Option<u64>, SpecError> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (1..=max).contains(&v) => Ok(Some(v)),
                _ => Err(SpecError::new(
                    self.ptr(name),
                    format!("is {n}; a whole number from 1 to {max} was expected"),
                )),
            },
            Some(other) => Err(SpecError::new(
                self.ptr(name),
                format!("is {}; a number was expected", kind_of(&other)),
            )),
        }
    }

    /// A nested object member.
    pub(crate) fn opt_obj(&mut self, name: &str) -> Result<Option<Obj>, SpecError> {
        let at = self.ptr(name);
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Obj::new(&v, &at).map(Some),
        }
    }

    /// The remaining members, in order (for maps such as `headers`).
    pub(crate) fn drain(&mut self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.map).into_iter().collect()
    }

    /// Fails naming the first member nobody read.
    pub(crate) fn finish(self) -> Result<(), SpecError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(SpecError::new(
                format!("{}/{}", self.at, escape(k)),
                "is not a member of this object",
            )),
        }
    }
}

pub(crate) use rules::pattern::escape_pointer as escape;

/// The JSON type of a value, for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
