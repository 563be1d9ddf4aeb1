//! The value tests of every condition that leaves one state on one field, indexed so that one
//! event value finds the conditions it satisfies without looking at the others:
//! exact values and ignore-case values by hash; prefixes and suffixes by hash of the value's
//! prefix (suffix) at each length in use; numbers in a segment tree; networks by hash of the
//! masked address at each prefix length in use; wildcards by their anchored literal (or, for
//! `*x*` forms, an Aho-Corasick scan for their longest literal) and then verified. Only
//! `anything-but` is a list, since nearly every value satisfies it anyway.

use std::net::IpAddr;

use aho_corasick::AhoCorasick;
use rustc_hash::FxHashMap;

use super::affix::{Affixes, Ends};
use super::levels::{Levels, Static};
use super::numeric::NumTree;
use crate::pattern::{AnythingBut, EventValue, Leaf, Scalar, Wildcard};

/// Wildcards floating between stars (`*x*`), found by their longest literal.
#[derive(Debug)]
pub(crate) struct Floating {
    ac: Option<AhoCorasick>,
}

impl Static for Floating {
    /// (longest literal, wildcard number)
    type Item = (String, u32);

    fn build(items: &[(String, u32)]) -> Floating {
        Floating {
            ac: AhoCorasick::new(items.iter().map(|(s, _)| s.as_str())).ok(),
        }
    }
}

/// Up to this many tests on one (state, field) are kept as a list and tried one by one: deep in
/// the graph most transitions carry one or two tests, where a list is smaller and faster than
/// any index.
const FEW: usize = 6;

/// All value tests of one (state, field).
#[derive(Debug)]
pub(crate) enum ValueIndex {
    /// One test, held inline (the common case deep in the graph: one cache line less to fetch).
    One(Leaf, u32, bool),
    /// A few tests, tried in turn.
    Few {
        tests: Vec<(Leaf, u32)>,
        needs_lower: bool,
    },
    /// Many tests, indexed.
    Many(Box<Indexed>),
}

impl Default for ValueIndex {
    fn default() -> ValueIndex {
        ValueIndex::Few {
            tests: Vec::new(),
            needs_lower: false,
        }
    }
}

impl ValueIndex {
    pub(crate) fn insert(&mut self, leaf: &Leaf, target: u32) {
        match self {
            ValueIndex::Few { tests, .. } if tests.is_empty() => {
                *self = ValueIndex::One(leaf.clone(), target, leaf_needs_lower(leaf));
            }
            ValueIndex::One(first, t, lower) => {
                *self = ValueIndex::Few {
                    tests: vec![(first.clone(), *t), (leaf.clone(), target)],
                    needs_lower: *lower || leaf_needs_lower(leaf),
                };
            }
            ValueIndex::Few { tests, needs_lower } if tests.len() < FEW => {
                *needs_lower |= leaf_needs_lower(leaf);
                tests.push((leaf.clone(), target));
            }
            ValueIndex::Few { tests, .. } => {
                let mut many = Box::<Indexed>::default();
                for (l, t) in tests.iter() {
                    many.insert(l, *t);
                }
                many.insert(leaf, target);
                *self = ValueIndex::Many(many);
            }
            ValueIndex::Many(many) => many.insert(leaf, target),
        }
    }

    /// Whether the tests need the lowercase form of string values.
    #[inline]
    pub(crate) fn needs_lower(&self) -> bool {
        match self {
            ValueIndex::One(_, _, needs_lower) | ValueIndex::Few { needs_lower, .. } => {
                *needs_lower
            }
            ValueIndex::Many(many) => many.needs_lower,
        }
    }

    /// Pushes onto `out` the target of every test `v` passes (possibly repeated).
    #[inline]
    pub(crate) fn collect(&self, v: EventValue<'_>, lower: Option<&str>, out: &mut Vec<u32>) {
        match self {
            ValueIndex::One(leaf, target, _) => {
                if leaf.test(v, lower) {
                    out.push(*target);
                }
            }
            ValueIndex::Few { tests, .. } => {
                for (leaf, target) in tests {
                    if leaf.test(v, lower) {
                        out.push(*target);
                    }
                }
            }
            ValueIndex::Many(many) => many.collect(v, lower, out),
        }
    }
}

