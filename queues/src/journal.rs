//! The consumer-state journal of one queue and its group commit.
//!
//! File: frames `len u32 | crc32c u32 | payload` (little endian), each payload a run of the
//! records of [`crate::state`]. Replay stops at the first short or bad frame and cuts the file
//! there: a torn tail was never acknowledged to anyone.
//!
//! Group commit: changes append records to the in-memory `pending` buffer under the queue's
//! lock. One thread per queue (the *committer*) takes the whole buffer, writes it as one frame,
//! `fdatasync`s once (per the fsync policy) and publishes the generation now durable. An ack waits
//! until its record's generation is published, so concurrent acks share one flush. Receives do
//! not wait: their records go out with the next flush someone waits for, or within
//! [`FLUSH_EVERY`] at the latest.
//!
//! Compaction: once the file is over [`COMPACT_BYTES`] and four times its last snapshot, the
//! committer writes the records of the live state alone (see [`State::snapshot`]) to a temporary
//! file, syncs it, renames it over the journal and syncs the directory. The snapshot is taken
//! under the lock together with the pending buffer it supersedes, so the records appended after
//! it go to the new file.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bus::log::FsyncPolicy;
use tokio::sync::watch;

use crate::error::QueueError;
use crate::state::State;

/// Longest a receive's record waits in memory.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Journal size above which it is compacted (when mostly garbage).
const COMPACT_BYTES: u64 = 16 << 20;

/// The journal file.
#[derive(Debug)]
pub(crate) struct JournalFile {
    path: PathBuf,
    file: File,
    len: u64,
    /// Size of the last snapshot written (compaction waits for 4x that).
    snapshot_len: u64,
}

impl JournalFile {
    /// Opens (or creates) the journal and returns its frames' payloads.
    pub fn open(path: &Path) -> Result<(JournalFile, Vec<Vec<u8>>), QueueError> {
        let io = |c, e| QueueError::io(c, path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io("open", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io("read", e))?;
        let mut frames = Vec::new();
        let mut at = 0usize;
        while at + 8 <= bytes.len() {
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
                as usize;
            let crc =
                u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
            let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
                break;
            };
            if crc32c::crc32c(payload) != crc {
                break;
            }
            frames.push(payload.to_vec());
            at += 8 + len;
        }
        if at < bytes.len() {
            tracing::warn!(path = %path.display(), offset = at, dropped = bytes.len() - at, "queue journal: cut a torn tail");
            file.set_len(at as u64).map_err(|e| io("truncate", e))?;
            file.sync_data().map_err(|e| io("sync", e))?;
        }
        Ok((
            JournalFile {
                path: path.to_path_buf(),
                file,
                len: at as u64,
                snapshot_len: 0,
            },
            frames,
        ))
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(8 + payload.len());
        f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        f.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// Appends one frame (durable after [`JournalFile::sync`]).
    pub fn append(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let f = JournalFile::frame(payload);
        self.file.write_all_at(&f, self.len)?;
        self.len += f.len() as u64;
        Ok(())
    }

    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    fn wants_compaction(&self) -> bool {
        self.len > COMPACT_BYTES && self.len > self.snapshot_len.saturating_mul(4)
    }

    /// Replaces the file with one frame holding `snapshot`, atomically and durably.
    pub fn rewrite(&mut self, snapshot: &[u8]) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let f = JournalFile::frame(snapshot);
        file.write_all_at(&f, 0)?;
        file.sync_data()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        self.file = file;
        self.len = f.len() as u64;
        self.snapshot_len = self.len;
        Ok(())
    }
}

/// What the committer has made durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Durable {
    /// Records durable (under the fsync policy) through this generation.
    pub through: u64,
    /// The journal failed: nothing more becomes durable.
    pub failed: bool,
}

/// The state and what the committer needs, behind one lock.
#[derive(Debug)]
pub(crate) struct Locked {
    pub st: State,
    /// The highest generation someone waits to be durable.
    pub want: u64,
    pub closing: bool,
    pub failed: Option<String>,
}

/// Shared between the queue and its committer.
#[derive(Debug)]
pub(crate) struct Shared {
    locked: Mutex<Locked>,
    work: Condvar,
    pub durable: watch::Sender<Durable>,
}

impl Shared {
    pub fn new(st: State) -> Shared {
        let g = st.generation;
        Shared {
            locked: Mutex::new(Locked {
                st,
                want: 0,
                closing: false,
                failed: None,
            }),
            work: Condvar::new(),
            durable: watch::Sender::new(Durable {
                through: g,
                failed: false,
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Locked> {
        self.locked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for everything recorded so far to become durable; returns its generation.
    pub fn request(&self, l: &mut Locked) -> u64 {
        let g = l.st.generation;
        if g > l.want {
            l.want = g;
            self.work.notify_one();
        }
        g
    }

    /// Waits until generation `g` is durable.
    pub async fn wait(&self, g: u64) -> Result<(), QueueError> {
        let mut rx = self.durable.subscribe();
        let d = rx
            .wait_for(|d| d.through >= g || d.failed)
            .await
            .map_err(|_| QueueError::Closed)?;
        if d.through >= g {
            Ok(())
        } else {
            Err(QueueError::Failed(
                "the journal could not be written".into(),
            ))
        }
    }

    /// Stops the committer after a last flush.
    pub fn close(&self) {
        self.lock().closing = true;
        self.work.notify_one();
    }
}

/// The committer thread's loop; returns when the queue closes or the journal fails.
pub(crate) fn run(shared: Arc<Shared>, mut file: JournalFile, fsync: FsyncPolicy, name: String) {
    let mut last_flush = Instant::now();
    let mut last_sync = Instant::now();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let mut l = shared.lock();
        loop {
            let has = !l.st.pending.is_empty();
            let synced = shared.durable.borrow().through;
            if l.closing || (has && l.want > synced) || (has && last_flush.elapsed() >= FLUSH_EVERY)
            {
                break;
            }
            l = if has {
                let left = FLUSH_EVERY.saturating_sub(last_flush.elapsed());
                shared
                    .work
                    .wait_timeout(l, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            } else {
                shared.work.wait(l).unwrap_or_else(|p| p.into_inner())
            };
        }
        let closing = l.closing;
        let g = l.st.generation;
        let result = if file.wants_compaction() {
            let snap = l.st.snapshot();
            l.st.pending.clear();
            drop(l);
            let r = file.rewrite(&snap);
            if r.is_ok() {
                tracing::debug!(queue = %name, bytes = snap.len(), "queue journal compacted");
            }
            last_sync = Instant::now();
            r
        } else {
            std::mem::swap(&mut buf, &mut l.st.pending);
            drop(l);
            let mut r = Ok(());
            if !buf.is_empty() {
                r = file.append(&buf);
                buf.clear();
            }
            let sync_now = match fsync {
                FsyncPolicy::Always => true,
                FsyncPolicy::Interval(d) => closing || last_sync.elapsed() >= d,
                FsyncPolicy::Never => closing,
            };
            if r.is_ok() && sync_now {
                r = file.sync();
                last_sync = Instant::now();
            }
            r
        };
        last_flush = Instant::now();
        match result {
            Ok(()) => {
                shared.durable.send_modify(|d| d.through = d.through.max(g));
            }
            Err(e) => {
                tracing::error!(queue = %name, path = %file.path.display(), error = %e, "queue journal write failed: the queue stops taking changes");
                shared.lock().failed = Some(e.to_string());
                shared.durable.send_modify(|d| d.failed = true);
                return;
            }
        }
        if closing {
            let l = shared.lock();
            if l.st.pending.is_empty() {
                return;
            }
        }
    }
}
