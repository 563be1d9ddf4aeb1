//! The command runtime against real processes (`sh -c` scripts, python3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use bus::event::Data;

use super::reply::{REPLY_TYPE, reply_id};
use super::*;
use crate::spec::CommandSpec;

const INPUT: &[u8] = br#"{"specversion":"1.0","id":"e-1","source":"/orders","type":"order.created","datacontenttype":"application/json","data":{"n":5}}"#;

fn limits(timeout_ms: u64) -> Limits {
    Limits {
        timeout: Duration::from_millis(timeout_ms),
        max_output: 1 << 20,
        max_concurrency: 8,
    }
}

/// `sh -c script` in `dir`, with `$D` = `dir`.
fn sh(dir: &Path, script: &str, limits: Limits) -> CommandRuntime {
    let spec = CommandSpec {
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: vec![("D".into(), dir.display().to_string())],
        workdir: Some(dir.to_path_buf()),
    };
    CommandRuntime::new(&spec, limits, "/functions/r/t".into())
}

fn error_of(o: &Outcome) -> &str {
    match o {
        Outcome::Retry { error, .. } | Outcome::Fatal { error, .. } => error,
        Outcome::Delivered { .. } => "",
    }
}

/// The processes of group `pgid` that are not zombies (a zombie runs nothing; an init that does
/// not reap, as in some containers, leaves them).
fn live_members(pgid: i32) -> Vec<(i32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let state = fields[0].chars().next().unwrap_or('?');
        let pgrp: i32 = fields[2].parse().unwrap_or(0);
        if pgrp == pgid && !matches!(state, 'Z' | 'X') {
            out.push((pid, state));
        }
    }
    out
}

