//! Tests of the log through its public API: appends, reads, rolls, recovery, retention, faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn cfg(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        label: "test".into(),
        ..LogConfig::default()
    }
}

fn body(i: u64, len: usize) -> Vec<u8> {
    let mut v = format!("{{\"n\":{i},\"pad\":\"").into_bytes();
    while v.len() + 2 < len {
        v.push(b'a' + (i % 26) as u8);
    }
    v.extend_from_slice(b"\"}");
    v
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn append_all(log: &Log, reqs: &[Vec<Vec<u8>>]) -> Vec<Appended> {
    rt().block_on(async {
        let mut out = Vec::new();
        for r in reqs {
            out.push(log.append(r.clone()).await.unwrap());
        }
        out
    })
}

fn segment_files(dir: &Path) -> Vec<u64> {
    recovery::list_segments(dir).unwrap()
}

#[test]
fn append_read_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg(64 << 10)).unwrap();
    assert_eq!(log.next_sequence(), 1);
    let a = append_all(&log, &[vec![body(1, 100)], vec![body(2, 50), body(3, 70)]]);
    assert_eq!((a[0].first, a[0].count), (1, 1));
    assert_eq!((a[1].first, a[1].count), (2, 2));
    assert_eq!(
        log.get(2).unwrap(),
        Lookup::Found(Record {
            sequence: 2,
            timestamp: a[1].timestamp,
            body: body(2, 50)
        })
    );
    assert_eq!(log.get(4).unwrap(), Lookup::NotYet { next: 4 });
    log.close().unwrap();
    drop(log);
    let log = Log::open(dir.path(), cfg(64 << 10)).unwrap();
    assert_eq!(log.next_sequence(), 4);
    let all = log.read_after(0, 10, usize::MAX).unwrap();
    assert_eq!(
        all.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
        vec![body(1, 100), body(2, 50), body(3, 70)]
    );
    assert_eq!(append_all(&log, &[vec![body(4, 10)]])[0].first, 4);
}

#[test]
fn rolls_segments_and_keeps_sequences_dense() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg(8 << 10)).unwrap();
    let reqs: Vec<Vec<Vec<u8>>> = (0..60u64)
        .map(|i| vec![body(3 * i, 200), body(3 * i + 1, 300), body(3 * i + 2, 100)])
        .collect();
    append_all(&log, &reqs);
    assert!(segment_files(dir.path()).len() >= 4);
    let all = log.read_after(0, 1000, usize::MAX).unwrap();
    assert_eq!(all.len(), 180);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.sequence, i as u64 + 1);
    }
    drop(log);
    let report = verify::verify(dir.path()).unwrap();
    assert_eq!(report.damage, None);
    assert_eq!(report.records, 180);
    assert_eq!(report.range, Some((1, 180)));
    let log = Log::open(dir.path(), cfg(8 << 10)).unwrap();
    assert_eq!(log.next_sequence(), 181);
    // A request's records share one segment.
    for base in segment_files(dir.path()) {
        assert_eq!((base - 1) % 3, 0, "segment {base} splits a request");
    }
}

#[test]
fn request_larger_than_a_segment_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg(4096)).unwrap();
    let err = rt()
        .block_on(log.append(vec![body(1, 3000), body(2, 3000)]))
        .unwrap_err();
    assert!(matches!(err, LogError::TooLarge { .. }), "{err}");
    assert_eq!(log.next_sequence(), 1);
}

#[test]
fn seek_time_finds_first_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let log = Log::open_with(dir.path(), cfg(4096), clock.clone(), Arc::new(RealIo)).unwrap();
    let r = rt();
    for i in 0..40u64 {
        r.block_on(log.append(vec![body(i, 300)])).unwrap();
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(log.seek_time(0), 1);
    assert_eq!(log.seek_time(1_000_000 + 10 * 1_000_000), 11);
    assert_eq!(log.seek_time(1_000_000 + 10 * 1_000_000 + 1), 12);
    assert_eq!(log.seek_time(i64::MAX), 41);
}

#[test]
fn retention_by_age_and_size_deletes_sealed_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let log = Log::open_with(dir.path(), cfg(4096), clock.clone(), Arc::new(RealIo)).unwrap();
    let r = rt();
    for i in 0..30u64 {
        r.block_on(log.append(vec![body(i, 500)])).unwrap();
        clock.advance(Duration::from_secs(60));
    }
    let before = segment_files(dir.path()).len();
    let rep = log
        .enforce_retention(&Retention {
            max_age: Some(Duration::from_secs(10 * 60)),
            max_bytes: None,
        })
        .unwrap();
    assert!(rep.segments > 0);
    assert_eq!(segment_files(dir.path()).len(), before - rep.segments);
    let first = log.first_sequence();
    assert_eq!(first, rep.first_sequence);
    assert!(matches!(log.get(1).unwrap(), Lookup::Expired { first: f } if f == first));
    assert!(matches!(log.get(first).unwrap(), Lookup::Found(_)));
    // Everything left is younger than the limit, except what shares a segment with younger records.
    let rep = log
        .enforce_retention(&Retention {
            max_age: None,
            max_bytes: Some(1),
        })
        .unwrap();
    assert!(rep.segments > 0);
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "the active segment stays"
    );
    assert!(matches!(log.get(30).unwrap(), Lookup::Found(_)));
    drop(log);
    assert_eq!(verify::verify(dir.path()).unwrap().damage, None);
    let log = Log::open(dir.path(), cfg(4096)).unwrap();
    assert_eq!(log.next_sequence(), 31);
}

