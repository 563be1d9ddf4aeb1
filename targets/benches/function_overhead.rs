//! Command function invocation overhead: spawn to exit of `true` through
//! [`CommandRuntime::invoke`] (process group, pidfd, pipes, reap, group kill), sequentially and
//! with 8 at once; each figure is the median of 3 runs. The same spawn without the runtime
//! (`tokio::process::Command::new("true").status()`, then with the runtime's three pipes and
//! process group) is printed alongside as the floor.
//!
//! `cargo bench -p railyard-targets --bench function_overhead` (`N=…` to change the 2,000
//! invocations per run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt as _};
use railyard_targets::function::{CommandRuntime, Limits};
use railyard_targets::http::Outcome;
use railyard_targets::spec::CommandSpec;

const INPUT: &[u8] =
    br#"{"specversion":"1.0","id":"e-1","source":"/bench","type":"t","data":{"n":1}}"#;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(label: &str, n: usize, d: Duration) {
    println!(
        "{label:<44} {:>8.1} µs/invocation {:>8.0} invocations/s",
        d.as_secs_f64() * 1e6 / n as f64,
        n as f64 / d.as_secs_f64()
    );
}

async fn runtime_run(rt: &CommandRuntime, n: usize, at_once: usize) -> Duration {
    let start = Instant::now();
    let results: Vec<_> = stream::iter(0..n)
        .map(|_| rt.invoke(INPUT))
        .buffer_unordered(at_once)
        .collect()
        .await;
    let d = start.elapsed();
    assert!(
        results
            .iter()
            .all(|r| r.outcome == Outcome::Delivered { status: 0 })
    );
    d
}

async fn raw_run(n: usize, at_once: usize, piped: bool) -> Duration {
    let start = Instant::now();
    let ok: Vec<bool> = stream::iter(0..n)
        .map(|_| async move {
            let mut cmd = tokio::process::Command::new("true");
            if piped {
                cmd.stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .process_group(0);
                return cmd.output().await.is_ok_and(|o| o.status.success());
            }
            cmd.status().await.is_ok_and(|s| s.success())
        })
        .buffer_unordered(at_once)
        .collect()
        .await;
    let d = start.elapsed();
    assert!(ok.iter().all(|b| *b));
    d
}

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let spec = CommandSpec {
        command: vec!["true".into()],
        env: vec![],
        workdir: None,
    };
    let rt = CommandRuntime::new(
        &spec,
        Limits {
            timeout: Duration::from_secs(10),
            max_output: 1 << 20,
            max_concurrency: 8,
        },
        "/functions/bench/true".into(),
    );
    println!(
        "{} cores, N = {n} per run, median of 3 runs",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    tokio.block_on(async {
        runtime_run(&rt, 50, 1).await; // warm-up
        for at_once in [1, 8] {
            let mut runs = Vec::new();
            let mut floor = Vec::new();
            let mut piped = Vec::new();
            for _ in 0..3 {
                runs.push(runtime_run(&rt, n, at_once).await);
                floor.push(raw_run(n, at_once, false).await);
                piped.push(raw_run(n, at_once, true).await);
            }
            report(
                &format!("CommandRuntime::invoke(`true`), {at_once} at once"),
                n,
                median(runs),
            );
            report(
                &format!("bare tokio spawn + wait of `true`, {at_once} at once"),
                n,
                median(floor),
            );
            report(
                &format!("bare, 3 pipes + process group, {at_once} at once"),
                n,
                median(piped),
            );
        }
    });
}