/// SIGKILL is delivered asynchronously: members may take a moment to die.
async fn assert_group_gone(pgid: i32) {
    let start = Instant::now();
    loop {
        let live = live_members(pgid);
        if live.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "group {pgid} still has live members: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn success_with_a_cloudevent_reply_and_the_event_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let rt = sh(
        dir.path(),
        r#"cat > "$D/in.json"; printf '{"specversion":"1.0","id":"r1","source":"/h","type":"done","data":{"ok":true}}\n'"#,
        limits(10_000),
    );
    let inv = rt.invoke(INPUT).await;
    assert_eq!(
        inv.outcome,
        Outcome::Delivered {
            status: None,
            detail: None
        }
    );
    assert_eq!(inv.exit_code, Some(0));
    let reply = inv.reply.unwrap();
    assert_eq!((reply.id.as_str(), reply.source.as_str()), ("r1", "/h"));
    assert_eq!(reply.data, Some(Data::json(br#"{"ok":true}"#).unwrap()));
    assert_eq!(std::fs::read(dir.path().join("in.json")).unwrap(), INPUT);
    assert_eq!(inv.stderr, None);
}

#[tokio::test]
async fn success_with_plain_data_is_wrapped_with_a_stable_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("handler.py"),
        "import json, sys\nev = json.load(sys.stdin)\nprint(json.dumps({'n': ev['data']['n'] + 1}))\n",
    )
    .unwrap();
    let spec = CommandSpec {
        command: vec!["python3".into(), "handler.py".into()],
        env: vec![],
        workdir: Some(dir.path().to_path_buf()),
    };
    let rt = CommandRuntime::new(&spec, limits(10_000), "/functions/r/t".into());
    let a = rt.invoke(INPUT).await;
    assert_eq!(
        a.outcome,
        Outcome::Delivered {
            status: None,
            detail: None
        },
        "{a:?}"
    );
    let reply = a.reply.unwrap();
    assert_eq!(reply.ty, REPLY_TYPE);
    assert_eq!(reply.source, "/functions/r/t");
    assert_eq!(reply.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(reply.data, Some(Data::json(br#"{"n": 6}"#).unwrap()));
    assert_eq!(reply.id, reply_id(INPUT));
    let b = rt.invoke(INPUT).await;
    assert_eq!(
        b.reply.unwrap().id,
        reply.id,
        "a redelivery replies with the same id"
    );

    let text = sh(dir.path(), "echo 'not json'", limits(10_000))
        .invoke(INPUT)
        .await;
    let t = text.reply.unwrap();
    assert_eq!(t.data, Some(Data::text("not json\n")));
    let none = sh(dir.path(), "true", limits(10_000)).invoke(INPUT).await;
    assert_eq!(
        (none.outcome, none.reply),
        (
            Outcome::Delivered {
                status: None,
                detail: None
            },
            None
        )
    );
}

#[tokio::test]
async fn an_invalid_cloudevent_reply_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let inv = sh(
        dir.path(),
        r#"echo '{"specversion":"1.0","id":""}'"#,
        limits(10_000),
    )
    .invoke(INPUT)
    .await;
    assert!(
        matches!(&inv.outcome, Outcome::Fatal { error, .. } if error.contains("not a valid CloudEvent")),
        "{inv:?}"
    );
}

#[tokio::test]
async fn a_non_zero_exit_is_retried_with_the_code_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let inv = sh(
        dir.path(),
        "echo 'Traceback: starting' >&2; echo 'ValueError: bad input' >&2; exit 3",
        limits(10_000),
    )
    .invoke(INPUT)
    .await;
    assert!(
        matches!(inv.outcome, Outcome::Retry { status: None, .. }),
        "{inv:?}"
    );
    assert_eq!(error_of(&inv.outcome), "exit code 3: ValueError: bad input");
    assert_eq!(inv.exit_code, Some(3));
    assert_eq!(
        inv.stderr.as_deref(),
        Some("Traceback: starting\nValueError: bad input\n")
    );
    assert!(inv.reply.is_none());

    let killed = sh(dir.path(), "kill -TERM $$", limits(10_000))
        .invoke(INPUT)
        .await;
    assert_eq!(error_of(&killed.outcome), "killed by signal 15");
    assert!(matches!(killed.outcome, Outcome::Retry { .. }));
    assert_eq!(killed.exit_code, None);
}

#[tokio::test]
async fn stderr_is_bounded_to_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let inv = sh(
        dir.path(),
        "head -c 200000 /dev/zero | tr '\\0' x >&2; echo >&2; echo END >&2; exit 1",
        limits(10_000),
    )
    .invoke(INPUT)
    .await;
    let s = inv.stderr.unwrap();
    assert!(
        s.starts_with('…') && s.ends_with("END\n"),
        "{}",
        &s[s.len() - 10..]
    );
    assert!(s.len() <= command::STDERR_TAIL + '…'.len_utf8());
    assert_eq!(error_of(&inv.outcome), "exit code 1: END");
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group_and_leaves_no_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let rt = sh(
        dir.path(),
        r#"echo $$ > "$D/pgid"; sleep 300 & echo $! > "$D/bg"; sleep 300"#,
        limits(700),
    );
    let start = Instant::now();
    let inv = rt.invoke(INPUT).await;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&inv.outcome, Outcome::Retry { error, .. } if error.contains("no exit within the timeout")),
        "{inv:?}"
    );
    let pgid = read_pid(&dir.path().join("pgid"));
    let bg = read_pid(&dir.path().join("bg"));
    assert_ne!(pgid, bg);
    assert_group_gone(pgid).await;
}

#[tokio::test]
async fn what_a_successful_handler_left_running_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    // The background sleep keeps stdout open: without the group kill, the invocation would
    // wait for it.
    let rt = sh(
        dir.path(),
        r#"echo $$ > "$D/pgid"; sleep 300 & echo '{"a":1}'"#,
        limits(10_000),
    );
    let start = Instant::now();
    let inv = rt.invoke(INPUT).await;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        inv.outcome,
        Outcome::Delivered {
            status: None,
            detail: None
        },
        "{inv:?}"
    );
    assert_eq!(
        inv.reply.unwrap().data,
        Some(Data::json(b"{\"a\":1}").unwrap())
    );
    assert_group_gone(read_pid(&dir.path().join("pgid"))).await;
}

#[tokio::test]
async fn a_dropped_invocation_kills_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let rt = sh(
        dir.path(),
        r#"echo $$ > "$D/pgid.tmp"; mv "$D/pgid.tmp" "$D/pgid"; sleep 300 & sleep 300"#,
        limits(60_000),
    );
    let pgid_file = dir.path().join("pgid");
    let watcher = async {
        while !pgid_file.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = rt.invoke(INPUT) => panic!("the handler sleeps"),
        () = watcher => {}
    }
    assert_group_gone(read_pid(&pgid_file)).await;
}

