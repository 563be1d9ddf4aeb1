//! The delivery engine: per bus, a dispatcher ([`crate::dispatch`]), a worker per target
//! ([`crate::worker`]) and a checkpoint task; and what the API asks of them (rule changes,
//! traces, dead letters).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use bus::registry::{Bus, Buses};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::connections::Connections;
use crate::dispatch::{Change, Dispatcher, RuleDef};
use crate::store::Checkpoint;
use crate::target::Target;
use crate::trace::Traces;
use crate::worker::Ctx;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How often each bus's checkpoint is written (when something changed).
    pub checkpoint_every: Duration,
    /// Matched events per bus whose traces are kept in memory.
    pub trace_events: usize,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            checkpoint_every: Duration::from_millis(100),
            trace_events: 50_000,
        }
    }
}

/// The engine failed to start a bus.
#[derive(Debug, thiserror::Error)]
#[error("delivery state of bus {bus:?} in {dir}: {source}")]
pub struct EngineError {
    /// The bus.
    pub bus: String,
    /// Its delivery directory.
    pub dir: String,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// One bus's delivery machinery.
#[derive(Debug)]
pub struct BusEngine {
    /// The bus name.
    pub name: String,
    /// The bus.
    pub bus: Arc<Bus>,
    /// `<bus dir>/delivery`.
    pub dir: PathBuf,
    /// Every event up to here is in its targets' queues.
    pub dispatched: AtomicU64,
    /// What the workers share.
    pub ctx: Arc<Ctx>,
    /// Set to stop.
    pub stop: watch::Sender<bool>,
    targets: RwLock<HashMap<String, Arc<Target>>>,
    changes: mpsc::UnboundedSender<Change>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl BusEngine {
    /// The running targets by key.
    pub fn targets(&self) -> RwLockReadGuard<'_, HashMap<String, Arc<Target>>> {
        self.targets.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn targets_mut(&self) -> RwLockWriteGuard<'_, HashMap<String, Arc<Target>>> {
        self.targets.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the checkpoint: read positions first, sync queues and journals, then store.
    fn checkpoint(&self) -> std::io::Result<Checkpoint> {
        let dispatched = self.dispatched.load(Ordering::Acquire);
        let targets: Vec<Arc<Target>> = self.targets().values().cloned().collect();
        let committed: BTreeMap<String, u64> = targets
            .iter()
            .map(|t| (t.key.clone(), t.committed.load(Ordering::Acquire)))
            .collect();
        for t in &targets {
            t.queue.sync()?;
            t.ledger().journal.sync()?;
        }
        let c = Checkpoint {
            dispatched,
            committed,
        };
        c.store(&self.dir)?;
        for t in &targets {
            if let Some(&at) = c.committed.get(&t.key) {
                t.queue.release(at)?;
            }
        }
        Ok(c)
    }
}

/// The delivery engine of a server.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    buses: RwLock<HashMap<String, Arc<BusEngine>>>,
    /// Every bus of the server: where bus targets and replies append.
    registry: Arc<Buses>,
    /// The internal queues: where queue targets send.
    queues: Arc<queues::Queues>,
    client: crate::http::Client,
    connections: Arc<Connections>,
    cfg: EngineConfig,
}

/// What a trace request finds.
#[derive(Debug)]
pub enum TraceAnswer {
    /// The bus does not exist.
    NoBus,
    /// The sequence is not written yet.
    NotYet {
        /// The next sequence.
        next: u64,
    },
    /// The trace (JSON).
    Trace(Value),
}

impl Engine {
    /// Starts delivery for every bus, with the given enabled rules (`bus → [(rule, def)]`).
    pub async fn start(
        buses: &Arc<Buses>,
        queues: Arc<queues::Queues>,
        connections: Arc<Connections>,
        client: crate::http::Client,
        cfg: EngineConfig,
        mut rules: HashMap<String, Vec<(String, RuleDef)>>,
    ) -> Result<Engine, EngineError> {
        let engine = Engine {
            inner: Arc::new(Inner {
                buses: RwLock::new(HashMap::new()),
                registry: buses.clone(),
                queues,
                client,
                connections,
                cfg,
            }),
        };
        for bus in buses.all() {
            let name = bus.spec().name;
            let dir = buses.data_dir().bus_dir(&name).join("delivery");
            let defs = rules.remove(&name).unwrap_or_default();
            engine.start_bus(bus, dir, defs).await?;
        }
        Ok(engine)
    }

    /// The connections.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.inner.connections
    }

