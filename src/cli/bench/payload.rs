//! Prebuilt request bodies for `bench ingest`.
//!
//! Why prebuilt: on a 2-core box every microsecond the generator spends serialising JSON is taken
//! from the server under test. So each body is built once, at start-up, with a fixed-width id slot
//! per event; a request is a copy of that template with the slots overwritten by digits (binary
//! mode does not even copy: the body is shared and only the `ce-id` header is formatted).
//!
//! Sizing: the structured JSON of one event is padded (a `pad` string inside its `data` object) to
//! exactly `--event-size` bytes, unless that is smaller than the event's fixed part (~180 bytes).
//! Binary mode sends that same `data` object as the body; batch mode sends `--batch` such events.
//!
//! Ids are `<run>-<worker>-<counter>`: a random run prefix (so that a second run against a server
//! that deduplicates on source+id is not silently deduplicated), the worker number and a per-worker
//! counter, each zero-padded to a fixed width.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::Full;

/// Largest body the generator will build; far above any sane ingest limit.
const MAX_BODY: u64 = 256 << 20;

const RUN_LEN: usize = 8;
const WORKER_LEN: usize = 5;
const COUNTER_LEN: usize = 12;
/// Width of every event id: `RUN-WORKER-COUNTER`.
pub const ID_LEN: usize = RUN_LEN + 1 + WORKER_LEN + 1 + COUNTER_LEN;

const SOURCE: &str = "/bench";
const TYPE: &str = "dev.railyard.bench";

/// How events are put on the wire (CloudEvents HTTP binding content modes).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One event per request: attributes in ce-* headers, body = the data
    Binary,
    /// One event per request, as application/cloudevents+json
    Structured,
    /// --batch events per request, as application/cloudevents-batch+json
    Batch,
    /// One GitHub `push` delivery per request, signed (X-Hub-Signature-256 with --secret), for
    /// `POST /v1/webhooks/{source}` of a `github` source
    Github,
}

impl Mode {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Binary => "binary",
            Mode::Structured => "structured",
            Mode::Batch => "batch",
            Mode::Github => "github",
        }
    }
}

/// A request body template and what is needed to stamp ids into it.
#[derive(Debug)]
pub struct Payload {
    mode: Mode,
    template: Bytes,
    /// Offsets of the id slots in `template` (empty in binary mode, where the id is a header).
    slots: Vec<usize>,
    events: u64,
    /// GitHub mode: `sha256=<hex>` of the body (the body is the same for every request; the
    /// delivery id, a header, is not signed, as with GitHub).
    signature: Option<HeaderValue>,
}

/// Generates the unique ids of one worker.
#[derive(Debug, Clone)]
pub struct IdGen {
    prefix: [u8; RUN_LEN + 1 + WORKER_LEN + 1],
    counter: u64,
}

impl IdGen {
    /// Ids for `worker` in the run identified by `run` (its low 32 bits, in hex).
    pub fn new(run: u32, worker: u32) -> Self {
        let mut prefix = [b'-'; RUN_LEN + 1 + WORKER_LEN + 1];
        let text = format!("{run:08x}-{:05}-", worker % 100_000);
        prefix.copy_from_slice(text.as_bytes());
        Self { prefix, counter: 0 }
    }

    /// Writes the next id into `slot` (exactly [`ID_LEN`] bytes).
    fn write_next(&mut self, slot: &mut [u8]) {
        let (head, digits) = slot.split_at_mut(self.prefix.len());
        head.copy_from_slice(&self.prefix);
        let mut n = self.counter;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.counter += 1;
    }
}

