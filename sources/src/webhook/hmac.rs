//! The generic `hmac` kind: any sender that signs its body (or the body with a timestamp) with an
//! HMAC in a header. Most webhook senders without a dedicated kind fit it (Twilio excepted: it
//! signs the URL). Because the sender is unknown, every part of the scheme and of the mapping is
//! an option.
//!
//! | option | meaning | default |
//! | --- | --- | --- |
//! | `header` | the signature header (required) | — |
//! | `algorithm` | `sha1`, `sha256` or `sha512` | `sha256` |
//! | `encoding` | `hex` or `base64` | `hex` |
//! | `prefix` | text before the signature in the header, such as `sha256=` | none |
//! | `timestamp_header` | a header with the Unix time in seconds, checked against `tolerance` | none |
//! | `signed_payload` | what is signed: a template of `{body}` (exactly once), `{timestamp}`, `{id}` and literal text | `{timestamp}.{body}` with a `timestamp_header`, else `{body}` |
//! | `tolerance` | seconds or a duration; only with `timestamp_header` | 300 s (at most 1 h) |
//! | `id_header` | a header with the sender's delivery id | none |
//! | `type` | the `type` attribute | `com.railyard.webhook` |
//! | `type_pointer` | a JSON pointer into a JSON payload whose string, when there is one, is the type instead | none |
//! | `source` | the `source` attribute (a URI-reference) | `/webhooks/<source name>` |
//!
//! With a `timestamp_header`, `signed_payload` must contain `{timestamp}`: an unsigned timestamp
//! could be replaced by an attacker replaying an old delivery, so it would protect nothing.
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | the `id_header`'s value; without one, the hex SHA-256 of the signed bytes, so that a byte-identical retry has the same id and is deduplicated (a retry the sender re-signs with a new timestamp is not: configure `id_header` when the sender has an id) |
//! | `type` | the string at `type_pointer`, else `type` |
//! | `source` | `source`, else `/webhooks/<source name>` |
//! | `subject` | absent |
//! | `time` | the `timestamp_header`'s time, else absent |
//! | `datacontenttype` | the request's Content-Type (`application/json` for a JSON body without one; `application/octet-stream` for another body without one) |
//! | `data` | the body: JSON as is when the Content-Type is JSON, text for a textual type, bytes otherwise; absent when empty |

use http::HeaderName;
use serde_json::Value;

use super::spec::{Opts, pointer};
use super::verify::{self, Algorithm, Encoding, VerifyError};
use super::{
    MapError, Outcome, Request, SpecError, WebhookError, body_data, header_text, unix_time,
    verify_header,
};
use bus::event::{Data, Event};

/// One piece of the signed payload template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Id,
    Timestamp,
    Body,
}

/// The options of an `hmac` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    header: HeaderName,
    algorithm: Algorithm,
    encoding: Encoding,
    prefix: String,
    timestamp_header: Option<HeaderName>,
    template: Vec<Part>,
    tolerance: i64,
    id_header: Option<HeaderName>,
    ty: String,
    type_pointer: Option<String>,
    source: Option<String>,
}

fn template(text: &str, at: &str) -> Result<Vec<Part>, SpecError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let found = [
            ("{body}", Part::Body),
            ("{timestamp}", Part::Timestamp),
            ("{id}", Part::Id),
        ]
        .into_iter()
        .find(|(p, _)| rest.starts_with(p));
        match found {
            Some((p, part)) => {
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(part);
                rest = &rest[p.len()..];
            }
            None => {
                let mut chars = rest.chars();
                if let Some(c) = chars.next() {
                    literal.push(c);
                }
                rest = chars.as_str();
            }
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    if parts.iter().filter(|p| **p == Part::Body).count() != 1 {
        return Err(SpecError::new(
            at,
            format!("{text:?} must contain {{body}} exactly once"),
        ));
    }
    Ok(parts)
}

