//! Scanning a segment's bytes: shared by recovery (which then repairs a torn tail) and by
//! `verify` (which only reports).
//!
//! The rules:
//! - A **sealed** segment must be exactly its records, densely numbered from its base, followed
//!   by nothing; its index must list every record. Any other byte is damage.
//! - In the **active** segment the first bad frame is either a *torn tail* (a write cut short by a
//!   crash: nothing valid follows it) or *damage* (a valid record follows it, so acked data lies
//!   beyond the bad bytes). A torn tail was never acknowledged (acks follow the flush that makes a
//!   whole group durable) and is cleared; damage refuses to open.

use super::index::{ENTRY_LEN, Entry};
use super::record::{self, FRAME_OVERHEAD, FrameFault, HEADER_LEN, MAX_BODY};

/// The result of reading frames from the start of a segment.
#[derive(Debug)]
pub struct Scan {
    /// One entry per valid record, in order.
    pub entries: Vec<Entry>,
    /// Byte offset just past the last valid record.
    pub end: usize,
    /// Why scanning stopped before the end of the file, if it did for a reason other than clean
    /// zero padding.
    pub fault: Option<String>,
}

/// Reads frames from offset 0 while they are valid and numbered `base, base+1, …`.
pub fn scan_log(buf: &[u8], base: u64) -> Scan {
    let mut entries = Vec::new();
    let mut at = 0usize;
    loop {
        if at == buf.len() {
            return Scan {
                entries,
                end: at,
                fault: None,
            };
        }
        match record::decode(&buf[at..]) {
            Ok(h) => {
                let want = base + entries.len() as u64;
                if h.sequence != want {
                    let fault = Some(format!(
                        "record has sequence {} where {want} was expected",
                        h.sequence
                    ));
                    return Scan {
                        entries,
                        end: at,
                        fault,
                    };
                }
                entries.push(Entry {
                    sequence: h.sequence,
                    offset: at as u64,
                    timestamp: h.timestamp,
                });
                at += h.frame_len();
            }
            Err(FrameFault::End) => {
                let fault = first_nonzero(&buf[at..]).map(|i| {
                    format!(
                        "non-zero bytes at offset {} after the end of the records",
                        at + i
                    )
                });
                return Scan {
                    entries,
                    end: at,
                    fault,
                };
            }
            Err(f) => {
                return Scan {
                    entries,
                    end: at,
                    fault: Some(f.to_string()),
                };
            }
        }
    }
}

/// Index of the first non-zero byte.
pub fn first_nonzero(buf: &[u8]) -> Option<usize> {
    let mut chunks = buf.chunks_exact(8);
    let mut base = 0;
    for c in chunks.by_ref() {
        if c != [0u8; 8] {
            return c.iter().position(|&b| b != 0).map(|i| base + i);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b != 0)
        .map(|i| base + i)
}

/// Index just past the last non-zero byte (0 if all zero).
pub fn nonzero_end(buf: &[u8]) -> usize {
    buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)
}

