//! The members of an `amqp` target (RabbitMQ, AMQP 0-9-1): `url`, `exchange`, `routing_key`,
//! `persistent`, `mandatory`.
//!
//! - `url`: `amqp://user:pass@host:port/vhost` or `amqps://…` (RabbitMQ's URI spec: the vhost is
//!   the percent-decoded path, `/%2f` for `/`, which is also what no path means; user and
//!   password default to guest/guest; `?heartbeat=`, `?connection_timeout=`, `?frame_max=`,
//!   `?channel_max=` and `?auth_mechanism=` are honoured).
//! - `exchange`: required; `""` is the default exchange (the routing key is then a queue name).
//!   Railyard never declares it: the exchange and its bindings are the broker owner's topology.
//! - `routing_key`: required; a literal or a template of event attributes (`orders.{type}`).
//!   At most 255 bytes once filled in (an AMQP short string); an event whose key is longer is
//!   dead-lettered.
//! - `persistent` (default `true`): delivery mode 2, so a durable queue keeps the message across a
//!   broker restart; with publisher confirms the broker acknowledges it only once it is stored.
//! - `mandatory` (default `true`): a message no queue is bound for comes back instead of being
//!   dropped, and the attempt is retried (a binding may be added). Set it to `false` for a topic
//!   exchange where keys nobody listens to are normal.

use serde_json::Value;

use lapin::uri::{AMQPScheme, AMQPUri};

use super::SpecError;
use super::nats::redact;
use super::read::{Obj, kind_of};
use super::template::Template;

/// The longest exchange name or routing key (an AMQP short string).
pub const MAX_SHORT: usize = 255;

/// An exchange of an AMQP 0-9-1 broker.
#[derive(Clone, PartialEq)]
pub struct AmqpSpec {
    /// As written.
    pub url: String,
    /// Parsed, for the client.
    pub uri: AMQPUri,
    /// The exchange (`""`: the default exchange).
    pub exchange: String,
    /// The routing key of each event.
    pub routing_key: Template,
    /// Delivery mode 2 (persistent) rather than 1.
    pub persistent: bool,
    /// Unroutable messages come back (and are retried) rather than being dropped.
    pub mandatory: bool,
}

impl std::fmt::Debug for AmqpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpSpec")
            .field("url", &redact(&self.url))
            .field("exchange", &self.exchange)
            .field("routing_key", &self.routing_key.as_str())
            .field("persistent", &self.persistent)
            .field("mandatory", &self.mandatory)
            .finish()
    }
}

/// Parses and checks an AMQP URI.
pub fn parse_uri(text: &str) -> Result<AMQPUri, String> {
    let shown = redact(text);
    let url = reqwest::Url::parse(text).map_err(|e| format!("{shown:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "amqp" | "amqps") {
        return Err(format!(
            "the scheme is {:?}; amqp or amqps was expected",
            url.scheme()
        ));
    }
    let host = match url.host_str() {
        Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
        _ => return Err(format!("{shown:?} has no host")),
    };
    let mut uri: AMQPUri = text
        .parse()
        .map_err(|e| format!("{shown:?} is not an AMQP URI ({e})"))?;
    // amq-protocol-uri reads the host with `Url::domain`, which is `None` for an IP address (it
    // would then connect to "localhost"): take it from the URL.
    uri.authority.host = host;
    debug_assert!(matches!(uri.scheme, AMQPScheme::AMQP | AMQPScheme::AMQPS));
    Ok(uri)
}

fn bool_member(obj: &mut Obj, name: &str, default: bool) -> Result<bool, SpecError> {
    match obj.take(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(b),
        Some(other) => Err(SpecError::new(
            obj.ptr(name),
            format!("is {}; true or false was expected", kind_of(&other)),
        )),
    }
}

pub(super) fn parse(obj: &mut Obj) -> Result<AmqpSpec, SpecError> {
    let url = obj.required_str("url")?;
    let uri = parse_uri(&url).map_err(|r| SpecError::new(obj.ptr("url"), r))?;
    let exchange = obj.required_str("exchange")?;
    if exchange.len() > MAX_SHORT {
        return Err(SpecError::new(
            obj.ptr("exchange"),
            format!(
                "is {} bytes long; an exchange name has at most {MAX_SHORT}",
                exchange.len()
            ),
        ));
    }
    if exchange.chars().any(char::is_control) {
        return Err(SpecError::new(
            obj.ptr("exchange"),
            "contains a control character",
        ));
    }
    let key_text = obj.required_str("routing_key")?;
    let routing_key = Template::parse(&key_text)
        .and_then(|t| {
            if t.is_static() && key_text.len() > MAX_SHORT {
                Err(format!(
                    "is {} bytes long; a routing key has at most {MAX_SHORT}",
                    key_text.len()
                ))
            } else {
                Ok(t)
            }
        })
        .map_err(|r| SpecError::new(obj.ptr("routing_key"), r))?;
    let persistent = bool_member(obj, "persistent", true)?;
    let mandatory = bool_member(obj, "mandatory", true)?;
    Ok(AmqpSpec {
        url,
        uri,
        exchange,
        routing_key,
        persistent,
        mandatory,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn run(v: Value) -> Result<AmqpSpec, SpecError> {
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
        let s = run(json!({"url": "amqp://u:s%40cret@127.0.0.1:5673/%2f?heartbeat=10", "exchange": "", "routing_key": "q"}))
            .unwrap();
        assert_eq!(s.uri.authority.host, "127.0.0.1");
        assert_eq!(s.uri.authority.port, 5673);
        assert_eq!(s.uri.authority.userinfo.password, "s@cret");
        assert_eq!(s.uri.vhost, "/");
        assert_eq!(s.uri.query.heartbeat, Some(10));
        assert!(s.persistent && s.mandatory);
        assert!(!format!("{s:?}").contains("cret"), "{s:?}");
        let s = run(json!({"url": "amqps://rabbit.example/prod", "exchange": "events", "routing_key": "orders.{type}", "persistent": false, "mandatory": false}))
            .unwrap();
        assert_eq!(s.uri.authority.host, "rabbit.example");
        assert_eq!(s.uri.authority.port, 5671);
        assert_eq!(s.uri.vhost, "prod");
        assert!(!s.persistent && !s.mandatory);
    }

    #[test]
    fn refuses() {
        let ok = || json!({"url": "amqp://h", "exchange": "x", "routing_key": "k"});
        let with = |k: &str, v: Value| {
            let mut o = ok();
            o[k] = v;
            o
        };
        assert!(
            err(json!({"exchange": "x", "routing_key": "k"}))
                .starts_with("/targets/0/url: is required")
        );
        assert!(err(with("url", json!("http://h"))).starts_with("/targets/0/url: "));
        assert!(err(with("url", json!("amqp:///vhost"))).starts_with("/targets/0/url: "));
        assert!(err(with("url", json!("amqp://h?heartbeat=x"))).starts_with("/targets/0/url: "));
        assert!(
            err(json!({"url": "amqp://h", "routing_key": "k"}))
                .starts_with("/targets/0/exchange: is required")
        );
        assert!(err(with("exchange", json!("x".repeat(256)))).starts_with("/targets/0/exchange: "));
        assert!(
            err(with("routing_key", json!("k".repeat(256))))
                .starts_with("/targets/0/routing_key: ")
        );
        assert!(err(with("routing_key", json!("a.{type"))).starts_with("/targets/0/routing_key: "));
        assert!(err(with("persistent", json!(1))).starts_with("/targets/0/persistent: "));
        assert!(err(with("queue", json!("q"))).starts_with("/targets/0/queue: is not a member"));
    }
}
