//! `railyard bench`: the load tool that ships with the server.
//!
//! Why it exists: throughput claims are only worth something if anyone can reproduce them with one
//! command on their own machine. `bench ingest` drives CloudEvents at an ingest endpoint and prints
//! throughput and acknowledgement latency; `bench sink` is a bare endpoint that answers 202 without
//! storing anything, so the ceiling of the HTTP stack and of the generator itself is measured with
//! the same tool, in the same run, on the same box.
//!
//! Layout: `ingest` (connections, workers, schedule), `payload` (prebuilt bodies), `report`
//! (statistics and output), `machine` (what the numbers were measured on), `sink` (the baseline).

mod e2e;
mod ingest;
mod machine;
mod payload;
mod queue;
mod report;
mod sink;

use std::net::SocketAddr;
use std::time::Duration;

pub use payload::Mode;

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Drive load at an ingest endpoint and print throughput and latency
    Ingest(IngestArgs),
    /// A bare HTTP endpoint that answers 202 without storing: the baseline
    Sink(SinkArgs),
    /// End to end through a running server: 202 → delivered latency, delivery throughput
    E2e(e2e::E2eArgs),
    /// Internal queue end to end: send → receive → ack, messages acknowledged per second
    Queue(queue::QueueArgs),
}

/// Runs one `railyard bench` subcommand to completion.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Sink(args) => sink::run(args).await,
        BenchCommand::E2e(args) => e2e::run(args).await,
        BenchCommand::Queue(args) => queue::run(args).await,
    }
}

/// Arguments of `railyard bench ingest`.
///
/// One HTTP/1.1 keep-alive connection per unit of concurrency, one task each. Without `--rate` the
/// load is a closed loop (each connection sends its next request as soon as the previous one is
/// answered); with `--rate` it is an open-loop schedule and latency counts from each request's
/// scheduled send time, so a stalled server is not hidden by a generator that politely waited.
#[derive(clap::Args, Debug, Clone)]
pub struct IngestArgs {
    /// Ingest endpoint, http only, e.g. http://127.0.0.1:8080/v1/buses/default/events
    #[arg(long, value_name = "URL")]
    pub url: String,

    /// How events are put on the wire (the CloudEvents HTTP content modes)
    #[arg(long, value_enum, default_value_t = Mode::Binary)]
    pub mode: Mode,

    /// Size of one event in structured JSON; its data object is padded to reach it (e.g. 512B, 1KiB, 64KiB)
    #[arg(long, value_name = "SIZE", default_value = "1KiB", value_parser = parse_event_size)]
    pub event_size: u64,

    /// The secret that signs deliveries in github mode (the source's secret)
    #[arg(long, value_name = "SECRET", default_value = "bench-secret")]
    pub secret: String,

    /// Events per request in batch mode (ignored in the other modes)
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,

    /// Number of HTTP/1.1 keep-alive connections, each driven by its own task
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,

    /// How long to measure, after the warm-up (e.g. 30s, 2m)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_positive_duration)]
    pub duration: Duration,

    /// Open-loop target rate, as N/s or N: requests per second in binary and structured mode,
    /// EVENTS per second in batch mode. Latency is then measured from each request's scheduled
    /// send time (coordinated-omission corrected). Without it: closed loop, as fast as answered
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Load sent before measuring starts, excluded from every figure
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// A request not answered within this time counts as a "timeout" error and its connection is replaced
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,

    /// Print one JSON object with the figures instead of the human-readable report
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `railyard bench sink`.
#[derive(clap::Args, Debug, Clone)]
pub struct SinkArgs {
    /// Address to listen on; port 0 picks a free port (the real one is printed)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
}

fn parse_event_size(s: &str) -> Result<u64, String> {
    const MAX: u64 = 64 << 20;
    let n = bus::units::parse_bytes(s).map_err(|e| e.to_string())?;
    if n == 0 || n > MAX {
        return Err(format!("{s:?} is out of range: use 1B to 64MiB"));
    }
    Ok(n)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    bus::units::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("{s:?} must be longer than zero")),
        d => Ok(d),
    }
}

/// Parses a rate: `5000/s` or `5000` (per second); decimals are allowed (`0.5/s`).
fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let number = t.strip_suffix("/s").unwrap_or(t).trim();
    let err =
        || format!("{s:?} is not a rate: use a positive number per second, e.g. 5000/s or 5000");
    let n: f64 = number.parse().map_err(|_| err())?;
    if !n.is_finite() || n <= 0.0 {
        return Err(err());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_accepts_per_second_forms() {
        assert_eq!(parse_rate("5000/s"), Ok(5000.0));
        assert_eq!(parse_rate("5000"), Ok(5000.0));
        assert_eq!(parse_rate(" 250 /s "), Ok(250.0));
        assert_eq!(parse_rate("0.5/s"), Ok(0.5));
    }

    #[test]
    fn rate_refuses_nonsense() {
        for bad in [
            "", "/s", "0", "0/s", "-5/s", "abc", "5000/m", "5000/ss", "inf", "NaN",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn sizes_and_durations_use_the_shared_units() {
        assert_eq!(parse_event_size("1KiB"), Ok(1024));
        assert_eq!(parse_event_size("64KiB"), Ok(65536));
        assert!(parse_event_size("0").is_err());
        assert!(parse_event_size("1GiB").is_err());
        assert!(parse_event_size("lots").is_err());
        assert_eq!(parse_positive_duration("30s"), Ok(Duration::from_secs(30)));
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn cli_parses_a_full_ingest_command() {
        use clap::Parser;
        #[derive(clap::Parser, Debug)]
        struct Cli {
            #[command(subcommand)]
            cmd: BenchCommand,
        }
        let cli = Cli::try_parse_from([
            "bench",
            "ingest",
            "--url",
            "http://127.0.0.1:1/x",
            "--mode",
            "batch",
            "--event-size",
            "2KiB",
            "--batch",
            "10",
            "--concurrency",
            "8",
            "--duration",
            "5s",
            "--rate",
            "100/s",
            "--warmup",
            "0s",
            "--json",
        ]);
        let Ok(Cli {
            cmd: BenchCommand::Ingest(a),
        }) = cli
        else {
            panic!("did not parse: {cli:?}");
        };
        assert_eq!(
            (a.mode, a.event_size, a.batch, a.concurrency),
            (Mode::Batch, 2048, 10, 8)
        );
        assert_eq!(
            (a.duration, a.warmup, a.rate, a.json),
            (Duration::from_secs(5), Duration::ZERO, Some(100.0), true)
        );
        assert!(
            Cli::try_parse_from(["bench", "ingest", "--url", "x", "--concurrency", "0"]).is_err()
        );
    }
}