/// What the bytes after the last valid record of the active segment are.
#[derive(Debug, PartialEq, Eq)]
pub enum Tail {
    /// Zero padding only.
    Clean,
    /// A write cut short: bytes from `offset` to `dirty_end` are to be cleared.
    Torn {
        /// Where the torn record starts.
        offset: usize,
        /// Just past the last non-zero byte.
        dirty_end: usize,
        /// What was wrong with the frame at `offset`.
        reason: String,
    },
    /// A valid record lies beyond bad bytes: refuse.
    Damaged {
        /// Where the bad bytes start.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Classifies what follows the valid records of the active segment.
pub fn classify_tail(buf: &[u8], scan: &Scan) -> Tail {
    let Some(reason) = &scan.fault else {
        return Tail::Clean;
    };
    let dirty_end = scan.end + nonzero_end(&buf[scan.end..]);
    match find_valid_frame(buf, scan.end + 1, dirty_end) {
        Some(at) => Tail::Damaged {
            offset: scan.end,
            reason: format!("{reason}; a valid record follows at offset {at}"),
        },
        None => Tail::Torn {
            offset: scan.end,
            dirty_end,
            reason: reason.clone(),
        },
    }
}

/// The first offset in `from..to` at which a complete frame with a valid checksum starts.
fn find_valid_frame(buf: &[u8], from: usize, to: usize) -> Option<usize> {
    let to = to.min(buf.len().saturating_sub(FRAME_OVERHEAD));
    (from..to).find(|&at| {
        let len = u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        (HEADER_LEN..=HEADER_LEN + MAX_BODY).contains(&len)
            && at + 8 + len <= buf.len()
            && record::decode(&buf[at..]).is_ok()
    })
}

/// Checks a sealed segment: the scan must have reached the end of the file.
pub fn check_sealed(buf: &[u8], scan: &Scan) -> Result<(), (usize, String)> {
    if let Some(reason) = &scan.fault {
        return Err((scan.end, reason.clone()));
    }
    if scan.end != buf.len() {
        return Err((
            scan.end,
            "sealed segment has bytes after its last record".to_owned(),
        ));
    }
    if scan.entries.is_empty() {
        return Err((0, "sealed segment holds no records".to_owned()));
    }
    Ok(())
}

/// Checks a sealed segment's index against its records. Returns the offset in the index file of
/// the first bad entry.
pub fn check_index(index: &[u8], entries: &[Entry]) -> Result<(), (usize, String)> {
    let want = entries.len() * ENTRY_LEN;
    for (i, e) in entries.iter().enumerate() {
        let at = i * ENTRY_LEN;
        if at + ENTRY_LEN > index.len() {
            return Err((
                at,
                format!(
                    "index ends after {i} entries; the log holds {}",
                    entries.len()
                ),
            ));
        }
        let got = Entry::decode(&index[at..]);
        if got != *e {
            return Err((
                at,
                format!("index entry {i} is {got:?}; the log says {e:?}"),
            ));
        }
    }
    if index.len() != want {
        return Err((
            want.min(index.len()),
            format!("index is {} bytes; {want} expected", index.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn log_of(bodies: &[&[u8]], base: u64, pad: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            let mut f = vec![0u8; FRAME_OVERHEAD + b.len()];
            record::encode_into(&mut f, base + i as u64, 100 + i as i64, b);
            out.extend_from_slice(&f);
        }
        out.resize(out.len() + pad, 0);
        out
    }

    #[test]
    fn clean_log_scans_fully() {
        let buf = log_of(&[b"a", b"bb", b"ccc"], 5, 100);
        let s = scan_log(&buf, 5);
        assert_eq!(s.entries.len(), 3);
        assert_eq!(s.fault, None);
        assert_eq!(classify_tail(&buf, &s), Tail::Clean);
    }

    #[test]
    fn cut_last_record_is_torn() {
        let mut buf = log_of(&[b"first", b"second"], 1, 64);
        let second = FRAME_OVERHEAD + 5;
        buf[second] = 0; // length word of the second record lost: body bytes remain
        buf[second + 1] = 0;
        let s = scan_log(&buf, 1);
        assert_eq!(s.entries.len(), 1);
        assert!(matches!(classify_tail(&buf, &s), Tail::Torn { offset, .. } if offset == second));
    }

    #[test]
    fn damage_before_a_valid_record_is_damage() {
        let mut buf = log_of(&[b"first", b"second", b"third"], 1, 64);
        buf[FRAME_OVERHEAD + 2] ^= 1; // inside the first record's body
        let s = scan_log(&buf, 1);
        assert_eq!(s.entries.len(), 0);
        assert!(matches!(
            classify_tail(&buf, &s),
            Tail::Damaged { offset: 0, .. }
        ));
    }

    #[test]
    fn wrong_sequence_stops_the_scan() {
        let buf = log_of(&[b"x", b"y"], 1, 0);
        let s = scan_log(&buf, 2);
        assert!(s.fault.unwrap().contains("sequence 1"));
    }

    #[test]
    fn sealed_checks_index() {
        let buf = log_of(&[b"x", b"y"], 1, 0);
        let s = scan_log(&buf, 1);
        check_sealed(&buf, &s).unwrap();
        let mut idx: Vec<u8> = s.entries.iter().flat_map(|e| e.encode()).collect();
        check_index(&idx, &s.entries).unwrap();
        idx[30] ^= 1;
        assert_eq!(check_index(&idx, &s.entries).unwrap_err().0, ENTRY_LEN);
    }

    #[test]
    fn nonzero_helpers() {
        assert_eq!(first_nonzero(&[0; 20]), None);
        let mut v = vec![0u8; 20];
        v[17] = 1;
        assert_eq!(first_nonzero(&v), Some(17));
        assert_eq!(nonzero_end(&v), 18);
    }
}
