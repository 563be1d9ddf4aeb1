//! Server configuration: a TOML file, then `RAILYARD_*` environment variables, then flags; the
//! later source wins for each setting.
//!
//! Every setting with a unit carries it in the value (`"1MiB"`, `"30s"`). The file is strict
//! (`deny_unknown_fields`), so a misspelt key is an error at start rather than a silently ignored
//! setting.
//!
//! ```toml
//! data_dir = "./railyard-data"   # RAILYARD_DATA_DIR, --data-dir
//! listen = "127.0.0.1:8080"      # RAILYARD_LISTEN, --listen
//! fsync = "always"               # RAILYARD_FSYNC, --fsync: always | interval:<ms> | never
//! segment_size = "128MiB"        # RAILYARD_SEGMENT_SIZE, --segment-size
//! max_event_size = "1MiB"        # RAILYARD_MAX_EVENT_SIZE, --max-event-size
//! max_batch_size = "10MiB"       # RAILYARD_MAX_BATCH_SIZE, --max-batch-size
//! max_batch_events = 1000        # RAILYARD_MAX_BATCH_EVENTS, --max-batch-events
//! retention_check = "30s"        # RAILYARD_RETENTION_CHECK, --retention-check
//! shutdown_timeout = "30s"       # RAILYARD_SHUTDOWN_TIMEOUT, --shutdown-timeout
//! log = "info"                   # RAILYARD_LOG, --log (a tracing filter, e.g. "info,railyard=debug")
//! insecure = false               # RAILYARD_INSECURE, --insecure: listen beyond loopback with no token
//! tls_cert = "cert.pem"          # RAILYARD_TLS_CERT, --tls-cert: serve HTTPS (PEM chain) …
//! tls_key = "key.pem"            # RAILYARD_TLS_KEY, --tls-key: … with this PEM private key
//! resources = "resources.yaml"   # RAILYARD_RESOURCES, --resources: applied at start (railyard apply)
//!
//! [rules]                       # each also RAILYARD_RULES_<KEY> and --rules-<key>
//! pattern_max_chars = 4096       # characters of a pattern (compact JSON)
//! pattern_max_depth = 32         # nesting of a pattern
//! pattern_max_alternatives = 1024 # alternatives once `$or` is multiplied out
//!
//! [delivery]                    # each also RAILYARD_DELIVERY_<KEY> and --delivery-<key>
//! checkpoint = "100ms"           # how often delivery positions are made durable
//! trace_events = 50000           # matched events per bus whose full trace is kept in memory
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use bus::log::FsyncPolicy;
use bus::units;
use serde::Deserialize;

/// The configuration file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where events and metadata live.
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    pub listen: Option<String>,
    /// `always`, `interval:<ms>` or `never`.
    pub fsync: Option<String>,
    /// Size of a log segment.
    pub segment_size: Option<String>,
    /// Largest event accepted.
    pub max_event_size: Option<String>,
    /// Largest batch request accepted.
    pub max_batch_size: Option<String>,
    /// Most events in one batch request.
    pub max_batch_events: Option<usize>,
    /// How often retention is applied.
    pub retention_check: Option<String>,
    /// How long a graceful shutdown may take before in-flight requests are abandoned.
    pub shutdown_timeout: Option<String>,
    /// Log filter.
    pub log: Option<String>,
    /// Allow a non-loopback `listen` with no API token.
    pub insecure: Option<bool>,
    /// Resources to apply at start (as `railyard apply -f`, without pruning).
    pub resources: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Limits on rules.
    #[serde(default)]
    pub rules: RulesFileConfig,
    /// Delivery settings.
    #[serde(default)]
    pub delivery: DeliveryFileConfig,
}

/// The `[delivery]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFileConfig {
    /// How often delivery positions are made durable (what a crash may redeliver).
    pub checkpoint: Option<String>,
    /// Matched events per bus whose full trace is kept in memory.
    pub trace_events: Option<usize>,
}

/// The `[rules]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFileConfig {
    /// Most characters of an event pattern (compact JSON).
    pub pattern_max_chars: Option<usize>,
    /// Deepest nesting of an event pattern.
    pub pattern_max_depth: Option<usize>,
    /// Most alternatives of an event pattern once `$or` is multiplied out.
    pub pattern_max_alternatives: Option<usize>,
}

