//! One task per target: takes deliveries from the target's queue and its retry levels, starts
//! attempts within the target's limits, and settles each one (delivered, retry, dead letter).
//!
//! What starts next, in order: a retry whose time has come (the earliest head of the level
//! FIFOs), a delivery released by its ordering key, then the next queue entry. Limits: at most
//! `max_in_flight` attempts at once, attempts spaced by the rate limit ([`pace`]), and at most
//! [`WINDOW`] queue entries taken in beyond the committed index (which bounds memory when a key
//! blocks).
//!
//! Ordering (`ordering_key`): a key is *held* by the one delivery of that key that is in flight or
//! waiting to retry; later deliveries of the key park behind it, in sequence order, and the next
//! one starts when the holder is delivered or dead-lettered. Other keys flow meanwhile.
//!
//! The worker is the only writer of the retries in its target's journal; dead-letter operations
//! from the API go through the ledger's lock and reach the worker as redriven retries.

mod pace;
mod window;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bus::log::Lookup;
use bus::registry::Bus;
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::value::RawValue;

use crate::connections::Connections;
use crate::http::{self, Outcome, request};
use crate::retry;
use crate::spec::Kind;
use crate::store::{Attempt, DeadLetter, Rec, RetryRec};
use crate::target::{Running, Target};
use crate::trace::{DeliveryState, Traces};
use pace::Pace;
use window::Window;

/// Queue entries taken in beyond the committed index, at most.
pub const WINDOW: usize = 100_000;
/// Entries read from the queue at once.
const READ_BATCH: usize = 256;
/// The journal is compacted when it is larger than this and four times its live records.
const COMPACT_BYTES: u64 = 32 << 20;

/// What every worker of a bus shares.
#[derive(Debug)]
pub struct Ctx {
    /// The bus.
    pub bus: Arc<Bus>,
    /// Every bus: where bus targets and replies append.
    pub buses: Arc<bus::registry::Buses>,
    /// The internal queues: where queue targets send.
    pub queues: Arc<queues::Queues>,
    /// HTTP client (pooled).
    pub client: crate::http::Client,
    /// Credentials.
    pub connections: Arc<Connections>,
    /// Event traces.
    pub traces: Arc<Traces>,
}

/// One delivery being worked on.
#[derive(Debug)]
struct Item {
    seq: u64,
    /// Its queue index, while it has one to settle.
    slot: Option<u64>,
    /// Its retry id, once it has one.
    retry: Option<u64>,
    attempts: Vec<Attempt>,
    /// How many of `attempts` the journal has.
    journaled: usize,
    /// Where `max_age` counts from (Unix ms).
    since_ms: i64,
    /// Ingestion time (Unix µs), for the latency metric and templates.
    ingested_us: i64,
    /// The event, when loaded.
    event: Option<Bytes>,
    /// The event does not come from the bus log (a redriven dead letter).
    own_event: bool,
    /// Its ordering key, once known.
    key: Option<Option<String>>,
    holds_key: bool,
}

struct Waiting {
    due: Instant,
    item: Item,
}

struct Done {
    item: Item,
    outcome: Outcome,
    attempt: Attempt,
}

type Flight = Pin<Box<dyn Future<Output = Done> + Send>>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs a target's worker until the target is stopped.
pub async fn run(t: Arc<Target>, ctx: Arc<Ctx>, retries: BTreeMap<u64, RetryRec>) {
    let committed = t.committed.load(Ordering::Acquire);
    let mut w = Worker {
        window: Window::new(committed),
        read_pos: committed,
        buf: VecDeque::new(),
        levels: (0..retry::LEVELS.len()).map(|_| VecDeque::new()).collect(),
        ready: VecDeque::new(),
        keys: HashMap::new(),
        live: HashMap::new(),
        flights: FuturesUnordered::new(),
        pace: Pace::new(),
        scratch: Vec::with_capacity(READ_BATCH),
        t,
        ctx,
    };
    w.load(retries);
    w.run().await;
}

