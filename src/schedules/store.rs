//! The schedules: documents in the sled tree `schedules`, firing state in `schedule_state`, and
//! the compiled specs in memory.
//!
//! A firing is recorded in two steps around the append of its event (see [`super::runner`]):
//! `pending` (the planned time and the bus's next sequence) before, `last_fired` after. Both
//! writes are flushed: firings are rare, and the pair is what makes a restart neither lose nor
//! repeat one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bus::meta::{Meta, MetaError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sources::schedule::ScheduleSpec;
use tokio::sync::Notify;

const TREE: &str = "schedules";
const STATE: &str = "schedule_state";

/// A schedule that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The document is invalid at `pointer`.
    #[error("{pointer}: {reason}")]
    Invalid {
        /// Where, as a JSON pointer.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// No such schedule.
    #[error("schedule {0:?} does not exist")]
    NotFound(String),
    /// `If-Match` names another version.
    #[error("schedule {name:?} is not at the version If-Match names")]
    PreconditionFailed {
        /// The schedule.
        name: String,
        /// Its version, if it exists.
        current: Option<u64>,
    },
    /// The store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// A stored schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleDoc {
    /// Its name.
    pub name: String,
    /// The spec in its public form (with its anchor).
    pub spec: Value,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The ETag.
    pub version: u64,
}

/// A firing being made: its planned time and the bus's next sequence before its append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The planned instant.
    pub at: DateTime<Utc>,
    /// Where its event, if appended, is: at or after this sequence.
    pub from: u64,
}

/// How far a schedule has fired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The watermark: every planned instant at or before it is decided (fired, or skipped by
    /// the catch-up policy, or passed while the schedule was disabled).
    pub mark: Option<DateTime<Utc>>,
    /// The planned instant of the last firing whose event is on the bus.
    pub last_fired: Option<DateTime<Utc>>,
    /// A firing that was started and may or may not have appended.
    pub pending: Option<Pending>,
}

/// A schedule in memory.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its document.
    pub doc: ScheduleDoc,
    /// Compiled.
    pub spec: Arc<ScheduleSpec>,
    /// Its firing state.
    pub state: State,
}

impl Entry {
    /// The schedule as the API shows it.
    pub fn public(&self, now: DateTime<Utc>) -> Value {
        let mut v = self.doc.spec.clone();
        // An overdue firing (about to happen) or the next planned one.
        let plan = self.spec.plan(self.state.mark, now);
        let next = plan.fire.first().copied().or(plan.next);
        if let Value::Object(m) = &mut v {
            m.insert("name".into(), json!(self.doc.name));
            m.insert("created_at".into(), json!(self.doc.created_at));
            m.insert("updated_at".into(), json!(self.doc.updated_at));
            m.insert("version".into(), json!(self.doc.version));
            m.insert(
                "last_fired".into(),
                json!(self.state.last_fired.map(rfc3339)),
            );
            m.insert("next_firing".into(), json!(next.map(rfc3339)));
        }
        v
    }
}

/// An instant as the API writes it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The body without the members answers add (so a document read with GET can be written back).
fn writable(body: &Value) -> Value {
    let mut body = body.clone();
    if let Value::Object(m) = &mut body {
        for k in [
            "name",
            "created_at",
            "updated_at",
            "version",
            "last_fired",
            "next_firing",
        ] {
            m.remove(k);
        }
    }
    body
}

fn compile(doc: &ScheduleDoc) -> Result<ScheduleSpec, ScheduleError> {
    let created = DateTime::parse_from_rfc3339(&doc.created_at)
        .map(|t| t.to_utc())
        .unwrap_or_else(|_| Utc::now());
    ScheduleSpec::parse(&doc.spec, created).map_err(|e| ScheduleError::Invalid {
        pointer: e.pointer,
        reason: e.reason,
    })
}

/// The schedules.
pub struct Schedules {
    meta: Meta,
    writes: Mutex<()>,
    live: Mutex<BTreeMap<String, Entry>>,
    /// Wakes the runner after a change.
    pub(super) changed: Notify,
}

impl std::fmt::Debug for Schedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schedules")
    }
}

