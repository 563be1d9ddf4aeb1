//! A bus's delivery checkpoint: how far its dispatcher got, and each target's committed queue
//! index (every entry below it delivered, dead-lettered or handed to the retry journal).
//!
//! Written whole, to a temporary file that is synced and renamed over the old one, then the
//! directory is synced: after a crash the file is the last complete checkpoint. The writer syncs
//! every queue and journal *before* writing it (see [`super`]), so what it says is on disk.
//! Losing the newest checkpoint only means redelivering what it would have covered:
//! at-least-once.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every event up to this sequence was matched and its queue entries are durable.
    pub dispatched: u64,
    /// `"rule/target"` → committed queue index.
    pub committed: BTreeMap<String, u64>,
}

const FILE: &str = "checkpoint.json";

impl Checkpoint {
    /// Reads the checkpoint in `dir` (the default when there is none yet).
    pub fn load(dir: &Path) -> io::Result<Checkpoint> {
        match fs::read(dir.join(FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", dir.join(FILE).display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the checkpoint in `dir`, durably.
    pub fn store(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join("checkpoint.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(io::Error::other)?)?;
        f.sync_data()?;
        fs::rename(&tmp, dir.join(FILE))?;
        File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), Checkpoint::default());
        let mut c = Checkpoint {
            dispatched: 42,
            ..Checkpoint::default()
        };
        c.committed.insert("r/t".into(), 7);
        c.store(dir.path()).unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap(), c);
    }
}
