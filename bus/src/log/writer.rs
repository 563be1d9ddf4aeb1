//! The writer thread: group commit.
//!
//! One thread per log owns the active segment. It takes every append waiting in its queue, copies
//! all of them into the memory-mapped segment, makes them durable with **one** flush (per the
//! fsync policy), publishes the new end to readers, and only then answers each request. Many
//! concurrent producers therefore share one `fdatasync`, which is what makes durable acks cheap.
//!
//! A request is atomic: all of its records land in one segment (the writer rolls to a new segment
//! before a request that does not fit), so a failure such as a full disk while allocating the next
//! segment rejects whole requests, never half of one.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use tokio::sync::oneshot;

use super::error::LogError;
use super::index::Entry;
use super::record::{self, FRAME_OVERHEAD};
use super::recovery::Opened;
use super::segment::Segment;
use super::{Appended, FsyncPolicy, Shared};

/// Work for the writer.
pub(crate) enum Cmd {
    /// Append these encoded events as one atomic request.
    Append {
        bodies: Vec<Vec<u8>>,
        enqueued: Instant,
        reply: oneshot::Sender<Result<Appended, LogError>>,
    },
    /// Flush everything and stop.
    Close {
        reply: std::sync::mpsc::SyncSender<Result<(), LogError>>,
    },
}

/// Most bytes taken into one group before flushing.
const MAX_GROUP_BYTES: usize = 16 << 20;

pub(crate) struct Writer {
    shared: Arc<Shared>,
    active: Arc<Segment>,
    /// Capacity of the active segment; 0 once it is sealed and no successor could be made.
    cap_bytes: u64,
    cap_entries: u64,
    pos: u64,
    count: u64,
    next_seq: u64,
    last_ts: i64,
    /// Start of the written-but-not-flushed range of the active segment.
    dirty_from: u64,
    /// Segments sealed in this group, to publish with it.
    sealed_now: Vec<(Arc<Segment>, u64, u64, i64)>,
    last_flush: Instant,
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
            dirty_from: opened.write_pos,
            sealed_now: Vec::new(),
            last_flush: Instant::now(),
        })
    }

    /// Runs until a `Close` arrives or every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<Cmd>) {
        let label = self.shared.cfg.label.clone();
        loop {
            let first = match self.shared.cfg.fsync {
                FsyncPolicy::Interval(every) if self.dirty_from < self.pos => {
                    let wait = every.saturating_sub(self.last_flush.elapsed());
                    match rx.recv_timeout(wait) {
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
            let mut group = Vec::new();
            let mut close = None;
            let mut bytes = 0usize;
            let mut next = first;
            while let Some(cmd) = next.take() {
                match cmd {
                    Cmd::Append {
                        bodies,
                        enqueued,
                        reply,
                    } => {
                        bytes += bodies.iter().map(Vec::len).sum::<usize>();
                        match self.write_request(&bodies) {
                            Ok(a) => group.push((reply, a, enqueued)),
                            Err(e) => {
                                let _ = reply.send(Err(e));
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
                    close.is_some() || self.last_flush.elapsed() >= every
                }
                FsyncPolicy::Never => close.is_some(),
            };
            let flushed = if durable { self.flush(&label) } else { Ok(()) };
            match flushed {
                Ok(()) => {
                    self.publish();
                    for (reply, appended, enqueued) in group {
                        metrics::histogram!("railyard_append_seconds", "bus" => label.clone())
                            .record(enqueued.elapsed().as_secs_f64());
                        let _ = reply.send(Ok(appended));
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    tracing::error!(bus = %label, error = %why, "flush failed; the log stops accepting appends");
                    self.shared.fail(why.clone());
                    for (reply, _, _) in group {
                        let _ = reply.send(Err(LogError::Failed(why.clone())));
                    }
                }
            }
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
        if let Err(e) = self.flush(&label) {
            tracing::error!(bus = %label, error = %e, "final flush failed");
        }
        self.publish();
    }

    fn write_request(&mut self, bodies: &[Vec<u8>]) -> Result<Appended, LogError> {
        if let Some(why) = self.shared.failure() {
            return Err(LogError::Failed(why));
        }
        let need: u64 = bodies
            .iter()
            .map(|b| (FRAME_OVERHEAD + b.len()) as u64)
            .sum();
        let n = bodies.len() as u64;
        let cfg = &self.shared.cfg;
        if need > cfg.segment_bytes || n > cfg.index_entries() {
            return Err(LogError::TooLarge {
                bytes: need,
                records: bodies.len(),
                segment_bytes: cfg.segment_bytes,
            });
        }
        if self.pos + need > self.cap_bytes || self.count + n > self.cap_entries {
            self.roll()?;
        }
        let ts = self.shared.clock.now_micros().max(self.last_ts);
        let first = self.next_seq;
        for body in bodies {
            let len = FRAME_OVERHEAD + body.len();
            // SAFETY: the writer is the only writer; the range is above the published end.
            let slot = unsafe { self.active.log_slot(self.pos as usize, len) };
            record::encode_into(slot, self.next_seq, ts, body);
            self.active.write_entry(
                self.count,
                &Entry {
                    sequence: self.next_seq,
                    offset: self.pos,
                    timestamp: ts,
                },
            );
            self.pos += len as u64;
            self.count += 1;
            self.next_seq += 1;
        }
        if n > 0 {
            self.last_ts = ts;
        }
        Ok(Appended {
            first,
            count: bodies.len(),
            timestamp: ts,
        })
    }

    /// Seals the active segment and starts the next one. Sealing comes first: a crash between the
    /// two leaves a sealed segment as the last one, which recovery simply reopens as active.
    fn roll(&mut self) -> Result<(), LogError> {
        let cfg = &self.shared.cfg;
        let dir = self.shared.dir.clone();
        if self.count == 0 {
            // An empty active segment that is too small (opened on a full disk): replace it.
            let seg = Segment::create(
                &dir,
                self.active.base,
                cfg.segment_bytes,
                cfg.index_entries(),
                &*self.shared.io,
            )?;
            let seg = Arc::new(seg);
            let mut list = self.shared.segments_mut();
            if let Some(last) = list.last_mut() {
                *last = seg.clone();
            }
            drop(list);
            self.set_active(seg);
            return Ok(());
        }
        if self.cap_bytes > 0 {
            self.active.seal(self.pos, self.count)?;
            self.sealed_now
                .push((self.active.clone(), self.count, self.pos, self.last_ts));
            self.cap_bytes = 0;
            self.cap_entries = 0;
        }
        let seg = Segment::create(
            &dir,
            self.next_seq,
            cfg.segment_bytes,
            cfg.index_entries(),
            &*self.shared.io,
        )?;
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
        self.dirty_from = 0;
    }

    fn flush(&mut self, label: &str) -> Result<(), LogError> {
        if self.dirty_from < self.pos {
            let started = Instant::now();
            self.active.flush_log(
                self.dirty_from as usize,
                (self.pos - self.dirty_from) as usize,
            )?;
            metrics::histogram!("railyard_fsync_seconds", "bus" => label.to_owned())
                .record(started.elapsed().as_secs_f64());
            self.dirty_from = self.pos;
        }
        self.last_flush = Instant::now();
        Ok(())
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
    }
}
