//! One segment: a preallocated, memory-mapped `.log` file and its `.index`.
//!
//! A segment is *active* while the writer appends to it and *sealed* once the next segment exists.
//! Sealing flushes both files and truncates them to their used length, so a sealed segment holds
//! exactly its records and index entries, with nothing after them.
//!
//! Memory safety: the maps are [`MmapRaw`], never `&mut [u8]`. The writer appends with `pwrite`
//! above the published position (recovery alone writes through the map, before any reader
//! exists); readers build shared slices only over records below it (see `Shared::visible` in the
//! parent module), which are never written again. Files are only truncated at seal time, below
//! which readers never read.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use memmap2::MmapRaw;

use super::error::LogError;
use super::index::{ENTRY_LEN, Entry};
use super::io::Io;

/// File name of a segment's log: the first sequence, zero-padded to 20 digits.
pub fn log_name(base: u64) -> String {
    format!("{base:020}.log")
}

/// File name of a segment's index.
pub fn index_name(base: u64) -> String {
    format!("{base:020}.index")
}

/// Parses `00000000000000000001.log` into its base sequence.
pub fn parse_log_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// A mapping that may be absent (a zero-length file cannot be mapped).
struct Map {
    raw: Option<MmapRaw>,
    len: usize,
}

impl Map {
    fn of(file: &File, path: &Path) -> Result<Map, LogError> {
        let len = file
            .metadata()
            .map_err(|e| LogError::io("stat", path, e))?
            .len() as usize;
        if len == 0 {
            return Ok(Map { raw: None, len: 0 });
        }
        let raw = MmapRaw::map_raw(file).map_err(|e| LogError::io("mmap", path, e))?;
        Ok(Map {
            raw: Some(raw),
            len,
        })
    }

    fn ptr(&self) -> *mut u8 {
        self.raw
            .as_ref()
            .map_or(std::ptr::null_mut(), |m| m.as_mut_ptr())
    }
}

/// A segment's files, maps and published counters.
pub struct Segment {
    /// Sequence of the first record.
    pub base: u64,
    /// Path of the `.log` file.
    pub log_path: PathBuf,
    /// Path of the `.index` file.
    pub index_path: PathBuf,
    log_file: File,
    index_file: File,
    log: Map,
    index: Map,
    /// Records published to readers.
    pub(crate) count: AtomicU64,
    /// Bytes of the published records.
    pub(crate) bytes: AtomicU64,
    /// Timestamp of the newest published record (`i64::MIN` when empty).
    pub(crate) last_ts: AtomicI64,
    /// Set once the next segment exists.
    pub(crate) sealed: AtomicBool,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("base", &self.base)
            .field("count", &self.count.load(Ordering::Relaxed))
            .field("sealed", &self.sealed.load(Ordering::Relaxed))
            .finish()
    }
}

fn open_rw(path: &Path, create: bool) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
        .map_err(|e| LogError::io("open", path, e))
}

impl Segment {
    /// Creates a new, empty segment of `log_bytes` and `index_entries` capacity.
    ///
    /// The files are allocated under `.tmp` names and renamed only once fully allocated, so a crash
    /// or a full disk never leaves a half-made segment under a real name.
    pub fn create(
        dir: &Path,
        base: u64,
        log_bytes: u64,
        index_entries: u64,
        io: &dyn Io,
    ) -> Result<Segment, LogError> {
        let log_path = dir.join(log_name(base));
        let index_path = dir.join(index_name(base));
        let log_tmp = dir.join(format!("{}.tmp", log_name(base)));
        let index_tmp = dir.join(format!("{}.tmp", index_name(base)));
        let made = (|| {
            let lf = open_rw(&log_tmp, true)?;
            lf.set_len(0)
                .map_err(|e| LogError::io("truncate", &log_tmp, e))?;
            io.allocate(&lf, log_bytes)
                .map_err(|e| LogError::io("allocate", &log_tmp, e))?;
            let xf = open_rw(&index_tmp, true)?;
            xf.set_len(0)
                .map_err(|e| LogError::io("truncate", &index_tmp, e))?;
            io.allocate(&xf, index_entries * ENTRY_LEN as u64)
                .map_err(|e| LogError::io("allocate", &index_tmp, e))?;
            Ok::<_, LogError>((lf, xf))
        })();
        let (lf, xf) = match made {
            Ok(files) => files,
            Err(e) => {
                let _ = std::fs::remove_file(&log_tmp);
                let _ = std::fs::remove_file(&index_tmp);
                return Err(e);
            }
        };
        // The index first: a `.log` without its `.index` is repaired on open, the reverse is not
        // reachable.
        std::fs::rename(&index_tmp, &index_path)
            .map_err(|e| LogError::io("rename", &index_tmp, e))?;
        std::fs::rename(&log_tmp, &log_path).map_err(|e| LogError::io("rename", &log_tmp, e))?;
        io.sync_dir(dir)
            .map_err(|e| LogError::io("sync directory", dir, e))?;
        Segment::from_files(base, log_path, index_path, lf, xf)
    }

