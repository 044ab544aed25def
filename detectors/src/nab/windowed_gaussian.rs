//! NAB's `windowedGaussian` baseline detector, reproduced to the last bit we can.
//!
//! NAB's detector keeps the last `window_size` values (6400), refreshed in steps of
//! `step_size` (100) once the window is full, and scores each value, before learning it,
//! as `1 - Q(|x - mean| / std)` with `Q` the normal tail probability and `mean`, `std` the
//! window's (population) mean and standard deviation, `std = 1e-6` when it is 0. Until the
//! window is full every value updates the statistics; after that they are recomputed only when
//! a step of `step_size` new values has been collected, which then replaces the oldest ones.
//! Its very first value scores 0 (no statistics yet): here that is [`Verdict::WarmingUp`].
//!
//! The sums use numpy's pairwise summation, as NAB's `numpy.mean`/`numpy.std` do, so the
//! scores match NAB's published results files to their 12 printed digits. Memory is bounded by
//! `window_size + step_size` values. Timestamps are not used; NaN and infinite values are
//! skipped without touching the state.

use std::f64::consts::SQRT_2;

use serde::{Deserialize, Serialize};

use crate::detector::{skip_non_finite, Detector, Observation, Stage, Verdict};
use crate::param::{self, InvalidParam};

const NAME: &str = "windowed_gaussian";

/// NAB's floor on the standard deviation of a constant window.
const MIN_STD: f64 = 0.000_001;
/// Upper bound on `window_size`, so the state stays bounded (8 MB at most).
const MAX_WINDOW: usize = 1_000_000;
/// numpy's `PW_BLOCKSIZE`.
const PAIRWISE_BLOCK: usize = 128;

/// Parameters of [`WindowedGaussian`]; the defaults are NAB's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowedGaussianParams {
    /// Values in the window, 1..=1 000 000 (NAB: 6400).
    pub window_size: usize,
    /// New values collected before a full window slides, 1..=`window_size` (NAB: 100).
    pub step_size: usize,
    /// Score at or above which a point is anomalous, in `(0, 1)`. NAB itself optimises the
    /// threshold over its corpus (and finds 1.0); 0.99999 flags points about 4.4 standard
    /// deviations out.
    pub threshold: f64,
}

impl Default for WindowedGaussianParams {
    fn default() -> Self {
        Self {
            window_size: 6400,
            step_size: 100,
            threshold: 0.99999,
        }
    }
}

impl WindowedGaussianParams {
    /// Checks every parameter; NaN is rejected.
    pub fn validate(&self) -> Result<(), InvalidParam> {
        param::count(
            NAME,
            "window_size",
            self.window_size,
            1,
            MAX_WINDOW,
            "1 to 1000000 values",
        )?;
        param::count(
            NAME,
            "step_size",
            self.step_size,
            1,
            self.window_size,
            format!("1 to window_size ({})", self.window_size),
        )?;
        param::threshold(NAME, self.threshold)
    }
}

/// NAB's windowed Gaussian detector; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowedGaussian {
    params: WindowedGaussianParams,
    /// `|z|` at which the score reaches the threshold.
    z_threshold: f64,
    /// The window, oldest first (a Vec, not a ring: the pairwise sums need NAB's order).
    window: Vec<f64>,
    /// Values waiting for the next slide of a full window.
    step: Vec<f64>,
    mean: f64,
    std: f64,
    skipped: u64,
}

impl WindowedGaussian {
    /// A detector that has seen nothing; fails when `params` do not validate.
    pub fn new(params: WindowedGaussianParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        Ok(Self {
            params,
            z_threshold: z_for_score(params.threshold),
            window: Vec::with_capacity(params.window_size.min(1024)),
            step: Vec::new(),
            mean: 0.0,
            std: 1.0,
            skipped: 0,
        })
    }

    /// NAB's score of `x` against the current statistics: `1 - Q(|z|)`.
    fn score(&self, x: f64) -> f64 {
        // NAB mirrors values below the mean (xp = 2 mean - x) rather than taking |x - mean|;
        // the two differ in the last bit, so do as NAB does.
        let x = if x < self.mean {
            2.0 * self.mean - x
        } else {
            x
        };
        let z = (x - self.mean) / self.std;
        // z is NaN only when x or mean overflowed to infinity; score such a point 1.
        let tail = 0.5 * libm::erfc(z / SQRT_2);
        if tail.is_nan() {
            1.0
        } else {
            (1.0 - tail).clamp(0.0, 1.0)
        }
    }

