//! The seams between the log and the machine: file allocation, directory sync and the clock.
//!
//! Everything the log does to the filesystem that can fail in an interesting way (a full disk
//! while allocating a segment, a directory entry that is not yet durable) goes through [`Io`], and
//! every timestamp comes from [`Clock`]. Tests swap in [`FaultyIo`] to make allocation fail with
//! `ENOSPC`, and a [`ManualClock`] to age segments past their retention without sleeping.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// File operations with failure modes the log must handle.
pub trait Io: Send + Sync + std::fmt::Debug {
    /// Allocates `len` bytes of real blocks for `file` (never a sparse hole): a full disk must be
    /// an error here rather than a `SIGBUS` on a later write through the memory map.
    fn allocate(&self, file: &File, len: u64) -> io::Result<()>;
    /// Makes the directory's entries (created, renamed, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealIo;

impl Io for RealIo {
    fn allocate(&self, file: &File, len: u64) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let len =
            libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: plain syscall on a file descriptor we own for the duration of the call.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Real I/O with switchable faults, for tests.
#[derive(Debug, Default)]
pub struct FaultyIo {
    /// While set, [`Io::allocate`] fails with `ENOSPC`.
    pub disk_full: AtomicBool,
}

impl Io for FaultyIo {
    fn allocate(&self, file: &File, len: u64) -> io::Result<()> {
        if self.disk_full.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        RealIo.allocate(file, len)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        RealIo.sync_dir(dir)
    }
}

/// Where timestamps come from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Microseconds since the Unix epoch.
    fn now_micros(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i64,
            Err(e) => -(e.duration().as_micros() as i64),
        }
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(pub AtomicI64);

impl ManualClock {
    /// A clock reading `micros`.
    pub fn new(micros: i64) -> Self {
        ManualClock(AtomicI64::new(micros))
    }
    /// Moves the clock forward.
    pub fn advance(&self, d: std::time::Duration) {
        self.0.fetch_add(d.as_micros() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// True when an I/O error means the disk (or quota) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}
