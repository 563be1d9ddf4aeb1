//! `railyard bench queue`: internal-queue throughput end to end: producers send CloudEvents in
//! batches (`POST /v1/queues/{q}/messages`), consumers long-poll `messages:receive` and ack
//! every message they get (`messages:ack`), and the figure is messages acknowledged per second.
//!
//! With `--via-bus <bus>` the producers ingest into that bus instead, and a rule there sends
//! every event to the queue with a `queue` target: the whole path of an event (ingest, rule
//! match, delivery into the queue, receive, ack).
//!
//! Producers stop sending while more than `--max-backlog` messages are sent but not yet
//! acknowledged, so the run measures the steady state (ingest, receive and ack together on the
//! same machine) instead of a backlog growing without bound. The queue is created if missing
//! (visibility 30 s) and purged of nothing: run it on a fresh queue name (the default adds a
//! random suffix) so earlier runs' messages do not count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use super::machine::Machine;

/// Arguments of `railyard bench queue`.
#[derive(clap::Args, Debug, Clone)]
pub struct QueueArgs {
    /// Base URL of a running server
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// Queue to use (created if missing); default: bench-<random>
    #[arg(long)]
    pub queue: Option<String>,

    /// Ingest into this bus (created if missing), with a rule whose queue target fills the
    /// queue, instead of sending to the queue directly
    #[arg(long, value_name = "BUS")]
    pub via_bus: Option<String>,

    /// Consumers, each one connection doing receive + ack in a loop
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub consumers: u32,

    /// Producers, each one connection sending batches in a loop
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub producers: u32,

    /// Messages per send request
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,

    /// `max` of each receive (1 to 100)
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub receive_max: u32,

    /// Size of one event in structured JSON
    #[arg(long, value_name = "SIZE", default_value = "512B", value_parser = super::parse_event_size)]
    pub event_size: u64,

    /// Producers pause while this many messages are sent and not yet acknowledged
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub max_backlog: u64,

    /// How long to measure, after the warm-up
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::parse_positive_duration)]
    pub duration: Duration,

    /// Load before measuring starts, excluded from the figures
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = super::parse_duration)]
    pub warmup: Duration,

    /// Print one JSON object with the figures instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
}

#[derive(Deserialize)]
struct Receipts {
    messages: Vec<Msg>,
}

#[derive(Deserialize)]
struct Msg {
    receipt: String,
}

fn batch_body(producer: u32, batch: u32, event_size: u64) -> String {
    let pad = "x".repeat(usize::try_from(event_size.saturating_sub(150)).unwrap_or(0));
    let events: Vec<Value> = (0..batch)
        .map(|i| {
            json!({"specversion": "1.0", "id": format!("bq-{producer}-{i}"), "source": "/bench/queue",
                   "type": "dev.railyard.bench.queue", "data": {"pad": pad}})
        })
        .collect();
    Value::Array(events).to_string()
}

