//! Criterion benchmarks of the matcher: structured-JSON events of about 1 KiB, from bytes to
//! matched rule ids, against
//! - 10,000 rules of exact and prefix tests on three fields (`type`, `source`, `data.region`);
//! - 10,000 mixed rules using every operator (an exact/prefix/suffix/ignore-case/wildcard test on
//!   `type` or `source`, as real patterns name their event, then one or two further conditions
//!   with any operator: numeric, cidr, exists, anything-but in all forms, wildcard, arrays, $or);
//! - the exact/prefix and mixed sets at 100, 10,000 and 100,000 rules, to show the cost does not
//!   follow the rule count.
//!
//! Memory per rule is measured with a counting allocator (live bytes after building, patterns
//! included) and printed before the timings.
//!
//! Run (one core, release): `cargo bench -p railyard-rules --bench matcher`
//! (`MATCH_SIZES=100,10000` builds only those rule counts.)
//!
//! On a noisy shared machine absolute figures drift by half between runs; ratios measured in one
//! run hold. `MATCH_RATIO=1 cargo bench -p railyard-rules --bench matcher` skips criterion and,
//! for every set and size, alternates five rounds of matching with five rounds of `serde_json`
//! parsing the same events, and prints the median of the five ratios (matching throughput over
//! parsing throughput), the best absolute figures, and the matches per event.
//!
//! Timings drift; instruction counts and cache misses do not. `MATCH_CALLGRIND=<set>:<n>`
//! (`exact:10000`, `mixed:100000`) builds that one set at that size, matches the 256 events once
//! to warm up (the matcher's per-thread buffers grow to size, the allocator settles after the
//! build), then five times more inside `callgrind_passes`, and exits; callgrind measures only
//! those five passes:
//!
//! ```text
//! cargo bench -p railyard-rules --bench matcher --no-run   # prints the binary's path
//! MATCH_CALLGRIND=exact:10000 valgrind --tool=callgrind --cache-sim=yes --LL=2097152,16,64 \
//!     --toggle-collect='*callgrind_passes*' --callgrind-out-file=/tmp/cg.out <binary>
//! ```
//!
//! and divide the totals it prints (`Collected`: Ir, ..., ILmr, DLmr, DLmw) by 1,280 (5 × 256)
//! for the instructions and last-level misses per event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use railyard_rules::{Limits, Matcher, Pattern};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// How many distinct event types exist: a quarter of the rule count, so a bus with more rules also
/// has more kinds of events, every size has about four rules per type and source, and the matches
/// per event stay comparable from 100 to 100,000 rules (they are printed with each run). Holding
/// that density fixed is what makes the sizes comparable: with a fixed universe, a hundred times
/// the rules would be a hundred times the matches, work no matcher can avoid.
static TYPES: AtomicUsize = AtomicUsize::new(25);

fn types() -> usize {
    TYPES.load(Ordering::Relaxed)
}

/// How many distinct sources exist: as many as types.
static SOURCES: AtomicUsize = AtomicUsize::new(25);

fn sources() -> usize {
    SOURCES.load(Ordering::Relaxed)
}

const REGIONS: [&str; 8] = [
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-south-1",
    "sa-east-1",
];
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];
const TIERS: [&str; 4] = ["gold", "Silver", "BRONZE", "free"];

fn type_of(i: usize) -> String {
    format!(
        "com.example.{}.v{}.{}",
        ["order", "invoice", "user", "cart"][i % 4],
        i % 7,
        i
    )
}

fn source_of(i: usize) -> String {
    format!(
        "//svc/{}/instance-{}",
        ["billing", "shop", "auth", "ship"][i % 4],
        i
    )
}

