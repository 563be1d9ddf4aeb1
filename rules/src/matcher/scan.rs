//! Reads an event's JSON bytes once, keeping only the leaves at paths some rule names.
//!
//! Everything else is skipped without being parsed: strings are crossed sixteen bytes at a time,
//! and a skipped container 64 bytes at a time ([`skip`]). Once every path some rule names has had
//! its value, the scan stops: the rest of the event is not read at all (the idea of simdjson's
//! On-Demand API). The scanner trusts that its input is JSON (the bus validated it at ingest); on
//! malformed input it returns an error or, inside a skipped or unread region, may not notice, but
//! it never panics and never reads out of bounds.

use super::MatchError;
use super::number;
use super::paths::Paths;
use super::skip;
use wide::u8x16;

/// Deepest nesting followed inside fields that rules name.
const MAX_DEPTH: usize = 256;

/// Where a leaf's value is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot {
    /// A string without escapes: a byte range of the input.
    Span(u32, u32),
    /// A string that had escapes, decoded into `Flat::owned`.
    Owned(u32),
    Num(f64),
    Bool(bool),
    Null,
}

/// One leaf of the event at a path some rule names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Val {
    pub(crate) field: u32,
    pub(crate) slot: Slot,
    /// Its enclosing arrays: a range of `Flat::arrays`.
    pub(crate) arr_start: u32,
    pub(crate) arr_len: u32,
}

/// The leaves of one event, reused from event to event.
#[derive(Debug, Default)]
pub(crate) struct Flat {
    pub(crate) vals: Vec<Val>,
    /// (array instance, element index) pairs, shared by all leaves.
    pub(crate) arrays: Vec<(u32, u32)>,
    pub(crate) owned: Vec<String>,
    /// Per field id, the range of `vals` holding its leaves.
    pub(crate) ranges: Vec<(u32, u32)>,
    /// Scratch for sorting `vals`.
    sorted: Vec<Val>,
    stack: Vec<(u32, u32)>,
    /// The containers the scan is inside of.
    frames: Vec<Frame>,
    next_array: u32,
}

impl Flat {
    pub(crate) fn clear(&mut self) {
        self.vals.clear();
        self.arrays.clear();
        self.owned.clear();
        self.stack.clear();
        self.next_array = 0;
    }

    /// The range of `vals` holding the leaves of `field`.
    #[inline]
    pub(crate) fn range(&self, field: u32) -> (usize, usize) {
        let (a, b) = self.ranges.get(field as usize).copied().unwrap_or((0, 0));
        (a as usize, b as usize)
    }

    /// The enclosing arrays of a leaf.
    #[inline]
    pub(crate) fn arrays_of(&self, v: &Val) -> &[(u32, u32)] {
        let a = v.arr_start as usize;
        self.arrays.get(a..a + v.arr_len as usize).unwrap_or(&[])
    }
}

/// A container the scan is inside of, named by some rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    /// Its trie node.
    node: u32,
    array: bool,
    /// Completing it completes the scan (see [`Scan::value`]).
    last: bool,
    /// For objects: one bit per named key below it, and those seen so far.
    all: u64,
    seen: u64,
}