    /// Opens an existing segment. For the active segment, `extend_to` gives the capacities to
    /// allocate back (a crash may have happened after sealing, or a file may have been cut short);
    /// if the disk is full the segment opens at its current size and the next append rolls.
    pub fn open(
        dir: &Path,
        base: u64,
        extend_to: Option<(u64, u64)>,
        io: &dyn Io,
    ) -> Result<Segment, LogError> {
        let log_path = dir.join(log_name(base));
        let index_path = dir.join(index_name(base));
        let lf = open_rw(&log_path, false)?;
        let xf = match extend_to {
            Some(_) => open_rw(&index_path, true)?,
            None => open_rw(&index_path, false)?,
        };
        if let Some((log_bytes, index_entries)) = extend_to {
            let want_index = index_entries * ENTRY_LEN as u64;
            for (file, path, want) in [(&lf, &log_path, log_bytes), (&xf, &index_path, want_index)]
            {
                let have = file
                    .metadata()
                    .map_err(|e| LogError::io("stat", path, e))?
                    .len();
                if have < want {
                    match io.allocate(file, want) {
                        Ok(()) => {}
                        Err(e) if super::io::is_disk_full(&e) => {
                            tracing::warn!(file = %path.display(), "disk full: active segment opened at its current size");
                        }
                        Err(e) => return Err(LogError::io("allocate", path, e)),
                    }
                }
            }
        }
        Segment::from_files(base, log_path, index_path, lf, xf)
    }

    fn from_files(
        base: u64,
        log_path: PathBuf,
        index_path: PathBuf,
        lf: File,
        xf: File,
    ) -> Result<Segment, LogError> {
        let log = Map::of(&lf, &log_path)?;
        let index = Map::of(&xf, &index_path)?;
        Ok(Segment {
            base,
            log_path,
            index_path,
            log_file: lf,
            index_file: xf,
            log,
            index,
            count: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last_ts: AtomicI64::new(i64::MIN),
            sealed: AtomicBool::new(false),
        })
    }

    /// Capacity of the log file in bytes.
    pub fn log_capacity(&self) -> u64 {
        self.log.len as u64
    }

    /// Capacity of the index in entries.
    pub fn index_capacity(&self) -> u64 {
        (self.index.len / ENTRY_LEN) as u64
    }

    /// The whole log file. Only for single-threaded use (recovery, verify) or below the
    /// published position.
    ///
    /// # Safety
    /// No other thread may write the returned range while the slice lives.
    pub unsafe fn log_slice(&self, offset: usize, len: usize) -> &[u8] {
        assert!(
            offset
                .checked_add(len)
                .is_some_and(|end| end <= self.log.len),
            "log read out of bounds"
        );
        if len == 0 {
            return &[];
        }
        // SAFETY: in bounds (checked above) of a live mapping; the caller guarantees no writer.
        unsafe { std::slice::from_raw_parts(self.log.ptr().add(offset), len) }
    }

    /// The whole index file, under the same rule as [`Segment::log_slice`].
    ///
    /// # Safety
    /// No other thread may write the returned range while the slice lives.
    pub unsafe fn index_slice(&self) -> &[u8] {
        if self.index.len == 0 {
            return &[];
        }
        // SAFETY: the whole live mapping; the caller guarantees no writer.
        unsafe { std::slice::from_raw_parts(self.index.ptr(), self.index.len) }
    }

    /// Reads index entry `i` (which must be below the published count or written by the caller).
    pub fn entry(&self, i: u64) -> Entry {
        let at = i as usize * ENTRY_LEN;
        assert!(at + ENTRY_LEN <= self.index.len, "index read out of bounds");
        // SAFETY: in bounds; entries below the published count are never rewritten.
        let bytes = unsafe { std::slice::from_raw_parts(self.index.ptr().add(at), ENTRY_LEN) };
        Entry::decode(bytes)
    }

