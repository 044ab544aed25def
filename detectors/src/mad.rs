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
//! digits are far finer than the spread's floor of a thousandth of the median) and the order of
//! its slots by value as `u16`, `6 * window` bytes; nothing but one value while the window holds
//! only that value (see [`crate::history`]).

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
        Self {
            window: 128,
            warmup: 30,
            threshold: 0.5,
            min_scale: 0.0,
            min_rel_scale: 0.001,
        }
    }
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
#[serde(remote = "Self")]
pub struct SlidingMad {
    params: MadParams,
    z_threshold: f64,
    /// The window in arrival order.
    recent: History<f32>,
    /// The window's slots, ordered by their values (empty while the window is uniform).
    order: Vec<u16>,
    skipped: u64,
}

impl SlidingMad {
    pub fn new(params: MadParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        Ok(Self {
            params,
            z_threshold: z_for_score(params.threshold),
            recent: History::new(params.window),
            order: Vec::new(),
            skipped: 0,
        })
    }

    /// Median and spread (sigma) of the current window; `None` while warming up.
    pub fn baseline(&self) -> Option<(f64, f64)> {
        if self.recent.len() < self.params.warmup {
            return None;
        }
        let (median, sigma) = if self.recent.is_uniform() {
            (f64::from(self.recent.uniform_value()), 0.0)
        } else {
            median_and_sigma_by(self.order.len(), |i| {
                f64::from(self.recent.slot(usize::from(self.order[i])))
            })
        };
        let p = &self.params;
        let sigma = scale::floored(sigma, median, p.min_scale, p.min_rel_scale);
        Some((median, sigma))
    }

    /// The signed z-score of `value` against the window, `None` while warming up.
    pub(crate) fn z(&self, value: f64) -> Option<(f64, f64, f64)> {
        self.baseline()
            .map(|(m, s)| (((value - m) / s).clamp(-1e300, 1e300), m, s))
    }

    pub(crate) fn learn(&mut self, value: f64) {
        let value = narrow(value);
        let was_uniform = self.recent.is_uniform();
        let (slot, out) = self.recent.push(value);
        if self.recent.is_uniform() {
            self.order = Vec::new();
            return;
        }
        if was_uniform {
            // The first different value: every slot, ordered afresh.
            let mut order: Vec<u16> = (0..self.recent.len()).map(slot_index).collect();
            order.sort_by(|&a, &b| self.value_at(a).total_cmp(&self.value_at(b)));
            self.order = order;
            return;
        }
        if out.is_some() {
            // The new value took the slot of the one it pushed out.
            if let Some(i) = self.order.iter().position(|&s| usize::from(s) == slot) {
                self.order.remove(i);
            }
        }
        let at = self
            .order
            .partition_point(|&s| self.value_at(s).total_cmp(&value).is_lt());
        if self.order.len() == self.order.capacity() {
            // Grow by doubling up to the window, never past it.
            let want = (2 * self.order.len()).clamp(8, self.params.window);
            self.order
                .reserve_exact(want.saturating_sub(self.order.len()));
        }
        self.order.insert(at, slot_index(slot));
    }

    fn value_at(&self, slot: u16) -> f32 {
        self.recent.slot(usize::from(slot))
    }