impl Schedules {
    /// Loads every stored schedule and its state. One that no longer compiles is logged and
    /// left out.
    pub fn load(meta: Meta) -> Result<Schedules, ScheduleError> {
        let mut live = BTreeMap::new();
        for doc in meta.list::<ScheduleDoc>(TREE)? {
            match compile(&doc) {
                Ok(spec) => {
                    let state: State = meta.get(STATE, &doc.name)?.unwrap_or_default();
                    live.insert(
                        doc.name.clone(),
                        Entry {
                            doc,
                            spec: Arc::new(spec),
                            state,
                        },
                    );
                }
                Err(e) => {
                    tracing::error!(schedule = %doc.name, error = %e, "a stored schedule does not compile; it will not fire until it is fixed");
                }
            }
        }
        Ok(Schedules {
            meta,
            writes: Mutex::new(()),
            live: Mutex::new(live),
            changed: Notify::new(),
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One schedule.
    pub fn get(&self, name: &str) -> Option<Entry> {
        self.live().get(name).cloned()
    }

    /// Every schedule, in name order.
    pub fn all(&self) -> Vec<Entry> {
        self.live().values().cloned().collect()
    }

    /// Up to `limit` schedules sorted after `after`.
    pub fn page(&self, after: &str, limit: usize) -> Vec<Entry> {
        use std::ops::Bound;
        self.live()
            .range::<str, _>((
                if after.is_empty() {
                    Bound::Unbounded
                } else {
                    Bound::Excluded(after)
                },
                Bound::Unbounded,
            ))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// The names of the schedules that emit to `bus`.
    pub fn using_bus(&self, bus: &str) -> Vec<String> {
        self.live()
            .values()
            .filter(|e| e.spec.bus == bus)
            .map(|e| e.doc.name.clone())
            .collect()
    }

    /// Creates or replaces a schedule at `now`; `bus_exists` is asked about its bus. A
    /// replacement keeps the firing state (what fired stays fired) and, unless the body names
    /// one, the anchor of a rate.
    pub fn put(
        &self,
        name: &str,
        body: &Value,
        if_match: Option<u64>,
        now: DateTime<Utc>,
        bus_exists: impl Fn(&str) -> bool,
    ) -> Result<(Entry, bool), ScheduleError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.get(name);
        if let Some(want) = if_match
            && old.as_ref().map(|o| o.doc.version) != Some(want)
        {
            return Err(ScheduleError::PreconditionFailed {
                name: name.to_owned(),
                current: old.map(|o| o.doc.version),
            });
        }
        let body = &writable(body);
        let created = old
            .as_ref()
            .and_then(|o| DateTime::parse_from_rfc3339(&o.doc.created_at).ok())
            .map_or(now, |t| t.to_utc());
        let spec = ScheduleSpec::parse(body, created).map_err(|e| ScheduleError::Invalid {
            pointer: e.pointer,
            reason: e.reason,
        })?;
        if !bus_exists(&spec.bus) {
            return Err(ScheduleError::Invalid {
                pointer: "/bus".into(),
                reason: format!("bus {:?} does not exist; create it first", spec.bus),
            });
        }
        let doc = ScheduleDoc {
            name: name.to_owned(),
            spec: spec.to_json(),
            created_at: rfc3339(created),
            updated_at: rfc3339(now),
            version: old.as_ref().map_or(1, |o| o.doc.version + 1),
        };
        self.meta.put(TREE, name, &doc)?;
        let mut state = old.as_ref().map(|o| o.state).unwrap_or_default();
        if spec.enabled && old.as_ref().is_some_and(|o| !o.spec.enabled) {
            // Re-enabled: the disabled period is not an outage to catch up.
            state.mark = Some(state.mark.map_or(now, |m| m.max(now)));
            self.meta.put(STATE, name, &state)?;
        }
        let entry = Entry {
            doc,
            spec: Arc::new(spec),
            state,
        };
        self.live().insert(name.to_owned(), entry.clone());
        self.changed.notify_one();
        Ok((entry, old.is_none()))
    }

    /// Deletes a schedule and its state.
    pub fn delete(&self, name: &str, if_match: Option<u64>) -> Result<(), ScheduleError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(old) = self.get(name) else {
            return Err(ScheduleError::NotFound(name.to_owned()));
        };
        if let Some(want) = if_match
            && old.doc.version != want
        {
            return Err(ScheduleError::PreconditionFailed {
                name: name.to_owned(),
                current: Some(old.doc.version),
            });
        }
        self.meta.remove(TREE, name)?;
        self.meta.remove(STATE, name)?;
        self.live().remove(name);
        self.changed.notify_one();
        Ok(())
    }

    /// Records a schedule's firing state (flushed), unless it was deleted meanwhile.
    pub(super) fn record(&self, name: &str, state: State) -> Result<(), MetaError> {
        let _w = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        let mut live = self.live();
        let Some(e) = live.get_mut(name) else {
            return Ok(());
        };
        self.meta.put(STATE, name, &state)?;
        e.state = state;
        Ok(())
    }
}
