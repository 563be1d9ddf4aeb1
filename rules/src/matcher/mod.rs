//! All rules of a bus compiled into one structure, in the manner of aws/event-ruler and quamina.
//!
//! Each alternative of each pattern becomes a path of *conditions* through a graph of states:
//! from the start state, a transition on a field leads to the next state when the event has a
//! value at that field passing the condition's tests; a state where an alternative ends lists its
//! rule. Alternatives that begin with the same conditions share their path (prefix merging), and
//! all conditions leaving one state on one field share one [`index::ValueIndex`], so an event
//! value finds the conditions it satisfies by hash and tree probes, not by trying each rule.
//!
//! Conditions are ordered most selective first: `exists` and `anything-but` (which most values
//! pass) last, numeric ranges before them (a thousand distinct `< x` thresholds still pass half
//! of all values together), and among the rest the conditions used by the fewest rules first (a
//! condition shared by a tenth of the rules is likely to pass for a tenth of the events). The
//! states an event reaches are then few, and the work per event follows the event's relevant
//! values and its matches, not the number of rules. The counts change as rules come; the structure is rebuilt whenever the
//! rule count doubles, so paths are ordered by counts that are at most a factor two stale.
//!
//! Matching starts from the raw JSON bytes: [`scan`] walks the event once along the trie of paths
//! that rules name ([`paths`]), skipping everything else, and yields the leaves with their array
//! positions; the walk over states then keeps array consistency (leaves used by one alternative
//! must not come from different elements of the same array).
//!
//! Removing a rule unlists it from its end states at once; the states it alone used stay until
//! the garbage outweighs the live rules, when the structure is rebuilt from the kept patterns.

mod affix;
mod index;
mod levels;
mod number;
mod numeric;
mod paths;
mod scan;
mod skip;
mod small;

use std::cell::RefCell;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::pattern::{Condition, EventValue, Leaf, Pattern, Scalar, arrays_agree};
use index::ValueIndex;
use paths::Paths;
use scan::{Flat, Slot};

/// The event bytes could not be read as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event is not a JSON object: {reason} at byte {offset}")]
pub struct MatchError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// The compiled rules of one bus.
#[derive(Debug)]
pub struct Matcher {
    paths: Paths,
    states: Vec<State>,
    /// (state, condition key) → next state: how alternatives share paths.
    edges: FxHashMap<(u32, Box<str>), u32>,
    rules: FxHashMap<u64, Rule>,
    /// How many live rules use each condition (by key): conditions shared by fewer rules go
    /// first in a path, as the more selective.
    counts: FxHashMap<Box<str>, u32>,
    /// Rules removed since the last rebuild.
    removed: usize,
    /// The rule count at the last rebuild.
    built_at: usize,
}

#[derive(Debug)]
struct Rule {
    pattern: Arc<Pattern>,
    /// The states where its alternatives end.
    ends: Vec<u32>,
}

/// A state, in one cache line. Most states have one transition (a rule's own tail) and no rules
/// ending there, so the first transition is inline and the rest behind a pointer: reaching a
/// state fetches its test in the same line. States are numbered in creation order and a rule's
/// private tail is created at once, so its states are neighbours in memory too.
#[derive(Debug, Default)]
#[repr(align(64))]
struct State {
    first: Option<Transition>,
    extra: Option<Box<Extra>>,
}

/// What few states have: more than one transition, or rules ending there.
#[derive(Debug, Default)]
struct Extra {
    more: Vec<Transition>,
    /// Rules with an alternative ending here.
    rules: Vec<u64>,
}

impl State {
    #[inline]
    fn rules(&self) -> &[u64] {
        self.extra.as_deref().map_or(&[], |e| e.rules.as_slice())
    }

    fn rules_mut(&mut self) -> &mut Vec<u64> {
        &mut self.extra.get_or_insert_with(Box::default).rules
    }

    #[inline]
    fn transitions(&self) -> impl Iterator<Item = &Transition> {
        let more = self.extra.as_deref().map_or(&[][..], |e| e.more.as_slice());
        self.first.iter().chain(more)
    }

