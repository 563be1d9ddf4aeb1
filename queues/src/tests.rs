//! The queue's semantics, through the public API on real files, with a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bus::log::ManualClock;
use bytes::Bytes;
use serde_json::json;

use super::*;

const T0: i64 = 1_800_000_000_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    meta: Meta,
    clock: Arc<ManualClock>,
    queues: Queues,
}

fn cfg(clock: &Arc<ManualClock>) -> QueuesConfig {
    QueuesConfig {
        segment_bytes: 4096,
        fsync: FsyncPolicy::Always,
        clock: clock.clone(),
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let meta = Meta::open(&dir.path().join("meta")).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let path = dir.path().join("queues");
    let queues = Queues::open(&path, meta.clone(), cfg(&clock)).unwrap();
    Fixture {
        _dir: dir,
        path,
        meta,
        clock,
        queues,
    }
}

impl Fixture {
    fn reopen(&mut self) {
        self.queues.close().unwrap();
        self.queues = Queues::open(&self.path, self.meta.clone(), cfg(&self.clock)).unwrap();
    }
}

fn event(n: u64) -> Bytes {
    Bytes::from(
        json!({"specversion": "1.0", "id": format!("m{n}"), "source": "/t", "type": "t", "data": {"n": n}})
            .to_string(),
    )
}

async fn send(q: &Queue, range: std::ops::Range<u64>) -> Vec<u64> {
    let bodies: Vec<Bytes> = range.map(event).collect();
    q.send(&bodies).await.unwrap()
}

async fn recv(q: &Queue, max: usize) -> Vec<Received> {
    q.receive(max, Duration::ZERO, None).await.unwrap()
}

fn receipts(r: &[Received]) -> Vec<String> {
    r.iter().map(|m| m.receipt.clone()).collect()
}

fn ids(r: &[Received]) -> Vec<String> {
    r.iter().map(|m| m.message_id.clone()).collect()
}

#[tokio::test]
async fn visibility_expiry_redelivers_and_old_receipts_go_stale() {
    let f = fixture();
    f.queues
        .put("q", &json!({"visibility_timeout": "30s"}), None)
        .unwrap();
    let q = f.queues.queue("q").unwrap();
    send(&q, 0..3).await;
    let first = recv(&q, 2).await;
    assert_eq!(ids(&first), ["m0", "m1"]);
    assert!(first.iter().all(|m| m.receive_count == 1));
    assert_eq!(first[0].sent_at, T0);
    // Invisible meanwhile: only m2 is left.
    assert_eq!(ids(&recv(&q, 10).await), ["m2"]);
    assert!(recv(&q, 10).await.is_empty());
    let s = q.stats();
    assert_eq!((s.visible, s.in_flight), (0, 3));
    f.clock.advance(Duration::from_secs(31));
    let again = recv(&q, 1).await;
    assert_eq!(ids(&again), ["m0"]);
    assert_eq!(again[0].receive_count, 2);
    // The first receipt of m0 is stale now; m1's (expired but not re-received) still acks.
    let r = q.ack(&receipts(&first)).await;
    assert_eq!(r, vec![Err(EntryError::Stale), Ok(())]);
    let r = q
        .extend(&receipts(&first[..1]), Duration::from_secs(5))
        .await;
    assert_eq!(r, vec![Err(EntryError::Stale)]);
    assert_eq!(q.ack(&receipts(&again)).await, vec![Ok(())]);
    // Acking again is fine; nack of an acked one says gone; garbage is invalid.
    assert_eq!(q.ack(&receipts(&again)).await, vec![Ok(())]);
    assert_eq!(
        q.nack(&receipts(&again), None).await,
        vec![Err(EntryError::Gone)]
    );
    assert_eq!(
        q.ack(&["nope".to_owned()]).await,
        vec![Err(EntryError::Invalid)]
    );
}

#[tokio::test]
async fn nack_with_and_without_delay_and_extend() {
    let f = fixture();
    f.queues.put("q", &json!({}), None).unwrap();
    let q = f.queues.queue("q").unwrap();
    send(&q, 0..2).await;
    let got = recv(&q, 2).await;
    assert_eq!(
        q.nack(&receipts(&got[..1]), None).await,
        vec![Ok(())],
        "nack now"
    );
    assert_eq!(
        q.nack(&receipts(&got[1..]), Some(Duration::from_secs(10)))
            .await,
        vec![Ok(())]
    );
    let s = q.stats();
    assert_eq!((s.visible, s.delayed, s.in_flight), (1, 1, 0));
    let m0 = recv(&q, 10).await;
    assert_eq!(ids(&m0), ["m0"]);
    assert_eq!(m0[0].receive_count, 2);
    f.clock.advance(Duration::from_secs(9));
    assert!(recv(&q, 10).await.is_empty());
    f.clock.advance(Duration::from_secs(1));
    let m1 = recv(&q, 10).await;
    assert_eq!(ids(&m1), ["m1"]);
    // Extend m1 to 100 s from now: still hidden after the default 30 s.
    assert_eq!(
        q.extend(&receipts(&m1), Duration::from_secs(100)).await,
        vec![Ok(())]
    );
    f.clock.advance(Duration::from_secs(99));
    assert!(recv(&q, 10).await.iter().all(|m| m.message_id != "m1"));
    f.clock.advance(Duration::from_secs(2));
    let again = recv(&q, 10).await;
    assert!(again.iter().any(|m| m.message_id == "m1"));
    // A receive's own visibility overrides the default.
    send(&q, 5..6).await;
    let m5 = q
        .receive(1, Duration::ZERO, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(ids(&m5), ["m5"]);
    f.clock.advance(Duration::from_secs(3));
    assert!(recv(&q, 10).await.iter().any(|m| m.message_id == "m5"));
}

#[tokio::test]
async fn max_receives_moves_to_dead_letters_and_redrive_and_purge() {
    let f = fixture();
    f.queues
        .put(
            "q",
            &json!({"max_receives": 2, "visibility_timeout": "1s"}),
            None,
        )
        .unwrap();
    let q = f.queues.queue("q").unwrap();
    send(&q, 0..2).await;
    for n in 1..=2 {
        let got = recv(&q, 10).await;
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|m| m.receive_count == n));
        f.clock.advance(Duration::from_secs(2));
    }
    // The third receive would exceed max_receives: both go to the dead letters.
    assert!(recv(&q, 10).await.is_empty());
    assert_eq!(q.stats().dead, 2);
    let dead = q.dead_letters(0, 10).unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].message_id, "m0");
    assert_eq!(dead[0].receive_count, 2);
    assert_eq!(dead[0].dead_at, T0 + 4_000_000);
    assert_eq!(q.dead_letters(dead[0].sequence, 10).unwrap().len(), 1);
    assert_eq!(q.redrive(Some(&[dead[0].sequence])).await.unwrap(), 1);
    let back = recv(&q, 10).await;
    assert_eq!(ids(&back), ["m0"]);
    assert_eq!(back[0].receive_count, 1);
    assert_eq!(q.purge(None).await.unwrap(), 1);
    assert_eq!(q.stats().dead, 0);
    assert!(q.dead_letters(0, 10).unwrap().is_empty());
}