    /// Writes encoded frames at `offset` of the log with `pwrite`. Only the writer calls this,
    /// above the published position.
    ///
    /// Appends go through `pwrite`, not the map: on ext4 a flush of memory-mapped writes wrote
    /// back about 1 MiB per flush however few bytes changed (35-49x amplification measured on this
    /// project's machine), while `pwrite` + `fdatasync` writes what changed. Reads still go through
    /// the map, which shares the page cache with `pwrite`.
    pub(crate) fn append_log(&self, offset: u64, frames: &[u8]) -> Result<(), LogError> {
        use std::os::unix::fs::FileExt;
        if offset + frames.len() as u64 > self.log.len as u64 {
            return Err(LogError::Corrupt {
                path: self.log_path.clone(),
                offset,
                reason: "append past the end of the segment".to_owned(),
            });
        }
        self.log_file
            .write_all_at(frames, offset)
            .map_err(|e| LogError::io("write", &self.log_path, e))
    }

    /// Writes encoded index entries starting at entry `first` with `pwrite`.
    pub(crate) fn append_entries(&self, first: u64, entries: &[u8]) -> Result<(), LogError> {
        use std::os::unix::fs::FileExt;
        let at = first * ENTRY_LEN as u64;
        if at + entries.len() as u64 > self.index.len as u64 {
            return Err(LogError::Corrupt {
                path: self.index_path.clone(),
                offset: at,
                reason: "index append past the end of the file".to_owned(),
            });
        }
        self.index_file
            .write_all_at(entries, at)
            .map_err(|e| LogError::io("write", &self.index_path, e))
    }

    /// Makes the log's written data durable (`fdatasync`).
    pub(crate) fn sync_log(&self) -> Result<(), LogError> {
        self.log_file
            .sync_data()
            .map_err(|e| LogError::io("fdatasync", &self.log_path, e))
    }

    /// Writes index entry `i`.
    pub(crate) fn write_entry(&self, i: u64, e: &Entry) {
        let at = i as usize * ENTRY_LEN;
        assert!(
            at + ENTRY_LEN <= self.index.len,
            "index write out of bounds"
        );
        let bytes = e.encode();
        // SAFETY: in bounds; only the writer writes entries, and never published ones.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.index.ptr().add(at), ENTRY_LEN)
        }
    }

    /// Zeroes `len` log bytes at `offset` (clearing a torn tail).
    pub(crate) fn zero_log(&self, offset: usize, len: usize) {
        assert!(offset + len <= self.log.len, "log write out of bounds");
        // SAFETY: in bounds; called only while no reader can see the range.
        unsafe { std::ptr::write_bytes(self.log.ptr().add(offset), 0, len) }
    }

    /// Zeroes index entries `from..to`.
    pub(crate) fn zero_entries(&self, from: u64, to: u64) {
        let (a, b) = (
            from as usize * ENTRY_LEN,
            (to as usize * ENTRY_LEN).min(self.index.len),
        );
        if a >= b {
            return;
        }
        // SAFETY: in bounds; called only while no reader can see the range.
        unsafe { std::ptr::write_bytes(self.index.ptr().add(a), 0, b - a) }
    }

    /// Makes `len` log bytes at `offset` durable after recovery edited them through the map
    /// (`msync` of the range).
    pub(crate) fn flush_log(&self, offset: usize, len: usize) -> Result<(), LogError> {
        match &self.log.raw {
            Some(m) if len > 0 => m
                .flush_range(offset, len)
                .map_err(|e| LogError::io("flush", &self.log_path, e)),
            _ => Ok(()),
        }
    }

    /// Makes the first `entries` index entries durable.
    pub(crate) fn flush_index(&self, entries: u64) -> Result<(), LogError> {
        let len = (entries as usize * ENTRY_LEN).min(self.index.len);
        match &self.index.raw {
            Some(m) if len > 0 => m
                .flush_range(0, len)
                .map_err(|e| LogError::io("flush", &self.index_path, e)),
            _ => Ok(()),
        }
    }

    /// Seals the segment: flushes both files, truncates them to `used_bytes` and `entries`, and
    /// syncs them. The maps stay valid for everything below the new ends.
    pub(crate) fn seal(&self, used_bytes: u64, entries: u64) -> Result<(), LogError> {
        self.log_file
            .set_len(used_bytes)
            .map_err(|e| LogError::io("truncate", &self.log_path, e))?;
        self.index_file
            .set_len(entries * ENTRY_LEN as u64)
            .map_err(|e| LogError::io("truncate", &self.index_path, e))?;
        self.log_file
            .sync_all()
            .map_err(|e| LogError::io("sync", &self.log_path, e))?;
        self.index_file
            .sync_all()
            .map_err(|e| LogError::io("sync", &self.index_path, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(log_name(1), "00000000000000000001.log");
        assert_eq!(parse_log_name(&log_name(12345)), Some(12345));
        assert_eq!(parse_log_name("1.log"), None);
        assert_eq!(parse_log_name("0000000000000000000x.log"), None);
        assert_eq!(parse_log_name("00000000000000000001.index"), None);
    }
}
