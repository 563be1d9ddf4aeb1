//! The built-in functions (spec 3.5 and the casting functions of the TCK), resolved by name and
//! arity when the expression is compiled.
//!
//! | function | signature | on bad input |
//! | --- | --- | --- |
//! | `LENGTH(x)` | String → Integer: characters, not bytes | |
//! | `CONCAT(x…)` | String^n → String, n ≥ 0 | |
//! | `CONCAT_WS(sep, x…)` | String × String^n → String, n ≥ 0 | |
//! | `LOWER(x)`, `UPPER(x)` | String → String, Unicode case mapping | |
//! | `TRIM(x)` | String → String, Unicode white space | |
//! | `LEFT(x, n)`, `RIGHT(x, n)` | String × Integer → String | `n < 0`: `x` and a functionEvaluation error |
//! | `SUBSTRING(x, pos)`, `SUBSTRING(x, pos, len)` | 1-based, negative `pos` counts from the end, `pos = 0` is `""` | `pos` beyond either end or `len < 0`: `""` and a functionEvaluation error |
//! | `ABS(x)` | Integer → Integer | `ABS(-2147483648)`: `2147483647` and a math error |
//! | `INT(x)`, `BOOL(x)`, `STRING(x)` | Any → the type, with the casts of spec 3.7 | a cast error and the zero value |
//! | `IS_INT(x)`, `IS_BOOL(x)` | Any → Boolean: whether `INT(x)`/`BOOL(x)` would succeed | never an error |
//!
//! Arguments are cast to the parameter types before the call (spec 3.7, rule 3); a failed cast is
//! a cast error and the call returns its return type's zero value. Function names are
//! case-insensitive. A name and arity no function has is not a compile error: the TCK expects
//! `CONCAT_WS()` to evaluate to `false` with a missingFunction error, and the Go SDK does the same.

use std::borrow::Cow;
use std::ops::Range;

use super::error::{ErrorKind, EvalError};
use super::value::{CesqlType, Val};

/// A built-in function with its arity fixed (the two `SUBSTRING`s are two functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Length,
    Concat,
    ConcatWs,
    Lower,
    Upper,
    Trim,
    Left,
    Right,
    Substring,
    SubstringLen,
    Abs,
    Int,
    Bool,
    String,
    IsBool,
    IsInt,
}

/// The most parameters a fixed-arity built-in has.
pub(crate) const MAX_FIXED_ARITY: usize = 3;

impl Func {
    /// The function called `name` (upper case) with `arity` arguments.
    pub(crate) fn resolve(name: &str, arity: usize) -> Option<Func> {
        let f = match (name, arity) {
            ("LENGTH", 1) => Func::Length,
            ("CONCAT", _) => Func::Concat,
            ("CONCAT_WS", n) if n >= 1 => Func::ConcatWs,
            ("LOWER", 1) => Func::Lower,
            ("UPPER", 1) => Func::Upper,
            ("TRIM", 1) => Func::Trim,
            ("LEFT", 2) => Func::Left,
            ("RIGHT", 2) => Func::Right,
            ("SUBSTRING", 2) => Func::Substring,
            ("SUBSTRING", 3) => Func::SubstringLen,
            ("ABS", 1) => Func::Abs,
            ("INT", 1) => Func::Int,
            ("BOOL", 1) => Func::Bool,
            ("STRING", 1) => Func::String,
            ("IS_BOOL", 1) => Func::IsBool,
            ("IS_INT", 1) => Func::IsInt,
            _ => return None,
        };
        Some(f)
    }

    /// Whether the function takes any number of arguments (all Strings).
    pub(crate) fn is_variadic(self) -> bool {
        matches!(self, Func::Concat | Func::ConcatWs)
    }

    /// The type argument `i` is cast to; `None` for the casting functions, which take any type.
    pub(crate) fn param(self, i: usize) -> Option<CesqlType> {
        use CesqlType::{Integer, String};
        match (self, i) {
            (Func::Int | Func::Bool | Func::String | Func::IsBool | Func::IsInt, _) => None,
            (Func::Abs, _) => Some(Integer),
            (Func::Left | Func::Right | Func::Substring | Func::SubstringLen, 1 | 2) => {
                Some(Integer)
            }
            _ => Some(String),
        }
    }

    /// The return type.
    pub(crate) fn returns(self) -> CesqlType {
        match self {
            Func::Length | Func::Abs | Func::Int => CesqlType::Integer,
            Func::Bool | Func::IsBool | Func::IsInt => CesqlType::Boolean,
            _ => CesqlType::String,
        }
    }