struct Worker {
    t: Arc<Target>,
    ctx: Arc<Ctx>,
    window: Window,
    /// The next queue index to read.
    read_pos: u64,
    /// Queue entries read and not started: (index, sequence).
    buf: VecDeque<(u64, u64)>,
    /// The retry levels (FIFOs).
    levels: Vec<VecDeque<Waiting>>,
    /// Deliveries released by their key, to start before new ones.
    ready: VecDeque<Item>,
    /// Held keys and the deliveries parked behind each.
    keys: HashMap<String, VecDeque<Item>>,
    /// Each live retry with all its attempts (what compaction writes).
    live: HashMap<u64, RetryRec>,
    flights: FuturesUnordered<Flight>,
    pace: Pace,
    scratch: Vec<u64>,
}

impl Worker {
    /// Puts the journal's waiting retries on their levels (they hold their keys first).
    fn load(&mut self, retries: BTreeMap<u64, RetryRec>) {
        let mut all: Vec<RetryRec> = retries.into_values().collect();
        all.sort_by_key(|r| (r.due_ms, r.id));
        let running = self.t.running();
        for r in all {
            self.live.insert(r.id, r.clone());
            self.t
                .waiting()
                .insert(r.seq, (rfc3339_ms(r.due_ms), r.attempts.clone()));
            let mut item = self.item_of_retry(r.clone());
            if running.spec.delivery.ordering_key.is_some() {
                self.load_event(&mut item);
                let key = self.key_of(&running, &mut item);
                if let Some(k) = key {
                    match self.keys.get_mut(&k) {
                        // Two retries of one key (possible only after a redrive): the later one
                        // waits behind the earlier.
                        Some(q) => {
                            q.push_back(item);
                            continue;
                        }
                        None => {
                            self.keys.insert(k, VecDeque::new());
                            item.holds_key = true;
                        }
                    }
                }
                if !item.own_event {
                    item.event = None;
                }
            }
            let due = Instant::now()
                + Duration::from_millis(u64::try_from(r.due_ms - now_ms()).unwrap_or(0));
            let level = usize::from(r.level).min(retry::LEVELS.len() - 1);
            self.levels[level].push_back(Waiting { due, item });
        }
        self.publish();
    }

    fn item_of_retry(&self, r: RetryRec) -> Item {
        let own = r.event.is_some();
        Item {
            seq: r.seq,
            slot: None,
            retry: Some(r.id),
            journaled: r.attempts.len(),
            attempts: r.attempts,
            since_ms: r.since_ms,
            ingested_us: r.since_ms.saturating_mul(1000),
            event: r.event.map(|e| Bytes::from(e.get().to_owned())),
            own_event: own,
            key: None,
            holds_key: false,
        }
    }

    async fn run(mut self) {
        loop {
            if self.t.stopped.load(Ordering::Acquire) {
                return;
            }
            self.take_redriven();
            self.fill();
            self.publish();
            let wake = self.next_wake();
            tokio::select! {
                Some(done) = self.flights.next(), if !self.flights.is_empty() => {
                    self.settle(done);
                    while let Some(Some(done)) = self.flights.next().now_or_never() {
                        self.settle(done);
                    }
                }
                () = self.t.wake.notified() => {}
                () = sleep_until(wake), if wake.is_some() => {}
            }
        }
    }

    fn publish(&self) {
        self.t
            .committed
            .store(self.window.committed(), Ordering::Release);
        let retrying: usize = self.levels.iter().map(VecDeque::len).sum();
        self.t.retrying.store(retrying, Ordering::Release);
        self.t
            .in_flight
            .store(self.flights.len(), Ordering::Release);
        self.t.meters.depth.set(self.t.depth() as f64);
    }

