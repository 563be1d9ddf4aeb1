//! A real HTTP receiver on a loopback port for delivery tests: records every request (time,
//! headers, body), answers as the test says, counts concurrency, and can be taken down (the port
//! refuses connections) and brought back on the same port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// One request received.
#[derive(Debug, Clone)]
pub struct Got {
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The CloudEvent id, whatever the mode.
    pub fn id(&self) -> Option<String> {
        self.header("ce-id").or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&self.body)
                .ok()?
                .get("id")?
                .as_str()
                .map(str::to_owned)
        })
    }
}

/// How to answer: `(status, extra headers)` for a request, given how many requests came before.
pub type Answer = dyn Fn(&Got, usize) -> (u16, Vec<(&'static str, String)>) + Send + Sync;

pub struct Shared {
    pub got: Mutex<Vec<Got>>,
    pub answer: Mutex<Arc<Answer>>,
    pub delay: Mutex<Duration>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Requests answered with 2xx, by event id.
    pub ok_ids: Mutex<HashMap<String, usize>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn handle(s: Arc<Shared>, headers: HeaderMap, body: Bytes) -> Response<Full<Bytes>> {
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let got = Got {
        at: Instant::now(),
        headers,
        body,
    };
    let delay = *s.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let n = {
        let mut all = s.got.lock().unwrap();
        all.push(got.clone());
        all.len() - 1
    };
    let answer = s.answer.lock().unwrap().clone();
    let (status, extra) = answer(&got, n);
    if (200..300).contains(&status)
        && let Some(id) = got.id()
    {
        *s.ok_ids.lock().unwrap().entry(id).or_default() += 1;
    }
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (k, v) in extra {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

/// Accepts connections until aborted; aborting it closes every connection it serves.
async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let s = shared.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let s = s.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    Ok::<_, std::convert::Infallible>(handle(s, parts.headers, body).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

impl Receiver {
    /// A receiver answering 200 to everything.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            got: Mutex::new(Vec::new()),
            answer: Mutex::new(Arc::new(|_: &Got, _| (200, Vec::new()))),
            delay: Mutex::new(Duration::ZERO),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            ok_ids: Mutex::new(HashMap::new()),
        });
        let mut r = Receiver {
            addr,
            shared,
            task: None,
        };
        r.serve(listener);
        r
    }

    /// A receiver whose port is reserved but closed (connections are refused) until [`up`].
    pub async fn start_down() -> Receiver {
        let r = Receiver::start().await;
        let mut r = r;
        r.down().await;
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        self.task = Some(tokio::spawn(serve(listener, self.shared.clone())));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sets how requests are answered.
    pub fn answer(
        &self,
        f: impl Fn(&Got, usize) -> (u16, Vec<(&'static str, String)>) + Send + Sync + 'static,
    ) {
        *self.shared.answer.lock().unwrap() = Arc::new(f);
    }

    pub fn set_delay(&self, d: Duration) {
        *self.shared.delay.lock().unwrap() = d;
    }

    /// Stops listening: new connections are refused (open ones are closed).
    pub async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub fn got(&self) -> Vec<Got> {
        self.shared.got.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.got.lock().unwrap().len()
    }

    /// Distinct event ids answered with 2xx.
    pub fn delivered(&self) -> usize {
        self.shared.ok_ids.lock().unwrap().len()
    }

    /// Waits until `cond` holds (polling), or panics after `limit` with `what`.
    pub async fn wait_for(&self, limit: Duration, what: &str, cond: impl Fn(&Receiver) -> bool) {
        let deadline = Instant::now() + limit;
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}; received {} requests",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