impl Payload {
    /// Builds the template for `mode`, events of `event_size` bytes, `batch` events per request in
    /// batch mode.
    pub fn build(mode: Mode, event_size: u64, batch: u32, secret: &str) -> anyhow::Result<Self> {
        let batch = if mode == Mode::Batch {
            u64::from(batch.max(1))
        } else {
            1
        };
        let placeholder = "0".repeat(ID_LEN);
        let fixed = event_json(&placeholder, "").len() as u64;
        let pad_len = event_size.saturating_sub(fixed);
        if batch.saturating_mul(fixed + pad_len + 1) > MAX_BODY {
            anyhow::bail!(
                "a request body would exceed {MAX_BODY} bytes: lower --event-size or --batch"
            );
        }
        let pad = "x".repeat(usize::try_from(pad_len)?);
        let one = event_json(&placeholder, &pad);
        let slot_in_event = one.find(&placeholder).unwrap_or(0);
        let (template, slots) = match mode {
            Mode::Binary => (data_json(&pad), Vec::new()),
            Mode::Github => (github_json(&pad), Vec::new()),
            Mode::Structured => (one, vec![slot_in_event]),
            Mode::Batch => {
                let mut body = String::with_capacity((one.len() + 1) * batch as usize + 1);
                let mut slots = Vec::with_capacity(batch as usize);
                body.push('[');
                for i in 0..batch {
                    if i > 0 {
                        body.push(',');
                    }
                    slots.push(body.len() + slot_in_event);
                    body.push_str(&one);
                }
                body.push(']');
                (body, slots)
            }
        };
        let signature = match mode {
            Mode::Github => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
                let tag = ring::hmac::sign(&key, template.as_bytes());
                let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                Some(HeaderValue::from_str(&format!("sha256={hex}"))?)
            }
            _ => None,
        };
        Ok(Self {
            mode,
            template: Bytes::from(template),
            slots,
            events: batch,
            signature,
        })
    }

    /// Events carried by one request.
    pub fn events_per_request(&self) -> u64 {
        self.events
    }

    /// Bytes of one request body.
    pub fn body_len(&self) -> u64 {
        self.template.len() as u64
    }

    /// The next request: a POST to `uri` (origin form) with fresh ids.
    pub fn request(
        &self,
        ids: &mut IdGen,
        uri: &Uri,
        host: &HeaderValue,
    ) -> Result<Request<Full<Bytes>>, http::Error> {
        let builder = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(HOST, host.clone())
            .header(CONTENT_LENGTH, self.template.len());
        let (builder, body) = match self.mode {
            Mode::Binary => {
                let mut id = [0u8; ID_LEN];
                ids.write_next(&mut id);
                let builder = builder
                    .header("ce-specversion", HeaderValue::from_static("1.0"))
                    .header("ce-id", HeaderValue::from_bytes(&id)?)
                    .header("ce-source", HeaderValue::from_static(SOURCE))
                    .header("ce-type", HeaderValue::from_static(TYPE))
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                (builder, self.template.clone())
            }
            Mode::Github => {
                let mut id = [0u8; ID_LEN];
                ids.write_next(&mut id);
                let mut builder = builder
                    .header("x-github-event", HeaderValue::from_static("push"))
                    .header("x-github-delivery", HeaderValue::from_bytes(&id)?)
                    .header("x-github-hook-id", HeaderValue::from_static("1"))
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                if let Some(sig) = &self.signature {
                    builder = builder.header("x-hub-signature-256", sig.clone());
                }
                (builder, self.template.clone())
            }
            Mode::Structured | Mode::Batch => {
                let mut body = self.template.to_vec();
                for &at in &self.slots {
                    ids.write_next(&mut body[at..at + ID_LEN]);
                }
                let content_type = if self.mode == Mode::Batch {
                    "application/cloudevents-batch+json"
                } else {
                    "application/cloudevents+json"
                };
                (
                    builder.header(CONTENT_TYPE, HeaderValue::from_static(content_type)),
                    Bytes::from(body),
                )
            }
        };
        builder.body(Full::new(body))
    }
}

fn github_json(pad: &str) -> String {
    format!(
        r#"{{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","repository":{{"full_name":"acme/app","html_url":"https://github.com/acme/app"}},"pusher":{{"name":"bench"}},"pad":"{pad}"}}"#
    )
}

