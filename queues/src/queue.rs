//! One queue: its message log, its consumer state and the operations on them.
//!
//! - `send` appends to the log (group commit: durable when it returns) and wakes long polls.
//! - `receive` takes messages under the state lock (no I/O there), then reads their bodies from
//!   the log's maps. Its records are not waited for (see [`crate::journal`]).
//! - `ack`, `nack`, `extend`, `redrive` and `purge` apply under the lock and wait until their
//!   records are durable, sharing flushes with everything concurrent.
//! - Timeouts are lazy: each operation first makes what is due visible; a long poll sleeps until
//!   its end, the next due time, or a wake-up (a send, a nack, a redrive).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bus::log::{Batch, Clock, Log, Lookup};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::Notify;

use crate::error::{EntryError, QueueError};
use crate::journal::{self, JournalFile, Shared};
use crate::receipt::Receipt;
use crate::spec::{DeadLetter, QueueSpec};
use crate::state::{DeadAction, Refusal, State, Stats, Take, Taken};
use crate::{QueuesConfig, Registry};

/// A message handed to a consumer.
#[derive(Debug, Clone)]
pub struct Received {
    /// The CloudEvent's id (the sequence in decimal if the body has none).
    pub message_id: String,
    /// Its position in the queue.
    pub sequence: u64,
    /// What ack, nack and extend take.
    pub receipt: String,
    /// 1 the first time it is received.
    pub receive_count: u32,
    /// The structured CloudEvent, as sent.
    pub body: Bytes,
    /// When it was sent, microseconds since the epoch.
    pub sent_at: i64,
}

/// A message in the dead-letter list.
#[derive(Debug, Clone)]
pub struct DeadMessage {
    /// Its position in the queue.
    pub sequence: u64,
    /// The CloudEvent's id.
    pub message_id: String,
    /// How many times it was received.
    pub receive_count: u32,
    /// When it became a dead letter, microseconds since the epoch.
    pub dead_at: i64,
    /// When it was sent, microseconds since the epoch.
    pub sent_at: i64,
    /// The structured CloudEvent (None if retention removed it meanwhile).
    pub body: Option<Bytes>,
}

struct Metrics {
    sent: metrics::Counter,
    received: metrics::Counter,
    acked: metrics::Counter,
    dead: metrics::Counter,
    expired: metrics::Counter,
}

impl Metrics {
    fn new(name: &str) -> Metrics {
        let q = name.to_owned();
        Metrics {
            sent: metrics::counter!("railyard_queue_messages_sent_total", "queue" => q.clone()),
            received: metrics::counter!("railyard_queue_messages_received_total", "queue" => q.clone()),
            acked: metrics::counter!("railyard_queue_messages_acked_total", "queue" => q.clone()),
            dead: metrics::counter!("railyard_queue_messages_dead_lettered_total", "queue" => q.clone()),
            expired: metrics::counter!("railyard_queue_messages_expired_total", "queue" => q),
        }
    }
}

/// One internal queue. Shared behind an `Arc`; every method takes `&self`.
pub struct Queue {
    name: String,
    spec: RwLock<Arc<QueueSpec>>,
    log: Log,
    shared: Arc<Shared>,
    notify: Notify,
    clock: Arc<dyn Clock>,
    peers: Weak<Registry>,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
    closed: AtomicBool,
    metrics: Metrics,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("name", &self.name).finish()
    }
}

