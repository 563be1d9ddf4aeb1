//! The `amqp` target kind: each event published to an exchange of an AMQP 0-9-1 broker
//! (RabbitMQ), with publisher confirms, in the binary content mode of the CloudEvents AMQP
//! protocol binding.
//!
//! **The message.** The binding (AMQP binding 1.0.3, written for AMQP 1.0) puts the data in the
//! body, `datacontenttype` in the `content-type` property (§3.1.1) and every other attribute in
//! the application properties, named with the prefix `cloudEvents_` or `cloudEvents:`, `_`
//! preferred (§3.1.3.1, for JMS selectors). AMQP 0-9-1 has no application properties; its
//! `headers` table is where RabbitMQ's AMQP 1.0 plugin maps them and where 0-9-1 clients read
//! them, so attributes go there as `cloudEvents_<name>` (the prefix of the CloudEvents Java SDK's
//! Spring AMQP/RabbitMQ module). Values use native types where the binding says so (§3.1.3.2):
//! strings as long strings, booleans as booleans, integers as 64-bit integers; `time` stays a
//! string (its canonical form, which the binding allows; a 0-9-1 timestamp has only seconds).
//! Also: `message_id` = the event id and `app_id` = `railyard`, for tools that show those; and
//! delivery mode 2 unless the target says `"persistent": false`.
//!
//! **When an attempt counts as delivered:** when the broker confirmed the message (the channel is
//! in confirm mode): for a persistent message routed to a durable queue, once it is written.
//! A `nack`, a message returned as unroutable (`mandatory`, the default), a closed channel (the
//! exchange does not exist: 404), a lost connection, refused credentials, or no confirm within
//! the timeout: retried. An operator can fix each of those (declare the exchange, bind a queue,
//! grant the permission), the retry policy bounds the wait and the dead letter keeps the event.
//! Fatal only: an event that is not a CloudEvent, a routing key template the event cannot fill
//! or that comes out longer than 255 bytes.
//!
//! **Connections:** one connection and one confirm-mode channel per target, made at the first
//! attempt and shared by every attempt in flight (confirms are matched by delivery tag). A
//! channel the broker closed is replaced on the same connection; a lost connection is made again
//! at the next attempt. No automatic recovery inside lapin: the engine's retries already pace
//! reconnection, and a fresh channel makes it plain which confirms can still come.

use std::time::Duration;

use bytes::Bytes;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};

use crate::binding::{self, Attr, Parts};
use crate::http::Outcome;
use crate::spec::{AmqpSpec, redact};

/// The prefix of attribute headers (AMQP binding §3.1.3.1, `_` separator).
pub const HEADER_PREFIX: &str = "cloudEvents_";

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Will never succeed: dead-letter.
    #[error("{0}")]
    Fatal(String),
    /// May succeed later.
    #[error("{0}")]
    Retry(String),
}

impl From<Failure> for Outcome {
    fn from(f: Failure) -> Outcome {
        match f {
            Failure::Fatal(error) => Outcome::Fatal {
                status: None,
                error,
            },
            Failure::Retry(error) => Outcome::Retry {
                status: None,
                error,
                retry_after: None,
            },
        }
    }
}

#[derive(Default)]
struct State {
    connection: Option<Connection>,
    channel: Option<Channel>,
}

/// Publishes a target's events to an AMQP 0-9-1 exchange.
pub struct AmqpPublisher {
    spec: AmqpSpec,
    exchange: ShortString,
    shown: String,
    channel: std::sync::Mutex<Option<Channel>>,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for AmqpPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpPublisher")
            .field("spec", &self.spec)
            .finish()
    }
}

/// The message for one event: routing key, properties, body.
#[derive(Debug)]
pub struct Message {
    /// Filled in from the target's template.
    pub routing_key: ShortString,
    /// `content_type`, `message_id`, `app_id`, `delivery_mode`, and the attributes as headers.
    pub properties: BasicProperties,
    /// The event's data.
    pub body: Bytes,
}

fn short(s: &str) -> Option<ShortString> {
    ShortString::try_new(s).ok()
}

fn value(attr: &Attr<'_>) -> AMQPValue {
    match attr {
        Attr::Str(s) => AMQPValue::LongString(LongString::from(s.as_bytes())),
        Attr::Bool(b) => AMQPValue::Boolean(*b),
        Attr::Int(i) => AMQPValue::LongLongInt(*i),
        Attr::Other(raw) => AMQPValue::LongString(LongString::from(raw.as_bytes())),
    }
}