#[tokio::test]
async fn dead_letters_can_go_to_another_queue_or_be_dropped() {
    let f = fixture();
    f.queues.put("dlq", &json!({}), None).unwrap();
    let e = f
        .queues
        .put(
            "q",
            &json!({"dead_letter": {"kind": "queue", "queue": "nope"}}),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(e, QueueError::Invalid { ref pointer, .. } if pointer == "/dead_letter/queue")
    );
    f.queues
        .put(
            "q",
            &json!({"max_receives": 1, "visibility_timeout": 0, "dead_letter": {"kind": "queue", "queue": "dlq"}}),
            None,
        )
        .unwrap();
    f.queues
        .put(
            "d",
            &json!({"max_receives": 1, "visibility_timeout": 0, "dead_letter": {"kind": "drop"}}),
            None,
        )
        .unwrap();
    assert!(matches!(
        f.queues.delete("dlq", None),
        Err(QueueError::InUse { .. })
    ));
    let (q, d, dlq) = (
        f.queues.queue("q").unwrap(),
        f.queues.queue("d").unwrap(),
        f.queues.queue("dlq").unwrap(),
    );
    send(&q, 0..3).await;
    send(&d, 0..3).await;
    assert_eq!(recv(&q, 10).await.len(), 3);
    assert_eq!(recv(&d, 10).await.len(), 3);
    assert!(recv(&q, 10).await.is_empty());
    assert!(recv(&d, 10).await.is_empty());
    let moved = recv(&dlq, 10).await;
    assert_eq!(ids(&moved), ["m0", "m1", "m2"]);
    assert_eq!(moved[0].receive_count, 1);
    for q in [&q, &d] {
        let s = q.stats();
        assert_eq!((s.visible, s.in_flight, s.dead), (0, 0, 0));
    }
}

