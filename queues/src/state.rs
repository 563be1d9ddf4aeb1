//! The consumer state of one queue, in memory, and the journal records that rebuild it.
//!
//! Messages live in the queue's log; this is what consumers did with them. A message is one of:
//! - *fresh*: at or above `cursor` (and below the log's end): never received. Fresh messages take
//!   no memory, as RocketMQ's consume offset (they are the bulk of any backlog).
//! - an *entry* below `cursor`: visible again (its visibility timeout passed, it was nacked, or
//!   redriven), in flight until a deadline, delayed until a time (nacked with a delay), a dead
//!   letter, or being moved to another queue's dead letters;
//! - *done* (below `cursor` and not an entry): acknowledged, purged, expired or moved away.
//!
//! Every change appends a record to `pending` under the same lock, so the journal's order is the
//! order of the changes. Records (little endian), each a tag byte then:
//! - `STATE` kinds `IN_FLIGHT`/`DELAYED`/`DEAD`: `seq u64, count u32, nonce u32, time i64` (the
//!   deadline, the time it becomes visible — 0 for visible now — or when it died), 25 bytes;
//! - `DONE`: `seq u64`;
//! - `BASE`: `cursor u64`, first in a compacted journal: below it, what is not an entry is done.
//!
//! Times are wall-clock microseconds (the log's [`bus::log::Clock`]), so a deadline recorded
//! before a crash still means the same moment after it.

use std::collections::{BTreeMap, BTreeSet};

/// What a message in the entries is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Visible,
    InFlight,
    Delayed,
    Dead,
    /// Being appended to another queue (its dead-letter target); not receivable meanwhile.
    Moving,
}

/// One message below the cursor that is not done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Receives so far.
    pub count: u32,
    /// Drawn at the last receive (0 before any).
    pub nonce: u32,
    pub phase: Phase,
    /// Deadline (in flight), visible-at (delayed) or dead-at (dead); 0 otherwise.
    pub time: i64,
}

const IN_FLIGHT: u8 = 1;
const DELAYED: u8 = 2;
const DEAD: u8 = 3;
const DONE: u8 = 4;
const BASE: u8 = 5;

/// One receive handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    pub seq: u64,
    pub count: u32,
    pub nonce: u32,
}

/// What one [`State::take`] is asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Take {
    pub now: i64,
    /// Most messages to hand out.
    pub max: usize,
    /// The log's next sequence: fresh messages are below it.
    pub log_end: u64,
    pub max_receives: u32,
    /// The visibility deadline of what is handed out.
    pub deadline: i64,
    /// What happens to a message past its receive limit.
    pub action: DeadAction,
}

/// What one [`State::take`] did.
#[derive(Debug, Default)]
pub(crate) struct Took {
    /// Handed out.
    pub taken: Vec<Taken>,
    /// Marked `Moving`, for the caller to append to the dead-letter queue.
    pub moves: Vec<u64>,
    /// Dead-lettered (moves included).
    pub dead: u64,
}

/// What to do with a message that reached its receive limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadAction {
    Keep,
    Drop,
    /// Mark it `Moving`; the caller appends it elsewhere and then calls [`State::moved`].
    Move,
}

/// Why a receipt does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Stale,
    DeadLettered,
    Gone,
    Invalid,
}

/// Counts for `GET /v1/queues/{name}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Receivable now (fresh or visible again).
    pub visible: u64,
    /// Received and not yet acknowledged, within their visibility timeout.
    pub in_flight: u64,
    /// Nacked with a delay that has not passed.
    pub delayed: u64,
    /// In the dead-letter list.
    pub dead: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// The first fresh sequence.
    pub cursor: u64,
    entries: BTreeMap<u64, Entry>,
    visible: BTreeSet<u64>,
    /// Deadlines of in-flight and delayed entries.
    timers: BTreeSet<(i64, u64)>,
    dead: BTreeSet<u64>,
    in_flight: u64,
    delayed: u64,
    /// Journal records not yet written.
    pub pending: Vec<u8>,
    /// Records appended since open (the journal's generation: durable through `synced`).
    pub generation: u64,
}

impl State {
    /// A state where everything below `cursor` is done.
    pub fn new(cursor: u64) -> State {
        State {
            cursor,
            ..State::default()
        }
    }

