//! Opening a log directory: check every sealed segment, repair a torn tail in the active one,
//! refuse to start on anything else.
//!
//! Opening is where "never silently lose an acked event" is decided. Sealed segments are checked
//! completely (records, checksums, density, index) because a flipped bit there is otherwise found
//! only when someone reads it; the active segment's torn tail (see [`super::scan`]) is cleared and
//! its index rebuilt from the records. Anything else stops the open with the file and offset.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::LogConfig;
use super::error::LogError;
use super::index::ENTRY_LEN;
use super::io::Io;
use super::scan::{self, Tail};
use super::segment::{self, Segment};

/// A log directory, checked and ready for the writer.
#[derive(Debug)]
pub struct Opened {
    /// All segments, oldest first; the last is active.
    pub segments: Vec<Arc<Segment>>,
    /// Byte offset of the next append in the active segment.
    pub write_pos: u64,
    /// Records in the active segment.
    pub active_count: u64,
    /// The next sequence to assign.
    pub next_seq: u64,
    /// Timestamp of the newest record (`i64::MIN` if none).
    pub last_ts: i64,
}

/// Lists the base sequences of the segments in `dir`, oldest first.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| LogError::io("list", dir, e))? {
        let entry = entry.map_err(|e| LogError::io("list", dir, e))?;
        let name = entry.file_name();
        if let Some(base) = name.to_str().and_then(segment::parse_log_name) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

fn remove_leftovers(dir: &Path) -> Result<(), LogError> {
    for entry in std::fs::read_dir(dir).map_err(|e| LogError::io("list", dir, e))? {
        let entry = entry.map_err(|e| LogError::io("list", dir, e))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(".tmp"))
        {
            let p = entry.path();
            std::fs::remove_file(&p).map_err(|e| LogError::io("remove", &p, e))?;
        }
    }
    Ok(())
}

fn corrupt(path: &Path, offset: usize, reason: String) -> LogError {
    LogError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    }
}

/// Opens (creating if needed) the log in `dir`.
pub fn open(dir: &Path, cfg: &LogConfig, io: &dyn Io) -> Result<Opened, LogError> {
    std::fs::create_dir_all(dir).map_err(|e| LogError::io("create directory", dir, e))?;
    remove_leftovers(dir)?;
    let bases = list_segments(dir)?;
    let Some((&last, sealed)) = bases.split_last() else {
        let seg = Segment::create(
            dir,
            cfg.first_sequence,
            cfg.segment_bytes,
            cfg.index_entries(),
            io,
        )?;
        return Ok(Opened {
            segments: vec![Arc::new(seg)],
            write_pos: 0,
            active_count: 0,
            next_seq: cfg.first_sequence,
            last_ts: i64::MIN,
        });
    };

    let mut segments = Vec::with_capacity(bases.len());
    let mut expect: Option<u64> = None;
    for &base in sealed {
        let seg = Segment::open(dir, base, None, io)?;
        check_continuity(&seg, expect)?;
        // SAFETY: no writer exists yet.
        let buf = unsafe { seg.log_slice(0, seg.log_capacity() as usize) };
        let s = scan::scan_log(buf, base);
        scan::check_sealed(buf, &s).map_err(|(at, why)| corrupt(&seg.log_path, at, why))?;
        // SAFETY: no writer exists yet.
        let idx = unsafe { seg.index_slice() };
        scan::check_index(idx, &s.entries)
            .map_err(|(at, why)| corrupt(&seg.index_path, at, why))?;
        publish(&seg, &s, true);
        expect = Some(base + s.entries.len() as u64);
        segments.push(Arc::new(seg));
    }

    let seg = Segment::open(
        dir,
        last,
        Some((cfg.segment_bytes, cfg.index_entries())),
        io,
    )?;
    check_continuity(&seg, expect)?;
    // SAFETY: no writer exists yet.
    let buf = unsafe { seg.log_slice(0, seg.log_capacity() as usize) };
    let s = scan::scan_log(buf, last);
    match scan::classify_tail(buf, &s) {
        Tail::Clean => {}
        Tail::Torn {
            offset,
            dirty_end,
            reason,
        } => {
            tracing::warn!(
                file = %seg.log_path.display(), offset, cleared = dirty_end - offset, %reason,
                "torn tail from an interrupted write cleared (it was never acknowledged)"
            );
            seg.zero_log(offset, dirty_end - offset);
            seg.flush_log(offset, dirty_end - offset)?;
        }
        Tail::Damaged { offset, reason } => return Err(corrupt(&seg.log_path, offset, reason)),
    }
    if s.entries.len() as u64 > seg.index_capacity() {
        return Err(corrupt(
            &seg.index_path,
            0,
            "index is too small for the records in the log".to_owned(),
        ));
    }
    // Rebuild the index of the active segment from its records: it is not flushed on the append
    // path, so it may lag or hold entries of records that were torn away.
    for (i, e) in s.entries.iter().enumerate() {
        seg.write_entry(i as u64, e);
    }
    // SAFETY: no writer exists yet.
    let stale = scan::nonzero_end(unsafe { seg.index_slice() }).div_ceil(ENTRY_LEN) as u64;
    seg.zero_entries(s.entries.len() as u64, stale);
    seg.flush_index(stale.max(s.entries.len() as u64))?;
    publish(&seg, &s, false);
    let last_ts = s.entries.last().map(|e| e.timestamp).or_else(|| {
        segments
            .last()
            .map(|p: &Arc<Segment>| p.last_ts.load(Ordering::Relaxed))
    });
    let opened = Opened {
        write_pos: s.end as u64,
        active_count: s.entries.len() as u64,
        next_seq: last + s.entries.len() as u64,
        last_ts: last_ts.unwrap_or(i64::MIN),
        segments: {
            segments.push(Arc::new(seg));
            segments
        },
    };
    Ok(opened)
}

fn check_continuity(seg: &Segment, expect: Option<u64>) -> Result<(), LogError> {
    match expect {
        Some(want) if seg.base != want => Err(corrupt(
            &seg.log_path,
            0,
            format!(
                "segment starts at sequence {} but the previous one ends before {want}",
                seg.base
            ),
        )),
        _ => Ok(()),
    }
}

fn publish(seg: &Segment, s: &scan::Scan, sealed: bool) {
    seg.count.store(s.entries.len() as u64, Ordering::Release);
    seg.bytes.store(s.end as u64, Ordering::Release);
    if let Some(e) = s.entries.last() {
        seg.last_ts.store(e.timestamp, Ordering::Release);
    }
    seg.sealed.store(sealed, Ordering::Release);
}
