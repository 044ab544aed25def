//! Sliding median / MAD z-score detector.
//!
//! Each point is scored against the median and the median absolute deviation (MAD) of the last
//! `window` finite values, before it joins them. Both statistics ignore up to half the window
//! being wild, so spikes neither drag the baseline nor inflate the spread, and a lasting shift is
//! fully absorbed once it fills half the window (no slow EWMA tail). The spread is
//! `1.4826 * MAD` (a normal sigma); when more than half the window holds one value (a quantised or
//! mostly flat signal, where the MAD is 0) the mean absolute deviation stands in for it, so the
//! first change is still flagged without every later wiggle scoring 1.
//!
//! Scores are calibrated with [`crate::score_from_z`] (two-sided normal tail, log scale).
//! Timestamps are not used. State: the window in arrival order as `f32` (its 7 significant
//! digits are far finer than the spread's floor of a thousandth of the median), `4 * window`
//! bytes, and its median and spread; nothing but one value while the window holds only that
//! value (see [`crate::history`]). The median and MAD are selected afresh as each value joins
//! (in a buffer per thread), not read from a sorted copy of the window kept per signal.

use serde::{Deserialize, Serialize};

use crate::detector::{skip_non_finite, Detector, Observation, Stage, Verdict};
use crate::evidence::Finding;
use crate::history::{narrow, History};
use crate::param::{self, InvalidParam};
use crate::scale::{self, MAD_TO_SIGMA, MEAN_ABS_TO_SIGMA};
use crate::score::{score_from_z, z_for_score};

const NAME: &str = "mad";

/// Parameters of [`SlidingMad`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MadParams {
    /// Values the median and MAD are taken over, 8..=4096.
    pub window: usize,
    /// Values seen before the first score, 4..=`window`.
    pub warmup: usize,
    /// Score at or above which a point is anomalous, (0, 1).
    pub threshold: f64,
    /// Absolute floor on the spread (sigma), in the signal's unit.
    pub min_scale: f64,
    /// Floor on the spread relative to `|median|`.
    pub min_rel_scale: f64,
}

impl Default for MadParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl MadParams {
    /// The defaults, as a constant (the ensemble's components use them).
    pub(crate) const DEFAULT: Self = Self {
        window: 128,
        warmup: 30,
        threshold: 0.5,
        min_scale: 0.0,
        min_rel_scale: 0.001,
    };
}

impl MadParams {
    pub fn validate(&self) -> Result<(), InvalidParam> {
        param::count(
            NAME,
            "window",
            self.window,
            8,
            4096,
            "from 8 to 4096 values",
        )?;
        param::count(
            NAME,
            "warmup",
            self.warmup,
            4,
            self.window,
            "from 4 values up to the window",
        )?;
        param::threshold(NAME, self.threshold)?;
        param::scale_floors(NAME, self.min_scale, self.min_rel_scale)
    }
}

/// Sliding-window median/MAD detector; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlidingMad {
    params: MadParams,
    z_threshold: f64,
    window: MadWindow,
    skipped: u64,
}

/// What a [`SlidingMad`] learns of one signal, without its parameters: the ensemble holds one
/// per signal and passes the (shared) parameters in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub(crate) struct MadWindow {
    /// The window in arrival order.
    recent: History<f32>,
    /// The window's median and spread before its floors, computed as each value joins (not
    /// saved: computed again when read back).
    #[serde(skip)]
    stats: (f64, f64),
}

impl SlidingMad {
    pub fn new(params: MadParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        Ok(Self {
            params,
            z_threshold: z_for_score(params.threshold),
            window: MadWindow::new(&params),
            skipped: 0,
        })
    }

    /// Median and spread (sigma) of the current window; `None` while warming up.
    pub fn baseline(&self) -> Option<(f64, f64)> {
        self.window.baseline(&self.params)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.window.heap_bytes()
    }
}

impl MadWindow {
    pub(crate) fn new(p: &MadParams) -> Self {
        Self {
            recent: History::new(p.window),
            stats: (0.0, 0.0),
        }
    }

    /// Median and spread (sigma) of the current window; `None` while warming up.
    pub(crate) fn baseline(&self, p: &MadParams) -> Option<(f64, f64)> {
        if self.recent.len() < p.warmup {
            return None;
        }
        let (median, sigma) = self.stats;
        let sigma = scale::floored(sigma, median, p.min_scale, p.min_rel_scale);
        Some((median, sigma))
    }