    async fn start_bus(
        &self,
        bus: Arc<Bus>,
        dir: PathBuf,
        defs: Vec<(String, RuleDef)>,
    ) -> Result<Arc<BusEngine>, EngineError> {
        let (be, d, rx) = self.prepare_bus(bus, dir, defs).await?;
        self.launch_bus(&be, d, rx);
        Ok(be)
    }

    /// Opens a bus's delivery state and applies its rules; nothing runs yet.
    async fn prepare_bus(
        &self,
        bus: Arc<Bus>,
        dir: PathBuf,
        defs: Vec<(String, RuleDef)>,
    ) -> Result<(Arc<BusEngine>, Dispatcher, mpsc::UnboundedReceiver<Change>), EngineError> {
        let name = bus.spec().name;
        let err = |source| EngineError {
            bus: name.clone(),
            dir: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(err)?;
        let fresh = !dir.join("checkpoint.json").exists();
        let mut ckpt = Checkpoint::load(&dir).map_err(err)?;
        if fresh {
            // Rules apply to events appended after they were saved: a bus seen for the first
            // time starts at its end. Stored now, so a crash cannot move the start later.
            ckpt.dispatched = bus.log.next_sequence().saturating_sub(1);
            ckpt.store(&dir).map_err(err)?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let be = Arc::new(BusEngine {
            name: name.clone(),
            ctx: Arc::new(Ctx {
                bus: bus.clone(),
                buses: self.inner.registry.clone(),
                queues: self.inner.queues.clone(),
                client: self.inner.client.clone(),
                connections: self.inner.connections.clone(),
                traces: Arc::new(Traces::new(self.inner.cfg.trace_events)),
            }),
            bus,
            dir,
            dispatched: AtomicU64::new(ckpt.dispatched),
            stop: watch::Sender::new(false),
            targets: RwLock::new(HashMap::new()),
            changes: tx,
            tasks: Mutex::new(Vec::new()),
        });
        let mut d = Dispatcher::new(be.clone(), ckpt.committed.into_iter().collect());
        for (rule, def) in defs {
            d.apply(Change {
                from: 0,
                rule,
                def: Some(def),
            })
            .await;
        }
        d.remove_strays();
        self.inner
            .buses
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, be.clone());
        Ok((be, d, rx))
    }

    /// Starts a prepared bus's dispatcher and checkpoint task.
    fn launch_bus(&self, be: &Arc<BusEngine>, d: Dispatcher, rx: mpsc::UnboundedReceiver<Change>) {
        let dispatcher = tokio::spawn(d.run(rx));
        let checkpointer = tokio::spawn(checkpoints(be.clone(), self.inner.cfg.checkpoint_every));
        be.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend([dispatcher, checkpointer]);
    }

    /// The engine of a bus.
    pub fn bus(&self, name: &str) -> Option<Arc<BusEngine>> {
        self.inner
            .buses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Starts delivery for a new bus (no rules yet).
    pub async fn add_bus(&self, bus: Arc<Bus>, dir: PathBuf) -> Result<(), EngineError> {
        if self.bus(&bus.spec().name).is_none() {
            self.start_bus(bus, dir, Vec::new()).await?;
        }
        Ok(())
    }

    /// Stops delivery for a bus that is being deleted (its files go with the bus).
    pub async fn remove_bus(&self, name: &str) {
        let be = self
            .inner
            .buses
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(be) = be {
            stop_bus(&be, false).await;
        }
    }

    /// A rule was saved (`Some`) or deleted or disabled (`None`). The caller serializes the
    /// changes of one bus (it holds the bus's rule lock), so they apply in order; each applies to
    /// the events appended from now on.
    pub fn change(&self, bus: &str, rule: &str, def: Option<RuleDef>) {
        let Some(be) = self.bus(bus) else {
            tracing::warn!(bus, rule, "rule change for a bus without delivery; ignored");
            return;
        };
        let from = be.bus.log.next_sequence();
        let _ = be.changes.send(Change {
            from,
            rule: rule.to_owned(),
            def,
        });
    }

    /// A running target.
    pub fn target(&self, bus: &str, rule: &str, target: &str) -> Option<Arc<Target>> {
        self.bus(bus)?
            .targets()
            .get(&format!("{rule}/{target}"))
            .cloned()
    }

    /// The trace of an event.
    pub fn trace(&self, bus: &str, seq: u64) -> TraceAnswer {
        let Some(be) = self.bus(bus) else {
            return TraceAnswer::NoBus;
        };
        let next = be.bus.log.next_sequence();
        if seq == 0 || seq >= next {
            return TraceAnswer::NotYet { next };
        }
        let dispatched = be.dispatched.load(Ordering::Acquire);
        if seq > dispatched {
            return TraceAnswer::Trace(json!({
                "sequence": seq, "dispatched": false, "matched_rules": [], "deliveries": []
            }));
        }
        if let Some(t) = be.ctx.traces.get(seq) {
            let mut v = serde_json::to_value(&t).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("sequence".into(), json!(seq));
                m.insert("dispatched".into(), json!(true));
                m.insert("source".into(), json!("memory"));
            }
            return TraceAnswer::Trace(v);
        }
        TraceAnswer::Trace(durable_trace(&be, seq))
    }

    /// Stops every bus: dispatchers, workers (attempts in flight are abandoned and redelivered
    /// after the restart), then a last checkpoint each.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<BusEngine>> = self
            .inner
            .buses
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, b)| b)
            .collect();
        for be in all {
            stop_bus(&be, true).await;
        }
    }
}

