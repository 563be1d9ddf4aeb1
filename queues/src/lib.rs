//! Railyard's internal durable queues: the `queue` target kind's destination, consumed over REST
//! with receive / ack / nack / extend and a visibility timeout (the consumption model of SQS and
//! of RocketMQ's Pop consumers).
//!
//! # Design
//!
//! A queue is a directory `<data>/queues/<name>/` holding
//! - `log/`: a [`bus::log::Log`] of the messages (structured CloudEvents): segments, checksums,
//!   group-commit fsync, retention by age: the bus's storage, reused as is;
//! - `journal`: what consumers did (see [`state`] for the records, [`journal`] for the file and
//!   its group commit).
//!
//! In memory, a queue keeps a cursor (everything at or above it is fresh, as RocketMQ's consume
//! offset: a backlog costs no memory) and an entry for each message below the cursor that is not
//! done: visible again, in flight until a deadline, delayed, or dead.
//!
//! # Guarantees (see `docs/queues.md`)
//!
//! - `send` returns once the messages are durable (the log's fsync policy).
//! - `ack` (and nack, extend, redrive, purge) returns once its record is durable; concurrent ones
//!   share one `fdatasync`. After a crash no acknowledged message is delivered again.
//! - Receives are recorded without waiting; the records go out with the next durable change or
//!   within 100 ms. After a crash, a message whose receive was recorded is redelivered after its
//!   visibility deadline (wall clock), one whose receive was not is visible at once. Receive
//!   counts therefore survive a crash except for receives in its last ~100 ms: a message is
//!   dead-lettered after at most `max_receives` receives plus one per such crash.
//! - A receipt is valid only for the latest receive of its message (SQS semantics).

pub mod error;
mod journal;
mod queue;
pub mod receipt;
pub mod spec;
mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bus::log::{Clock, FsyncPolicy, SystemClock};
use bus::meta::{Meta, MetaError};
use bytes::Bytes;
use serde_json::Value;

pub use error::{EntryError, QueueError};
pub use queue::{DeadMessage, Queue, Received};
pub use spec::{DeadLetter, QueueSpec};
pub use state::Stats;

/// The sled tree of queue documents.
const TREE: &str = "queues";

/// How queues store their messages.
#[derive(Debug, Clone)]
pub struct QueuesConfig {
    /// Segment size of each queue's log (must exceed the largest send).
    pub segment_bytes: u64,
    /// When sends and acknowledgements are durable (the server's `fsync` setting).
    pub fsync: FsyncPolicy,
    /// Wall-clock time: message ages, visibility deadlines.
    pub clock: Arc<dyn Clock>,
}