/// A structured CloudEvent of about 1 KiB.
fn event(rng: &mut StdRng) -> Vec<u8> {
    let t = rng.random_range(0..types());
    let s = rng.random_range(0..sources());
    let items: Vec<Value> = (0..4)
        .map(|k| {
            json!({"sku": format!("SKU-{}", rng.random_range(0..1000)), "qty": rng.random_range(1..5), "price": rng.random_range(1..500) as f64 / 4.0, "line": k})
        })
        .collect();
    let v = json!({
        "specversion": "1.0",
        "id": format!("{:08x}-4b1e-4c1a-9e2f-{:012x}", rng.random::<u32>(), rng.random::<u64>() & 0xffff_ffff_ffff),
        "source": source_of(s),
        "type": type_of(t),
        "subject": format!("orders/{}", rng.random_range(0..100_000)),
        "time": "2026-11-21T10:15:30.123Z",
        "datacontenttype": "application/json",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "data": {
            "region": REGIONS[rng.random_range(0..REGIONS.len())],
            "ip": format!("10.{}.{}.{}", rng.random_range(0..4), rng.random_range(0..256), rng.random_range(1..255)),
            "order": {
                "id": format!("o-{}", rng.random::<u32>()),
                "total": rng.random_range(0..100_000) as f64 / 100.0,
                "currency": CURRENCIES[rng.random_range(0..3)],
                "customer": {"id": format!("c-{}", rng.random::<u32>()), "tier": TIERS[rng.random_range(0..4)], "email": "someone@example.com"},
                "items": items,
            },
            "tags": ["web", if rng.random_bool(0.5) { "promo" } else { "regular" }],
            "note": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
        }
    });
    serde_json::to_vec(&v).unwrap()
}

fn exact_or_prefix(rng: &mut StdRng, full: String) -> Value {
    if rng.random_bool(0.5) {
        json!([full])
    } else {
        let cut = rng.random_range(full.len() - 3..full.len());
        json!([{"prefix": &full[..cut]}])
    }
}

/// A rule of exact and prefix tests on type, source and data.region.
fn exact_prefix_rule(rng: &mut StdRng) -> Value {
    let t = type_of(rng.random_range(0..types()));
    let s = source_of(rng.random_range(0..sources()));
    let r = REGIONS[rng.random_range(0..REGIONS.len())].to_string();
    json!({
        "type": exact_or_prefix(rng, t),
        "source": exact_or_prefix(rng, s),
        "data": {"region": exact_or_prefix(rng, r)},
    })
}

/// The anchor of a mixed rule: a test on `type` or `source`.
fn anchor(rng: &mut StdRng) -> (&'static str, Value) {
    let (field, full) = if rng.random_bool(0.5) {
        ("type", type_of(rng.random_range(0..types())))
    } else {
        ("source", source_of(rng.random_range(0..sources())))
    };
    let v = match rng.random_range(0..6) {
        0 => json!([full]),
        1 => json!([{"prefix": &full[..full.len() - 1]}]),
        2 => json!([{"suffix": &full[full.len() - 8..]}]),
        3 => json!([{"equals-ignore-case": full.to_uppercase()}]),
        4 => json!([{"prefix": {"equals-ignore-case": full[..full.len() - 1].to_uppercase()}}]),
        _ => json!([{"wildcard": format!("{}*{}", &full[..8], &full[full.len() - 5..])}]),
    };
    (field, v)
}

/// A further condition of a mixed rule, any operator.
fn extra(rng: &mut StdRng) -> (Vec<&'static str>, Value) {
    let region = REGIONS[rng.random_range(0..REGIONS.len())];
    match rng.random_range(0..14) {
        0 => (
            vec!["data", "region"],
            json!([region, REGIONS[rng.random_range(0..8)]]),
        ),
        1 => {
            let lo = rng.random_range(0..900) as f64;
            (
                vec!["data", "order", "total"],
                json!([{"numeric": [">=", lo, "<", lo + rng.random_range(1..200) as f64]}]),
            )
        }
        2 => (
            vec!["data", "order", "total"],
            json!([{"numeric": ["<", rng.random_range(0..1000)]}]),
        ),
        3 => (
            vec!["data", "ip"],
            json!([{"cidr": format!("10.{}.{}.0/24", rng.random_range(0..4), rng.random_range(0..256))}]),
        ),
        4 => (
            vec!["data", "ip"],
            json!([{"cidr": format!("10.{}.0.0/16", rng.random_range(0..4))}]),
        ),
        5 => (
            vec!["data", "order", "customer", "tier"],
            json!([{"anything-but": TIERS[rng.random_range(0..4)]}]),
        ),
        6 => (
            vec!["data", "region"],
            json!([{"anything-but": {"prefix": &region[..3]}}]),
        ),
        7 => (
            vec!["data", "order", "customer", "tier"],
            json!([{"anything-but": {"equals-ignore-case": [TIERS[rng.random_range(0..4)], "none"]}}]),
        ),
        8 => (
            vec!["data", "order", "customer", "email"],
            json!([{"anything-but": {"suffix": ".org"}}]),
        ),
        9 => (
            vec!["subject"],
            json!([{"anything-but": {"wildcard": format!("orders/{}*", rng.random_range(0..10))}}]),
        ),
        10 => (
            vec!["data", "order", "items", "sku"],
            json!([format!("SKU-{}", rng.random_range(0..1000))]),
        ),
        11 => (
            vec!["data", "coupon"],
            json!([{"exists": rng.random_bool(0.5)}]),
        ),
        12 => (
            vec!["data", "tags"],
            json!([{"equals-ignore-case": "PROMO"}]),
        ),
        _ => (
            vec!["data", "order", "currency"],
            json!([{"anything-but": ["EUR", "GBP"]}]),
        ),
    }
}

