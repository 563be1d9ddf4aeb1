//! Criterion benchmarks of the storage hot path: encoding and decoding events, and appending to
//! the log (group commit). `fsync = never` isolates the CPU cost of an append; `always` measures
//! a durable append on this machine's disk (one flush per request here: no concurrency).
//!
//! Run: `cargo bench -p railyard-bus --bench log`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use railyard_bus::event::Event;
use railyard_bus::log::{Batch, FsyncPolicy, Log, LogConfig};

fn event_json(pad: usize) -> Vec<u8> {
    format!(
        r#"{{"specversion":"1.0","id":"bench-1","source":"/bench","type":"dev.railyard.bench","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","ext1":"v","data":{{"pad":"{}"}}}}"#,
        "x".repeat(pad)
    )
    .into_bytes()
}

fn events(c: &mut Criterion) {
    let bytes = event_json(900);
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode+validate 1KiB", |b| {
        b.iter(|| Event::from_structured_json(&bytes).unwrap())
    });
    let ev = Event::from_structured_json(&bytes).unwrap();
    g.bench_function("encode 1KiB", |b| {
        b.iter_batched(
            || Vec::with_capacity(ev.size_hint()),
            |mut out| ev.write_structured_json(&mut out),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn appends(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = event_json(900);
    for (name, fsync, per_request) in [
        ("never, 1 event", FsyncPolicy::Never, 1usize),
        ("never, 100 events", FsyncPolicy::Never, 100),
        ("always, 1 event", FsyncPolicy::Always, 1),
        ("always, 100 events", FsyncPolicy::Always, 100),
    ] {
        let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
        let log = Log::open(
            dir.path(),
            LogConfig {
                fsync,
                segment_bytes: 64 << 20,
                label: "bench".into(),
                ..LogConfig::default()
            },
        )
        .unwrap();
        let mut g = c.benchmark_group("append");
        g.throughput(Throughput::Elements(per_request as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut batch = Batch::with_capacity(per_request, per_request * body.len());
                    for _ in 0..per_request {
                        batch.push(&body);
                    }
                    batch
                },
                |batch| rt.block_on(log.append(batch)).unwrap(),
                BatchSize::SmallInput,
            )
        });
        g.finish();
        log.close().unwrap();
    }
}

criterion_group!(benches, events, appends);
criterion_main!(benches);
