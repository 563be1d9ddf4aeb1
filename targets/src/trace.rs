//! The journey of recent events: which rules matched, and per target every attempt and the
//! final state. Held in memory for the last events of each bus (a bounded window, oldest out
//! first); older events are traced from the durable state instead (see `engine`), which knows
//! whether a target matched and how its delivery ended but keeps attempts only for deliveries
//! that failed at least once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::store::Attempt;

/// Where one delivery stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Queued, or its first attempt is running.
    Pending,
    /// The target confirmed it.
    Delivered,
    /// Failed; another attempt is due then.
    Retrying {
        /// RFC 3339.
        next_attempt_at: String,
    },
    /// Given up; kept as a dead letter.
    DeadLettered {
        /// The dead letter's id.
        dead_letter: u64,
        /// Why.
        reason: String,
    },
}

/// One (rule, target) delivery of an event.
#[derive(Debug, Clone, Serialize)]
pub struct TargetTrace {
    /// The rule.
    pub rule: Arc<str>,
    /// The target id.
    pub target: Arc<str>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: DeliveryState,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
}

/// An event's journey.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventTrace {
    /// The rules that matched, in the order the dispatcher found them.
    pub matched_rules: Vec<Arc<str>>,
    /// One entry per (rule, target).
    pub deliveries: Vec<TargetTrace>,
}

struct Inner {
    map: FxHashMap<u64, EventTrace>,
    order: VecDeque<u64>,
}

/// The traces of one bus's recent matched events.
pub struct Traces {
    cap: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces").field("cap", &self.cap).finish()
    }
}

impl Traces {
    /// Keeps the traces of the last `cap` matched events.
    pub fn new(cap: usize) -> Traces {
        Traces {
            cap,
            inner: Mutex::new(Inner {
                map: FxHashMap::default(),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records what matched an event: `(rule, its target ids)`.
    pub fn matched(&self, seq: u64, rules: Vec<(Arc<str>, Vec<Arc<str>>)>) {
        if self.cap == 0 {
            return;
        }
        let mut trace = EventTrace::default();
        for (rule, targets) in rules {
            for target in targets {
                trace.deliveries.push(TargetTrace {
                    rule: rule.clone(),
                    target,
                    state: DeliveryState::Pending,
                    attempts: Vec::new(),
                });
            }
            trace.matched_rules.push(rule);
        }
        let mut inner = self.lock();
        if inner.map.insert(seq, trace).is_none() {
            inner.order.push_back(seq);
        }
        while inner.order.len() > self.cap {
            if let Some(old) = inner.order.pop_front() {
                inner.map.remove(&old);
            }
        }
    }

    /// Updates one delivery of an event: its state, and an attempt if one ended.
    pub fn update(
        &self,
        seq: u64,
        rule: &str,
        target: &str,
        state: DeliveryState,
        attempt: Option<Attempt>,
    ) {
        if self.cap == 0 {
            return;
        }
        let mut inner = self.lock();
        let Some(trace) = inner.map.get_mut(&seq) else {
            return;
        };
        if let Some(d) = trace
            .deliveries
            .iter_mut()
            .find(|d| &*d.rule == rule && &*d.target == target)
        {
            d.state = state;
            d.attempts.extend(attempt);
        }
    }

    /// The trace of an event, if it is still held.
    pub fn get(&self, seq: u64) -> Option<EventTrace> {
        self.lock().map.get(&seq).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn window_keeps_the_newest() {
        let t = Traces::new(2);
        for seq in 1..=3 {
            t.matched(seq, vec![(Arc::from("r"), vec![Arc::from("t")])]);
        }
        assert!(t.get(1).is_none());
        t.update(3, "r", "t", DeliveryState::Delivered, None);
        let tr = t.get(3).unwrap();
        assert_eq!(tr.deliveries[0].state, DeliveryState::Delivered);
        assert_eq!(&*tr.matched_rules[0], "r");
    }
}
