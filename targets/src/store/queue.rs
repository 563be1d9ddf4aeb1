//! A target's queue of matched events: RocketMQ's ConsumeQueue.
//!
//! The bus log holds the events; the queue holds only their sequences, 8 bytes each (little
//! endian), in the order the dispatcher matched them (increasing). Entry `i` sits at byte
//! `8 * (i - base)` of the segment file named by its first index `base` (20 digits, `.q`);
//! segments hold [`SEGMENT_ENTRIES`] entries, and a segment wholly below the consumer's committed
//! index is deleted.
//!
//! Durability: appends are written to the files at once (readers see them through the page
//! cache) and made durable by [`Queue::sync`], which the bus's checkpoint calls *before* it
//! records how far the dispatcher got. So every entry at or below the recorded dispatch position
//! is on disk; entries above it may be there or not, and [`Queue::open`] drops them (the
//! dispatcher matches those events again), so no event is queued twice.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Entries per segment file (8 MiB).
pub const SEGMENT_ENTRIES: u64 = 1 << 20;
const ENTRY: u64 = 8;

struct Inner {
    /// Open segments by first index.
    segs: BTreeMap<u64, File>,
    /// Index of the next entry to append.
    next: u64,
    /// Index of the oldest retained entry.
    first: u64,
    /// Entries pushed and not yet written: (first index, bytes).
    pending: Vec<u8>,
    /// Segments written since the last sync.
    dirty: Vec<u64>,
    /// The sequence of the newest entry.
    last_seq: u64,
}

/// One target's queue.
pub struct Queue {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("dir", &self.dir).finish()
    }
}

fn seg_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.q"))
}

