//! The writer state of a log: the active segment, the records appended but not yet written, and
//! the roll from one segment to the next.
//!
//! It is shared under a mutex by every appending task. An append only *encodes* its records here
//! (frames and index entries into two buffers, sequences assigned); the group-commit leader (see
//! `Log::append`) writes everything pending with one `pwrite` each for log and index and makes it
//! durable with one `fdatasync`, outside the mutex, while later appends keep encoding.
//!
//! A request is atomic: all of its records land in one segment (the state rolls to a new segment
//! before a request that does not fit), so a failure such as a full disk while allocating the next
//! segment rejects whole requests, never half of one.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::batch::Batch;
use super::error::LogError;
use super::index::{ENTRY_LEN, Entry};
use super::record::{self, FRAME_OVERHEAD};
use super::recovery::Opened;
use super::segment::Segment;
use super::{Appended, Shared};

/// A segment sealed since the last checkpoint, with its final counts.
pub(crate) struct Sealed {
    seg: Arc<Segment>,
    count: u64,
    bytes: u64,
    last_ts: i64,
}

/// Everything written so far: what a sync of `seg` makes durable, and what to publish after it.
pub(crate) struct Checkpoint {
    /// The active segment whose file must be synced.
    pub seg: Arc<Segment>,
    count: u64,
    bytes: u64,
    last_ts: i64,
    /// Records below this sequence are written.
    pub end_seq: u64,
    /// Segments sealed (and synced by the seal) since the previous checkpoint.
    sealed: Vec<Sealed>,
    /// Records and bytes appended since the previous checkpoint (for metrics).
    pub events: u64,
    pub bytes_in: u64,
}