    fn transition_mut(&mut self, field: u32) -> &mut Transition {
        let fresh = || Transition {
            field,
            needs_lower: false,
            index: ValueIndex::default(),
            exists: None,
        };
        let first = self.first.get_or_insert_with(fresh);
        if first.field == field {
            return first;
        }
        let more = &mut self.extra.get_or_insert_with(Box::default).more;
        let at = match more.iter().position(|t| t.field == field) {
            Some(at) => at,
            None => {
                more.push(fresh());
                more.len() - 1
            }
        };
        &mut more[at]
    }
}

#[derive(Debug)]
struct Transition {
    field: u32,
    /// Some test needs the lowercase form of string values.
    needs_lower: bool,
    index: ValueIndex,
    /// The targets of `exists` tests, rare enough to live behind a pointer.
    exists: Option<Box<Exists>>,
}

#[derive(Debug, Default)]
struct Exists {
    /// Next states for `exists: true` (any value).
    present: Vec<u32>,
    /// Next states for `exists: false` (no value at all).
    absent: Vec<u32>,
}

impl Transition {
    #[inline]
    fn present(&self) -> &[u32] {
        self.exists.as_deref().map_or(&[], |e| e.present.as_slice())
    }

    #[inline]
    fn absent(&self) -> &[u32] {
        self.exists.as_deref().map_or(&[], |e| e.absent.as_slice())
    }
}

impl Default for Matcher {
    fn default() -> Matcher {
        Matcher {
            paths: Paths::default(),
            states: vec![State::default()],
            edges: FxHashMap::default(),
            rules: FxHashMap::default(),
            counts: FxHashMap::default(),
            removed: 0,
            built_at: 0,
        }
    }
}

/// Where a condition goes in its path: (breadth, rules sharing it, class, field).
type Order = (u8, u32, u8, u32);