/// Fills `flat` from `input` (a JSON object), following `paths`, and returns how many bytes of
/// the input it read: it stops as soon as every path some rule names has had its value (see
/// [`Scan::value`]), so the rest of the event is not even looked at.
pub(crate) fn flatten(input: &[u8], paths: &Paths, flat: &mut Flat) -> Result<usize, MatchError> {
    flat.clear();
    let mut frames = std::mem::take(&mut flat.frames);
    frames.clear();
    let mut s = Scan {
        b: input,
        i: 0,
        paths,
        flat,
    };
    s.ws();
    if s.peek() != Some(b'{') {
        s.flat.frames = frames;
        return Err(s.err("expected a JSON object"));
    }
    let done = s.run(&mut frames);
    s.flat.frames = frames;
    if !done? {
        s.ws();
        if s.i != s.b.len() {
            return Err(s.err("unexpected bytes after the event"));
        }
    }
    let read = s.i;
    // A counting sort by field (stable: leaves of one field stay in document order), which also
    // gives each field's range.
    let flat = s.flat;
    flat.ranges.clear();
    flat.ranges.resize(paths.fields.len(), (0, 0));
    if flat.vals.len() > 1 {
        for v in &flat.vals {
            if let Some(r) = flat.ranges.get_mut(v.field as usize) {
                r.1 += 1;
            }
        }
        let mut at = 0u32;
        for r in &mut flat.ranges {
            let n = r.1;
            *r = (at, at);
            at += n;
        }
        flat.sorted.clear();
        flat.sorted.extend_from_slice(&flat.vals);
        for v in &flat.sorted {
            if let Some(r) = flat.ranges.get_mut(v.field as usize) {
                if let Some(slot) = flat.vals.get_mut(r.1 as usize) {
                    *slot = *v;
                }
                r.1 += 1;
            }
        }
    } else if let Some(v) = flat.vals.first() {
        if let Some(r) = flat.ranges.get_mut(v.field as usize) {
            *r = (0, 1);
        }
    }
    Ok(read)
}

struct Scan<'a, 'f> {
    b: &'a [u8],
    i: usize,
    paths: &'a Paths,
    flat: &'f mut Flat,
}

/// What reading a value did.
enum Step {
    /// Read it whole.
    Read,
    /// Entered a container named by some rule: its frame is on the stack.
    Entered,
}

impl Scan<'_, '_> {
    #[cold]
    fn err(&self, reason: &'static str) -> MatchError {
        MatchError {
            offset: self.i,
            reason,
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        self.next();
    }

    /// The next byte that is not whitespace, the input moved to it. Compact JSON has no
    /// whitespace: one compare settles the common case.
    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        match self.b.get(self.i) {
            Some(&c) if c > b' ' => Some(c),
            _ => self.next_slow(),
        }
    }

    #[inline(never)]
    fn next_slow(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    /// At an opening quote: the content's byte range and whether it has escapes; moves past the
    /// closing quote.
    #[inline(always)]
    fn string(&mut self) -> Result<(usize, usize, bool), MatchError> {
        let b = self.b;
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            if let Some(m) = stops16(b, j) {
                if m == 0 {
                    j += 16;
                    continue;
                }
                j += m.trailing_zeros() as usize;
            } else {
                match word(b, j) {
                    Some(x) => {
                        let m = has(x, b'"') | has(x, b'\\');
                        if m == 0 {
                            j += 8;
                            continue;
                        }
                        j += (m.trailing_zeros() / 8) as usize;
                    }
                    None => {
                        while j < b.len() && b[j] != b'"' && b[j] != b'\\' {
                            j += 1;
                        }
                        if j >= b.len() {
                            self.i = j;
                            return Err(self.err("unterminated string"));
                        }
                    }
                }
            }
            if b.get(j) == Some(&b'"') {
                self.i = j + 1;
                return Ok((start, j, escaped));
            }
            escaped = true;
            j += 2;
        }
    }

    /// Skips one value of any kind.
    #[inline]
    fn skip(&mut self) -> Result<(), MatchError> {
        match self.next() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{' | b'[') => match skip::container_end(self.b, self.i) {
                Some(end) => {
                    self.i = end;
                    Ok(())
                }
                None => Err(self.err("unterminated object or array")),
            },
            Some(_) => self.scalar_end().map(|_| ()),
            None => Err(self.err("expected a value")),
        }
    }

    /// Moves past a number or literal; returns its start.
    #[inline]
    fn scalar_end(&mut self) -> Result<usize, MatchError> {
        let start = self.i;
        while self.b.get(self.i).is_some_and(|&c| SCALAR[usize::from(c)]) {
            self.i += 1;
        }
        if self.i == start {
            Err(self.err("expected a value"))
        } else {
            Ok(start)
        }
    }