    fn next_wake(&self) -> Option<Instant> {
        let due = self
            .levels
            .iter()
            .filter_map(|l| l.front().map(|w| w.due))
            .min();
        let running = self.t.running();
        let has_work = due.is_some()
            || !self.ready.is_empty()
            || !self.buf.is_empty()
            || self.t.queue.written() > self.read_pos;
        let paced = if running.spec.delivery.rate_limit.is_some() && has_work {
            self.pace.next()
        } else {
            None
        };
        match (due, paced) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn take_redriven(&mut self) {
        let redriven = std::mem::take(&mut self.t.ledger().redriven);
        for r in redriven {
            self.live.insert(r.id, r.clone());
            let item = self.item_of_retry(r);
            self.ready.push_back(item);
        }
    }

    /// Starts attempts while the limits allow and there is work.
    fn fill(&mut self) {
        let running = self.t.running();
        let max = running.spec.delivery.max_in_flight;
        let interval = running.spec.delivery.rate_limit.map(|r| r.interval());
        while self.flights.len() < max {
            let now = Instant::now();
            if interval.is_some() && !self.pace.ready(now) {
                break;
            }
            let Some(mut item) = self.next_item(now) else {
                break;
            };
            if running.spec.delivery.ordering_key.is_some() && !item.holds_key {
                self.load_event(&mut item);
                if let Some(k) = self.key_of(&running, &mut item) {
                    if let Some(parked) = self.keys.get_mut(&k) {
                        parked.push_back(item);
                        continue;
                    }
                    self.keys.insert(k, VecDeque::new());
                    item.holds_key = true;
                }
            }
            if let Some(i) = interval {
                self.pace.take(now, i);
            }
            self.launch(item, running.clone());
        }
    }

    fn next_item(&mut self, now: Instant) -> Option<Item> {
        let due = self
            .levels
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.front().filter(|w| w.due <= now).map(|w| (w.due, i)))
            .min();
        if let Some((_, level)) = due {
            return self.levels[level].pop_front().map(|w| w.item);
        }
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        if self.buf.is_empty() && self.window.len() < WINDOW {
            self.scratch.clear();
            let want = READ_BATCH.min(WINDOW - self.window.len());
            if let Err(e) = self.t.queue.read(self.read_pos, want, &mut self.scratch) {
                tracing::error!(target_key = %self.t.key, error = %e, "reading the delivery queue failed");
                return None;
            }
            for &seq in &self.scratch {
                let idx = self.window.push();
                self.buf.push_back((idx, seq));
            }
            self.read_pos = self.window.end();
        }
        let (idx, seq) = self.buf.pop_front()?;
        Some(Item {
            seq,
            slot: Some(idx),
            retry: None,
            attempts: Vec::new(),
            journaled: 0,
            since_ms: 0,
            ingested_us: 0,
            event: None,
            own_event: false,
            key: None,
            holds_key: false,
        })
    }

    /// Reads the event from the bus log if the item does not have it.
    fn load_event(&self, item: &mut Item) {
        if item.event.is_some() {
            return;
        }
        if let Ok(Lookup::Found(rec)) = self.ctx.bus.log.get(item.seq) {
            item.ingested_us = rec.timestamp;
            if item.since_ms == 0 {
                item.since_ms = rec.timestamp / 1000;
            }
            item.event = Some(Bytes::from(rec.body));
        }
    }

    fn key_of(&self, running: &Running, item: &mut Item) -> Option<String> {
        if let Some(k) = &item.key {
            return k.clone();
        }
        let key = match (&running.spec.delivery.ordering_key, &item.event) {
            (Some(ok), Some(ev)) => serde_json::from_slice(ev).ok().and_then(|v| ok.of(&v)),
            _ => None,
        };
        item.key = Some(key.clone());
        key
    }

    fn launch(&mut self, mut item: Item, running: Arc<Running>) {
        self.load_event(&mut item);
        let ctx = self.ctx.clone();
        let rule = self.t.rule.clone();
        self.flights.push(Box::pin(async move {
            let at = rfc3339_ms(now_ms());
            let started = Instant::now();
            let outcome = match &item.event {
                None => Outcome::Fatal {
                    status: None,
                    error: "the event left the bus log (retention) before it was delivered".into(),
                },
                Some(event) => attempt(&ctx, &running, &rule, &item, event).await,
            };
            let (status, error, detail) = match &outcome {
                Outcome::Delivered { status, detail } => (*status, None, detail.clone()),
                Outcome::Retry { status, error, .. } | Outcome::Fatal { status, error } => {
                    (*status, Some(error.clone()), None)
                }
            };
            let attempt = Attempt {
                at,
                status,
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                error,
                detail,
            };
            Done {
                item,
                outcome,
                attempt,
            }
        }));
    }

