//! `railyard bench sink`: an HTTP endpoint that reads each POST body whole and answers 202
//! `{"results":[]}` without storing anything.
//!
//! Why: it is the baseline. Run `bench ingest` against it and you learn what the HTTP stack (axum
//! and hyper, as the real server uses) and the generator cost on this machine, so the cost of
//! validation, the log and fsync can be read as the difference. Bodies are streamed and dropped
//! frame by frame: no size limit and no buffering, so the sink stays cheaper than any real server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt as _;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use tokio::net::TcpListener;

use super::SinkArgs;

/// What the sink answers to every POST.
pub const ACK_BODY: &str = r#"{"results":[]}"#;

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
}

/// Binds, prints `listening on http://ADDR` and serves until Ctrl-C.
pub async fn run(args: SinkArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    let counters = serve(listener, async {
        // If Ctrl-C cannot be watched, serve until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await?;
    eprintln!(
        "sink on {addr}: served {} requests, {} body bytes",
        counters.requests.load(Ordering::Relaxed),
        counters.bytes.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Serves on `listener` until `shutdown` completes.
async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Arc<Counters>> {
    let counters = Arc::new(Counters::default());
    let app = Router::new().fallback(ack).with_state(counters.clone());
    let listener = listener.tap_io(|tcp| {
        // Without TCP_NODELAY small answers wait on Nagle; failing to set it only costs latency.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("sink server failed")?;
    Ok(counters)
}

async fn ack(State(counters): State<Arc<Counters>>, method: Method, mut body: Body) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, [(ALLOW, "POST")]).into_response();
    }
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => bytes += frame.data_ref().map_or(0, |d| d.len() as u64),
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    counters.bytes.fetch_add(bytes, Ordering::Relaxed);
    (
        StatusCode::ACCEPTED,
        [(CONTENT_TYPE, "application/json")],
        ACK_BODY,
    )
        .into_response()
}

/// Starts a sink on an ephemeral loopback port for tests; it stops when the sender is dropped.
#[cfg(test)]
pub async fn spawn_for_test() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("local_addr: {e}"),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
        let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
            panic!("connect")
        };
        assert!(s.write_all(request.as_bytes()).await.is_ok());
        let mut out = String::new();
        assert!(s.read_to_string(&mut out).await.is_ok());
        out
    }

    #[tokio::test]
    async fn answers_202_to_any_post_and_405_otherwise() {
        let (addr, _stop) = spawn_for_test().await;
        let post = raw(
            addr,
            "POST /any/path HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
        )
        .await;
        assert!(post.starts_with("HTTP/1.1 202"), "{post}");
        assert!(post.ends_with(ACK_BODY), "{post}");
        let get = raw(
            addr,
            "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        assert!(get.starts_with("HTTP/1.1 405"), "{get}");
    }
}
