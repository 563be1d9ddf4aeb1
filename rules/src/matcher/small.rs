//! Cache-conscious containers for the value indexes. At the start state an event value probes
//! indexes holding thousands of keys, and each probe that hits used to cost a cache miss per
//! pointer followed (key, then target list). Here a hit fetches the table slot, which holds the
//! key's full hash, its bytes (when short) and its first target inline: one cache line.

use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;

/// The targets of one key: almost always one, held inline.
#[derive(Debug, Clone)]
pub(crate) enum Targets {
    One(u32),
    Many(Box<[u32]>),
}

impl Targets {
    pub(crate) fn push(&mut self, t: u32) {
        match self {
            Targets::One(first) => *self = Targets::Many(Box::new([*first, t])),
            Targets::Many(v) => {
                let mut list = std::mem::take(v).into_vec();
                list.push(t);
                *v = list.into_boxed_slice();
            }
        }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u32] {
        match self {
            Targets::One(t) => std::slice::from_ref(t),
            Targets::Many(v) => v,
        }
    }
}

/// How many key bytes are held inline.
const INLINE: usize = 30;

/// The bytes of a key: inline when short (most names and prefixes are), so confirming a hit does
/// not follow a pointer.
#[derive(Debug, Clone)]
pub(crate) enum Key {
    Inline(u8, [u8; INLINE]),
    Heap(Box<[u8]>),
}

impl Key {
    pub(crate) fn new(b: &[u8]) -> Key {
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            Key::Inline(b.len() as u8, buf)
        } else {
            Key::Heap(b.into())
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline(n, buf) => &buf[..usize::from(*n).min(INLINE)],
            Key::Heap(b) => b,
        }
    }
}

impl Key {
    /// Whether the key's bytes are `other`: for inline keys, compared eight bytes at a time in
    /// place (a hit's confirmation is on every probe's path, and short keys do not pay for a call
    /// to `memcmp`).
    #[inline]
    pub(crate) fn is(&self, other: &[u8]) -> bool {
        match self {
            Key::Inline(n, buf) => {
                let n = usize::from(*n);
                if other.len() != n {
                    return false;
                }
                if n < 8 {
                    return buf.get(..n) == Some(other);
                }
                // Whole words, then the last eight bytes (overlapping the previous word).
                let mut i = 0;
                while i + 8 <= n {
                    if word(buf, i) != word(other, i) {
                        return false;
                    }
                    i += 8;
                }
                word(buf, n - 8) == word(other, n - 8)
            }
            Key::Heap(b) => **b == *other,
        }
    }
}

/// The eight bytes at `i` (zero if out of bounds, which callers rule out).
#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    b.get(i..i + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_le_bytes)
}

/// Exact strings to their targets.
#[derive(Debug, Default)]
pub(crate) struct StrMap {
    table: HashTable<(u64, Key, Targets)>,
}

#[inline]
fn hash(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.write_usize(s.len());
    // Spread into the top bits, which the table's tags use.
    let x = h.finish();
    x ^ (x >> 29).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

impl StrMap {
    pub(crate) fn insert(&mut self, key: &str, t: u32) {
        let h = hash(key);
        let k = key.as_bytes();
        match self.table.find_mut(h, |e| e.0 == h && e.1.as_bytes() == k) {
            Some(e) => e.2.push(t),
            None => {
                self.table
                    .insert_unique(h, (h, Key::new(k), Targets::One(t)), |e| e.0);
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: &str) -> &[u32] {
        if self.table.is_empty() {
            return &[];
        }
        let h = hash(key);
        let k = key.as_bytes();
        self.table
            .find(h, |e| e.0 == h && e.1.is(k))
            .map_or(&[], |e| e.2.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::Key;

    #[test]
    fn keys_compare_equal_only_to_their_bytes() {
        let texts: Vec<String> = (0..40)
            .map(|n| "abcdefghij".repeat(4)[..n].to_string())
            .collect();
        for a in &texts {
            let key = Key::new(a.as_bytes());
            for b in &texts {
                assert_eq!(key.is(b.as_bytes()), a == b, "{a:?} {b:?}");
                let mut changed = b.clone().into_bytes();
                if let Some(last) = changed.last_mut() {
                    *last = b'#';
                    assert!(!key.is(&changed), "{a:?} {changed:?}");
                }
            }
        }
    }
}
