//! The three CESQL types, their values and the casts between them (spec sections 3.1 and 3.7).
//!
//! [`Val`] is the evaluator's value: strings borrow from the event or from the compiled expression
//! whenever they can (`Cow`), so comparing an attribute with a literal copies nothing.
//! [`CesqlValue`] is the owned value handed to callers.
//!
//! `Val::Num` is a decimal: a JSON number that is not a 32-bit integer, a decimal literal, or the
//! result of decimal arithmetic. Only SQL rules (`crate::sql`) produce it; a CESQL expression
//! never meets one. Seen through CESQL's three types it is a String (its JSON text), which is
//! how CESQL types such numbers (`resolve.rs`), so the casts and the public [`CesqlValue`] stay
//! those of the spec; the operators that compute on it (`eval.rs`) check for it first.

use std::borrow::Cow;
use std::fmt;

use super::error::{ErrorKind, EvalError};

/// A CESQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CesqlType {
    /// `true` or `false`; zero value `false`.
    Boolean,
    /// A signed 32-bit integer; zero value `0`.
    Integer,
    /// A sequence of Unicode characters; zero value `""`.
    String,
}

impl CesqlType {
    pub(crate) fn zero(self) -> Val<'static> {
        match self {
            CesqlType::Boolean => Val::Bool(false),
            CesqlType::Integer => Val::Int(0),
            CesqlType::String => Val::Str(Cow::Borrowed("")),
        }
    }
}

impl fmt::Display for CesqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CesqlType::Boolean => "Boolean",
            CesqlType::Integer => "Integer",
            CesqlType::String => "String",
        })
    }
}

/// The result of an evaluation: a value of one of the three CESQL types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CesqlValue {
    /// A Boolean.
    Boolean(bool),
    /// An Integer (32 bits, as the spec says).
    Integer(i32),
    /// A String.
    String(String),
}

impl CesqlValue {
    /// The value's type.
    pub fn cesql_type(&self) -> CesqlType {
        match self {
            CesqlValue::Boolean(_) => CesqlType::Boolean,
            CesqlValue::Integer(_) => CesqlType::Integer,
            CesqlValue::String(_) => CesqlType::String,
        }
    }
}

impl fmt::Display for CesqlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CesqlValue::Boolean(b) => write!(f, "{b}"),
            CesqlValue::Integer(i) => write!(f, "{i}"),
            CesqlValue::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A value during evaluation; `'a` is the lifetime of the event and of the expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Bool(bool),
    Int(i32),
    Str(Cow<'a, str>),
    /// A finite decimal (SQL rules only: see the module documentation).
    Num(f64),
}

impl<'a> Val<'a> {
    #[inline]
    pub(crate) fn ty(&self) -> CesqlType {
        match self {
            Val::Bool(_) => CesqlType::Boolean,
            Val::Int(_) => CesqlType::Integer,
            Val::Str(_) | Val::Num(_) => CesqlType::String,
        }
    }

    /// Whether the value is a decimal (SQL rules only).
    #[inline]
    pub(crate) fn is_num(&self) -> bool {
        matches!(self, Val::Num(_))
    }

    pub(crate) fn into_owned(self) -> CesqlValue {
        match self {
            Val::Bool(b) => CesqlValue::Boolean(b),
            Val::Int(i) => CesqlValue::Integer(i),
            Val::Str(s) => CesqlValue::String(s.into_owned()),
            Val::Num(f) => CesqlValue::String(num_text(f)),
        }
    }