impl Queue {
    /// Opens (or creates) the queue in `dir`, dropping entries whose sequence is above
    /// `max_seq` (not yet covered by a checkpoint) and any partial entry at the end.
    pub fn open(dir: &Path, max_seq: u64) -> io::Result<Queue> {
        fs::create_dir_all(dir)?;
        let mut segs = BTreeMap::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(base) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".q"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())?;
            segs.insert(base, file);
        }
        let mut inner = Inner {
            segs,
            next: 0,
            first: 0,
            pending: Vec::new(),
            dirty: Vec::new(),
            last_seq: 0,
        };
        inner.first = inner.segs.keys().next().copied().unwrap_or(0);
        // Walk back from the end: drop entries above max_seq, partial entries, empty segments.
        while let Some((&base, file)) = inner.segs.iter().next_back() {
            let len = file.metadata()?.len() / ENTRY;
            let mut keep = len;
            let mut buf = [0u8; 8];
            while keep > 0 {
                file.read_exact_at(&mut buf, (keep - 1) * ENTRY)?;
                let seq = u64::from_le_bytes(buf);
                if seq <= max_seq && seq != 0 {
                    inner.last_seq = seq;
                    break;
                }
                keep -= 1;
            }
            file.set_len(keep * ENTRY)?;
            if keep == 0 && inner.segs.len() > 1 {
                inner.segs.remove(&base);
                fs::remove_file(seg_path(dir, base))?;
                continue;
            }
            inner.next = base + keep;
            break;
        }
        Ok(Queue {
            dir: dir.to_path_buf(),
            inner: Mutex::new(inner),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Buffers one entry; [`Queue::flush`] writes it.
    pub fn push(&self, seq: u64) {
        let mut inner = self.lock();
        inner.pending.extend_from_slice(&seq.to_le_bytes());
        inner.last_seq = seq;
    }

    /// Writes the buffered entries to the files (not yet durable: see [`Queue::sync`]). On an
    /// error the entries not written stay buffered, so calling it again resumes.
    pub fn flush(&self) -> io::Result<()> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut inner.pending);
        let mut at = 0usize;
        let result = (|| {
            while at < pending.len() {
                let base = inner.next - inner.next % SEGMENT_ENTRIES;
                if let std::collections::btree_map::Entry::Vacant(slot) = inner.segs.entry(base) {
                    let file = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(seg_path(&self.dir, base))?;
                    slot.insert(file);
                    File::open(&self.dir)?.sync_all()?;
                }
                let room = usize::try_from((base + SEGMENT_ENTRIES - inner.next) * ENTRY)
                    .unwrap_or(usize::MAX);
                let take = room.min(pending.len() - at);
                if let Some(file) = inner.segs.get(&base) {
                    file.write_all_at(&pending[at..at + take], (inner.next - base) * ENTRY)?;
                }
                if !inner.dirty.contains(&base) {
                    inner.dirty.push(base);
                }
                at += take;
                inner.next += (take as u64) / ENTRY;
            }
            Ok(())
        })();
        let mut buf = pending;
        buf.drain(..at);
        inner.pending = buf;
        result
    }

    /// The index the next written entry will have: entries below are readable.
    pub fn written(&self) -> u64 {
        self.lock().next
    }

    /// The sequence of the newest entry (0 when the queue never had one).
    pub fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    /// Reads up to `max` entries from index `from` (fewer at the end of what was written).
    pub fn read(&self, from: u64, max: usize, out: &mut Vec<u64>) -> io::Result<()> {
        let inner = self.lock();
        let mut idx = from.max(inner.first);
        let end = inner.next.min(idx.saturating_add(max as u64));
        let mut buf = vec![0u8; 8 * 512];
        while idx < end {
            let base = idx - idx % SEGMENT_ENTRIES;
            let Some(file) = inner.segs.get(&base) else {
                return Err(io::Error::other(format!(
                    "queue segment {} is missing",
                    seg_path(&self.dir, base).display()
                )));
            };
            let n = (end - idx).min(base + SEGMENT_ENTRIES - idx).min(512);
            let bytes = usize::try_from(n * ENTRY).unwrap_or(0);
            file.read_exact_at(&mut buf[..bytes], (idx - base) * ENTRY)?;
            out.extend(
                buf[..bytes]
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            );
            idx += n;
        }
        Ok(())
    }

    /// Makes every written entry durable.
    pub fn sync(&self) -> io::Result<()> {
        let files: Vec<File> = {
            let mut inner = self.lock();
            let dirty = std::mem::take(&mut inner.dirty);
            dirty
                .iter()
                .filter_map(|b| inner.segs.get(b).and_then(|f| f.try_clone().ok()))
                .collect()
        };
        for f in files {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Deletes the segments wholly below `committed` (every entry there is done).
    pub fn release(&self, committed: u64) -> io::Result<()> {
        let mut inner = self.lock();
        while let Some((&base, _)) = inner.segs.iter().next() {
            if base + SEGMENT_ENTRIES > committed || base + SEGMENT_ENTRIES > inner.next {
                break;
            }
            inner.segs.remove(&base);
            inner.dirty.retain(|b| *b != base);
            fs::remove_file(seg_path(&self.dir, base))?;
            inner.first = base + SEGMENT_ENTRIES;
        }
        Ok(())
    }

    /// The index of the entry for `seq`, if the queue still holds one (entries are increasing).
    pub fn find(&self, seq: u64) -> io::Result<Option<u64>> {
        let (mut lo, mut hi) = {
            let inner = self.lock();
            (inner.first, inner.next)
        };
        let mut one = Vec::with_capacity(1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            one.clear();
            self.read(mid, 1, &mut one)?;
            match one.first() {
                Some(&s) if s < seq => lo = mid + 1,
                Some(&s) if s == seq => return Ok(Some(mid)),
                Some(_) => hi = mid,
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn entries_survive_reopen_and_unchecked_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path(), 0).unwrap();
        for s in [3, 5, 9, 12] {
            q.push(s);
        }
        q.flush().unwrap();
        q.sync().unwrap();
        let mut out = Vec::new();
        q.read(0, 10, &mut out).unwrap();
        assert_eq!(out, vec![3, 5, 9, 12]);
        assert_eq!(q.find(9).unwrap(), Some(2));
        assert_eq!(q.find(10).unwrap(), None);
        drop(q);
        // Only sequences up to 9 were checkpointed.
        let q = Queue::open(dir.path(), 9).unwrap();
        assert_eq!(q.written(), 3);
        assert_eq!(q.last_seq(), 9);
        q.push(10);
        q.flush().unwrap();
        out.clear();
        q.read(1, 10, &mut out).unwrap();
        assert_eq!(out, vec![5, 9, 10]);
    }

    #[test]
    fn segments_roll_and_are_released() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path(), 0).unwrap();
        let n = SEGMENT_ENTRIES + 10;
        for s in 1..=n {
            q.push(s);
        }
        q.flush().unwrap();
        let mut out = Vec::new();
        q.read(SEGMENT_ENTRIES - 2, 4, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                SEGMENT_ENTRIES - 1,
                SEGMENT_ENTRIES,
                SEGMENT_ENTRIES + 1,
                SEGMENT_ENTRIES + 2
            ]
        );
        q.release(SEGMENT_ENTRIES + 1).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(q);
        let q = Queue::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(q.written(), n);
        out.clear();
        q.read(0, 2, &mut out).unwrap();
        assert_eq!(out, vec![SEGMENT_ENTRIES + 1, SEGMENT_ENTRIES + 2]);
    }
}
