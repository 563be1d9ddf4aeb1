//! The records of one append request, encoded back to back in one buffer.
//!
//! One allocation for all bodies (plus one for their boundaries) instead of one per event: on the
//! ingest hot path allocator traffic was the largest single cost. The writer hands the batch back
//! with its answer so the buffer is freed on the thread that allocated it.

/// Encoded record bodies of one atomic append.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    /// An empty batch with room for `records` bodies of `bytes` in total.
    pub fn with_capacity(records: usize, bytes: usize) -> Batch {
        Batch {
            buf: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(records),
        }
    }

    /// Adds one body.
    pub fn push(&mut self, body: &[u8]) {
        self.buf.extend_from_slice(body);
        self.ends.push(self.buf.len());
    }

    /// Adds one body written by `encode` straight into the buffer.
    pub fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        encode(&mut self.buf);
        self.ends.push(self.buf.len());
    }

    /// Number of bodies.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are no bodies.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Total bytes of the bodies.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The bodies, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.buf[a..b])
    }
}

impl From<Vec<Vec<u8>>> for Batch {
    fn from(bodies: Vec<Vec<u8>>) -> Batch {
        let mut b = Batch::with_capacity(bodies.len(), bodies.iter().map(Vec::len).sum());
        for body in &bodies {
            b.push(body);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_their_boundaries() {
        let mut b = Batch::default();
        b.push(b"ab");
        b.push_with(|out| out.extend_from_slice(b""));
        b.push(b"cde");
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![&b"ab"[..], b"", b"cde"]);
        assert_eq!((b.len(), b.bytes()), (3, 5));
        assert_eq!(
            Batch::from(vec![b"x".to_vec(), b"yz".to_vec()])
                .iter()
                .collect::<Vec<_>>(),
            vec![&b"x"[..], b"yz"]
        );
    }
}
