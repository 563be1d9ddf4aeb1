//! Offline verification of a log directory (`railyard log verify`): the same checks as opening,
//! read-only, reporting instead of repairing.
//!
//! It maps files read-only and changes nothing, so it is safe to run beside a stopped server and
//! on a copy of a damaged directory.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::error::LogError;
use super::recovery::list_segments;
use super::scan::{self, Tail};
use super::segment::{index_name, log_name};

/// The first problem found in a log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The damaged file.
    pub path: PathBuf,
    /// Byte offset of the first bad byte.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Segments checked.
    pub segments: usize,
    /// Valid records found.
    pub records: u64,
    /// Lowest and highest sequence found.
    pub range: Option<(u64, u64)>,
    /// A torn tail in the active segment (repaired automatically on the next start).
    pub torn_tail: Option<Damage>,
    /// The first damage that would stop the log from opening.
    pub damage: Option<Damage>,
}

fn map(path: &Path) -> Result<Option<Mmap>, LogError> {
    let f = File::open(path).map_err(|e| LogError::io("open", path, e))?;
    if f.metadata()
        .map_err(|e| LogError::io("stat", path, e))?
        .len()
        == 0
    {
        return Ok(None);
    }
    // SAFETY: read-only map of a file no one writes while verify runs (the server is stopped).
    let m = unsafe { Mmap::map(&f) }.map_err(|e| LogError::io("mmap", path, e))?;
    Ok(Some(m))
}

/// Checks every segment and index in `dir`, stopping at the first damage.
pub fn verify(dir: &Path) -> Result<Report, LogError> {
    let bases = list_segments(dir)?;
    let mut report = Report::default();
    let mut expect: Option<u64> = None;
    for (n, &base) in bases.iter().enumerate() {
        let last = n + 1 == bases.len();
        let log_path = dir.join(log_name(base));
        let index_path = dir.join(index_name(base));
        report.segments += 1;
        let damage = |path: &Path, offset: usize, reason: String| Damage {
            path: path.to_path_buf(),
            offset: offset as u64,
            reason,
        };
        if let Some(want) = expect
            && base != want
        {
            report.damage = Some(damage(
                &log_path,
                0,
                format!("segment starts at sequence {base}; {want} expected"),
            ));
            return Ok(report);
        }
        let log = map(&log_path)?;
        let buf: &[u8] = log.as_deref().unwrap_or(&[]);
        let s = scan::scan_log(buf, base);
        if last {
            match scan::classify_tail(buf, &s) {
                Tail::Clean => {}
                Tail::Torn { offset, reason, .. } => {
                    report.torn_tail = Some(damage(&log_path, offset, reason))
                }
                Tail::Damaged { offset, reason } => {
                    report.damage = Some(damage(&log_path, offset, reason));
                    return Ok(report);
                }
            }
        } else {
            if let Err((at, why)) = scan::check_sealed(buf, &s) {
                report.damage = Some(damage(&log_path, at, why));
                return Ok(report);
            }
            let index = if index_path.exists() {
                map(&index_path)?
            } else {
                None
            };
            let idx: &[u8] = index.as_deref().unwrap_or(&[]);
            if let Err((at, why)) = scan::check_index(idx, &s.entries) {
                report.damage = Some(damage(&index_path, at, why));
                return Ok(report);
            }
        }
        let count = s.entries.len() as u64;
        report.records += count;
        if count > 0 {
            let lo = report.range.map_or(base, |(lo, _)| lo);
            report.range = Some((lo, base + count - 1));
        }
        expect = Some(base + count);
    }
    Ok(report)
}
