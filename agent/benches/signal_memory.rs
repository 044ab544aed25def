//! The agent's own memory per signal, counted to the byte: the pipeline (its map of detectors,
//! alerting's state and long-horizon profile per signal) and the status page, without a
//! source, a process or malloc's caching (every allocation is counted by
//! `seismo_e2e::counting_alloc`).
//!
//! `SIGNALS` scrape-like signals (names of about 80 bytes, as the `rss_curve` bench's target
//! serves) each get `POINTS` samples, one a second, through `Pipeline::process`, first
//! without and then with the status page observing; printed per signal: the bytes live, the
//! detectors' own state (`Detector::state_bytes`, from the `detectors` crate's count) and the
//! rest, which is the agent's.
//!
//! Run: `cargo bench -p seismo --bench signal_memory`. Knobs (environment):
//! `SEISMO_MEM_SIGNALS` (10000), `SEISMO_MEM_POINTS` (400), `SEISMO_MEM_KIND` (`ewma`;
//! `ensemble` for the default detector). Prints figures; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo::alerting::lifecycle::Alerting;
use seismo::event::{Normal, Range, Sample};
use seismo::http::status::Status;
use seismo::pipeline::observer::Observer;
use seismo::pipeline::Pipeline;
use seismo::telemetry::stats::Stats;
use seismo_e2e::counting_alloc::{live, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes live per signal once `signals` signals each had `points` samples, with or without
/// the status page.
fn per_signal(kind: &str, signals: usize, points: usize, status: bool) -> (f64, usize) {
    let config = seismo_config::parse(
        &format!(
            "[detectors]\nmax_signals = {}\n[detectors.defaults]\nkind = \"{kind}\"\n",
            signals + 10
        ),
        "signal_memory",
    )
    .expect("config");
    let names: Vec<Arc<str>> = (0..signals)
        .map(|i| {
            format!(
                "scrape.app.http_server_requests_in_flight.method_GET.route_/api/v1/resource{}.service_svc-{}",
                i / 256,
                i % 256
            )
            .into()
        })
        .collect();
    let before = live();
    let mut pipeline = Pipeline::new("bench".into(), &config, Arc::new(Stats::default()));
    if status {
        pipeline =
            pipeline.with_observer(Arc::new(Status::new("bench".into())) as Arc<dyn Observer>);
    }
    let start = Instant::now();
    let t0 = 1_765_000_000_000i64;
    for p in 0..points {
        let now = start + Duration::from_secs(p as u64);
        for (i, signal) in names.iter().enumerate() {
            let h = (i as u64 ^ (p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_mul(0xBF58_476D_1CE4_E5B9)
                >> 40;
            let value = 10.0 * (1.0 + (i % 101) as f64) * (1.0 + (h % 4001) as f64 / 100_000.0);
            let _ = pipeline.process(
                &Sample {
                    signal: Arc::clone(signal),
                    ts_ms: t0 + p as i64 * 1000,
                    value,
                },
                now,
            );
        }
    }
    let held = live() - before;
    let detectors = pipeline.detector_bytes();
    drop(pipeline);
    (held as f64 / signals as f64, detectors / signals)
}

/// Bytes live per signal of alerting's state alone (what `Pipeline::process` keeps of a
/// normal point: its recent window and long-horizon profile).
fn alerting_per_signal(signals: usize, points: usize) -> f64 {
    let config = seismo_config::parse("", "signal_memory").expect("config");
    let names: Vec<Arc<str>> = (0..signals)
        .map(|i| format!("scrape.app.series_{i}").into())
        .collect();
    let before = live();
    let mut alerting = Alerting::new("bench".into(), &config.alerting);
    for p in 0..points {
        for (i, signal) in names.iter().enumerate() {
            let value = (i + p % 7) as f64;
            alerting.learn(signal, value);
            let _ = alerting.on_normal(
                signal,
                &Normal {
                    ts_ms: p as i64 * 1000,
                    observed: value,
                    score: 0.1,
                    expected: Range {
                        low: 0.0,
                        high: 1e9,
                    },
                },
            );
        }
    }
    let held = live() - before;
    drop(alerting);
    held as f64 / signals as f64
}

fn main() {
    let signals = env("SEISMO_MEM_SIGNALS", 10_000);
    let points = env("SEISMO_MEM_POINTS", 400);
    let kind = std::env::var("SEISMO_MEM_KIND").unwrap_or_else(|_| "ewma".into());
    let (pipeline, detectors) = per_signal(&kind, signals, points, false);
    let (with_status, _) = per_signal(&kind, signals, points, true);
    let alerting = alerting_per_signal(signals, points);
    println!(
        "{signals} signals ({kind}), {points} points each; bytes live per signal:\n  \
         pipeline {pipeline:.0}: detector state {detectors}, alerting's state and profile \
         {alerting:.0}, the pipeline's map and the detector's box {:.0}\n  \
         status page {:.0}\n  in all {with_status:.0} (names not counted: the sources make them)",
        pipeline - detectors as f64 - alerting,
        with_status - pipeline,
    );
}