async fn stop_bus(be: &Arc<BusEngine>, checkpoint: bool) {
    be.stop.send_replace(true);
    let tasks: Vec<JoinHandle<()>> =
        std::mem::take(&mut *be.tasks.lock().unwrap_or_else(|p| p.into_inner()));
    for t in tasks {
        let _ = t.await;
    }
    if checkpoint {
        let b = be.clone();
        match tokio::task::spawn_blocking(move || b.checkpoint()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(bus = %be.name, error = %e, "the last delivery checkpoint failed")
            }
            Err(e) => {
                tracing::error!(bus = %be.name, error = %e, "the last delivery checkpoint failed")
            }
        }
    }
}

/// What the durable state says of an event the in-memory window no longer holds.
fn durable_trace(be: &BusEngine, seq: u64) -> Value {
    let mut rules: Vec<String> = Vec::new();
    let mut deliveries = Vec::new();
    let mut targets: Vec<Arc<Target>> = be.targets().values().cloned().collect();
    targets.sort_by(|a, b| a.key.cmp(&b.key));
    for t in targets {
        let Ok(Some(idx)) = t.queue.find(seq) else {
            continue;
        };
        if !rules.iter().any(|r| **r == *t.rule) {
            rules.push(t.rule.to_string());
        }
        let dead = t
            .ledger()
            .dead
            .values()
            .find(|d| d.sequence == seq)
            .map(|d| (d.id, d.reason.clone(), d.attempts.clone()));
        let waiting = t.waiting().get(&seq).cloned();
        let committed = t.committed.load(Ordering::Acquire);
        let (state, attempts) = if let Some((id, reason, attempts)) = dead {
            (
                json!({"state": "dead_lettered", "dead_letter": id, "reason": reason}),
                attempts,
            )
        } else if let Some((next, attempts)) = waiting {
            (
                json!({"state": "retrying", "next_attempt_at": next}),
                attempts,
            )
        } else if idx < committed {
            (json!({"state": "delivered"}), Vec::new())
        } else {
            (json!({"state": "pending"}), Vec::new())
        };
        let mut d = json!({"rule": &*t.rule, "target": &*t.id, "attempts": attempts});
        if let (Value::Object(m), Value::Object(s)) = (&mut d, state) {
            m.extend(s);
        }
        deliveries.push(d);
    }
    json!({
        "sequence": seq,
        "dispatched": true,
        "source": "durable",
        "matched_rules": rules,
        "deliveries": deliveries,
    })
}

