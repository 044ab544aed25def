//! Points per second of every detector, and bytes of state per signal.
//!
//! Each benchmark feeds batches of 8192 points of a noisy daily pattern to one long-lived,
//! warmed-up detector, so the periodic k-means refits (every 8192 points by default) are
//! amortised into the figure exactly as in a running agent. Before its benchmark, each detector's
//! state size after the warm-up is printed, and its throughput per second of CPU time of this
//! thread over 16 batches: on a shared, loaded machine, wall-clock time (what criterion reports)
//! also counts the time other processes held the core. First, the ensemble's state is printed
//! by part (see `Ensemble::state_parts`): warmed up between k-means refits and at its peak
//! (collecting a refit's training values; the first refit may come before the period finder
//! settles, so the peak once it is gone is printed too), for noise, for a constant signal and for a young
//! one, and the mean and the largest state of a fleet of signals started together.

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
    daily(42, POINTS)
}

/// A noisy daily pattern of 5-minute points, with the noise of `seed`.
fn daily(seed: u64, points: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 2.0).expect("valid normal");
    (0..points)
        .map(|i| {
            let day = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            100.0 + 20.0 * day.sin() + noise.sample(&mut rng)
        })
        .collect()
}

fn parts(det: &Ensemble) -> String {
    let parts: Vec<String> = det
        .state_parts()
        .iter()
        .map(|(part, bytes)| format!("{part} {bytes}"))
        .collect();
    parts.join(", ")
}

/// The ensemble's state by part, for the noisy daily series after every buffer filled (at
/// its smallest between k-means refits and at its largest while a refit's training values
/// are collected), for white noise (no rhythm), for a constant signal, and for a young signal
/// (its first 100 points); then a fleet of signals started together.
fn ensemble_parts(values: &[f64]) {
    let mut det = Ensemble::new(EnsembleParams::default()).expect("defaults");
    let (mut low, mut high) = (None::<(usize, String)>, None::<(usize, String)>);
    let mut settled_high = None::<(usize, String)>;
    for (i, &v) in values.iter().enumerate() {
        det.observe(i as i64 * STEP_MS, v);
        // After a week, every profile is filled.
        if i >= 7 * 288 {
            let bytes = det.state_bytes();
            if low.as_ref().is_none_or(|l| bytes < l.0) {
                low = Some((bytes, parts(&det)));
            }
            if high.as_ref().is_none_or(|h| bytes > h.0) {
                high = Some((bytes, parts(&det)));
            }
            let finder_gone = det
                .state_parts()
                .iter()
                .any(|&(part, bytes)| part == "period finder" && bytes == 0);
            if finder_gone && settled_high.as_ref().is_none_or(|h| bytes > h.0) {
                settled_high = Some((bytes, parts(&det)));
            }
        }
    }
    for (what, at) in [
        ("between refits", low),
        ("peak", high),
        ("peak once the period finder is gone", settled_high),
    ] {
        if let Some((bytes, parts)) = at {
            println!("ensemble state, daily, warmed up, {what}: {bytes} bytes ({parts})");
        }
    }
    let mut rng = StdRng::seed_from_u64(7);
    let normal = Normal::new(10.0, 1.0).expect("valid normal");
    let noise: Vec<f64> = (0..values.len()).map(|_| normal.sample(&mut rng)).collect();
    let constant = vec![42.0; values.len()];
    for (what, series, points) in [
        ("noise, warmed up", &noise[..], values.len()),
        ("constant, warmed up", &constant[..], values.len()),
        ("daily, first 100 points", values, 100),
    ] {
        let mut det = Ensemble::new(EnsembleParams::default()).expect("defaults");
        for (i, &v) in series[..points].iter().enumerate() {
            det.observe(i as i64 * STEP_MS, v);
        }
        println!(
            "ensemble state, {what}: {} bytes ({})",
            det.state_bytes(),
            parts(&det)
        );
    }
    fleet();
}

/// Signals started together (daily series with noise of their own): the state per signal of
/// the whole fleet over two refit intervals, its largest mean and the largest signal.
fn fleet() {
    const SIGNALS: usize = 64;
    const POINTS: usize = 256 + 3 * 8192;
    let series: Vec<Vec<f64>> = (0..SIGNALS as u64)
        .map(|s| daily(100 + s, POINTS))
        .collect();
    let mut dets: Vec<Ensemble> = (0..SIGNALS)
        .map(|_| Ensemble::new(EnsembleParams::default()).expect("defaults"))
        .collect();
    let (mut worst_mean, mut worst_one, mut sum_means, mut samples) = (0.0f64, 0, 0.0, 0);
    for i in 0..POINTS {
        for (det, v) in dets.iter_mut().zip(&series) {
            det.observe(i as i64 * STEP_MS, v[i]);
        }
        // From the end of the first refit interval on, every 64 points.
        if i >= 256 + 8192 && i % 64 == 0 {
            let bytes: Vec<usize> = dets.iter().map(Detector::state_bytes).collect();
            let mean = bytes.iter().sum::<usize>() as f64 / SIGNALS as f64;
            worst_mean = worst_mean.max(mean);
            worst_one = worst_one.max(bytes.iter().copied().max().unwrap_or(0));
            sum_means += mean;
            samples += 1;
        }
    }
    println!(
        "ensemble state, a fleet of {SIGNALS} daily signals started together, over {} points: \
         {:.0} bytes per signal on average, at most {worst_mean:.0} at one time; the largest \
         signal {worst_one} bytes",
        POINTS - 256 - 8192,
        sum_means / f64::from(samples)
    );
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