/// Builds the binary-mode message of `parts` for `spec`; errors are fatal.
pub fn message(spec: &AmqpSpec, parts: &Parts<'_>) -> Result<Message, String> {
    let key = spec.routing_key.render(|n| parts.text(n))?;
    let routing_key = ShortString::try_new(key.as_ref()).map_err(|_| {
        format!(
            "the routing key from {:?} is {} bytes long; AMQP allows 255",
            spec.routing_key.as_str(),
            key.len()
        )
    })?;
    let mut headers = FieldTable::default();
    let mut name = String::with_capacity(32);
    for (attr, v) in &parts.attributes {
        name.clear();
        name.push_str(HEADER_PREFIX);
        name.push_str(attr);
        let n = short(&name).ok_or_else(|| format!("the attribute name {attr:?} is too long"))?;
        headers.insert(n, value(v));
    }
    let mut properties = BasicProperties::default()
        .with_app_id(ShortString::from("railyard"))
        .with_delivery_mode(if spec.persistent { 2 } else { 1 });
    if let Some(ct) = &parts.content_type {
        match short(ct) {
            Some(ct) => properties = properties.with_content_type(ct),
            // Longer than a short string: keep it as an attribute header rather than lose it.
            None => {
                headers.insert(
                    ShortString::from("cloudEvents_datacontenttype"),
                    AMQPValue::LongString(LongString::from(ct.as_bytes())),
                );
            }
        }
    }
    if let Some(id) = parts.id().and_then(short) {
        properties = properties.with_message_id(id);
    }
    Ok(Message {
        routing_key,
        properties: properties.with_headers(headers),
        body: parts.data.clone(),
    })
}

