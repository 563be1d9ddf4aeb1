//! The durable event log of one bus: RocketMQ's commit-log design in Rust.
//!
//! # On-disk format
//!
//! A log is a directory of segments. Segment `N` is two files named by its first sequence,
//! zero-padded to 20 digits: `N.log`, framed records (see [`record`]), and `N.index`, one
//! fixed-width entry per record (see [`index`]). Sequences start at 1, are assigned at append and
//! are dense across segments: segment `N+1` starts where `N` ends.
//!
//! # Invariants
//!
//! - Segments MUST be preallocated with real blocks (`posix_fallocate`, never sparse) before they
//!   are mapped: a full disk is then an error when a segment is created, never a `SIGBUS` or a
//!   failed write later. Appends MUST NOT extend a file.
//! - Appends are written with `pwrite` and made durable with `fdatasync`; the maps serve reads and
//!   recovery (writing through the map and `msync` amplified writes 35-49x on ext4 here).
//! - A request MUST be acknowledged only after the `fdatasync` that covers all of its records has
//!   returned, under the `always` policy. `interval:<ms>` acks after the write and syncs at most
//!   that long afterwards; `never` leaves it to the kernel.
//! - Readers MUST see only published records: the writer publishes (`visible`) after the flush, so
//!   a record a reader saw never vanishes in a crash.
//! - A request's records MUST land in one segment; a request is all-or-nothing.
//! - Only sealed segments are deleted by retention; the active segment never is.
//! - On open, sealed segments MUST check completely; a torn tail of the active segment MAY be
//!   cleared (it was never acknowledged); any other damage MUST stop the open with the file and
//!   byte offset (see [`recovery`] and [`scan`]).
//!
//! # Protocol
//!
//! - **Write**: producers send encoded events ([`Batch`]) to the writer thread ([`writer`]),
//!   which encodes every waiting request's frames into one buffer, writes it and the index entries
//!   with one `pwrite` each, syncs once, publishes, then answers all (group commit).
//! - **Roll**: when a request does not fit, the active segment is sealed (flushed, truncated to
//!   its used length, synced) and then the next one is created (allocated under a `.tmp` name,
//!   renamed, directory synced).
//! - **Read**: find the segment by base sequence, the entry in its index, check the frame's
//!   checksum (fail closed), copy the body out.
//! - **Delete**: retention removes the oldest sealed segments by age of their newest record or by
//!   total size, under the segment list's write lock; readers holding a segment keep its map.

pub mod batch;
pub mod error;
pub mod index;
pub mod io;
pub mod record;
pub mod recovery;
pub mod retention;
pub mod scan;
pub mod segment;
pub mod verify;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, oneshot, watch};

pub use batch::Batch;
pub use error::LogError;
pub use io::{Clock, FaultyIo, Io, ManualClock, RealIo, SystemClock};
pub use retention::{Retention, RetentionReport};
use segment::Segment;
use writer::{Cmd, Writer};

/// When an append counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Flush before every acknowledgement (group commit shares one flush among concurrent appends).
    #[default]
    Always,
    /// Acknowledge after the copy; flush at most this long afterwards.
    Interval(Duration),
    /// Acknowledge after the copy; let the kernel write back.
    Never,
}

impl FsyncPolicy {
    /// Parses `always`, `never`, or `interval:<ms>` (a bare number of milliseconds, or a duration
    /// with a unit such as `interval:250ms`).
    pub fn parse(s: &str) -> Result<FsyncPolicy, String> {
        let t = s.trim();
        match t {
            "always" => return Ok(FsyncPolicy::Always),
            "never" => return Ok(FsyncPolicy::Never),
            _ => {}
        }
        let Some(rest) = t.strip_prefix("interval:") else {
            return Err(format!(
                "{s:?} is not an fsync policy: use always, never or interval:<ms>"
            ));
        };
        let d = match rest.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => crate::units::parse_duration(rest).map_err(|e| e.to_string())?,
        };
        if d.is_zero() {
            return Err("fsync interval must be above zero (use always)".to_owned());
        }
        Ok(FsyncPolicy::Interval(d))
    }
}

