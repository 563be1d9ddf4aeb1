//! The compiled rules of every bus: for each bus, one [`Router`] holding its enabled rules
//! (patterns in its matcher, the other filter kinds beside it).
//!
//! Rule definitions live in the metadata store (`bus::rules`), which knows nothing of patterns;
//! this is where they meet the `rules` crate. Every write of a bus's rules (save, delete, and
//! deleting the bus) holds that bus's write lock across the store write and the matcher update, so
//! the two never disagree and a change is in the matcher before the request is answered: events
//! appended after the answer see it. Matching takes only a read lock on the bus's set.
//!
//! The same writes tell the delivery engine ([`targets::Engine::change`]) under the same lock, so
//! the engine sees one bus's changes in the order they were made, each effective from the
//! sequence the log was at.
//!
//! A deleted bus's set is marked closed and dropped under its write lock, so a rule write that
//! raced the deletion retries against the new state (and finds no bus) instead of writing into a
//! set nobody reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bus::meta::MetaError;
use bus::registry::{BusError, Buses};
use bus::rules::{RuleError, RuleSpec, RuleUpdate};
use rules::{Filter, Limits, MatchError, PatternError, Router};
use targets::{Engine, RuleDef, TargetSpec};

/// A rule write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The rule store refused or failed.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The bus does not exist, or deleting it failed.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// The enabled rules of one bus, compiled.
#[derive(Debug, Default)]
pub struct RuleSet {
    router: Router,
    ids: HashMap<String, u64>,
    names: HashMap<u64, String>,
    next_id: u64,
}

impl RuleSet {
    /// Adds or replaces a rule (it keeps its id while it stays in the set).
    fn upsert(&mut self, name: &str, filter: Arc<Filter>) {
        let id = match self.ids.get(name) {
            Some(id) => *id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.ids.insert(name.to_owned(), id);
                self.names.insert(id, name.to_owned());
                id
            }
        };
        self.router.insert(id, filter);
    }

    fn remove(&mut self, name: &str) {
        if let Some(id) = self.ids.remove(name) {
            self.names.remove(&id);
            self.router.remove(id);
        }
    }

    /// The names of the rules matching an event (its structured-JSON bytes), sorted.
    pub fn matching(&self, event: &[u8]) -> Result<Vec<String>, MatchError> {
        let mut names: Vec<String> = self
            .router
            .matches(event)?
            .into_iter()
            .filter_map(|id| self.names.get(&id).cloned())
            .collect();
        names.sort_unstable();
        Ok(names)
    }
}

/// One bus's set and the lock every write of its rules holds.
#[derive(Debug, Default)]
struct BusRules {
    /// True once the bus is deleted: the set is no longer in [`RuleSets`].
    writes: Mutex<bool>,
    set: RwLock<RuleSet>,
}

/// The enabled rules of each bus as the delivery engine starts with them.
pub type Deliveries = HashMap<String, Vec<(String, RuleDef)>>;

/// The compiled rules of every bus.
#[derive(Debug)]
pub struct RuleSets {
    buses: Arc<Buses>,
    limits: Limits,
    sets: RwLock<HashMap<String, Arc<BusRules>>>,
    /// The delivery engine, once started (after the rules are loaded).
    engine: OnceLock<Engine>,
}

impl RuleSets {
    /// Compiles the stored rules of every bus. A stored rule that no longer compiles (the limits
    /// were lowered) is logged and left out; so are rules of a bus that does not exist.
    pub fn load(buses: Arc<Buses>, limits: Limits) -> Result<(RuleSets, Deliveries), MetaError> {
        let mut sets: HashMap<String, RuleSet> = HashMap::new();
        let mut deliveries: Deliveries = HashMap::new();
        let (mut loaded, mut disabled) = (0usize, 0usize);
        for spec in buses.rules().all()? {
            if buses.get(&spec.bus).is_none() {
                tracing::warn!(bus = %spec.bus, rule = %spec.name, "stored rule of a bus that does not exist; ignored");
                continue;
            }
            if !spec.enabled {
                disabled += 1;
                continue;
            }
            match Filter::parse(&spec.filter, &limits) {
                Ok(filter) => {
                    let filter = Arc::new(filter);
                    sets.entry(spec.bus.clone())
                        .or_default()
                        .upsert(&spec.name, filter.clone());
                    let targets = targets::parse_targets(&spec.targets, "/targets")
                        .unwrap_or_else(|e| {
                            tracing::warn!(bus = %spec.bus, rule = %spec.name, error = %e, "stored rule's targets are not valid; it delivers nowhere until it is saved again");
                            Vec::new()
                        });
                    deliveries
                        .entry(spec.bus.clone())
                        .or_default()
                        .push((spec.name.clone(), RuleDef { filter, targets }));
                    loaded += 1;
                }
                Err(e) => {
                    tracing::warn!(bus = %spec.bus, rule = %spec.name, error = %e, "stored rule's filter does not compile with the current [rules] limits; it matches nothing until it is saved again");
                }
            }
        }
        tracing::info!(rules = loaded, disabled, "rules loaded");
        let sets = sets
            .into_iter()
            .map(|(bus, set)| {
                let entry = BusRules {
                    writes: Mutex::new(false),
                    set: RwLock::new(set),
                };
                (bus, Arc::new(entry))
            })
            .collect();
        let sets = RuleSets {
            buses,
            limits,
            sets: RwLock::new(sets),
            engine: OnceLock::new(),
        };
        Ok((sets, deliveries))
    }

