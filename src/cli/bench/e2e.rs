//! `railyard bench e2e`: end-to-end latency and delivery throughput through a running server.
//!
//! Why: the figure users care about is not ingest alone but "published → delivered". The tool
//! starts a built-in receiver on a loopback port, saves a rule on the server whose HTTP target
//! is that receiver (plus `--extra-rules` rules that match nothing, to show the cost of rules),
//! then either
//! - with `--rate`: sends one binary-mode event per request on an open-loop schedule and reports
//!   the latency from each 202 received to the receiver getting the event (p50 … max), or
//! - without: ingests `--events` in batches as fast as the server takes them and reports the
//!   delivery throughput (events over the time from the first to the last delivery).
//!
//! A delivery that reaches the receiver before its 202 reaches the client counts as 0. The rules
//! it created are deleted at the end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::machine::Machine;

/// Arguments of `railyard bench e2e`.
#[derive(clap::Args, Debug, Clone)]
pub struct E2eArgs {
    /// Base URL of a running server
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// Bus to use
    #[arg(long, default_value = "default")]
    pub bus: String,

    /// Open-loop rate, events per second (one event per request); without it, backlog mode
    #[arg(long, value_name = "N/s", value_parser = super::parse_rate)]
    pub rate: Option<f64>,

    /// How long to send at --rate
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::parse_positive_duration)]
    pub duration: Duration,

    /// Backlog mode: how many events to ingest (in batches of 500)
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub events: u64,

    /// The target's max_in_flight
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_in_flight: u32,

    /// The target's mode: binary, structured or body
    #[arg(long, default_value = "binary")]
    pub target_mode: String,

    /// Size of one event's data
    #[arg(long, value_name = "SIZE", default_value = "1KiB", value_parser = super::parse_event_size)]
    pub event_size: u64,

    /// Rules that match nothing, saved beside the measured one
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub extra_rules: u32,

    /// Connections sending events
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: u32,
}

const TYPE: &str = "dev.railyard.bench.e2e";

struct Arrivals {
    at: Mutex<HashMap<u64, Instant>>,
    count: AtomicU64,
}

fn id_of(headers: &http::HeaderMap, body: &[u8]) -> Option<u64> {
    let id = match headers.get("ce-id") {
        Some(v) => v.to_str().ok()?.to_owned(),
        None => serde_json::from_slice::<Value>(body)
            .ok()?
            .get("id")?
            .as_str()?
            .to_owned(),
    };
    id.strip_prefix("e2e-")?.parse().ok()
}

