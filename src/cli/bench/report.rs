//! Statistics of a `bench ingest` run and how they are printed.
//!
//! Why separate from the load loop: the figures are the product. Keeping collection (per worker,
//! no locks: each worker owns a [`Stats`] that is merged at the end) and formatting here, away
//! from sockets, makes both testable and the output format easy to keep stable.
//!
//! Definitions, so a reader of a report knows what was counted:
//! - only requests whose (scheduled) send time falls after the warm-up count at all;
//! - `ok` = 2xx; every other status and every I/O failure is an error, broken down by kind;
//! - requests/s, events/s and MiB/s count successful requests and their request-body bytes,
//!   divided by the measured window (the `--duration`, or longer if answers arrived after it);
//! - latency is recorded for successful requests only ("ack latency"), in microseconds;
//! - `unsent` (open loop only) = scheduled requests the generator never sent before the end,
//!   because every connection was still waiting for an answer: the target rate was not reached.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::machine::Machine;
use super::payload::Mode;

/// Highest latency the histogram resolves: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Why a request did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The server answered with a non-2xx status.
    Status(u16),
    /// A new connection could not be opened.
    Connect,
    /// The server closed a keep-alive connection between requests.
    Closed,
    /// The connection failed while a request was in flight.
    Io,
    /// No answer within `--timeout`.
    Timeout,
    /// The request could not be built (a generator bug, not a server one).
    Build,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Status(code) => write!(f, "status {code}"),
            ErrorKind::Connect => f.write_str("connect"),
            ErrorKind::Closed => f.write_str("closed"),
            ErrorKind::Io => f.write_str("io"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Build => f.write_str("build"),
        }
    }
}

/// What one worker (or, merged, the whole run) measured.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Ack latency of successful requests, microseconds.
    pub latency_us: Histogram<u64>,
    pub ok: u64,
    pub events: u64,
    pub bytes: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
    pub unsent: u64,
}

impl Stats {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
            ok: 0,
            events: 0,
            bytes: 0,
            errors: BTreeMap::new(),
            unsent: 0,
        })
    }

    pub fn record_ok(&mut self, latency: Duration, events: u64, bytes: u64) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(us.max(1));
        self.ok += 1;
        self.events += events;
        self.bytes += bytes;
    }

    pub fn record_error(&mut self, kind: ErrorKind) {
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: &Stats) -> anyhow::Result<()> {
        self.latency_us.add(&other.latency_us)?;
        self.ok += other.ok;
        self.events += other.events;
        self.bytes += other.bytes;
        self.unsent += other.unsent;
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        Ok(())
    }
}

/// The settings of a run, as reported.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub url: String,
    pub mode: Mode,
    pub event_size: u64,
    /// Events per request (1 outside batch mode).
    pub batch: u64,
    pub concurrency: u32,
    pub duration: Duration,
    pub warmup: Duration,
    /// Open-loop rate: requests/s, or events/s in batch mode.
    pub rate: Option<f64>,
}

/// Everything a report says.
#[derive(Debug)]
pub struct Summary {
    pub run: RunInfo,
    pub machine: Machine,
    pub stats: Stats,
    /// Length of the measured window.
    pub elapsed: Duration,
}

/// The latency percentiles reported, in milliseconds.
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    mean: f64,
}

impl Summary {
    fn per_second(&self, n: f64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { n / secs } else { 0.0 }
    }

