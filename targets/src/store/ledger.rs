//! A target's journal, read: the retries waiting and the dead letters kept.
//!
//! Records are JSON in journal frames (they are written on failures only, so clarity wins over
//! size). A retry is identified by an id of its own (the same event may be redriven and retried
//! again); each `retry` record of an id carries its new schedule and only the attempts made since
//! the previous record (so a delivery failing 185 times writes each attempt once, not the whole
//! history each time), replay appends them, and `done` or `dead` ends it. Compaction writes one
//! record per live retry with all its attempts.
//!
//! The worker owns the waiting retries at run time; the ledger keeps the dead letters (which the
//! API reads and changes) and hands redriven ones to the worker through [`Ledger::redriven`].

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::journal::Journal;

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it started (RFC 3339, UTC).
    pub at: String,
    /// The HTTP status, when there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: f64,
    /// What went wrong, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What else happened (a bus target's append, a function's reply or stderr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A delivery waiting to be retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetryRec {
    /// The retry's id within its target.
    pub id: u64,
    /// The event's sequence in the bus.
    pub seq: u64,
    /// The attempts since the previous record of this id (all of them in the first record after
    /// a compaction; none for a redriven dead letter).
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due (Unix milliseconds).
    pub due_ms: i64,
    /// The delay level it waits on.
    pub level: u8,
    /// Since when the retry policy's `max_age` counts (Unix milliseconds): the event's ingestion,
    /// or the redrive.
    pub since_ms: i64,
    /// The event itself when it is not read from the bus log (a redriven dead letter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Box<RawValue>>,
}

/// A delivery that will not be attempted again unless redriven.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its id within the target, increasing.
    pub id: u64,
    /// The event's sequence in the bus.
    pub sequence: u64,
    /// The rule.
    pub rule: String,
    /// The target id.
    pub target: String,
    /// Why it was given up.
    pub reason: String,
    /// When (RFC 3339, UTC).
    pub dead_lettered_at: String,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// The event in structured JSON (`null` if it had left the bus log).
    pub event: Box<RawValue>,
}

/// A journal record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rec {
    /// A retry was scheduled (or rescheduled).
    Retry(RetryRec),
    /// A retry ended: delivered (or dropped).
    Done {
        /// The retry id.
        id: u64,
    },
    /// A delivery was dead-lettered; `retry` is the retry it ends, if it was one.
    Dead {
        /// The dead letter.
        letter: DeadLetter,
        /// The retry id it ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry: Option<u64>,
    },
    /// Dead letters removed (purged or redriven).
    Remove {
        /// Their ids.
        ids: Vec<u64>,
    },
}

