//! The delivery ids each source has stored lately: providers retry a delivery they think failed
//! (a timeout, a 5xx, a redelivery by hand), and each retry carries the same id, so a retry of
//! a stored delivery is acknowledged without storing it twice.
//!
//! The ids are kept in memory (one map lookup per delivery; about 100 bytes per id in the
//! window) and written behind, by a writer thread in batches, to an append-only file
//! (`<data>/webhooks/seen.log`: put and remove records of `source NUL id` and the Unix second it
//! was stored), read back at start. The sweep every minute drops ids past their source's window
//! and rewrites the file when most of it is dead. Measured, keeping these marks in sled cost
//! about as much CPU as the rest of the webhook path; a file of small records costs little.
//!
//! An id is marked only after its event is durable on the bus, so a failed append leaves it
//! unmarked and the provider's retry stores it: nothing acknowledged is lost. Marks are not
//! fsynced one by one (the writer's batches reach the file within milliseconds; [`Seen::sync`]
//! makes them durable at shutdown): after a `kill -9` or a power loss, a delivery stored just
//! before and then redelivered by its provider may be stored twice, which is the at-least-once
//! side of the trade, never the lossy one. A torn last record is ignored at start.
//!
//! Two copies of one delivery arriving at once are serialized by the map: the second finds the
//! first in flight and is answered 409 (the provider retries it, and by then it is a duplicate).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

const FILE: &str = "seen.log";
/// Record kinds.
const PUT: u8 = 1;
const REMOVE: u8 = 2;
/// Longest key written (a source name and a provider's id are far shorter).
const MAX_KEY: usize = u16::MAX as usize;

/// What a delivery id is to its source.
#[derive(Debug)]
pub enum Claim {
    /// Never seen (or expired): store the event, then [`Fresh::commit`].
    Fresh(Fresh),
    /// Stored within the window: acknowledge without storing.
    Duplicate,
    /// Another copy of this delivery is being stored right now.
    Busy,
}

#[derive(Debug, Clone, Copy)]
enum Mark {
    /// Being stored by a request.
    InFlight,
    /// Stored at this Unix second.
    Stored(i64),
}

/// What the writer thread does to the file.
enum Write {
    Put(Vec<u8>, i64),
    Remove(Vec<u8>),
    /// Replace the file with these live marks.
    Rewrite(Vec<(Vec<u8>, i64)>),
    /// Flush and fsync, then answer.
    Sync(mpsc::Sender<()>),
}

/// The right to store one delivery; dropping it without committing releases the claim.
#[derive(Debug)]
pub struct Fresh {
    key: Vec<u8>,
    seen: Arc<Inner>,
    committed: bool,
}

impl Fresh {
    /// Marks the delivery stored at `now` (Unix seconds).
    pub fn commit(mut self, now: i64) {
        self.committed = true;
        let key = std::mem::take(&mut self.key);
        let mut marks = self.seen.lock();
        marks.insert(key.clone(), Mark::Stored(now));
        // Sent under the lock, so the file sees changes in the map's order (see `sweep`).
        self.seen.send(Write::Put(key, now));
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if !self.committed {
            self.seen.lock().remove(&self.key);
        }
    }
}

struct Inner {
    marks: Mutex<HashMap<Vec<u8>, Mark>>,
    writes: Mutex<mpsc::Sender<Write>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seen")
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Mark>> {
        self.marks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, w: Write) {
        // The writer lives as long as the process; if it died, marks stay in memory only.
        let _ = self
            .writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(w);
    }
}

/// The store of seen ids.
#[derive(Debug)]
pub struct Seen {
    inner: Arc<Inner>,
}

