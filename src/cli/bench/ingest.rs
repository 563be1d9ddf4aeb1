//! `railyard bench ingest`: connections, workers and the send schedule.
//!
//! Why it is built this way:
//! - exactly `--concurrency` HTTP/1.1 keep-alive connections, each driven by one task through
//!   hyper's low-level `client::conn::http1` (no pool, no per-request allocation beyond the body):
//!   on a 2-core box the generator must leave the CPU to the server it measures;
//! - closed loop by default (the throughput ceiling); with `--rate`, an open loop: worker `i` of
//!   `c` sends at `start + i/R + k·c/R` (R in requests/s) and latency is measured from that
//!   *scheduled* time, so a server stall shows in the percentiles instead of silently slowing the
//!   generator down (coordinated omission, as in wrk2). tokio timers tick every millisecond and
//!   round up, so a worker wakes up to [`TIMER_SLACK`] before its slot and may send that early;
//!   latency then counts from the earlier of scheduled and actual send time: from the schedule
//!   when the worker is behind it (still waiting on its previous answer), from the send otherwise;
//! - a failed connection is counted as an error and replaced; workers keep going;
//! - each worker owns its statistics; they are merged once at the end (see `report`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{HeaderValue, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::IngestArgs;
use super::machine::Machine;
use super::payload::{IdGen, Payload};
use super::report::{ErrorKind, RunInfo, Stats, Summary};

type Sender = SendRequest<Full<Bytes>>;

/// How early an open-loop worker may wake (and send) before its slot: one tokio timer tick.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// Pause after a failed connect, so a dead server is not hammered in a tight loop.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(100);

/// Where requests go.
#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    /// Origin-form request target (path and query).
    uri: Uri,
    host: HeaderValue,
}

/// The phases of a run, shared by all workers.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    /// End of the warm-up: only requests (scheduled) from here on are measured.
    measure: Instant,
    end: Instant,
}

#[derive(Debug, Clone, Copy)]
enum Schedule {
    Closed,
    Open { next: Instant, interval: Duration },
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let summary = measure(&args).await?;
    if args.json {
        println!("{}", summary.json());
    } else {
        print!("{}", summary.text());
    }
    if summary.stats.ok == 0 {
        bail!("no request succeeded");
    }
    Ok(())
}

/// Runs the load and collects the figures.
async fn measure(args: &IngestArgs) -> anyhow::Result<Summary> {
    let target = Arc::new(Target::resolve(&args.url).await?);
    let payload = Arc::new(Payload::build(
        args.mode,
        args.event_size,
        args.batch,
        &args.secret,
    )?);
    let concurrency = args.concurrency.max(1);
    let mut conns = Vec::with_capacity(concurrency as usize);
    for _ in 0..concurrency {
        let conn = connect(target.addr)
            .await
            .with_context(|| format!("cannot connect to {} ({})", args.url, target.addr))?;
        conns.push(conn);
    }
    eprintln!(
        "railyard bench: {concurrency} connections to {}; warming up {}, then measuring {}",
        target.addr,
        humantime::format_duration(args.warmup),
        humantime::format_duration(args.duration)
    );

    let start = Instant::now();
    let measure = start + args.warmup;
    let end = measure
        .checked_add(args.duration)
        .context("--warmup plus --duration is too long")?;
    let clock = Clock {
        start,
        measure,
        end,
    };
    let per_worker = match args.rate {
        None => None,
        Some(rate) => {
            let requests_per_s = rate / payload.events_per_request() as f64;
            let gap =
                Duration::try_from_secs_f64(1.0 / requests_per_s).context("--rate is too low")?;
            Some(gap)
        }
    };
    let run_id: u32 = rand::random();
    let mut workers = Vec::with_capacity(conns.len());
    for (i, conn) in conns.into_iter().enumerate() {
        let i = i as u32;
        let schedule = match per_worker {
            None => Schedule::Closed,
            Some(gap) => {
                let first = gap.checked_mul(i).and_then(|d| start.checked_add(d));
                let interval = gap.checked_mul(concurrency);
                let (Some(next), Some(interval)) = (first, interval) else {
                    bail!("--rate is too low");
                };
                Schedule::Open { next, interval }
            }
        };
        let worker = Worker {
            target: target.clone(),
            payload: payload.clone(),
            ids: IdGen::new(run_id, i),
            clock,
            schedule,
            timeout: args.timeout,
            stats: Stats::new()?,
        };
        workers.push(tokio::spawn(worker.run(conn)));
    }

    let mut total = Stats::new()?;
    let mut last_done = clock.end;
    for w in workers {
        let (stats, done) = w.await.context("a load worker panicked")?;
        total.merge(&stats)?;
        last_done = last_done.max(done);
    }
    let summary = Summary {
        run: RunInfo {
            url: args.url.clone(),
            mode: args.mode,
            event_size: args.event_size,
            batch: payload.events_per_request(),
            concurrency,
            duration: args.duration,
            warmup: args.warmup,
            rate: args.rate,
        },
        machine: Machine::detect(),
        elapsed: last_done
            .saturating_duration_since(clock.measure)
            .max(args.duration),
        stats: total,
    };
    Ok(summary)
}