impl Options {
    pub(super) fn parse(opts: &mut Opts) -> Result<Options, SpecError> {
        let header = opts.header("header")?.ok_or_else(|| {
            SpecError::new("/header", "is required: the header with the signature")
        })?;
        let algorithm = match opts.choice("algorithm", &["sha1", "sha256", "sha512"], "sha256")? {
            "sha1" => Algorithm::Sha1,
            "sha512" => Algorithm::Sha512,
            _ => Algorithm::Sha256,
        };
        let encoding = match opts.choice("encoding", &["hex", "base64"], "hex")? {
            "base64" => Encoding::Base64,
            _ => Encoding::Hex,
        };
        let prefix = opts.string("prefix")?.unwrap_or_default();
        let timestamp_header = opts.header("timestamp_header")?;
        let id_header = opts.header("id_header")?;
        if timestamp_header.is_none() && opts.has("tolerance") {
            return Err(SpecError::new(
                "/tolerance",
                "only applies with a timestamp_header",
            ));
        }
        let tolerance = opts.tolerance()?;
        let at = pointer("signed_payload");
        let template = match opts.non_empty("signed_payload")? {
            Some(t) => template(&t, &at)?,
            None if timestamp_header.is_some() => {
                vec![Part::Timestamp, Part::Text(".".into()), Part::Body]
            }
            None => vec![Part::Body],
        };
        let has = |p: Part| template.contains(&p);
        if timestamp_header.is_some() && !has(Part::Timestamp) {
            return Err(SpecError::new(
                &at,
                "must contain {timestamp} when there is a timestamp_header: an unsigned timestamp \
                 protects against no replay",
            ));
        }
        if timestamp_header.is_none() && has(Part::Timestamp) {
            return Err(SpecError::new(
                &at,
                "uses {timestamp}, which needs a timestamp_header",
            ));
        }
        if id_header.is_none() && has(Part::Id) {
            return Err(SpecError::new(&at, "uses {id}, which needs an id_header"));
        }
        let ty = opts
            .non_empty("type")?
            .unwrap_or_else(|| "com.railyard.webhook".to_owned());
        let type_pointer = opts.string("type_pointer")?;
        if let Some(p) = &type_pointer
            && !p.starts_with('/')
        {
            return Err(SpecError::new(
                "/type_pointer",
                format!("{p:?} is not a JSON pointer (it starts with /, as in /event/type)"),
            ));
        }
        let source = opts.source("source")?;
        Ok(Options {
            header,
            algorithm,
            encoding,
            prefix,
            timestamp_header,
            template,
            tolerance,
            id_header,
            ty,
            type_pointer,
            source,
        })
    }