fn insert_path(root: &mut Value, path: &[&str], leaf: Value) {
    let mut cur = root;
    for key in &path[..path.len() - 1] {
        cur = cur
            .as_object_mut()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(|| json!({}));
    }
    cur.as_object_mut()
        .unwrap()
        .insert(path[path.len() - 1].to_string(), leaf);
}

fn mixed_rule(rng: &mut StdRng) -> Value {
    let mut rule = json!({});
    let (field, test) = anchor(rng);
    rule[field] = test;
    if rng.random_range(0..10) == 0 {
        // An $or of two further conditions.
        let (p1, l1) = extra(rng);
        let (p2, l2) = extra(rng);
        let mut a = json!({});
        insert_path(&mut a, &p1, l1);
        let mut b = json!({});
        insert_path(&mut b, &p2, l2);
        rule["$or"] = json!([a, b]);
    } else {
        for _ in 0..rng.random_range(1..3) {
            let (p, l) = extra(rng);
            insert_path(&mut rule, &p, l);
        }
    }
    rule
}

fn build(n: usize, seed: u64, make: fn(&mut StdRng) -> Value) -> (Matcher, isize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let patterns: Vec<Value> = (0..n).map(|_| make(&mut rng)).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut m = Matcher::new();
    for (i, p) in patterns.iter().enumerate() {
        let p = Pattern::parse(p, &Limits::default()).expect("bench patterns compile");
        m.insert(i as u64, Arc::new(p));
    }
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    (m, bytes)
}

fn events(n: usize) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..n).map(|_| event(&mut rng)).collect()
}

/// Makes one rule pattern.
type Generator = fn(&mut StdRng) -> Value;

/// A named rule generator and the rule counts to measure it at.
type RuleSet = (&'static str, Generator, &'static [usize]);

/// The rule sets and the sizes to measure them at (`MATCH_SIZES=100,10000` limits the sizes;
/// building 100,000 rules takes a while).
fn plan() -> Vec<(&'static str, Generator, Vec<usize>)> {
    let only: Option<Vec<usize>> = std::env::var("MATCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let sets: [RuleSet; 2] = [
        ("exact+prefix", exact_prefix_rule, &[100, 10_000, 100_000]),
        ("mixed", mixed_rule, &[100, 10_000, 100_000]),
    ];
    sets.into_iter()
        .map(|(name, make, sizes)| {
            let wanted = sizes
                .iter()
                .copied()
                .filter(|n| only.as_ref().is_none_or(|o| o.contains(n)))
                .collect();
            (name, make, wanted)
        })
        .collect()
}

/// Scales the universe of types and sources to `n` rules and makes the events.
fn universe(n: usize) -> Vec<Vec<u8>> {
    TYPES.store((n / 4).max(1), Ordering::Relaxed);
    SOURCES.store((n / 4).max(1), Ordering::Relaxed);
    events(256)
}