    fn emit_state(&mut self, seq: u64, e: &Entry) {
        let tag = match e.phase {
            Phase::InFlight => IN_FLIGHT,
            Phase::Dead => DEAD,
            // A message being moved is written as visible: after a crash it is moved again.
            Phase::Visible | Phase::Moving => DELAYED,
            Phase::Delayed => DELAYED,
        };
        let time = match e.phase {
            Phase::Visible | Phase::Moving => 0,
            _ => e.time,
        };
        self.pending.push(tag);
        self.pending.extend_from_slice(&seq.to_le_bytes());
        self.pending.extend_from_slice(&e.count.to_le_bytes());
        self.pending.extend_from_slice(&e.nonce.to_le_bytes());
        self.pending.extend_from_slice(&time.to_le_bytes());
        self.generation += 1;
    }

    fn emit_done(&mut self, seq: u64) {
        self.pending.push(DONE);
        self.pending.extend_from_slice(&seq.to_le_bytes());
        self.generation += 1;
    }

    /// Takes `seq`'s entry out of every index.
    fn unindex(&mut self, seq: u64) -> Option<Entry> {
        let e = self.entries.remove(&seq)?;
        match e.phase {
            Phase::Visible => {
                self.visible.remove(&seq);
            }
            Phase::InFlight => {
                self.timers.remove(&(e.time, seq));
                self.in_flight -= 1;
            }
            Phase::Delayed => {
                self.timers.remove(&(e.time, seq));
                self.delayed -= 1;
            }
            Phase::Dead => {
                self.dead.remove(&seq);
            }
            Phase::Moving => {}
        }
        Some(e)
    }

    /// Puts an entry in the indexes for its phase.
    fn index(&mut self, seq: u64, e: Entry) {
        match e.phase {
            Phase::Visible => {
                self.visible.insert(seq);
            }
            Phase::InFlight => {
                self.timers.insert((e.time, seq));
                self.in_flight += 1;
            }
            Phase::Delayed => {
                self.timers.insert((e.time, seq));
                self.delayed += 1;
            }
            Phase::Dead => {
                self.dead.insert(seq);
            }
            Phase::Moving => {}
        }
        self.entries.insert(seq, e);
    }

    fn set(&mut self, seq: u64, e: Entry) {
        self.unindex(seq);
        self.index(seq, e);
        self.emit_state(seq, &e);
    }

    /// Makes in-flight messages past their deadline and delayed ones past their time visible.
    pub fn expire(&mut self, now: i64) {
        while let Some(&(t, seq)) = self.timers.first() {
            if t > now {
                break;
            }
            if let Some(mut e) = self.unindex(seq) {
                e.phase = Phase::Visible;
                e.time = 0;
                self.index(seq, e);
            } else {
                self.timers.remove(&(t, seq));
            }
        }
    }