/// Settings given on the command line or in the environment (clap fills both).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Configuration file (TOML)
    #[arg(long, env = "RAILYARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./railyard-data]
    #[arg(long, env = "RAILYARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:8080]
    #[arg(long, env = "RAILYARD_LISTEN")]
    pub listen: Option<String>,
    /// Durability of acks: always | interval:<ms> | never [default: always]
    #[arg(long, env = "RAILYARD_FSYNC")]
    pub fsync: Option<String>,
    /// Log segment size [default: 128MiB]
    #[arg(long, env = "RAILYARD_SEGMENT_SIZE")]
    pub segment_size: Option<String>,
    /// Largest event accepted [default: 1MiB]
    #[arg(long, env = "RAILYARD_MAX_EVENT_SIZE")]
    pub max_event_size: Option<String>,
    /// Largest batch request accepted [default: 10MiB]
    #[arg(long, env = "RAILYARD_MAX_BATCH_SIZE")]
    pub max_batch_size: Option<String>,
    /// Most events in one batch request [default: 1000]
    #[arg(long, env = "RAILYARD_MAX_BATCH_EVENTS")]
    pub max_batch_events: Option<usize>,
    /// How often retention is applied [default: 30s]
    #[arg(long, env = "RAILYARD_RETENTION_CHECK")]
    pub retention_check: Option<String>,
    /// Graceful shutdown limit [default: 30s]
    #[arg(long, env = "RAILYARD_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<String>,
    /// Log filter, e.g. info or debug [default: info]
    #[arg(long, env = "RAILYARD_LOG")]
    pub log: Option<String>,
    /// Serve beyond loopback even with no API token (anyone reaching the address controls Railyard)
    #[arg(long, env = "RAILYARD_INSECURE")]
    pub insecure: bool,
    /// Buses, connections and rules to apply at start (the file of `railyard apply -f`)
    #[arg(long, env = "RAILYARD_RESOURCES")]
    pub resources: Option<PathBuf>,
    /// PEM certificate chain; serve HTTPS (with --tls-key)
    #[arg(long, env = "RAILYARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, env = "RAILYARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Most characters of an event pattern [default: 4096]
    #[arg(long, env = "RAILYARD_RULES_PATTERN_MAX_CHARS")]
    pub rules_pattern_max_chars: Option<usize>,
    /// Deepest nesting of an event pattern [default: 32]
    #[arg(long, env = "RAILYARD_RULES_PATTERN_MAX_DEPTH")]
    pub rules_pattern_max_depth: Option<usize>,
    /// Most alternatives of an event pattern after `$or` [default: 1024]
    #[arg(long, env = "RAILYARD_RULES_PATTERN_MAX_ALTERNATIVES")]
    pub rules_pattern_max_alternatives: Option<usize>,
    /// How often delivery positions are made durable [default: 100ms]
    #[arg(long, env = "RAILYARD_DELIVERY_CHECKPOINT")]
    pub delivery_checkpoint: Option<String>,
    /// Matched events per bus whose full trace is kept in memory [default: 50000]
    #[arg(long, env = "RAILYARD_DELIVERY_TRACE_EVENTS")]
    pub delivery_trace_events: Option<usize>,
    /// For tests: a clock standing at this RFC 3339 instant, moved only by PUT /v1/_clock
    #[arg(long, hide = true)]
    pub manual_clock: Option<String>,
}

/// The resolved settings of `railyard serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub fsync: FsyncPolicy,
    pub segment_bytes: u64,
    pub max_event_bytes: usize,
    pub max_batch_bytes: usize,
    pub max_batch_events: usize,
    pub retention_check: Duration,
    pub shutdown_timeout: Duration,
    pub log: String,
    pub insecure: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub resources: Option<PathBuf>,
    pub rule_limits: rules::Limits,
    pub delivery: targets::EngineConfig,
    pub manual_clock: Option<chrono::DateTime<chrono::Utc>>,
}

fn bytes(name: &str, v: &str) -> anyhow::Result<u64> {
    units::parse_bytes(v).with_context(|| format!("setting {name}"))
}

fn duration(name: &str, v: &str) -> anyhow::Result<Duration> {
    units::parse_duration(v).with_context(|| format!("setting {name}"))
}