    fn latency(&self) -> Option<Latency> {
        let h = &self.stats.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        (!h.is_empty()).then(|| Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        })
    }

    fn rate_label(&self) -> String {
        match self.run.rate {
            None => "unlimited".to_owned(),
            Some(r) if self.run.mode == Mode::Batch => format!("{r}ev/s"),
            Some(r) => format!("{r}req/s"),
        }
    }

    /// The human-readable report: one fact per line, `key: value` and `key=value`, stable for grep.
    pub fn text(&self) -> String {
        let r = &self.run;
        let s = &self.stats;
        let mut out = format!(
            "railyard bench ingest  mode={} event-size={} batch={} concurrency={} duration={} warmup={} rate={}\n",
            r.mode.name(),
            bus::units::format_bytes(r.event_size),
            r.batch,
            r.concurrency,
            bus::units::format_duration(r.duration),
            bus::units::format_duration(r.warmup),
            self.rate_label(),
        );
        out += &format!("url: {}\n", r.url);
        out += &format!("machine: {}\n", self.machine.summary());
        let mut errors = format!("{} errors", s.error_count());
        if !s.errors.is_empty() {
            let parts: Vec<String> = s.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            errors += &format!(" ({})", parts.join(", "));
        }
        if r.rate.is_some() {
            errors += &format!(", {} unsent", s.unsent);
        }
        out += &format!(
            "requests: {} ok, {errors}   requests/s: {:.1}\n",
            s.ok,
            self.per_second(s.ok as f64)
        );
        out += &format!(
            "events/s: {:.1}   MiB/s: {:.1}\n",
            self.per_second(s.events as f64),
            self.per_second(s.bytes as f64) / (1024.0 * 1024.0)
        );
        out += &match self.latency() {
            Some(l) => format!(
                "ack latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}\n",
                l.p50, l.p90, l.p99, l.p999, l.max, l.mean
            ),
            None => "ack latency ms: n/a (no successful request)\n".to_owned(),
        };
        out
    }

    /// The same figures as one JSON object (for scripts).
    pub fn json(&self) -> serde_json::Value {
        let r = &self.run;
        let s = &self.stats;
        let errors: serde_json::Map<String, serde_json::Value> = s
            .errors
            .iter()
            .map(|(k, n)| (k.to_string(), (*n).into()))
            .collect();
        let latency = self.latency().map(|l| {
            serde_json::json!({
                "p50": l.p50, "p90": l.p90, "p99": l.p99, "p99_9": l.p999, "max": l.max, "mean": l.mean,
            })
        });
        serde_json::json!({
            "url": r.url,
            "mode": r.mode.name(),
            "event_size": r.event_size,
            "batch": r.batch,
            "concurrency": r.concurrency,
            "duration_s": r.duration.as_secs_f64(),
            "warmup_s": r.warmup.as_secs_f64(),
            "rate": r.rate,
            "rate_unit": if r.mode == Mode::Batch { "events/s" } else { "requests/s" },
            "machine": {
                "cores": self.machine.cores,
                "cpu": self.machine.cpu,
                "os": self.machine.os,
                "arch": self.machine.arch,
            },
            "elapsed_s": self.elapsed.as_secs_f64(),
            "requests": { "ok": s.ok, "errors": s.error_count(), "error_kinds": errors, "unsent": s.unsent },
            "requests_per_s": self.per_second(s.ok as f64),
            "events_per_s": self.per_second(s.events as f64),
            "mib_per_s": self.per_second(s.bytes as f64) / (1024.0 * 1024.0),
            "latency_ms": latency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Stats {
        match Stats::new() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn summary(stats: Stats, rate: Option<f64>) -> Summary {
        Summary {
            run: RunInfo {
                url: "http://127.0.0.1:8090/v1/buses/default/events".into(),
                mode: Mode::Batch,
                event_size: 1024,
                batch: 100,
                concurrency: 64,
                duration: Duration::from_secs(10),
                warmup: Duration::from_secs(2),
                rate,
            },
            machine: Machine {
                cores: 2,
                cpu: "Intel(R) Xeon(R) Processor".into(),
                os: "linux",
                arch: "x86_64",
            },
            stats,
            elapsed: Duration::from_secs(10),
        }
    }

    /// Two workers: one saw 1..=500 ms, the other 501..=1000 ms.
    fn merged() -> Stats {
        let (mut a, mut b) = (stats(), stats());
        for ms in 1..=500u64 {
            a.record_ok(Duration::from_millis(ms), 100, 1 << 20);
            b.record_ok(Duration::from_millis(ms + 500), 100, 1 << 20);
        }
        a.record_error(ErrorKind::Status(503));
        b.record_error(ErrorKind::Status(503));
        b.record_error(ErrorKind::Io);
        b.unsent = 3;
        let mut total = stats();
        for s in [&a, &b] {
            if let Err(e) = total.merge(s) {
                panic!("{e}");
            }
        }
        total
    }

    #[test]
    fn merging_adds_counts_and_histograms() {
        let t = merged();
        assert_eq!(
            (t.ok, t.events, t.bytes, t.unsent, t.error_count()),
            (1000, 100_000, 1000 << 20, 3, 3)
        );
        assert_eq!(t.errors.get(&ErrorKind::Status(503)), Some(&2));
        assert_eq!(t.latency_us.len(), 1000);
        let p50 = t.latency_us.value_at_quantile(0.5);
        assert!((499_000..=501_000).contains(&p50), "{p50}");
        let max = t.latency_us.max();
        assert!((999_000..=1_001_000).contains(&max), "{max}");
    }

    #[test]
    fn text_report_is_stable() {
        let text = summary(merged(), None).text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "railyard bench ingest  mode=batch event-size=1KiB batch=100 concurrency=64 duration=10s warmup=2s rate=unlimited"
        );
        assert_eq!(
            lines[1],
            "url: http://127.0.0.1:8090/v1/buses/default/events"
        );
        assert_eq!(
            lines[2],
            "machine: 2 cores, Intel(R) Xeon(R) Processor, linux x86_64"
        );
        assert_eq!(
            lines[3],
            "requests: 1000 ok, 3 errors (status 503: 2, io: 1)   requests/s: 100.0"
        );
        assert_eq!(lines[4], "events/s: 10000.0   MiB/s: 100.0");
        assert!(
            lines[5].starts_with("ack latency ms: p50 500.") && lines[5].contains("  p99.9 999."),
            "{}",
            lines[5]
        );
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn text_report_shows_rate_and_unsent_and_empty_latency() {
        let text = summary(merged(), Some(5000.0)).text();
        assert!(text.contains(" rate=5000ev/s\n"), "{text}");
        assert!(text.contains(
            "requests: 1000 ok, 3 errors (status 503: 2, io: 1), 3 unsent   requests/s: 100.0\n"
        ));
        let empty = summary(stats(), None).text();
        assert!(
            empty.contains("requests: 0 ok, 0 errors   requests/s: 0.0\n"),
            "{empty}"
        );
        assert!(empty.contains("ack latency ms: n/a"));
    }

    #[test]
    fn json_report_has_the_same_figures() {
        let v = summary(merged(), Some(5000.0)).json();
        assert_eq!(v["mode"], "batch");
        assert_eq!(v["rate"], 5000.0);
        assert_eq!(v["rate_unit"], "events/s");
        assert_eq!(v["requests"]["ok"], 1000);
        assert_eq!(v["requests"]["errors"], 3);
        assert_eq!(v["requests"]["error_kinds"]["status 503"], 2);
        assert_eq!(v["requests_per_s"], 100.0);
        assert_eq!(v["events_per_s"], 10000.0);
        assert_eq!(v["mib_per_s"], 100.0);
        assert_eq!(v["machine"]["cores"], 2);
        assert!(v["latency_ms"]["p99_9"].as_f64().is_some_and(|p| p > 990.0));
        assert!(summary(stats(), None).json()["latency_ms"].is_null());
    }
}