    fn settle(&mut self, done: Done) {
        let Done {
            mut item,
            outcome,
            attempt,
        } = done;
        let running = self.t.running();
        match outcome {
            Outcome::Delivered { .. } => {
                self.t.meters.delivered.increment(1);
                if item.ingested_us > 0 {
                    let now_us = now_ms().saturating_mul(1000);
                    let lat = (now_us - item.ingested_us).max(0) as f64 / 1e6;
                    self.t.meters.latency.record(lat);
                }
                self.ctx.traces.update(
                    item.seq,
                    &self.t.rule,
                    &self.t.id,
                    DeliveryState::Delivered,
                    Some(attempt),
                );
                if let Some(id) = item.retry {
                    let mut ledger = self.t.ledger();
                    if let Err(e) = ledger.append(&Rec::Done { id }) {
                        tracing::error!(target_key = %self.t.key, error = %e, "journal write failed; the retry may be attempted again after a restart");
                    }
                    self.live.remove(&id);
                }
                self.finish(item);
            }
            Outcome::Retry {
                error, retry_after, ..
            } => {
                self.t.meters.failed.increment(1);
                item.attempts.push(attempt.clone());
                let n = u32::try_from(item.attempts.len()).unwrap_or(u32::MAX);
                let policy = running.spec.delivery.retry;
                let level = retry::level(n, retry_after);
                let delay = retry::delay(level, rand::random::<f64>());
                let now = now_ms();
                let due_ms = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                let max_age_ms = i64::try_from(policy.max_age.as_millis()).unwrap_or(i64::MAX);
                if n >= policy.max_attempts {
                    let reason = format!("{n} attempts failed (max_attempts); the last: {error}");
                    self.bury(item, reason, Some(attempt));
                } else if due_ms > item.since_ms.saturating_add(max_age_ms) {
                    let reason = format!(
                        "the next attempt would come after max_age ({}); the last: {error}",
                        humantime::format_duration(policy.max_age)
                    );
                    self.bury(item, reason, Some(attempt));
                } else {
                    self.schedule(item, level, delay, due_ms, attempt);
                }
            }
            Outcome::Fatal { error, .. } => {
                self.t.meters.failed.increment(1);
                item.attempts.push(attempt.clone());
                self.bury(item, error, Some(attempt));
            }
        }
    }

    fn schedule(
        &mut self,
        mut item: Item,
        level: usize,
        delay: Duration,
        due_ms: i64,
        attempt: Attempt,
    ) {
        let mut ledger = self.t.ledger();
        let id = match item.retry {
            Some(id) => id,
            None => {
                let id = ledger.next_retry;
                ledger.next_retry += 1;
                id
            }
        };
        let event = if item.own_event {
            item.event
                .as_ref()
                .and_then(|e| RawValue::from_string(String::from_utf8_lossy(e).into_owned()).ok())
        } else {
            None
        };
        let full = RetryRec {
            id,
            seq: item.seq,
            attempts: item.attempts.clone(),
            due_ms,
            level: u8::try_from(level).unwrap_or(u8::MAX),
            since_ms: item.since_ms,
            event,
        };
        // The journal gets only the attempts it does not have yet (and never the event again:
        // a redriven letter's first record has it).
        let delta = RetryRec {
            attempts: item.attempts[item.journaled.min(item.attempts.len())..].to_vec(),
            event: None,
            ..full.clone()
        };
        let written = ledger.append(&Rec::Retry(delta));
        let journal_len = ledger.journal.len();
        drop(ledger);
        match written {
            Ok(()) => {
                item.retry = Some(id);
                item.journaled = item.attempts.len();
                self.live.insert(id, full);
                if let Some(slot) = item.slot.take() {
                    self.window.done(slot);
                }
            }
            Err(e) => {
                // The queue entry stays unsettled, so a restart retries it from the queue.
                tracing::error!(target_key = %self.t.key, error = %e, "journal write failed; the retry is kept in memory only");
            }
        }
        self.t
            .waiting()
            .insert(item.seq, (rfc3339_ms(due_ms), item.attempts.clone()));
        self.ctx.traces.update(
            item.seq,
            &self.t.rule,
            &self.t.id,
            DeliveryState::Retrying {
                next_attempt_at: rfc3339_ms(due_ms),
            },
            Some(attempt),
        );
        if !item.own_event {
            item.event = None;
        }
        self.levels[level].push_back(Waiting {
            due: Instant::now() + delay,
            item,
        });
        self.maybe_compact(journal_len);
    }

