//! Rule definitions, stored in the metadata store next to the buses they belong to.
//!
//! This is storage only: the filter and the targets are kept exactly as the user gave them
//! (`serde_json::Value`), because compiling filters is the `rules` crate's job and the bus crate
//! must not depend on it. Whoever saves a rule compiles its filter first.
//!
//! Layout: one sled tree `rules`, keyed `"{bus}\0{rule}"`. Names never contain `\0`, so the rules
//! of one bus are one key range, sorted by rule name (which is what the list's cursor relies on),
//! and deleting a bus removes that range in one batch.
//!
//! Writes are serialized by a mutex here (read-modify-write of the version), and every write is
//! flushed before it returns, like every control-plane write.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::meta::{Meta, MetaError};
use crate::registry::{check_name, now_rfc3339};

const TREE: &str = "rules";
/// The members of a rule's `PUT` body.
pub const WRITABLE_FIELDS: &[&str] = &["description", "enabled", "filter", "targets"];
const MAX_DESCRIPTION_CHARS: usize = 512;

/// A rule as stored and as served by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// `[a-z0-9][a-z0-9-_.]{0,63}`, unique within its bus.
    pub name: String,
    /// The bus the rule belongs to.
    pub bus: String,
    /// Free text.
    pub description: String,
    /// Disabled rules are kept but match nothing.
    pub enabled: bool,
    /// The filter object (`{"pattern": {…}}`), as given.
    pub filter: Value,
    /// The targets, as given (delivery reads them).
    pub targets: Vec<Value>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
    /// Incremented on every update; the ETag.
    pub version: u64,
}

/// The writable fields of a rule (the body of `PUT /v1/buses/{bus}/rules/{rule}`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleUpdate {
    /// Free text, at most 512 characters; default empty.
    pub description: String,
    /// Default true.
    pub enabled: bool,
    /// Required; not checked here beyond being present.
    pub filter: Value,
    /// Default empty.
    pub targets: Vec<Value>,
}

/// A rule operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// No such rule.
    #[error("rule {rule:?} does not exist on bus {bus:?}")]
    NotFound {
        /// The bus.
        bus: String,
        /// The rule.
        rule: String,
    },
    /// A field is invalid; `pointer` is a JSON pointer into the request.
    #[error("{pointer}: {reason}")]
    Invalid {
        /// Where.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// The body has members a rule does not have.
    #[error("unknown fields {0:?}")]
    UnknownFields(Vec<String>),
    /// `If-Match` did not match the current version (`None`: the rule does not exist).
    #[error("rule {rule:?} is at version {current:?}; the request expected another (If-Match)")]
    PreconditionFailed {
        /// The rule.
        rule: String,
        /// Its current version, if it exists.
        current: Option<u64>,
    },
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

fn invalid(pointer: &str, reason: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        pointer: pointer.into(),
        reason: reason.into(),
    }
}

impl RuleUpdate {
    /// Reads a `PUT` body: defaults for absent members, a 400-worthy error naming the member for
    /// a wrong type, and every unknown member named.
    pub fn from_json(body: Value) -> Result<RuleUpdate, RuleError> {
        let Value::Object(mut map) = body else {
            return Err(invalid(
                "",
                "the body is an object: {\"filter\": {\"pattern\": {…}}, …}",
            ));
        };
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !WRITABLE_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(RuleError::UnknownFields(unknown));
        }
        let description = match map.remove("description") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(invalid("/description", "must be a string")),
        };
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(invalid(
                "/description",
                format!("at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let enabled = match map.remove("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(invalid("/enabled", "must be true or false")),
        };
        let targets = match map.remove("targets") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(invalid("/targets", "must be an array")),
        };
        let filter = match map.remove("filter") {
            None | Some(Value::Null) => {
                return Err(invalid(
                    "/filter",
                    "is required, such as {\"pattern\": {\"type\": [\"order.created\"]}}",
                ));
            }
            Some(f) => f,
        };
        Ok(RuleUpdate {
            description,
            enabled,
            filter,
            targets,
        })
    }

    /// The update as a JSON object (its `PUT` body).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("description".into(), self.description.clone().into());
        m.insert("enabled".into(), self.enabled.into());
        m.insert("filter".into(), self.filter.clone());
        m.insert("targets".into(), Value::Array(self.targets.clone()));
        Value::Object(m)
    }
}

