//! The records of one append request, encoded back to back in one buffer.
//!
//! One allocation for all bodies (plus one for their boundaries) instead of one per event: on the
//! ingest hot path allocator traffic was the largest single cost. The writer hands the batch back
//! with its answer, and the buffer goes back to a small per-thread pool: buffers of a kilobyte and
//! more miss glibc's thread cache, so reusing them saves the allocator's slow path per request.

/// Encoded record bodies of one atomic append.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

/// Buffers kept per thread for reuse, and the largest one worth keeping.
const POOL_BUFFERS: usize = 64;
const POOL_MAX_BYTES: usize = 256 << 10;

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Batch {
    /// An empty batch with room for `records` bodies of `bytes` in total.
    pub fn with_capacity(records: usize, bytes: usize) -> Batch {
        let pooled = POOL.with(|p| p.borrow_mut().pop());
        let buf = match pooled {
            Some(mut b) if b.capacity() >= bytes => {
                b.clear();
                b
            }
            other => {
                if let Some(b) = other {
                    POOL.with(|p| p.borrow_mut().push(b));
                }
                Vec::with_capacity(bytes)
            }
        };
        Batch {
            buf,
            ends: Vec::with_capacity(records),
        }
    }

    /// Returns the buffer to this thread's pool.
    pub fn recycle(self) {
        let buf = self.buf;
        if buf.capacity() <= POOL_MAX_BYTES {
            POOL.with(|p| {
                let mut p = p.borrow_mut();
                if p.len() < POOL_BUFFERS {
                    p.push(buf);
                }
            });
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
