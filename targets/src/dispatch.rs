//! One dispatcher per bus: tails the bus log, runs the bus's router once per event, and appends
//! the event's sequence to the queue of every target of every matching rule. Off the ingest path:
//! producers are acknowledged by the log, and the dispatcher follows behind.
//!
//! Rule changes are *versioned by sequence*: a change made when the log's next sequence was `F`
//! applies to events from `F` on, whenever the dispatcher gets there; events appended before the
//! change are matched by the rules in force when they were appended, however far behind the
//! dispatcher is. (After a crash, the events after the last checkpoint are matched again with the
//! rules as they are at restart.)
//!
//! The dispatcher owns its router and the targets' lifecycle: a new target gets a queue and a
//! worker, a changed one its new spec (its queue, retries and dead letters stay), a removed one
//! is stopped and its files deleted.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rules::{Filter, Router};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::BusEngine;
use crate::spec::TargetSpec;
use crate::store::{Ledger, Queue};
use crate::target::{Running, Target};
use crate::worker;

/// Records read from the log at once.
const BATCH: usize = 256;
const BATCH_BYTES: usize = 4 << 20;

/// A rule as the dispatcher runs it.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// Its filter, compiled.
    pub filter: Arc<Filter>,
    /// Its targets, checked.
    pub targets: Vec<TargetSpec>,
}

/// A rule saved or removed, effective from a sequence on.
#[derive(Debug)]
pub struct Change {
    /// The first sequence it applies to.
    pub from: u64,
    /// The rule's name.
    pub rule: String,
    /// Its new definition, or `None` when it was deleted or disabled.
    pub def: Option<RuleDef>,
}

struct Slot {
    name: Arc<str>,
    targets: Vec<Arc<Target>>,
}

/// The dispatcher's own state.
pub struct Dispatcher {
    bus: Arc<BusEngine>,
    router: Router,
    slots: HashMap<u64, Slot>,
    ids: HashMap<String, u64>,
    next_id: u64,
    workers: HashMap<String, JoinHandle<()>>,
    pending: VecDeque<Change>,
    /// The committed index of each target, from the checkpoint the bus started from.
    committed: HashMap<String, u64>,
}

/// The directory of a rule's targets.
pub fn rule_dir(delivery: &Path, rule: &str) -> PathBuf {
    delivery.join(rule)
}

impl Dispatcher {
    /// A dispatcher for `bus`, starting with the targets' committed indexes of its checkpoint.
    pub fn new(bus: Arc<BusEngine>, committed: HashMap<String, u64>) -> Dispatcher {
        Dispatcher {
            bus,
            router: Router::new(),
            slots: HashMap::new(),
            ids: HashMap::new(),
            next_id: 0,
            workers: HashMap::new(),
            pending: VecDeque::new(),
            committed,
        }
    }