fn leaf_needs_lower(leaf: &Leaf) -> bool {
    matches!(
        leaf,
        Leaf::EqualsIgnoreCase(_)
            | Leaf::Prefix {
                ignore_case: true,
                ..
            }
            | Leaf::Suffix {
                ignore_case: true,
                ..
            }
            | Leaf::AnythingBut(AnythingBut::EqualsIgnoreCase(_))
    )
}

/// Many value tests of one (state, field), indexed.
#[derive(Debug)]
pub(crate) struct Indexed {
    strings: FxHashMap<Box<str>, Vec<u32>>,
    numbers: FxHashMap<u64, Vec<u32>>,
    trues: Vec<u32>,
    falses: Vec<u32>,
    nulls: Vec<u32>,
    prefix: Affixes<u32>,
    suffix: Affixes<u32>,
    prefix_ic: Affixes<u32>,
    suffix_ic: Affixes<u32>,
    equals_ic: FxHashMap<Box<str>, Vec<u32>>,
    numeric: Levels<NumTree>,
    v4: CidrIndex,
    v6: CidrIndex,
    /// Every wildcard, with its target.
    wildcards: Vec<(Wildcard, u32)>,
    /// Wildcards by their first literal, by their last, floating, or `*` alone.
    wild_prefix: Affixes<u32>,
    wild_suffix: Affixes<u32>,
    wild_ends: Ends,
    wild_floating: Levels<Floating>,
    wild_any: Vec<u32>,
    anything_but: Vec<(AnythingBut, u32)>,
    /// Some test needs the lowercase form of string values.
    needs_lower: bool,
}

impl Default for Indexed {
    fn default() -> Indexed {
        Indexed {
            strings: FxHashMap::default(),
            numbers: FxHashMap::default(),
            trues: Vec::new(),
            falses: Vec::new(),
            nulls: Vec::new(),
            prefix: Affixes::new(false),
            suffix: Affixes::new(true),
            prefix_ic: Affixes::new(false),
            suffix_ic: Affixes::new(true),
            equals_ic: FxHashMap::default(),
            numeric: Levels::default(),
            v4: CidrIndex::default(),
            v6: CidrIndex::default(),
            wildcards: Vec::new(),
            wild_prefix: Affixes::new(false),
            wild_suffix: Affixes::new(true),
            wild_ends: Ends::default(),
            wild_floating: Levels::default(),
            wild_any: Vec::new(),
            anything_but: Vec::new(),
            needs_lower: false,
        }
    }
}