fn key(bus: &str, rule: &str) -> String {
    format!("{bus}\0{rule}")
}

fn prefix(bus: &str) -> String {
    format!("{bus}\0")
}

/// Checks a rule name (the API's name rule), as an `Invalid` error at `/name`.
pub fn check_rule_name(name: &str) -> Result<(), RuleError> {
    check_name(name).map_err(|reason| invalid("/name", reason))
}

/// The rules of every bus.
#[derive(Debug)]
pub struct RuleStore {
    meta: Meta,
    writes: Mutex<()>,
}

impl RuleStore {
    /// The store over an open metadata database.
    pub fn new(meta: Meta) -> RuleStore {
        RuleStore {
            meta,
            writes: Mutex::new(()),
        }
    }

    /// One rule.
    pub fn get(&self, bus: &str, rule: &str) -> Result<Option<RuleSpec>, MetaError> {
        self.meta.get(TREE, &key(bus, rule))
    }

    /// Up to `limit` rules of `bus` whose names sort after `after` (from the first when empty),
    /// by name.
    pub fn list(&self, bus: &str, after: &str, limit: usize) -> Result<Vec<RuleSpec>, MetaError> {
        self.meta.scan(TREE, &prefix(bus), after, limit)
    }

    /// Every rule of every bus, by bus then name.
    pub fn all(&self) -> Result<Vec<RuleSpec>, MetaError> {
        self.meta.list(TREE)
    }

    /// Creates or replaces a rule. Returns the stored rule and the one it replaced. `if_match`
    /// is the version the caller last saw. The caller checks that the bus exists.
    pub fn put(
        &self,
        bus: &str,
        rule: &str,
        update: RuleUpdate,
        if_match: Option<u64>,
    ) -> Result<(RuleSpec, Option<RuleSpec>), RuleError> {
        check_rule_name(rule)?;
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let previous = self.get(bus, rule)?;
        if let Some(expected) = if_match {
            let current = previous.as_ref().map(|p| p.version);
            if current != Some(expected) {
                return Err(RuleError::PreconditionFailed {
                    rule: rule.into(),
                    current,
                });
            }
        }
        let now = now_rfc3339();
        let spec = RuleSpec {
            name: rule.into(),
            bus: bus.into(),
            description: update.description,
            enabled: update.enabled,
            filter: update.filter,
            targets: update.targets,
            created_at: previous
                .as_ref()
                .map_or_else(|| now.clone(), |p| p.created_at.clone()),
            updated_at: now,
            version: previous.as_ref().map_or(1, |p| p.version + 1),
        };
        self.meta.put(TREE, &key(bus, rule), &spec)?;
        Ok((spec, previous))
    }