    /// Reads the root object (the input is at its `{`); true when the scan is complete and the
    /// rest of the input need not be read.
    ///
    /// A loop over an explicit stack of the containers entered (no recursion): each turn reads
    /// one entry of the innermost container (a key and its value, or an element), then its
    /// separator or closing bracket.
    fn run(&mut self, frames: &mut Vec<Frame>) -> Result<bool, MatchError> {
        let paths = self.paths;
        if let Step::Read = self.value(0, true, frames)? {
            return Ok(false);
        }
        loop {
            let Some(top) = frames.last_mut() else {
                return Ok(false);
            };
            if top.array {
                // Another element may follow: an element never completes the scan.
                if let Step::Entered = self.value(top.node, false, frames)? {
                    continue;
                }
            } else {
                if self.next() != Some(b'"') {
                    return Err(self.err("expected a key"));
                }
                let (ks, ke, escaped) = self.string()?;
                let n = &paths.nodes[top.node as usize];
                let child = if escaped {
                    let key = unescape(&self.b[ks..ke]).ok_or_else(|| self.err("bad escape"))?;
                    n.child(key.as_bytes())
                } else {
                    n.child_in(self.b, ks, ke)
                };
                if self.next() != Some(b':') {
                    return Err(self.err("expected ':'"));
                }
                self.i += 1;
                match child {
                    Some(c) => {
                        let bit = paths.nodes[c as usize].bit();
                        let closes = top.last && top.all != 0 && (top.seen | bit) == top.all;
                        top.seen |= bit;
                        match self.value(c, closes, frames)? {
                            Step::Entered => continue,
                            Step::Read if closes => return Ok(true),
                            Step::Read => {}
                        }
                    }
                    None => self.skip()?,
                }
            }
            // After an entry: a comma, or the container's end (which may end its parent's entry
            // in turn).
            loop {
                let c = self.next();
                let Some(top) = frames.last() else {
                    return Ok(false);
                };
                let array = top.array;
                match (c, array) {
                    (Some(b','), _) => {
                        self.i += 1;
                        if array {
                            if let Some(t) = self.flat.stack.last_mut() {
                                t.1 += 1;
                            }
                        }
                        break;
                    }
                    (Some(b'}'), false) | (Some(b']'), true) => {
                        self.i += 1;
                        let last = top.last;
                        frames.pop();
                        if array {
                            self.flat.stack.pop();
                        }
                        if frames.is_empty() {
                            return Ok(false);
                        }
                        if last {
                            return Ok(true);
                        }
                    }
                    (_, false) => return Err(self.err("expected ',' or '}'")),
                    (_, true) => return Err(self.err("expected ',' or ']'")),
                }
            }
        }
    }

