//! What a rule's `targets` array means: each member parsed and checked once, when the rule is
//! saved, into a [`TargetSpec`] the engine runs.
//!
//! Parsing is by hand rather than with serde derive so that every error names the JSON pointer
//! of the offending member (`/targets/0/retry/max_age`) and the reason, as the API promises; the
//! shapes are small. Every member that is not known is refused (a misspelt `max_inflight` must
//! not silently mean "default").
//!
//! One explicit registry of kinds ([`parse_target`]): each kind is one arm there and one module
//! here.

mod amqp;
mod bus;
mod delivery;
mod function;
mod http;
mod nats;
mod queue;
mod read;
mod template;

pub use amqp::{AmqpSpec, parse_uri as amqp_parse_uri};
pub use bus::BusSpec;
pub use delivery::{DeliverySpec, OrderingKey, RateLimit, RetryPolicy};
pub use function::{CommandSpec, FunctionSpec, ReplySpec, Runtime};
pub use http::{HttpSpec, Mode};
pub use nats::{NatsSpec, check_subject as nats_check_subject, redact};
pub use queue::QueueSpec;
pub use template::Template;

use serde_json::Value;

use read::Obj;

/// How many targets one rule may have (EventBridge allows five; a few more cost nothing here).
pub const MAX_TARGETS: usize = 10;

/// A target definition is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct SpecError {
    /// JSON pointer into the request body.
    pub pointer: String,
    /// Why.
    pub reason: String,
}

impl SpecError {
    pub(crate) fn new(pointer: impl Into<String>, reason: impl Into<String>) -> SpecError {
        SpecError {
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

/// One target of a rule, checked.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Unique within its rule: `[A-Za-z0-9_.-]{1,64}`, as EventBridge target ids.
    pub id: String,
    /// What it sends to.
    pub kind: Kind,
    /// What it sends: the compiled transform, or `None` for the event itself (or, for a SQL
    /// rule, its projection).
    pub transform: Option<rules::Transform>,
    /// Limits, retry policy, ordering.
    pub delivery: DeliverySpec,
}

/// The kinds of target.
#[derive(Debug, Clone)]
pub enum Kind {
    /// An HTTP endpoint.
    Http(Box<HttpSpec>),
    /// Another bus of this server.
    Bus(BusSpec),
    /// An internal durable queue of this server.
    Queue(QueueSpec),
    /// A function: a URL or a local command, whose reply may go on to a bus.
    Function(Box<FunctionSpec>),
    /// A NATS subject (core or JetStream).
    Nats(Box<NatsSpec>),
    /// An AMQP 0-9-1 exchange (RabbitMQ).
    Amqp(Box<AmqpSpec>),
}

impl Kind {
    /// The `kind` member's value.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Http(_) => "http",
            Kind::Bus(_) => "bus",
            Kind::Queue(_) => "queue",
            Kind::Function(_) => "function",
            Kind::Nats(_) => "nats",
            Kind::Amqp(_) => "amqp",
        }
    }
}

/// The kinds [`parse_target`] knows, for error messages.
pub const KINDS: &str = "http, function, bus, queue, nats, amqp";

/// Checks a target id.
pub fn check_target_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 {
        return Err(format!(
            "{id:?} is {} characters long; a target id has 1 to 64",
            id.len()
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "{id:?} contains {c:?}; a target id has letters, digits, '_', '.' and '-' only"
        ));
    }
    if id == "." || id == ".." {
        return Err(format!("{id:?} is not a target id"));
    }
    Ok(())
}

/// Parses a rule's `targets` array (`base` is its pointer, e.g. `/targets`).
pub fn parse_targets(targets: &[Value], base: &str) -> Result<Vec<TargetSpec>, SpecError> {
    if targets.len() > MAX_TARGETS {
        return Err(SpecError::new(
            base,
            format!(
                "{} targets; a rule has at most {MAX_TARGETS}",
                targets.len()
            ),
        ));
    }
    let mut out: Vec<TargetSpec> = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let at = format!("{base}/{i}");
        let spec = parse_target(t, &at)?;
        if out.iter().any(|o| o.id == spec.id) {
            return Err(SpecError::new(
                format!("{at}/id"),
                format!("{:?} is used by another target of this rule", spec.id),
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

/// Parses one target object: the registry of kinds.
pub fn parse_target(value: &Value, at: &str) -> Result<TargetSpec, SpecError> {
    let mut obj = Obj::new(value, at)?;
    let id = obj.required_str("id")?;
    check_target_id(&id).map_err(|r| SpecError::new(format!("{at}/id"), r))?;
    let kind_name = obj.required_str("kind")?;
    let transform = match obj.take("transform") {
        None | Some(Value::Null) => None,
        Some(t) => Some(rules::Transform::parse(&t).map_err(|e| {
            SpecError::new(format!("{at}/transform{}", e.pointer), e.reason.clone())
        })?),
    };
    let mut delivery = delivery::parse(&mut obj)?;
    let kind = match kind_name.as_str() {
        "http" => Kind::Http(Box::new(http::parse(&mut obj)?)),
        "bus" => Kind::Bus(bus::parse(&mut obj)?),
        "queue" => Kind::Queue(queue::parse(&mut obj)?),
        "function" => Kind::Function(Box::new(function::parse(&mut obj, &mut delivery)?)),
        "nats" => Kind::Nats(Box::new(nats::parse(&mut obj)?)),
        "amqp" => Kind::Amqp(Box::new(amqp::parse(&mut obj)?)),
        other => {
            return Err(SpecError::new(
                format!("{at}/kind"),
                format!("unknown target kind {other:?}; the kinds are {KINDS}"),
            ));
        }
    };
    obj.finish()?;
    Ok(TargetSpec {
        id,
        kind,
        transform,
        delivery,
    })
}

#[cfg(test)]
mod tests;