impl Target {
    /// Parses an `http://host[:port]/path` URL and resolves its host.
    async fn resolve(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--url {url:?}: only http:// is supported");
        }
        let Some(authority) = uri.authority() else {
            bail!("--url {url:?} has no host")
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("cannot resolve {host}"))?
            .next()
            .with_context(|| format!("{host} has no address"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Ok(Self {
            addr,
            uri: path
                .parse()
                .with_context(|| format!("--url {url:?}: bad path"))?,
            host: HeaderValue::from_str(authority.as_str())?,
        })
    }
}

/// How many slots `interval` apart, starting at `from`, fall before `to`.
fn slots_between(from: Instant, to: Instant, interval: Duration) -> u128 {
    let span = to.saturating_duration_since(from).as_nanos();
    span.div_ceil(interval.as_nanos().max(1))
}

/// Opens one HTTP/1.1 connection; its I/O is driven by a spawned task until the sender is dropped.
async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        // Errors surface on the sender side, where they are counted.
        let _ = conn.await;
    });
    Ok(sender)
}

struct Worker {
    target: Arc<Target>,
    payload: Arc<Payload>,
    ids: IdGen,
    clock: Clock,
    schedule: Schedule,
    timeout: Duration,
    stats: Stats,
}

impl Worker {
    /// Sends until the end of the run; returns the statistics and when the last answer came.
    async fn run(mut self, first: Sender) -> (Stats, Instant) {
        let mut conn = Some(first);
        let mut last_done = self.clock.start;
        while let Some(scheduled) = self.next_slot().await {
            if let Some(done) = self.send_one(&mut conn, scheduled).await {
                last_done = done;
            }
        }
        (self.stats, last_done)
    }

    /// Waits for the next send time; `None` once the run is over.
    async fn next_slot(&mut self) -> Option<Instant> {
        let end = self.clock.end;
        match &mut self.schedule {
            Schedule::Closed => Some(Instant::now()).filter(|now| *now < end),
            Schedule::Open { next, interval } => {
                let mut slot = *next;
                let now = Instant::now();
                let measure = self.clock.measure;
                if slot < measure && now >= measure {
                    // Behind schedule when the warm-up ends: drop the warm-up's backlog, so the
                    // measured schedule starts on time instead of inheriting an unbounded queue.
                    let skipped = slots_between(slot, measure, *interval);
                    let nanos = skipped.saturating_mul(interval.as_nanos());
                    let skip = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                    slot = slot.checked_add(skip).unwrap_or(end);
                }
                if slot >= end {
                    return None;
                }
                if now >= end {
                    // Behind schedule at the end: what was never sent is reported, not hidden.
                    let unsent = slots_between(slot.max(measure), end, *interval);
                    self.stats.unsent += u64::try_from(unsent).unwrap_or(u64::MAX);
                    return None;
                }
                *next = slot.checked_add(*interval).unwrap_or(end);
                // A sleep with a past deadline still waits for the next timer tick: when behind
                // schedule, do not sleep at all.
                let wake = slot.checked_sub(TIMER_SLACK).unwrap_or(slot);
                if wake > Instant::now() {
                    tokio::time::sleep_until(wake).await;
                }
                Some(slot)
            }
        }
    }

