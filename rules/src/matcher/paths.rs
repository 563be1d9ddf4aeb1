//! The field paths named by some rule, as a trie of keys. The event scanner walks it alongside the
//! JSON: a key with no child here is skipped without being parsed, which is what makes matching
//! cost follow the fields rules care about rather than the size of the event.

use rustc_hash::FxHashMap;

/// Small fan-outs are scanned; large ones hashed.
const SCAN_MAX: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct PathNode {
    /// (first bytes of the key as a number, key, child): the number rejects most keys at once.
    keys: Vec<(u64, Box<[u8]>, u32)>,
    map: Option<FxHashMap<Box<[u8]>, u32>>,
    /// Bit `min(len, 63)` set for each key length: most keys of an event are named by no rule,
    /// and most of those have a length no named key has, rejected here at once.
    lens: u64,
    /// The field id when rules test values at exactly this path.
    pub(crate) field: Option<u32>,
    /// This node's place among its parent's keys.
    slot: u32,
}

impl PathNode {
    #[inline]
    pub(crate) fn child(&self, key: &[u8]) -> Option<u32> {
        self.child_with_head(key, head(key))
    }

    /// As [`PathNode::child`], for a key at `input[start..end]`: its head is read straight
    /// from the input, eight bytes at once, when the input extends that far.
    #[inline]
    pub(crate) fn child_in(&self, input: &[u8], start: usize, end: usize) -> Option<u32> {
        if self.lens & len_bit(end.saturating_sub(start)) == 0 {
            return None;
        }
        let key = input.get(start..end)?;
        let head = match input.get(start..start + 8) {
            Some(w) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(w);
                let n = key.len().min(8);
                let mask = if n == 8 { !0 } else { (1u64 << (8 * n)) - 1 };
                u64::from_le_bytes(word) & mask
            }
            None => head(key),
        };
        self.child_with_head(key, head)
    }

    #[inline]
    fn child_with_head(&self, key: &[u8], head: u64) -> Option<u32> {
        if self.lens & len_bit(key.len()) == 0 {
            return None;
        }
        if let Some(map) = &self.map {
            return map.get(key).copied();
        }
        self.keys
            .iter()
            .find(|(h, k, _)| *h == head && k.len() == key.len() && (key.len() <= 8 || **k == *key))
            .map(|(_, _, n)| *n)
    }

    pub(crate) fn has_children(&self) -> bool {
        !self.keys.is_empty()
    }

    /// One bit per key below this node (by [`PathNode::bit`]); 0 when there are too many keys
    /// to track, so the scan of such an object never completes early.
    #[inline]
    pub(crate) fn all_children(&self) -> u64 {
        match self.keys.len() {
            n @ 0..64 => (1u64 << n) - 1,
            _ => 0,
        }
    }

    /// This node's bit in its parent's [`PathNode::all_children`].
    #[inline]
    pub(crate) fn bit(&self) -> u64 {
        1u64.checked_shl(self.slot).unwrap_or(0)
    }
}

/// The trie, node 0 the event's root.
#[derive(Debug)]
pub(crate) struct Paths {
    pub(crate) nodes: Vec<PathNode>,
    /// Per field id, its path (for debugging and rebuilds).
    pub(crate) fields: Vec<Vec<String>>,
}

impl Default for Paths {
    fn default() -> Paths {
        Paths {
            nodes: vec![PathNode::default()],
            fields: Vec::new(),
        }
    }
}

impl Paths {
    /// The id of the field at `path`, created on first use.
    pub(crate) fn field(&mut self, path: &[String]) -> u32 {
        let mut node = 0usize;
        for key in path {
            node = match self.nodes[node].child(key.as_bytes()) {
                Some(n) => n as usize,
                None => {
                    let n = self.nodes.len() as u32;
                    let slot = self.nodes[node].keys.len() as u32;
                    self.nodes.push(PathNode {
                        slot,
                        ..PathNode::default()
                    });
                    let parent = &mut self.nodes[node];
                    let k: Box<[u8]> = key.as_bytes().into();
                    parent.keys.push((head(&k), k.clone(), n));
                    parent.lens |= len_bit(k.len());
                    if let Some(map) = &mut parent.map {
                        map.insert(k, n);
                    } else if parent.keys.len() > SCAN_MAX {
                        parent.map = Some(
                            parent
                                .keys
                                .iter()
                                .map(|(_, k, n)| (k.clone(), *n))
                                .collect(),
                        );
                    }
                    n as usize
                }
            };
        }
        match self.nodes[node].field {
            Some(f) => f,
            None => {
                let f = self.fields.len() as u32;
                self.fields.push(path.to_vec());
                self.nodes[node].field = Some(f);
                f
            }
        }
    }
}

/// A key length's bit in [`PathNode::lens`].
#[inline]
fn len_bit(len: usize) -> u64 {
    1u64 << len.min(63)
}

/// The first (up to) eight bytes of a key as a number.
#[inline]
fn head(key: &[u8]) -> u64 {
    key.iter()
        .take(8)
        .enumerate()
        .fold(0, |h, (i, b)| h | u64::from(*b) << (8 * i))
}