/// The hash key of a number: equal numbers (`0.0` and `-0.0` included) have equal keys.
#[inline]
pub(crate) fn num_key(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

impl Indexed {
    fn insert(&mut self, leaf: &Leaf, target: u32) {
        self.needs_lower |= leaf_needs_lower(leaf);
        match leaf {
            Leaf::Exact(Scalar::String(s)) => self
                .strings
                .entry(s.as_str().into())
                .or_default()
                .push(target),
            Leaf::Exact(Scalar::Number(x)) => {
                self.numbers.entry(num_key(*x)).or_default().push(target)
            }
            Leaf::Exact(Scalar::Bool(true)) => self.trues.push(target),
            Leaf::Exact(Scalar::Bool(false)) => self.falses.push(target),
            Leaf::Exact(Scalar::Null) => self.nulls.push(target),
            Leaf::Prefix { value, ignore_case } => {
                let idx = if *ignore_case {
                    &mut self.prefix_ic
                } else {
                    &mut self.prefix
                };
                idx.insert(value.as_bytes(), target);
            }
            Leaf::Suffix { value, ignore_case } => {
                let idx = if *ignore_case {
                    &mut self.suffix_ic
                } else {
                    &mut self.suffix
                };
                idx.insert(value.as_bytes(), target);
            }
            Leaf::EqualsIgnoreCase(s) => {
                self.equals_ic
                    .entry(s.as_str().into())
                    .or_default()
                    .push(target);
            }
            Leaf::Numeric(r) => self.numeric.insert((*r, target)),
            Leaf::Cidr(c) => match c.network {
                IpAddr::V4(a) => self
                    .v4
                    .insert(c.prefix_len, u128::from(u32::from(a)), target),
                IpAddr::V6(a) => self.v6.insert(c.prefix_len, u128::from(a), target),
            },
            Leaf::Wildcard(w) => {
                let n = self.wildcards.len() as u32;
                self.wildcards.push((w.clone(), target));
                let first = &w.pieces[0];
                let last = &w.pieces[w.pieces.len() - 1];
                if !first.is_empty() && !last.is_empty() && w.pieces.len() > 1 {
                    self.wild_ends.insert(first.as_bytes(), last.as_bytes(), n);
                } else if !first.is_empty() {
                    self.wild_prefix.insert(first.as_bytes(), n);
                } else if !last.is_empty() {
                    self.wild_suffix.insert(last.as_bytes(), n);
                } else if !w.longest_piece().is_empty() {
                    self.wild_floating
                        .insert((w.longest_piece().to_string(), n));
                } else {
                    self.wild_any.push(n);
                }
            }
            Leaf::AnythingBut(ab) => {
                self.anything_but.push((ab.clone(), target));
            }
        }
    }

    fn collect(&self, v: EventValue<'_>, lower: Option<&str>, out: &mut Vec<u32>) {
        match v {
            EventValue::Str(s) => self.collect_str(s, lower, out),
            EventValue::Num(x) => {
                if let Some(t) = self.numbers.get(&num_key(x)) {
                    out.extend_from_slice(t);
                }
                if !self.numeric.is_empty() {
                    for (_, tree) in self.numeric.levels() {
                        tree.collect(x, out);
                    }
                }
            }
            EventValue::Bool(true) => out.extend_from_slice(&self.trues),
            EventValue::Bool(false) => out.extend_from_slice(&self.falses),
            EventValue::Null => out.extend_from_slice(&self.nulls),
        }
        for (ab, target) in &self.anything_but {
            if !ab.excludes(v, lower) {
                out.push(*target);
            }
        }
    }

    fn collect_str(&self, s: &str, lower: Option<&str>, out: &mut Vec<u32>) {
        if let Some(t) = self.strings.get(s) {
            out.extend_from_slice(t);
        }
        let b = s.as_bytes();
        self.prefix.each_in(b, |t| out.push(t));
        self.suffix.each_in(b, |t| out.push(t));
        if let Some(l) = lower {
            if let Some(t) = self.equals_ic.get(l) {
                out.extend_from_slice(t);
            }
            self.prefix_ic.each_in(l.as_bytes(), |t| out.push(t));
            self.suffix_ic.each_in(l.as_bytes(), |t| out.push(t));
        }
        if !self.v4.lens.is_empty() || !self.v6.lens.is_empty() {
            match s.parse::<IpAddr>() {
                Ok(IpAddr::V4(a)) => self.v4.collect(u128::from(u32::from(a)), 32, out),
                Ok(IpAddr::V6(a)) => self.v6.collect(u128::from(a), 128, out),
                Err(_) => {}
            }
        }
        if !self.wildcards.is_empty() {
            let mut verify = |n: u32| {
                if let Some((w, t)) = self.wildcards.get(n as usize) {
                    if w.matches(s) {
                        out.push(*t);
                    }
                }
            };
            self.wild_ends.each_in(b, &mut verify);
            self.wild_prefix.each_in(b, &mut verify);
            self.wild_suffix.each_in(b, &mut verify);
            self.wild_any.iter().for_each(|n| verify(*n));
            for (items, floating) in self.wild_floating.levels() {
                match &floating.ac {
                    Some(ac) => {
                        let mut seen: Vec<u32> = Vec::new();
                        for m in ac.find_overlapping_iter(s) {
                            let n = items[m.pattern().as_usize()].1;
                            if !seen.contains(&n) {
                                seen.push(n);
                                verify(n);
                            }
                        }
                    }
                    None => items.iter().for_each(|(_, n)| verify(*n)),
                }
            }
        }
    }
}

/// Networks of one address family, by (prefix length, masked address).
#[derive(Debug, Default)]
struct CidrIndex {
    map: FxHashMap<(u8, u128), Vec<u32>>,
    lens: Vec<u8>,
}

impl CidrIndex {
    /// `network` has its host bits cleared already.
    fn insert(&mut self, len: u8, network: u128, target: u32) {
        if let Err(at) = self.lens.binary_search(&len) {
            self.lens.insert(at, len);
        }
        self.map.entry((len, network)).or_default().push(target);
    }

    /// `bits` is the family's address width (32 or 128).
    fn collect(&self, addr: u128, bits: u32, out: &mut Vec<u32>) {
        for &len in &self.lens {
            let host = bits - u32::from(len);
            let masked = if host >= 128 {
                0
            } else {
                (addr >> host) << host
            };
            if let Some(t) = self.map.get(&(len, masked)) {
                out.extend_from_slice(t);
            }
        }
    }
}