#[test]
fn full_disk_refuses_appends_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(FaultyIo::default());
    let log = Log::open_with(dir.path(), cfg(4096), Arc::new(SystemClock), io.clone()).unwrap();
    let r = rt();
    let mut acked = Vec::new();
    io.disk_full.store(true, Ordering::SeqCst);
    let mut refused = 0;
    for i in 0..20u64 {
        match r.block_on(log.append(vec![body(i, 600)])) {
            Ok(a) => acked.push((a.first, body(i, 600))),
            Err(LogError::DiskFull { .. }) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(refused > 0 && !acked.is_empty());
    for (seq, b) in &acked {
        assert!(matches!(log.get(*seq).unwrap(), Lookup::Found(ref rec) if &rec.body == b));
    }
    io.disk_full.store(false, Ordering::SeqCst);
    let a = r.block_on(log.append(vec![body(99, 600)])).unwrap();
    assert_eq!(
        a.first,
        acked.len() as u64 + 1,
        "sequences stay dense across refusals"
    );
    drop(log);
    assert_eq!(verify::verify(dir.path()).unwrap().damage, None);
}

/// Writes a log with several segments and returns (dir, all bodies, newest segment base).
fn fixture(seed: u64) -> (tempfile::TempDir, Vec<Vec<u8>>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg(16 << 10)).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bodies = Vec::new();
    let r = rt();
    for i in 0..120u64 {
        let n = rng.random_range(1..4);
        let req: Vec<Vec<u8>> = (0..n)
            .map(|k| body(i * 10 + k, rng.random_range(20..400)))
            .collect();
        bodies.extend(req.iter().cloned());
        r.block_on(log.append(req)).unwrap();
    }
    log.close().unwrap();
    let newest = *segment_files(dir.path()).last().unwrap();
    (dir, bodies, newest)
}