    fn update_statistics(&mut self) {
        let n = self.window.len() as f64;
        let mean = pairwise_sum(&self.window) / n;
        let squares: f64 = pairwise_sum_map(&self.window, |v| (v - mean) * (v - mean));
        let std = (squares / n).sqrt();
        self.mean = mean;
        self.std = if std == 0.0 { MIN_STD } else { std };
    }
}

impl Detector for WindowedGaussian {
    fn observe(&mut self, _ts_ms: i64, value: f64) -> Verdict {
        if skip_non_finite(value, &mut self.skipped) {
            return Verdict::Skipped;
        }
        let verdict = if self.window.is_empty() {
            Verdict::WarmingUp
        } else {
            let score = self.score(value);
            let half_width = self.z_threshold * self.std;
            Verdict::Scored(Observation::around(
                score,
                self.mean,
                half_width,
                self.params.threshold,
            ))
        };
        if self.window.len() < self.params.window_size {
            self.window.push(value);
            self.update_statistics();
        } else {
            self.step.push(value);
            if self.step.len() == self.params.step_size {
                self.window.drain(..self.params.step_size);
                self.window.append(&mut self.step);
                self.update_statistics();
            }
        }
        verdict
    }

    fn stage(&self) -> Stage {
        Stage::after(self.window.len(), 1)
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + (self.window.capacity() + self.step.capacity()) * std::mem::size_of::<f64>()
    }
}

