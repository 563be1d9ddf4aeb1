//! The NATS (core and JetStream) and AMQP targets against real `nats-server` and
//! `rabbitmq-server` processes (Debian packages `nats-server` and `rabbitmq-server`;
//! `scripts/test` installs them), each started here on free loopback ports in a temporary
//! directory, stopped and started again while events are being published.
//!
//! The publishing loop is the engine's in small: a fixed number of attempts in flight, a `Retry`
//! tried again after a short backoff, a `Fatal` a failure of the test. What "nothing lost" means:
//! - JetStream and RabbitMQ: every event is in the stream / the durable queue afterwards, read by
//!   a consumer once all were delivered (duplicates counted and printed).
//! - Core NATS keeps nothing: a message reaches the subscribers connected when the server handles
//!   it. The claim tested is the publisher's: it reports `Delivered` only for events the server
//!   handled, so a subscriber that is connected whenever the publisher is gets every event. The
//!   harness therefore holds new attempts while the server restarts until the test's subscriber
//!   is back (attempts made while the server is down are not held: they must come back `Retry`).
//!
//! `jetstream_throughput` (ignored; run it in release) prints events/s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use railyard_targets::amqp::AmqpPublisher;
use railyard_targets::http::Outcome;
use railyard_targets::nats::NatsPublisher;
use railyard_targets::spec::{AmqpSpec, NatsSpec, Template, amqp_parse_uri};

// ---------------------------------------------------------------------------------------------
// Processes

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The path of a program the Debian package installs, or a clear failure. RabbitMQ's own script
/// comes first: `/usr/sbin/rabbitmq-server` is a wrapper that switches to the `rabbitmq` user,
/// who cannot write the test's directories.
fn program(name: &str, package: &str) -> PathBuf {
    for dir in [
        "/usr/lib/rabbitmq/bin",
        "/usr/bin",
        "/usr/sbin",
        "/usr/local/bin",
    ] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: apt-get install -y {package} (scripts/test does it)");
}

/// Sends `sig` to the process group of `child` (each server runs in its own group).
fn signal_group(child: &Child, sig: i32) {
    let pgid = child.id() as i32;
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Waits for `child` to exit, killing its group after `grace`.
fn reap(child: &mut Child, grace: Duration) {
    let until = Instant::now() + grace;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        if Instant::now() > until {
            signal_group(child, libc::SIGKILL);
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path, limit: Duration) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}) while starting:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the server did not listen on {port} within {limit:?}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A `nats-server` on a loopback port; with JetStream, its store survives restarts.
struct Nats {
    dir: tempfile::TempDir,
    port: u16,
    jetstream: bool,
    child: Option<Child>,
}

impl Nats {
    fn start(jetstream: bool) -> Nats {
        let mut n = Nats {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            jetstream,
            child: None,
        };
        n.spawn();
        n
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("nats.log")
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(program("nats-server", "nats-server"));
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-l")
            .arg(self.log());
        if self.jetstream {
            cmd.arg("-js").arg("-sd").arg(self.dir.path().join("store"));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().expect("start nats-server");
        wait_for_port(self.port, &mut child, &self.log(), Duration::from_secs(30));
        // The INFO line comes once the server accepts clients.
        if let Ok(s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut line = String::new();
            let _ = BufReader::new(s).read_line(&mut line);
        }
        self.child = Some(child);
    }

    /// A graceful stop (SIGTERM), as an operator or a service manager does it.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal_group(&c, libc::SIGTERM);
            reap(&mut c, Duration::from_secs(20));
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal_group(&c, libc::SIGKILL);
            let _ = c.wait();
        }
    }
}

/// A private RabbitMQ node: its own name, ports (AMQP, distribution, epmd), Mnesia directory,
/// config and Erlang cookie (HOME), so it touches nothing of a system broker.
struct Rabbit {
    dir: tempfile::TempDir,
    port: u16,
    dist_port: u16,
    epmd_port: u16,
    node: String,
    child: Option<Child>,
}

