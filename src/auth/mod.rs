//! API tokens: who may call what.
//!
//! A token is `ry_` + 32 random bytes (base64url). Only its SHA-256 is stored (sled tree
//! `tokens`, by name): the secret is shown once, when it is created, and a stolen metadata store
//! gives no usable token. Tokens are high-entropy, so a fast hash is the right one (a password
//! hash would add nothing but latency to every request).
//!
//! Scopes: `admin` (everything), `publish:<bus>` (ingest into that bus), `consume:<queue>`
//! (receive, ack, nack and extend on that queue). Auth is enforced as soon as one token exists;
//! with none, the API is open, which is safe only on loopback: `serve` refuses to bind another
//! address without tokens unless `--insecure` is given (see `server`).
//!
//! [`layer`] is the axum middleware that checks each request.

pub mod layer;
mod store;

pub use store::{TokenError, TokenSpec, Tokens};

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything.
    Admin,
    /// Ingest into one bus.
    Publish(String),
    /// Consume one queue.
    Consume(String),
}

impl Scope {
    /// Parses `admin`, `publish:<bus>` or `consume:<queue>`.
    pub fn parse(s: &str) -> Result<Scope, String> {
        let bad_name = |kind: &str, n: &str| {
            bus::registry::check_name(n)
                .map_err(|r| format!("scope {s:?}: the {kind} name {n:?} is not valid: {r}"))
        };
        match s.split_once(':') {
            None if s == "admin" => Ok(Scope::Admin),
            Some(("publish", bus)) => {
                bad_name("bus", bus)?;
                Ok(Scope::Publish(bus.to_owned()))
            }
            Some(("consume", queue)) => {
                bad_name("queue", queue)?;
                Ok(Scope::Consume(queue.to_owned()))
            }
            _ => Err(format!(
                "scope {s:?} is not one of admin, publish:<bus>, consume:<queue>"
            )),
        }
    }

    /// Whether this scope grants `need`.
    pub fn grants(&self, need: &Need) -> bool {
        match (self, need) {
            (Scope::Admin, _) => true,
            (Scope::Publish(b), Need::Publish(n)) => b == n,
            (Scope::Consume(q), Need::Consume(n)) => q == n,
            _ => false,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Admin => f.write_str("admin"),
            Scope::Publish(b) => write!(f, "publish:{b}"),
            Scope::Consume(q) => write!(f, "consume:{q}"),
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing (health checks, the API description).
    Nothing,
    /// Publishing to a bus.
    Publish(String),
    /// Consuming a queue.
    Consume(String),
    /// Administration: every other route.
    Admin,
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Nothing => f.write_str("nothing"),
            Need::Publish(b) => write!(f, "publish:{b} (or admin)"),
            Need::Consume(q) => write!(f, "consume:{q} (or admin)"),
            Need::Admin => f.write_str("admin"),
        }
    }
}

/// What a request to `path` with `method` needs.
pub fn need(method: &http::Method, path: &str) -> Need {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match parts.as_slice() {
        ["healthz"] | ["readyz"] | ["openapi.json"] => Need::Nothing,
        // A provider's delivery: its signature is its credential (checked by the source).
        ["v1", "webhooks", _]
            if method == http::Method::POST || method == http::Method::OPTIONS =>
        {
            Need::Nothing
        }
        ["v1", "buses", bus, "events"] if method == http::Method::POST => {
            Need::Publish((*bus).to_owned())
        }
        ["v1", "queues", queue, action]
            if method == http::Method::POST && action.starts_with("messages:") =>
        {
            Need::Consume((*queue).to_owned())
        }
        _ => Need::Admin,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scopes_and_needs() {
        assert_eq!(Scope::parse("admin"), Ok(Scope::Admin));
        assert_eq!(
            Scope::parse("publish:orders"),
            Ok(Scope::Publish("orders".into()))
        );
        assert!(Scope::parse("publish:").is_err());
        assert!(Scope::parse("publish:Bad Name").is_err());
        assert!(Scope::parse("write").is_err());
        let post = http::Method::POST;
        let get = http::Method::GET;
        assert_eq!(
            need(&post, "/v1/buses/orders/events"),
            Need::Publish("orders".into())
        );
        assert_eq!(need(&get, "/v1/buses/orders/events"), Need::Admin);
        assert_eq!(need(&get, "/v1/buses/orders/rules"), Need::Admin);
        assert_eq!(need(&get, "/healthz"), Need::Nothing);
        assert_eq!(need(&post, "/v1/webhooks/gh"), Need::Nothing);
        assert_eq!(need(&get, "/v1/webhooks/gh"), Need::Admin);
        assert_eq!(need(&get, "/v1/sources/gh"), Need::Admin);
        assert_eq!(
            need(&post, "/v1/queues/q1/messages:receive"),
            Need::Consume("q1".into())
        );
        let p = Scope::Publish("orders".into());
        assert!(p.grants(&Need::Publish("orders".into())));
        assert!(!p.grants(&Need::Publish("default".into())));
        assert!(!p.grants(&Need::Admin));
        assert!(Scope::Admin.grants(&Need::Consume("x".into())));
    }
}
