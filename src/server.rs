//! Wiring only: open the data directory and the buses, compile the stored rules, start delivery,
//! build the router, serve until SIGTERM or Ctrl-C, then shut down in order — stop accepting, let
//! in-flight appends finish (their producers get their acks), stop delivery (a last checkpoint;
//! attempts in flight are redelivered after the restart), flush and close every log, exit 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use bus::datadir::DataDir;
use bus::log::LogConfig;
use bus::registry::Buses;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sources::ingest::Limits;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::rulesets::RuleSets;

const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    metrics::describe_counter!("railyard_events_ingested_total", "Events stored, by bus");
    metrics::describe_counter!(
        "railyard_bytes_ingested_total",
        "Bytes of events stored (structured JSON), by bus"
    );
    metrics::describe_counter!(
        "railyard_requests_rejected_total",
        "Requests (or batch entries) refused, by reason"
    );
    metrics::describe_histogram!(
        "railyard_append_seconds",
        metrics::Unit::Seconds,
        "From enqueue to durable ack, per append request"
    );
    metrics::describe_histogram!(
        "railyard_fsync_seconds",
        metrics::Unit::Seconds,
        "Duration of one group-commit flush"
    );
    Ok(handle)
}

async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs `railyard serve` until it is told to stop.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    // Before anything registers a metric: handles taken earlier would bind to no recorder.
    let metrics = install_metrics()?;
    let data_dir = settings.data_dir.clone();
    let dir = DataDir::open(&data_dir)
        .with_context(|| format!("opening data directory {}", data_dir.display()))?;
    let log_cfg = LogConfig {
        segment_bytes: settings.segment_bytes,
        fsync: settings.fsync,
        ..LogConfig::default()
    };
    let buses = tokio::task::spawn_blocking(move || Buses::open(dir, log_cfg))
        .await
        .context("opening buses")?
        .with_context(|| format!("opening the buses in {}", data_dir.display()))?;
    let buses = Arc::new(buses);
    let (b, limits) = (buses.clone(), settings.rule_limits.clone());
    let (rulesets, deliveries) = tokio::task::spawn_blocking(move || RuleSets::load(b, limits))
        .await
        .context("loading rules")?
        .context("loading the stored rules")?;
    // Internal queues: <data>/queues/<name>/{log/, journal}. Their segments are smaller than a
    // bus's (a queue's log is released as it is acknowledged, and every queue preallocates one);
    // direct sends are limited to half a segment (api::queues::send). Open before delivery starts:
    // queue targets send to them.
    let queues = {
        let cfg = queues::QueuesConfig {
            segment_bytes: settings
                .segment_bytes
                .min(8 << 20)
                .max(settings.max_event_bytes as u64 * 2 + (64 << 10)),
            fsync: settings.fsync,
            ..queues::QueuesConfig::default()
        };
        let (dir, meta) = (settings.data_dir.join("queues"), buses.meta().clone());
        Arc::new(
            tokio::task::spawn_blocking(move || queues::Queues::open(&dir, meta, cfg))
                .await
                .context("opening queues")?
                .context("opening the internal queues")?,
        )
    };
    let client = targets::http::client().context("building the HTTP client for targets")?;
    let connections = Arc::new(targets::Connections::new(
        buses.meta().clone(),
        targets::http::token_client().context("building the HTTP client for OAuth tokens")?,
    ));
    let engine = targets::Engine::start(
        &buses,
        queues.clone(),
        connections,
        client,
        settings.delivery.clone(),
        deliveries,
    )
    .await
    .context("starting delivery")?;
    rulesets.attach(engine.clone());
    let tokens = Arc::new(
        crate::auth::Tokens::load(buses.meta().clone()).context("loading the API tokens")?,
    );
    if !settings.listen.ip().is_loopback() && !tokens.enforced() {
        if settings.insecure {
            tracing::warn!(listen = %settings.listen, "serving beyond loopback with no API token: anyone who can reach this address controls Railyard (--insecure)");
        } else {
            anyhow::bail!(
                "refusing to listen on {} with no API token: anyone who can reach it could change rules and read events. Create a token first (railyard token create --scope admin --data-dir …), listen on 127.0.0.1, or pass --insecure",
                settings.listen
            );
        }
    }
    let limits = Limits {
        max_event_bytes: settings.max_event_bytes,
        max_batch_bytes: settings.max_batch_bytes,
        max_batch_events: settings.max_batch_events,
    };
    let sources = Arc::new(
        crate::webhooks::Sources::load(
            buses.meta().clone(),
            &settings.data_dir.join("webhooks"),
            limits,
        )
        .context("loading the webhook sources")?,
    );
    let clock = Arc::new(match settings.manual_clock {
        Some(at) => crate::clock::Clock::manual(at),
        None => crate::clock::Clock::System,
    });
    let schedules = Arc::new(
        crate::schedules::Schedules::load(buses.meta().clone()).context("loading the schedules")?,
    );
    {
        let (s, b) = (schedules.clone(), buses.clone());
        tokio::task::spawn_blocking(move || crate::schedules::runner::recover(&s, &b))
            .await
            .context("settling pending schedule firings")?;
    }
    let ready = Arc::new(AtomicBool::new(true));
    let state = AppState::new(api::Shared {
        buses: buses.clone(),
        rulesets: Arc::new(rulesets),
        engine: engine.clone(),
        tokens: tokens.clone(),
        sources: sources.clone(),
        schedules: schedules.clone(),
        queues: queues.clone(),
        clock: clock.clone(),
        limits,
        metrics: Some(metrics.clone()),
        ready: ready.clone(),
    });
    let app = api::router(state);
    if let Some(path) = &settings.resources {
        apply_resources(app.clone(), &tokens, path).await?;
    }
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("tls_cert and tls_key go together: give both or neither"),
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let addr = listener.local_addr().context("local address")?;

    let background = spawn_background(
        buses.clone(),
        metrics,
        settings.retention_check,
        sources.clone(),
        clock.clone(),
    );
    let runner = tokio::spawn(crate::schedules::runner::run(
        schedules.clone(),
        buses.clone(),
        clock.clone(),
    ));
    let queue_upkeep = queues.spawn_upkeep(settings.retention_check.min(Duration::from_secs(10)));
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, data_dir = %settings.data_dir.display(), fsync = %settings.fsync, "railyard serving");
    // Machine-readable for scripts and tests (the port may have been chosen by the OS).
    println!("listening on {scheme}://{addr}");

    let shutdown = Shutdown {
        ready: ready.clone(),
        timeout: settings.shutdown_timeout,
    };
    match tls {
        Some(cfg) => {
            let listener = crate::tls::TlsListener::new(listener, cfg).context("TLS listener")?;
            shutdown.serve(listener, app).await?;
        }
        None => {
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            shutdown.serve(listener, app).await?;
        }
    }
    background.abort();
    runner.abort();
    engine.shutdown().await;
    queue_upkeep.abort();
    {
        let q = queues.clone();
        tokio::task::spawn_blocking(move || q.close())
            .await
            .context("closing queues")?
            .context("flushing queues at shutdown")?;
    }
    let s = sources.clone();
    let _ = tokio::task::spawn_blocking(move || s.seen().sync()).await;
    tokio::task::spawn_blocking(move || buses.close())
        .await
        .context("closing logs")?
        .context("flushing logs at shutdown")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// `serve --resources`: applies the file (as `railyard apply` would, without pruning) through the