impl Default for QueuesConfig {
    fn default() -> Self {
        QueuesConfig {
            segment_bytes: 32 << 20,
            fsync: FsyncPolicy::Always,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The live queues by name.
pub(crate) type Registry = RwLock<HashMap<String, Arc<Queue>>>;

/// Every queue, their documents in the metadata store and their files under one directory.
pub struct Queues {
    dir: PathBuf,
    meta: Meta,
    cfg: QueuesConfig,
    live: Arc<Registry>,
    writes: Mutex<()>,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queues").field("dir", &self.dir).finish()
    }
}

impl Queues {
    /// Opens every stored queue under `dir` (blocking: recovery reads each log and journal).
    /// Directories of queues that no longer exist (a crash during a delete) are removed.
    pub fn open(dir: &Path, meta: Meta, cfg: QueuesConfig) -> Result<Queues, QueueError> {
        std::fs::create_dir_all(dir).map_err(|e| QueueError::io("create directory", dir, e))?;
        let queues = Queues {
            dir: dir.to_path_buf(),
            meta,
            cfg,
            live: Arc::new(RwLock::new(HashMap::new())),
            writes: Mutex::new(()),
        };
        let specs: Vec<QueueSpec> = queues.meta.list(TREE)?;
        for spec in specs {
            let name = spec.name.clone();
            let q = Queue::open(
                &dir.join(&name),
                spec,
                &queues.cfg,
                Arc::downgrade(&queues.live),
            )?;
            queues.registry_mut().insert(name, Arc::new(q));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| QueueError::io("list", dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && queues.queue(&name).is_none() {
                tracing::warn!(queue = %name, "removing the files of a deleted queue");
                std::fs::remove_dir_all(entry.path())
                    .map_err(|e| QueueError::io("remove", &entry.path(), e))?;
            }
        }
        Ok(queues)
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Queue>>> {
        self.live.read().unwrap_or_else(|p| p.into_inner())
    }

    fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Queue>>> {
        self.live.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The queue called `name`.
    pub fn queue(&self, name: &str) -> Option<Arc<Queue>> {
        self.registry().get(name).cloned()
    }

    /// Appends messages (structured CloudEvents) to the queue `name`; durable when it returns.
    /// What the `queue` target kind calls for each delivery.
    pub async fn send(&self, name: &str, bodies: &[Bytes]) -> Result<Vec<u64>, QueueError> {
        let q = self
            .queue(name)
            .ok_or_else(|| QueueError::NotFound(name.to_owned()))?;
        q.send(bodies).await
    }

    /// The largest request worth sending at once: half a segment (a send is appended atomically
    /// into one segment, and structured JSON may be larger than what it was decoded from).
    pub fn max_send_bytes(&self) -> usize {
        usize::try_from(self.cfg.segment_bytes / 2).unwrap_or(usize::MAX)
    }

    /// Up to `limit` queue documents sorted after `after`.
    pub fn list(&self, after: &str, limit: usize) -> Result<Vec<QueueSpec>, MetaError> {
        self.meta.scan(TREE, "", after, limit)
    }

    /// One queue's document.
    pub fn spec(&self, name: &str) -> Result<Option<QueueSpec>, MetaError> {
        self.meta.get(TREE, name)
    }

    /// The queues whose dead letters go to `name`.
    pub fn dead_letter_users(&self, name: &str) -> Vec<String> {
        let mut users: Vec<String> = self
            .registry()
            .values()
            .filter(
                |q| matches!(&q.spec().dead_letter, DeadLetter::Queue { queue } if queue == name),
            )
            .map(|q| q.name().to_owned())
            .collect();
        users.sort();
        users
    }

    /// Creates or replaces a queue (blocking). Returns the stored document and whether it is new.
    pub fn put(
        &self,
        name: &str,
        body: &Value,
        if_match: Option<u64>,
    ) -> Result<(QueueSpec, bool), QueueError> {
        bus::registry::check_name(name).map_err(|r| QueueError::invalid("/name", r))?;
        let p = spec::parse(body)?;
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        if let DeadLetter::Queue { queue } = &p.dead_letter {
            if queue == name {
                return Err(QueueError::invalid(
                    "/dead_letter/queue",
                    "a queue cannot be its own dead-letter queue (use kind keep)",
                ));
            }
            if self.queue(queue).is_none() {
                return Err(QueueError::invalid(
                    "/dead_letter/queue",
                    format!("queue {queue:?} does not exist; create it first"),
                ));
            }
        }
        let old: Option<QueueSpec> = self.meta.get(TREE, name)?;
        if let Some(want) = if_match
            && old.as_ref().map(|o| o.version) != Some(want)
        {
            return Err(QueueError::PreconditionFailed {
                name: name.to_owned(),
                current: old.map(|o| o.version),
            });
        }
        let now = bus::registry::now_rfc3339();
        let spec = QueueSpec {
            name: name.to_owned(),
            description: p.description,
            visibility_timeout_ms: u64::try_from(p.visibility.as_millis()).unwrap_or(u64::MAX),
            max_receives: p.max_receives,
            retention_secs: p.retention.as_secs(),
            dead_letter: p.dead_letter,
            incarnation: old
                .as_ref()
                .map_or_else(|| rand::random::<u32>().max(1), |o| o.incarnation),
            created_at: old
                .as_ref()
                .map_or_else(|| now.clone(), |o| o.created_at.clone()),
            updated_at: now,
            version: old.as_ref().map_or(1, |o| o.version + 1),
        };
        // The document first: a crash before the directory exists leaves a queue that opens
        // empty; the other order would leave files that the next start removes.
        self.meta.put(TREE, name, &spec)?;
        match self.queue(name) {
            Some(q) => q.set_spec(spec.clone()),
            None => {
                let dir = self.dir.join(name);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .map_err(|e| QueueError::io("remove stale", &dir, e))?;
                }
                match Queue::open(&dir, spec.clone(), &self.cfg, Arc::downgrade(&self.live)) {
                    Ok(q) => {
                        self.registry_mut().insert(name.to_owned(), Arc::new(q));
                    }
                    Err(e) => {
                        let _ = self.meta.remove(TREE, name);
                        return Err(e);
                    }
                }
            }
        }
        Ok((spec, old.is_none()))
    }

    /// Deletes a queue and its messages (blocking). Refused while another queue sends its dead
    /// letters here.
    pub fn delete(&self, name: &str, if_match: Option<u64>) -> Result<(), QueueError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let old: Option<QueueSpec> = self.meta.get(TREE, name)?;
        let Some(old) = old else {
            return Err(QueueError::NotFound(name.to_owned()));
        };
        if let Some(want) = if_match
            && old.version != want
        {
            return Err(QueueError::PreconditionFailed {
                name: name.to_owned(),
                current: Some(old.version),
            });
        }
        let by = self.dead_letter_users(name);
        if !by.is_empty() {
            return Err(QueueError::InUse {
                name: name.to_owned(),
                by,
            });
        }
        self.meta.remove(TREE, name)?;
        let q = self.registry_mut().remove(name);
        if let Some(q) = q
            && let Err(e) = q.close()
        {
            tracing::warn!(queue = %name, error = %e, "closing a deleted queue");
        }
        let dir = self.dir.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| QueueError::io("remove", &dir, e))?;
        }
        Ok(())
    }

    /// Retention for every queue (blocking): drops what is past retention and releases log
    /// segments whose messages are all done.
    pub fn maintain(&self) {
        let all: Vec<Arc<Queue>> = self.registry().values().cloned().collect();
        for q in all {
            if let Err(e) = q.maintain() {
                tracing::warn!(queue = %q.name(), error = %e, "queue retention failed");
            }
        }
    }

    /// Runs [`Queues::maintain`] every `every` on the blocking pool, until aborted.
    pub fn spawn_upkeep(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let m = me.clone();
                let _ = tokio::task::spawn_blocking(move || m.maintain()).await;
            }
        })
    }

    /// Flushes and closes every queue (blocking).
    pub fn close(&self) -> Result<(), QueueError> {
        let all: Vec<Arc<Queue>> = self.registry().values().cloned().collect();
        let mut result = Ok(());
        for q in all {
            if let Err(e) = q.close() {
                tracing::error!(queue = %q.name(), error = %e, "closing a queue");
                result = Err(e);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests;