impl Rec {
    /// The record as a journal payload.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these types cannot fail (string keys, no custom serializers).
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A target's dead letters and journal.
#[derive(Debug)]
pub struct Ledger {
    /// The journal file.
    pub journal: Journal,
    /// Dead letters by id.
    pub dead: BTreeMap<u64, DeadLetter>,
    /// The next dead-letter id.
    pub next_dead: u64,
    /// The next retry id.
    pub next_retry: u64,
    /// Redriven dead letters the worker has not taken yet.
    pub redriven: Vec<RetryRec>,
}

impl Ledger {
    /// Opens the journal at `path` and replays it: the ledger, and the retries still waiting
    /// (by id).
    pub fn open(path: &Path) -> io::Result<(Ledger, BTreeMap<u64, RetryRec>)> {
        let (journal, frames) = Journal::open(path)?;
        let mut retries: BTreeMap<u64, RetryRec> = BTreeMap::new();
        let mut dead = BTreeMap::new();
        let (mut next_dead, mut next_retry) = (1u64, 1u64);
        for (i, frame) in frames.iter().enumerate() {
            let rec: Rec = serde_json::from_slice(frame).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: frame {i} is not a journal record: {e}", path.display()),
                )
            })?;
            match rec {
                Rec::Retry(r) => {
                    next_retry = next_retry.max(r.id + 1);
                    match retries.get_mut(&r.id) {
                        Some(known) => {
                            let RetryRec {
                                attempts,
                                due_ms,
                                level,
                                since_ms,
                                event,
                                ..
                            } = r;
                            known.attempts.extend(attempts);
                            known.due_ms = due_ms;
                            known.level = level;
                            known.since_ms = since_ms;
                            if event.is_some() {
                                known.event = event;
                            }
                        }
                        None => {
                            retries.insert(r.id, r);
                        }
                    }
                }
                Rec::Done { id } => {
                    retries.remove(&id);
                }
                Rec::Dead { letter, retry } => {
                    if let Some(id) = retry {
                        retries.remove(&id);
                    }
                    next_dead = next_dead.max(letter.id + 1);
                    dead.insert(letter.id, letter);
                }
                Rec::Remove { ids } => {
                    for id in ids {
                        dead.remove(&id);
                    }
                }
            }
        }
        Ok((
            Ledger {
                journal,
                dead,
                next_dead,
                next_retry,
                redriven: Vec::new(),
            },
            retries,
        ))
    }

    /// Appends a record to the journal.
    pub fn append(&mut self, rec: &Rec) -> io::Result<()> {
        self.journal.append(&rec.encode())
    }

    /// Records a dead letter (its id is assigned here) and returns the id.
    pub fn bury(&mut self, mut letter: DeadLetter, retry: Option<u64>) -> io::Result<u64> {
        letter.id = self.next_dead;
        self.next_dead += 1;
        let rec = Rec::Dead {
            letter: letter.clone(),
            retry,
        };
        self.append(&rec)?;
        let id = letter.id;
        self.dead.insert(id, letter);
        Ok(id)
    }

    /// Dead letters after `after`, at most `limit`.
    pub fn list(&self, after: u64, limit: usize) -> Vec<&DeadLetter> {
        self.dead
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(_, d)| d)
            .collect()
    }

    /// The ids of `ids` that are dead letters (all of them when `None`).
    fn existing(&self, ids: Option<&[u64]>) -> Vec<u64> {
        match ids {
            None => self.dead.keys().copied().collect(),
            Some(ids) => ids
                .iter()
                .copied()
                .filter(|i| self.dead.contains_key(i))
                .collect(),
        }
    }

    /// Removes dead letters (all when `ids` is `None`), durably; returns how many.
    pub fn purge(&mut self, ids: Option<&[u64]>) -> io::Result<usize> {
        let ids = self.existing(ids);
        if ids.is_empty() {
            return Ok(0);
        }
        self.append(&Rec::Remove { ids: ids.clone() })?;
        self.journal.sync()?;
        for id in &ids {
            self.dead.remove(id);
        }
        Ok(ids.len())
    }

    /// Turns dead letters (all when `ids` is `None`) into retries due now, durably; the worker
    /// takes them from [`Ledger::redriven`]. Returns how many.
    pub fn redrive(&mut self, ids: Option<&[u64]>, now_ms: i64) -> io::Result<usize> {
        let ids = self.existing(ids);
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let Some(letter) = self.dead.get(id) else {
                continue;
            };
            let rec = RetryRec {
                id: self.next_retry,
                seq: letter.sequence,
                attempts: Vec::new(),
                due_ms: now_ms,
                level: 0,
                since_ms: now_ms,
                event: Some(letter.event.clone()),
            };
            self.next_retry += 1;
            self.append(&Rec::Retry(rec.clone()))?;
            out.push(rec);
        }
        if out.is_empty() {
            return Ok(0);
        }
        self.append(&Rec::Remove { ids: ids.clone() })?;
        self.journal.sync()?;
        for id in &ids {
            self.dead.remove(id);
        }
        let n = out.len();
        self.redriven.extend(out);
        Ok(n)
    }

    /// Replaces the journal with the live state: `retries` (encoded retry records) and the dead
    /// letters.
    pub fn compact(&mut self, retries: &[Vec<u8>]) -> io::Result<()> {
        let dead: Vec<Vec<u8>> = self
            .dead
            .values()
            .map(|d| {
                Rec::Dead {
                    letter: d.clone(),
                    retry: None,
                }
                .encode()
            })
            .collect();
        let pending: Vec<Vec<u8>> = self
            .redriven
            .iter()
            .map(|r| Rec::Retry(r.clone()).encode())
            .collect();
        self.journal.rewrite(
            retries
                .iter()
                .chain(pending.iter())
                .chain(dead.iter())
                .map(Vec::as_slice),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn letter(seq: u64) -> DeadLetter {
        DeadLetter {
            id: 0,
            sequence: seq,
            rule: "r".into(),
            target: "t".into(),
            reason: "status 400".into(),
            dead_lettered_at: "2026-01-01T00:00:00Z".into(),
            attempts: vec![],
            event: RawValue::from_string("{\"id\":\"x\"}".into()).unwrap(),
        }
    }

    #[test]
    fn replay_gives_live_retries_and_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        {
            let (mut l, retries) = Ledger::open(&path).unwrap();
            assert!(retries.is_empty());
            for id in 1..=3 {
                let r = RetryRec {
                    id,
                    seq: id * 10,
                    attempts: vec![],
                    due_ms: 0,
                    level: 0,
                    since_ms: 0,
                    event: None,
                };
                l.append(&Rec::Retry(r)).unwrap();
            }
            l.append(&Rec::Done { id: 1 }).unwrap();
            // A second record of retry 3: one more attempt, a new schedule.
            let attempt = Attempt {
                at: "2026-01-01T00:00:01Z".into(),
                status: Some(503),
                latency_ms: 1.0,
                error: Some("status 503".into()),
                detail: None,
            };
            l.append(&Rec::Retry(RetryRec {
                id: 3,
                seq: 30,
                attempts: vec![attempt.clone()],
                due_ms: 7,
                level: 1,
                since_ms: 0,
                event: None,
            }))
            .unwrap();
            l.append(&Rec::Retry(RetryRec {
                id: 3,
                seq: 30,
                attempts: vec![attempt],
                due_ms: 9,
                level: 2,
                since_ms: 0,
                event: None,
            }))
            .unwrap();
            l.bury(letter(20), Some(2)).unwrap();
            l.bury(letter(40), None).unwrap();
            assert_eq!(l.purge(Some(&[2])).unwrap(), 1);
            l.journal.sync().unwrap();
        }
        let (mut l, retries) = Ledger::open(&path).unwrap();
        assert_eq!(retries.keys().copied().collect::<Vec<_>>(), vec![3]);
        let r3 = &retries[&3];
        assert_eq!(
            (r3.attempts.len(), r3.due_ms, r3.level),
            (2, 9, 2),
            "attempts accumulate"
        );
        assert_eq!(
            l.list(0, 10).iter().map(|d| d.sequence).collect::<Vec<_>>(),
            vec![20]
        );
        assert_eq!(l.next_dead, 3);
        assert_eq!(l.redrive(None, 5).unwrap(), 1);
        assert_eq!(l.redriven[0].seq, 20);
        assert!(l.redriven[0].event.is_some());
        drop(l);
        let (l, retries) = Ledger::open(&path).unwrap();
        assert!(l.dead.is_empty());
        assert_eq!(retries.len(), 2);
    }
}