fn key(source: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(source.len() + 1 + id.len());
    k.extend_from_slice(source.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn source_of(k: &[u8]) -> Option<&str> {
    k.iter()
        .position(|b| *b == 0)
        .and_then(|i| std::str::from_utf8(&k[..i]).ok())
}

fn record(out: &mut impl std::io::Write, kind: u8, key: &[u8], stamp: i64) -> std::io::Result<()> {
    let len = key.len().min(MAX_KEY);
    out.write_all(&[kind])?;
    out.write_all(&stamp.to_le_bytes())?;
    out.write_all(&(len as u16).to_le_bytes())?;
    out.write_all(&key[..len])
}

/// The marks in `bytes`, up to the first incomplete record.
fn replay(bytes: &[u8]) -> HashMap<Vec<u8>, Mark> {
    let mut marks = HashMap::new();
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + 11) {
        let stamp = i64::from_le_bytes(head[1..9].try_into().unwrap_or_default());
        let len = u16::from_le_bytes([head[9], head[10]]) as usize;
        let Some(k) = bytes.get(at + 11..at + 11 + len) else {
            break;
        };
        match head[0] {
            PUT => {
                marks.insert(k.to_vec(), Mark::Stored(stamp));
            }
            REMOVE => {
                marks.remove(k);
            }
            _ => break,
        }
        at += 11 + len;
    }
    marks
}

struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Writer {
    fn apply(&mut self, w: Write, waiting: &mut Vec<mpsc::Sender<()>>) -> std::io::Result<()> {
        match w {
            Write::Put(k, t) => record(&mut self.out, PUT, &k, t),
            Write::Remove(k) => record(&mut self.out, REMOVE, &k, 0),
            Write::Rewrite(live) => {
                let tmp = self.path.with_extension("tmp");
                let mut out = BufWriter::new(File::create(&tmp)?);
                for (k, t) in &live {
                    record(&mut out, PUT, k, *t)?;
                }
                out.flush()?;
                out.get_ref().sync_data()?;
                std::fs::rename(&tmp, &self.path)?;
                self.out = BufWriter::new(OpenOptions::new().append(true).open(&self.path)?);
                Ok(())
            }
            Write::Sync(done) => {
                waiting.push(done);
                Ok(())
            }
        }
    }

    /// Applies writes in batches until every sender is gone.
    fn run(mut self, rx: mpsc::Receiver<Write>) {
        while let Ok(first) = rx.recv() {
            let mut waiting = Vec::new();
            let mut result = self.apply(first, &mut waiting);
            for w in rx.try_iter().take(1023) {
                if result.is_ok() {
                    result = self.apply(w, &mut waiting);
                }
            }
            let result = result.and_then(|()| self.out.flush()).and_then(|()| {
                if waiting.is_empty() {
                    Ok(())
                } else {
                    self.out.get_ref().sync_data()
                }
            });
            if let Err(e) = result {
                tracing::warn!(path = %self.path.display(), error = %e, "recording webhook delivery ids");
            }
            for done in waiting {
                let _ = done.send(());
            }
        }
    }
}

impl Seen {
    /// Reads the marks back from `dir` and starts the writer.
    pub fn open(dir: &Path) -> std::io::Result<Seen> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let marks = replay(&bytes);
        // Start from a clean file: the replayed marks, without removed or torn records.
        let live: Vec<(Vec<u8>, i64)> = marks
            .iter()
            .filter_map(|(k, m)| match m {
                Mark::Stored(t) => Some((k.clone(), *t)),
                Mark::InFlight => None,
            })
            .collect();
        let mut writer = Writer {
            out: BufWriter::new(OpenOptions::new().create(true).append(true).open(&path)?),
            path,
        };
        writer.apply(Write::Rewrite(live), &mut Vec::new())?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("webhook-seen".into())
            .spawn(move || writer.run(rx))?;
        Ok(Seen {
            inner: Arc::new(Inner {
                marks: Mutex::new(marks),
                writes: Mutex::new(tx),
            }),
        })
    }

    /// Claims delivery `id` of `source` at `now` (Unix seconds) under a window.
    pub fn claim(&self, source: &str, id: &str, now: i64, window: Duration) -> Claim {
        let k = key(source, id);
        let mut marks = self.inner.lock();
        match marks.get(&k) {
            Some(Mark::InFlight) => return Claim::Busy,
            Some(Mark::Stored(t)) if now.saturating_sub(*t) < window.as_secs() as i64 => {
                return Claim::Duplicate;
            }
            _ => {}
        }
        marks.insert(k.clone(), Mark::InFlight);
        Claim::Fresh(Fresh {
            key: k,
            seen: self.inner.clone(),
            committed: false,
        })
    }

    /// Waits until every mark made so far is durable (at shutdown).
    pub fn sync(&self) {
        let (tx, rx) = mpsc::channel();
        self.inner.send(Write::Sync(tx));
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }

    /// Forgets every id of `source` (it was deleted).
    pub fn forget(&self, source: &str) {
        self.remove_where(|k, _| source_of(k) == Some(source));
    }

    /// Removes the ids older than their source's window (and those of sources that are gone);
    /// returns how many.
    pub fn sweep(&self, now: i64, windows: &HashMap<String, Duration>) -> usize {
        self.remove_where(|k, t| {
            source_of(k)
                .and_then(|s| windows.get(s))
                .is_none_or(|w| now.saturating_sub(t) >= w.as_secs() as i64)
        })
    }

    /// Removes the stored marks `gone(key, stamp)` selects, from memory and (as remove records,
    /// or by rewriting the file when most of it is dead) from the file.
    fn remove_where(&self, gone: impl Fn(&[u8], i64) -> bool) -> usize {
        let mut marks = self.inner.lock();
        let dead: Vec<Vec<u8>> = marks
            .iter()
            .filter(|(k, m)| matches!(m, Mark::Stored(t) if gone(k, *t)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &dead {
            marks.remove(k);
        }
        if dead.len() * 2 >= marks.len() && !dead.is_empty() {
            let live = marks
                .iter()
                .filter_map(|(k, m)| match m {
                    Mark::Stored(t) => Some((k.clone(), *t)),
                    Mark::InFlight => None,
                })
                .collect();
            self.inner.send(Write::Rewrite(live));
        } else {
            for k in &dead {
                self.inner.send(Write::Remove(k.clone()));
            }
        }
        dead.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn claims_duplicates_expiry_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Seen::open(dir.path()).unwrap();
        let day = Duration::from_secs(86_400);
        let Claim::Fresh(first) = seen.claim("gh", "d1", 1_000, day) else {
            panic!("fresh");
        };
        // A second copy while the first is being stored.
        assert!(matches!(seen.claim("gh", "d1", 1_000, day), Claim::Busy));
        first.commit(1_000);
        assert!(matches!(
            seen.claim("gh", "d1", 1_001, day),
            Claim::Duplicate
        ));
        // Another source, or the same id after the window, is new.
        assert!(matches!(
            seen.claim("other", "d1", 1_001, day),
            Claim::Fresh(_)
        ));
        assert!(matches!(
            seen.claim("gh", "d1", 1_000 + 86_400, day),
            Claim::Fresh(_)
        ));
        // A claim dropped without a commit (the append failed) leaves the id unseen.
        drop(seen.claim("gh", "d2", 1_000, day));
        assert!(matches!(
            seen.claim("gh", "d2", 1_000, day),
            Claim::Fresh(_)
        ));
        for id in ["d3", "d4", "d5"] {
            let Claim::Fresh(c) = seen.claim("gh", id, 1_000 + 10, day) else {
                panic!("fresh");
            };
            c.commit(1_000 + 10);
        }
        seen.forget("gone");
        // Written behind, read back by the next open (after a sync, as at shutdown).
        seen.sync();
        let again = Seen::open(dir.path()).unwrap();
        assert!(matches!(
            again.claim("gh", "d3", 1_011, day),
            Claim::Duplicate
        ));
        let windows: HashMap<String, Duration> = [("gh".to_owned(), day)].into();
        // d3..d5 are past the window, and d1's first mark, which the file still holds (its
        // later claim was released without a commit).
        assert_eq!(again.sweep(1_010 + 86_400, &windows), 4);
        again.sync();
        let third = Seen::open(dir.path()).unwrap();
        assert!(matches!(
            third.claim("gh", "d4", 1_011, day),
            Claim::Fresh(_)
        ));
    }

    #[test]
    fn a_torn_last_record_is_ignored() {
        let mut bytes = Vec::new();
        record(&mut bytes, PUT, b"gh\0a", 5).unwrap();
        record(&mut bytes, PUT, b"gh\0b", 6).unwrap();
        bytes.truncate(bytes.len() - 2);
        let marks = replay(&bytes);
        assert_eq!(marks.len(), 1);
        assert!(matches!(marks.get(&b"gh\0a"[..]), Some(Mark::Stored(5))));
    }
}
