//! Status page figures: what keeping the page's state costs the pipeline per sample (the
//! state update alone, and `Pipeline::process` with and without it), the memory of a full
//! state (50,000 signals, the first 1000 with an hour of history), and how long `/`, a page of
//! `/api/v1/signals` and `/metrics` take over real HTTP with that state. Prints figures; no
//! assertions.
//!
//! `cargo bench -p seismo --bench status`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo::alerting::silences::Silences;
use seismo::event::Sample;
use seismo::http::signal_query::SignalQuery;
use seismo::http::status::{Status, BUCKETS, BUCKET_MS, MAX_HISTORIES};
use seismo::http::{bind, HttpState};
use seismo::pipeline::Pipeline;
use seismo::telemetry::stats::Stats;
use seismo_e2e::http_client::request;

mod common;
use common::rss_kib;

/// Unix ms of a bucket boundary, so every run fills the same buckets.
const T0: i64 = 1_795_633_200_000;

fn names(n: usize) -> Vec<Arc<str>> {
    (0..n)
        .map(|i| format!("host.disk.dev{i}.read_bytes_per_s").into())
        .collect()
}

/// The best of `runs` runs of `f`, in ns per item for `items` items.
fn best(runs: usize, items: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e9 / items as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    // The state update alone: 100 signals, one point each per second, for an hour.
    let signals = names(100);
    let points = 3_600usize;
    let ns = best(5, points * signals.len(), || {
        let status = Status::new("bench".into());
        for p in 0..points {
            let ts = T0 + p as i64 * 1000;
            for (i, s) in signals.iter().enumerate() {
                status.record(
                    s,
                    ts,
                    (p + i) as f64,
                    Some(0.1),
                    false,
                    seismo_detectors::Stage::Full,
                );
            }
        }
    });
    println!("Status::record:                    {ns:>7.1} ns per sample (100 signals, 1 point/s each, one hour)");

    // The pipeline's whole per-sample work (EWMA detector, alerting) with and without it.
    let config = seismo_config::parse(
        "[detectors.defaults]\nkind = \"ewma\"\nwarmup = 10\n",
        "bench",
    )
    .expect("config");
    let samples: Vec<Sample> = (0..points)
        .flat_map(|p| {
            signals.iter().enumerate().map(move |(i, s)| Sample {
                signal: Arc::clone(s),
                ts_ms: T0 + p as i64 * 1000,
                value: 100.0 + ((p * 7919 + i) % 200) as f64 / 100.0,
            })
        })
        .collect();
    let now = Instant::now();
    for (label, with_status) in [("without status", false), ("with status", true)] {
        let ns = best(3, samples.len(), || {
            let mut p = Pipeline::new("bench".into(), &config, Arc::new(Stats::default()));
            if with_status {
                p = p.with_observer(Arc::new(Status::new("bench".into())));
            }
            for s in &samples {
                std::hint::black_box(p.process(s, now));
            }
        });
        println!("Pipeline::process, {label:<15} {ns:>7.1} ns per sample (EWMA)");
    }

    // A full state: 50,000 signals, the first MAX_HISTORIES with a full last hour (the HTTP
    // handlers read the real clock).
    const SIGNALS: usize = 50_000;
    let before = rss_kib();
    let status = Arc::new(Status::new("bench".into()));
    let all = names(SIGNALS);
    let now_ms = seismo::clock::now_ms();
    let first = now_ms - now_ms % BUCKET_MS - (BUCKETS as i64 - 1) * BUCKET_MS;
    for b in 0..BUCKETS as i64 {
        for (i, s) in all.iter().enumerate() {
            let score = (i % 100) as f64 / 100.0;
            let value = ((b * 37 + i as i64 * 11) % 101) as f64;
            let anomalous = (b + i as i64) % 29 == 0;
            status.record(
                s,
                first + b * BUCKET_MS,
                value,
                Some(score),
                anomalous,
                seismo_detectors::Stage::Full,
            );
        }
    }
    println!(
        "full state: {SIGNALS} signals, {MAX_HISTORIES} x {BUCKETS} buckets: {} KiB more resident memory",
        rss_kib().saturating_sub(before)
    );
    let ms = best(5, 1, || {
        std::hint::black_box(status.signals(now_ms, SIGNALS as u64, &SignalQuery::default()));
    }) / 1e6;
    println!("a page of 500 (sorted by name):    {ms:>7.2} ms");
    let ms = best(5, 1, || {
        std::hint::black_box(status.overview(now_ms, SIGNALS as u64, &SignalQuery::default(), 200));
    }) / 1e6;
    println!("the page's overview (top 200):     {ms:>7.2} ms");

    // How long the pipeline waits for the state's lock (it records every scored point under
    // it) while pages are made: a thread records one point after another, timing each.
    for (label, pages) in [
        ("no page being made", false),
        ("overviews being made", true),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (status, stop, signal) =
                (Arc::clone(&status), Arc::clone(&stop), Arc::clone(&all[0]));
            std::thread::spawn(move || {
                // Waits by whole microseconds (the last slot: 20 ms or more), and the longest.
                let mut waits = vec![0u64; 20_001];
                let mut max = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    status.record(
                        &signal,
                        now_ms,
                        1.0,
                        Some(0.1),
                        false,
                        seismo_detectors::Stage::Full,
                    );
                    let w = t.elapsed();
                    waits[(w.as_micros() as usize).min(20_000)] += 1;
                    max = max.max(w);
                }
                (waits, max)
            })
        };
        let t = Instant::now();
        let mut made = 0;
        while t.elapsed() < Duration::from_secs(2) || (pages && made < 20) {
            if pages {
                std::hint::black_box(status.overview(
                    now_ms,
                    SIGNALS as u64,
                    &SignalQuery::default(),
                    200,
                ));
                made += 1;
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        stop.store(true, Ordering::Relaxed);
        let (waits, max) = writer.join().expect("writer");
        let records: u64 = waits.iter().sum();
        let mut below = 0;
        let p999 = waits
            .iter()
            .position(|n| {
                below += n;
                below * 1000 >= records * 999
            })
            .unwrap_or(0);
        println!(
            "Status::record wait, {label:<20} p99.9 {:>6.3} ms, max {:>6.2} ms, {} waits of 1 ms or more ({records} records, {made} overviews)",
            p999 as f64 / 1e3,
            max.as_secs_f64() * 1e3,
            waits[1000..].iter().sum::<u64>(),
        );
    }

    // Over real HTTP, on a runtime like the agent's, with the full state.
    let rt = common::runtime();
    let config = seismo_config::HttpConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..seismo_config::HttpConfig::default()
    };
    let endpoint = bind(&config).expect("bind");
    let addr = endpoint.local_addr();
    let stats = Arc::new(Stats::default());
    stats
        .signals_active
        .store(SIGNALS as u64, std::sync::atomic::Ordering::Relaxed);
    let state = HttpState::new(
        Arc::clone(&stats),
        Arc::new(Silences::from_config(&[], 0)),
        Arc::new(AtomicBool::new(true)),
        false,
    )
    .with_status(Arc::clone(&status))
    .with_guard(seismo::http::Guard::read_only(addr));
    let _guard = rt.enter();
    let task = endpoint.serve(state, config.idle_timeout).expect("serve");
    for path in [
        "/",
        "/api/v1/signals",
        "/api/v1/signals?offset=49500",
        "/api/v1/signals?limit=5000",
        "/api/v1/incidents",
        "/metrics",
    ] {
        let mut bytes = 0;
        let mut times: Vec<Duration> = (0..20)
            .map(|_| {
                let t = Instant::now();
                let r = request(addr, "GET", path, None).expect("request");
                assert_eq!(r.status, 200, "{path}");
                bytes = r.body.len();
                t.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "GET {path:<30} median {:>7.2} ms, max {:>7.2} ms, {:>8} bytes ({SIGNALS} signals kept, 200 rows on the page)",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
            bytes
        );
    }
    task.abort();
}
