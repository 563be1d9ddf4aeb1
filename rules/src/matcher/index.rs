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
use super::small::StrMap;
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
    One(Test),
    /// A few tests, tried in turn.
    Few(Box<[Test]>),
    /// Many tests, indexed.
    Many(Box<Indexed>),
}

/// One value test and where it leads. The first look ([`Quick`]) is inline and settles most
/// failures; the test itself is behind a pointer, fetched only when the first look passes.
#[derive(Debug)]
pub(crate) struct Test {
    quick: Quick,
    leaf: Box<Leaf>,
    target: u32,
}

impl Test {
    fn new(leaf: &Leaf, target: u32) -> Test {
        Test {
            quick: Quick::of(leaf),
            leaf: Box::new(leaf.clone()),
            target,
        }
    }

    #[inline]
    pub(crate) fn passes(&self, v: EventValue<'_>, lower: Option<&str>) -> bool {
        !self.quick.rejects(v, lower) && self.leaf.test(v, lower)
    }

    /// Where the test leads.
    #[inline]
    pub(crate) fn target(&self) -> u32 {
        self.target
    }
}

/// The length and last (up to) eight bytes of a string test's literal, held beside the test: a
/// value of the wrong length, or with other bytes where the literal ends, is rejected here. Deep in
/// the graph most tests fail, and each failure found here saves a cache miss on the literal. The
/// literal's end, not its start, is kept: names share their beginnings (`com.example.`,
/// `arn:aws:`), and differ at the end.
#[derive(Debug, Clone, Copy)]
struct Quick {
    kind: QuickKind,
    /// Test the lowercase form of the value.
    lower: bool,
    /// The literal's length.
    len: u32,
    /// How many bytes `word` holds (at most 8).
    k: u8,
    /// The literal's last `k` bytes.
    word: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuickKind {
    /// No first look: the test decides alone.
    None,
    /// The value equals the literal.
    Exact,
    /// The value starts with the literal.
    Prefix,
    /// The value ends with the literal.
    Suffix,
}

/// Up to eight bytes as a number (zero-padded).
#[inline]
fn load(b: &[u8]) -> u64 {
    if let Ok(w) = <[u8; 8]>::try_from(b) {
        return u64::from_le_bytes(w);
    }
    let mut buf = [0u8; 8];
    let n = b.len().min(8);
    buf[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(buf)
}

impl Quick {
    fn of(leaf: &Leaf) -> Quick {
        let (kind, lower, lit) = match leaf {
            Leaf::Exact(Scalar::String(s)) => (QuickKind::Exact, false, s.as_str()),
            Leaf::EqualsIgnoreCase(s) => (QuickKind::Exact, true, s.as_str()),
            Leaf::Prefix { value, ignore_case } => {
                (QuickKind::Prefix, *ignore_case, value.as_str())
            }
            Leaf::Suffix { value, ignore_case } => {
                (QuickKind::Suffix, *ignore_case, value.as_str())
            }
            Leaf::Wildcard(w) => {
                let (first, last) = (&w.pieces[0], &w.pieces[w.pieces.len() - 1]);
                if !first.is_empty() {
                    (QuickKind::Prefix, false, first.as_str())
                } else {
                    (QuickKind::Suffix, false, last.as_str())
                }
            }
            _ => (QuickKind::None, false, ""),
        };
        let b = lit.as_bytes();
        let k = b.len().min(8);
        let word = load(&b[b.len() - k..]);
        Quick {
            kind,
            lower,
            len: b.len() as u32,
            k: k as u8,
            word,
        }
    }

    /// Whether the test surely fails on this value. Every kind but `None` passes only strings.
    #[inline(always)]
    fn rejects(&self, v: EventValue<'_>, lower: Option<&str>) -> bool {
        if self.kind == QuickKind::None {
            return false;
        }
        let s = match (v, self.lower) {
            (EventValue::Str(s), false) => s,
            (EventValue::Str(_), true) => match lower {
                Some(l) => l,
                None => return true,
            },
            _ => return true,
        };
        let b = s.as_bytes();
        let (len, k) = (self.len as usize, usize::from(self.k));
        match self.kind {
            QuickKind::Exact => b.len() != len || load(&b[len - k..]) != self.word,
            QuickKind::Prefix => b.len() < len || load(&b[len - k..len]) != self.word,
            QuickKind::Suffix => b.len() < len || load(&b[b.len() - k..]) != self.word,
            QuickKind::None => false,
        }
    }
}

impl Default for ValueIndex {
    fn default() -> ValueIndex {
        ValueIndex::Few(Box::default())
    }
}

impl ValueIndex {
    pub(crate) fn insert(&mut self, leaf: &Leaf, target: u32) {
        *self = match std::mem::take(self) {
            ValueIndex::Few(tests) if tests.is_empty() => ValueIndex::One(Test::new(leaf, target)),
            ValueIndex::One(first) => ValueIndex::Few(Box::new([first, Test::new(leaf, target)])),
            ValueIndex::Few(tests) if tests.len() < FEW => {
                let mut list = tests.into_vec();
                list.push(Test::new(leaf, target));
                ValueIndex::Few(list.into_boxed_slice())
            }
            ValueIndex::Few(tests) => {
                let mut many = Box::<Indexed>::default();
                for t in tests.iter() {
                    many.insert(&t.leaf, t.target);
                }
                many.insert(leaf, target);
                ValueIndex::Many(many)
            }
            ValueIndex::Many(mut many) => {
                many.insert(leaf, target);
                ValueIndex::Many(many)
            }
        };
    }

    /// The test, when there is exactly one.
    #[inline]
    pub(crate) fn one(&self) -> Option<&Test> {
        match self {
            ValueIndex::One(t) => Some(t),
            _ => None,
        }
    }

    /// Pushes onto `out` the target of every test `v` passes (possibly repeated).
    #[inline]
    pub(crate) fn collect(&self, v: EventValue<'_>, lower: Option<&str>, out: &mut Vec<u32>) {
        match self {
            ValueIndex::One(t) => {
                if t.passes(v, lower) {
                    out.push(t.target);
                }
            }
            ValueIndex::Few(tests) => {
                for t in tests.iter() {
                    if t.passes(v, lower) {
                        out.push(t.target);
                    }
                }
            }
            ValueIndex::Many(many) => many.collect(v, lower, out),
        }
    }
}

/// Whether a test needs the lowercase form of string values.
pub(crate) fn leaf_needs_lower(leaf: &Leaf) -> bool {
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
    strings: StrMap,
    numbers: FxHashMap<u64, Vec<u32>>,
    trues: Vec<u32>,
    falses: Vec<u32>,
    nulls: Vec<u32>,
    prefix: Affixes,
    suffix: Affixes,
    prefix_ic: Affixes,
    suffix_ic: Affixes,
    equals_ic: StrMap,
    numeric: Levels<NumTree>,
    v4: CidrIndex,
    v6: CidrIndex,
    /// Every wildcard, with its target.
    wildcards: Vec<(Wildcard, u32)>,
    /// Wildcards by their first literal, by their last, floating, or `*` alone.
    wild_prefix: Affixes,
    wild_suffix: Affixes,
    wild_ends: Ends,
    wild_floating: Levels<Floating>,
    wild_any: Vec<u32>,
    anything_but: Vec<(AnythingBut, u32)>,
}

impl Default for Indexed {
    fn default() -> Indexed {
        Indexed {
            strings: StrMap::default(),
            numbers: FxHashMap::default(),
            trues: Vec::new(),
            falses: Vec::new(),
            nulls: Vec::new(),
            prefix: Affixes::new(false),
            suffix: Affixes::new(true),
            prefix_ic: Affixes::new(false),
            suffix_ic: Affixes::new(true),
            equals_ic: StrMap::default(),
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
        match leaf {
            Leaf::Exact(Scalar::String(s)) => self.strings.insert(s, target),
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
            Leaf::EqualsIgnoreCase(s) => self.equals_ic.insert(s, target),
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
        out.extend_from_slice(self.strings.get(s));
        let b = s.as_bytes();
        self.prefix.each_in(b, |t| out.push(t));
        self.suffix.each_in(b, |t| out.push(t));
        if let Some(l) = lower {
            out.extend_from_slice(self.equals_ic.get(l));
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
                if let Some((w, t)) = self.wildcards.get(n as usize)
                    && w.matches(s)
                {
                    out.push(*t);
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