    /// What a spike against the current window is measured by: `median` and `spread` from
    /// [`SlidingMad::baseline`], with the window's MAD and length.
    pub(crate) fn spike(&self, median: f64, spread: f64) -> Finding {
        Finding::Spike {
            median,
            mad: spread / MAD_TO_SIGMA,
            spread,
            window: u32::try_from(self.recent.len()).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.recent.heap_bytes() + self.order.capacity() * std::mem::size_of::<u16>()
    }
}

/// Read back only when its parts fit together (see `fits`): a snapshot that passed its
/// checksum but does not fit is an error, not a detector that panics later.
impl Serialize for SlidingMad {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SlidingMad::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for SlidingMad {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let read = SlidingMad::deserialize(d)?;
        read.fits().map_err(serde::de::Error::custom)?;
        Ok(read)
    }
}

impl SlidingMad {
    /// The order holds every slot of the window once (none while the window is uniform).
    fn fits(&self) -> Result<(), String> {
        let n = self.recent.len();
        let mut seen = vec![false; n];
        let permutation = self.order.iter().all(|&s| {
            let s = usize::from(s);
            s < n && !std::mem::replace(&mut seen[s], true)
        });
        let expected = if self.recent.is_uniform() { 0 } else { n };
        if n > self.params.window || self.order.len() != expected || !permutation {
            return Err(format!(
                "median/MAD window of {n} values (at most {}) with an order of {}",
                self.params.window,
                self.order.len()
            ));
        }
        Ok(())
    }
}

/// A slot as the order stores it (windows are at most 4096 values, validated).
fn slot_index(slot: usize) -> u16 {
    u16::try_from(slot).unwrap_or(u16::MAX)
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
        let verdict = match self.z(value) {
            None => Verdict::WarmingUp,
            Some((z, median, sigma)) => {
                let score = score_from_z(z);
                let half = (self.z_threshold * sigma).min(f64::MAX);
                let spike = self.spike(median, sigma);
                Verdict::Scored(
                    Observation::around(score, median, half, self.params.threshold).found(spike),
                )
            }
        };
        self.learn(value);
        verdict
    }

    fn stage(&self) -> Stage {
        Stage::after(self.recent.len(), self.params.warmup)
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

    /// The median and spread from the ordered slots are those of the last `window` values
    /// (as `f32`) sorted afresh, through runs of equal values, constant stretches that free the
    /// window and the first different value after them.
    #[test]
    fn the_ordered_slots_give_the_window_s_median_and_spread() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut d = SlidingMad::new(MadParams {
            window: 16,
            warmup: 4,
            ..MadParams::default()
        })
        .unwrap();
        let mut seen: Vec<f32> = Vec::new();
        let mut uniform_seen = 0;
        for i in 0..5000 {
            let v: f64 = match (i / 100) % 4 {
                0 => rng.random_range(0.0..10.0),
                1 => f64::from(rng.random_range(0..3)),
                2 => 7.0,
                _ => rng.random_range(-1e6..1e6),
            };
            d.learn(v);
            seen.push(narrow(v));
            uniform_seen += usize::from(d.recent.is_uniform());
            let window = &seen[seen.len().saturating_sub(16)..];
            if window.len() < 4 {
                continue;
            }
            let mut sorted: Vec<f64> = window.iter().map(|&x| f64::from(x)).collect();
            sorted.sort_by(f64::total_cmp);
            let (m, s) = median_and_sigma(&sorted);
            let p = MadParams::default();
            let s = scale::floored(s, m, p.min_scale, p.min_rel_scale);
            assert_eq!(d.baseline(), Some((m, s)), "point {i}");
            assert_eq!(
                d.order.len(),
                if d.recent.is_uniform() {
                    0
                } else {
                    window.len()
                }
            );
        }
        assert!(uniform_seen > 100, "{uniform_seen}");
    }

    #[test]
    fn a_saved_window_whose_order_does_not_fit_is_refused() {
        let mut d = det();
        for (i, &x) in noise(12, 300, 10.0, 1.0).iter().enumerate() {
            d.observe(i as i64, x);
        }
        let read =
            |d: &SlidingMad| postcard::from_bytes::<SlidingMad>(&postcard::to_allocvec(d).unwrap());
        let back = read(&d).unwrap();
        assert_eq!(back.baseline(), d.baseline());
        for damage in [
            |d: &mut SlidingMad| d.order.clear(),
            |d: &mut SlidingMad| d.order[3] = d.order[4],
            |d: &mut SlidingMad| d.order[0] = 500,
            |d: &mut SlidingMad| {
                d.order.pop();
            },
        ] {
            let mut bad = d.clone();
            damage(&mut bad);
            assert!(read(&bad).is_err());
        }
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
        assert!(d.heap_bytes() <= 6 * 128, "{}", d.heap_bytes());
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