impl Rabbit {
    fn start() -> Rabbit {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path();
        std::fs::create_dir_all(p.join("mnesia")).expect("mnesia dir");
        std::fs::create_dir_all(p.join("log")).expect("log dir");
        std::fs::write(p.join("enabled_plugins"), "[].\n").expect("plugins file");
        // A small free-disk limit: a nearly full test disk must not block publishers.
        std::fs::write(
            p.join("rabbitmq.conf"),
            "disk_free_limit.absolute = 1MB\nlog.file.level = warning\n",
        )
        .expect("config");
        std::fs::write(p.join("rabbitmq-env.conf"), "").expect("env file");
        let mut r = Rabbit {
            port: free_port(),
            dist_port: free_port(),
            epmd_port: free_port(),
            node: format!("railyard-test-{}@localhost", std::process::id()),
            dir,
            child: None,
        };
        r.spawn();
        r
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.out")
    }

    fn spawn(&mut self) {
        let p = self.dir.path();
        let out = std::fs::File::create(self.log()).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut child = Command::new(program("rabbitmq-server", "rabbitmq-server"))
            .current_dir(p)
            .env("HOME", p)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", p.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", p.join("log"))
            .env("RABBITMQ_CONFIG_FILE", p.join("rabbitmq.conf"))
            .env("RABBITMQ_CONF_ENV_FILE", p.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", p.join("enabled_plugins"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("start rabbitmq-server");
        wait_for_port(self.port, &mut child, &self.log(), Duration::from_secs(120));
        self.child = Some(child);
    }