    /// Reads a value at trie node `node`: a leaf is recorded, a container no rule looks into is
    /// skipped, and any other container is entered (its frame pushed, its entries left to
    /// [`Scan::run`]).
    ///
    /// `last` says that completing this value completes the whole scan: every enclosing object
    /// has had all its other named keys already, and no enclosing array may have further
    /// elements. An object is complete once each key that some rule names below it has had its
    /// value: JSON object keys are unique (RFC 8259 says they SHOULD be, the CloudEvents format
    /// requires it of attributes), so nothing after that can add a leaf. This is what lets
    /// matching cost follow the fields rules name even when they come early in a large event.
    #[inline(always)]
    fn value(
        &mut self,
        node: u32,
        last: bool,
        frames: &mut Vec<Frame>,
    ) -> Result<Step, MatchError> {
        let n = &self.paths.nodes[node as usize];
        match self.next() {
            Some(b'"') => {
                let (a, b, escaped) = self.string()?;
                if let Some(field) = n.field {
                    let slot = if escaped {
                        let s = unescape(&self.b[a..b]).ok_or_else(|| self.err("bad escape"))?;
                        self.flat.owned.push(s);
                        Slot::Owned(self.flat.owned.len() as u32 - 1)
                    } else {
                        Slot::Span(a as u32, b as u32)
                    };
                    self.emit(field, slot);
                }
                Ok(Step::Read)
            }
            Some(b'{') if !n.has_children() => self.skip().map(|()| Step::Read),
            Some(open @ (b'{' | b'[')) => {
                self.i += 1;
                let array = open == b'[';
                let id = if array {
                    let id = self.flat.next_array;
                    self.flat.next_array += 1;
                    id
                } else {
                    0
                };
                if self.next() == Some(if array { b']' } else { b'}' }) {
                    self.i += 1;
                    return Ok(Step::Read);
                }
                if frames.len() >= MAX_DEPTH {
                    return Err(self.err("nested too deep"));
                }
                if array {
                    self.flat.stack.push((id, 0));
                }
                frames.push(Frame {
                    node,
                    array,
                    last,
                    all: if array { 0 } else { n.all_children() },
                    seen: 0,
                });
                Ok(Step::Entered)
            }
            Some(_) => {
                let start = self.scalar_end()?;
                if let Some(field) = n.field {
                    let text = &self.b[start..self.i];
                    let slot = match text {
                        b"true" => Slot::Bool(true),
                        b"false" => Slot::Bool(false),
                        b"null" => Slot::Null,
                        [b'-' | b'0'..=b'9', ..] => {
                            let x = number::parse(text).ok_or_else(|| self.err("bad number"))?;
                            Slot::Num(if x == 0.0 { 0.0 } else { x })
                        }
                        _ => return Err(self.err("bad literal")),
                    };
                    self.emit(field, slot);
                } else if !matches!(
                    self.b.get(start),
                    Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
                ) {
                    return Err(self.err("bad literal"));
                }
                Ok(Step::Read)
            }
            None => Err(self.err("expected a value")),
        }
    }

    #[inline]
    fn emit(&mut self, field: u32, slot: Slot) {
        let f = &mut *self.flat;
        let arr_start = f.arrays.len() as u32;
        if !f.stack.is_empty() {
            f.arrays.extend_from_slice(&f.stack);
        }
        f.vals.push(Val {
            field,
            slot,
            arr_start,
            arr_len: f.stack.len() as u32,
        });
    }
}

/// The bytes a number or literal may hold: `0-9 - + . e E a-z`.
static SCALAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z');
        c += 1;
    }
    t
};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `i`, if there are eight.
#[inline]
fn word(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map(u64::from_le_bytes)
}

/// Bit `k` set where `b[i + k]` is a quote or a backslash, for the sixteen bytes at `i` (one
/// SSE2 compare each and a move-mask), if there are sixteen: twice the stride of [`word`] at
/// fewer instructions, and most string values of an event are longer than eight bytes.
#[inline]
fn stops16(b: &[u8], i: usize) -> Option<u32> {
    let chunk = b.get(i..i + 16)?;
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(chunk);
    let v = u8x16::new(bytes);
    let m = v.cmp_eq(u8x16::splat(b'"')) | v.cmp_eq(u8x16::splat(b'\\'));
    Some(m.move_mask() as u32 & 0xffff)
}

/// A mask with the high bit set in bytes of `x` equal to `c`. Bytes above the lowest match may be
/// flagged falsely (borrows), so only the lowest flagged byte is to be trusted.
#[inline]
fn has(x: u64, c: u8) -> u64 {
    let v = x ^ (LO * u64::from(c));
    v.wrapping_sub(LO) & !v & HI
}

/// Decodes the escapes of a JSON string's content; `None` if one is invalid.
fn unescape(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let text = std::str::from_utf8(raw).ok()?;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hi = hex4(&mut chars)?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let lo = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}