async fn receiver(arrivals: Arc<Arrivals>) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let a = arrivals.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let a = a.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let now = Instant::now();
                        if let Some(n) = id_of(&parts.headers, &body) {
                            let mut at = a.at.lock().unwrap_or_else(|p| p.into_inner());
                            at.entry(n).or_insert(now);
                        }
                        a.count.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::new(),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn put(c: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<()> {
    let r = c
        .put(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("PUT {url}"))?;
    if !r.status().is_success() {
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        bail!("PUT {url}: {status}: {text}");
    }
    Ok(())
}

fn event(n: u64, pad: &str) -> Value {
    json!({"specversion": "1.0", "id": format!("e2e-{n}"), "source": "/bench/e2e", "type": TYPE,
           "datacontenttype": "application/json", "data": {"n": n, "pad": pad}})
}

/// Runs the benchmark and prints the report.
pub async fn run(args: E2eArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_owned();
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .build()?;
    let arrivals = Arc::new(Arrivals {
        at: Mutex::new(HashMap::new()),
        count: AtomicU64::new(0),
    });
    let addr = receiver(arrivals.clone()).await?;
    let tag: u32 = rand::random();
    let rule = format!("bench-e2e-{tag:08x}");
    let rules_url = format!("{base}/v1/buses/{}/rules", args.bus);
    let target = json!({"id": "receiver", "kind": "http", "url": format!("http://{addr}/"),
                        "mode": args.target_mode, "max_in_flight": args.max_in_flight});
    put(
        &c,
        &format!("{rules_url}/{rule}"),
        &json!({"filter": {"pattern": {"type": [TYPE]}}, "targets": [target]}),
    )
    .await?;
    let mut extra = Vec::new();
    for i in 0..args.extra_rules {
        let name = format!("bench-extra-{tag:08x}-{i}");
        let body = json!({"filter": {"pattern": {"type": [format!("{TYPE}.none.{i}")], "source": [{"prefix": "/bench"}]}},
                          "targets": [{"id": "t", "kind": "http", "url": format!("http://{addr}/")}]});
        put(&c, &format!("{rules_url}/{name}"), &body).await?;
        extra.push(name);
    }
    let pad = "x".repeat(usize::try_from(args.event_size.saturating_sub(180)).unwrap_or(0));
    let events_url = format!("{base}/v1/buses/{}/events", args.bus);
    let acks: Arc<Mutex<HashMap<u64, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (total, mode) = match args.rate {
        Some(rate) => {
            let total = (rate * args.duration.as_secs_f64()).round() as u64;
            let mut tasks = Vec::new();
            for _ in 0..args.concurrency {
                let (c, acks, next, url, pad) = (
                    c.clone(),
                    acks.clone(),
                    next.clone(),
                    events_url.clone(),
                    pad.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= total {
                            return;
                        }
                        let at = started + Duration::from_secs_f64(n as f64 / rate);
                        tokio::time::sleep_until(at.into()).await;
                        let ev = event(n, &pad);
                        let body = ev["data"].to_string();
                        let r = c
                            .post(&url)
                            .header("ce-specversion", "1.0")
                            .header("ce-id", format!("e2e-{n}"))
                            .header("ce-source", "/bench/e2e")
                            .header("ce-type", TYPE)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        if let Ok(r) = r
                            && r.status().as_u16() == 202
                        {
                            let now = Instant::now();
                            let _ = r.bytes().await;
                            acks.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(n, now);
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            (
                total,
                format!("open loop at {rate}/s for {:?}", args.duration),
            )
        }
        None => {
            let total = args.events;
            let batches = total.div_ceil(500);
            let mut tasks = Vec::new();
            for _ in 0..args.concurrency {
                let (c, acks, next, url, pad) = (
                    c.clone(),
                    acks.clone(),
                    next.clone(),
                    events_url.clone(),
                    pad.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    loop {
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        if b >= batches {
                            return;
                        }
                        let ns: Vec<u64> = (b * 500..((b + 1) * 500).min(total)).collect();
                        let body = Value::Array(ns.iter().map(|n| event(*n, &pad)).collect());
                        let r = c
                            .post(&url)
                            .header("content-type", "application/cloudevents-batch+json")
                            .body(body.to_string())
                            .send()
                            .await;
                        if let Ok(r) = r
                            && r.status().as_u16() == 202
                        {
                            let now = Instant::now();
                            let _ = r.bytes().await;
                            let mut a = acks.lock().unwrap_or_else(|p| p.into_inner());
                            for n in ns {
                                a.insert(n, now);
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            (
                total,
                format!("backlog of {total} events in batches of 500"),
            )
        }
    };
    let sent_for = started.elapsed();
    let acked = acks.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
    // Wait for the deliveries (at most 60 s without progress).
    let mut last = (0usize, Instant::now());
    loop {
        let got = arrivals.at.lock().unwrap_or_else(|p| p.into_inner()).len();
        if got as u64 >= acked {
            break;
        }
        if got != last.0 {
            last = (got, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for name in std::iter::once(&rule).chain(extra.iter()) {
        let _ = c.delete(format!("{rules_url}/{name}")).send().await;
    }
    let acks = acks.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let at = arrivals
        .at
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
    for (n, ack) in &acks {
        if let Some(got) = at.get(n) {
            let us = got.saturating_duration_since(*ack).as_micros();
            hist.record(u64::try_from(us).unwrap_or(u64::MAX).max(1))?;
        }
    }
    let first = at.values().min().copied();
    let last_at = at.values().max().copied();
    let delivered = at.len() as u64;
    let span = match (first, last_at) {
        (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "railyard bench e2e: {mode}; target mode {}, max_in_flight {}, {} extra rules",
        args.target_mode, args.max_in_flight, args.extra_rules
    );
    println!("machine: {}", Machine::detect().summary());
    println!(
        "events: {total} sent, {acked} acknowledged ({:.0}/s), {delivered} delivered, {} missing, {} requests at the receiver",
        acked as f64 / sent_for.as_secs_f64(),
        acked.saturating_sub(delivered),
        arrivals.count.load(Ordering::Relaxed)
    );
    if span > 0.0 {
        println!(
            "delivery throughput: {:.0} events/s (first to last delivery, {span:.2} s)",
            delivered.saturating_sub(1) as f64 / span
        );
    }
    // The same once ingest is over, so it does not compete for the CPU: the deliveries after
    // the last 202, over the time from it to the last delivery.
    if let (Some(last_ack), Some(end)) = (acks.values().max().copied(), last_at) {
        let after = at.values().filter(|t| **t > last_ack).count();
        let secs = end.saturating_duration_since(last_ack).as_secs_f64();
        if after > 1000 && secs > 0.0 {
            println!(
                "delivery throughput after ingest ended: {:.0} events/s ({after} deliveries in {secs:.2} s)",
                after as f64 / secs
            );
        }
    }
    println!(
        "latency 202 → delivered (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        hist.max() as f64 / 1000.0
    );
    if acked > delivered {
        bail!(
            "{} acknowledged events were not delivered within 60 s",
            acked - delivered
        );
    }
    Ok(())
}