#[tokio::test]
async fn oversized_output_is_final_and_stops_the_handler() {
    let dir = tempfile::tempdir().unwrap();
    let small = Limits {
        max_output: 1000,
        ..limits(10_000)
    };
    let inv = sh(dir.path(), "head -c 1001 /dev/zero", small)
        .invoke(INPUT)
        .await;
    assert!(
        matches!(&inv.outcome, Outcome::Fatal { error, .. } if error.contains("exceeds 1000 bytes")),
        "{inv:?}"
    );
    let exact = sh(dir.path(), "head -c 1000 /dev/zero", small)
        .invoke(INPUT)
        .await;
    assert_eq!(
        exact.outcome,
        Outcome::Delivered {
            status: None,
            detail: None
        }
    );
    // Endless output: stopped at the limit, not at the timeout.
    let start = Instant::now();
    let endless = sh(dir.path(), r#"echo $$ > "$D/pgid"; yes"#, small)
        .invoke(INPUT)
        .await;
    assert!(matches!(endless.outcome, Outcome::Fatal { .. }));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_group_gone(read_pid(&dir.path().join("pgid"))).await;
}

#[tokio::test]
async fn input_the_handler_never_reads_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!(
        r#"{{"specversion":"1.0","id":"e","source":"/s","type":"t","data":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let inv = sh(dir.path(), "exit 0", limits(10_000))
        .invoke(big.as_bytes())
        .await;
    assert_eq!(
        inv.outcome,
        Outcome::Delivered {
            status: None,
            detail: None
        }
    );
}

#[tokio::test]
async fn the_environment_is_minimal_plus_the_configured() {
    let dir = tempfile::tempdir().unwrap();
    let inv = sh(
        dir.path(),
        r#"printf '%s|%s|%s|%s' "$D" "${CARGO_MANIFEST_DIR-unset}" "$(pwd)" "${PATH:+path}""#,
        limits(10_000),
    )
    .invoke(INPUT)
    .await;
    let d = dir.path().display().to_string();
    assert_eq!(
        inv.reply.unwrap().data,
        Some(Data::text(&format!("{d}|unset|{d}|path")))
    );
}

#[tokio::test]
async fn a_program_that_cannot_start_is_retried() {
    let spec = CommandSpec {
        command: vec!["/nonexistent/handler".into()],
        env: vec![],
        workdir: None,
    };
    let inv = CommandRuntime::new(&spec, limits(10_000), "/f".into())
        .invoke(INPUT)
        .await;
    assert!(
        matches!(&inv.outcome, Outcome::Retry { error, .. } if error.contains("cannot start")),
        "{inv:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_cap_is_never_exceeded_and_is_reached() {
    const CAP: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    // Each handler records when it ran; the first CAP wait for one another (so the cap is
    // reached however slowly python starts on a loaded machine), later ones find the count
    // reached and only linger a moment.
    std::fs::create_dir(dir.path().join("started")).unwrap();
    std::fs::write(
        dir.path().join("h.py"),
        format!(
            "import os, time\n\
             d = os.environ['D']\n\
             t0 = time.monotonic_ns()\n\
             open(os.path.join(d, 'started', str(os.getpid())), 'w').close()\n\
             while len(os.listdir(os.path.join(d, 'started'))) < {CAP} and time.monotonic_ns() - t0 < 10e9:\n    time.sleep(0.01)\n\
             time.sleep(0.1)\n\
             t1 = time.monotonic_ns()\n\
             with open(os.path.join(d, 'log'), 'a') as f:\n    f.write(f'{{t0}} {{t1}}\\n')\n"
        ),
    )
    .unwrap();
    let spec = CommandSpec {
        command: vec!["python3".into(), "h.py".into()],
        env: vec![("D".into(), dir.path().display().to_string())],
        workdir: Some(dir.path().to_path_buf()),
    };
    let rt = CommandRuntime::new(
        &spec,
        Limits {
            max_concurrency: CAP,
            ..limits(30_000)
        },
        "/f".into(),
    );
    let runs = (0..4 * CAP).map(|_| rt.invoke(INPUT));
    let results = futures_util::future::join_all(runs).await;
    for r in &results {
        assert_eq!(
            r.outcome,
            Outcome::Delivered {
                status: None,
                detail: None
            },
            "{r:?}"
        );
    }
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for line in log.lines() {
        let (a, b) = line.split_once(' ').unwrap();
        edges.push((a.parse().unwrap(), 1));
        edges.push((b.parse().unwrap(), -1));
    }
    assert_eq!(edges.len(), 8 * CAP);
    // Ends before starts at the same instant.
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        max = max.max(now);
    }
    assert_eq!(
        max, CAP as i32,
        "at most the cap at once, and the cap reached"
    );
}