    /// [`Func::apply`] for a call with one argument.
    #[inline]
    pub(crate) fn apply1(self, a: Val<'_>) -> Result<Val<'_>, (Val<'_>, EvalError)> {
        match self {
            Func::Length => {
                let s = a.into_str();
                let n = if s.is_ascii() {
                    s.len()
                } else {
                    s.chars().count()
                };
                Ok(Val::Int(i32::try_from(n).unwrap_or(i32::MAX)))
            }
            Func::Lower => Ok(Val::Str(lower(a.into_str()))),
            Func::Upper => Ok(Val::Str(upper(a.into_str()))),
            _ => self.apply([a, Val::Bool(false), Val::Bool(false)]),
        }
    }

    /// Applies a fixed-arity function to arguments already cast to the parameter types. An `Err`
    /// carries the value the spec says the function returns along with the error.
    pub(crate) fn apply<'a>(
        self,
        args: [Val<'a>; MAX_FIXED_ARITY],
    ) -> Result<Val<'a>, (Val<'a>, EvalError)> {
        let [a, b, c] = args;
        match self {
            Func::Length => {
                let n = a.into_str().chars().count();
                Ok(Val::Int(i32::try_from(n).unwrap_or(i32::MAX)))
            }
            Func::Lower => Ok(Val::Str(lower(a.into_str()))),
            Func::Upper => Ok(Val::Str(upper(a.into_str()))),
            Func::Trim => {
                let s = a.into_str();
                let start = s.len() - s.trim_start().len();
                let end = s.trim_end().len().max(start);
                Ok(Val::Str(slice(s, start..end)))
            }
            Func::Left | Func::Right => {
                let s = a.into_str();
                let n = int(&b);
                if n < 0 {
                    let name = if self == Func::Left { "LEFT" } else { "RIGHT" };
                    let err = EvalError::new(
                        ErrorKind::FunctionEvaluation,
                        format!("{name}: the length is negative ({n})"),
                    );
                    return Err((Val::Str(s), err));
                }
                let len = s.chars().count();
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n >= len {
                    return Ok(Val::Str(s));
                }
                let range = if self == Func::Left {
                    0..byte_at(&s, n)
                } else {
                    byte_at(&s, len - n)..s.len()
                };
                Ok(Val::Str(slice(s, range)))
            }
            Func::Substring | Func::SubstringLen => {
                let len = if self == Func::SubstringLen {
                    Some(int(&c))
                } else {
                    None
                };
                substring(a.into_str(), int(&b), len)
            }
            Func::Abs => {
                let x = int(&a);
                x.checked_abs().map(Val::Int).ok_or_else(|| {
                    (
                        Val::Int(i32::MAX),
                        EvalError::new(
                            ErrorKind::Math,
                            "ABS: the absolute value of -2147483648 does not fit in 32 bits",
                        ),
                    )
                })
            }
            Func::Int => a.to_int().map(Val::Int).map_err(|e| (Val::Int(0), e)),
            Func::Bool => a
                .to_bool()
                .map(Val::Bool)
                .map_err(|e| (Val::Bool(false), e)),
            Func::String => Ok(Val::Str(a.into_str())),
            Func::IsInt => Ok(Val::Bool(a.to_int().is_ok())),
            Func::IsBool => Ok(Val::Bool(a.to_bool().is_ok())),
            // Variadic functions are applied by the evaluator as it reads their arguments.
            Func::Concat | Func::ConcatWs => Ok(Val::Str(Cow::Borrowed(""))),
        }
    }
}

fn int(v: &Val<'_>) -> i32 {
    match v {
        Val::Int(i) => *i,
        _ => 0,
    }
}

/// The byte offset of character `n` of `s` (or `s.len()`).
fn byte_at(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// A sub-slice that stays borrowed when its source is.
fn slice(s: Cow<'_, str>, range: Range<usize>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(range).unwrap_or("")),
        Cow::Owned(o) => Cow::Owned(o.get(range).unwrap_or("").to_string()),
    }
}

fn lower(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            s
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn upper(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(s.to_ascii_uppercase())
        } else {
            s
        }
    } else {
        Cow::Owned(s.to_uppercase())
    }
}

/// `SUBSTRING(x, pos[, len])` as spec 3.5.1 defines it, counting characters.
fn substring(s: Cow<'_, str>, pos: i32, len: Option<i32>) -> Result<Val<'_>, (Val<'_>, EvalError)> {
    let fail = |message: String| {
        Err((
            Val::Str(Cow::Borrowed("")),
            EvalError::new(ErrorKind::FunctionEvaluation, message),
        ))
    };
    if pos == 0 {
        return Ok(Val::Str(Cow::Borrowed("")));
    }
    let chars = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    let pos = i64::from(pos);
    if pos > chars || pos < -chars {
        return fail(format!(
            "SUBSTRING: position {pos} is outside a string of {chars} characters"
        ));
    }
    let begin = if pos < 0 { chars + pos } else { pos - 1 };
    let end = match len {
        None => chars,
        Some(l) if l < 0 => return fail(format!("SUBSTRING: the length is negative ({l})")),
        Some(l) => (begin + i64::from(l)).min(chars),
    };
    let to_usize = |v: i64| usize::try_from(v).unwrap_or(0);
    let range = byte_at(&s, to_usize(begin))..byte_at(&s, to_usize(end));
    Ok(Val::Str(slice(s, range)))
}