#[tokio::test]
async fn state_survives_a_reopen() {
    let mut f = fixture();
    f.queues
        .put(
            "q",
            &json!({"max_receives": 3, "visibility_timeout": "10s"}),
            None,
        )
        .unwrap();
    let q = f.queues.queue("q").unwrap();
    send(&q, 0..6).await;
    let got = recv(&q, 4).await;
    assert_eq!(q.ack(&receipts(&got[..2])).await, vec![Ok(()), Ok(())]);
    drop(q);
    f.reopen();
    let q = f.queues.queue("q").unwrap();
    let s = q.stats();
    assert_eq!((s.visible, s.in_flight), (2, 2), "{s:?}");
    // m2 and m3 are still in flight until their deadline, and their receipts still work.
    assert_eq!(ids(&recv(&q, 10).await), ["m4", "m5"]);
    assert_eq!(
        q.extend(&receipts(&got[2..3]), Duration::from_secs(60))
            .await,
        vec![Ok(())]
    );
    f.clock.advance(Duration::from_secs(11));
    let again = recv(&q, 10).await;
    assert_eq!(ids(&again), ["m3", "m4", "m5"]);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(f.queues.spec("q").unwrap().unwrap().max_receives, 3);
}

#[tokio::test]
async fn retention_drops_old_messages_and_releases_done_segments() {
    let f = fixture();
    f.queues
        .put("q", &json!({"retention": "1h"}), None)
        .unwrap();
    let q = f.queues.queue("q").unwrap();
    // ~100-byte messages in 4 KiB segments: several segments.
    for n in 0..10 {
        send(&q, n * 10..n * 10 + 10).await;
    }
    let dir = f.path.join("q").join("log");
    let segments = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "log")
            .count()
    };
    let before = segments();
    assert!(before > 2, "{before} segments");
    // Acknowledge the first 50: their segments go.
    let got = recv(&q, 50).await;
    assert!(q.ack(&receipts(&got)).await.iter().all(Result::is_ok));
    q.maintain().unwrap();
    assert!(segments() < before, "{} of {before}", segments());
    assert_eq!(ids(&recv(&q, 1).await), ["m50"]);
    // An hour later the rest is too old to deliver, and goes.
    f.clock.advance(Duration::from_secs(3601));
    assert!(recv(&q, 100).await.is_empty());
    let s = q.stats();
    assert_eq!((s.visible, s.in_flight), (0, 0), "{s:?}");
    q.maintain().unwrap();
    assert_eq!(segments(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_on_send() {
    let dir = tempfile::tempdir().unwrap();
    let meta = Meta::open(&dir.path().join("meta")).unwrap();
    let queues =
        Arc::new(Queues::open(&dir.path().join("queues"), meta, QueuesConfig::default()).unwrap());
    queues.put("q", &json!({}), None).unwrap();
    let q = queues.queue("q").unwrap();
    let started = std::time::Instant::now();
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move { q.receive(10, Duration::from_secs(20), None).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(&q, 0..1).await;
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(ids(&got), ["m0"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    // A poll with nothing to find returns empty at its end.
    let got = q.receive(1, Duration::from_millis(50), None).await.unwrap();
    assert!(got.is_empty());
    queues.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_never_share_a_visible_message() {
    let dir = tempfile::tempdir().unwrap();
    let meta = Meta::open(&dir.path().join("meta")).unwrap();
    let queues =
        Arc::new(Queues::open(&dir.path().join("queues"), meta, QueuesConfig::default()).unwrap());
    queues
        .put("q", &json!({"visibility_timeout": "5m"}), None)
        .unwrap();
    let q = queues.queue("q").unwrap();
    const N: u64 = 2000;
    for b in 0..(N / 100) {
        send(&q, b * 100..b * 100 + 100).await;
    }
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let got = q
                    .receive(7, Duration::from_millis(100), None)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return seen;
                }
                // Ack half of them; the rest stay in flight for 5 minutes.
                let acks: Vec<String> = got
                    .iter()
                    .filter(|m| m.sequence % 2 == 0)
                    .map(|m| m.receipt.clone())
                    .collect();
                assert!(q.ack(&acks).await.iter().all(Result::is_ok));
                seen.extend(got.into_iter().map(|m| m.sequence));
            }
        }));
    }
    let mut all = HashSet::new();
    let mut total = 0;
    for t in tasks {
        let seen = t.await.unwrap();
        total += seen.len();
        all.extend(seen);
    }
    assert_eq!(total as u64, N, "every message once");
    assert_eq!(all.len() as u64, N);
    let s = q.stats();
    assert_eq!((s.visible, s.in_flight), (0, N / 2));
    queues.close().unwrap();
}

