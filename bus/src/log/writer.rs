//! The writer thread: group commit.
//!
//! One thread per log owns the active segment. It takes every append waiting in its queue, encodes
//! all of them into one buffer, writes it with **one** `pwrite` (and the index entries with
//! another), makes them durable with **one** `fdatasync` (per the fsync policy), publishes the new
//! end to readers, and only then answers each request. Many concurrent producers therefore share
//! one `fdatasync`, which is what makes durable acks cheap.
//!
//! A request is atomic: all of its records land in one segment (the writer rolls to a new segment
//! before a request that does not fit), so a failure such as a full disk while allocating the next
//! segment rejects whole requests, never half of one.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use tokio::sync::oneshot;

use super::batch::Batch;
use super::error::LogError;
use super::index::{ENTRY_LEN, Entry};
use super::record::{self, FRAME_OVERHEAD};
use super::recovery::Opened;
use super::segment::Segment;
use super::{Appended, FsyncPolicy, Shared};

/// Work for the writer.
pub(crate) enum Cmd {
    /// Append these encoded events as one atomic request.
    Append {
        batch: Batch,
        enqueued: Instant,
        /// The answer, and the batch back so it is freed where it was allocated.
        reply: oneshot::Sender<(Result<Appended, LogError>, Batch)>,
    },
    /// Flush everything and stop.
    Close {
        reply: std::sync::mpsc::SyncSender<Result<(), LogError>>,
    },
}

/// Most bytes taken into one group before writing it.
const MAX_GROUP_BYTES: usize = 16 << 20;

type Waiting = (
    oneshot::Sender<(Result<Appended, LogError>, Batch)>,
    Appended,
    Instant,
    Batch,
);

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
    /// Written with `pwrite` but not yet `fdatasync`ed.
    unsynced: bool,
    /// Segments sealed in this group, to publish with it.
    sealed_now: Vec<(Arc<Segment>, u64, u64, i64)>,
    last_sync: Instant,
    metrics: Metrics,
}

/// Metric handles, registered once per log (a labelled lookup per event is measurable).
struct Metrics {
    events: metrics::Counter,
    bytes: metrics::Counter,
    append: metrics::Histogram,
    fsync: metrics::Histogram,
}