    /// The next time [`State::expire`] would change something.
    pub fn next_timer(&self) -> Option<i64> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Hands out up to `max` messages below `log_end`: those visible again first (lowest sequence
    /// first), then fresh ones. A message already received `max_receives` times is not handed out
    /// but dead-lettered per `dead`; those to move are returned beside the taken ones.
    pub fn take(&mut self, t: &Take, mut nonce: impl FnMut() -> u32) -> Took {
        let Take {
            now,
            max,
            log_end,
            max_receives,
            deadline,
            action,
        } = *t;
        self.expire(now);
        let mut out = Vec::new();
        let mut moves = Vec::new();
        let mut dead = 0;
        while out.len() < max {
            let (seq, mut e) = if let Some(seq) = self.visible.pop_first() {
                match self.entries.get(&seq) {
                    Some(e) => (seq, *e),
                    None => continue,
                }
            } else if self.cursor < log_end {
                let seq = self.cursor;
                self.cursor += 1;
                let e = Entry {
                    count: 0,
                    nonce: 0,
                    phase: Phase::Visible,
                    time: 0,
                };
                self.entries.insert(seq, e);
                self.visible.insert(seq);
                (seq, e)
            } else {
                break;
            };
            if e.count >= max_receives {
                dead += 1;
                match action {
                    DeadAction::Keep => {
                        e.phase = Phase::Dead;
                        e.time = now;
                        self.set(seq, e);
                    }
                    DeadAction::Drop => {
                        self.unindex(seq);
                        self.emit_done(seq);
                    }
                    DeadAction::Move => {
                        self.unindex(seq);
                        e.phase = Phase::Moving;
                        self.index(seq, e);
                        moves.push(seq);
                    }
                }
                continue;
            }
            e.count += 1;
            e.nonce = nonce().max(1);
            e.phase = Phase::InFlight;
            e.time = deadline;
            self.set(seq, e);
            out.push(Taken {
                seq,
                count: e.count,
                nonce: e.nonce,
            });
        }
        Took {
            taken: out,
            moves,
            dead,
        }
    }

    /// Whether a receipt names the current receive of a live message.
    fn current(&self, seq: u64, count: u32, nonce: u32) -> Result<Entry, Refusal> {
        match self.entries.get(&seq) {
            None if seq < self.cursor => Err(Refusal::Gone),
            None => Err(Refusal::Invalid),
            Some(e) if e.count != count || e.nonce != nonce => {
                if count > e.count {
                    Err(Refusal::Invalid)
                } else {
                    Err(Refusal::Stale)
                }
            }
            Some(e) if matches!(e.phase, Phase::Dead | Phase::Moving) => Err(Refusal::DeadLettered),
            Some(e) => Ok(*e),
        }
    }

    /// Acknowledges: the message is done. A message already done acknowledges again.
    pub fn ack(&mut self, seq: u64, count: u32, nonce: u32) -> Result<(), Refusal> {
        match self.current(seq, count, nonce) {
            Ok(_) => {
                self.unindex(seq);
                self.emit_done(seq);
                Ok(())
            }
            Err(Refusal::Gone) => Ok(()),
            Err(r) => Err(r),
        }
    }

    /// Makes the message visible at `at` (now or later).
    pub fn nack(
        &mut self,
        seq: u64,
        count: u32,
        nonce: u32,
        now: i64,
        at: i64,
    ) -> Result<(), Refusal> {
        let mut e = self.current(seq, count, nonce)?;
        if at <= now {
            e.phase = Phase::Visible;
            e.time = 0;
        } else {
            e.phase = Phase::Delayed;
            e.time = at;
        }
        self.set(seq, e);
        Ok(())
    }

    /// Hides the message until `deadline` (it is in flight again if it had become visible).
    pub fn extend(
        &mut self,
        seq: u64,
        count: u32,
        nonce: u32,
        deadline: i64,
    ) -> Result<(), Refusal> {
        let mut e = self.current(seq, count, nonce)?;
        e.phase = Phase::InFlight;
        e.time = deadline;
        self.set(seq, e);
        Ok(())
    }

    /// A message expired by retention (or unreadable): done.
    pub fn drop_message(&mut self, seq: u64) {
        if self.unindex(seq).is_some() {
            self.emit_done(seq);
        }
    }

    /// A moved message arrived in the other queue: done here.
    pub fn moved(&mut self, seq: u64) {
        self.drop_message(seq);
    }

    /// A move failed (the other queue is gone): keep it as a dead letter here.
    pub fn keep_dead(&mut self, seq: u64, now: i64) {
        if let Some(mut e) = self.entries.get(&seq).copied() {
            e.phase = Phase::Dead;
            e.time = now;
            self.set(seq, e);
        }
    }

    /// Dead letters after `after`, in sequence order.
    pub fn dead_page(&self, after: u64, limit: usize) -> Vec<(u64, Entry)> {
        self.dead
            .range(after.saturating_add(1)..)
            .take(limit)
            .filter_map(|s| self.entries.get(s).map(|e| (*s, *e)))
            .collect()
    }

    /// Every dead letter's sequence.
    pub fn dead_all(&self) -> Vec<u64> {
        self.dead.iter().copied().collect()
    }

    /// Puts a dead letter back as a fresh message (receive count 0).
    pub fn redrive(&mut self, seq: u64) -> bool {
        match self.entries.get(&seq) {
            Some(e) if e.phase == Phase::Dead => {
                let e = Entry {
                    count: 0,
                    nonce: 0,
                    phase: Phase::Visible,
                    time: 0,
                };
                self.set(seq, e);
                true
            }
            _ => false,
        }
    }

    /// Removes a dead letter.
    pub fn purge(&mut self, seq: u64) -> bool {
        match self.entries.get(&seq) {
            Some(e) if e.phase == Phase::Dead => {
                self.unindex(seq);
                self.emit_done(seq);
                true
            }
            _ => false,
        }
    }

    /// Forgets everything below `first` (the log no longer has it); no record is needed: the
    /// journal's replay applies the same bound.
    pub fn drop_below(&mut self, first: u64) {
        let below: Vec<u64> = self.entries.range(..first).map(|(s, _)| *s).collect();
        for s in below {
            self.unindex(s);
        }
        self.cursor = self.cursor.max(first);
    }

    /// Everything below this is done: the log may release it.
    pub fn floor(&self) -> u64 {
        self.entries
            .first_key_value()
            .map_or(self.cursor, |(s, _)| (*s).min(self.cursor))
    }

    pub fn stats(&self, log_end: u64) -> Stats {
        Stats {
            visible: self.visible.len() as u64 + log_end.saturating_sub(self.cursor),
            in_flight: self.in_flight,
            delayed: self.delayed,
            dead: self.dead.len() as u64,
        }
    }

    /// Records that rebuild this state alone (for compaction).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut s = State::default();
        s.pending.reserve(9 + self.entries.len() * 25);
        s.pending.push(BASE);
        s.pending.extend_from_slice(&self.cursor.to_le_bytes());
        for (seq, e) in &self.entries {
            s.emit_state(*seq, e);
        }
        s.pending
    }