/// API, on a private loopback listener with a token that exists only meanwhile, before the real
/// listener opens. A file that does not apply stops the start.
async fn apply_resources(
    app: axum::Router,
    tokens: &crate::auth::Tokens,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("a loopback listener for --resources")?;
    let addr = listener.local_addr().context("local address")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let token = tokens.ephemeral_admin("serve-resources");
    let applied = match crate::cli::client::Client::local(format!("http://{addr}"), token) {
        Ok(client) => {
            crate::cli::client::ApplyArgs::new(path.to_path_buf())
                .apply(&client)
                .await
        }
        Err(e) => Err(e),
    };
    tokens.forget_ephemeral();
    let _ = stop.send(());
    let _ = server.await;
    let plan = applied.with_context(|| format!("applying --resources {}", path.display()))?;
    if plan.is_empty() {
        tracing::info!(file = %path.display(), "resources: no changes");
    }
    for change in plan {
        tracing::info!(file = %path.display(), %change, "resources applied");
    }
    Ok(())
}

/// Serving until a signal, then draining within the timeout.
struct Shutdown {
    ready: Arc<AtomicBool>,
    timeout: Duration,
}

impl Shutdown {
    async fn serve<L>(self, listener: L, app: axum::Router) -> anyhow::Result<()>
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let stop = Arc::new(tokio::sync::Notify::new());
        let stop_wait = stop.clone();
        let serve = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop_wait.notified().await });
        let mut serve = std::pin::pin!(serve.into_future());
        tokio::select! {
            r = &mut serve => r.context("server failed")?,
            _ = signalled() => {
                self.ready.store(false, Ordering::Release);
                stop.notify_one();
                match tokio::time::timeout(self.timeout, &mut serve).await {
                    Ok(r) => r.context("server failed during shutdown")?,
                    Err(_) => tracing::warn!(timeout = ?self.timeout, "shutdown timeout: abandoning requests still open"),
                }
            }
        }
        Ok(())
    }
}

fn spawn_background(
    buses: Arc<Buses>,
    metrics: PrometheusHandle,
    retention_every: Duration,
    sources: Arc<crate::webhooks::Sources>,
    clock: Arc<crate::clock::Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut retention = tokio::time::interval(retention_every);
        let mut upkeep = tokio::time::interval(Duration::from_secs(5));
        let mut seen = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = retention.tick() => {
                    let b = buses.clone();
                    let _ = tokio::task::spawn_blocking(move || b.enforce_retention()).await;
                }
                _ = upkeep.tick() => metrics.run_upkeep(),
                _ = seen.tick() => {
                    // Webhook delivery ids past their source's window.
                    let (s, now) = (sources.clone(), clock.now().timestamp());
                    let _ = tokio::task::spawn_blocking(move || s.seen().sweep(now, &s.windows())).await;
                }
            }
        }
    })
}