    /// Waits until the broker takes an AMQP connection (the port opens before boot completes).
    async fn ready(&self) {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            match lapin::Connection::connect(&self.url(), lapin::ConnectionProperties::default())
                .await
            {
                Ok(c) => {
                    let _ = c.close(200, "ready".into()).await;
                    return;
                }
                Err(e) if Instant::now() > until => panic!("RabbitMQ is not ready: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// A graceful stop (SIGTERM: the node shuts down cleanly).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal_group(&c, libc::SIGTERM);
            reap(&mut c, Duration::from_secs(60));
        }
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal_group(&c, libc::SIGKILL);
            let _ = c.wait();
        }
        // epmd daemonizes (its own session) and outlives the node: stop this test's one.
        let _ = Command::new(program("epmd", "erlang-base"))
            .args(["-port", &self.epmd_port.to_string(), "-kill"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

// ---------------------------------------------------------------------------------------------
// Events and the publishing loop

fn event(i: usize, data_len: usize) -> Bytes {
    let pad = "x".repeat(data_len.saturating_sub(40));
    Bytes::from(format!(
        r#"{{"specversion":"1.0","id":"ev-{i}","source":"/test","type":"com.example.t{}","time":"2026-01-01T00:00:00Z","seq":{i},"datacontenttype":"application/json","data":{{"n":{i},"pad":"{pad}"}}}}"#,
        i % 3
    ))
}

#[derive(Default)]
struct Tally {
    delivered: AtomicUsize,
    retries: AtomicUsize,
    /// Retries seen while the server was down.
    retries_down: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
}

/// Publishes events `0..n` with `in_flight` attempts at once, retrying like the engine.
async fn publish_all<P, F>(
    n: usize,
    in_flight: usize,
    publish: P,
    tally: Arc<Tally>,
    gate: Arc<tokio::sync::RwLock<()>>,
) where
    P: Fn(Bytes) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Outcome> + Send,
{
    let publish = Arc::new(publish);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..in_flight {
        let (publish, next, tally, gate) =
            (publish.clone(), next.clone(), tally.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let ev = event(i, 256);
                let mut backoff = Duration::from_millis(20);
                loop {
                    let outcome = {
                        let _open = gate.read().await;
                        publish(ev.clone()).await
                    };
                    match outcome {
                        Outcome::Delivered { .. } => {
                            tally.delivered.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Outcome::Retry { .. } => {
                            tally.retries.fetch_add(1, Ordering::Relaxed);
                            if tally.down.load(Ordering::Relaxed) {
                                tally.retries_down.fetch_add(1, Ordering::Relaxed);
                            }
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_millis(500));
                        }
                        Outcome::Fatal { error, .. } => panic!("event {i}: fatal: {error}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("publishing task");
    }
}

async fn wait_delivered(tally: &Tally, at_least: usize) {
    let until = Instant::now() + Duration::from_secs(120);
    while tally.delivered.load(Ordering::Relaxed) < at_least {
        assert!(Instant::now() < until, "publishing stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn check_all(ids: &HashMap<String, usize>, n: usize, what: &str) {
    let missing: Vec<usize> = (0..n)
        .filter(|i| !ids.contains_key(&format!("ev-{i}")))
        .collect();
    let dups: usize = ids.values().map(|c| c - 1).sum();
    eprintln!(
        "{what}: {} of {n} events received, {dups} duplicates",
        ids.len()
    );
    assert!(
        missing.is_empty(),
        "{what}: {} events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

fn nats_spec(url: String, jetstream: bool) -> NatsSpec {
    NatsSpec {
        urls: vec![url],
        subject: Template::parse("events.{type}").unwrap(),
        jetstream,
    }
}

// ---------------------------------------------------------------------------------------------
// NATS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_core_restart_loses_nothing_a_subscriber_could_get() {
    const N: usize = 3_000;
    let mut server = Nats::start(false);
    let url = server.url();

    // The test's subscriber, and how to know it is subscribed again after a restart.
    let sub_client = async_nats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connect(url.as_str())
        .await
        .expect("subscriber connects");
    let mut sub = sub_client.subscribe("events.>").await.expect("subscribe");
    sub_client.flush().await.expect("flush");
    let ids: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let collector = {
        let ids = ids.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("ce-id"))
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default();
                *ids.lock().unwrap().entry(id).or_default() += 1;
            }
        })
    };

    let publisher = Arc::new(NatsPublisher::new(
        nats_spec(url.clone(), false),
        "test/core",
    ));
    // The binary mode on the wire.
    {
        let mut one = sub_client.subscribe("events.com.example.t1").await.unwrap();
        sub_client.flush().await.unwrap();
        let out = publisher
            .publish(&event(1, 64), Duration::from_secs(5))
            .await;
        assert!(matches!(out, Outcome::Delivered { .. }), "{out:?}");
        let m = tokio::time::timeout(Duration::from_secs(5), one.next())
            .await
            .unwrap()
            .unwrap();
        let h = m.headers.unwrap();
        assert_eq!(h.get("ce-id").unwrap().as_str(), "ev-1");
        assert_eq!(h.get("ce-specversion").unwrap().as_str(), "1.0");
        assert_eq!(h.get("ce-source").unwrap().as_str(), "/test");
        assert_eq!(h.get("ce-seq").unwrap().as_str(), "1");
        assert_eq!(
            h.get("ce-datacontenttype").unwrap().as_str(),
            "application/json"
        );
        assert_eq!(h.get("Content-Type").unwrap().as_str(), "application/json");
        assert!(
            m.payload.starts_with(br#"{"n":1,"pad":""#),
            "{:?}",
            m.payload
        );
        ids.lock().unwrap().clear();
    }

    let tally = Arc::new(Tally::default());
    let gate = Arc::new(tokio::sync::RwLock::new(()));
    let publishing = {
        let (p, tally, gate) = (publisher.clone(), tally.clone(), gate.clone());
        tokio::spawn(publish_all(
            N,
            16,
            move |ev| {
                let p = p.clone();
                async move { p.publish(&ev, Duration::from_secs(2)).await }
            },
            tally,
            gate,
        ))
    };

    wait_delivered(&tally, N / 3).await;
    tally.down.store(true, Ordering::Relaxed);
    let mut server = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let delivered_while_down = tally.delivered.load(Ordering::Relaxed);
    // Hold new attempts (and let the running ones finish) until the subscriber is back.
    let hold = gate.write().await;
    tally.down.store(false, Ordering::Relaxed);
    let server = tokio::task::spawn_blocking(move || {
        server.spawn();
        server
    })
    .await
    .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < until, "the subscriber did not reconnect");
        if sub_client.connection_state() == async_nats::connection::State::Connected {
            // A round trip after the re-subscription proves the server has it.
            match sub_client.request("nobody.home", Bytes::new()).await {
                Ok(_) => break,
                Err(e) if e.kind() == async_nats::client::RequestErrorKind::NoResponders => break,
                Err(_) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(hold);
    publishing.await.unwrap();

    let until = Instant::now() + Duration::from_secs(10);
    while ids.lock().unwrap().len() < N && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    collector.abort();
    eprintln!(
        "core NATS: {} retries ({} while the server was down); {} delivered before the stop",
        tally.retries.load(Ordering::Relaxed),
        tally.retries_down.load(Ordering::Relaxed),
        delivered_while_down
    );
    assert!(
        tally.retries_down.load(Ordering::Relaxed) > 0,
        "attempts while the server was down must be retried"
    );
    check_all(&ids.lock().unwrap(), N, "core NATS");
    drop(server);
}

async fn jetstream_stream(url: &str) -> (async_nats::Client, async_nats::jetstream::Context) {
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "EVENTS".into(),
        subjects: vec!["events.>".into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create the stream");
    (client, js)
}

/// Every message of the stream EVENTS, by `ce-id`.
async fn stream_ids(js: &async_nats::jetstream::Context) -> HashMap<String, usize> {
    use async_nats::jetstream::consumer;
    let mut stream = js.get_stream("EVENTS").await.expect("the stream");
    let total = stream.info().await.expect("stream info").state.messages as usize;
    let c: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("a consumer");
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut seen = 0;
    let mut messages = c.messages().await.expect("messages");
    while seen < total {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("the stream's messages")
            .expect("a message")
            .expect("a message");
        let id = m
            .headers
            .as_ref()
            .and_then(|h| h.get("ce-id"))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        *ids.entry(id).or_default() += 1;
        seen += 1;
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_jetstream_restart_loses_nothing() {
    const N: usize = 5_000;
    let server = Nats::start(true);
    let url = server.url();
    let (_client, js) = jetstream_stream(&url).await;

    let publisher = Arc::new(NatsPublisher::new(nats_spec(url.clone(), true), "test/js"));
    // A subject no stream captures: retried (a stream may be created later), not dead-lettered.
    let orphan = NatsPublisher::new(
        NatsSpec {
            urls: vec![url.clone()],
            subject: Template::parse("orphans.{type}").unwrap(),
            jetstream: true,
        },
        "test/orphan",
    );
    let out = orphan.publish(&event(0, 64), Duration::from_secs(5)).await;
    assert!(
        matches!(&out, Outcome::Retry { error, .. } if error.contains("no JetStream stream")),
        "{out:?}"
    );

    let tally = Arc::new(Tally::default());
    let gate = Arc::new(tokio::sync::RwLock::new(()));
    let publishing = {
        let (p, tally, gate) = (publisher.clone(), tally.clone(), gate.clone());
        tokio::spawn(publish_all(
            N,
            32,
            move |ev| {
                let p = p.clone();
                async move { p.publish(&ev, Duration::from_secs(2)).await }
            },
            tally,
            gate,
        ))
    };
    wait_delivered(&tally, N / 3).await;
    tally.down.store(true, Ordering::Relaxed);
    let server = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.stop();
        std::thread::sleep(Duration::from_millis(1500));
        server
    })
    .await
    .unwrap();
    tally.down.store(false, Ordering::Relaxed);
    let server = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.spawn();
        server
    })
    .await
    .unwrap();
    publishing.await.unwrap();
    eprintln!(
        "JetStream: {} retries ({} while the server was down)",
        tally.retries.load(Ordering::Relaxed),
        tally.retries_down.load(Ordering::Relaxed)
    );
    assert!(tally.retries_down.load(Ordering::Relaxed) > 0);

    // The test's own client reconnects by itself.
    let ids = stream_ids(&js).await;
    check_all(&ids, N, "JetStream");
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_restart_loses_nothing() {
    use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::{AMQPValue, FieldTable};
    const N: usize = 3_000;
    let mut rabbit = Rabbit::start();
    rabbit.ready().await;
    let url = rabbit.url();

    // The broker owner's topology: a durable queue bound to amq.topic for events.#.
    let setup = async |url: &str| {
        let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
            .await
            .expect("connect");
        let ch = conn.create_channel().await.expect("channel");
        ch.queue_declare(
            "events".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare the queue");
        ch.queue_bind(
            "events".into(),
            "amq.topic".into(),
            "events.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind the queue");
        (conn, ch)
    };
    let (conn, ch) = setup(&url).await;

    let spec = |exchange: &str, key: &str| AmqpSpec {
        url: url.clone(),
        uri: amqp_parse_uri(&url).unwrap(),
        exchange: exchange.into(),
        routing_key: Template::parse(key).unwrap(),
        persistent: true,
        mandatory: true,
    };
    let publisher = Arc::new(AmqpPublisher::new(spec("amq.topic", "events.{type}")));

    // The binary mode on the wire.
    let out = publisher
        .publish(&event(1, 64), Duration::from_secs(5))
        .await;
    assert!(matches!(out, Outcome::Delivered { .. }), "{out:?}");
    let m = ch
        .basic_get("events".into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
        .expect("the message");
    let p = &m.delivery.properties;
    assert_eq!(
        p.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), "ev-1");
    assert_eq!(*p.delivery_mode(), Some(2));
    let h = p.headers().as_ref().unwrap().inner();
    assert_eq!(
        h.get("cloudEvents_id"),
        Some(&AMQPValue::LongString("ev-1".into()))
    );
    assert_eq!(
        h.get("cloudEvents_specversion"),
        Some(&AMQPValue::LongString("1.0".into()))
    );
    assert_eq!(h.get("cloudEvents_seq"), Some(&AMQPValue::LongLongInt(1)));
    assert_eq!(m.delivery.routing_key.as_str(), "events.com.example.t1");
    assert!(m.delivery.data.starts_with(br#"{"n":1,"pad":""#));

    // Unroutable (mandatory) and a missing exchange: retried, and the channel recovers.
    let nowhere = AmqpPublisher::new(spec("amq.topic", "nowhere.{type}"));
    let out = nowhere.publish(&event(2, 64), Duration::from_secs(5)).await;
    assert!(
        matches!(&out, Outcome::Retry { error, .. } if error.contains("NO_ROUTE")),
        "{out:?}"
    );
    let missing = AmqpPublisher::new(spec("no-such-exchange", "k"));
    for _ in 0..2 {
        let out = missing.publish(&event(3, 64), Duration::from_secs(5)).await;
        assert!(
            matches!(&out, Outcome::Retry { error, .. } if error.contains("NOT_FOUND") || error.contains("404")),
            "{out:?}"
        );
    }
    drop(ch);
    let _ = conn.close(200, "bye".into()).await;

    let tally = Arc::new(Tally::default());
    let gate = Arc::new(tokio::sync::RwLock::new(()));
    let publishing = {
        let (p, tally, gate) = (publisher.clone(), tally.clone(), gate.clone());
        tokio::spawn(publish_all(
            N,
            16,
            move |ev| {
                let p = p.clone();
                async move { p.publish(&ev, Duration::from_secs(3)).await }
            },
            tally,
            gate,
        ))
    };
    wait_delivered(&tally, N / 3).await;
    tally.down.store(true, Ordering::Relaxed);
    rabbit = tokio::task::spawn_blocking(move || {
        rabbit.stop();
        std::thread::sleep(Duration::from_millis(1500));
        rabbit
    })
    .await
    .unwrap();
    tally.down.store(false, Ordering::Relaxed);
    rabbit = tokio::task::spawn_blocking(move || {
        rabbit.spawn();
        rabbit
    })
    .await
    .unwrap();
    publishing.await.unwrap();
    eprintln!(
        "RabbitMQ: {} retries ({} while the broker was down)",
        tally.retries.load(Ordering::Relaxed),
        tally.retries_down.load(Ordering::Relaxed)
    );
    assert!(tally.retries_down.load(Ordering::Relaxed) > 0);

    let (conn, ch) = setup(&url).await;
    let mut ids: HashMap<String, usize> = HashMap::new();
    while let Some(m) = ch
        .basic_get("events".into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        let id = match m
            .delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("cloudEvents_id"))
        {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            _ => String::new(),
        };
        *ids.entry(id).or_default() += 1;
    }
    let _ = conn.close(200, "bye".into()).await;
    check_all(&ids, N, "RabbitMQ");
    rabbit.stop();
}

// ---------------------------------------------------------------------------------------------
// Throughput

/// Publishes `n` events with `in_flight` attempts at once, as a target's worker does
/// (FuturesUnordered in one task); events/s.
async fn throughput<P, F>(n: usize, in_flight: usize, data_len: usize, publish: P) -> f64
where
    P: Fn(Bytes) -> F,
    F: std::future::Future<Output = Outcome>,
{
    let events: Vec<Bytes> = (0..n).map(|i| event(i, data_len)).collect();
    let mut flights = futures_util::stream::FuturesUnordered::new();
    let started = Instant::now();
    let mut next = 0;
    let mut done = 0;
    while done < n {
        while next < n && flights.len() < in_flight {
            flights.push(publish(events[next].clone()));
            next += 1;
        }
        match flights.next().await {
            Some(Outcome::Delivered { .. }) => done += 1,
            Some(other) => panic!("{other:?}"),
            None => break,
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo nextest run --release -p railyard-targets --run-ignored ignored-only -E 'test(throughput)' --no-capture"]
async fn jetstream_throughput() {
    const N: usize = 100_000;
    let in_flight: usize = std::env::var("IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let server = Nats::start(true);
    let url = server.url();
    let (_client, js) = jetstream_stream(&url).await;
    let mut runs = Vec::new();
    for run in 0..3 {
        let p = NatsPublisher::new(nats_spec(url.clone(), true), format!("bench/{run}"));
        let rate = throughput(N, in_flight, 1024, |ev| {
            let p = &p;
            async move { p.publish(&ev, Duration::from_secs(10)).await }
        })
        .await;
        eprintln!(
            "JetStream run {run}: {rate:.0} events/s ({N} events of 1 KiB data, {in_flight} in flight)"
        );
        runs.push(rate);
        js.get_stream("EVENTS")
            .await
            .unwrap()
            .purge()
            .await
            .unwrap();
    }
    eprintln!("JetStream median: {:.0} events/s", median(runs));
    let mut runs = Vec::new();
    for run in 0..3 {
        let p = NatsPublisher::new(nats_spec(url.clone(), false), "bench/core");
        let rate = throughput(N, in_flight, 1024, |ev| {
            let p = &p;
            async move { p.publish(&ev, Duration::from_secs(10)).await }
        })
        .await;
        eprintln!("core NATS run {run}: {rate:.0} events/s");
        runs.push(rate);
    }
    eprintln!("core NATS median: {:.0} events/s", median(runs));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo nextest run --release -p railyard-targets --run-ignored ignored-only -E 'test(throughput)' --no-capture"]
async fn amqp_throughput() {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions, QueuePurgeOptions};
    use lapin::types::FieldTable;
    const N: usize = 50_000;
    let mut rabbit = Rabbit::start();
    rabbit.ready().await;
    let url = rabbit.url();
    let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "events".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        "events".into(),
        "amq.topic".into(),
        "events.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let p = AmqpPublisher::new(AmqpSpec {
        url: url.clone(),
        uri: amqp_parse_uri(&url).unwrap(),
        exchange: "amq.topic".into(),
        routing_key: Template::parse("events.{type}").unwrap(),
        persistent: true,
        mandatory: true,
    });
    let mut runs = Vec::new();
    for run in 0..3 {
        let rate = throughput(N, 64, 1024, |ev| {
            let p = &p;
            async move { p.publish(&ev, Duration::from_secs(10)).await }
        })
        .await;
        eprintln!(
            "RabbitMQ run {run}: {rate:.0} events/s ({N} persistent events of 1 KiB, 64 in flight)"
        );
        runs.push(rate);
        ch.queue_purge("events".into(), QueuePurgeOptions::default())
            .await
            .unwrap();
    }
    eprintln!("RabbitMQ median: {:.0} events/s", median(runs));
    rabbit.stop();
}
