//! Seeded synthetic series and checks shared by the detectors' unit tests.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::detector::{Detector, Verdict};

/// Five minutes, the sampling period of the synthetic series.
pub(crate) const STEP_MS: i64 = 300_000;

pub(crate) fn noise(seed: u64, n: usize, mean: f64, sd: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            mean + sd * z
        })
        .collect()
}

/// A daily sine (amplitude 10 around 50) plus noise, sampled every 5 minutes.
pub(crate) fn daily(seed: u64, n: usize) -> Vec<f64> {
    let per_day = (86_400_000 / STEP_MS) as f64;
    noise(seed, n, 0.0, 0.5)
        .into_iter()
        .enumerate()
        .map(|(i, e)| 50.0 + 10.0 * (std::f64::consts::TAU * i as f64 / per_day).sin() + e)
        .collect()
}

/// A working day's plateau: 20 at night, 80 from 09:00 to 18:00 (noise of 2 and 7), every 5
/// minutes, for `days` days; on day `missing` the plateau does not come.
pub(crate) fn plateau(seed: u64, days: usize, missing: usize) -> Vec<f64> {
    let per_day = (86_400_000 / STEP_MS) as usize;
    noise(seed, days * per_day, 0.0, 1.0)
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let hour = (i % per_day) * 24 / per_day;
            if (9..18).contains(&hour) && i / per_day != missing {
                80.0 + 7.0 * e
            } else {
                20.0 + 2.0 * e
            }
        })
        .collect()
}

/// Scores per point (`None` while warming up or skipped), fed at `STEP_MS` intervals.
pub(crate) fn scores(det: &mut dyn Detector, values: &[f64]) -> Vec<Option<f64>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| match det.observe(i as i64 * STEP_MS, v) {
            Verdict::Scored(o) => Some(o.score),
            _ => None,
        })
        .collect()
}

/// Indices whose verdict is anomalous.
pub(crate) fn flagged(det: &mut dyn Detector, values: &[f64]) -> Vec<usize> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, &v)| match det.observe(i as i64 * STEP_MS, v) {
            Verdict::Scored(o) if o.anomalous => Some(i),
            _ => None,
        })
        .collect()
}

/// Checks every detector must pass: sane observations, NaN/inf skipped without touching the
/// state, determinism, any timestamps accepted, bounded state.
pub(crate) fn common_contract(make: impl Fn() -> Box<dyn Detector>, max_state_bytes: usize) {
    let clean = daily(7, 3000);
    // Sane observations and determinism.
    let (mut a, mut b) = (make(), make());
    for (i, &v) in clean.iter().enumerate() {
        let ts = i as i64 * STEP_MS;
        let (va, vb) = (a.observe(ts, v), b.observe(ts, v));
        assert_eq!(va, vb, "not deterministic at {i}");
        if let Verdict::Scored(o) = va {
            assert!((0.0..=1.0).contains(&o.score), "{o:?}");
            assert!(o.expected_low <= o.expected_high, "{o:?}");
            assert!(
                !o.expected_low.is_nan() && !o.expected_high.is_nan(),
                "{o:?}"
            );
        }
    }
    assert!(
        a.state_bytes() <= max_state_bytes,
        "{} bytes",
        a.state_bytes()
    );

    // Non-finite values are skipped, counted, and change nothing.
    let (mut a, mut b) = (make(), make());
    let bad = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let mut inserted = 0;
    for (i, &v) in clean.iter().enumerate() {
        let ts = i as i64 * STEP_MS;
        if i % 11 == 0 {
            assert_eq!(b.observe(ts, bad[i % 3]), Verdict::Skipped);
            inserted += 1;
        }
        assert_eq!(
            a.observe(ts, v),
            b.observe(ts, v),
            "NaN changed the state at {i}"
        );
    }
    assert_eq!(b.skipped(), inserted);
    assert_eq!(a.skipped(), 0);

    // Gaps, repeats, out-of-order and extreme timestamps; extreme values.
    let mut c = make();
    let stamps = [
        0,
        i64::MAX,
        i64::MIN,
        -1,
        5,
        5,
        3,
        1_700_000_000_000,
        -86_400_001,
    ];
    for (i, &v) in clean.iter().enumerate() {
        let v = match i % 97 {
            0 => 1e300,
            1 => -1e300,
            2 => 0.0,
            _ => v,
        };
        if let Verdict::Scored(o) = c.observe(stamps[i % stamps.len()], v) {
            assert!((0.0..=1.0).contains(&o.score), "{o:?}");
            assert!(
                !o.expected_low.is_nan() && !o.expected_high.is_nan(),
                "{o:?}"
            );
        }
    }
    // A constant series never alerts and never breaks.
    let mut d = make();
    let constant = flagged(d.as_mut(), &[3.0; 6000]);
    assert!(constant.is_empty(), "{constant:?}");
}

/// Fraction of scored points flagged on `values`.
pub(crate) fn alert_rate(det: &mut dyn Detector, values: &[f64]) -> f64 {
    let mut scored = 0usize;
    let mut alerts = 0usize;
    for (i, &v) in values.iter().enumerate() {
        if let Verdict::Scored(o) = det.observe(i as i64 * STEP_MS, v) {
            scored += 1;
            alerts += usize::from(o.anomalous);
        }
    }
    alerts as f64 / scored.max(1) as f64
}

/// Noise around a steady trend: `slope` per point from 50, spread `sd`.
pub(crate) fn trending(seed: u64, n: usize, slope: f64, sd: f64) -> Vec<f64> {
    noise(seed, n, 0.0, sd)
        .into_iter()
        .enumerate()
        .map(|(i, e)| 50.0 + slope * i as f64 + e)
        .collect()
}
