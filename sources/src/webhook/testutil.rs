//! Test helpers shared by the providers' tests: a delivery under construction, signing, and
//! assertions on outcomes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use bus::event::{Data, Event};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::{MapError, Outcome, Provider, Request, VerifyError, WebhookError};

/// A request being built.
pub(crate) struct Delivery {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub now: i64,
}

impl Delivery {
    pub fn new(body: &'static [u8]) -> Delivery {
        Delivery {
            headers: HeaderMap::new(),
            body: Bytes::from_static(body),
            now: 1_700_000_000,
        }
    }

    pub fn header(&mut self, name: &str, value: &str) -> &mut Delivery {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    pub fn append(&mut self, name: &str, value: &str) -> &mut Delivery {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Delivery {
        self.headers.remove(name);
        self
    }

    pub fn request(&self) -> Request<'_> {
        Request {
            headers: &self.headers,
            body: &self.body,
            now: self.now,
            source: "my-hook",
        }
    }
}

/// A provider from a kind and its options as JSON text.
pub(crate) fn provider(kind: &str, options: &str) -> Provider {
    let Value::Object(map) = serde_json::from_str(options).unwrap() else {
        panic!("options are an object");
    };
    Provider::parse(kind, &map).unwrap()
}

/// The pointer of the SpecError that parsing these options gives.
pub(crate) fn spec_error(kind: &str, options: &str) -> (String, String) {
    let Value::Object(map) = serde_json::from_str(options).unwrap() else {
        panic!("options are an object");
    };
    let e = Provider::parse(kind, &map).unwrap_err();
    (e.pointer, e.reason)
}

pub(crate) fn receive_with(
    p: &Provider,
    secret: &str,
    d: &Delivery,
) -> Result<Outcome, WebhookError> {
    let key = p.key(secret).unwrap();
    p.receive(Some(&key), &d.request())
}

/// The one event a delivery becomes; it must be valid.
pub(crate) fn one_event(p: &Provider, secret: &str, d: &Delivery) -> Event {
    match receive_with(p, secret, d) {
        Ok(Outcome::Events(mut events)) => {
            assert_eq!(events.len(), 1, "one event per delivery");
            let ev = events.remove(0);
            ev.validate().unwrap();
            ev
        }
        Ok(Outcome::Reply { status, body, .. }) => {
            panic!("expected an event, got a reply {status} {body:?}")
        }
        Err(e) => panic!("expected an event, got {e} ({})", e.status()),
    }
}

pub(crate) fn assert_status(p: &Provider, secret: &str, d: &Delivery, status: u16) {
    match receive_with(p, secret, d) {
        Err(e) => assert_eq!(e.status(), status, "{e}"),
        Ok(o) => panic!("expected {status}, got {o:?}"),
    }
}

pub(crate) fn assert_verify(
    p: &Provider,
    secret: &str,
    d: &Delivery,
    expected: impl Fn(&VerifyError) -> bool,
) {
    match receive_with(p, secret, d) {
        Err(WebhookError::Verify(e)) => assert!(expected(&e), "unexpected {e:?}"),
        other => panic!("expected a verification error, got {other:?}"),
    }
}

pub(crate) fn assert_map(p: &Provider, secret: &str, d: &Delivery, expected: MapError) {
    match receive_with(p, secret, d) {
        Err(WebhookError::Map(e)) => assert_eq!(e, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// The bytes of a JSON `data`.
pub(crate) fn data_bytes(ev: &Event) -> Vec<u8> {
    match ev.data.as_ref().unwrap() {
        Data::Json(j) => j.as_bytes().to_vec(),
        Data::Binary(b) => b.clone(),
    }
}

fn mac(alg: ring::hmac::Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let k = ring::hmac::Key::new(alg, key);
    let mut c = ring::hmac::Context::with_key(&k);
    for p in parts {
        c.update(p);
    }
    c.sign().as_ref().to_vec()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn hmac_sha256_hex(key: &[u8], parts: &[&[u8]]) -> String {
    hex(&mac(ring::hmac::HMAC_SHA256, key, parts))
}

pub(crate) fn hmac_b64(alg: ring::hmac::Algorithm, key: &[u8], parts: &[&[u8]]) -> String {
    b64(&mac(alg, key, parts))
}

pub(crate) fn hmac_hex(alg: ring::hmac::Algorithm, key: &[u8], parts: &[&[u8]]) -> String {
    hex(&mac(alg, key, parts))
}
