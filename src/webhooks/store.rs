//! The webhook sources: documents in the sled tree `sources`, and each one compiled (its provider
//! parsed, its key derived) in memory, so a delivery costs one map lookup before verification.
//!
//! A source's secret is write-only: it is stored (it is needed to verify every delivery) but no
//! answer contains it. Replacing a source without a `secret` keeps the one it has, so a document
//! read with GET can be written back unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bus::meta::{Meta, MetaError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sources::ingest::Limits;
use sources::webhook::{KINDS, Provider, SpecError};

use super::seen::Seen;

const TREE: &str = "sources";
/// How long delivery ids are remembered unless a source says otherwise (providers retry for
/// up to a day: Stripe for three days in live mode, but with the same event id only then).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);
const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// A source that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The document is invalid at `pointer`.
    #[error("{pointer}: {reason}")]
    Invalid {
        /// Where, as a JSON pointer.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// No such source.
    #[error("source {0:?} does not exist")]
    NotFound(String),
    /// `If-Match` names another version.
    #[error("source {name:?} is not at the version If-Match names")]
    PreconditionFailed {
        /// The source.
        name: String,
        /// Its version, if it exists.
        current: Option<u64>,
    },
    /// The store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The delivery ids could not be read back.
    #[error("reading the webhook delivery ids in {dir}")]
    Seen {
        /// Where.
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<SpecError> for SourceError {
    fn from(e: SpecError) -> SourceError {
        SourceError::Invalid {
            pointer: e.pointer,
            reason: e.reason,
        }
    }
}

fn invalid(pointer: &str, reason: impl Into<String>) -> SourceError {
    SourceError::Invalid {
        pointer: pointer.to_owned(),
        reason: reason.into(),
    }
}

/// A stored source.
#[derive(Clone, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Its name (the last segment of its webhook URL).
    pub name: String,
    /// The provider.
    pub kind: String,
    /// The bus its events go to.
    pub bus: String,
    /// Free text.
    pub description: String,
    /// Whether deliveries are taken (a disabled source answers 503, so providers retry later).
    pub enabled: bool,
    /// Seconds a delivery id is remembered.
    pub dedup_window: u64,
    /// The provider's own options, as given.
    pub options: Map<String, Value>,
    /// The secret as written; never shown.
    pub secret: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The ETag.
    pub version: u64,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("bus", &self.bus)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl SourceSpec {
    /// The source as the API shows it: without its secret, with `secret_set` and its URL path.
    pub fn public(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "kind": self.kind,
            "bus": self.bus,
            "description": self.description,
            "enabled": self.enabled,
            "dedup_window": bus::units::format_duration(Duration::from_secs(self.dedup_window)),
            "secret_set": self.secret.is_some(),
            "webhook_path": format!("/v1/webhooks/{}", self.name),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "version": self.version,
        });
        if let Value::Object(m) = &mut v {
            for (k, o) in &self.options {
                m.insert(k.clone(), o.clone());
            }
        }
        v
    }
}

/// A source's counters, registered once (a labelled lookup per delivery costs more than the
/// increment).
#[derive(Debug)]
pub struct Meters {
    /// Events stored.
    pub events: metrics::Counter,
    /// Deliveries acknowledged as duplicates.
    pub duplicates: metrics::Counter,
    /// Deliveries refused (verification or mapping).
    pub refused: metrics::Counter,
}

impl Meters {
    fn new(source: &str) -> Meters {
        let l = [("source", source.to_owned())];
        Meters {
            events: metrics::counter!("railyard_webhook_events_total", &l),
            duplicates: metrics::counter!("railyard_webhook_duplicates_total", &l),
            refused: metrics::counter!("railyard_webhook_refused_total", &l),
        }
    }
}

/// A source ready to take deliveries.
#[derive(Debug)]
pub struct Source {
    /// Its document.
    pub spec: SourceSpec,
    /// Its provider, options parsed.
    pub provider: Provider,
    /// Its counters.
    pub meters: Meters,
    /// The MAC key (or bearer token) derived from the secret.
    key: Option<Vec<u8>>,
}