    fn bury(&mut self, item: Item, reason: String, attempt: Option<Attempt>) {
        let event = item
            .event
            .as_ref()
            .and_then(|e| RawValue::from_string(String::from_utf8_lossy(e).into_owned()).ok())
            .unwrap_or_else(|| {
                RawValue::from_string("null".to_owned()).unwrap_or_else(|_| Box::default())
            });
        let letter = DeadLetter {
            id: 0,
            sequence: item.seq,
            rule: self.t.rule.to_string(),
            target: self.t.id.to_string(),
            reason: reason.clone(),
            dead_lettered_at: rfc3339_ms(now_ms()),
            attempts: item.attempts.clone(),
            event,
        };
        let mut ledger = self.t.ledger();
        let buried = ledger.bury(letter, item.retry);
        let journal_len = ledger.journal.len();
        drop(ledger);
        match buried {
            Ok(id) => {
                self.t.meters.dead.increment(1);
                if let Some(r) = item.retry {
                    self.live.remove(&r);
                }
                self.ctx.traces.update(
                    item.seq,
                    &self.t.rule,
                    &self.t.id,
                    DeliveryState::DeadLettered {
                        dead_letter: id,
                        reason,
                    },
                    attempt,
                );
                self.finish(item);
            }
            Err(e) => {
                tracing::error!(target_key = %self.t.key, error = %e, "journal write failed; the dead letter is not kept, and the delivery is attempted again after a restart");
                if let Some(k) = item.key.clone().flatten().filter(|_| item.holds_key) {
                    self.release(&k);
                }
            }
        }
        self.maybe_compact(journal_len);
    }

    /// A delivery is over: its queue entry is done and its key goes to the next in line.
    fn finish(&mut self, item: Item) {
        if item.retry.is_some() {
            self.t.waiting().remove(&item.seq);
        }
        if let Some(slot) = item.slot {
            self.window.done(slot);
        }
        if item.holds_key
            && let Some(Some(k)) = &item.key
        {
            self.release(k);
        }
    }

    fn release(&mut self, key: &str) {
        let next = match self.keys.get_mut(key) {
            Some(q) => q.pop_front(),
            None => return,
        };
        match next {
            Some(mut item) => {
                item.holds_key = true;
                self.ready.push_back(item);
            }
            None => {
                self.keys.remove(key);
            }
        }
    }

    fn maybe_compact(&mut self, journal_len: u64) {
        if journal_len < COMPACT_BYTES {
            return;
        }
        let mut ledger = self.t.ledger();
        let frames: Vec<Vec<u8>> = self
            .live
            .values()
            .map(|r| Rec::Retry(r.clone()).encode())
            .collect();
        let live: u64 = frames.iter().map(|v| v.len() as u64 + 8).sum::<u64>()
            + ledger
                .dead
                .values()
                .map(|d| d.event.get().len() as u64 + 256)
                .sum::<u64>();
        if live.saturating_mul(4) > journal_len {
            return;
        }
        if let Err(e) = ledger.compact(&frames) {
            tracing::error!(target_key = %self.t.key, error = %e, "journal compaction failed");
        }
    }
}