/// How many values a condition is likely to pass, coarsely: 0 for tests of one value or a
/// narrow family (exact, ignore-case, prefix, suffix, wildcard, cidr, a numeric point), 1 for
/// numeric ranges (each may be unique, yet together a thousand `< x` thresholds pass half of all
/// values), 2 for `exists` and `anything-but` (which pass most values). A condition is as broad
/// as its broadest test.
fn breadth(c: &Condition) -> u8 {
    if c.present || c.absent {
        return 2;
    }
    c.leaves
        .iter()
        .map(|l| match l {
            Leaf::AnythingBut(_) => 2,
            Leaf::Numeric(r) => match (r.lower, r.upper) {
                (Some((a, true)), Some((b, true))) if a == b => 0,
                _ => 1,
            },
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

/// Selectivity class of a condition among those of equal breadth and sharing: exact tests first.
fn class(c: &Condition) -> u8 {
    if c.leaves
        .iter()
        .all(|l| matches!(l, Leaf::Exact(_) | Leaf::EqualsIgnoreCase(_)))
    {
        0
    } else {
        1
    }
}

/// A canonical text of a condition's tests, so equal conditions share a state.
fn condition_key(field: u32, c: &Condition) -> Box<str> {
    let mut parts: Vec<String> = c
        .leaves
        .iter()
        .map(|l| match l {
            // Debug of f64 round-trips, and 0.0 is normalised at parse time.
            Leaf::Exact(Scalar::Number(x)) => format!("n{x:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    parts.sort();
    parts.dedup();
    format!(
        "{field}|{}|{}|{}",
        u8::from(c.present),
        u8::from(c.absent),
        parts.join("\u{1}")
    )
    .into()
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Per-thread buffers reused from event to event.
#[derive(Debug, Default)]
struct Scratch {
    flat: Flat,
    buf: Vec<u32>,
    chosen: Vec<u32>,
    /// Per leaf, its lowercase form as a range of `lowered` (`NOT_LOWERED` until needed).
    lower: Vec<(u32, u32)>,
    lowered: String,
    /// The storage of each event's decoded leaves, kept empty between events (see [`recycle`]).
    values: Vec<EventValue<'static>>,
}

/// An empty vector of another lifetime in the same allocation: a collect from a vector's own
/// iterator into elements of the same layout reuses its buffer, so a per-thread buffer can hold
/// the borrowed values of each event in turn without an allocation per event, in safe code.
fn recycle<'b>(mut v: Vec<EventValue<'_>>) -> Vec<EventValue<'b>> {
    v.clear();
    v.into_iter().map(|_| EventValue::Null).collect()
}

/// A leaf whose lowercase form has not been made.
const NOT_LOWERED: (u32, u32) = (u32::MAX, 0);

impl Matcher {
    /// An empty matcher.
    pub fn new() -> Matcher {
        Matcher::default()
    }

    /// Adds the rule `id`, replacing any rule with that id.
    pub fn insert(&mut self, id: u64, pattern: Arc<Pattern>) {
        self.remove(id);
        let keyed = self.keyed(&pattern);
        self.count(&keyed, true);
        let ends = self.add_paths(id, &pattern, &keyed);
        self.rules.insert(id, Rule { pattern, ends });
        // Paths were ordered with the counts known when each rule came; rebuilding as the rule
        // count doubles orders every path with the current counts, at an amortised O(1) cost.
        if self.rules.len() >= 64 && self.rules.len() >= 2 * self.built_at {
            self.rebuild();
        }
    }

    /// The field and condition key of every condition, alternative by alternative.
    fn keyed(&mut self, pattern: &Pattern) -> Vec<Vec<(u32, Box<str>)>> {
        pattern
            .alternatives()
            .iter()
            .map(|a| {
                a.conditions
                    .iter()
                    .map(|c| {
                        let field = self.paths.field(&c.path);
                        (field, condition_key(field, c))
                    })
                    .collect()
            })
            .collect()
    }

    /// Counts (or, `add` false, uncounts) each distinct condition of a rule.
    fn count(&mut self, keyed: &[Vec<(u32, Box<str>)>], add: bool) {
        let mut keys: Vec<&Box<str>> = keyed.iter().flatten().map(|(_, k)| k).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let n = self.counts.entry(key.clone()).or_default();
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
            if *n == 0 {
                self.counts.remove(key);
            }
        }
    }

    fn add_paths(
        &mut self,
        id: u64,
        pattern: &Pattern,
        keyed: &[Vec<(u32, Box<str>)>],
    ) -> Vec<u32> {
        let mut ends = Vec::new();
        for (alternative, keys) in pattern.alternatives().iter().zip(keyed) {
            let mut conditions: Vec<(Order, Box<str>, &Condition)> = alternative
                .conditions
                .iter()
                .zip(keys)
                .map(|(c, (field, key))| {
                    let count = self.counts.get(key).copied().unwrap_or(0);
                    ((breadth(c), count, class(c), *field), key.clone(), c)
                })
                .collect();
            conditions.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            let mut state = 0u32;
            for ((.., field), key, c) in conditions {
                state = match self.edges.get(&(state, key.clone())) {
                    Some(&next) => next,
                    None => {
                        let next = self.states.len() as u32;
                        self.states.push(State::default());
                        self.add_transition(state, field, c, next);
                        self.edges.insert((state, key), next);
                        next
                    }
                };
            }
            let end = self.states[state as usize].rules_mut();
            if !end.contains(&id) {
                end.push(id);
            }
            if !ends.contains(&state) {
                ends.push(state);
            }
        }
        ends
    }

    fn add_transition(&mut self, from: u32, field: u32, c: &Condition, next: u32) {
        let t = self.states[from as usize].transition_mut(field);
        for leaf in &c.leaves {
            t.index.insert(leaf, next);
            t.needs_lower |= index::leaf_needs_lower(leaf);
        }
        if c.present {
            t.exists.get_or_insert_with(Box::default).present.push(next);
        }
        if c.absent {
            t.exists.get_or_insert_with(Box::default).absent.push(next);
        }
    }

    /// Removes the rule `id`; false if it was not there.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(rule) = self.rules.remove(&id) else {
            return false;
        };
        for s in rule.ends {
            self.states[s as usize].rules_mut().retain(|r| *r != id);
        }
        let keyed = self.keyed(&rule.pattern);
        self.count(&keyed, false);
        self.removed += 1;
        if self.removed > 64 && self.removed > self.rules.len() {
            self.rebuild();
        }
        true
    }

    /// Builds the structure again from the live rules, dropping what removed rules left.
    fn rebuild(&mut self) {
        let mut rules: Vec<(u64, Arc<Pattern>)> =
            self.rules.drain().map(|(id, r)| (id, r.pattern)).collect();
        rules.sort_by_key(|(id, _)| *id);
        *self = Matcher::default();
        let keyed: Vec<_> = rules.iter().map(|(_, p)| self.keyed(p)).collect();
        for k in &keyed {
            self.count(k, true);
        }
        for ((id, pattern), keyed) in rules.into_iter().zip(keyed) {
            let ends = self.add_paths(id, &pattern, &keyed);
            self.rules.insert(id, Rule { pattern, ends });
        }
        self.built_at = self.rules.len();
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// How many states the structure has (a measure of its size).
    pub fn states(&self) -> usize {
        self.states.len()
    }

    /// The ids of the rules matching the event (its structured-JSON bytes), ascending, each once.
    pub fn matches(&self, event: &[u8]) -> Result<Vec<u64>, MatchError> {
        let mut out = Vec::new();
        self.matches_into(event, &mut out)?;
        Ok(out)
    }

    /// As [`Matcher::matches`], into a caller's buffer (cleared first).
    pub fn matches_into(&self, event: &[u8], out: &mut Vec<u64>) -> Result<(), MatchError> {
        out.clear();
        SCRATCH.with(|cell| {
            let mut guard = cell.borrow_mut();
            let sc = &mut *guard;
            scan::flatten(event, &self.paths, &mut sc.flat)?;
            sc.buf.clear();
            sc.chosen.clear();
            sc.lower.clear();
            sc.lower.resize(sc.flat.vals.len(), NOT_LOWERED);
            sc.lowered.clear();
            // Each leaf decoded once (its string sliced and checked to be UTF-8, its kind
            // settled), not once per state that tests it. Only the leaves must be text: the scan
            // compares keys as bytes and skips everything else unread.
            let mut values = recycle(std::mem::take(&mut sc.values));
            for v in &sc.flat.vals {
                values.push(match v.slot {
                    Slot::Span(a, b) => {
                        let bytes = event.get(a as usize..b as usize).unwrap_or_default();
                        EventValue::Str(text(bytes).map_err(|e| MatchError {
                            offset: a as usize + e.valid_up_to(),
                            reason: "not UTF-8",
                        })?)
                    }
                    Slot::Owned(i) => {
                        EventValue::Str(sc.flat.owned.get(i as usize).map_or("", String::as_str))
                    }
                    Slot::Num(x) => EventValue::Num(x),
                    Slot::Bool(b) => EventValue::Bool(b),
                    Slot::Null => EventValue::Null,
                });
            }
            let mut walk = Walk {
                values: &values,
                flat: &sc.flat,
                buf: &mut sc.buf,
                chosen: &mut sc.chosen,
                lower: &mut sc.lower,
                lowered: &mut sc.lowered,
                out,
            };
            self.walk(0, &mut walk);
            sc.values = recycle(values);
            Ok::<(), MatchError>(())
        })?;
        out.sort_unstable();
        out.dedup();
        Ok(())
    }

    /// Loads the first line of each state about to be walked, all at once: with many rules the
    /// states are far apart in memory, and fetched together their cache misses overlap rather
    /// than follow one another walk by walk (a prefetch, in safe code).
    #[inline]
    fn touch(&self, next: &[u32]) {
        let mut acc = 0u32;
        for &n in next {
            if let Some(Some(t)) = self.states.get(n as usize).map(|s| s.first.as_ref()) {
                acc ^= t.field;
            }
        }
        std::hint::black_box(acc);
    }

    fn walk(&self, state: u32, w: &mut Walk<'_>) {
        let st = &self.states[state as usize];
        w.out.extend_from_slice(st.rules());
        for t in st.transitions() {
            let (lo, hi) = w.flat.range(t.field);
            if lo == hi {
                for &next in t.absent() {
                    self.walk(next, w);
                }
                continue;
            }
            for vi in lo..hi {
                if !w.consistent(vi) {
                    continue;
                }
                let start = w.buf.len();
                let Some(&value) = w.values.get(vi) else {
                    continue;
                };
                // Deep in the graph most transitions hold one test and lead to one state: no
                // list of targets to build, sort and deduplicate.
                if let (Some(test), None) = (t.index.one(), &t.exists) {
                    let lower = match value {
                        EventValue::Str(s) if t.needs_lower => {
                            Some(lower_of(w.lower, w.lowered, vi, s))
                        }
                        _ => None,
                    };
                    if test.passes(value, lower) {
                        w.chosen.push(vi as u32);
                        self.walk(test.target(), w);
                        w.chosen.pop();
                    }
                    continue;
                }
                match value {
                    EventValue::Str(s) if t.needs_lower => {
                        let lower = lower_of(w.lower, w.lowered, vi, s);
                        t.index.collect(value, Some(lower), w.buf);
                    }
                    _ => t.index.collect(value, None, w.buf),
                }
                w.buf.extend_from_slice(t.present());
                let end = w.buf.len();
                if end == start {
                    continue;
                }
                if end - start > 1 {
                    w.buf[start..end].sort_unstable();
                }
                let mut kept = start + 1;
                for i in start + 1..end {
                    if w.buf[i] != w.buf[kept - 1] {
                        w.buf[kept] = w.buf[i];
                        kept += 1;
                    }
                }
                w.buf.truncate(kept);
                if kept - start > 1 {
                    self.touch(&w.buf[start..kept]);
                }
                w.chosen.push(vi as u32);
                for i in start..kept {
                    let next = w.buf[i];
                    self.walk(next, w);
                }
                w.chosen.pop();
                w.buf.truncate(start);
            }
        }
    }
}

/// The state of one match.
struct Walk<'a> {
    /// The event's leaves, decoded, in the order of `flat.vals`.
    values: &'a [EventValue<'a>],
    flat: &'a Flat,
    buf: &'a mut Vec<u32>,
    chosen: &'a mut Vec<u32>,
    lower: &'a mut Vec<(u32, u32)>,
    lowered: &'a mut String,
    out: &'a mut Vec<u64>,
}

impl Walk<'_> {
    /// Whether leaf `vi` may join the leaves chosen so far (array consistency).
    #[inline]
    fn consistent(&self, vi: usize) -> bool {
        let a = self.flat.arrays_of(&self.flat.vals[vi]);
        if a.is_empty() {
            return true;
        }
        self.chosen
            .iter()
            .all(|&c| arrays_agree(a, self.flat.arrays_of(&self.flat.vals[c as usize])))
    }
}