    /// Connects the delivery engine: from now on every rule write reaches it.
    pub fn attach(&self, engine: Engine) {
        let _ = self.engine.set(engine);
    }

    /// Compiles a filter object with the configured limits; errors point into the filter.
    pub fn compile(&self, filter: &serde_json::Value) -> Result<Filter, PatternError> {
        Filter::parse(filter, &self.limits)
    }

    /// The set of an existing bus, created empty on first use.
    fn entry(&self, bus: &str) -> Result<Arc<BusRules>, BusError> {
        if self.buses.get(bus).is_none() {
            return Err(BusError::NotFound(bus.to_owned()));
        }
        if let Some(e) = self.sets.read().unwrap_or_else(|p| p.into_inner()).get(bus) {
            return Ok(e.clone());
        }
        let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
        Ok(sets.entry(bus.to_owned()).or_default().clone())
    }

    /// Runs `write` holding the bus's write lock, on a set that is live and a bus that exists.
    /// `write` gets the "closed" flag to set when it deletes the bus.
    fn locked<T>(
        &self,
        bus: &str,
        write: impl FnOnce(&BusRules, &mut bool) -> Result<T, WriteError>,
    ) -> Result<T, WriteError> {
        loop {
            let entry = self.entry(bus)?;
            let mut closed = entry.writes.lock().unwrap_or_else(|p| p.into_inner());
            if *closed {
                // Deleted while we waited; the map now holds a fresh set (or none).
                continue;
            }
            let result = if self.buses.get(bus).is_none() {
                *closed = true;
                Err(BusError::NotFound(bus.to_owned()).into())
            } else {
                write(&entry, &mut closed)
            };
            if *closed {
                let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
                if sets.get(bus).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
                    sets.remove(bus);
                }
            }
            return result;
        }
    }

    /// Saves a rule whose filter the caller compiled from `update.filter`, and puts it in (or
    /// takes it out of, when disabled) the bus's matcher. Returns the rule and whether it is new.
    pub fn put(
        &self,
        bus: &str,
        name: &str,
        update: RuleUpdate,
        filter: Filter,
        targets: Vec<TargetSpec>,
        if_match: Option<u64>,
    ) -> Result<(RuleSpec, bool), WriteError> {
        let filter = Arc::new(filter);
        self.locked(bus, |entry, _| {
            let (spec, previous) = self.buses.rules().put(bus, name, update, if_match)?;
            let mut set = entry.set.write().unwrap_or_else(|p| p.into_inner());
            if spec.enabled {
                set.upsert(name, filter.clone());
            } else {
                set.remove(name);
            }
            if let Some(engine) = self.engine.get() {
                let def = spec.enabled.then(|| RuleDef { filter, targets });
                engine.change(bus, name, def);
            }
            Ok((spec, previous.is_none()))
        })
    }

    /// Deletes a rule from the store and the matcher.
    pub fn delete(&self, bus: &str, name: &str, if_match: Option<u64>) -> Result<(), WriteError> {
        self.locked(bus, |entry, _| {
            self.buses.rules().delete(bus, name, if_match)?;
            entry
                .set
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(name);
            if let Some(engine) = self.engine.get() {
                engine.change(bus, name, None);
            }
            Ok(())
        })
    }

    /// Deletes a bus (its rules first, then its events) and drops its set.
    pub fn delete_bus(&self, bus: &str, if_match: Option<u64>) -> Result<(), WriteError> {
        self.locked(bus, |_, closed| {
            self.buses.delete(bus, if_match)?;
            *closed = true;
            Ok(())
        })
    }

    /// The names of a bus's enabled rules that match an event (its structured-JSON bytes).
    pub fn matching(&self, bus: &str, event: &[u8]) -> Result<Vec<String>, MatchError> {
        let entry = self
            .sets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(bus)
            .cloned();
        match entry {
            None => Ok(Vec::new()),
            Some(e) => e
                .set
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .matching(event),
        }
    }
}
