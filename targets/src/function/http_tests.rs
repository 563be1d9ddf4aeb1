//! The HTTP runtime against a real server on an ephemeral loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bus::event::Data;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::*;
use crate::spec::{HttpSpec, Mode};

const EVENT: &str = r#"{"specversion":"1.0","id":"e-1","source":"/orders","type":"order.created","datacontenttype":"application/json","data":{"n":5}}"#;

/// Answers by path; `/binary` echoes the request's `ce-id` into its reply, `/echo` sends the
/// structured request back as the reply.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let ce_id = req
        .headers()
        .get("ce-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let r = Response::builder();
    let r = match path.as_str() {
        "/binary" => r
            .status(200)
            .header("ce-specversion", "1.0")
            .header("ce-id", format!("reply-to-{ce_id}"))
            .header("ce-source", "/fn")
            .header("ce-type", "done")
            .header("ce-subject", "caf%C3%A9")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{\"ok\":true}"))),
        "/echo" if content_type.starts_with("application/cloudevents+json") => r
            .status(200)
            .header("content-type", "application/cloudevents+json")
            .body(Full::new(body)),
        "/echo" => r.status(415).body(Full::new(Bytes::new())),
        "/204" => r.status(204).body(Full::new(Bytes::new())),
        "/plain" => r
            .status(200)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{\"a\":1}"))),
        "/invalid" => r
            .status(200)
            .header("ce-specversion", "1.0")
            .body(Full::new(Bytes::new())),
        "/big" => r
            .status(200)
            .header("content-type", "application/cloudevents+json")
            .body(Full::new(Bytes::from(vec![b' '; 5000]))),
        "/500" => r
            .status(500)
            .body(Full::new(Bytes::from_static(b"function crashed"))),
        "/400" => r.status(400).body(Full::new(Bytes::from_static(b"bad"))),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            r.status(200).body(Full::new(Bytes::new()))
        }
        _ => r.status(404).body(Full::new(Bytes::new())),
    };
    Ok(r.unwrap())
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(stream),
                        hyper::service::service_fn(handle),
                    )
                    .await;
            });
        }
    });
    addr
}

struct Fixture {
    addr: SocketAddr,
    client: Client,
    connections: Connections,
    _meta_dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let meta = bus::meta::Meta::open(dir.path()).unwrap();
    Fixture {
        addr: serve().await,
        client: crate::http::client().unwrap(),
        connections: Connections::new(meta, crate::http::token_client().unwrap()),
        _meta_dir: dir,
    }
}

impl Fixture {
    async fn call(&self, path: &str, mode: Mode, max_output: usize) -> Invocation {
        let url = format!("http://{}{path}", self.addr);
        let spec = HttpSpec {
            url: reqwest::Url::parse(&url).unwrap(),
            uri: url.parse().unwrap(),
            method: ::http::Method::POST,
            headers: vec![],
            mode,
            connection: None,
        };
        let rt = HttpRuntime::new(
            &spec,
            Limits {
                timeout: Duration::from_millis(800),
                max_output,
                max_concurrency: 4,
            },
        );
        let shaping = req::Shaping {
            transform: None,
            projection: None,
            rule: "r",
            ingestion_time: "2026-01-01T00:00:00.000Z",
        };
        rt.invoke_event(
            &self.client,
            &self.connections,
            shaping,
            &Bytes::from_static(EVENT.as_bytes()),
        )
        .await
    }
}

#[tokio::test]
async fn replies_in_binary_and_structured_mode() {
    let f = fixture().await;
    let inv = f.call("/binary", Mode::Binary, 1 << 20).await;
    assert_eq!(
        inv.outcome,
        Outcome::Delivered {
            status: Some(200),
            detail: None
        }
    );
    let reply = inv.reply.unwrap();
    assert_eq!(reply.id, "reply-to-e-1", "the event went in binary mode");
    assert_eq!(reply.subject.as_deref(), Some("café"));
    assert_eq!(reply.data, Some(Data::json(b"{\"ok\":true}").unwrap()));

    let inv = f.call("/echo", Mode::Structured, 1 << 20).await;
    assert_eq!(
        inv.outcome,
        Outcome::Delivered {
            status: Some(200),
            detail: None
        },
        "{inv:?}"
    );
    let reply = inv.reply.unwrap();
    assert_eq!(reply.to_structured_json(), EVENT.as_bytes());
}

#[tokio::test]
async fn answers_without_a_cloudevent_have_no_reply() {
    let f = fixture().await;
    let inv = f.call("/204", Mode::Binary, 1 << 20).await;
    assert_eq!(
        (inv.outcome, inv.reply),
        (
            Outcome::Delivered {
                status: Some(204),
                detail: None
            },
            None
        )
    );
    let inv = f.call("/plain", Mode::Binary, 1 << 20).await;
    assert_eq!(
        (inv.outcome, inv.reply),
        (
            Outcome::Delivered {
                status: Some(200),
                detail: None
            },
            None
        )
    );
}

#[tokio::test]
async fn failures_are_classified_as_for_http_targets() {
    let f = fixture().await;
    let inv = f.call("/500", Mode::Binary, 1 << 20).await;
    assert_eq!(
        inv.outcome,
        Outcome::Retry {
            status: Some(500),
            error: "status 500: function crashed".into(),
            retry_after: None
        }
    );
    let inv = f.call("/400", Mode::Binary, 1 << 20).await;
    assert_eq!(
        inv.outcome,
        Outcome::Fatal {
            status: Some(400),
            error: "status 400: bad".into()
        }
    );
    let start = Instant::now();
    let inv = f.call("/slow", Mode::Binary, 1 << 20).await;
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(&inv.outcome, Outcome::Retry { status: None, error, .. } if error.contains("timeout")),
        "{inv:?}"
    );
    // Nobody listening.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = Fixture {
        addr: closed.local_addr().unwrap(),
        ..fixture().await
    };
    drop(closed);
    let inv = gone.call("/x", Mode::Binary, 1 << 20).await;
    assert!(
        matches!(inv.outcome, Outcome::Retry { status: None, .. }),
        "{inv:?}"
    );
}

#[tokio::test]
async fn wrong_or_oversized_replies_are_final() {
    let f = fixture().await;
    let inv = f.call("/invalid", Mode::Binary, 1 << 20).await;
    assert!(
        matches!(&inv.outcome, Outcome::Fatal { status: Some(200), error } if error.contains("not a valid CloudEvent")),
        "{inv:?}"
    );
    let inv = f.call("/big", Mode::Binary, 1000).await;
    assert!(
        matches!(&inv.outcome, Outcome::Fatal { error, .. } if error.contains("exceeds 1000 bytes")),
        "{inv:?}"
    );
}