/// The `id` of a structured CloudEvent, without parsing the rest into values.
fn message_id(body: &[u8], seq: u64) -> String {
    #[derive(Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        id: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Id<'_>>(body)
        .ok()
        .and_then(|i| i.id)
        .map_or_else(|| seq.to_string(), |c| c.into_owned())
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Queue {
    pub(crate) fn open(
        dir: &std::path::Path,
        spec: QueueSpec,
        cfg: &QueuesConfig,
        peers: Weak<Registry>,
    ) -> Result<Queue, QueueError> {
        std::fs::create_dir_all(dir).map_err(|e| QueueError::io("create directory", dir, e))?;
        let log = Log::open_with(
            &dir.join("log"),
            bus::log::LogConfig {
                segment_bytes: cfg.segment_bytes,
                fsync: cfg.fsync,
                label: format!("queue:{}", spec.name),
                ..bus::log::LogConfig::default()
            },
            cfg.clock.clone(),
            Arc::new(bus::log::RealIo),
        )?;
        let jpath = dir.join("journal");
        let (file, frames) = JournalFile::open(&jpath)?;
        let st = State::replay(
            frames.iter().map(Vec::as_slice),
            log.first_sequence(),
            log.next_sequence(),
        )
        .map_err(|r| QueueError::Failed(format!("{}: {r}", jpath.display())))?;
        let shared = Arc::new(Shared::new(st));
        let (s, name) = (shared.clone(), spec.name.clone());
        let fsync = cfg.fsync;
        let handle = std::thread::Builder::new()
            .name(format!("queue-{}", spec.name))
            .spawn(move || journal::run(s, file, fsync, name))
            .map_err(|e| QueueError::io("spawn the journal thread of", dir, e))?;
        Ok(Queue {
            name: spec.name.clone(),
            metrics: Metrics::new(&spec.name),
            spec: RwLock::new(Arc::new(spec)),
            log,
            shared,
            notify: Notify::new(),
            clock: cfg.clock.clone(),
            peers,
            committer: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its current document.
    pub fn spec(&self) -> Arc<QueueSpec> {
        self.spec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set_spec(&self, spec: QueueSpec) {
        *self.spec.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(spec);
        // A longer retention or another dead-letter policy may change what a poll finds.
        self.notify.notify_waiters();
    }

    fn check_open(&self) -> Result<(), QueueError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(QueueError::Closed);
        }
        Ok(())
    }

    /// Appends messages (structured CloudEvents) as one atomic batch; they are durable when this
    /// returns. Returns their sequences.
    pub async fn send(&self, bodies: &[Bytes]) -> Result<Vec<u64>, QueueError> {
        self.check_open()?;
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = Batch::with_capacity(bodies.len(), bodies.iter().map(Bytes::len).sum());
        for b in bodies {
            batch.push(b);
        }
        self.send_batch(batch).await
    }

    /// [`Queue::send`] with the bodies already in a log batch (no copy).
    pub async fn send_batch(&self, batch: Batch) -> Result<Vec<u64>, QueueError> {
        self.check_open()?;
        let n = batch.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let a = self.log.append(batch).await?;
        self.metrics.sent.increment(n as u64);
        self.notify.notify_waiters();
        Ok((a.first..a.first + a.count as u64).collect())
    }

    /// Receives up to `max` messages, waiting up to `wait` for the first one (long poll: the
    /// answer comes as soon as any message is there). Each stays invisible to other receives for
    /// `visibility` (the queue's default when `None`).
    pub async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<Received>, QueueError> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (got, next) = self.receive_now(max.max(1), visibility).await?;
            if !got.is_empty() {
                return Ok(got);
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(got);
            }
            let mut nap = until - now;
            if let Some(t) = next {
                let due = t.saturating_sub(self.clock.now_micros()).max(1000);
                nap = nap.min(Duration::from_micros(due as u64));
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// One attempt: what is receivable now, and when something will next become visible.
    async fn receive_now(
        &self,
        max: usize,
        visibility: Option<Duration>,
    ) -> Result<(Vec<Received>, Option<i64>), QueueError> {
        let spec = self.spec();
        let vis = visibility.unwrap_or_else(|| spec.visibility());
        let retention = micros(spec.retention());
        let action = match spec.dead_letter {
            DeadLetter::Keep => DeadAction::Keep,
            DeadLetter::Drop => DeadAction::Drop,
            DeadLetter::Queue { .. } => DeadAction::Move,
        };
        // A few rounds when everything taken turned out expired or dead-lettered.
        for _ in 0..8 {
            self.check_open()?;
            let now = self.clock.now_micros();
            let log_end = self.log.next_sequence();
            let (took, next) = {
                let mut l = self.shared.lock();
                if let Some(f) = &l.failed {
                    return Err(QueueError::Failed(f.clone()));
                }
                let took = l.st.take(
                    &Take {
                        now,
                        max,
                        log_end,
                        max_receives: spec.max_receives,
                        deadline: now.saturating_add(micros(vis)),
                        action,
                    },
                    rand::random::<u32>,
                );
                (took, l.st.next_timer())
            };
            let (taken, moves) = (took.taken, took.moves);
            if !moves.is_empty() {
                self.move_dead(&spec, &moves).await;
            }
            let (out, expired) = self.read(&spec, &taken, now, retention);
            if !expired.is_empty() {
                let mut l = self.shared.lock();
                for s in &expired {
                    l.st.drop_message(*s);
                }
                self.metrics.expired.increment(expired.len() as u64);
            }
            self.metrics.received.increment(out.len() as u64);
            if took.dead > 0 {
                self.metrics.dead.increment(took.dead);
            }
            if !out.is_empty() || (taken.is_empty() && moves.is_empty()) {
                return Ok((out, next));
            }
        }
        Ok((Vec::new(), None))
    }

    /// Reads the bodies of what was taken; messages past retention (or gone from the log) are
    /// returned separately, to be dropped.
    fn read(
        &self,
        spec: &QueueSpec,
        taken: &[Taken],
        now: i64,
        retention: i64,
    ) -> (Vec<Received>, Vec<u64>) {
        let mut out = Vec::with_capacity(taken.len());
        let mut expired = Vec::new();
        for t in taken {
            match self.log.get(t.seq) {
                Ok(Lookup::Found(rec)) if now.saturating_sub(rec.timestamp) <= retention => {
                    let receipt = Receipt {
                        incarnation: spec.incarnation,
                        sequence: t.seq,
                        count: t.count,
                        nonce: t.nonce,
                    };
                    out.push(Received {
                        message_id: message_id(&rec.body, t.seq),
                        sequence: t.seq,
                        receipt: receipt.encode(),
                        receive_count: t.count,
                        body: Bytes::from(rec.body),
                        sent_at: rec.timestamp,
                    });
                }
                Ok(_) => expired.push(t.seq),
                Err(e) => {
                    // Left in flight: redelivered after its visibility timeout if the log heals.
                    tracing::error!(queue = %self.name, sequence = t.seq, error = %e, "reading a queued message failed");
                }
            }
        }
        (out, expired)
    }

    /// Appends messages that reached their receive limit to the dead-letter queue, then marks
    /// them done here (a crash between leaves a duplicate there, never a loss).
    async fn move_dead(&self, spec: &QueueSpec, seqs: &[u64]) {
        let DeadLetter::Queue { queue } = &spec.dead_letter else {
            return;
        };
        let target = self.peers.upgrade().and_then(|r| {
            r.read()
                .unwrap_or_else(|p| p.into_inner())
                .get(queue)
                .cloned()
        });
        let mut bodies = Vec::with_capacity(seqs.len());
        let mut readable = Vec::with_capacity(seqs.len());
        let mut unreadable = Vec::new();
        for s in seqs {
            match self.log.get(*s) {
                Ok(Lookup::Found(rec)) => {
                    bodies.push(Bytes::from(rec.body));
                    readable.push(*s);
                }
                _ => unreadable.push(*s),
            }
        }
        let sent = match &target {
            Some(t) if !bodies.is_empty() => t.send(&bodies).await.map(|_| ()),
            Some(_) => Ok(()),
            None => Err(QueueError::NotFound(queue.clone())),
        };
        let now = self.clock.now_micros();
        let mut l = self.shared.lock();
        for s in unreadable {
            l.st.drop_message(s);
        }
        match sent {
            Ok(()) => {
                for s in readable {
                    l.st.moved(s);
                }
            }
            Err(e) => {
                tracing::warn!(queue = %self.name, dead_letter_queue = %queue, error = %e, "moving dead letters failed: kept in this queue's dead letters");
                for s in readable {
                    l.st.keep_dead(s, now);
                }
            }
        }
    }

    /// Applies `op` to each receipt under one lock, then waits until the changes are durable.
    async fn per_receipt(
        &self,
        receipts: &[String],
        mut op: impl FnMut(&mut State, Receipt, i64) -> Result<(), Refusal>,
    ) -> Vec<Result<(), EntryError>> {
        if self.check_open().is_err() {
            return vec![Err(EntryError::Unavailable); receipts.len()];
        }
        let incarnation = self.spec().incarnation;
        let now = self.clock.now_micros();
        let log_end = self.log.next_sequence();
        let (mut results, g) = {
            let mut l = self.shared.lock();
            if l.failed.is_some() {
                return vec![Err(EntryError::Unavailable); receipts.len()];
            }
            l.st.expire(now);
            let results: Vec<Result<(), EntryError>> = receipts
                .iter()
                .map(|s| {
                    let r = Receipt::decode(s)
                        .filter(|r| r.incarnation == incarnation && r.sequence < log_end)
                        .ok_or(EntryError::Invalid)?;
                    op(&mut l.st, r, now).map_err(|e| match e {
                        Refusal::Stale => EntryError::Stale,
                        Refusal::DeadLettered => EntryError::DeadLettered,
                        Refusal::Gone => EntryError::Gone,
                        Refusal::Invalid => EntryError::Invalid,
                    })
                })
                .collect();
            let g = self.shared.request(&mut l);
            (results, g)
        };
        if self.shared.wait(g).await.is_err() {
            for r in &mut results {
                if r.is_ok() {
                    *r = Err(EntryError::Unavailable);
                }
            }
        }
        results
    }

    /// Acknowledges received messages: they are gone for good once this returns `Ok` for them.
    /// A receipt of a message already acknowledged succeeds again.
    pub async fn ack(&self, receipts: &[String]) -> Vec<Result<(), EntryError>> {
        let r = self
            .per_receipt(receipts, |st, r, _| st.ack(r.sequence, r.count, r.nonce))
            .await;
        self.metrics
            .acked
            .increment(r.iter().filter(|r| r.is_ok()).count() as u64);
        r
    }

    /// Gives messages back: visible again now, or after `delay`.
    pub async fn nack(
        &self,
        receipts: &[String],
        delay: Option<Duration>,
    ) -> Vec<Result<(), EntryError>> {
        let d = micros(delay.unwrap_or_default());
        let r = self
            .per_receipt(receipts, |st, r, now| {
                st.nack(r.sequence, r.count, r.nonce, now, now.saturating_add(d))
            })
            .await;
        if d == 0 {
            self.notify.notify_waiters();
        }
        r
    }

    /// Keeps messages invisible for `visibility` from now.
    pub async fn extend(
        &self,
        receipts: &[String],
        visibility: Duration,
    ) -> Vec<Result<(), EntryError>> {
        let d = micros(visibility);
        let r = self
            .per_receipt(receipts, |st, r, now| {
                st.extend(r.sequence, r.count, r.nonce, now.saturating_add(d))
            })
            .await;
        if d == 0 {
            self.notify.notify_waiters();
        }
        r
    }

    /// Up to `limit` dead letters with sequences above `after`.
    pub fn dead_letters(&self, after: u64, limit: usize) -> Result<Vec<DeadMessage>, QueueError> {
        let page = self.shared.lock().st.dead_page(after, limit);
        let mut out = Vec::with_capacity(page.len());
        for (seq, e) in page {
            let (body, sent_at) = match self.log.get(seq)? {
                Lookup::Found(rec) => (Some(Bytes::from(rec.body)), rec.timestamp),
                _ => (None, 0),
            };
            out.push(DeadMessage {
                sequence: seq,
                message_id: body
                    .as_deref()
                    .map_or_else(|| seq.to_string(), |b| message_id(b, seq)),
                receive_count: e.count,
                dead_at: e.time,
                sent_at,
                body,
            });
        }
        Ok(out)
    }

    async fn on_dead(
        &self,
        sequences: Option<&[u64]>,
        op: impl Fn(&mut State, u64) -> bool,
    ) -> Result<u64, QueueError> {
        self.check_open()?;
        let (n, g) = {
            let mut l = self.shared.lock();
            if let Some(f) = &l.failed {
                return Err(QueueError::Failed(f.clone()));
            }
            let seqs = match sequences {
                Some(s) => s.to_vec(),
                None => l.st.dead_all(),
            };
            let n = seqs.into_iter().filter(|s| op(&mut l.st, *s)).count() as u64;
            (n, self.shared.request(&mut l))
        };
        self.shared.wait(g).await?;
        Ok(n)
    }

    /// Puts dead letters (all, or those named) back into the queue with a receive count of 0;
    /// durable when it returns. Returns how many.
    pub async fn redrive(&self, sequences: Option<&[u64]>) -> Result<u64, QueueError> {
        let n = self.on_dead(sequences, State::redrive).await?;
        if n > 0 {
            self.notify.notify_waiters();
        }
        Ok(n)
    }

    /// Deletes dead letters (all, or those named); durable when it returns. Returns how many.
    pub async fn purge(&self, sequences: Option<&[u64]>) -> Result<u64, QueueError> {
        self.on_dead(sequences, State::purge).await
    }

    /// How many messages are in each state.
    pub fn stats(&self) -> Stats {
        let now = self.clock.now_micros();
        let mut l = self.shared.lock();
        l.st.expire(now);
        l.st.stats(self.log.next_sequence())
    }

    /// Retention: deletes segments that are past retention or wholly done, and forgets state
    /// below what the log keeps.
    pub fn maintain(&self) -> Result<(), QueueError> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let spec = self.spec();
        self.log.enforce_retention(&bus::log::Retention {
            max_age: Some(spec.retention()),
            max_bytes: None,
        })?;
        let floor = self.shared.lock().st.floor();
        let first = self.log.release_before(floor)?;
        let first = first.max(self.log.first_sequence());
        self.shared.lock().st.drop_below(first);
        Ok(())
    }

    /// Flushes and stops; later calls fail with `Closed` (long polls return).
    pub fn close(&self) -> Result<(), QueueError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.notify.notify_waiters();
        self.shared.close();
        if let Some(h) = self
            .committer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = h.join();
        }
        self.log.close()?;
        Ok(())
    }

    /// The sequence the next message will get.
    pub fn next_sequence(&self) -> u64 {
        self.log.next_sequence()
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