#[test]
fn truncating_the_newest_segment_anywhere_never_loses_a_complete_record() {
    let seed = 0x5eed_0001;
    let (dir, bodies, newest) = fixture(seed);
    let log_path = dir.path().join(segment::log_name(newest));
    let original = std::fs::read(&log_path).unwrap();
    let s = scan::scan_log(&original, newest);
    let written = s.end;
    assert!(
        s.entries.len() > 5,
        "fixture should put several records in the newest segment"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut offsets: Vec<usize> = (0..600)
        .map(|_| rng.random_range(0..=written + 64))
        .collect();
    // Every record boundary and the bytes around it, too.
    for e in &s.entries {
        let o = e.offset as usize;
        offsets.extend([o, o + 1, o + 4, o + 8, o + record::FRAME_OVERHEAD]);
    }
    offsets.push(written);
    for &cut in &offsets {
        std::fs::write(&log_path, &original[..cut.min(original.len())]).unwrap();
        let log =
            Log::open(dir.path(), cfg(16 << 10)).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let complete = s.entries.iter().filter(|e| {
            let len = u32::from_le_bytes(
                original[e.offset as usize..e.offset as usize + 4]
                    .try_into()
                    .unwrap(),
            );
            e.offset as usize + 8 + len as usize <= cut
        });
        let last_complete = complete.map(|e| e.sequence).max().unwrap_or(newest - 1);
        assert_eq!(
            log.next_sequence(),
            last_complete + 1,
            "cut at {cut} (seed {seed:#x})"
        );
        for seq in 1..=last_complete {
            match log.get(seq).unwrap() {
                Lookup::Found(r) => {
                    assert_eq!(r.body, bodies[seq as usize - 1], "seq {seq}, cut at {cut}")
                }
                other => panic!("seq {seq} lost after cut at {cut}: {other:?}"),
            }
        }
        let a = rt()
            .block_on(log.append(vec![b"{\"after\":true}".to_vec()]))
            .unwrap();
        assert_eq!(a.first, last_complete + 1);
        drop(log);
        let report = verify::verify(dir.path()).unwrap();
        assert_eq!(report.damage, None, "cut at {cut}");
        assert_eq!(
            report.torn_tail, None,
            "cut at {cut}: recovery must leave a clean tail"
        );
    }
    assert!(offsets.len() >= 500);
}

#[test]
fn a_flipped_byte_in_a_sealed_segment_refuses_to_open_and_verify_names_it() {
    let (dir, _, _) = fixture(7);
    let first = segment_files(dir.path())[0];
    let path = dir.path().join(segment::log_name(first));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let err = Log::open(dir.path(), cfg(16 << 10)).unwrap_err();
    let LogError::Corrupt {
        path: p, offset, ..
    } = &err
    else {
        panic!("expected Corrupt, got {err}")
    };
    assert_eq!(p, &path);
    assert!(
        *offset <= at as u64,
        "offset {offset} should be at or before the flip at {at}"
    );
    let report = verify::verify(dir.path()).unwrap();
    let d = report.damage.unwrap();
    assert_eq!((d.path, d.offset), (path, *offset));
}

#[test]
fn damage_inside_the_active_segment_before_valid_records_refuses_to_open() {
    let (dir, _, newest) = fixture(11);
    let path = dir.path().join(segment::log_name(newest));
    let mut bytes = std::fs::read(&path).unwrap();
    let s = scan::scan_log(&bytes, newest);
    let victim = s.entries[1].offset as usize + record::FRAME_OVERHEAD + 3;
    bytes[victim] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = Log::open(dir.path(), cfg(16 << 10)).unwrap_err();
    assert!(
        matches!(&err, LogError::Corrupt { offset, .. } if *offset == s.entries[1].offset),
        "{err}"
    );
    let d = verify::verify(dir.path()).unwrap().damage.unwrap();
    assert_eq!(d.offset, s.entries[1].offset);
}

#[test]
fn a_damaged_sealed_index_is_named() {
    let (dir, _, _) = fixture(3);
    let first = segment_files(dir.path())[0];
    let path = dir.path().join(segment::index_name(first));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[index::ENTRY_LEN + 9] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = Log::open(dir.path(), cfg(16 << 10)).unwrap_err();
    assert!(
        matches!(&err, LogError::Corrupt { path: p, offset, .. } if *p == path && *offset == index::ENTRY_LEN as u64),
        "{err}"
    );
}

#[test]
fn fsync_policy_parses() {
    assert_eq!(FsyncPolicy::parse("always"), Ok(FsyncPolicy::Always));
    assert_eq!(FsyncPolicy::parse("never"), Ok(FsyncPolicy::Never));
    assert_eq!(
        FsyncPolicy::parse("interval:5"),
        Ok(FsyncPolicy::Interval(Duration::from_millis(5)))
    );
    assert_eq!(
        FsyncPolicy::parse("interval:1s"),
        Ok(FsyncPolicy::Interval(Duration::from_secs(1)))
    );
    assert!(FsyncPolicy::parse("sometimes").is_err());
    assert!(FsyncPolicy::parse("interval:0").is_err());
    assert_eq!(
        FsyncPolicy::parse(&FsyncPolicy::Interval(Duration::from_millis(7)).to_string()),
        Ok(FsyncPolicy::Interval(Duration::from_millis(7)))
    );
}

#[test]
fn interval_and_never_policies_ack_and_persist_on_close() {
    for policy in [
        FsyncPolicy::Interval(Duration::from_millis(5)),
        FsyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(
            dir.path(),
            LogConfig {
                fsync: policy,
                ..cfg(8192)
            },
        )
        .unwrap();
        let reqs: Vec<Vec<Vec<u8>>> = (0..50u64).map(|i| vec![body(i, 100)]).collect();
        append_all(&log, &reqs);
        log.close().unwrap();
        drop(log);
        let log = Log::open(dir.path(), cfg(8192)).unwrap();
        assert_eq!(log.next_sequence(), 51, "{policy}");
    }
}

#[test]
fn concurrent_appends_group_commit_and_stay_dense_across_rolls() {
    for policy in [
        FsyncPolicy::Always,
        FsyncPolicy::Interval(Duration::from_millis(2)),
        FsyncPolicy::Never,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(
            Log::open(
                dir.path(),
                LogConfig {
                    fsync: policy,
                    ..cfg(16 << 10)
                },
            )
            .unwrap(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        let acked: Vec<(Appended, Vec<Vec<u8>>)> = rt.block_on(async {
            let tasks: Vec<_> = (0..32u64)
                .map(|t| {
                    let log = log.clone();
                    tokio::spawn(async move {
                        let mut out = Vec::new();
                        for i in 0..40u64 {
                            let req: Vec<Vec<u8>> = (0..(i % 3 + 1))
                                .map(|k| body(t * 1000 + i * 10 + k, 50 + (i as usize * 7) % 300))
                                .collect();
                            let a = log.append(req.clone()).await.unwrap();
                            // Durable means readable, right away.
                            assert!(log.next_sequence() >= a.first + a.count as u64);
                            out.push((a, req));
                        }
                        out
                    })
                })
                .collect();
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        });
        let total: usize = acked.iter().map(|(a, _)| a.count).sum();
        assert_eq!(
            log.next_sequence(),
            total as u64 + 1,
            "{policy}: dense, nothing lost or doubled"
        );
        for (a, req) in &acked {
            for (k, b) in req.iter().enumerate() {
                match log.get(a.first + k as u64).unwrap() {
                    Lookup::Found(r) => assert_eq!(&r.body, b, "{policy}"),
                    other => panic!("{policy}: {other:?}"),
                }
            }
        }
        assert!(
            segment_files(dir.path()).len() > 3,
            "{policy}: the test should roll segments"
        );
        log.close().unwrap();
        drop(log);
        let report = verify::verify(dir.path()).unwrap();
        assert_eq!(
            (report.damage, report.records),
            (None, total as u64),
            "{policy}"
        );
    }
}