impl Metrics {
    fn new(label: &str) -> Metrics {
        let bus = label.to_owned();
        Metrics {
            events: metrics::counter!("railyard_events_ingested_total", "bus" => bus.clone()),
            bytes: metrics::counter!("railyard_bytes_ingested_total", "bus" => bus.clone()),
            append: metrics::histogram!("railyard_append_seconds", "bus" => bus.clone()),
            fsync: metrics::histogram!("railyard_fsync_seconds", "bus" => bus),
        }
    }
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, opened: &Opened) -> Result<Writer, LogError> {
        let metrics = Metrics::new(&shared.cfg.label);
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
            unsynced: false,
            sealed_now: Vec::new(),
            last_sync: Instant::now(),
            metrics,
        })
    }

    /// Runs until a `Close` arrives or every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<Cmd>) {
        let label = self.shared.cfg.label.clone();
        loop {
            let first = match self.shared.cfg.fsync {
                FsyncPolicy::Interval(every) if self.unsynced => {
                    match rx.recv_timeout(every.saturating_sub(self.last_sync.elapsed())) {
                        Ok(cmd) => Some(cmd),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                _ => match rx.recv() {
                    Ok(cmd) => Some(cmd),
                    Err(_) => break,
                },
            };
            let mut group: Vec<Waiting> = Vec::new();
            let mut close = None;
            let mut bytes = 0usize;
            let mut next = first;
            while let Some(cmd) = next.take() {
                match cmd {
                    Cmd::Append {
                        batch,
                        enqueued,
                        reply,
                    } => {
                        bytes += batch.bytes();
                        match self.write_request(&batch) {
                            Ok(a) => group.push((reply, a, enqueued, batch)),
                            Err(e) => {
                                let _ = reply.send((Err(e), batch));
                            }
                        }
                    }
                    Cmd::Close { reply } => {
                        close = Some(reply);
                        break;
                    }
                }
                if bytes < MAX_GROUP_BYTES {
                    next = rx.try_recv().ok();
                }
            }
            let durable = match self.shared.cfg.fsync {
                FsyncPolicy::Always => true,
                FsyncPolicy::Interval(every) => {
                    close.is_some() || self.last_sync.elapsed() >= every
                }
                FsyncPolicy::Never => close.is_some(),
            };
            self.finish_group(group, durable, &label);
            if let Some(reply) = close {
                let _ = reply.send(
                    self.shared
                        .failure()
                        .map_or(Ok(()), |w| Err(LogError::Failed(w))),
                );
                return;
            }
        }
        // Every handle dropped without Close: still leave the data durable.
        self.finish_group(Vec::new(), true, &label);
    }

    /// Writes the group, syncs it if `durable`, publishes it and answers every request in it.
    fn finish_group(&mut self, group: Vec<Waiting>, durable: bool, label: &str) {
        let result = self
            .write_pending()
            .and_then(|()| if durable { self.sync() } else { Ok(()) });
        if let Err(e) = result {
            tracing::error!(bus = %label, error = %e, "write failed; the log stops accepting appends");
            self.shared.fail(e.to_string());
        }
        if let Some(why) = self.shared.failure() {
            for (reply, _, _, batch) in group {
                let _ = reply.send((Err(LogError::Failed(why.clone())), batch));
            }
            return;
        }
        self.publish();
        let (events, bytes) = group.iter().fold((0, 0), |(e, b), w| {
            (e + w.3.len() as u64, b + w.3.bytes() as u64)
        });
        self.metrics.events.increment(events);
        self.metrics.bytes.increment(bytes);
        let now = Instant::now();
        for (reply, appended, enqueued, batch) in group {
            self.metrics
                .append
                .record(now.saturating_duration_since(enqueued).as_secs_f64());
            let _ = reply.send((Ok(appended), batch));
        }
    }

    fn write_request(&mut self, batch: &Batch) -> Result<Appended, LogError> {
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
        Ok(Appended {
            first,
            count: batch.len(),
            timestamp: ts,
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
        self.unsynced = true;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), LogError> {
        if self.unsynced {
            let started = Instant::now();
            self.active.sync_log()?;
            self.metrics.fsync.record(started.elapsed().as_secs_f64());
            self.unsynced = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Seals the active segment and starts the next one. Sealing comes first: a crash between the
    /// two leaves a sealed segment as the last one, which recovery simply reopens as active.
    fn roll(&mut self) -> Result<(), LogError> {
        let started = Instant::now();
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
            let seg = Segment::create(&dir, self.active.base, segment_bytes, index_entries, &*io)?;
            let seg = Arc::new(seg);
            if let Some(last) = self.shared.segments_mut().last_mut() {
                *last = seg.clone();
            }
            self.set_active(seg);
            return Ok(());
        }
        if self.cap_bytes > 0 {
            if let Err(e) = self.write_pending() {
                // Earlier requests of this group were buffered for this segment: fail them all.
                self.shared.fail(e.to_string());
                return Err(e);
            }
            self.active.seal(self.pos, self.count)?;
            self.unsynced = false;
            self.sealed_now
                .push((self.active.clone(), self.count, self.pos, self.last_ts));
            self.cap_bytes = 0;
            self.cap_entries = 0;
        }
        let seg = Segment::create(&dir, self.next_seq, segment_bytes, index_entries, &*io)?;
        let seg = Arc::new(seg);
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

    /// Makes everything written so far visible to readers.
    fn publish(&mut self) {
        for (seg, count, bytes, ts) in self.sealed_now.drain(..) {
            seg.count.store(count, Ordering::Release);
            seg.bytes.store(bytes, Ordering::Release);
            seg.last_ts.store(ts, Ordering::Release);
            seg.sealed.store(true, Ordering::Release);
        }
        self.active.count.store(self.count, Ordering::Release);
        self.active.bytes.store(self.pos, Ordering::Release);
        if self.count > 0 {
            self.active.last_ts.store(self.last_ts, Ordering::Release);
        }
        self.shared.visible.store(self.next_seq, Ordering::Release);
        self.shared.tail.send_replace(self.next_seq);
    }
}