impl Checkpoint {
    /// Makes the checkpoint visible to readers. Call only once it is durable (or, under a relaxed
    /// fsync policy, written).
    pub fn publish(self, shared: &Shared) {
        for s in self.sealed {
            s.seg.count.store(s.count, Ordering::Release);
            s.seg.bytes.store(s.bytes, Ordering::Release);
            s.seg.last_ts.store(s.last_ts, Ordering::Release);
            s.seg.sealed.store(true, Ordering::Release);
        }
        self.seg.count.fetch_max(self.count, Ordering::AcqRel);
        self.seg.bytes.fetch_max(self.bytes, Ordering::AcqRel);
        if self.count > 0 {
            self.seg.last_ts.fetch_max(self.last_ts, Ordering::AcqRel);
        }
        shared.visible.fetch_max(self.end_seq, Ordering::AcqRel);
    }
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    active: Arc<Segment>,
    /// Capacity of the active segment; 0 once it is sealed and no successor could be made.
    cap_bytes: u64,
    cap_entries: u64,
    /// Logical end of the active segment (including frames still in `frames`).
    pos: u64,
    /// Records in the active segment (including those still in `frames`).
    count: u64,
    next_seq: u64,
    last_ts: i64,
    /// Encoded frames not yet written; they go at offset `frames_at`.
    frames: Vec<u8>,
    frames_at: u64,
    /// Encoded index entries not yet written; they go at entry `entries_at`.
    entries: Vec<u8>,
    entries_at: u64,
    sealed: Vec<Sealed>,
    events: u64,
    bytes_in: u64,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, opened: &Opened) -> Result<Writer, LogError> {
        let active =
            opened.segments.last().cloned().ok_or_else(|| {
                LogError::Config("log opened without an active segment".to_owned())
            })?;
        Ok(Writer {
            cap_bytes: active.log_capacity(),
            cap_entries: active.index_capacity(),
            active,
            shared,
            pos: opened.write_pos,
            count: opened.active_count,
            next_seq: opened.next_seq,
            last_ts: opened.last_ts,
            frames: Vec::with_capacity(1 << 20),
            frames_at: opened.write_pos,
            entries: Vec::with_capacity(64 << 10),
            entries_at: opened.active_count,
            sealed: Vec::new(),
            events: 0,
            bytes_in: 0,
        })
    }

    /// Encodes a request's records (assigning their sequences); rolls first if they do not fit.
    pub(crate) fn write_request(&mut self, batch: &Batch) -> Result<Appended, LogError> {
        if let Some(why) = self.shared.failure() {
            return Err(LogError::Failed(why));
        }
        let n = batch.len() as u64;
        let need = batch.bytes() as u64 + n * FRAME_OVERHEAD as u64;
        let cfg = &self.shared.cfg;
        if need > cfg.segment_bytes || n > cfg.index_entries() {
            return Err(LogError::TooLarge {
                bytes: need,
                records: batch.len(),
                segment_bytes: cfg.segment_bytes,
            });
        }
        if self.pos + need > self.cap_bytes || self.count + n > self.cap_entries {
            self.roll()?;
        }
        let ts = self.shared.clock.now_micros().max(self.last_ts);
        let first = self.next_seq;
        for body in batch.iter() {
            let len = FRAME_OVERHEAD + body.len();
            let at = self.frames.len();
            self.frames.resize(at + len, 0);
            record::encode_into(&mut self.frames[at..], self.next_seq, ts, body);
            let entry = Entry {
                sequence: self.next_seq,
                offset: self.pos,
                timestamp: ts,
            };
            self.entries.extend_from_slice(&entry.encode());
            self.pos += len as u64;
            self.count += 1;
            self.next_seq += 1;
        }
        if n > 0 {
            self.last_ts = ts;
        }
        self.events += n;
        self.bytes_in += batch.bytes() as u64;
        Ok(Appended {
            first,
            count: batch.len(),
            timestamp: ts,
        })
    }

    /// Writes everything pending and describes it. The caller syncs `seg` (outside the mutex)
    /// before publishing.
    pub(crate) fn checkpoint(&mut self) -> Result<Checkpoint, LogError> {
        self.write_pending()?;
        Ok(Checkpoint {
            seg: self.active.clone(),
            count: self.count,
            bytes: self.pos,
            last_ts: self.last_ts,
            end_seq: self.next_seq,
            sealed: std::mem::take(&mut self.sealed),
            events: std::mem::take(&mut self.events),
            bytes_in: std::mem::take(&mut self.bytes_in),
        })
    }

    /// Writes the buffered frames and index entries to the active segment.
    fn write_pending(&mut self) -> Result<(), LogError> {
        if self.frames.is_empty() {
            return Ok(());
        }
        self.active.append_log(self.frames_at, &self.frames)?;
        self.active.append_entries(self.entries_at, &self.entries)?;
        debug_assert_eq!(
            self.entries.len() as u64,
            (self.count - self.entries_at) * ENTRY_LEN as u64
        );
        self.frames.clear();
        self.entries.clear();
        self.frames_at = self.pos;
        self.entries_at = self.count;
        Ok(())
    }

    /// Seals the active segment and starts the next one. Sealing comes first: a crash between the
    /// two leaves a sealed segment as the last one, which recovery simply reopens as active.
    fn roll(&mut self) -> Result<(), LogError> {
        let started = std::time::Instant::now();
        let result = self.roll_inner();
        tracing::debug!(bus = %self.shared.cfg.label, elapsed = ?started.elapsed(), ok = result.is_ok(), "segment roll");
        result
    }

    fn roll_inner(&mut self) -> Result<(), LogError> {
        let (segment_bytes, index_entries) = (
            self.shared.cfg.segment_bytes,
            self.shared.cfg.index_entries(),
        );
        let (dir, io) = (self.shared.dir.clone(), self.shared.io.clone());
        if self.count == 0 {
            // An empty active segment that is too small (opened on a full disk): replace it.
            let seg = Arc::new(Segment::create(
                &dir,
                self.active.base,
                segment_bytes,
                index_entries,
                &*io,
            )?);
            if let Some(last) = self.shared.segments_mut().last_mut() {
                *last = seg.clone();
            }
            self.set_active(seg);
            return Ok(());
        }
        if self.cap_bytes > 0 {
            if let Err(e) = self
                .write_pending()
                .and_then(|()| self.active.seal(self.pos, self.count))
            {
                // Earlier requests were encoded for this segment and cannot be kept: stop.
                self.shared.fail(e.to_string());
                return Err(e);
            }
            self.sealed.push(Sealed {
                seg: self.active.clone(),
                count: self.count,
                bytes: self.pos,
                last_ts: self.last_ts,
            });
            self.cap_bytes = 0;
            self.cap_entries = 0;
        }
        let seg = Arc::new(Segment::create(
            &dir,
            self.next_seq,
            segment_bytes,
            index_entries,
            &*io,
        )?);
        self.shared.segments_mut().push(seg.clone());
        self.set_active(seg);
        Ok(())
    }

    fn set_active(&mut self, seg: Arc<Segment>) {
        self.cap_bytes = seg.log_capacity();
        self.cap_entries = seg.index_capacity();
        self.active = seg;
        self.pos = 0;
        self.count = 0;
        self.frames_at = 0;
        self.entries_at = 0;
    }
}
