//! Silence where there is no anomaly: the default ensemble on seeded series without any
//! anomaly (flat, quantised, noisy, trending, daily and weekly rhythms), sampled regularly,
//! irregularly, with gaps and with repeated timestamps. Every alert here is a false one; the
//! test prints false alerts per 10,000 scored points for each (docs/detectors.md quotes them)
//! and bounds them.

use super::*;
use crate::synth::{self, STEP_MS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Points per series (69 days at 5 minutes).
const POINTS: usize = 20_000;
const SEEDS: [u64; 3] = [11, 12, 13];

/// How the timestamps of a series are laid out.
#[derive(Debug, Clone, Copy)]
enum Sampling {
    /// Every `STEP_MS`.
    Regular,
    /// Intervals drawn between a tenth of the step and twice it.
    Irregular,
    /// Regular, with a gap of 6 hours every 1,500 points.
    Gaps,
    /// Regular, every fifth point sent again with the same timestamp (and the next value).
    Repeats,
}

/// The timestamps (ms) of `n` points.
fn stamps(sampling: Sampling, seed: u64, n: usize) -> Vec<i64> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut t = 1_700_000_000_000_i64;
    (0..n)
        .map(|i| {
            let now = t;
            t += match sampling {
                Sampling::Regular => STEP_MS,
                Sampling::Irregular => rng.random_range(STEP_MS / 10..=2 * STEP_MS),
                Sampling::Gaps if i % 1500 == 1499 => 6 * 3_600_000,
                Sampling::Gaps => STEP_MS,
                Sampling::Repeats if i % 5 == 3 => 0,
                Sampling::Repeats => STEP_MS,
            };
            now
        })
        .collect()
}

/// The value of a shape at time `ts` (ms), plus its noise `e` (standard normal).
fn value(shape: &str, ts: i64, i: usize, e: f64) -> f64 {
    let day = std::f64::consts::TAU * (ts % 86_400_000) as f64 / 86_400_000.0;
    let week = std::f64::consts::TAU * (ts % (7 * 86_400_000)) as f64 / (7.0 * 86_400_000.0);
    match shape {
        "flat" => 3.0,
        // Small counts: integers around 4.
        "quantised" => (4.0 + 2.0 * e).round().max(0.0),
        "noisy" => 50.0 + 5.0 * e,
        "trending" => 50.0 + 0.002 * i as f64 + e,
        "daily" => 50.0 + 10.0 * day.sin() + 0.5 * e,
        "daily+weekly" => 50.0 + 10.0 * day.sin() + 5.0 * week.sin() + 0.5 * e,
        other => unreachable!("{other}"),
    }
}

/// Alerts (anomalous verdicts) and scored points of the default ensemble on one series.
fn false_alerts(shape: &str, sampling: Sampling, seed: u64) -> (usize, usize) {
    let ts = stamps(sampling, seed, POINTS);
    let e = synth::noise(seed, POINTS, 0.0, 1.0);
    let mut det = Ensemble::new(EnsembleParams::default()).unwrap();
    let (mut alerts, mut scored) = (0, 0);
    for (i, (&t, &e)) in ts.iter().zip(&e).enumerate() {
        if let Verdict::Scored(o) = det.observe(t, value(shape, t, i, e)) {
            scored += 1;
            alerts += usize::from(o.anomalous);
        }
    }
    (alerts, scored)
}

/// Most false alerts per 10,000 points each shape may raise under any sampling: a little over
/// what the default ensemble measured (2026-12-06: flat 0, quantised 3.3, noisy 3.3, trending
/// 11.7, daily 6.0 and daily+weekly 7.5 with gaps, under 1.7 otherwise; 11.5 and 7.3 before a
/// level beyond its range scored 0.46 instead of 0.45), so that a noisier ensemble fails here. The trending series is the weak spot: noise around a slow trend sets
/// new records 3 spreads from the lagging sliding median (22.8 per 10,000 before a new extreme
/// had to pass the old range by 2% of its width; see docs/detectors.md).
const MAX_PER_10K: [(&str, f64); 6] = [
    ("flat", 0.0),
    ("quantised", 4.0),
    ("noisy", 5.0),
    ("trending", 13.0),
    ("daily", 7.0),
    ("daily+weekly", 7.7),
];
/// Over every shape and sampling (measured 3.7; 5.8 before the 2% rule).
const MAX_OVERALL_PER_10K: f64 = 4.5;

#[test]
fn series_without_anomalies_stay_nearly_silent() {
    let samplings = [
        Sampling::Regular,
        Sampling::Irregular,
        Sampling::Gaps,
        Sampling::Repeats,
    ];
    let (mut all_alerts, mut all_scored) = (0, 0);
    let mut over = Vec::new();
    println!(
        "false alerts per 10,000 scored points (default ensemble, threshold 0.5, {} seeds of {POINTS} points):",
        SEEDS.len()
    );
    for (shape, max) in MAX_PER_10K {
        let mut row = format!("{shape:<13}");
        for sampling in samplings {
            let (mut alerts, mut scored) = (0, 0);
            for seed in SEEDS {
                let (a, s) = false_alerts(shape, sampling, seed);
                (alerts, scored) = (alerts + a, scored + s);
            }
            let rate = 10_000.0 * alerts as f64 / scored as f64;
            row.push_str(&format!(" {sampling:?} {rate:5.2}"));
            if rate > max {
                over.push(format!("{shape} {sampling:?}: {rate:.2} > {max}"));
            }
            (all_alerts, all_scored) = (all_alerts + alerts, all_scored + scored);
        }
        println!("{row}");
    }
    let overall = 10_000.0 * all_alerts as f64 / all_scored as f64;
    println!("all: {all_alerts} alerts in {all_scored} points, {overall:.2} per 10,000");
    assert!(over.is_empty(), "{over:?}");
    assert!(overall <= MAX_OVERALL_PER_10K, "{overall}");
}

#[test]
fn a_flat_series_never_alerts_however_it_is_sampled() {
    for sampling in [
        Sampling::Regular,
        Sampling::Irregular,
        Sampling::Gaps,
        Sampling::Repeats,
    ] {
        assert_eq!(false_alerts("flat", sampling, 1).0, 0, "{sampling:?}");
    }
}