    /// Sends one request; returns when its successful answer was read, if it was measured.
    async fn send_one(&mut self, conn: &mut Option<Sender>, scheduled: Instant) -> Option<Instant> {
        let measured = scheduled >= self.clock.measure;
        let fail = |stats: &mut Stats, kind| {
            if measured {
                stats.record_error(kind);
            }
        };
        if let Some(sender) = conn.as_mut()
            && sender.ready().await.is_err()
        {
            fail(&mut self.stats, ErrorKind::Closed);
            *conn = None;
        }
        let sender = match conn {
            Some(sender) => sender,
            None => match connect(self.target.addr).await {
                Ok(sender) => conn.insert(sender),
                Err(_) => {
                    fail(&mut self.stats, ErrorKind::Connect);
                    tokio::time::sleep(RECONNECT_BACKOFF).await;
                    return None;
                }
            },
        };
        let Ok(request) = self
            .payload
            .request(&mut self.ids, &self.target.uri, &self.target.host)
        else {
            fail(&mut self.stats, ErrorKind::Build);
            return None;
        };
        let sent = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                frame?;
            }
            Ok::<_, hyper::Error>(status)
        })
        .await;
        let done = Instant::now();
        match outcome {
            Ok(Ok(status)) if status.is_success() => {
                if !measured {
                    return None;
                }
                let from = match self.schedule {
                    Schedule::Closed => sent,
                    Schedule::Open { .. } => scheduled.min(sent),
                };
                self.stats.record_ok(
                    done - from,
                    self.payload.events_per_request(),
                    self.payload.body_len(),
                );
                Some(done)
            }
            Ok(Ok(status)) => {
                fail(&mut self.stats, ErrorKind::Status(status.as_u16()));
                None
            }
            Ok(Err(_)) => {
                fail(&mut self.stats, ErrorKind::Io);
                *conn = None;
                None
            }
            Err(_) => {
                fail(&mut self.stats, ErrorKind::Timeout);
                *conn = None;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::Mode;
    use super::super::sink::spawn_for_test;
    use super::*;

    fn args(url: String, mode: Mode, rate: Option<f64>) -> IngestArgs {
        IngestArgs {
            url,
            mode,
            secret: "s".into(),
            event_size: 1024,
            batch: 10,
            concurrency: 2,
            duration: Duration::from_millis(300),
            rate,
            warmup: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
            json: true,
        }
    }

    #[tokio::test]
    async fn runs_against_the_sink_in_every_mode() {
        let (addr, _stop) = spawn_for_test().await;
        let url = format!("http://{addr}/v1/buses/default/events");
        for mode in [Mode::Binary, Mode::Structured, Mode::Batch, Mode::Github] {
            let s = match measure(&args(url.clone(), mode, None)).await {
                Ok(s) => s.stats,
                Err(e) => panic!("{mode:?}: {e:#}"),
            };
            assert!(s.ok > 0 && s.error_count() == 0, "{mode:?}: {s:?}");
            let per_request = if mode == Mode::Batch { 10 } else { 1 };
            assert_eq!(s.events, s.ok * per_request);
            assert_eq!(s.latency_us.len(), s.ok);
        }
        // 2000 events/s in batches of 10 = 200 requests/s, for 0.3 s measured: about 60 requests.
        let s = match measure(&args(url, Mode::Batch, Some(2000.0))).await {
            Ok(s) => s.stats,
            Err(e) => panic!("open loop: {e:#}"),
        };
        assert!((50..=70).contains(&s.ok), "{s:?}");
        assert_eq!((s.error_count(), s.unsent), (0, 0));
    }

    #[tokio::test]
    async fn refuses_bad_urls_and_dead_servers() {
        for url in ["https://127.0.0.1:1/x", "not a url", "/just/a/path"] {
            assert!(
                run(args(url.into(), Mode::Binary, None)).await.is_err(),
                "{url}"
            );
        }
        // Port 1 on loopback: nothing listens there.
        let err = run(args("http://127.0.0.1:1/x".into(), Mode::Binary, None)).await;
        assert!(err.is_err_and(|e| e.to_string().contains("cannot connect")));
    }

    fn worker(clock: Clock, schedule: Schedule) -> Worker {
        let (Ok(stats), Ok(payload), Ok(uri)) = (
            Stats::new(),
            Payload::build(Mode::Binary, 1024, 1, "s"),
            "/".parse(),
        ) else {
            panic!("test worker")
        };
        let host = HeaderValue::from_static("x");
        let addr = ([127, 0, 0, 1], 1).into();
        Worker {
            target: Arc::new(Target { addr, uri, host }),
            payload: Arc::new(payload),
            ids: IdGen::new(0, 0),
            clock,
            schedule,
            timeout: Duration::from_secs(1),
            stats,
        }
    }

    #[tokio::test]
    async fn open_loop_schedule_counts_unsent_slots() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let clock = Clock {
            start,
            measure: start,
            end: start + ms(100),
        };
        let mut w = worker(
            clock,
            Schedule::Open {
                next: start,
                interval: ms(10),
            },
        );
        assert_eq!(w.next_slot().await, Some(start));
        assert_eq!(w.next_slot().await, Some(start + ms(10)));
        tokio::time::sleep_until(clock.end).await;
        assert_eq!(w.next_slot().await, None);
        // Slots at 20, 30, ..., 90 ms were never sent.
        assert_eq!(w.stats.unsent, 8);
    }

    #[tokio::test]
    async fn open_loop_drops_the_warmup_backlog() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let clock = Clock {
            start,
            measure: start + ms(50),
            end: start + ms(100),
        };
        let mut w = worker(
            clock,
            Schedule::Open {
                next: start + ms(10),
                interval: ms(10),
            },
        );
        tokio::time::sleep_until(start + ms(55)).await;
        // Slots 10..40 belonged to the warm-up and were missed: measuring starts at slot 50.
        assert_eq!(w.next_slot().await, Some(start + ms(50)));
        assert_eq!(w.next_slot().await, Some(start + ms(60)));
        assert_eq!(w.stats.unsent, 0);
        assert_eq!(slots_between(start, start + ms(95), ms(10)), 10);
        assert_eq!(slots_between(start + ms(95), start, ms(10)), 0);
    }
}