    /// The signed z-score of `value` against the window, `None` while warming up.
    pub(crate) fn z(&self, p: &MadParams, value: f64) -> Option<(f64, f64, f64)> {
        self.baseline(p)
            .map(|(m, s)| (((value - m) / s).clamp(-1e300, 1e300), m, s))
    }

    /// Learns `value`; returns the value it pushed out of the full window.
    pub(crate) fn learn(&mut self, value: f64) -> Option<f32> {
        let out = self.recent.push(narrow(value));
        self.stats = window_stats(&self.recent);
        out
    }

    /// The window's values in arrival order.
    pub(crate) fn values(&self) -> &History<f32> {
        &self.recent
    }

    /// What a spike against the current window is measured by: `median` and `spread` from
    /// [`MadWindow::baseline`], with the window's MAD and length.
    pub(crate) fn spike(&self, median: f64, spread: f64) -> Finding {
        Finding::Spike {
            median,
            mad: spread / MAD_TO_SIGMA,
            spread,
            window: u32::try_from(self.recent.len()).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.recent.heap_bytes()
    }
}

/// Saved as its values; their median and spread are computed again when read back.
impl Serialize for MadWindow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MadWindow::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for MadWindow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut read = MadWindow::deserialize(d)?;
        read.stats = window_stats(&read.recent);
        Ok(read)
    }
}

