//! One (rule, target) pair at run time: its spec, queue, ledger and counters, shared by the
//! dispatcher (which fills the queue), the worker (which drains it), the checkpoint and the API.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use metrics::{Counter, Gauge, Histogram};
use rules::Filter;
use tokio::sync::Notify;

use crate::spec::TargetSpec;
use crate::store::{Ledger, Queue};

/// The spec a worker runs with, and what the rule adds to it.
#[derive(Debug)]
pub struct Running {
    /// The target.
    pub spec: TargetSpec,
    /// The rule's filter (its SQL projection shapes the payload when there is no transform).
    pub filter: Arc<Filter>,
    /// A function target's runtime (it holds the concurrency cap), built once per spec.
    pub function: Option<crate::function::FunctionRuntime>,
    /// A broker target's publisher (it keeps its connection), built once per spec.
    pub publisher: Option<Publisher>,
}

/// The publisher of a broker target.
#[derive(Debug)]
pub enum Publisher {
    /// NATS.
    Nats(Box<crate::nats::NatsPublisher>),
    /// AMQP.
    Amqp(Box<crate::amqp::AmqpPublisher>),
}

impl Running {
    /// The spec of target `spec` of rule `rule`, ready to run.
    pub fn new(rule: &str, spec: TargetSpec, filter: Arc<Filter>) -> Running {
        let function = match &spec.kind {
            crate::spec::Kind::Function(f) => Some(crate::function::FunctionRuntime::new(
                f,
                spec.delivery.timeout,
                rule,
                &spec.id,
            )),
            _ => None,
        };
        let publisher = match &spec.kind {
            crate::spec::Kind::Nats(n) => Some(Publisher::Nats(Box::new(
                crate::nats::NatsPublisher::new((**n).clone(), format!("{rule}/{}", spec.id)),
            ))),
            crate::spec::Kind::Amqp(a) => Some(Publisher::Amqp(Box::new(
                crate::amqp::AmqpPublisher::new((**a).clone()),
            ))),
            _ => None,
        };
        Running {
            spec,
            filter,
            function,
            publisher,
        }
    }
}

/// Counters of one target.
#[derive(Debug)]
pub struct Meters {
    /// Events matched for it.
    pub matched: Counter,
    /// Deliveries confirmed.
    pub delivered: Counter,
    /// Attempts that failed.
    pub failed: Counter,
    /// Deliveries dead-lettered.
    pub dead: Counter,
    /// Ingestion to confirmed delivery.
    pub latency: Histogram,
    /// Deliveries not yet done (queued, in flight, waiting to retry).
    pub depth: Gauge,
}

impl Meters {
    fn new(bus: &str, rule: &str, target: &str) -> Meters {
        let l = [
            ("bus", bus.to_owned()),
            ("rule", rule.to_owned()),
            ("target", target.to_owned()),
        ];
        Meters {
            matched: metrics::counter!("railyard_deliveries_matched_total", &l),
            delivered: metrics::counter!("railyard_deliveries_delivered_total", &l),
            failed: metrics::counter!("railyard_delivery_attempts_failed_total", &l),
            dead: metrics::counter!("railyard_deliveries_dead_lettered_total", &l),
            latency: metrics::histogram!("railyard_delivery_latency_seconds", &l),
            depth: metrics::gauge!("railyard_delivery_queue_depth", &l),
        }
    }
}

/// A target at run time.
#[derive(Debug)]
pub struct Target {
    /// `"rule/target"`, its key in the checkpoint.
    pub key: String,
    /// The rule's name.
    pub rule: Arc<str>,
    /// The target id.
    pub id: Arc<str>,
    /// Its directory.
    pub dir: PathBuf,
    /// What it runs with (replaced when the rule is saved again).
    pub running: RwLock<Arc<Running>>,
    /// Matched sequences.
    pub queue: Queue,
    /// Retries and dead letters.
    pub ledger: Mutex<Ledger>,
    /// Every queue entry below this index is done (the worker advances it).
    pub committed: AtomicU64,
    /// Attempts in flight now.
    pub in_flight: AtomicUsize,
    /// Retries waiting now.
    pub retrying: AtomicUsize,
    /// Deliveries waiting to retry, by sequence: the next attempt's time and the attempts so
    /// far (what a trace shows once the event left the in-memory window).
    pub waiting: Mutex<std::collections::HashMap<u64, (String, Vec<crate::store::Attempt>)>>,
    /// Rung when there is something new: queue entries, redriven letters, a new spec, a stop.
    pub wake: Notify,
    /// Set when the worker must end.
    pub stopped: AtomicBool,
    /// Counters.
    pub meters: Meters,
}

impl Target {
    pub(crate) fn new(
        bus: &str,
        rule: &str,
        running: Running,
        dir: PathBuf,
        queue: Queue,
        ledger: Ledger,
        committed: u64,
    ) -> Target {
        let id = running.spec.id.clone();
        Target {
            key: format!("{rule}/{id}"),
            meters: Meters::new(bus, rule, &id),
            rule: Arc::from(rule),
            id: Arc::from(id.as_str()),
            dir,
            running: RwLock::new(Arc::new(running)),
            queue,
            ledger: Mutex::new(ledger),
            committed: AtomicU64::new(committed),
            in_flight: AtomicUsize::new(0),
            retrying: AtomicUsize::new(0),
            waiting: Mutex::new(std::collections::HashMap::new()),
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
        }
    }

    /// The spec now.
    pub fn running(&self) -> Arc<Running> {
        self.running
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the spec.
    pub fn update(&self, running: Running) {
        *self.running.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(running);
        self.wake.notify_one();
    }

    /// The ledger, locked.
    pub fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The waiting retries, locked.
    pub fn waiting(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<u64, (String, Vec<crate::store::Attempt>)>,
    > {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the worker to end.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Deliveries not done: queued after the committed index, plus waiting retries.
    pub fn depth(&self) -> u64 {
        self.queue
            .written()
            .saturating_sub(self.committed.load(Ordering::Acquire))
            + self.retrying.load(Ordering::Acquire) as u64
    }
}
