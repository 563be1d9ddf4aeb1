//! The members of a `nats` target: `url`, `subject`, `jetstream`.
//!
//! - `url`: `nats://host:port` (or `tls://`), or a list of them (the servers of one cluster,
//!   tried in turn); credentials may be in the URL (`nats://user:pass@host`, `nats://token@host`).
//!   The port defaults to 4222. WebSocket URLs are refused (the client is built without them).
//! - `subject`: required; a literal subject or a template naming event attributes
//!   (`orders.{type}`, see [`super::Template`]). A value with dots adds tokens
//!   (`orders.com.example.created`), which is what NATS hierarchies want. Wildcards, whitespace
//!   and empty tokens are refused when the target is saved, and again after the template is
//!   filled in (such an event is dead-lettered: its subject can never be published to).
//! - `jetstream`: `false` (default) publishes with core NATS; `true` publishes to JetStream and
//!   waits for the stream's acknowledgement.
//!
//! The per-attempt `timeout` is the delivery member every kind has.

use serde_json::Value;

use super::SpecError;
use super::read::{Obj, kind_of};
use super::template::Template;

/// How many servers one target may list.
pub const MAX_URLS: usize = 16;

/// A NATS subject (or a JetStream stream's subject).
#[derive(Clone, PartialEq)]
pub struct NatsSpec {
    /// The servers, as written (checked).
    pub urls: Vec<String>,
    /// Where each event goes.
    pub subject: Template,
    /// Publish to JetStream and wait for its acknowledgement.
    pub jetstream: bool,
}

impl std::fmt::Debug for NatsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSpec")
            .field(
                "urls",
                &self.urls.iter().map(|u| redact(u)).collect::<Vec<_>>(),
            )
            .field("subject", &self.subject.as_str())
            .field("jetstream", &self.jetstream)
            .finish()
    }
}

/// A URL without its credentials, for logs and error messages.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                return u.as_str().replacen("://", "://***@", 1);
            }
            u.as_str().to_owned()
        }
        Err(_) => "(a URL that does not parse)".to_owned(),
    }
}

/// Why `subject` cannot be published to, if it cannot.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("the subject is empty".into());
    }
    if let Some(c) = subject
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("the subject {subject:?} contains {c:?}"));
    }
    for token in subject.split('.') {
        match token {
            "" => {
                return Err(format!(
                    "the subject {subject:?} has an empty token (a leading, trailing or double dot)"
                ));
            }
            "*" | ">" => {
                return Err(format!(
                    "the subject {subject:?} has the wildcard {token:?}; one publishes to a concrete subject"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_url(text: &str) -> Result<(), String> {
    let addr: async_nats::ServerAddr = text
        .parse()
        .map_err(|e| format!("{:?} is not a NATS server URL ({e})", redact(text)))?;
    match addr.scheme() {
        "nats" | "tls" => Ok(()),
        other => Err(format!(
            "the scheme is {other:?}; nats:// or tls:// was expected"
        )),
    }
}

pub(super) fn parse(obj: &mut Obj) -> Result<NatsSpec, SpecError> {
    let at = obj.ptr("url");
    let urls = match obj.take("url") {
        None | Some(Value::Null) => return Err(SpecError::new(&at, "is required")),
        Some(Value::String(s)) => {
            check_url(&s).map_err(|r| SpecError::new(&at, r))?;
            vec![s]
        }
        Some(Value::Array(items)) => {
            if items.is_empty() || items.len() > MAX_URLS {
                return Err(SpecError::new(
                    &at,
                    format!(
                        "lists {} servers; a target lists 1 to {MAX_URLS}",
                        items.len()
                    ),
                ));
            }
            let mut urls = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let at = format!("{at}/{i}");
                let Value::String(s) = item else {
                    return Err(SpecError::new(
                        &at,
                        format!("is {}; a string was expected", kind_of(&item)),
                    ));
                };
                check_url(&s).map_err(|r| SpecError::new(&at, r))?;
                urls.push(s);
            }
            urls
        }
        Some(other) => {
            return Err(SpecError::new(
                &at,
                format!(
                    "is {}; a URL or a list of URLs was expected",
                    kind_of(&other)
                ),
            ));
        }
    };
    let subject_text = obj.required_str("subject")?;
    let subject = Template::parse(&subject_text)
        .and_then(|t| check_subject(&t.sample()).map(|()| t))
        .map_err(|r| SpecError::new(obj.ptr("subject"), r))?;
    let jetstream = match obj.take("jetstream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(SpecError::new(
                obj.ptr("jetstream"),
                format!("is {}; true or false was expected", kind_of(&other)),
            ));
        }
    };
    Ok(NatsSpec {
        urls,
        subject,
        jetstream,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn run(v: Value) -> Result<NatsSpec, SpecError> {
        let mut obj = Obj::new(&v, "/targets/0")?;
        let spec = parse(&mut obj)?;
        obj.finish()?;
        Ok(spec)
    }

    fn err(v: Value) -> String {
        let e = run(v).unwrap_err();
        format!("{}: {}", e.pointer, e.reason)
    }

    #[test]
    fn parses() {
        let s = run(json!({"url": "nats://127.0.0.1:4222", "subject": "orders.{type}"})).unwrap();
        assert_eq!(s.urls, ["nats://127.0.0.1:4222"]);
        assert_eq!(s.subject.as_str(), "orders.{type}");
        assert!(!s.jetstream);
        let s =
            run(json!({"url": ["nats://a:1", "tls://u:p@b:2"], "subject": "x", "jetstream": true}))
                .unwrap();
        assert_eq!(s.urls.len(), 2);
        assert!(s.jetstream);
        assert!(!format!("{s:?}").contains("u:p"), "{s:?}");
    }

    #[test]
    fn refuses() {
        assert!(err(json!({"subject": "x"})).starts_with("/targets/0/url: is required"));
        assert!(err(json!({"url": "http://h:1", "subject": "x"})).starts_with("/targets/0/url: "));
        assert!(err(json!({"url": "ws://h:1", "subject": "x"})).starts_with("/targets/0/url: "));
        assert!(err(json!({"url": [], "subject": "x"})).starts_with("/targets/0/url: "));
        assert!(
            err(json!({"url": ["nats://h:1", 5], "subject": "x"}))
                .starts_with("/targets/0/url/1: ")
        );
        assert!(err(json!({"url": "nats://h:1"})).starts_with("/targets/0/subject: is required"));
        for bad in ["a.*", "a.>", "a..b", ".a", "a b", "a.{type", "{Type}"] {
            assert!(
                err(json!({"url": "nats://h:1", "subject": bad}))
                    .starts_with("/targets/0/subject: "),
                "{bad}"
            );
        }
        assert!(
            err(json!({"url": "nats://h:1", "subject": "a", "jetstream": "yes"}))
                .starts_with("/targets/0/jetstream: ")
        );
        assert!(
            err(json!({"url": "nats://h:1", "subject": "a", "stream": "S"}))
                .starts_with("/targets/0/stream: is not a member")
        );
    }

    #[test]
    fn subjects() {
        assert!(check_subject("orders.com.example.created").is_ok());
        assert!(check_subject("a.b*").is_ok());
        assert!(check_subject("").is_err());
        assert!(check_subject("a.\tb").is_err());
    }

    #[test]
    fn redacts() {
        assert_eq!(redact("nats://u:secret@h:4222"), "nats://***@h:4222");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
        assert!(!redact("nats://token@h:4222").contains("token"));
    }
}