impl Source {
    fn compile(spec: SourceSpec, limits: &Limits) -> Result<Source, SourceError> {
        let provider = Provider::parse(&spec.kind, &spec.options)?.with_limits(*limits);
        let key = match &spec.secret {
            Some(s) => Some(provider.key(s)?),
            None if provider.secret_required() => {
                return Err(invalid(
                    "/secret",
                    format!("a {} source needs a secret", spec.kind),
                ));
            }
            None => None,
        };
        Ok(Source {
            meters: Meters::new(&spec.name),
            spec,
            provider,
            key,
        })
    }

    /// The key to verify deliveries with.
    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// How long a delivery id is remembered.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.spec.dedup_window)
    }
}

/// The common members of a source document; the rest belong to the provider.
use sources::webhook::COMMON;

/// What a PUT body says, before it meets the stored version.
struct Parsed {
    kind: String,
    bus: String,
    description: String,
    enabled: bool,
    dedup_window: u64,
    secret: Option<String>,
    options: Map<String, Value>,
}

fn string<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, SourceError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("/{key}"), "must be a string")),
    }
}

fn parse_body(body: &Value) -> Result<Parsed, SourceError> {
    let Value::Object(m) = body else {
        return Err(invalid("", "a source is a JSON object"));
    };
    let kind = string(m, "kind")?
        .ok_or_else(|| invalid("/kind", format!("is required: one of {}", KINDS.join(", "))))?;
    if !KINDS.contains(&kind) {
        return Err(invalid(
            "/kind",
            format!("{kind:?} is not a source kind: one of {}", KINDS.join(", ")),
        ));
    }
    let bus = string(m, "bus")?.ok_or_else(|| invalid("/bus", "is required"))?;
    bus::registry::check_name(bus).map_err(|r| invalid("/bus", r))?;
    let secret = string(m, "secret")?;
    if secret.is_some_and(str::is_empty) {
        return Err(invalid("/secret", "must not be empty"));
    }
    let enabled = match m.get("enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("/enabled", "must be true or false")),
    };
    let dedup_window = match m.get("dedup_window") {
        None => DEFAULT_WINDOW,
        Some(Value::String(s)) => {
            bus::units::parse_duration(s).map_err(|e| invalid("/dedup_window", e.to_string()))?
        }
        Some(Value::Number(n)) => Duration::from_secs(n.as_u64().ok_or_else(|| {
            invalid(
                "/dedup_window",
                "a number of seconds must be a whole number ≥ 0",
            )
        })?),
        Some(_) => {
            return Err(invalid(
                "/dedup_window",
                "a duration such as \"24h\", or seconds",
            ));
        }
    };
    if dedup_window > MAX_WINDOW {
        return Err(invalid("/dedup_window", "at most 30 days"));
    }
    // Besides the common members, those answers add (a document read with GET can be written
    // back) are not the provider's.
    const READ_ONLY: &[&str] = &[
        "name",
        "secret_set",
        "webhook_path",
        "created_at",
        "updated_at",
        "version",
    ];
    let options: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| !COMMON.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Parsed {
        kind: kind.to_owned(),
        bus: bus.to_owned(),
        description: string(m, "description")?.unwrap_or_default().to_owned(),
        enabled,
        dedup_window: dedup_window.as_secs(),
        secret: secret.map(str::to_owned),
        options,
    })
}

/// The sources, their store, and the delivery ids they have seen.
pub struct Sources {
    meta: Meta,
    writes: Mutex<()>,
    live: RwLock<HashMap<String, Arc<Source>>>,
    seen: Seen,
    limits: Limits,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources")
    }
}