impl std::fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsyncPolicy::Always => write!(f, "always"),
            FsyncPolicy::Never => write!(f, "never"),
            FsyncPolicy::Interval(d) => write!(f, "interval:{}", d.as_millis()),
        }
    }
}

/// How a log is laid out and made durable.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Size of a segment's `.log` file.
    pub segment_bytes: u64,
    /// Entries in a segment's index; 0 picks `segment_bytes / 256` (at least 1,024).
    pub index_entries: u64,
    /// When appends are durable.
    pub fsync: FsyncPolicy,
    /// Bytes of appends allowed to wait for the writer before producers wait (backpressure).
    pub max_pending_bytes: u64,
    /// The first sequence of a new log.
    pub first_sequence: u64,
    /// Name used in metrics and logs (the bus name).
    pub label: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 128 << 20,
            index_entries: 0,
            fsync: FsyncPolicy::Always,
            max_pending_bytes: 64 << 20,
            first_sequence: 1,
            label: String::new(),
        }
    }
}

impl LogConfig {
    /// Index entries per segment.
    pub fn index_entries(&self) -> u64 {
        if self.index_entries > 0 {
            self.index_entries
        } else {
            (self.segment_bytes / 256).max(1024)
        }
    }

    fn check(&self) -> Result<(), LogError> {
        if self.segment_bytes < 4096 {
            return Err(LogError::Config(
                "segment size must be at least 4KiB".to_owned(),
            ));
        }
        if self.first_sequence == 0 {
            return Err(LogError::Config("sequences start at 1 or above".to_owned()));
        }
        Ok(())
    }
}

/// The result of an append: the request's records hold sequences `first .. first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Sequence of the first record.
    pub first: u64,
    /// Number of records.
    pub count: usize,
    /// Ingestion time given to the records, microseconds since the epoch.
    pub timestamp: i64,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence.
    pub sequence: u64,
    /// Ingestion time, microseconds since the epoch.
    pub timestamp: i64,
    /// The event in structured JSON, exactly as stored.
    pub body: Vec<u8>,
}

/// The answer to a read of one sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The record.
    Found(Record),
    /// Deleted by retention; the oldest retained sequence is given.
    Expired { first: u64 },
    /// Not written yet; the next sequence to be written is given.
    NotYet { next: u64 },
}

pub(crate) struct Shared {
    dir: PathBuf,
    cfg: LogConfig,
    segments: RwLock<Vec<Arc<Segment>>>,
    /// Records below this sequence are readable.
    visible: AtomicU64,
    /// Tells tailing readers (the delivery dispatcher) the new `visible` after each publish.
    tail: watch::Sender<u64>,
    /// Why the log stopped accepting appends; `has_failed` is its lock-free fast path, checked
    /// on every append.
    failed: Mutex<Option<String>>,
    has_failed: AtomicBool,
    clock: Arc<dyn Clock>,
    io: Arc<dyn Io>,
}