/// The smallest `|z|` whose score `1 - Q(|z|)` reaches `score` (bisection; `score` in (0, 1)).
fn z_for_score(score: f64) -> f64 {
    let reaches = |z: f64| 1.0 - 0.5 * libm::erfc(z / SQRT_2) >= score;
    // 1 - Q(z) rounds to 1 from z ~ 8.3 on, so the bracket holds every reachable score.
    let (mut lo, mut hi) = (0.0_f64, 40.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// numpy's pairwise summation (`pairwise_sum_DOUBLE`), bit for bit.
fn pairwise_sum(a: &[f64]) -> f64 {
    pairwise_sum_map(a, |v| v)
}

/// [`pairwise_sum`] of `f(a[i])`, without materialising the mapped values.
fn pairwise_sum_map(a: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &v in a {
            res += f(v);
        }
        res
    } else if n <= PAIRWISE_BLOCK {
        let mut r = [0.0; 8];
        for (acc, &v) in r.iter_mut().zip(&a[..8]) {
            *acc = f(v);
        }
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc += f(v);
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += f(v);
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum_map(&a[..half], f) + pairwise_sum_map(&a[half..], f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector(window_size: usize, step_size: usize) -> WindowedGaussian {
        WindowedGaussian::new(WindowedGaussianParams {
            window_size,
            step_size,
            ..WindowedGaussianParams::default()
        })
        .unwrap()
    }

    fn score(v: Verdict) -> f64 {
        match v {
            Verdict::Scored(o) => o.score,
            other => panic!("not scored: {other:?}"),
        }
    }

    #[test]
    fn pairwise_sum_matches_plain_sums_and_numpy_order() {
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        let v: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&v), 499_500.0);
        // Order matters in floating point: 1e16 + 1 + 1 ... summed left to right loses every
        // 1 (the spacing of doubles at 1e16 is 2); numpy's eight accumulators keep 14 of them.
        let mut w = vec![1.0; 16];
        w[0] = 1e16;
        assert_eq!(pairwise_sum(&w), 1e16 + 14.0);
        let naive = w.iter().fold(0.0, |a, b| a + b);
        assert_eq!(naive, 1e16);
    }

    #[test]
    fn first_point_warms_up_then_a_constant_window_flags_any_change() {
        let mut d = detector(6400, 100);
        assert_eq!(d.name(), "windowed_gaussian");
        assert_eq!(d.observe(0, 5.0), Verdict::WarmingUp);
        // The window [5] has std 0, floored to 1e-6: the same value scores 1 - Q(0) = 0.5.
        assert_eq!(score(d.observe(1, 5.0)), 0.5);
        assert_eq!(score(d.observe(2, 5.1)), 1.0);
    }

    #[test]
    fn score_is_one_minus_the_normal_tail() {
        let mut d = detector(10, 1);
        for (i, v) in [1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
            d.observe(i as i64, v);
        }
        // Window [1, 2, 3, 4]: mean 2.5, population std sqrt(1.25).
        let std = 1.25_f64.sqrt();
        let z = (6.0 - 2.5) / std;
        let expected = 1.0 - 0.5 * libm::erfc(z / SQRT_2);
        assert!((score(d.observe(4, 6.0)) - expected).abs() < 1e-15);
        // Symmetric below the mean (the window is now [1, 2, 3, 4, 6]: mean 3.2).
        let mean = 3.2;
        let std =
            ((2.2f64.powi(2) + 1.2f64.powi(2) + 0.2f64.powi(2) + 0.8f64.powi(2) + 2.8f64.powi(2))
                / 5.0)
                .sqrt();
        let expected = 1.0 - 0.5 * libm::erfc((mean - 0.0) / std / SQRT_2);
        assert!((score(d.observe(5, 0.0)) - expected).abs() < 1e-12);
    }

    #[test]
    fn a_full_window_slides_only_by_whole_steps() {
        let mut d = detector(4, 2);
        for (i, v) in [1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
            d.observe(i as i64, v);
        }
        assert_eq!(d.mean, 2.5);
        d.observe(4, 100.0);
        // One value in the step buffer: statistics unchanged.
        assert_eq!(d.mean, 2.5);
        d.observe(5, 200.0);
        // The window slid by two: [3, 4, 100, 200].
        assert_eq!(d.window, vec![3.0, 4.0, 100.0, 200.0]);
        assert_eq!(d.mean, 76.75);
        assert!(d.step.is_empty());
    }

    #[test]
    fn skips_non_finite_values_and_bounds_memory() {
        let mut d = detector(50, 10);
        let mut e = detector(50, 10);
        for i in 0..1000 {
            let v = f64::from(i % 17);
            if i % 5 == 0 {
                assert_eq!(d.observe(i.into(), f64::NAN), Verdict::Skipped);
                assert_eq!(d.observe(i.into(), f64::INFINITY), Verdict::Skipped);
            }
            assert_eq!(d.observe(i.into(), v), e.observe(i.into(), v));
            assert!(d.window.len() <= 50 && d.step.len() < 10);
        }
        assert_eq!(d.skipped(), 400);
        assert_eq!(e.skipped(), 0);
    }

    #[test]
    fn expected_range_is_where_the_score_stays_below_the_threshold() {
        let mut d = detector(100, 10);
        for i in 0..100 {
            d.observe(i, f64::from((i % 10) as i32));
        }
        let Verdict::Scored(o) = d.observe(100, 4.5) else {
            panic!()
        };
        assert!(!o.anomalous);
        let just_in = o.expected_high - 1e-6;
        let just_out = o.expected_high + 1e-6;
        assert!(d.score(just_in) < 0.99999 && d.score(just_out) >= 0.99999);
        assert!(d.score(o.expected_low + 1e-6) < 0.99999);
    }

    #[test]
    fn params_validation() {
        let ok = WindowedGaussianParams::default();
        assert_eq!(ok.validate(), Ok(()));
        let with = |f: fn(&mut WindowedGaussianParams)| {
            let mut p = ok;
            f(&mut p);
            p.validate()
        };
        // The parameter refused, and its value.
        let refused = |f: fn(&mut WindowedGaussianParams)| with(f).map_err(|e| (e.name, e.value));
        assert_eq!(refused(|p| p.window_size = 0), Err(("window_size", 0.0)));
        assert_eq!(refused(|p| p.step_size = 6401), Err(("step_size", 6401.0)));
        let msg = with(|p| p.step_size = 6401).unwrap_err().to_string();
        assert!(msg.contains("use 1 to window_size (6400)"), "{msg}");
        assert!(with(|p| p.step_size = 0).is_err());
        assert!(with(|p| p.threshold = 1.0).is_err());
        assert!(with(|p| p.threshold = f64::NAN).is_err());
        assert!(WindowedGaussian::new(WindowedGaussianParams {
            window_size: 0,
            ..ok
        })
        .is_err());
    }
}