/// Reads the file named by `--config` (if any) and applies the overrides.
pub fn load(o: &Overrides) -> anyhow::Result<Settings> {
    let file = match &o.config {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };
    resolve(file, o)
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

/// Combines a file's settings with the overrides (overrides win) and the defaults.
pub fn resolve(file: FileConfig, o: &Overrides) -> anyhow::Result<Settings> {
    let pick = |flag: &Option<String>, file: Option<String>, default: &str| {
        flag.clone().or(file).unwrap_or_else(|| default.to_owned())
    };
    let listen = pick(&o.listen, file.listen, "127.0.0.1:8080");
    let listen: SocketAddr = listen.parse().with_context(|| {
        format!("setting listen: {listen:?} is not an address such as 127.0.0.1:8080")
    })?;
    let fsync = pick(&o.fsync, file.fsync, "always");
    let fsync = FsyncPolicy::parse(&fsync)
        .map_err(anyhow::Error::msg)
        .context("setting fsync")?;
    let segment_bytes = bytes(
        "segment_size",
        &pick(&o.segment_size, file.segment_size, "128MiB"),
    )?;
    let max_event_bytes = bytes(
        "max_event_size",
        &pick(&o.max_event_size, file.max_event_size, "1MiB"),
    )?;
    let max_batch_bytes = bytes(
        "max_batch_size",
        &pick(&o.max_batch_size, file.max_batch_size, "10MiB"),
    )?;
    let max_batch_events = o.max_batch_events.or(file.max_batch_events).unwrap_or(1000);
    let rule_limits = rule_limits(&file.rules, o)?;
    let checkpoint = duration(
        "delivery.checkpoint",
        &pick(&o.delivery_checkpoint, file.delivery.checkpoint, "100ms"),
    )?;
    if checkpoint.is_zero() || checkpoint > Duration::from_secs(60) {
        bail!("delivery.checkpoint must be above zero and at most 60s");
    }
    let delivery = targets::EngineConfig {
        checkpoint_every: checkpoint,
        trace_events: o
            .delivery_trace_events
            .or(file.delivery.trace_events)
            .unwrap_or(50_000),
    };
    if max_event_bytes == 0 || max_batch_bytes == 0 || max_batch_events == 0 {
        bail!("max_event_size, max_batch_size and max_batch_events must be above zero");
    }
    if segment_bytes < max_batch_bytes.max(max_event_bytes) + 4096 {
        bail!(
            "segment_size ({}) must exceed max_batch_size and max_event_size: a request is stored in one segment",
            units::format_bytes(segment_bytes)
        );
    }
    Ok(Settings {
        data_dir: o
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./railyard-data")),
        listen,
        fsync,
        segment_bytes,
        max_event_bytes: usize::try_from(max_event_bytes).context("max_event_size")?,
        max_batch_bytes: usize::try_from(max_batch_bytes).context("max_batch_size")?,
        max_batch_events,
        retention_check: duration(
            "retention_check",
            &pick(&o.retention_check, file.retention_check, "30s"),
        )?,
        shutdown_timeout: duration(
            "shutdown_timeout",
            &pick(&o.shutdown_timeout, file.shutdown_timeout, "30s"),
        )?,
        log: pick(&o.log, file.log, "info"),
        insecure: o.insecure || file.insecure.unwrap_or(false),
        tls_cert: o.tls_cert.clone().or(file.tls_cert),
        tls_key: o.tls_key.clone().or(file.tls_key),
        resources: o.resources.clone().or(file.resources),
        rule_limits,
        delivery,
        manual_clock: o
            .manual_clock
            .as_deref()
            .map(|s| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| t.to_utc())
                    .with_context(|| format!("--manual-clock {s:?} is not an RFC 3339 instant"))
            })
            .transpose()?,
    })
}

/// The `[rules]` limits: overrides, then the file, then the `rules` crate's defaults.
fn rule_limits(file: &RulesFileConfig, o: &Overrides) -> anyhow::Result<rules::Limits> {
    let d = rules::Limits::default();
    let limits = rules::Limits {
        max_chars: o
            .rules_pattern_max_chars
            .or(file.pattern_max_chars)
            .unwrap_or(d.max_chars),
        max_depth: o
            .rules_pattern_max_depth
            .or(file.pattern_max_depth)
            .unwrap_or(d.max_depth),
        max_alternatives: o
            .rules_pattern_max_alternatives
            .or(file.pattern_max_alternatives)
            .unwrap_or(d.max_alternatives),
    };
    if limits.max_chars == 0 || limits.max_depth == 0 || limits.max_alternatives == 0 {
        bail!(
            "rules.pattern_max_chars, rules.pattern_max_depth and rules.pattern_max_alternatives must be above zero"
        );
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults() {
        let s = resolve(FileConfig::default(), &Overrides::default()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./railyard-data"));
        assert_eq!(s.fsync, FsyncPolicy::Always);
        assert_eq!(s.max_event_bytes, 1 << 20);
        assert_eq!(s.max_batch_bytes, 10 << 20);
        assert_eq!(s.max_batch_events, 1000);
        assert_eq!(s.rule_limits, rules::Limits::default());
    }

    #[test]
    fn rules_section() {
        let file: FileConfig =
            toml::from_str("[rules]\npattern_max_chars = 100\npattern_max_depth = 4").unwrap();
        let o = Overrides {
            rules_pattern_max_depth: Some(5),
            ..Overrides::default()
        };
        let s = resolve(file, &o).unwrap();
        assert_eq!(s.rule_limits.max_chars, 100);
        assert_eq!(s.rule_limits.max_depth, 5);
        assert_eq!(s.rule_limits.max_alternatives, 1024);
        assert!(toml::from_str::<FileConfig>("[rules]\npattern_max = 1").is_err());
        let file: FileConfig = toml::from_str("[rules]\npattern_max_depth = 0").unwrap();
        assert!(resolve(file, &Overrides::default()).is_err());
    }

    #[test]
    fn file_then_overrides_later_wins() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:9000\"\nfsync = \"never\"\nmax_event_size = \"2MiB\"",
        )
        .unwrap();
        let o = Overrides {
            fsync: Some("interval:10".into()),
            ..Overrides::default()
        };
        let s = resolve(file, &o).unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.fsync, FsyncPolicy::Interval(Duration::from_millis(10)));
        assert_eq!(s.max_event_bytes, 2 << 20);
    }

    #[test]
    fn unknown_keys_and_bad_units_are_errors() {
        assert!(toml::from_str::<FileConfig>("listn = \"x\"").is_err());
        let file: FileConfig = toml::from_str("max_event_size = \"lots\"").unwrap();
        let e = resolve(file, &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains("max_event_size"), "{e:#}");
    }
}
