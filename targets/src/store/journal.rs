//! An append-only file of checksummed frames: a target's retries and dead letters.
//!
//! Frame: `len u32 | crc32c u32 | payload` (little endian). The state is what replaying the
//! frames in order gives; [`Journal::rewrite`] replaces the file with the frames of the live
//! state alone (written to a temporary file, synced, renamed, the directory synced), so the file
//! does not grow without bound.
//!
//! Replay stops at the first frame that is short or fails its checksum and cuts the file there.
//! Frames are synced before anything that depends on them is recorded (a checkpoint that moves
//! past a retried entry, the answer to a dead-letter operation), so what is cut was never relied
//! on.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Frames above this size are refused (a dead letter holds one event of at most a few MiB).
const MAX_FRAME: usize = 64 << 20;

/// One journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    len: u64,
    dirty: bool,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and returns the payloads of its frames.
    pub fn open(path: &Path) -> io::Result<(Journal, Vec<Vec<u8>>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
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
            tracing::warn!(path = %path.display(), offset = at, dropped = bytes.len() - at, "journal: cut a torn or damaged tail");
            file.set_len(at as u64)?;
            file.sync_data()?;
        }
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                len: at as u64,
                dirty: false,
            },
            frames,
        ))
    }

    /// Appends one frame (durable after [`Journal::sync`]).
    pub fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_FRAME {
            return Err(io::Error::other(format!(
                "a journal frame of {} bytes is over the limit of {MAX_FRAME}",
                payload.len()
            )));
        }
        let mut frame = Vec::with_capacity(8 + payload.len());
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        frame.extend_from_slice(payload);
        self.file.write_all_at(&frame, self.len)?;
        self.len += frame.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Makes every appended frame durable.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// A handle to sync from another thread without holding the journal.
    pub fn sync_handle(&mut self) -> io::Result<Option<File>> {
        if !self.dirty {
            return Ok(None);
        }
        self.dirty = false;
        self.file.try_clone().map(Some)
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the file holds no frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Replaces the file's frames with `payloads`, atomically and durably.
    pub fn rewrite<'a>(&mut self, payloads: impl Iterator<Item = &'a [u8]>) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut next = Journal {
            path: self.path.clone(),
            file: OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?,
            len: 0,
            dirty: false,
        };
        for p in payloads {
            next.append(p)?;
        }
        next.file.sync_data()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        next.dirty = false;
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn frames_replay_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut j, frames) = Journal::open(&path).unwrap();
        assert!(frames.is_empty());
        j.append(b"one").unwrap();
        j.append(b"two").unwrap();
        j.sync().unwrap();
        let good = j.len();
        drop(j);
        // A torn frame: a header promising more bytes than there are.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[50, 0, 0, 0, 1, 2, 3, 4, 9], good).unwrap();
        let (mut j, frames) = Journal::open(&path).unwrap();
        assert_eq!(frames, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(j.len(), good);
        j.rewrite([b"two".as_slice()].into_iter()).unwrap();
        j.append(b"three").unwrap();
        drop(j);
        let (_, frames) = Journal::open(&path).unwrap();
        assert_eq!(frames, vec![b"two".to_vec(), b"three".to_vec()]);
    }
}