    /// Rebuilds the state from journal frames, given the log's retained range.
    pub fn replay<'a>(
        frames: impl Iterator<Item = &'a [u8]>,
        log_first: u64,
        log_end: u64,
    ) -> Result<State, String> {
        let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
        let mut gone: BTreeSet<u64> = BTreeSet::new();
        let (mut base, mut cursor) = (0u64, 0u64);
        let mut empty = true;
        for (f, frame) in frames.enumerate() {
            let mut at = 0usize;
            while at < frame.len() {
                let bad = || format!("frame {f}: record at byte {at} is cut short");
                let tag = frame[at];
                let u64_at = |i: usize| -> Option<u64> {
                    frame
                        .get(i..i + 8)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_le_bytes)
                };
                let u32_at = |i: usize| -> Option<u32> {
                    frame
                        .get(i..i + 4)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_le_bytes)
                };
                let seq = u64_at(at + 1).ok_or_else(bad)?;
                empty = false;
                match tag {
                    IN_FLIGHT | DELAYED | DEAD => {
                        let count = u32_at(at + 9).ok_or_else(bad)?;
                        let nonce = u32_at(at + 13).ok_or_else(bad)?;
                        let time = u64_at(at + 17).ok_or_else(bad)? as i64;
                        let (phase, time) = match tag {
                            IN_FLIGHT => (Phase::InFlight, time),
                            DEAD => (Phase::Dead, time),
                            _ if time == 0 => (Phase::Visible, 0),
                            _ => (Phase::Delayed, time),
                        };
                        entries.insert(
                            seq,
                            Entry {
                                count,
                                nonce,
                                phase,
                                time,
                            },
                        );
                        gone.remove(&seq);
                        cursor = cursor.max(seq + 1);
                        at += 25;
                    }
                    DONE => {
                        entries.remove(&seq);
                        if seq >= base {
                            gone.insert(seq);
                        }
                        cursor = cursor.max(seq + 1);
                        at += 9;
                    }
                    BASE => {
                        entries.clear();
                        gone.clear();
                        base = seq;
                        cursor = seq;
                        at += 9;
                    }
                    t => return Err(format!("frame {f}: unknown record type {t} at byte {at}")),
                }
            }
        }
        if empty {
            base = log_first;
            cursor = log_first;
        }
        let mut st = State::new(0);
        // Below the cursor, neither an entry nor done: cannot happen (fresh messages are taken in
        // order and each take writes its record under the same lock), but if a journal says so,
        // the safe reading is "never received".
        for seq in base.max(log_first)..cursor.min(log_end) {
            if !entries.contains_key(&seq) && !gone.contains(&seq) {
                entries.insert(
                    seq,
                    Entry {
                        count: 0,
                        nonce: 0,
                        phase: Phase::Visible,
                        time: 0,
                    },
                );
            }
        }
        st.cursor = cursor.clamp(log_first, log_end.max(log_first));
        for (seq, e) in entries {
            if seq >= log_first && seq < st.cursor {
                st.index(seq, e);
            }
        }
        Ok(st)
    }
}
