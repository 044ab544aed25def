//! Points per second of every detector, and bytes of state per signal.
//!
//! Each benchmark feeds batches of 8192 points of a noisy daily pattern to one long-lived,
//! warmed-up detector, so the periodic k-means refits (every 4096 points by default) are
//! amortised into the figure exactly as in a running agent. Before its benchmark, each detector's
//! state size after the warm-up is printed, and its throughput per second of CPU time of this
//! thread over 16 batches: on a shared, loaded machine, wall-clock time (what criterion reports)
//! also counts the time other processes held the core. First, the ensemble's state is printed
//! by part (see `Ensemble::state_parts`), warmed up, for a constant signal and for a young one.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use seismo_detectors::{
    Cusum, CusumParams, Detector, Ensemble, EnsembleParams, EwmaParams, KMeansDetector,
    KMeansParams, KnnConformal, KnnParams, MadParams, RobustEwma, Seasonal, SeasonalParams,
    SlidingMad,
};

const BATCH: usize = 8192;
/// Points in the pre-generated series (several batches, so batches differ).
const POINTS: usize = 8 * BATCH;
const STEP_MS: i64 = 300_000;

type Make = fn() -> Box<dyn Detector>;

fn series() -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(42);
    let noise = Normal::new(0.0, 2.0).expect("valid normal");
    (0..POINTS)
        .map(|i| {
            let day = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            100.0 + 20.0 * day.sin() + noise.sample(&mut rng)
        })
        .collect()
}

/// The ensemble's state by part, for the noisy daily series after every buffer filled, for a
/// constant signal, and for a young signal (its first 100 points).
fn ensemble_parts(values: &[f64]) {
    let constant = vec![42.0; values.len()];
    for (what, series, points) in [
        ("daily, warmed up", values, values.len()),
        ("constant, warmed up", &constant[..], values.len()),
        ("daily, first 100 points", values, 100),
    ] {
        let mut det = Ensemble::new(EnsembleParams::default()).expect("defaults");
        for (i, &v) in series[..points].iter().enumerate() {
            det.observe(i as i64 * STEP_MS, v);
        }
        let parts: Vec<String> = det
            .state_parts()
            .iter()
            .map(|(part, bytes)| format!("{part} {bytes}"))
            .collect();
        println!(
            "ensemble state, {what}: {} bytes ({})",
            det.state_bytes(),
            parts.join(", ")
        );
    }
}

fn detectors(c: &mut Criterion) {
    let values = series();
    ensemble_parts(&values);
    let all: [(&str, Make); 7] = [
        ("ensemble", || {
            Box::new(Ensemble::new(EnsembleParams::default()).expect("defaults"))
        }),
        ("ewma", || {
            Box::new(RobustEwma::new(EwmaParams::default()).expect("defaults"))
        }),
        ("mad", || {
            Box::new(SlidingMad::new(MadParams::default()).expect("defaults"))
        }),
        ("seasonal", || {
            Box::new(Seasonal::new(SeasonalParams::default()).expect("defaults"))
        }),
        ("cusum", || {
            Box::new(Cusum::new(CusumParams::default()).expect("defaults"))
        }),
        ("kmeans", || {
            Box::new(KMeansDetector::new(KMeansParams::default()).expect("defaults"))
        }),
        ("knn", || {
            Box::new(KnnConformal::new(KnnParams::default()).expect("defaults"))
        }),
    ];
    let mut group = c.benchmark_group("detectors");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, make) in all {
        let mut det = make();
        // Warm up over the whole series: every buffer full, models fitted.
        for (i, &v) in values.iter().enumerate() {
            det.observe(i as i64 * STEP_MS, v);
        }
        let mut t = POINTS;
        let cpu_start = thread_cpu_seconds();
        for _ in 0..16 * BATCH {
            black_box(det.observe(t as i64 * STEP_MS, black_box(values[t % POINTS])));
            t += 1;
        }
        let cpu = thread_cpu_seconds() - cpu_start;
        println!(
            "{name}: {} bytes of state per signal; {:.0} points per CPU-second",
            det.state_bytes(),
            (16 * BATCH) as f64 / cpu
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    let v = values[t % POINTS];
                    black_box(det.observe(t as i64 * STEP_MS, black_box(v)));
                    t += 1;
                }
            })
        });
    }
    group.finish();
}

/// CPU time consumed by the calling thread, in seconds.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

criterion_group!(benches, detectors);
criterion_main!(benches);
