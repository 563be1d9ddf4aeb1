//! The data directory: its layout and the lock that keeps a second server out of it.
//!
//! ```text
//! <data-dir>/LOCK                 held (flock) by the running server
//! <data-dir>/meta/                sled: buses and, later, rules, connections, sources
//! <data-dir>/buses/<bus>/log/     the bus's segments (see crate::log)
//! ```
//! Two servers appending to one log would interleave sequences; the exclusive lock makes the
//! second one fail at start with a clear message instead.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::log::LogError;

/// An opened, locked data directory. The lock is released when this is dropped.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed and takes its lock.
    pub fn open(root: &Path) -> Result<DataDir, LogError> {
        std::fs::create_dir_all(root.join("buses"))
            .map_err(|e| LogError::io("create directory", root, e))?;
        let lock_path = root.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| LogError::io("open", &lock_path, e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(LogError::Locked { path: lock_path });
            }
            return Err(LogError::io("lock", &lock_path, e));
        }
        Ok(DataDir {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the metadata store lives.
    pub fn meta_dir(&self) -> PathBuf {
        self.root.join("meta")
    }

    /// Where a bus's log lives.
    pub fn bus_log_dir(&self, bus: &str) -> PathBuf {
        self.root.join("buses").join(bus).join("log")
    }

    /// Where a bus's files live.
    pub fn bus_dir(&self, bus: &str) -> PathBuf {
        self.root.join("buses").join(bus)
    }
}

/// The log directories of every bus under a data directory (for offline tools).
pub fn bus_log_dirs(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let buses = root.join("buses");
    if !buses.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(&buses)? {
        let entry = entry?;
        let log = entry.path().join("log");
        if log.is_dir() {
            out.push((entry.file_name().to_string_lossy().into_owned(), log));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn second_open_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        assert!(matches!(
            DataDir::open(dir.path()),
            Err(LogError::Locked { .. })
        ));
        drop(first);
        DataDir::open(dir.path()).unwrap();
    }
}