async fn checkpoints(be: Arc<BusEngine>, every: Duration) {
    let mut stop = be.stop.subscribe();
    let mut last: Option<Checkpoint> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let probe = Checkpoint {
            dispatched: be.dispatched.load(Ordering::Acquire),
            committed: be
                .targets()
                .values()
                .map(|t| (t.key.clone(), t.committed.load(Ordering::Acquire)))
                .collect(),
        };
        if last.as_ref() == Some(&probe) {
            continue;
        }
        let b = be.clone();
        match tokio::task::spawn_blocking(move || b.checkpoint()).await {
            Ok(Ok(c)) => last = Some(c),
            Ok(Err(e)) => {
                tracing::error!(bus = %be.name, error = %e, "writing the delivery checkpoint failed")
            }
            Err(e) => tracing::error!(bus = %be.name, error = %e, "the checkpoint task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use bus::datadir::DataDir;
    use bus::log::LogConfig;
    use serde_json::json;

    fn def(ty: &str) -> RuleDef {
        let filter = rules::Filter::parse(
            &json!({"pattern": {"type": [ty]}}),
            &rules::Limits::default(),
        )
        .unwrap();
        let targets = crate::spec::parse_targets(
            &[json!({"id": "t", "kind": "http", "url": "http://127.0.0.1:9/"})],
            "/targets",
        )
        .unwrap();
        RuleDef {
            filter: Arc::new(filter),
            targets,
        }
    }

    fn event(n: usize, ty: &str) -> Vec<u8> {
        json!({"specversion": "1.0", "id": n.to_string(), "source": "/t", "type": ty})
            .to_string()
            .into_bytes()
    }

    /// An engine over `buses` with no buses started, its queues under `dir`.
    fn test_engine(dir: &std::path::Path, buses: &Arc<Buses>) -> Engine {
        let meta = buses.meta().clone();
        let queues = queues::Queues::open(
            &dir.join("queues"),
            meta.clone(),
            queues::QueuesConfig::default(),
        )
        .unwrap();
        Engine {
            inner: Arc::new(Inner {
                buses: RwLock::new(HashMap::new()),
                registry: buses.clone(),
                queues: Arc::new(queues),
                client: crate::http::client().unwrap(),
                connections: Arc::new(Connections::new(meta, crate::http::token_client().unwrap())),
                cfg: EngineConfig::default(),
            }),
        }
    }

    /// The dispatcher starts only after every change and event exists, so it is as far behind
    /// as it can be: each event must still be matched by the rules in force when it was
    /// appended.
    #[tokio::test]
    async fn a_lagging_dispatcher_matches_each_event_by_the_rules_of_its_time() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::open(tmp.path()).unwrap();
        let buses = Arc::new(Buses::open(dd, LogConfig::default()).unwrap());
        let engine = test_engine(tmp.path(), &buses);
        let bus = buses.get("default").unwrap();
        let dir = tmp.path().join("delivery");
        let (be, d, rx) = engine
            .prepare_bus(bus.clone(), dir, Vec::new())
            .await
            .unwrap();
        let append = |evs: Vec<Vec<u8>>| {
            let bus = bus.clone();
            async move { bus.log.append(evs).await.unwrap() }
        };
        engine.change("default", "r", Some(def("a"))); // from 1
        append((1..=3).map(|n| event(n, "a")).collect()).await; // 1-3 match
        engine.change("default", "r", Some(def("b"))); // from 4
        append((4..=6).map(|n| event(n, "a")).collect()).await; // 4-6 do not
        append((7..=8).map(|n| event(n, "b")).collect()).await; // 7-8 match
        engine.change("default", "r", None); // from 9
        append((9..=10).map(|n| event(n, "b")).collect()).await; // 9-10: no rule
        engine.change("default", "r", Some(def("b"))); // from 11
        append((11..=11).map(|n| event(n, "b")).collect()).await; // 11 matches
        assert_eq!(be.dispatched.load(Ordering::Acquire), 0, "nothing ran yet");
        engine.launch_bus(&be, d, rx);
        for _ in 0..500 {
            if be.dispatched.load(Ordering::Acquire) == 11 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(be.dispatched.load(Ordering::Acquire), 11);
        let t = engine.target("default", "r", "t").unwrap();
        let mut queued = Vec::new();
        t.queue.read(0, 100, &mut queued).unwrap();
        // The target was removed at 9 (its queue with it) and created again at 11.
        assert_eq!(queued, vec![11]);
        engine.shutdown().await;
    }

    #[tokio::test]
    async fn updates_keep_the_queue() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::open(tmp.path()).unwrap();
        let buses = Arc::new(Buses::open(dd, LogConfig::default()).unwrap());
        let engine = test_engine(tmp.path(), &buses);
        let bus = buses.get("default").unwrap();
        let (be, d, rx) = engine
            .prepare_bus(bus.clone(), tmp.path().join("delivery"), Vec::new())
            .await
            .unwrap();
        engine.change("default", "r", Some(def("a")));
        bus.log
            .append((1..=3).map(|n| event(n, "a")).collect::<Vec<_>>())
            .await
            .unwrap();
        engine.change("default", "r", Some(def("b")));
        bus.log
            .append(
                (4..=6)
                    .map(|n| event(n, if n == 5 { "b" } else { "a" }))
                    .collect::<Vec<_>>(),
            )
            .await
            .unwrap();
        engine.launch_bus(&be, d, rx);
        for _ in 0..500 {
            if be.dispatched.load(Ordering::Acquire) == 6 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let t = engine.target("default", "r", "t").unwrap();
        let mut queued = Vec::new();
        t.queue.read(0, 100, &mut queued).unwrap();
        assert_eq!(queued, vec![1, 2, 3, 5]);
        engine.shutdown().await;
    }
}