impl Sources {
    /// Loads and compiles every stored source. One that no longer compiles (a provider option
    /// removed in a new version) is logged and left out, not fatal: the others keep working.
    pub fn load(meta: Meta, dir: &std::path::Path, limits: Limits) -> Result<Sources, SourceError> {
        let mut live = HashMap::new();
        for spec in meta.list::<SourceSpec>(TREE)? {
            let name = spec.name.clone();
            match Source::compile(spec, &limits) {
                Ok(s) => {
                    live.insert(name, Arc::new(s));
                }
                Err(e) => {
                    tracing::error!(source = %name, error = %e, "a stored source does not compile; its deliveries are refused until it is fixed");
                }
            }
        }
        let seen = Seen::open(dir).map_err(|source| SourceError::Seen {
            dir: dir.display().to_string(),
            source,
        })?;
        Ok(Sources {
            meta,
            writes: Mutex::new(()),
            live: RwLock::new(live),
            seen,
            limits,
        })
    }

    /// The source called `name`, ready for deliveries.
    pub fn get(&self, name: &str) -> Option<Arc<Source>> {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The delivery ids seen lately.
    pub fn seen(&self) -> &Seen {
        &self.seen
    }

    /// Up to `limit` stored sources sorted after `after`.
    pub fn list(&self, after: &str, limit: usize) -> Result<Vec<SourceSpec>, MetaError> {
        self.meta.scan(TREE, "", after, limit)
    }

    /// Every source's name and window, for expiring delivery ids.
    pub fn windows(&self) -> HashMap<String, Duration> {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(n, s)| (n.clone(), s.window()))
            .collect()
    }

    /// Creates or replaces a source; `bus_exists` is asked about the bus it names. Returns the
    /// stored document and whether it is new.
    pub fn put(
        &self,
        name: &str,
        body: &Value,
        if_match: Option<u64>,
        bus_exists: impl Fn(&str) -> bool,
    ) -> Result<(SourceSpec, bool), SourceError> {
        let p = parse_body(body)?;
        if !bus_exists(&p.bus) {
            return Err(invalid(
                "/bus",
                format!("bus {:?} does not exist; create it first", p.bus),
            ));
        }
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let old: Option<SourceSpec> = self.meta.get(TREE, name)?;
        if let Some(want) = if_match
            && old.as_ref().map(|o| o.version) != Some(want)
        {
            return Err(SourceError::PreconditionFailed {
                name: name.to_owned(),
                current: old.map(|o| o.version),
            });
        }
        let now = bus::registry::now_rfc3339();
        let spec = SourceSpec {
            name: name.to_owned(),
            kind: p.kind,
            bus: p.bus,
            description: p.description,
            enabled: p.enabled,
            dedup_window: p.dedup_window,
            options: p.options,
            secret: p
                .secret
                .or_else(|| old.as_ref().and_then(|o| o.secret.clone())),
            created_at: old
                .as_ref()
                .map_or_else(|| now.clone(), |o| o.created_at.clone()),
            updated_at: now,
            version: old.as_ref().map_or(1, |o| o.version + 1),
        };
        let source = Source::compile(spec.clone(), &self.limits)?;
        self.meta.put(TREE, name, &spec)?;
        self.live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Arc::new(source));
        Ok((spec, old.is_none()))
    }

    /// Deletes a source and forgets the delivery ids it saw.
    pub fn delete(&self, name: &str, if_match: Option<u64>) -> Result<(), SourceError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let old: Option<SourceSpec> = self.meta.get(TREE, name)?;
        let Some(old) = old else {
            return Err(SourceError::NotFound(name.to_owned()));
        };
        if let Some(want) = if_match
            && old.version != want
        {
            return Err(SourceError::PreconditionFailed {
                name: name.to_owned(),
                current: Some(old.version),
            });
        }
        self.meta.remove(TREE, name)?;
        self.live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        self.seen.forget(name);
        Ok(())
    }

    /// The stored document of one source (for GET: it may be stored yet not compile).
    pub fn spec(&self, name: &str) -> Result<Option<SourceSpec>, MetaError> {
        self.meta.get(TREE, name)
    }

    /// The names of the sources that send to `bus`.
    pub fn using_bus(&self, bus: &str) -> Result<Vec<String>, MetaError> {
        Ok(self
            .meta
            .list::<SourceSpec>(TREE)?
            .into_iter()
            .filter(|s| s.bus == bus)
            .map(|s| s.name)
            .collect())
    }
}