thread_local! {
    /// The window's values while its median and MAD are selected (one buffer per thread, not
    /// one per signal).
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The median and spread (before floors) of the values of `window`.
fn window_stats(window: &History<f32>) -> (f64, f64) {
    if window.len() == 0 {
        return (0.0, 0.0);
    }
    if window.is_uniform() {
        return (f64::from(window.uniform_value()), 0.0);
    }
    SCRATCH.with(|scratch| {
        let mut values = scratch.borrow_mut();
        values.clear();
        values.extend(window.iter().map(f64::from));
        median_and_sigma_selected(&mut values)
    })
}

/// [`median_and_sigma`] of `values` without sorting them (they are reordered): the median and
/// the MAD by selection, so the window needs no sorted copy. The same figures, but for the
/// order in which the mean absolute deviation (the stand-in for a MAD of 0) is summed.
pub(crate) fn median_and_sigma_selected(values: &mut [f64]) -> (f64, f64) {
    let n = values.len();
    let (left, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    let lower = if n.is_multiple_of(2) {
        left.iter().copied().max_by(f64::total_cmp).unwrap_or(upper)
    } else {
        upper
    };
    let median = lower / 2.0 + upper / 2.0;
    for v in values.iter_mut() {
        *v = (*v - median).abs();
    }
    let (_, mad, _) = values.select_nth_unstable_by((n - 1) / 2, f64::total_cmp);
    let mut sigma = MAD_TO_SIGMA * mad.min(f64::MAX);
    if sigma <= 0.0 {
        let mean_abs = values.iter().sum::<f64>() / n as f64;
        sigma = MEAN_ABS_TO_SIGMA * mean_abs.min(f64::MAX);
    }
    (median, sigma)
}

/// The first of `0..n` for which `before` is false (`before` true then false along it).
fn partition_point(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Median and sigma of a sorted, non-empty slice (see the module documentation).
pub(crate) fn median_and_sigma(sorted: &[f64]) -> (f64, f64) {
    median_and_sigma_by(sorted.len(), |i| sorted[i])
}

/// [`median_and_sigma`] of the `n` values `sorted(0) <= sorted(1) <= ...`.
pub(crate) fn median_and_sigma_by(n: usize, sorted: impl Fn(usize) -> f64) -> (f64, f64) {
    let median = sorted((n - 1) / 2) / 2.0 + sorted(n / 2) / 2.0;
    // The deviations left of the median grow leftwards, those right of it rightwards: merge the
    // two sorted runs up to the middle one instead of sorting them.
    let split = partition_point(n, |i| sorted(i) < median);
    let (mut l, mut r) = (split, split); // next left candidate is l - 1, next right is r
    let target = (n - 1) / 2;
    let mut mad = 0.0;
    for _ in 0..=target {
        let left = if l > 0 {
            median - sorted(l - 1)
        } else {
            f64::INFINITY
        };
        let right = if r < n {
            sorted(r) - median
        } else {
            f64::INFINITY
        };
        if left <= right {
            mad = left;
            l -= 1;
        } else {
            mad = right;
            r += 1;
        }
    }
    let mut sigma = MAD_TO_SIGMA * mad.min(f64::MAX);
    if sigma <= 0.0 {
        let mean_abs = (0..n).map(|i| (sorted(i) - median).abs()).sum::<f64>() / n as f64;
        sigma = MEAN_ABS_TO_SIGMA * mean_abs.min(f64::MAX);
    }
    (median, sigma)
}

impl Detector for SlidingMad {
    fn observe(&mut self, _ts_ms: i64, value: f64) -> Verdict {
        if skip_non_finite(value, &mut self.skipped) {
            return Verdict::Skipped;
        }
        let verdict = match self.window.z(&self.params, value) {
            None => Verdict::WarmingUp,
            Some((z, median, sigma)) => {
                let score = score_from_z(z);
                let half = (self.z_threshold * sigma).min(f64::MAX);
                let spike = self.window.spike(median, sigma);
                Verdict::Scored(
                    Observation::around(score, median, half, self.params.threshold).found(spike),
                )
            }
        };
        self.window.learn(value);
        verdict
    }

    fn stage(&self) -> Stage {
        Stage::after(self.window.recent.len(), self.params.warmup)
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, alert_rate, flagged, noise};

    fn det() -> SlidingMad {
        SlidingMad::new(MadParams::default()).unwrap()
    }

    #[test]
    fn contract() {
        synth::common_contract(|| Box::new(det()), 1024);
    }

    /// The median and spread selected from the window are those of the last `window` values
    /// (as `f32`) sorted afresh (the spread to the last bits but for a MAD of 0, whose stand-in
    /// sums in another order), through runs of equal values, constant stretches that free the
    /// window and the first different value after them, odd and even windows.
    #[test]
    fn the_selected_median_and_spread_are_those_of_the_window_sorted() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for size in [15, 16] {
            let mut d = SlidingMad::new(MadParams {
                window: size,
                warmup: 4,
                ..MadParams::default()
            })
            .unwrap();
            let mut seen: Vec<f32> = Vec::new();
            let (mut uniform_seen, mut mad_zero) = (0, 0);
            for i in 0..5000 {
                let v: f64 = match (i / 100) % 4 {
                    0 => rng.random_range(0.0..10.0),
                    1 => f64::from(rng.random_range(0..3)),
                    2 => 7.0,
                    _ => rng.random_range(-1e6..1e6),
                };
                d.window.learn(v);
                seen.push(narrow(v));
                uniform_seen += usize::from(d.window.recent.is_uniform());
                let window = &seen[seen.len().saturating_sub(size)..];
                if window.len() < 4 {
                    continue;
                }
                let mut sorted: Vec<f64> = window.iter().map(|&x| f64::from(x)).collect();
                sorted.sort_by(f64::total_cmp);
                let (m, s) = median_and_sigma(&sorted);
                let (median, sigma) = d.window.stats;
                assert_eq!(median, m, "point {i}");
                let mut deviations: Vec<f64> = sorted.iter().map(|x| (x - m).abs()).collect();
                deviations.sort_by(f64::total_cmp);
                if deviations[(deviations.len() - 1) / 2] == 0.0 && s > 0.0 {
                    mad_zero += 1;
                }
                assert!((sigma - s).abs() <= 1e-12 * s, "point {i}: {sigma} {s}");
                let p = MadParams::default();
                let s = scale::floored(s, m, p.min_scale, p.min_rel_scale);
                let (_, b) = d.baseline().unwrap();
                assert!((b - s).abs() <= 1e-12 * s, "point {i}");
            }
            assert!(uniform_seen > 100, "{uniform_seen}");
            assert!(mad_zero > 100, "{mad_zero}");
        }
    }

    #[test]
    fn a_saved_window_reads_back_with_its_median_and_spread() {
        let mut d = det();
        for (i, &x) in noise(12, 300, 10.0, 1.0).iter().enumerate() {
            d.observe(i as i64, x);
        }
        let back: SlidingMad = postcard::from_bytes(&postcard::to_allocvec(&d).unwrap()).unwrap();
        assert_eq!(back.baseline(), d.baseline());
        assert!(back.baseline().is_some_and(|(_, s)| s > 0.5));
    }

    #[test]
    fn a_constant_window_holds_no_buffer() {
        let mut d = det();
        for i in 0..1000 {
            d.observe(i, 3.0);
        }
        assert_eq!(d.heap_bytes(), 0);
        let Verdict::Scored(o) = d.observe(1000, 4.0) else {
            panic!()
        };
        assert!(o.anomalous, "{o:?}");
        assert!(d.heap_bytes() <= 4 * 128, "{}", d.heap_bytes());
    }

    #[test]
    fn median_and_sigma_of_small_windows() {
        assert_eq!(median_and_sigma(&[1.0, 2.0, 3.0]), (2.0, 1.4826));
        assert_eq!(median_and_sigma(&[1.0, 2.0, 3.0, 4.0]).0, 2.5);
        // MAD 0 (mostly one value): the mean absolute deviation stands in.
        let (m, s) = median_and_sigma(&[5.0, 5.0, 5.0, 5.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((s - MEAN_ABS_TO_SIGMA * 0.8).abs() < 1e-12);
    }

    #[test]
    fn spike_is_flagged_and_forgotten() {
        let mut v = noise(1, 2000, 10.0, 1.0);
        v[1000] = 18.0;
        let f = flagged(&mut det(), &v);
        assert!(f.contains(&1000), "{f:?}");
        assert!(f.len() <= 3, "{f:?}");
        // Its evidence: the median and MAD of the window it was measured against.
        let mut d = det();
        for (i, &x) in v[..1000].iter().enumerate() {
            d.observe(i as i64, x);
        }
        let Verdict::Scored(o) = d.observe(1000, 18.0) else {
            panic!()
        };
        let c = o.evidence.primary().unwrap();
        match c.finding {
            crate::Finding::Spike {
                median,
                mad,
                spread,
                window,
            } => {
                assert!((median - 10.0).abs() < 0.3 && (mad * MAD_TO_SIGMA - spread).abs() < 1e-9);
                assert_eq!(window, 128);
                assert!(18.0 > c.expected_high, "{c:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn level_shift_is_flagged_then_absorbed() {
        let mut v = noise(2, 2000, 10.0, 1.0);
        v[1000..].iter_mut().for_each(|x| *x += 8.0);
        let f = flagged(&mut det(), &v);
        assert!(f.contains(&1000), "{f:?}");
        // Absorbed once the new level fills half the window.
        assert!(f.iter().all(|&i| i < 1000 + 64), "{f:?}");
    }

    #[test]
    fn variance_change_is_flagged() {
        let mut v = noise(3, 2000, 10.0, 1.0);
        let wide = noise(4, 1000, 0.0, 6.0);
        v[1000..]
            .iter_mut()
            .zip(wide)
            .for_each(|(x, e)| *x = 10.0 + e);
        let f = flagged(&mut det(), &v);
        assert!(f.iter().any(|&i| (1000..1100).contains(&i)), "{f:?}");
        assert!(f.iter().all(|&i| i >= 1000), "{f:?}");
    }

    #[test]
    fn trend_change_is_flagged() {
        // Flat, then a ramp of 0.5 sigma per point.
        let mut v = noise(5, 2000, 10.0, 1.0);
        v[1000..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x += 0.5 * i as f64);
        let f = flagged(&mut det(), &v);
        assert!(f.iter().any(|&i| (1000..1050).contains(&i)), "{f:?}");
    }

    #[test]
    fn clean_noise_rarely_alerts() {
        let rate = alert_rate(&mut det(), &noise(6, 100_000, 10.0, 1.0));
        assert!(rate < 2e-4, "{rate}");
    }

    #[test]
    fn params_are_validated() {
        let bad = |f: fn(&mut MadParams)| {
            let mut p = MadParams::default();
            f(&mut p);
            SlidingMad::new(p).unwrap_err()
        };
        assert_eq!(bad(|p| p.window = 4).name, "window");
        assert_eq!(bad(|p| p.warmup = 1000).name, "warmup");
        assert_eq!(bad(|p| p.threshold = f64::NAN).name, "threshold");
        assert_eq!(bad(|p| p.min_scale = -1.0).name, "min_scale");
        let msg = bad(|p| p.window = 4).to_string();
        assert!(msg.contains("window = 4") && msg.contains("mad"), "{msg}");
    }
}