#[test]
fn snapshot_replays_to_the_same_state() {
    use state::{DeadAction, State, Take};
    let mut st = State::new(1);
    let mut n = 0u32;
    let mut nonce = || {
        n += 1;
        n
    };
    let ask = |now, max, deadline| Take {
        now,
        max,
        log_end: 11,
        max_receives: 3,
        deadline,
        action: DeadAction::Keep,
    };
    let took = st.take(&ask(T0, 5, T0 + 10), &mut nonce);
    let t = &took.taken;
    st.ack(t[0].seq, t[0].count, t[0].nonce).unwrap();
    st.nack(t[1].seq, t[1].count, t[1].nonce, T0, T0 + 50)
        .unwrap();
    st.nack(t[2].seq, t[2].count, t[2].nonce, T0, T0).unwrap();
    let log = st.pending.clone();
    let replayed = State::replay([log.as_slice()].into_iter(), 1, 11).unwrap();
    let snap = st.snapshot();
    let from_snap = State::replay([snap.as_slice()].into_iter(), 1, 11).unwrap();
    for s in [&replayed, &from_snap] {
        assert_eq!(s.cursor, st.cursor);
        assert_eq!(s.stats(11), st.stats(11));
        assert_eq!(s.floor(), 2);
    }
    // A snapshot followed by later records.
    let mut more = st;
    more.pending.clear();
    let took = more.take(&ask(T0 + 100, 10, T0 + 200), &mut nonce);
    assert_eq!(
        took.taken.len(),
        9,
        "m1 m2 visible again, m5..m9 fresh, m3 m4 expired"
    );
    let tail = more.pending.clone();
    let r = State::replay([snap.as_slice(), tail.as_slice()].into_iter(), 1, 11).unwrap();
    assert_eq!(r.stats(11), more.stats(11));
    // A log whose retention moved past some entries.
    let r = State::replay([snap.as_slice(), tail.as_slice()].into_iter(), 5, 11).unwrap();
    assert_eq!(r.floor(), 5);
    assert!(State::replay([&[9u8, 0, 0, 0, 0, 0, 0, 0, 0][..]].into_iter(), 1, 1).is_err());
}