    /// Deletes a rule; returns what was deleted.
    pub fn delete(
        &self,
        bus: &str,
        rule: &str,
        if_match: Option<u64>,
    ) -> Result<RuleSpec, RuleError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(current) = self.get(bus, rule)? else {
            return Err(RuleError::NotFound {
                bus: bus.into(),
                rule: rule.into(),
            });
        };
        if if_match.is_some_and(|v| v != current.version) {
            return Err(RuleError::PreconditionFailed {
                rule: rule.into(),
                current: Some(current.version),
            });
        }
        self.meta.remove(TREE, &key(bus, rule))?;
        Ok(current)
    }

    /// Deletes every rule of a bus (one atomic batch, flushed); returns how many.
    pub fn delete_bus(&self, bus: &str) -> Result<usize, MetaError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        self.meta.remove_prefix(TREE, &prefix(bus))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn update(body: Value) -> RuleUpdate {
        RuleUpdate::from_json(body).unwrap()
    }

    fn store(dir: &std::path::Path) -> RuleStore {
        RuleStore::new(Meta::open(dir).unwrap())
    }

    #[test]
    fn bodies_get_defaults_and_errors_name_the_member() {
        let u = update(json!({"filter": {"pattern": {"type": ["a"]}}}));
        assert_eq!(u.description, "");
        assert!(u.enabled);
        assert!(u.targets.is_empty());
        assert_eq!(
            RuleUpdate::from_json(u.to_json()).unwrap(),
            u,
            "to_json round-trips"
        );
        let err = |body: Value| match RuleUpdate::from_json(body) {
            Err(RuleError::Invalid { pointer, .. }) => pointer,
            Err(RuleError::UnknownFields(f)) => format!("unknown {f:?}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(err(json!({})), "/filter");
        assert_eq!(err(json!({"filter": {}, "enabled": "yes"})), "/enabled");
        assert_eq!(err(json!({"filter": {}, "targets": {}})), "/targets");
        assert_eq!(err(json!({"filter": {}, "description": 5})), "/description");
        assert_eq!(
            err(json!({"filter": {}, "description": "x".repeat(513)})),
            "/description"
        );
        assert_eq!(
            err(json!({"filter": {}, "state": 1, "eventPattern": 2})),
            "unknown [\"eventPattern\", \"state\"]"
        );
        assert_eq!(err(json!([])), "");
    }

    #[test]
    fn put_get_list_delete_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let u = update(json!({"filter": {"pattern": {"type": ["a"]}}, "targets": [{"x": 1}]}));
        for name in ["r3", "r1", "r2"] {
            let (spec, prev) = s.put("orders", name, u.clone(), None).unwrap();
            assert!(prev.is_none());
            assert_eq!(spec.version, 1);
        }
        s.put("orders-eu", "r0", u.clone(), None).unwrap();
        s.put("order", "r9", u.clone(), None).unwrap();
        let (spec, prev) = s.put("orders", "r1", u.clone(), Some(1)).unwrap();
        assert_eq!(spec.version, 2);
        assert_eq!(prev.unwrap().created_at, spec.created_at);
        assert!(matches!(
            s.put("orders", "r1", u.clone(), Some(1)),
            Err(RuleError::PreconditionFailed {
                current: Some(2),
                ..
            })
        ));
        assert!(matches!(
            s.put("orders", "nope", u.clone(), Some(1)),
            Err(RuleError::PreconditionFailed { current: None, .. })
        ));
        assert!(matches!(
            s.put("orders", "Bad", u.clone(), None),
            Err(RuleError::Invalid { .. })
        ));
        let names = |v: Vec<RuleSpec>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(s.list("orders", "", 10).unwrap()), ["r1", "r2", "r3"]);
        assert_eq!(names(s.list("orders", "", 2).unwrap()), ["r1", "r2"]);
        assert_eq!(names(s.list("orders", "r1", 10).unwrap()), ["r2", "r3"]);
        assert_eq!(names(s.list("orders", "r0", 10).unwrap()).len(), 3);
        assert!(s.list("orders", "r3", 10).unwrap().is_empty());
        assert_eq!(
            s.get("orders", "r2").unwrap().unwrap().targets,
            [json!({"x": 1})]
        );
        assert!(matches!(
            s.delete("orders", "r2", Some(7)),
            Err(RuleError::PreconditionFailed { .. })
        ));
        s.delete("orders", "r2", Some(1)).unwrap();
        assert!(matches!(
            s.delete("orders", "r2", None),
            Err(RuleError::NotFound { .. })
        ));
        drop(s);
        let s = store(dir.path());
        assert_eq!(names(s.list("orders", "", 10).unwrap()), ["r1", "r3"]);
        assert_eq!(s.delete_bus("orders").unwrap(), 2);
        assert!(s.list("orders", "", 10).unwrap().is_empty());
        assert_eq!(names(s.all().unwrap()), ["r9", "r0"]);
    }
}