/// The bytes of a leaf as text. Nearly every leaf of an event is short ASCII, which an inlined
/// word-at-a-time check settles in a few instructions, where `str::from_utf8` costs a call and
/// its setup for each of a dozen leaves per event.
#[inline]
fn text(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes)
    }
}

/// The lowercase form of leaf `vi` (whose string is `s`), made once per event into `lowered`.
#[inline]
fn lower_of<'s>(lower: &mut [(u32, u32)], lowered: &'s mut String, vi: usize, s: &str) -> &'s str {
    let Some(span) = lower.get_mut(vi) else {
        return "";
    };
    if *span == NOT_LOWERED {
        let a = lowered.len();
        if s.is_ascii() {
            // Copied whole and lowered in place: no per-character encoding.
            lowered.push_str(s);
            if let Some(copy) = lowered.get_mut(a..) {
                copy.make_ascii_lowercase();
            }
        } else {
            lowered.push_str(&s.to_lowercase());
        }
        *span = (a as u32, lowered.len() as u32);
    }
    lowered
        .get(span.0 as usize..span.1 as usize)
        .unwrap_or_default()
}
#[cfg(test)]
mod layout {
    /// A state is one cache line: the walk fetches one line per state it reaches.
    #[test]
    fn a_state_is_one_cache_line() {
        assert_eq!(size_of::<super::State>(), 64);
        assert_eq!(align_of::<super::State>(), 64);
    }
}