/// One attempt of one delivery.
async fn attempt(ctx: &Ctx, running: &Running, rule: &str, item: &Item, event: &Bytes) -> Outcome {
    let ingestion = rfc3339_ms(item.ingested_us / 1000);
    let shaping = request::Shaping {
        transform: running.spec.transform.as_ref(),
        projection: running.filter.projection(),
        rule,
        ingestion_time: &ingestion,
    };
    match &running.spec.kind {
        Kind::Function(f) => match &running.function {
            Some(rt) => invoke(ctx, f, rt, shaping, event).await,
            None => Outcome::Fatal {
                status: None,
                error: "the function's runtime is not built".into(),
            },
        },
        Kind::Nats(_) | Kind::Amqp(_) => {
            let ev = match request::cloudevent(shaping, event) {
                Ok(ev) => ev,
                Err(error) => {
                    return Outcome::Fatal {
                        status: None,
                        error,
                    };
                }
            };
            let timeout = running.spec.delivery.timeout;
            match &running.publisher {
                Some(crate::target::Publisher::Nats(p)) => p.publish(&ev, timeout).await,
                Some(crate::target::Publisher::Amqp(p)) => p.publish(&ev, timeout).await,
                None => Outcome::Fatal {
                    status: None,
                    error: "the target's publisher is not built".into(),
                },
            }
        }
        Kind::Queue(spec) => match request::cloudevent(shaping, event) {
            Ok(ev) => {
                let stored = shaping.keeps_event();
                crate::local::send_to_queue(&ctx.queues, &spec.queue, &ev, stored).await
            }
            Err(error) => Outcome::Fatal {
                status: None,
                error,
            },
        },
        Kind::Bus(spec) => match request::cloudevent(shaping, event) {
            Ok(ev) => crate::local::append(&ctx.buses, &spec.bus, &ev, spec.max_hops).await,
            Err(error) => Outcome::Fatal {
                status: None,
                error,
            },
        },
        Kind::Http(spec) => match request::prepare(spec, shaping, event) {
            Ok(prepared) => {
                http::send(
                    &ctx.client,
                    &ctx.connections,
                    spec,
                    running.spec.delivery.timeout,
                    &prepared,
                )
                .await
            }
            Err(error) => Outcome::Fatal {
                status: None,
                error,
            },
        },
    }
}

/// One invocation of a function; a reply goes on to the reply bus, one hop further than the
/// event that caused it, before the delivery counts as done (a failed append retries the
/// invocation: at least once, with the same reply id).
async fn invoke(
    ctx: &Ctx,
    f: &crate::spec::FunctionSpec,
    rt: &crate::function::FunctionRuntime,
    shaping: request::Shaping<'_>,
    event: &Bytes,
) -> Outcome {
    use crate::hops;
    let hops_so_far = hops::count_bytes(event);
    if f.reply.is_some()
        && let Err(error) = hops::check(hops_so_far, hops::DEFAULT_MAX)
    {
        // Stopped before invoking: its reply could not go on anyway.
        return Outcome::Fatal {
            status: None,
            error,
        };
    }
    let inv = rt
        .invoke(&ctx.client, &ctx.connections, shaping, event)
        .await;
    let stderr = inv.stderr.map(|e| format!("stderr: {e}"));
    let (status, mut detail) = match inv.outcome {
        Outcome::Delivered { status, detail } => (status, detail),
        Outcome::Retry {
            status,
            error,
            retry_after,
        } => {
            return Outcome::Retry {
                status,
                error,
                retry_after,
            };
        }
        Outcome::Fatal { status, error } => return Outcome::Fatal { status, error },
    };
    let join = |a: Option<String>, b: Option<String>| match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    if let Some(code) = inv.exit_code {
        detail = join(detail, Some(format!("exit {code}")));
    }
    match (inv.reply, &f.reply) {
        (Some(mut reply), Some(to)) => {
            reply.extensions.insert(
                hops::EXTENSION.into(),
                bus::event::ExtensionValue::Integer(
                    i64::try_from(hops_so_far + 1).unwrap_or(i64::MAX),
                ),
            );
            match crate::local::append_event(&ctx.buses, &to.bus, &reply).await {
                Outcome::Delivered { detail: d, .. } => Outcome::Delivered {
                    status,
                    detail: join(
                        join(detail, d.map(|d| format!("reply {:?} {d}", reply.id))),
                        stderr,
                    ),
                },
                Outcome::Retry {
                    error, retry_after, ..
                } => Outcome::Retry {
                    status,
                    error: format!("the reply could not be stored: {error}"),
                    retry_after,
                },
                Outcome::Fatal { error, .. } => Outcome::Fatal {
                    status,
                    error: format!("the reply could not be stored: {error}"),
                },
            }
        }
        (Some(reply), None) => Outcome::Delivered {
            status,
            detail: join(
                join(
                    detail,
                    Some(format!("reply {:?} dropped (no reply bus)", reply.id)),
                ),
                stderr,
            ),
        },
        (None, _) => Outcome::Delivered {
            status,
            detail: join(detail, stderr),
        },
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
