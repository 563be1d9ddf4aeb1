//! The delivery ids each source has stored lately: providers retry a delivery they think failed
//! (a timeout, a 5xx, a redelivery by hand), and each retry carries the same id, so a retry of
//! a stored delivery is acknowledged without storing it twice.
//!
//! The ids live in the sled tree `webhook_seen` (key `source NUL id`, value the Unix second it
//! was stored) and expire after the source's window (a sweep every minute). An id is marked
//! only after its event is durable on the bus, so a failed append leaves it unmarked and the
//! provider's retry stores it: nothing acknowledged is lost. The mark itself is not flushed on
//! every delivery (sled flushes twice a second): after a crash, a delivery stored in the last
//! half second before it and retried by its provider may be stored twice, which is the
//! at-least-once side of the trade, never the lossy one.
//!
//! Two copies of one delivery arriving at once are serialized by an in-memory claim: the
//! second is answered 409 (the provider retries it, and by then it is a plain duplicate).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::meta::{Meta, MetaError};

const TREE: &str = "webhook_seen";

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

/// The right to store one delivery; dropping it without committing releases the claim.
#[derive(Debug)]
pub struct Fresh {
    key: Vec<u8>,
    claims: Arc<Mutex<HashSet<Vec<u8>>>>,
    tree: sled::Tree,
}

impl Fresh {
    /// Marks the delivery stored at `now` (Unix seconds).
    pub fn commit(self, now: i64) -> Result<(), MetaError> {
        self.tree
            .insert(&self.key, &now.to_be_bytes())
            .map_err(MetaError::Store)?;
        Ok(())
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        self.claims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// The store of seen ids.
#[derive(Debug)]
pub struct Seen {
    tree: sled::Tree,
    claims: Arc<Mutex<HashSet<Vec<u8>>>>,
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

impl Seen {
    /// Opens the tree.
    pub fn open(meta: &Meta) -> Result<Seen, MetaError> {
        Ok(Seen {
            tree: meta.tree(TREE)?,
            claims: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    /// Claims delivery `id` of `source` at `now` (Unix seconds) under a window.
    pub fn claim(
        &self,
        source: &str,
        id: &str,
        now: i64,
        window: Duration,
    ) -> Result<Claim, MetaError> {
        let k = key(source, id);
        if let Some(v) = self.tree.get(&k).map_err(MetaError::Store)?
            && now.saturating_sub(stamp(&v)) < window.as_secs() as i64
        {
            return Ok(Claim::Duplicate);
        }
        if !self
            .claims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(k.clone())
        {
            return Ok(Claim::Busy);
        }
        Ok(Claim::Fresh(Fresh {
            key: k,
            claims: self.claims.clone(),
            tree: self.tree.clone(),
        }))
    }

    /// Forgets every id of `source` (it was deleted).
    pub fn forget(&self, source: &str) -> Result<(), MetaError> {
        let mut prefix = source.as_bytes().to_vec();
        prefix.push(0);
        for k in self.tree.scan_prefix(&prefix).keys() {
            self.tree
                .remove(k.map_err(MetaError::Store)?)
                .map_err(MetaError::Store)?;
        }
        Ok(())
    }

    /// Removes the ids older than their source's window (and those of sources that are gone);
    /// returns how many.
    pub fn sweep(&self, now: i64, windows: &HashMap<String, Duration>) -> Result<usize, MetaError> {
        let mut removed = 0;
        for kv in self.tree.iter() {
            let (k, v) = kv.map_err(MetaError::Store)?;
            let source = k
                .iter()
                .position(|b| *b == 0)
                .and_then(|i| std::str::from_utf8(&k[..i]).ok());
            let keep = source
                .and_then(|s| windows.get(s))
                .is_some_and(|w| now.saturating_sub(stamp(&v)) < w.as_secs() as i64);
            if !keep {
                self.tree.remove(&k).map_err(MetaError::Store)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn claims_duplicates_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::open(dir.path()).unwrap();
        let seen = Seen::open(&meta).unwrap();
        let day = Duration::from_secs(86_400);
        let Claim::Fresh(first) = seen.claim("gh", "d1", 1_000, day).unwrap() else {
            panic!("fresh");
        };
        // A second copy while the first is being stored.
        assert!(matches!(
            seen.claim("gh", "d1", 1_000, day).unwrap(),
            Claim::Busy
        ));
        first.commit(1_000).unwrap();
        assert!(matches!(
            seen.claim("gh", "d1", 1_001, day).unwrap(),
            Claim::Duplicate
        ));
        // Another source, or the same id after the window, is new.
        assert!(matches!(
            seen.claim("other", "d1", 1_001, day).unwrap(),
            Claim::Fresh(_)
        ));
        assert!(matches!(
            seen.claim("gh", "d1", 1_000 + 86_400, day).unwrap(),
            Claim::Fresh(_)
        ));
        // A claim dropped without a commit (the append failed) leaves the id unseen.
        drop(seen.claim("gh", "d2", 1_000, day).unwrap());
        assert!(matches!(
            seen.claim("gh", "d2", 1_000, day).unwrap(),
            Claim::Fresh(_)
        ));
        let windows: HashMap<String, Duration> = [("gh".to_owned(), day)].into();
        assert_eq!(seen.sweep(1_000 + 86_400, &windows).unwrap(), 1);
        assert!(matches!(
            seen.claim("gh", "d1", 1_000, day).unwrap(),
            Claim::Fresh(_)
        ));
    }
}
