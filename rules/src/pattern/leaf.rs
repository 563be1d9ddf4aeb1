//! The value tests of a leaf.

use std::net::IpAddr;

use super::wildcard::Wildcard;

/// An exact value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A string.
    String(String),
    /// A number (compared as f64; `-0.0` is `0.0`).
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// One element of a leaf array (other than `exists`).
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf {
    /// Equal to this value, typed.
    Exact(Scalar),
    /// A string starting with `value` (`value` lowercased when `ignore_case`).
    Prefix { value: String, ignore_case: bool },
    /// A string ending with `value` (`value` lowercased when `ignore_case`).
    Suffix { value: String, ignore_case: bool },
    /// A string equal to this one ignoring case (stored lowercased).
    EqualsIgnoreCase(String),
    /// A string matching a wildcard pattern.
    Wildcard(Wildcard),
    /// A number in a range.
    Numeric(Range),
    /// A string that is an IP address within a network.
    Cidr(Cidr),
    /// Any present value not excluded.
    AnythingBut(AnythingBut),
}

/// What `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub enum AnythingBut {
    /// These exact values (all strings or all numbers).
    Values(Vec<Scalar>),
    /// Strings starting with one of these (non-empty).
    Prefix(Vec<String>),
    /// Strings ending with one of these (non-empty).
    Suffix(Vec<String>),
    /// Strings equal to one of these ignoring case (stored lowercased).
    EqualsIgnoreCase(Vec<String>),
    /// Strings matching one of these wildcards.
    Wildcard(Vec<Wildcard>),
}

/// A numeric range; a bound is `(value, inclusive)`. `=` is both bounds inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lower: Option<(f64, bool)>,
    pub upper: Option<(f64, bool)>,
}

impl Range {
    /// Whether `x` is in the range.
    pub fn contains(&self, x: f64) -> bool {
        let lower_ok = match self.lower {
            None => true,
            Some((b, true)) => x >= b,
            Some((b, false)) => x > b,
        };
        let upper_ok = match self.upper {
            None => true,
            Some((b, true)) => x <= b,
            Some((b, false)) => x < b,
        };
        lower_ok && upper_ok
    }
}

/// An IP network: the address with host bits cleared, and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix_len: u8,
}

impl Cidr {
    /// Whether `ip` is in the network (an IPv4 address is never in an IPv6 network, nor the
    /// reverse).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = mask_u32(self.prefix_len);
                u32::from(a) & mask == u32::from(n)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = mask_u128(self.prefix_len);
                u128::from(a) & mask == u128::from(n)
            }
            _ => false,
        }
    }
}

/// The netmask of a v4 prefix length (0..=32).
pub(crate) fn mask_u32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// The netmask of a v6 prefix length (0..=128).
pub(crate) fn mask_u128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// A leaf of an event, as the tests see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventValue<'a> {
    /// A string (unescaped).
    Str(&'a str),
    /// A number.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Scalar {
    /// Whether the event value equals this one (typed; numbers as f64).
    pub fn equals(&self, v: EventValue<'_>) -> bool {
        match (self, v) {
            (Scalar::String(a), EventValue::Str(b)) => a == b,
            (Scalar::Number(a), EventValue::Num(b)) => *a == b,
            (Scalar::Bool(a), EventValue::Bool(b)) => *a == b,
            (Scalar::Null, EventValue::Null) => true,
            _ => false,
        }
    }
}

impl Leaf {
    /// Whether the event value passes this test. `lower` is the lowercase form of a string value,
    /// computed by the caller once per value (`None` for non-strings).
    pub fn test(&self, v: EventValue<'_>, lower: Option<&str>) -> bool {
        match (self, v) {
            (Leaf::Exact(s), v) => s.equals(v),
            (Leaf::Prefix { value, ignore_case }, EventValue::Str(s)) => {
                if *ignore_case {
                    lower.is_some_and(|l| l.starts_with(value.as_str()))
                } else {
                    s.starts_with(value.as_str())
                }
            }
            (Leaf::Suffix { value, ignore_case }, EventValue::Str(s)) => {
                if *ignore_case {
                    lower.is_some_and(|l| l.ends_with(value.as_str()))
                } else {
                    s.ends_with(value.as_str())
                }
            }
            (Leaf::EqualsIgnoreCase(p), EventValue::Str(_)) => lower == Some(p.as_str()),
            (Leaf::Wildcard(w), EventValue::Str(s)) => w.matches(s),
            (Leaf::Numeric(r), EventValue::Num(x)) => r.contains(x),
            (Leaf::Cidr(c), EventValue::Str(s)) => s.parse().is_ok_and(|ip| c.contains(ip)),
            (Leaf::AnythingBut(ab), v) => !ab.excludes(v, lower),
            _ => false,
        }
    }
}

impl AnythingBut {
    /// Whether the value is one of those excluded.
    pub fn excludes(&self, v: EventValue<'_>, lower: Option<&str>) -> bool {
        match (self, v) {
            (AnythingBut::Values(list), v) => list.iter().any(|s| s.equals(v)),
            (AnythingBut::Prefix(list), EventValue::Str(s)) => {
                list.iter().any(|p| s.starts_with(p.as_str()))
            }
            (AnythingBut::Suffix(list), EventValue::Str(s)) => {
                list.iter().any(|p| s.ends_with(p.as_str()))
            }
            (AnythingBut::EqualsIgnoreCase(list), EventValue::Str(_)) => {
                lower.is_some_and(|l| list.iter().any(|p| p == l))
            }
            (AnythingBut::Wildcard(list), EventValue::Str(s)) => list.iter().any(|w| w.matches(s)),
            _ => false,
        }
    }
}