    /// The value as JSON (a decimal as a JSON number).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Num(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        }
    }

    /// The value as a decimal (SQL rules): Integer exactly, Boolean 1 or 0, a String holding a
    /// finite number; anything else is a cast error.
    pub(crate) fn to_f64(&self) -> Result<f64, EvalError> {
        match self {
            Val::Bool(b) => Ok(f64::from(u8::from(*b))),
            Val::Int(i) => Ok(f64::from(*i)),
            Val::Num(f) => Ok(*f),
            Val::Str(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| {
                    EvalError::new(
                        ErrorKind::Cast,
                        format!("cannot cast the String {s:?} to a number"),
                    )
                }),
        }
    }

    /// How the value reads in a message: its type and the value.
    pub(crate) fn describe(&self) -> String {
        match self {
            Val::Num(f) => format!("number {}", num_text(*f)),
            other => format!("{} {}", other.ty(), other.clone().into_owned()),
        }
    }

    #[inline]
    pub(crate) fn from_owned(v: &'a CesqlValue) -> Val<'a> {
        match v {
            CesqlValue::Boolean(b) => Val::Bool(*b),
            CesqlValue::Integer(i) => Val::Int(*i),
            CesqlValue::String(s) => Val::Str(Cow::Borrowed(s)),
        }
    }

    /// Casts to Boolean (spec 3.7): Integer is `true` unless 0; String is `true`/`false` in any
    /// case, anything else a cast error with the value `false`.
    #[inline]
    pub(crate) fn to_bool(&self) -> Result<bool, EvalError> {
        match self {
            Val::Bool(b) => Ok(*b),
            Val::Int(i) => Ok(*i != 0),
            Val::Num(f) => Ok(*f != 0.0),
            Val::Str(s) => str_to_bool(s).ok_or_else(|| {
                EvalError::new(
                    ErrorKind::Cast,
                    format!("cannot cast the String {s:?} to Boolean"),
                )
            }),
        }
    }

    /// Casts to Integer (spec 3.7): Boolean is 1 or 0; String is a base-10 32-bit integer with an
    /// optional sign, anything else (spaces, overflow) a cast error with the value 0.
    #[inline]
    pub(crate) fn to_int(&self) -> Result<i32, EvalError> {
        match self {
            Val::Bool(b) => Ok(i32::from(*b)),
            Val::Int(i) => Ok(*i),
            Val::Num(f) => num_to_int(*f).ok_or_else(|| {
                EvalError::new(
                    ErrorKind::Cast,
                    format!("cannot cast the number {} to Integer", num_text(*f)),
                )
            }),
            Val::Str(s) => s.parse::<i32>().map_err(|e| {
                EvalError::new(
                    ErrorKind::Cast,
                    format!("cannot cast the String {s:?} to Integer"),
                )
                .with_source(e)
            }),
        }
    }

    /// Casts to String (spec 3.7), which always succeeds. Borrows when the value is a String.
    #[inline]
    pub(crate) fn into_str(self) -> Cow<'a, str> {
        match self {
            Val::Str(s) => s,
            Val::Bool(true) => Cow::Borrowed("true"),
            Val::Bool(false) => Cow::Borrowed("false"),
            Val::Int(i) => Cow::Owned(i.to_string()),
            Val::Num(f) => Cow::Owned(num_text(f)),
        }
    }

    /// Casts to `ty`.
    #[inline]
    pub(crate) fn cast(self, ty: CesqlType) -> Result<Val<'a>, EvalError> {
        match ty {
            CesqlType::Boolean => self.to_bool().map(Val::Bool),
            CesqlType::Integer => self.to_int().map(Val::Int),
            CesqlType::String => Ok(Val::Str(self.into_str())),
        }
    }
}

/// `"true"` and `"false"` in any ASCII case (no other character lowercases to these letters).
pub(crate) fn str_to_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A decimal's JSON text (`99.5`, `10000000000.0`, `1e300`).
pub(crate) fn num_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
}

/// The decimal as a 32-bit integer, if it is a whole number in range.
pub(crate) fn num_to_int(f: f64) -> Option<i32> {
    let in_range = f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX);
    // The range check makes the conversion exact when the fraction is zero.
    #[allow(clippy::cast_possible_truncation)]
    (in_range && f.fract() == 0.0).then_some(f as i32)
}
