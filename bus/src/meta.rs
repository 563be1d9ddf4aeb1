//! The metadata store: buses and rules now, and later connections, sources and schemas.
//!
//! Control-plane writes are rare and must survive `kill -9` once answered, so every write is
//! followed by `flush()` (sled is durable only after a flush). Values are JSON so that the stored
//! form is the API form and can be read with any tool.

use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

/// A metadata operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The store itself failed.
    #[error("metadata store: {0}")]
    Store(#[from] sled::Error),
    /// A stored value does not decode.
    #[error("metadata store: value {key:?} in {tree} does not decode")]
    Decode {
        /// The tree.
        tree: &'static str,
        /// The key.
        key: String,
        #[source]
        source: serde_json::Error,
    },
    /// A value does not encode.
    #[error("metadata store: cannot encode a value")]
    Encode(#[source] serde_json::Error),
}

/// The metadata database.
#[derive(Debug, Clone)]
pub struct Meta {
    db: sled::Db,
}

impl Meta {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Meta, MetaError> {
        Ok(Meta {
            db: sled::Config::new().path(dir).open()?,
        })
    }

    /// A tree for data that is written often and need not be flushed on every write (webhook
    /// delivery ids, schedule state): its owner decides when to [`Meta::flush`].
    pub fn tree(&self, name: &str) -> Result<sled::Tree, MetaError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), MetaError> {
        self.db.flush()?;
        Ok(())
    }

    /// Reads every value of a tree, in key order.
    pub fn list<T: DeserializeOwned>(&self, tree: &'static str) -> Result<Vec<T>, MetaError> {
        let t = self.db.open_tree(tree)?;
        let mut out = Vec::new();
        for kv in t.iter() {
            let (k, v) = kv?;
            out.push(decode(tree, &k, &v)?);
        }
        Ok(out)
    }

    /// Writes a value and flushes.
    pub fn put<T: Serialize>(
        &self,
        tree: &'static str,
        key: &str,
        value: &T,
    ) -> Result<(), MetaError> {
        let bytes = serde_json::to_vec(value).map_err(MetaError::Encode)?;
        self.db.open_tree(tree)?.insert(key, bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes a value and flushes.
    pub fn remove(&self, tree: &'static str, key: &str) -> Result<(), MetaError> {
        self.db.open_tree(tree)?.remove(key)?;
        self.db.flush()?;
        Ok(())
    }

    /// Reads one value.
    pub fn get<T: DeserializeOwned>(
        &self,
        tree: &'static str,
        key: &str,
    ) -> Result<Option<T>, MetaError> {
        match self.db.open_tree(tree)?.get(key)? {
            None => Ok(None),
            Some(v) => decode(tree, key.as_bytes(), &v).map(Some),
        }
    }

    /// Reads up to `limit` values whose keys start with `prefix` and sort after `prefix + after`
    /// (all of them when `after` is empty), in key order.
    pub fn scan<T: DeserializeOwned>(
        &self,
        tree: &'static str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<T>, MetaError> {
        let t = self.db.open_tree(tree)?;
        let start = format!("{prefix}{after}");
        let mut out = Vec::new();
        for kv in t.range(start.as_bytes()..) {
            let (k, v) = kv?;
            if !k.starts_with(prefix.as_bytes()) || out.len() == limit {
                break;
            }
            if !after.is_empty() && *k == *start.as_bytes() {
                continue;
            }
            out.push(decode(tree, &k, &v)?);
        }
        Ok(out)
    }

    /// Removes every value whose key starts with `prefix`, atomically, and flushes. Returns how
    /// many were removed.
    pub fn remove_prefix(&self, tree: &'static str, prefix: &str) -> Result<usize, MetaError> {
        let t = self.db.open_tree(tree)?;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for k in t.scan_prefix(prefix).keys() {
            batch.remove(k?);
            n += 1;
        }
        if n > 0 {
            t.apply_batch(batch)?;
            self.db.flush()?;
        }
        Ok(n)
    }
}

fn decode<T: DeserializeOwned>(tree: &'static str, key: &[u8], v: &[u8]) -> Result<T, MetaError> {
    serde_json::from_slice(v).map_err(|source| MetaError::Decode {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}
