//! The delivery ids each source has stored lately: providers retry a delivery they think failed
//! (a timeout, a 5xx, a redelivery by hand), and each retry carries the same id, so a retry of
//! a stored delivery is acknowledged without storing it twice.
//!
//! The ids are kept in memory (one map lookup per delivery; about 100 bytes per id in the
//! window) and written behind to the sled tree `webhook_seen` (key `source NUL id`, value the
//! Unix second it was stored) by a writer thread in batches, so a delivery never waits on sled:
//! measured, a sled `get` and `insert` per delivery were a fifth of the webhook path's CPU. At
//! start the tree is read back. Ids expire after their source's window (a sweep every minute).
//!
//! An id is marked only after its event is durable on the bus, so a failed append leaves it
//! unmarked and the provider's retry stores it: nothing acknowledged is lost. Marks are not
//! flushed one by one (the writer's batches reach sled within milliseconds; sled flushes twice a
//! second, and at shutdown): after a `kill -9`, a delivery stored in the last half second and
//! then redelivered by its provider may be stored twice, which is the at-least-once side of the
//! trade, never the lossy one.
//!
//! Two copies of one delivery arriving at once are serialized by the map: the second finds the
//! first in flight and is answered 409 (the provider retries it, and by then it is a duplicate).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use bus::meta::{Meta, MetaError};

const TREE: &str = "webhook_seen";
/// Most marks the writer applies to sled in one batch.
const BATCH: usize = 1024;

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

/// What the writer thread applies to the tree.
enum Write {
    Put(Vec<u8>, i64),
    Remove(Vec<u8>),
    /// Answered once every earlier write is applied.
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
        self.seen.lock().insert(self.key.clone(), Mark::Stored(now));
        self.seen
            .write(Write::Put(std::mem::take(&mut self.key), now));
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if !self.committed {
            self.seen.lock().remove(&self.key);
        }
    }
}

#[derive(Debug)]
struct Inner {
    marks: Mutex<HashMap<Vec<u8>, Mark>>,
    writes: Mutex<mpsc::Sender<Write>>,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Mark>> {
        self.marks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, w: Write) {
        // The writer lives as long as the process; if it died, marks stay in memory only.
        let _ = self
            .writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(w);
    }
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Write")
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

fn stamp(v: &[u8]) -> i64 {
    v.try_into().map(i64::from_be_bytes).unwrap_or(0)
}

fn source_of(k: &[u8]) -> Option<&str> {
    k.iter()
        .position(|b| *b == 0)
        .and_then(|i| std::str::from_utf8(&k[..i]).ok())
}

/// Applies marks to the tree in batches until every sender is gone.
fn writer(tree: sled::Tree, rx: mpsc::Receiver<Write>) {
    while let Ok(first) = rx.recv() {
        let mut batch = sled::Batch::default();
        let mut waiting = Vec::new();
        let mut add = |w: Write| match w {
            Write::Put(k, t) => batch.insert(k, &t.to_be_bytes()),
            Write::Remove(k) => batch.remove(k),
            Write::Sync(done) => waiting.push(done),
        };
        add(first);
        for w in rx.try_iter().take(BATCH - 1) {
            add(w);
        }
        if let Err(e) = tree.apply_batch(batch) {
            tracing::warn!(error = %e, "recording webhook delivery ids");
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

impl Seen {
    /// Reads the tree back and starts its writer.
    pub fn open(meta: &Meta) -> Result<Seen, MetaError> {
        let tree = meta.tree(TREE)?;
        let mut marks = HashMap::new();
        for kv in tree.iter() {
            let (k, v) = kv.map_err(MetaError::Store)?;
            marks.insert(k.to_vec(), Mark::Stored(stamp(&v)));
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("webhook-seen".into())
            .spawn(move || writer(tree, rx))
            .map_err(|e| MetaError::Store(sled::Error::Io(e)))?;
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

    /// Waits until every mark made so far is in the tree (before the store is flushed at
    /// shutdown).
    pub fn sync(&self) {
        let (tx, rx) = mpsc::channel();
        self.inner.write(Write::Sync(tx));
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }

    /// Forgets every id of `source` (it was deleted).
    pub fn forget(&self, source: &str) {
        let gone: Vec<Vec<u8>> = {
            let mut marks = self.inner.lock();
            let gone: Vec<Vec<u8>> = marks
                .keys()
                .filter(|k| source_of(k) == Some(source))
                .cloned()
                .collect();
            for k in &gone {
                marks.remove(k);
            }
            gone
        };
        for k in gone {
            self.inner.write(Write::Remove(k));
        }
    }

    /// Removes the ids older than their source's window (and those of sources that are gone);
    /// returns how many.
    pub fn sweep(&self, now: i64, windows: &HashMap<String, Duration>) -> usize {
        let gone: Vec<Vec<u8>> = {
            let mut marks = self.inner.lock();
            let gone: Vec<Vec<u8>> = marks
                .iter()
                .filter(|(k, m)| match m {
                    Mark::InFlight => false,
                    Mark::Stored(t) => source_of(k)
                        .and_then(|s| windows.get(s))
                        .is_none_or(|w| now.saturating_sub(*t) >= w.as_secs() as i64),
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in &gone {
                marks.remove(k);
            }
            gone
        };
        let n = gone.len();
        for k in gone {
            self.inner.write(Write::Remove(k));
        }
        n
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn claims_duplicates_expiry_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::open(dir.path()).unwrap();
        let seen = Seen::open(&meta).unwrap();
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
        // Written behind, read back by the next open.
        let Claim::Fresh(c) = seen.claim("gh", "d3", 1_000, day) else {
            panic!("fresh");
        };
        c.commit(1_000);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let tree = meta.tree(TREE).unwrap();
        while tree.get(key("gh", "d3")).unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "not written behind");
            std::thread::sleep(Duration::from_millis(5));
        }
        let again = Seen::open(&meta).unwrap();
        assert!(matches!(
            again.claim("gh", "d3", 1_001, day),
            Claim::Duplicate
        ));
        let windows: HashMap<String, Duration> = [("gh".to_owned(), day)].into();
        // d3 is past the window (d1 and d2 were claimed again and released: no longer marked).
        assert_eq!(seen.sweep(1_000 + 86_400, &windows), 1);
        assert!(matches!(
            seen.claim("gh", "d1", 1_000, day),
            Claim::Fresh(_)
        ));
    }
}
