//! The per-segment index: a fixed-width table beside each `.log` file.
//!
//! Entry `i` describes record `base + i` of the segment:
//!
//! ```text
//! offset  size  field
//! 0       8     sequence   u64 LE (redundant with the position; lets `verify` catch misplaced entries)
//! 8       8     offset     u64 LE, byte offset of the record's frame in the `.log`
//! 16      8     timestamp  i64 LE, ingestion time in microseconds (monotonic within a bus)
//! ```
//!
//! The index is derivable from the log. The active segment's index is rebuilt from the log on
//! every open, so it is not flushed on the append path; a sealed segment's index is flushed
//! before the segment is sealed, and `verify` checks it against the records.

/// Bytes per index entry.
pub const ENTRY_LEN: usize = 24;

/// One index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The record's sequence.
    pub sequence: u64,
    /// Byte offset of the frame in the log file.
    pub offset: u64,
    /// Ingestion time, microseconds since the epoch.
    pub timestamp: i64,
}

impl Entry {
    /// Encodes into exactly [`ENTRY_LEN`] bytes.
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0..8].copy_from_slice(&self.sequence.to_le_bytes());
        out[8..16].copy_from_slice(&self.offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.timestamp.to_le_bytes());
        out
    }

    /// Decodes the entry at the start of `buf` (which holds at least [`ENTRY_LEN`] bytes).
    pub fn decode(buf: &[u8]) -> Entry {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[at..at + 8]);
            u64::from_le_bytes(b)
        };
        Entry {
            sequence: word(0),
            offset: word(8),
            timestamp: word(16) as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = Entry {
            sequence: u64::MAX - 1,
            offset: 123_456,
            timestamp: -5,
        };
        assert_eq!(Entry::decode(&e.encode()), e);
    }
}
