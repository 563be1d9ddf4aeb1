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
            .find(h, |e| e.0 == h && e.1.as_bytes() == k)
            .map_or(&[], |e| e.2.as_slice())
    }
}