    /// Applies a change now (used for the rules loaded at start).
    pub async fn apply(&mut self, change: Change) {
        let Change { rule, def, .. } = change;
        match def {
            None => {
                if let Some(id) = self.ids.remove(&rule) {
                    self.router.remove(id);
                    if let Some(slot) = self.slots.remove(&id) {
                        for t in slot.targets {
                            self.drop_target(&t).await;
                        }
                    }
                }
                let dir = rule_dir(&self.bus.dir, &rule);
                if dir.exists()
                    && let Err(e) = std::fs::remove_dir_all(&dir)
                {
                    tracing::warn!(bus = %self.bus.name, rule = %rule, error = %e, "removing a deleted rule's delivery files failed");
                }
            }
            Some(def) => {
                let id = match self.ids.get(&rule) {
                    Some(id) => *id,
                    None => {
                        let id = self.next_id;
                        self.next_id += 1;
                        self.ids.insert(rule.clone(), id);
                        id
                    }
                };
                self.router.insert(id, def.filter.clone());
                let mut old: HashMap<String, Arc<Target>> = self
                    .slots
                    .remove(&id)
                    .map(|s| {
                        s.targets
                            .into_iter()
                            .map(|t| (t.id.to_string(), t))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut targets = Vec::with_capacity(def.targets.len());
                for spec in def.targets {
                    let running = Running::new(&rule, spec, def.filter.clone());
                    match old.remove(&running.spec.id) {
                        Some(t) => {
                            t.update(running);
                            targets.push(t);
                        }
                        None => match self.create_target(&rule, running) {
                            Ok(t) => targets.push(t),
                            Err(e) => {
                                tracing::error!(bus = %self.bus.name, rule = %rule, error = %e, "opening a target's delivery files failed; the target gets nothing until the server restarts");
                            }
                        },
                    }
                }
                for t in old.into_values() {
                    self.drop_target(&t).await;
                }
                self.slots.insert(
                    id,
                    Slot {
                        name: Arc::from(rule.as_str()),
                        targets,
                    },
                );
            }
        }
    }

    fn create_target(&mut self, rule: &str, running: Running) -> std::io::Result<Arc<Target>> {
        let dir = rule_dir(&self.bus.dir, rule).join(&running.spec.id);
        let key = format!("{rule}/{}", running.spec.id);
        let committed = self.committed.remove(&key);
        if committed.is_none() && dir.exists() {
            // Files of an earlier target of that name that no checkpoint knows: stale.
            std::fs::remove_dir_all(&dir)?;
        }
        let dispatched = self.bus.dispatched.load(Ordering::Acquire);
        let queue = Queue::open(&dir.join("queue"), dispatched)?;
        let (ledger, retries) = Ledger::open(&dir.join("journal"))?;
        let t = Arc::new(Target::new(
            &self.bus.name,
            rule,
            running,
            dir,
            queue,
            ledger,
            committed.unwrap_or(0),
        ));
        self.bus.targets_mut().insert(t.key.clone(), t.clone());
        let handle = tokio::spawn(worker::run(t.clone(), self.bus.ctx.clone(), retries));
        self.workers.insert(t.key.clone(), handle);
        Ok(t)
    }

    async fn drop_target(&mut self, t: &Arc<Target>) {
        t.stop();
        self.bus.targets_mut().remove(&t.key);
        if let Some(h) = self.workers.remove(&t.key) {
            let _ = h.await;
        }
        t.meters.depth.set(0.0);
        if let Err(e) = std::fs::remove_dir_all(&t.dir) {
            tracing::warn!(bus = %self.bus.name, target_key = %t.key, error = %e, "removing a target's delivery files failed");
        }
    }

    /// Deletes the delivery files of targets no rule has (removed while the server was down).
    pub fn remove_strays(&self) {
        let Ok(rules) = std::fs::read_dir(&self.bus.dir) else {
            return;
        };
        let known = self.bus.targets();
        for r in rules.flatten() {
            if !r.path().is_dir() {
                continue;
            }
            let rule = r.file_name().to_string_lossy().into_owned();
            let Ok(ts) = std::fs::read_dir(r.path()) else {
                continue;
            };
            let mut kept = 0;
            for t in ts.flatten() {
                let key = format!("{rule}/{}", t.file_name().to_string_lossy());
                if known.contains_key(&key) {
                    kept += 1;
                } else if let Err(e) = std::fs::remove_dir_all(t.path()) {
                    tracing::warn!(bus = %self.bus.name, target_key = %key, error = %e, "removing stray delivery files failed");
                }
            }
            if kept == 0 {
                let _ = std::fs::remove_dir(r.path());
            }
        }
    }

    async fn apply_due(&mut self, next: u64) {
        while self.pending.front().is_some_and(|c| c.from <= next) {
            if let Some(c) = self.pending.pop_front() {
                self.apply(c).await;
            }
        }
    }

    /// Runs until the bus engine stops; then stops every worker.
    pub async fn run(mut self, mut changes: mpsc::UnboundedReceiver<Change>) {
        let bus = self.bus.bus.clone();
        let log = &bus.log;
        let mut tail = log.subscribe();
        let mut stop = self.bus.stop.subscribe();
        let mut touched: Vec<Arc<Target>> = Vec::new();
        let mut seen: rustc_hash::FxHashSet<usize> = rustc_hash::FxHashSet::default();
        let mut matched_rules: Vec<(Arc<str>, Vec<Arc<str>>)> = Vec::new();
        loop {
            if *stop.borrow() {
                break;
            }
            while let Ok(c) = changes.try_recv() {
                self.pending.push_back(c);
            }
            let mut dispatched = self.bus.dispatched.load(Ordering::Acquire);
            self.apply_due(dispatched + 1).await;
            let end = log.next_sequence();
            if dispatched + 1 < end && self.router.is_empty() {
                // No rule: nothing to match, nothing to read. Up to the next rule change.
                let until = self.pending.front().map_or(end, |c| c.from.min(end));
                if until > dispatched + 1 {
                    self.bus.dispatched.store(until - 1, Ordering::Release);
                    continue;
                }
            }
            if dispatched + 1 < end {
                let records = match log.read_after(dispatched, BATCH, BATCH_BYTES) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(bus = %self.bus.name, error = %e, "reading the bus log failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Some(first) = records.first()
                    && first.sequence > dispatched + 1
                {
                    tracing::warn!(bus = %self.bus.name, from = dispatched + 1, to = first.sequence - 1, "events left the log (retention) before they were dispatched; they reach no target");
                }
                for rec in &records {
                    self.apply_due(rec.sequence).await;
                    let ids = match self.router.matches(&rec.body) {
                        Ok(ids) => ids,
                        Err(e) => {
                            tracing::warn!(bus = %self.bus.name, sequence = rec.sequence, error = %e, "a stored event could not be matched");
                            Vec::new()
                        }
                    };
                    matched_rules.clear();
                    for id in ids {
                        let Some(slot) = self.slots.get(&id) else {
                            continue;
                        };
                        let mut names = Vec::with_capacity(slot.targets.len());
                        for t in &slot.targets {
                            t.queue.push(rec.sequence);
                            t.meters.matched.increment(1);
                            names.push(t.id.clone());
                            if seen.insert(Arc::as_ptr(t) as usize) {
                                touched.push(t.clone());
                            }
                        }
                        matched_rules.push((slot.name.clone(), names));
                    }
                    if !matched_rules.is_empty() {
                        self.bus
                            .ctx
                            .traces
                            .matched(rec.sequence, std::mem::take(&mut matched_rules));
                    }
                    dispatched = rec.sequence;
                }
                // The entries are written before the events count as dispatched.
                for t in &touched {
                    while let Err(e) = t.queue.flush() {
                        tracing::error!(bus = %self.bus.name, target_key = %t.key, error = %e, "writing a delivery queue failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if *stop.borrow() {
                            break;
                        }
                    }
                }
                self.bus.dispatched.store(dispatched, Ordering::Release);
                for t in touched.drain(..) {
                    t.wake.notify_one();
                }
                seen.clear();
                continue;
            }
            tokio::select! {
                r = tail.changed() => {
                    if r.is_err() {
                        break;
                    }
                }
                c = changes.recv() => match c {
                    Some(c) => self.pending.push_back(c),
                    None => break,
                },
                _ = stop.changed() => {}
            }
        }
        for t in self.bus.targets().values() {
            t.stop();
        }
        for (_, h) in self.workers.drain() {
            let _ = h.await;
        }
    }
}