fn data_json(pad: &str) -> String {
    format!(r#"{{"bench":"railyard","pad":"{pad}"}}"#)
}

fn event_json(id: &str, pad: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"{id}","source":"{SOURCE}","type":"{TYPE}","datacontenttype":"application/json","data":{}}}"#,
        data_json(pad)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use serde_json::Value;

    fn uri() -> Uri {
        Uri::from_static("/v1/buses/default/events")
    }

    async fn next(p: &Payload, ids: &mut IdGen) -> (http::request::Parts, Vec<u8>) {
        let host = HeaderValue::from_static("127.0.0.1:8080");
        let Ok(req) = p.request(ids, &uri(), &host) else {
            panic!("request failed to build")
        };
        let (parts, body) = req.into_parts();
        let Ok(body) = body.collect().await;
        (parts, body.to_bytes().to_vec())
    }

    fn json(bytes: &[u8]) -> Value {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(bytes)),
        }
    }

    fn build(mode: Mode, size: u64, batch: u32) -> Payload {
        match Payload::build(mode, size, batch, "s") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test]
    async fn structured_size_is_within_five_percent() {
        for size in [1024u64, 64 * 1024] {
            let p = build(Mode::Structured, size, 1);
            let (_, body) = next(&p, &mut IdGen::new(7, 1)).await;
            let len = body.len() as f64;
            assert!(
                (len - size as f64).abs() <= size as f64 * 0.05,
                "{len} vs {size}"
            );
            json(&body);
        }
    }

    #[tokio::test]
    async fn binary_has_ce_headers_and_json_data() {
        let p = build(Mode::Binary, 1024, 100);
        let mut ids = IdGen::new(0xabcd, 3);
        let (a, body) = next(&p, &mut ids).await;
        let (b, _) = next(&p, &mut ids).await;
        assert_eq!(a.method, Method::POST);
        assert_eq!(a.headers["ce-specversion"], "1.0");
        assert_eq!(a.headers["ce-source"], "/bench");
        assert_eq!(a.headers["ce-type"], "dev.railyard.bench");
        assert_eq!(a.headers[CONTENT_TYPE], "application/json");
        assert_eq!(a.headers[HOST], "127.0.0.1:8080");
        assert_eq!(a.headers["ce-id"], "0000abcd-00003-000000000000");
        assert_eq!(b.headers["ce-id"], "0000abcd-00003-000000000001");
        assert_eq!(a.headers[CONTENT_LENGTH], body.len().to_string().as_str());
        assert!(json(&body)["pad"].is_string());
        assert_eq!(p.events_per_request(), 1);
    }

    #[tokio::test]
    async fn structured_is_a_valid_event_with_unique_ids() {
        let p = build(Mode::Structured, 1024, 1);
        let mut ids = IdGen::new(1, 2);
        let (parts, first) = next(&p, &mut ids).await;
        let (_, second) = next(&p, &mut ids).await;
        assert_eq!(parts.headers[CONTENT_TYPE], "application/cloudevents+json");
        let (a, b) = (json(&first), json(&second));
        assert_eq!(a["specversion"], "1.0");
        assert_eq!(a["source"], "/bench");
        assert_eq!(a["type"], "dev.railyard.bench");
        assert_eq!(a["id"], "00000001-00002-000000000000");
        assert_eq!(b["id"], "00000001-00002-000000000001");
        assert!(a["data"]["pad"].is_string());
    }

    #[tokio::test]
    async fn batch_is_an_array_of_sized_events_with_unique_ids() {
        let p = build(Mode::Batch, 1024, 50);
        let mut ids = IdGen::new(9, 0);
        let (parts, body) = next(&p, &mut ids).await;
        let (_, again) = next(&p, &mut ids).await;
        assert_eq!(
            parts.headers[CONTENT_TYPE],
            "application/cloudevents-batch+json"
        );
        assert_eq!(p.events_per_request(), 50);
        let mut seen = std::collections::HashSet::new();
        for body in [body, again] {
            let Value::Array(events) = json(&body) else {
                panic!("not an array")
            };
            assert_eq!(events.len(), 50);
            for e in &events {
                assert_eq!(serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0), 1024);
                assert!(seen.insert(e["id"].as_str().unwrap_or_default().to_owned()));
            }
        }
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn tiny_sizes_fall_back_to_the_fixed_part_and_huge_bodies_are_refused() {
        let p = build(Mode::Structured, 1, 1);
        assert!(p.body_len() > 1 && p.body_len() < 256);
        assert!(Payload::build(Mode::Batch, 64 << 20, 100, "s").is_err());
    }
}
