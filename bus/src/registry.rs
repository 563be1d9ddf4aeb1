//! The buses of one server: their definitions (in the metadata store) and their open logs.
//!
//! A bus is created by `PUT`, lives until `DELETE`, and `default` exists from the first start and
//! cannot be deleted (as in EventBridge). Deleting removes the definition first (flushed), then the
//! files; a crash in between leaves an orphan directory that a later bus of the same name does not
//! inherit, because creating a bus clears any leftover directory first.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::datadir::DataDir;
use crate::log::{Log, LogConfig, LogError, Retention};
use crate::meta::{Meta, MetaError};
use crate::rules::RuleStore;
use crate::units;

const TREE: &str = "buses";
/// The bus that always exists.
pub const DEFAULT_BUS: &str = "default";

/// A bus definition as stored and as served by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSpec {
    /// `[a-z0-9][a-z0-9-_.]{0,63}`.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// How long and how much the bus keeps.
    #[serde(default)]
    pub retention: RetentionSpec,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
    /// Incremented on every update; the ETag.
    pub version: u64,
}

/// Retention as written by users: `max_age` a duration (`7d`), `max_bytes` a size (`10GiB`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// Delete events older than this (whole segments at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Keep at most this many bytes of events (whole segments at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<String>,
}

impl RetentionSpec {
    /// Checks the units and converts to the log's policy.
    pub fn parse(&self) -> Result<Retention, BusError> {
        let max_age = match &self.max_age {
            Some(s) => Some(units::parse_duration(s).map_err(|e| BusError::Invalid {
                pointer: "/retention/max_age".into(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        let max_bytes = match &self.max_bytes {
            Some(s) => Some(units::parse_bytes(s).map_err(|e| BusError::Invalid {
                pointer: "/retention/max_bytes".into(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        Ok(Retention { max_age, max_bytes })
    }
}

/// The writable fields of a bus (the body of `PUT /v1/buses/{bus}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusUpdate {
    /// Free text, at most 512 characters.
    #[serde(default)]
    pub description: String,
    /// Retention limits; absent means keep everything.
    #[serde(default)]
    pub retention: RetentionSpec,
}

/// A bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No such bus.
    #[error("bus {0:?} does not exist")]
    NotFound(String),
    /// A field is invalid; `pointer` is a JSON pointer into the request.
    #[error("{pointer}: {reason}")]
    Invalid {
        /// Where.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// `If-Match` did not match the current version.
    #[error("bus {name:?} is at version {current}; the request expected another (If-Match)")]
    PreconditionFailed {
        /// The bus.
        name: String,
        /// Its current version.
        current: u64,
    },
    /// The default bus cannot be deleted.
    #[error("the default bus cannot be deleted")]
    DeleteDefault,
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// Checks a resource name: `[a-z0-9][a-z0-9-_.]{0,63}`.
pub fn check_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ok_first = b
        .first()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_rest = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.".contains(c));
    if b.is_empty() || b.len() > 64 || !ok_first || !ok_rest {
        return Err(format!(
            "{name:?} is not a valid name: 1 to 64 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// One open bus.
#[derive(Debug)]
pub struct Bus {
    spec: RwLock<BusSpec>,
    /// Its event log.
    pub log: Log,
}

impl Bus {
    /// The current definition.
    pub fn spec(&self) -> BusSpec {
        self.spec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// All buses of a server.
#[derive(Debug)]
pub struct Buses {
    dir: DataDir,
    meta: Meta,
    log_template: LogConfig,
    buses: RwLock<BTreeMap<String, Arc<Bus>>>,
    /// The rules of every bus (same metadata store).
    rules: RuleStore,
    /// Serializes control-plane writes (create, update, delete), never appends.
    writes: std::sync::Mutex<()>,
}

/// The current time as RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Buses {
    /// Opens every bus of the data directory, creating `default` on first start.
    pub fn open(dir: DataDir, log_template: LogConfig) -> Result<Buses, BusError> {
        let meta = Meta::open(&dir.meta_dir())?;
        let mut specs: Vec<BusSpec> = meta.list(TREE)?;
        if !specs.iter().any(|s| s.name == DEFAULT_BUS) {
            let now = now_rfc3339();
            let spec = BusSpec {
                name: DEFAULT_BUS.into(),
                description: "The default bus".into(),
                retention: RetentionSpec::default(),
                created_at: now.clone(),
                updated_at: now,
                version: 1,
            };
            meta.put(TREE, DEFAULT_BUS, &spec)?;
            specs.push(spec);
        }
        let mut buses = BTreeMap::new();
        for spec in specs {
            let log = Log::open(
                &dir.bus_log_dir(&spec.name),
                LogConfig {
                    label: spec.name.clone(),
                    ..log_template.clone()
                },
            )?;
            buses.insert(
                spec.name.clone(),
                Arc::new(Bus {
                    spec: RwLock::new(spec),
                    log,
                }),
            );
        }
        Ok(Buses {
            dir,
            rules: RuleStore::new(meta.clone()),
            meta,
            log_template,
            buses: RwLock::new(buses),
            writes: std::sync::Mutex::new(()),
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.dir
    }

    /// The metadata store (for the resources other crates keep: connections).
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The rules of every bus.
    pub fn rules(&self) -> &RuleStore {
        &self.rules
    }

    /// The bus called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Bus>> {
        self.buses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every bus, by name.
    pub fn all(&self) -> Vec<Arc<Bus>> {
        self.buses
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Creates or replaces a bus's writable fields. Returns the definition and whether it was
    /// created. `if_match` is the version the caller last saw.
    pub fn put(
        &self,
        name: &str,
        update: BusUpdate,
        if_match: Option<u64>,
    ) -> Result<(BusSpec, bool), BusError> {
        check_name(name).map_err(|reason| BusError::Invalid {
            pointer: "/name".into(),
            reason,
        })?;
        if update.description.chars().count() > 512 {
            return Err(BusError::Invalid {
                pointer: "/description".into(),
                reason: "at most 512 characters".into(),
            });
        }
        update.retention.parse()?;
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_rfc3339();
        if let Some(bus) = self.get(name) {
            let mut spec = bus.spec();
            if if_match.is_some_and(|v| v != spec.version) {
                return Err(BusError::PreconditionFailed {
                    name: name.into(),
                    current: spec.version,
                });
            }
            spec.description = update.description;
            spec.retention = update.retention;
            spec.updated_at = now;
            spec.version += 1;
            self.meta.put(TREE, name, &spec)?;
            *bus.spec.write().unwrap_or_else(|p| p.into_inner()) = spec.clone();
            return Ok((spec, false));
        }
        if if_match.is_some() {
            return Err(BusError::NotFound(name.into()));
        }
        let bus_dir = self.dir.bus_dir(name);
        if bus_dir.exists() {
            tracing::warn!(bus = name, dir = %bus_dir.display(), "removing leftover files of a deleted bus");
            std::fs::remove_dir_all(&bus_dir).map_err(|e| LogError::io("remove", &bus_dir, e))?;
        }
        let spec = BusSpec {
            name: name.into(),
            description: update.description,
            retention: update.retention,
            created_at: now.clone(),
            updated_at: now,
            version: 1,
        };
        let log = Log::open(
            &self.dir.bus_log_dir(name),
            LogConfig {
                label: name.into(),
                ..self.log_template.clone()
            },
        )?;
        self.meta.put(TREE, name, &spec)?;
        let bus = Arc::new(Bus {
            spec: RwLock::new(spec.clone()),
            log,
        });
        self.buses
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.into(), bus);
        Ok((spec, true))
    }

    /// Deletes a bus, its rules and its events. The rules go first (flushed), so a crash midway
    /// leaves a bus without rules, never rules without a bus that a later bus of the same name
    /// would inherit.
    pub fn delete(&self, name: &str, if_match: Option<u64>) -> Result<(), BusError> {
        if name == DEFAULT_BUS {
            return Err(BusError::DeleteDefault);
        }
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let bus = self
            .get(name)
            .ok_or_else(|| BusError::NotFound(name.into()))?;
        let current = bus.spec().version;
        if if_match.is_some_and(|v| v != current) {
            return Err(BusError::PreconditionFailed {
                name: name.into(),
                current,
            });
        }
        let rules = self.rules.delete_bus(name)?;
        if rules > 0 {
            tracing::info!(bus = name, rules, "deleted the rules of a deleted bus");
        }
        self.meta.remove(TREE, name)?;
        self.buses
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Err(e) = bus.log.close() {
            tracing::warn!(bus = name, error = %e, "closing the log of a deleted bus");
        }
        let dir = self.dir.bus_dir(name);
        std::fs::remove_dir_all(&dir).map_err(|e| LogError::io("remove", &dir, e))?;
        Ok(())
    }

    /// Applies every bus's retention policy once.
    pub fn enforce_retention(&self) {
        for bus in self.all() {
            let spec = bus.spec();
            let Ok(policy) = spec.retention.parse() else {
                continue;
            };
            if policy.max_age.is_none() && policy.max_bytes.is_none() {
                continue;
            }
            match bus.log.enforce_retention(&policy) {
                Ok(r) if r.segments > 0 => {
                    tracing::info!(bus = %spec.name, segments = r.segments, records = r.records, first = r.first_sequence, "retention applied");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(bus = %spec.name, error = %e, "retention failed"),
            }
        }
    }

    /// Flushes and closes every log.
    pub fn close(&self) -> Result<(), LogError> {
        let mut first_err = None;
        for bus in self.all() {
            if let Err(e) = bus.log.close() {
                tracing::error!(bus = %bus.spec().name, error = %e, "closing log");
                first_err.get_or_insert(e);
            }
        }
        // Writes that are not flushed one by one (webhook delivery ids, schedule state).
        if let Err(e) = self.meta().flush() {
            tracing::error!(error = %e, "flushing the metadata store");
        }
        first_err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn open(dir: &std::path::Path) -> Buses {
        Buses::open(
            DataDir::open(dir).unwrap(),
            LogConfig {
                segment_bytes: 64 << 10,
                ..LogConfig::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn default_exists_and_buses_persist() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path());
        assert!(b.get(DEFAULT_BUS).is_some());
        let upd = BusUpdate {
            description: "orders".into(),
            retention: RetentionSpec {
                max_age: Some("7d".into()),
                max_bytes: None,
            },
        };
        let (spec, created) = b.put("orders", upd.clone(), None).unwrap();
        assert!(created);
        assert_eq!(spec.version, 1);
        let (spec, created) = b.put("orders", upd, Some(1)).unwrap();
        assert!(!created);
        assert_eq!(spec.version, 2);
        assert!(matches!(
            b.put("orders", BusUpdate::default(), Some(1)),
            Err(BusError::PreconditionFailed { current: 2, .. })
        ));
        drop(b);
        let b = open(dir.path());
        assert_eq!(b.get("orders").unwrap().spec().description, "orders");
        b.delete("orders", None).unwrap();
        assert!(matches!(
            b.delete(DEFAULT_BUS, None),
            Err(BusError::DeleteDefault)
        ));
        drop(b);
        let b = open(dir.path());
        assert!(b.get("orders").is_none());
    }

    #[test]
    fn deleting_a_bus_deletes_its_rules() {
        use crate::rules::RuleUpdate;
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path());
        b.put("orders", BusUpdate::default(), None).unwrap();
        let rule = RuleUpdate::from_json(serde_json::json!({"filter": {}})).unwrap();
        b.rules().put("orders", "r1", rule.clone(), None).unwrap();
        b.rules().put(DEFAULT_BUS, "r1", rule, None).unwrap();
        b.delete("orders", None).unwrap();
        drop(b);
        let b = open(dir.path());
        b.put("orders", BusUpdate::default(), None).unwrap();
        assert!(b.rules().list("orders", "", 10).unwrap().is_empty());
        assert_eq!(b.rules().all().unwrap().len(), 1);
    }

    #[test]
    fn names_and_units_are_checked() {
        assert!(check_name("a").is_ok());
        assert!(check_name("orders-eu_1.v2").is_ok());
        for bad in ["", "-a", "A", "a/b", "a b", &"a".repeat(65), ".."] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path());
        let bad = BusUpdate {
            retention: RetentionSpec {
                max_age: Some("soon".into()),
                max_bytes: None,
            },
            ..BusUpdate::default()
        };
        assert!(
            matches!(b.put("x", bad, None), Err(BusError::Invalid { pointer, .. }) if pointer == "/retention/max_age")
        );
    }
}
