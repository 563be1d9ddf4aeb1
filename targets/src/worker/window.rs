//! Which queue entries are done, and the committed index: the first entry not done.
//!
//! Deliveries finish out of order (many in flight, retries handed to the journal), but the
//! checkpoint can only record one index per target, below which everything is done: RocketMQ's
//! "min offset of the process queue". A ring of flags from the committed index on gives it in
//! O(1) per entry.

use std::collections::VecDeque;

/// Entries from `base` on, done or not.
#[derive(Debug)]
pub struct Window {
    base: u64,
    done: VecDeque<bool>,
}

impl Window {
    /// A window whose first entry is `base`.
    pub fn new(base: u64) -> Window {
        Window {
            base,
            done: VecDeque::new(),
        }
    }

    /// Takes the next entry in; returns its index.
    pub fn push(&mut self) -> u64 {
        self.done.push_back(false);
        self.base + self.done.len() as u64 - 1
    }

    /// Marks an entry done and moves the committed index past every done entry at the front.
    pub fn done(&mut self, idx: u64) {
        let Some(i) = idx.checked_sub(self.base) else {
            return;
        };
        if let Some(flag) = self.done.get_mut(i as usize) {
            *flag = true;
        }
        while self.done.front() == Some(&true) {
            self.done.pop_front();
            self.base += 1;
        }
    }

    /// Every entry below this index is done.
    pub fn committed(&self) -> u64 {
        self.base
    }

    /// The next index [`Window::push`] gives.
    pub fn end(&self) -> u64 {
        self.base + self.done.len() as u64
    }

    /// Entries taken in and not all done.
    pub fn len(&self) -> usize {
        self.done.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn committed_follows_the_first_undone() {
        let mut w = Window::new(10);
        let a = w.push();
        let b = w.push();
        let c = w.push();
        assert_eq!((a, b, c), (10, 11, 12));
        w.done(b);
        assert_eq!(w.committed(), 10);
        w.done(a);
        assert_eq!(w.committed(), 12);
        w.done(c);
        assert_eq!(w.committed(), 13);
        assert_eq!(w.len(), 0);
        w.done(3); // below the window: ignored
        assert_eq!(w.end(), 13);
    }
}