/// Runs the benchmark and prints the report.
pub async fn run(args: QueueArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_owned();
    let name = args
        .queue
        .clone()
        .unwrap_or_else(|| format!("bench-{:08x}", rand::random::<u32>()));
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let qurl = format!("{base}/v1/queues/{name}");
    let r = c
        .get(&qurl)
        .send()
        .await
        .with_context(|| format!("GET {qurl}"))?;
    if r.status() == 404 {
        let r = c.put(&qurl).json(&json!({})).send().await?;
        if !r.status().is_success() {
            bail!(
                "PUT {qurl}: {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
    }
    let rule_url = match &args.via_bus {
        Some(bus) => Some(route_through_bus(&c, &base, bus, &name).await?),
        None => None,
    };
    let send_url = match &args.via_bus {
        Some(bus) => format!("{base}/v1/buses/{bus}/events"),
        None => format!("{qurl}/messages"),
    };
    let n = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for p in 0..args.producers {
        let (c, n, stop, url) = (c.clone(), n.clone(), stop.clone(), send_url.clone());
        let body = bytes::Bytes::from(batch_body(p, args.batch, args.event_size));
        let (batch, max_backlog) = (u64::from(args.batch), args.max_backlog);
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let backlog = n.sent.load(Ordering::Relaxed)
                    - n.acked
                        .load(Ordering::Relaxed)
                        .min(n.sent.load(Ordering::Relaxed));
                if backlog > max_backlog {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                let r = c
                    .post(&url)
                    .header("content-type", "application/cloudevents-batch+json")
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        n.sent.fetch_add(batch, Ordering::Relaxed);
                    }
                    _ => {
                        n.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    for _ in 0..args.consumers {
        let (c, n, stop) = (c.clone(), n.clone(), stop.clone());
        let (recv_url, ack_url) = (
            format!("{qurl}/messages:receive"),
            format!("{qurl}/messages:ack"),
        );
        let recv_body = json!({"max": args.receive_max, "wait": "1s"}).to_string();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let got = async {
                    let r = c
                        .post(&recv_url)
                        .header("content-type", "application/json")
                        .body(recv_body.clone())
                        .send()
                        .await?;
                    if !r.status().is_success() {
                        bail!("receive: {}", r.status());
                    }
                    let got: Receipts = r.json().await?;
                    if got.messages.is_empty() {
                        return Ok(0);
                    }
                    let receipts: Vec<String> =
                        got.messages.into_iter().map(|m| m.receipt).collect();
                    let k = receipts.len() as u64;
                    n.received.fetch_add(k, Ordering::Relaxed);
                    let r = c
                        .post(&ack_url)
                        .json(&json!({ "receipts": receipts }))
                        .send()
                        .await?;
                    if !r.status().is_success() {
                        bail!("ack: {}", r.status());
                    }
                    let v: Value = r.json().await?;
                    let failed = v["failed"].as_u64().unwrap_or(k);
                    Ok::<u64, anyhow::Error>(k - failed.min(k))
                }
                .await;
                match got {
                    Ok(k) => {
                        n.acked.fetch_add(k, Ordering::Relaxed);
                    }
                    Err(_) => {
                        n.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(args.warmup).await;
    let (s0, a0, t0) = (
        n.sent.load(Ordering::Relaxed),
        n.acked.load(Ordering::Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(args.duration).await;
    let (s1, a1, secs) = (
        n.sent.load(Ordering::Relaxed),
        n.acked.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    if let Some(url) = &rule_url
        && let Err(e) = c.delete(url).send().await
    {
        eprintln!("deleting the bench rule {url}: {e}");
    }
    let (sent, acked) = ((s1 - s0) as f64 / secs, (a1 - a0) as f64 / secs);
    let errors = n.errors.load(Ordering::Relaxed);
    let stats: Value = match c.get(&qurl).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let machine = Machine::detect();
    if args.json {
        println!(
            "{}",
            json!({"queue": name, "via_bus": args.via_bus, "consumers": args.consumers, "producers": args.producers,
                   "batch": args.batch, "receive_max": args.receive_max, "event_size": args.event_size,
                   "seconds": secs, "sent_per_sec": sent, "acked_per_sec": acked, "errors": errors,
                   "machine": machine.summary(), "stats_after": stats["stats"]})
        );
    } else {
        println!(
            "railyard bench queue: queue {name}, {} producers (batches of {}), {} consumers (receive max {}), {} B events, {:.1} s measured",
            args.producers, args.batch, args.consumers, args.receive_max, args.event_size, secs
        );
        if let Some(bus) = &args.via_bus {
            println!("path: ingest into bus {bus} → rule → queue target → receive → ack");
        }
        println!("machine: {}", machine.summary());
        println!("end to end (acknowledged): {acked:.0} messages/s");
        println!("produced: {sent:.0} messages/s");
        println!("errors: {errors}; queue after the run: {}", stats["stats"]);
    }
    Ok(())
}

/// Creates `bus` if missing and a rule there sending every bench event to `queue`; returns the
/// rule's URL (deleted after the run).
async fn route_through_bus(
    c: &reqwest::Client,
    base: &str,
    bus: &str,
    queue: &str,
) -> anyhow::Result<String> {
    let bus_url = format!("{base}/v1/buses/{bus}");
    if c.get(&bus_url).send().await?.status() == 404 {
        let r = c.put(&bus_url).json(&json!({})).send().await?;
        if !r.status().is_success() {
            bail!(
                "PUT {bus_url}: {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
    }
    let rule_url = format!("{bus_url}/rules/bench-to-{queue}");
    let r = c
        .put(&rule_url)
        .json(
            &json!({"filter": {"pattern": {"type": ["dev.railyard.bench.queue"]}},
                      "targets": [{"id": "queue", "kind": "queue", "queue": queue}]}),
        )
        .send()
        .await?;
    if !r.status().is_success() {
        bail!(
            "PUT {rule_url}: {}: {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    Ok(rule_url)
}
