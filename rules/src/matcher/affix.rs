//! Prefixes (or suffixes) of many rules, probed with one pass over a value.
//!
//! Keys live in one hash table under a polynomial hash of their bytes. A query walks the value
//! once, extending the hash byte by byte, and probes the table only at the key lengths in use, so
//! the cost is the value's length plus one probe per length: no rehashing of each prefix.
//! Suffixes use the same table over reversed byte order.

use hashbrown::HashTable;

use super::small::{Key, Targets};

#[derive(Debug)]
struct Entry {
    hash: u64,
    key: Key,
    targets: Targets,
}

#[derive(Debug)]
pub(crate) struct Affixes {
    table: HashTable<Entry>,
    /// One bit per key, at a place its hash picks (a Bloom filter with one hash function, eight
    /// to sixteen bits per key): a value probes every key length in use, and most of those
    /// probes miss; a clear bit settles a miss in a few instructions, without the table's probe.
    filter: Vec<u64>,
    /// Key lengths in use, ascending.
    lens: Vec<usize>,
    /// Suffixes rather than prefixes.
    reversed: bool,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(K)
}

/// Spreads the state into the bits the table uses (its top bits among them).
#[inline]
fn finish(h: u64, len: usize) -> u64 {
    let mut x = h ^ (len as u64).wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl Affixes {
    pub(crate) fn new(reversed: bool) -> Self {
        Affixes {
            table: HashTable::new(),
            filter: Vec::new(),
            lens: Vec::new(),
            reversed,
        }
    }

    fn hash_of(&self, key: &[u8]) -> u64 {
        let h = if self.reversed {
            key.iter().rev().fold(0, |h, b| step(h, *b))
        } else {
            key.iter().fold(0, |h, b| step(h, *b))
        };
        finish(h, key.len())
    }

    pub(crate) fn insert(&mut self, key: &[u8], p: u32) {
        if let Err(at) = self.lens.binary_search(&key.len()) {
            self.lens.insert(at, key.len());
        }
        let hash = self.hash_of(key);
        match self.table.find_mut(hash, |e| e.key.as_bytes() == key) {
            Some(e) => e.targets.push(p),
            None => {
                self.table.insert_unique(
                    hash,
                    Entry {
                        hash,
                        key: Key::new(key),
                        targets: Targets::One(p),
                    },
                    |e| e.hash,
                );
                // Rebuilt from the stored hashes, at sixteen bits per key, when it falls to eight.
                let want = (self.table.len() * 8).div_ceil(64).next_power_of_two();
                if want > self.filter.len() {
                    self.filter = vec![0; want * 2];
                    for e in &self.table {
                        set_bit(&mut self.filter, e.hash);
                    }
                } else {
                    set_bit(&mut self.filter, hash);
                }
            }
        }
    }

    /// Whether a key of this hash may be in the table (false: surely not).
    #[inline(always)]
    fn may_hold(&self, hash: u64) -> bool {
        let bit = filter_bit(hash, self.filter.len());
        self.filter
            .get(bit >> 6)
            .is_some_and(|w| w >> (bit & 63) & 1 == 1)
    }

    /// Calls `f` with the payload of every key that is a prefix (suffix) of `s`.
    #[inline]
    pub(crate) fn each_in(&self, s: &[u8], mut f: impl FnMut(u32)) {
        let Some(&first) = self.lens.first() else {
            return;
        };
        let mut h = 0u64;
        let mut next = 0usize; // index into lens
        if first == 0 {
            self.probe(0, 0, s, &mut f);
            next = 1;
        }
        let n = s.len();
        for i in 0..n {
            let Some(&want) = self.lens.get(next) else {
                return;
            };
            let b = if self.reversed { s[n - 1 - i] } else { s[i] };
            h = step(h, b);
            if i + 1 == want {
                self.probe(h, want, s, &mut f);
                next += 1;
            }
        }
    }

    #[inline]
    fn probe(&self, h: u64, len: usize, s: &[u8], f: &mut impl FnMut(u32)) {
        let hash = finish(h, len);
        if !self.may_hold(hash) {
            return;
        }
        let key = if self.reversed {
            &s[s.len() - len..]
        } else {
            &s[..len]
        };
        if let Some(e) = self.table.find(hash, |e| e.hash == hash && e.key.is(key)) {
            e.targets.as_slice().iter().for_each(|p| f(*p));
        }
    }
}

/// The filter bit of a hash, for a filter of `words` words (a power of two, or zero): taken from
/// bits the table's own bucket index and tag do not use first.
#[inline(always)]
fn filter_bit(hash: u64, words: usize) -> usize {
    (hash >> 24) as usize & (words * 64).wrapping_sub(1)
}

fn set_bit(filter: &mut [u64], hash: u64) {
    let bit = filter_bit(hash, filter.len());
    if let Some(w) = filter.get_mut(bit >> 6) {
        *w |= 1 << (bit & 63);
    }
}

#[cfg(test)]
mod tests {
    use super::Affixes;

    #[test]
    fn prefixes_and_suffixes() {
        let mut p = Affixes::new(false);
        let mut s = Affixes::new(true);
        for (i, k) in ["", "a", "ab", "abc", "b", "xyz"].iter().enumerate() {
            p.insert(k.as_bytes(), i as u32);
            s.insert(k.as_bytes(), i as u32);
        }
        let mut got = Vec::new();
        p.each_in(b"abcd", |i| got.push(i));
        assert_eq!(got, vec![0, 1, 2, 3]);
        got.clear();
        s.each_in(b"zab", |i| got.push(i));
        assert_eq!(got, vec![0, 4, 2]);
        got.clear();
        s.each_in(b"", |i| got.push(i));
        assert_eq!(got, vec![0]);
    }

    /// Many keys of many lengths: each value finds exactly its own key.
    #[test]
    fn many_keys_each_found_once() {
        let mut p = Affixes::new(false);
        let keys: Vec<String> = (0..3000).map(|i| format!("k{i}-")).collect();
        for (i, k) in keys.iter().enumerate() {
            p.insert(k.as_bytes(), i as u32);
        }
        for (i, k) in keys.iter().enumerate() {
            let mut got = Vec::new();
            p.each_in(format!("{k}tail").as_bytes(), |t| got.push(t));
            assert_eq!(got, vec![i as u32], "{k}");
        }
    }
}

/// Wildcards anchored at both ends (`ab*…*yz`), keyed by the pair (first piece, last piece): a
/// value probes once per pair of lengths in use, so a common first piece (`com.example.*`) does
/// not make every such wildcard a candidate.
#[derive(Debug, Default)]
pub(crate) struct Ends {
    table: HashTable<EndsEntry>,
    /// (first length, last length) pairs in use.
    lens: Vec<(usize, usize)>,
}

/// (hash, first piece, last piece, wildcard numbers)
type EndsEntry = (u64, Box<[u8]>, Box<[u8]>, Vec<u32>);

fn ends_hash(first: &[u8], last: &[u8]) -> u64 {
    let h = first.iter().fold(0, |h, b| step(h, *b));
    let h = last.iter().rev().fold(step(h, 0xff), |h, b| step(h, *b));
    finish(h, first.len() << 16 | last.len())
}

impl Ends {
    pub(crate) fn insert(&mut self, first: &[u8], last: &[u8], p: u32) {
        if !self.lens.contains(&(first.len(), last.len())) {
            self.lens.push((first.len(), last.len()));
        }
        let hash = ends_hash(first, last);
        match self
            .table
            .find_mut(hash, |e| *e.1 == *first && *e.2 == *last)
        {
            Some(e) => e.3.push(p),
            None => {
                self.table
                    .insert_unique(hash, (hash, first.into(), last.into(), vec![p]), |e| e.0);
            }
        }
    }

    /// Calls `f` with every wildcard whose first piece starts `s` and last piece ends it
    /// (not overlapping).
    #[inline]
    pub(crate) fn each_in(&self, s: &[u8], mut f: impl FnMut(u32)) {
        for &(a, b) in &self.lens {
            if a + b > s.len() {
                continue;
            }
            let (first, last) = (&s[..a], &s[s.len() - b..]);
            let hash = ends_hash(first, last);
            if let Some(e) = self
                .table
                .find(hash, |e| e.0 == hash && *e.1 == *first && *e.2 == *last)
            {
                e.3.iter().for_each(|p| f(*p));
            }
        }
    }
}