fn bench(c: &mut Criterion) {
    for (name, make, sizes) in plan() {
        let mut g = c.benchmark_group(format!("match/{name}"));
        g.throughput(Throughput::Elements(256));
        g.measurement_time(Duration::from_secs(5));
        for n in sizes {
            let evs = universe(n);
            let avg = evs.iter().map(Vec::len).sum::<usize>() / evs.len();
            let (m, bytes) = build(n, 42, make);
            let mut out = Vec::new();
            let matched: usize = evs
                .iter()
                .map(|e| {
                    m.matches_into(e, &mut out).unwrap();
                    out.len()
                })
                .sum();
            eprintln!(
                "{name} {n} rules: {} events of {avg} bytes on average, {} states, {:.0} bytes per rule, {:.2} matches per event",
                evs.len(),
                m.states(),
                bytes as f64 / n as f64,
                matched as f64 / evs.len() as f64
            );
            g.bench_function(format!("{n} rules"), |b| {
                b.iter(|| {
                    for e in &evs {
                        m.matches_into(e, &mut out).unwrap();
                    }
                })
            });
        }
        g.finish();
    }
    // The floor: reading the same bytes with serde_json into a Value (what a naive matcher would
    // start with).
    let evs = events(256);
    let mut g = c.benchmark_group("baseline");
    g.throughput(Throughput::Elements(evs.len() as u64));
    // The scanner alone: one rule on `type`, so all of `data` is skipped.
    let one = {
        let mut m = Matcher::new();
        let p = Pattern::parse(&json!({"type": ["x"]}), &Limits::default()).unwrap();
        m.insert(0, Arc::new(p));
        m
    };
    g.bench_function("scan only (one rule on type)", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for e in &evs {
                one.matches_into(e, &mut out).unwrap();
            }
        })
    });
    g.bench_function("std::str::from_utf8", |b| {
        b.iter(|| {
            for e in &evs {
                std::hint::black_box(std::str::from_utf8(e).unwrap());
            }
        })
    });
    g.bench_function("serde_json::from_slice::<Value>", |b| {
        b.iter(|| {
            for e in &evs {
                let v: Value = serde_json::from_slice(e).unwrap();
                std::hint::black_box(v);
            }
        })
    });
    g.finish();
}

/// Matching throughput over `serde_json` throughput, alternated round by round so that a slow
/// spell of the machine weighs on both.
fn ratios() {
    for (name, make, sizes) in plan() {
        for n in sizes {
            let evs = universe(n);
            let (m, _) = build(n, 42, make);
            let mut out = Vec::new();
            let mut matched = 0usize;
            let (mut best, mut best_serde, mut ratios) = (0f64, 0f64, Vec::new());
            // About half a second of matching per round.
            let rounds_of =
                |per_event: f64| ((0.5 / per_event) / evs.len() as f64).max(1.0) as usize;
            let start = Instant::now();
            for e in &evs {
                m.matches_into(e, &mut out).unwrap();
            }
            let iters = rounds_of(start.elapsed().as_secs_f64() / evs.len() as f64);
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..iters {
                    for e in &evs {
                        m.matches_into(e, &mut out).unwrap();
                        matched += out.len();
                    }
                }
                let r = (iters * evs.len()) as f64 / t.elapsed().as_secs_f64();
                let t = Instant::now();
                for _ in 0..iters.div_ceil(4) {
                    for e in &evs {
                        let v: Value = serde_json::from_slice(e).unwrap();
                        std::hint::black_box(v);
                    }
                }
                let rs = (iters.div_ceil(4) * evs.len()) as f64 / t.elapsed().as_secs_f64();
                best = best.max(r);
                best_serde = best_serde.max(rs);
                ratios.push(r / rs);
            }
            ratios.sort_by(f64::total_cmp);
            println!(
                "{name} {n} rules: median ratio to serde_json {:.2} (runs {:.2?}); best {:.0} events/s, serde_json best {:.0}; {:.2} matches per event",
                ratios[2],
                ratios,
                best,
                best_serde,
                matched as f64 / (5 * iters * evs.len()) as f64
            );
        }
    }
}

/// One set at one size, matched five times over (see the module doc): for callgrind.
fn callgrind(spec: &str) {
    let (set, n) = spec.split_once(':').expect("MATCH_CALLGRIND=<set>:<n>");
    let n: usize = n.parse().expect("a rule count");
    let make: Generator = match set {
        "exact" | "exact+prefix" => exact_prefix_rule,
        "mixed" => mixed_rule,
        other => panic!("unknown set {other}: exact or mixed"),
    };
    let evs = universe(n);
    let (m, _) = build(n, 42, make);
    let mut out = Vec::new();
    for e in &evs {
        m.matches_into(e, &mut out).unwrap();
    }
    let matched = callgrind_passes(&m, &evs, &mut out);
    println!(
        "{set} {n} rules: {} events matched, {:.2} matches per event",
        5 * evs.len(),
        matched as f64 / (5 * evs.len()) as f64
    );
}

/// The measured part of [`callgrind`]: five passes over the events; the total of matches.
#[inline(never)]
fn callgrind_passes(m: &Matcher, evs: &[Vec<u8>], out: &mut Vec<u64>) -> usize {
    let mut matched = 0usize;
    for _ in 0..5 {
        for e in evs {
            m.matches_into(e, out).unwrap();
            matched += out.len();
        }
    }
    matched
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("MATCH_CALLGRIND") {
        callgrind(&spec);
        return;
    }
    if std::env::var_os("MATCH_RATIO").is_some() {
        ratios();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