impl Shared {
    fn segments(&self) -> RwLockReadGuard<'_, Vec<Arc<Segment>>> {
        self.segments.read().unwrap_or_else(|p| p.into_inner())
    }
    fn segments_mut(&self) -> RwLockWriteGuard<'_, Vec<Arc<Segment>>> {
        self.segments.write().unwrap_or_else(|p| p.into_inner())
    }
    fn fail(&self, why: String) {
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.has_failed.store(true, Ordering::Release);
    }
    fn failure(&self) -> Option<String> {
        if !self.has_failed.load(Ordering::Acquire) {
            return None;
        }
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A durable, ordered log of events. Cheap to share behind an `Arc`.
pub struct Log {
    shared: Arc<Shared>,
    tx: Mutex<Option<mpsc::Sender<Cmd>>>,
    pending: Arc<Semaphore>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering as described in [`recovery`].
    pub fn open(dir: &Path, cfg: LogConfig) -> Result<Log, LogError> {
        Log::open_with(dir, cfg, Arc::new(SystemClock), Arc::new(RealIo))
    }

    /// [`Log::open`] with an explicit clock and filesystem seam.
    pub fn open_with(
        dir: &Path,
        cfg: LogConfig,
        clock: Arc<dyn Clock>,
        io: Arc<dyn Io>,
    ) -> Result<Log, LogError> {
        cfg.check()?;
        let opened = recovery::open(dir, &cfg, &*io)?;
        let permits = usize::try_from(cfg.max_pending_bytes)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            visible: AtomicU64::new(opened.next_seq),
            tail: watch::Sender::new(opened.next_seq),
            segments: RwLock::new(opened.segments.clone()),
            failed: Mutex::new(None),
            has_failed: AtomicBool::new(false),
            cfg,
            clock,
            io,
        });
        let writer = Writer::new(shared.clone(), &opened)?;
        let (tx, rx) = mpsc::channel();
        let name = format!("log-{}", shared.cfg.label);
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || writer.run(rx))
            .map_err(|e| LogError::io("spawn writer for", dir, e))?;
        Ok(Log {
            shared,
            tx: Mutex::new(Some(tx)),
            pending: Arc::new(Semaphore::new(permits.max(1))),
            writer: Mutex::new(Some(handle)),
        })
    }

    /// Appends encoded events (structured JSON) as one atomic request; resolves once they are
    /// durable under the fsync policy.
    pub async fn append(&self, batch: impl Into<Batch>) -> Result<Appended, LogError> {
        let batch = batch.into();
        let want = u32::try_from(batch.bytes().max(1))
            .unwrap_or(u32::MAX)
            .min(self.pending_capacity());
        let _permit = self
            .pending
            .acquire_many(want)
            .await
            .map_err(|_| LogError::Closed)?;
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::Append {
            batch,
            enqueued: Instant::now(),
            reply,
        };
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let tx = tx.as_ref().ok_or(LogError::Closed)?;
            tx.send(cmd).map_err(|_| LogError::Closed)?;
        }
        // The batch comes back so that its buffer is reused on this thread (see `Batch`).
        let (result, batch) = rx.await.map_err(|_| LogError::Closed)?;
        batch.recycle();
        result
    }

    fn pending_capacity(&self) -> u32 {
        u32::try_from(
            self.shared
                .cfg
                .max_pending_bytes
                .clamp(1, Semaphore::MAX_PERMITS as u64),
        )
        .unwrap_or(u32::MAX)
    }

    /// Flushes everything, stops the writer, and waits for it. Later appends fail with `Closed`.
    pub fn close(&self) -> Result<(), LogError> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut result = Ok(());
        if let Some(tx) = tx {
            // A std channel, not a oneshot: close() may run inside an async runtime (on drop).
            let (reply, rx) = mpsc::sync_channel(1);
            if tx.send(Cmd::Close { reply }).is_ok() {
                result = rx.recv().unwrap_or(Ok(()));
            }
        }
        self.pending.close();
        if let Some(h) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
        result
    }

    /// The directory of this log.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The oldest retained sequence (equal to [`Log::next_sequence`] when the log is empty).
    pub fn first_sequence(&self) -> u64 {
        self.shared
            .segments()
            .first()
            .map_or(self.next_sequence(), |s| s.base)
    }

    /// The sequence the next append will get; everything below is readable.
    pub fn next_sequence(&self) -> u64 {
        self.shared.visible.load(Ordering::Acquire)
    }

    /// Watches [`Log::next_sequence`]: the receiver sees every change (coalesced), so a reader
    /// can tail the log without polling.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.tail.subscribe()
    }

    /// Bytes of records retained.
    pub fn retained_bytes(&self) -> u64 {
        self.shared
            .segments()
            .iter()
            .map(|s| s.bytes.load(Ordering::Acquire))
            .sum()
    }

    /// Reads the record at `sequence`.
    pub fn get(&self, sequence: u64) -> Result<Lookup, LogError> {
        let next = self.next_sequence();
        if sequence >= next {
            return Ok(Lookup::NotYet { next });
        }
        let segs = self.shared.segments();
        let i = segs.partition_point(|s| s.base <= sequence);
        if i == 0 {
            let first = segs.first().map_or(next, |s| s.base);
            return Ok(Lookup::Expired { first });
        }
        let seg = segs[i - 1].clone();
        drop(segs);
        read_record(&seg, sequence).map(Lookup::Found)
    }

    /// Reads up to `limit` records with sequences above `after`, stopping early once `max_bytes`
    /// of bodies are collected (at least one record is returned if any exists).
    pub fn read_after(
        &self,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, LogError> {
        let next = self.next_sequence();
        let mut seq = after.saturating_add(1).max(self.first_sequence());
        let segs: Vec<Arc<Segment>> = self.shared.segments().clone();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while seq < next && out.len() < limit && (bytes < max_bytes || out.is_empty()) {
            let i = segs.partition_point(|s| s.base <= seq);
            let Some(seg) = i.checked_sub(1).and_then(|i| segs.get(i)) else {
                break;
            };
            let rec = read_record(seg, seq)?;
            bytes += rec.body.len();
            out.push(rec);
            seq += 1;
        }
        Ok(out)
    }

    /// The first sequence whose ingestion time is at or after `micros` (the next sequence if none).
    pub fn seek_time(&self, micros: i64) -> u64 {
        let next = self.next_sequence();
        let segs = self.shared.segments();
        for seg in segs.iter() {
            let count = seg
                .count
                .load(Ordering::Acquire)
                .min(next.saturating_sub(seg.base));
            if count == 0 || seg.last_ts.load(Ordering::Acquire) < micros {
                continue;
            }
            let (mut lo, mut hi) = (0u64, count);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if seg.entry(mid).timestamp < micros {
                    lo = mid + 1
                } else {
                    hi = mid
                }
            }
            return seg.base + lo;
        }
        next
    }

    /// Applies a retention policy now, deleting the oldest sealed segments that fall outside it.
    pub fn enforce_retention(&self, policy: &Retention) -> Result<RetentionReport, LogError> {
        retention::enforce(&self.shared, policy)
    }

    /// Deletes the oldest sealed segments whose records are all below `before` (their reader is
    /// done with them); returns the oldest sequence still retained.
    pub fn release_before(&self, before: u64) -> Result<u64, LogError> {
        retention::release(&self.shared, before)
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn read_record(seg: &Segment, sequence: u64) -> Result<Record, LogError> {
    let i = sequence - seg.base;
    let corrupt = |offset: u64, reason: String| LogError::Corrupt {
        path: seg.log_path.clone(),
        offset,
        reason,
    };
    if i >= seg.count.load(Ordering::Acquire) {
        return Err(LogError::Corrupt {
            path: seg.index_path.clone(),
            offset: i * index::ENTRY_LEN as u64,
            reason: format!("sequence {sequence} is not in its segment"),
        });
    }
    let e = seg.entry(i);
    if e.sequence != sequence {
        return Err(LogError::Corrupt {
            path: seg.index_path.clone(),
            offset: i * index::ENTRY_LEN as u64,
            reason: format!(
                "index entry holds sequence {} where {sequence} was expected",
                e.sequence
            ),
        });
    }
    let end = seg.bytes.load(Ordering::Acquire);
    if e.offset + record::FRAME_OVERHEAD as u64 > end {
        return Err(corrupt(
            e.offset,
            "index points past the end of the records".to_owned(),
        ));
    }
    // SAFETY: the range is below the published end, which the writer never rewrites.
    let buf = unsafe { seg.log_slice(e.offset as usize, (end - e.offset) as usize) };
    let h = record::decode(buf).map_err(|f| corrupt(e.offset, f.to_string()))?;
    if h.sequence != sequence {
        return Err(corrupt(
            e.offset,
            format!(
                "record holds sequence {} where {sequence} was expected",
                h.sequence
            ),
        ));
    }
    Ok(Record {
        sequence,
        timestamp: h.timestamp,
        body: buf[record::FRAME_OVERHEAD..h.frame_len()].to_vec(),
    })
}

#[cfg(test)]
mod tests;