impl AmqpPublisher {
    /// A publisher for `spec`; no connection is made until the first attempt.
    pub fn new(spec: AmqpSpec) -> AmqpPublisher {
        let shown = redact(&spec.url);
        // Checked when the spec was parsed (at most 255 bytes).
        let exchange = ShortString::try_new(spec.exchange.as_str()).unwrap_or_default();
        AmqpPublisher {
            spec,
            exchange,
            shown,
            channel: std::sync::Mutex::new(None),
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    /// Publishes one event (its structured JSON, as stored or as transformed) and waits for the
    /// broker's confirm; never takes longer than `timeout`.
    pub async fn publish(&self, event: &Bytes, timeout: Duration) -> Outcome {
        let msg = match binding::parts(event).and_then(|p| message(&self.spec, &p)) {
            Ok(m) => m,
            Err(e) => return Failure::Fatal(e).into(),
        };
        match tokio::time::timeout(timeout, self.send(msg)).await {
            Ok(Ok(())) => Outcome::Delivered {
                status: None,
                detail: Some("confirmed by the broker".into()),
            },
            Ok(Err(f)) => f.into(),
            Err(_) => Failure::Retry(format!(
                "no confirm from the AMQP broker ({}) within the timeout ({})",
                self.shown,
                humantime::format_duration(timeout)
            ))
            .into(),
        }
    }

    async fn send(&self, msg: Message) -> Result<(), Failure> {
        let channel = self.channel().await?;
        let options = BasicPublishOptions {
            mandatory: self.spec.mandatory,
            ..BasicPublishOptions::default()
        };
        let confirm = channel
            .basic_publish(
                self.exchange.clone(),
                msg.routing_key.clone(),
                options,
                &msg.body,
                msg.properties,
            )
            .await
            .map_err(|e| self.lost(&channel, "publish", &e))?;
        let confirmation = confirm
            .await
            .map_err(|e| self.lost(&channel, "confirm", &e))?;
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(Failure::Retry(format!(
                "the broker ({}) returned the message: {} {} (no queue is bound to exchange {:?} for routing key {:?})",
                self.shown,
                returned.reply_code,
                returned.reply_text,
                self.spec.exchange,
                msg.routing_key.as_str()
            ))),
            Confirmation::Nack(_) => Err(Failure::Retry(format!(
                "the broker ({}) refused the message (nack)",
                self.shown
            ))),
            Confirmation::NotRequested => Err(Failure::Retry(
                "the channel was not in confirm mode".to_owned(),
            )),
        }
    }

    /// A failure of the channel or the connection: forget the channel if it is closed (the next
    /// attempt makes another) and say what happened.
    fn lost(&self, channel: &Channel, what: &str, e: &lapin::Error) -> Failure {
        if !channel.status().connected()
            && let Ok(mut slot) = self.channel.lock()
            && slot.as_ref().is_some_and(|c| c.id() == channel.id())
        {
            *slot = None;
        }
        Failure::Retry(format!(
            "AMQP {what} to exchange {:?} on {} failed: {}",
            self.spec.exchange,
            self.shown,
            crate::http::error_text(e)
        ))
    }

    /// The shared confirm-mode channel, made (with its connection, if that is gone) when needed.
    async fn channel(&self) -> Result<Channel, Failure> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let mut state = self.state.lock().await;
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let connected = state
            .connection
            .as_ref()
            .is_some_and(|c| c.status().connected());
        if !connected {
            // A broken connection is dropped (lapin closes what is left of it on drop).
            state.channel = None;
            state.connection = None;
            let props =
                ConnectionProperties::default().with_connection_name(LongString::from("railyard"));
            let conn = Connection::connect_uri(self.spec.uri.clone(), props)
                .await
                .map_err(|e| {
                    Failure::Retry(format!(
                        "cannot connect to the AMQP broker ({}): {}",
                        self.shown,
                        crate::http::error_text(&e)
                    ))
                })?;
            tracing::info!(amqp = %self.shown, "connected to the AMQP broker");
            state.connection = Some(conn);
        }
        let Some(conn) = state.connection.as_ref() else {
            return Err(Failure::Retry("no AMQP connection".to_owned()));
        };
        let channel = conn.create_channel().await.map_err(|e| {
            Failure::Retry(format!(
                "cannot open a channel on the AMQP broker ({}): {}",
                self.shown,
                crate::http::error_text(&e)
            ))
        })?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| {
                Failure::Retry(format!(
                    "the AMQP broker ({}) refused confirm mode: {}",
                    self.shown,
                    crate::http::error_text(&e)
                ))
            })?;
        state.channel = Some(channel.clone());
        if let Ok(mut slot) = self.channel.lock() {
            *slot = Some(channel.clone());
        }
        Ok(channel)
    }

    fn cached(&self) -> Option<Channel> {
        let slot = self.channel.lock().ok()?;
        slot.as_ref().filter(|c| c.status().connected()).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::spec::{Template, amqp_parse_uri};

    fn spec(key: &str) -> AmqpSpec {
        AmqpSpec {
            url: "amqp://127.0.0.1:5672".into(),
            uri: amqp_parse_uri("amqp://127.0.0.1:5672").unwrap(),
            exchange: "events".into(),
            routing_key: Template::parse(key).unwrap(),
            persistent: true,
            mandatory: true,
        }
    }

    #[test]
    fn binary_mode_message() {
        let stored = br#"{"specversion":"1.0","id":"e-1","source":"/s","type":"com.example.created","time":"2026-01-01T00:00:00Z","n":5,"flag":true,"datacontenttype":"application/json","data":{"a":1}}"#;
        let parts = binding::parts(stored).unwrap();
        let m = message(&spec("orders.{type}"), &parts).unwrap();
        assert_eq!(m.routing_key.as_str(), "orders.com.example.created");
        assert_eq!(&m.body[..], br#"{"a":1}"#);
        let p = &m.properties;
        assert_eq!(
            p.content_type().as_ref().unwrap().as_str(),
            "application/json"
        );
        assert_eq!(p.message_id().as_ref().unwrap().as_str(), "e-1");
        assert_eq!(*p.delivery_mode(), Some(2));
        let h = p.headers().as_ref().unwrap().inner();
        let get = |k: &str| h.get(k).cloned();
        assert_eq!(
            get("cloudEvents_specversion"),
            Some(AMQPValue::LongString("1.0".into()))
        );
        assert_eq!(
            get("cloudEvents_time"),
            Some(AMQPValue::LongString("2026-01-01T00:00:00Z".into()))
        );
        assert_eq!(get("cloudEvents_n"), Some(AMQPValue::LongLongInt(5)));
        assert_eq!(get("cloudEvents_flag"), Some(AMQPValue::Boolean(true)));
        assert_eq!(get("cloudEvents_datacontenttype"), None);
        assert_eq!(h.len(), 7);
    }

    #[test]
    fn fatal_keys() {
        let stored = br#"{"specversion":"1.0","id":"e-1","source":"/s","type":"t"}"#;
        let parts = binding::parts(stored).unwrap();
        assert!(message(&spec("a.{subject}"), &parts).is_err());
        let long = format!(
            r#"{{"specversion":"1.0","id":"e","source":"/s","type":"{}"}}"#,
            "t".repeat(300)
        );
        let parts = binding::parts(long.as_bytes()).unwrap();
        assert!(
            message(&spec("{type}"), &parts)
                .unwrap_err()
                .contains("255")
        );
    }
}
