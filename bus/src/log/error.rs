//! Errors of the log, classified by what the caller should do about them.

use std::path::PathBuf;

/// Opening, appending to or reading the log failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The disk is full: appends fail until space is freed; reads keep working.
    #[error("no space left on device for {path}")]
    DiskFull {
        /// The file that could not be allocated.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Stored data is damaged before the tail; the log refuses to guess.
    #[error("corrupt log: {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the first bad byte range found.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// An I/O error other than a full disk.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An earlier flush failed; the page cache may have dropped the data, so the log stops
    /// accepting appends until it is reopened (and recovered) rather than ack something not durable.
    #[error("log is failed after an earlier write error; restart to recover: {0}")]
    Failed(String),
    /// The request does not fit in a segment.
    #[error(
        "append of {bytes} bytes in {records} records does not fit in a segment of {segment_bytes} bytes"
    )]
    TooLarge {
        /// Bytes requested.
        bytes: u64,
        /// Records requested.
        records: usize,
        /// The configured segment size.
        segment_bytes: u64,
    },
    /// The log is closed (shutting down or the bus was deleted).
    #[error("log is closed")]
    Closed,
    /// Another process holds the data directory.
    #[error("data directory {path} is locked by another process")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The configuration cannot work.
    #[error("invalid log configuration: {0}")]
    Config(String),
}

impl LogError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> LogError {
        let path = path.into();
        if super::io::is_disk_full(&source) {
            LogError::DiskFull { path, source }
        } else {
            LogError::Io { op, path, source }
        }
    }
}
