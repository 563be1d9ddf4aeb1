//! Retention: deleting the oldest sealed segments by age and by size.
//!
//! Age is judged by a segment's newest record, so a segment goes only once everything in it is
//! older than the limit. Size counts record bytes of all retained segments (the active one too),
//! and deletes oldest-first while the total is over the limit. The active segment is never deleted,
//! so a bus always keeps its newest records, whatever the policy.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Shared;
use super::error::LogError;

/// A bus's retention policy. Unset limits do not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Delete segments whose newest record is older than this.
    pub max_age: Option<Duration>,
    /// Delete the oldest segments while the log holds more record bytes than this.
    pub max_bytes: Option<u64>,
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Segments deleted.
    pub segments: usize,
    /// Records deleted.
    pub records: u64,
    /// Bytes of records deleted.
    pub bytes: u64,
    /// The oldest sequence still retained.
    pub first_sequence: u64,
}

pub(crate) fn enforce(shared: &Shared, policy: &Retention) -> Result<RetentionReport, LogError> {
    let now = shared.clock.now_micros();
    let mut report = RetentionReport::default();
    let mut removed = Vec::new();
    {
        let mut segs = shared.segments_mut();
        let mut total: u64 = segs.iter().map(|s| s.bytes.load(Ordering::Acquire)).sum();
        while segs.len() > 1 {
            let oldest = &segs[0];
            if !oldest.sealed.load(Ordering::Acquire) {
                break;
            }
            let bytes = oldest.bytes.load(Ordering::Acquire);
            let too_old = policy.max_age.is_some_and(|age| {
                let newest = oldest.last_ts.load(Ordering::Acquire);
                now.saturating_sub(newest) > i64::try_from(age.as_micros()).unwrap_or(i64::MAX)
            });
            let too_big = policy.max_bytes.is_some_and(|max| total > max);
            if !(too_old || too_big) {
                break;
            }
            total -= bytes;
            report.segments += 1;
            report.records += oldest.count.load(Ordering::Acquire);
            report.bytes += bytes;
            removed.push(segs.remove(0));
        }
        report.first_sequence = segs.first().map_or(0, |s| s.base);
    }
    remove_files(shared, &removed)?;
    Ok(report)
}

/// Deletes the oldest sealed segments whose every record is below `before` (a consumer that is
/// done with them says so: the internal queues release what has been acknowledged). Returns the
/// oldest sequence still retained.
pub(crate) fn release(shared: &Shared, before: u64) -> Result<u64, LogError> {
    let mut removed = Vec::new();
    let first = {
        let mut segs = shared.segments_mut();
        while segs.len() > 1 {
            let oldest = &segs[0];
            let end = oldest.base + oldest.count.load(Ordering::Acquire);
            if !oldest.sealed.load(Ordering::Acquire) || end > before {
                break;
            }
            removed.push(segs.remove(0));
        }
        segs.first().map_or(0, |s| s.base)
    };
    remove_files(shared, &removed)?;
    Ok(first)
}

fn remove_files(
    shared: &Shared,
    removed: &[std::sync::Arc<super::Segment>],
) -> Result<(), LogError> {
    for seg in removed {
        for path in [&seg.log_path, &seg.index_path] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io("remove", path, e)),
            }
        }
        tracing::info!(segment = %seg.log_path.display(), "retention deleted segment");
    }
    if !removed.is_empty() {
        shared
            .io
            .sync_dir(&shared.dir)
            .map_err(|e| LogError::io("sync directory", &shared.dir, e))?;
    }
    Ok(())
}