    /// Verifies the configured signature (and timestamp), then maps.
    pub(super) fn receive(&self, key: &[u8], req: &Request<'_>) -> Result<Outcome, WebhookError> {
        let ts = match &self.timestamp_header {
            Some(h) => {
                let text = verify_header(req, h.as_str())?
                    .ok_or_else(|| VerifyError::Missing(h.as_str().to_owned().into()))?
                    .trim();
                Some((text, verify::timestamp(text, h.as_str())?))
            }
            None => None,
        };
        // A signed id is part of verification; an unsigned one is read after it.
        let signed_id = match &self.id_header {
            Some(h) if self.template.contains(&Part::Id) => Some(
                verify_header(req, h.as_str())?
                    .ok_or_else(|| VerifyError::Missing(h.as_str().to_owned().into()))?,
            ),
            _ => None,
        };
        let signed: Vec<&[u8]> = self
            .template
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_bytes(),
                Part::Id => signed_id.unwrap_or_default().as_bytes(),
                Part::Timestamp => ts.map(|(t, _)| t).unwrap_or_default().as_bytes(),
                Part::Body => &req.body[..],
            })
            .collect();
        verify::generic(
            self.algorithm,
            self.encoding,
            &self.prefix,
            key,
            &signed,
            self.header.as_str(),
            verify_header(req, self.header.as_str())?,
        )?;
        if let Some((_, t)) = ts {
            verify::fresh(t, req.now, self.tolerance)?;
        }
        let id = match (&self.id_header, signed_id) {
            (_, Some(id)) => Some(id),
            (Some(h), None) => {
                header_text(req.headers, h.as_str()).map_err(|reason| MapError::Header {
                    header: h.as_str().to_owned().into(),
                    reason,
                })?
            }
            (None, None) => None,
        };
        Ok(self.map(req, id, ts.map(|(_, t)| t), &signed)?)
    }

    fn map(
        &self,
        req: &Request<'_>,
        id: Option<&str>,
        ts: Option<i64>,
        signed: &[&[u8]],
    ) -> Result<Outcome, MapError> {
        let id = match (id.filter(|i| !i.is_empty()), &self.id_header) {
            (Some(id), _) => id.to_owned(),
            (None, Some(h)) => return Err(MapError::Missing(h.as_str().to_owned().into())),
            (None, None) => {
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                for p in signed {
                    ctx.update(p);
                }
                ctx.finish()
                    .as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }
        };
        let (content_type, data) = body_data(req)?;
        let ty = match (&self.type_pointer, &data) {
            (Some(p), Some(Data::Json(json))) => serde_json::from_slice::<Value>(json.as_bytes())
                .ok()
                .and_then(|v| v.pointer(p).and_then(Value::as_str).map(str::to_owned))
                .filter(|t| !t.is_empty()),
            _ => None,
        }
        .unwrap_or_else(|| self.ty.clone());
        let source = match &self.source {
            Some(s) => s.clone(),
            None => format!("/webhooks/{}", req.source),
        };
        let mut ev = Event::new(id, source, ty);
        ev.time = ts.and_then(unix_time);
        ev.datacontenttype = content_type;
        ev.data = data;
        Ok(Outcome::Events(vec![ev]))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testutil::*;
    use super::*;

    const SECRET: &str = "generic-secret";
    const BODY: &[u8] = br#"{"event":{"type":"order.shipped"},"order":42}"#;

    #[test]
    fn body_only_hex_with_prefix() {
        let p = provider("hmac", r#"{"header":"X-Signature","prefix":"sha256="}"#);
        let mut d = Delivery::new(BODY);
        d.header(
            "X-Signature",
            &format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), &[BODY])),
        )
        .header("Content-Type", "application/json");
        let ev = one_event(&p, SECRET, &d);
        assert_eq!(ev.ty, "com.railyard.webhook");
        assert_eq!(ev.source, "/webhooks/my-hook");
        assert_eq!(ev.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(data_bytes(&ev), BODY);
        assert_eq!(ev.time, None);
        // The id is the SHA-256 of the signed bytes: the same for an identical retry.
        let digest = ring::digest::digest(&ring::digest::SHA256, BODY);
        assert_eq!(ev.id, hex(digest.as_ref()));
        assert_eq!(one_event(&p, SECRET, &d).id, ev.id);
        // Refusals.
        assert_status(&p, "other", &d, 401);
        let mut no_prefix = Delivery::new(BODY);
        no_prefix.header("X-Signature", &hmac_sha256_hex(SECRET.as_bytes(), &[BODY]));
        assert_verify(
            &p,
            SECRET,
            &no_prefix,
            |e| matches!(e, VerifyError::Malformed { header, .. } if header == "x-signature"),
        );
        d.remove("X-Signature");
        assert_verify(
            &p,
            SECRET,
            &d,
            |e| matches!(e, VerifyError::Missing(h) if h == "x-signature"),
        );
    }

    #[test]
    fn every_algorithm_and_encoding() {
        for (alg, ring_alg) in [
            ("sha1", ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            ("sha256", ring::hmac::HMAC_SHA256),
            ("sha512", ring::hmac::HMAC_SHA512),
        ] {
            for enc in ["hex", "base64"] {
                let p = provider(
                    "hmac",
                    &format!(r#"{{"header":"X-Sig","algorithm":"{alg}","encoding":"{enc}"}}"#),
                );
                let sig = match enc {
                    "hex" => hmac_hex(ring_alg, SECRET.as_bytes(), &[BODY]),
                    _ => hmac_b64(ring_alg, SECRET.as_bytes(), &[BODY]),
                };
                let mut d = Delivery::new(BODY);
                d.header("X-Sig", &sig);
                one_event(&p, SECRET, &d);
                assert_status(&p, "other", &d, 401);
            }
        }
    }

    #[test]
    fn timestamp_id_and_type_pointer() {
        let p = provider(
            "hmac",
            r#"{"header":"X-Sig","encoding":"base64","timestamp_header":"X-Ts","id_header":"X-Id",
                "signed_payload":"v1:{id}:{timestamp}:{body}","type_pointer":"/event/type",
                "type":"com.acme.unknown","source":"https://acme.example","tolerance":"2m"}"#,
        );
        let ts = "1700000000";
        let sign = |id: &str, ts: &str, body: &[u8]| {
            hmac_b64(
                ring::hmac::HMAC_SHA256,
                SECRET.as_bytes(),
                &[b"v1:", id.as_bytes(), b":", ts.as_bytes(), b":", body],
            )
        };
        let mut d = Delivery::new(BODY);
        d.header("X-Sig", &sign("dlv_1", ts, BODY))
            .header("X-Ts", ts)
            .header("X-Id", "dlv_1")
            .header("Content-Type", "application/json");
        d.now = 1_700_000_100;
        let ev = one_event(&p, SECRET, &d);
        assert_eq!(ev.id, "dlv_1");
        assert_eq!(ev.ty, "order.shipped");
        assert_eq!(ev.source, "https://acme.example");
        assert_eq!(ev.time.as_deref(), Some("2023-11-14T22:13:20Z"));
        // The type falls back when the pointer finds no string.
        let other = br#"{"order":43}"#;
        let mut d2 = Delivery::new(other);
        d2.header("X-Sig", &sign("dlv_2", ts, other))
            .header("X-Ts", ts)
            .header("X-Id", "dlv_2");
        d2.now = d.now;
        assert_eq!(one_event(&p, SECRET, &d2).ty, "com.acme.unknown");
        // Stale, missing timestamp, a different id under the same signature: 401.
        let mut stale = Delivery::new(BODY);
        stale.headers = d.headers.clone();
        stale.now = 1_700_000_121;
        assert_verify(&p, SECRET, &stale, |e| {
            matches!(e, VerifyError::Stale { .. })
        });
        let mut no_ts = Delivery::new(BODY);
        no_ts.headers = d.headers.clone();
        no_ts.now = d.now;
        no_ts.remove("X-Ts");
        assert_verify(
            &p,
            SECRET,
            &no_ts,
            |e| matches!(e, VerifyError::Missing(h) if h == "x-ts"),
        );
        let mut other_id = Delivery::new(BODY);
        other_id.headers = d.headers.clone();
        other_id.now = d.now;
        other_id.header("X-Id", "dlv_3");
        assert_status(&p, SECRET, &other_id, 401);
        // A changed timestamp breaks the signature.
        let mut moved = Delivery::new(BODY);
        moved.headers = d.headers.clone();
        moved.now = d.now;
        moved.header("X-Ts", "1700000050");
        assert_status(&p, SECRET, &moved, 401);
    }

    #[test]
    fn default_timestamp_template_and_plain_text() {
        let p = provider("hmac", r#"{"header":"X-Sig","timestamp_header":"X-Ts"}"#);
        let body: &[u8] = b"hello";
        let mut d = Delivery::new(b"hello");
        d.header(
            "X-Sig",
            &hmac_sha256_hex(SECRET.as_bytes(), &[b"1700000000", b".", body]),
        )
        .header("X-Ts", "1700000000")
        .header("Content-Type", "text/plain");
        let ev = one_event(&p, SECRET, &d);
        assert_eq!(ev.datacontenttype.as_deref(), Some("text/plain"));
        assert_eq!(ev.data, Some(Data::text("hello")));
        // An id_header that is configured but absent (and not signed): 400.
        let p = provider("hmac", r#"{"header":"X-Sig","id_header":"X-Id"}"#);
        let mut d = Delivery::new(b"\x00\x01");
        d.header("X-Sig", &hmac_sha256_hex(SECRET.as_bytes(), &[b"\x00\x01"]));
        assert_map(&p, SECRET, &d, MapError::Missing("x-id".into()));
        d.header("X-Id", "7");
        let ev = one_event(&p, SECRET, &d);
        assert_eq!(
            ev.datacontenttype.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(ev.data, Some(Data::Binary(vec![0, 1])));
        // A JSON Content-Type with a body that is not JSON: 400.
        let p = provider("hmac", r#"{"header":"X-Sig"}"#);
        let mut d = Delivery::new(b"{oops");
        d.header("X-Sig", &hmac_sha256_hex(SECRET.as_bytes(), &[b"{oops"]))
            .header("Content-Type", "application/json");
        assert_status(&p, SECRET, &d, 400);
    }

    #[test]
    fn option_errors() {
        let cases = [
            (r#"{}"#, "/header"),
            (r#"{"header":""}"#, "/header"),
            (r#"{"header":"bad header"}"#, "/header"),
            (r#"{"header":"X","algorithm":"md5"}"#, "/algorithm"),
            (r#"{"header":"X","encoding":"base32"}"#, "/encoding"),
            (r#"{"header":"X","prefix":1}"#, "/prefix"),
            (r#"{"header":"X","tolerance":60}"#, "/tolerance"),
            (
                r#"{"header":"X","timestamp_header":"T","tolerance":"1d"}"#,
                "/tolerance",
            ),
            (
                r#"{"header":"X","signed_payload":"{timestamp}.{body}"}"#,
                "/signed_payload",
            ),
            (
                r#"{"header":"X","timestamp_header":"T","signed_payload":"{body}"}"#,
                "/signed_payload",
            ),
            (
                r#"{"header":"X","signed_payload":"{body}{body}"}"#,
                "/signed_payload",
            ),
            (
                r#"{"header":"X","signed_payload":"nothing"}"#,
                "/signed_payload",
            ),
            (
                r#"{"header":"X","signed_payload":"{id}.{body}"}"#,
                "/signed_payload",
            ),
            (
                r#"{"header":"X","type_pointer":"event.type"}"#,
                "/type_pointer",
            ),
            (r#"{"header":"X","source":"a b"}"#, "/source"),
            (r#"{"header":"X","type":""}"#, "/type"),
            (r#"{"header":"X","a/b~c":1}"#, "/a~1b~0c"),
        ];
        for (options, at) in cases {
            assert_eq!(spec_error("hmac", options).0, at, "{options}");
        }
        // Case-insensitive choices; the options come back as given.
        let given = r#"{"header":"X-Sig","algorithm":"SHA512","signed_payload":"{body}"}"#;
        let p = provider("hmac", given);
        assert_eq!(
            serde_json::Value::Object(p.options()),
            serde_json::from_str::<Value>(given).unwrap()
        );
    }
}
