//! Nearest-neighbour conformal detector, in the spirit of KNN-CAD (Burnaev & Ishimtsev) and
//! CAD OSE: a point is anomalous when the recent *context* (the last `window` values) resembles
//! nothing seen in the recent past.
//!
//! Every point closes a context vector, the last `window` values. Its nonconformity is the mean
//! distance to its `k` nearest neighbours among the contexts of the last `memory` points (those
//! overlapping the current one are excluded, they would be trivially close), divided by the
//! signal's running spread so the measure has no unit. Calibration is conformal in spirit but
//! parametric in the tail: the log-nonconformity is compared with the running mean and spread of
//! the past log-nonconformities ([`crate::calibration`]) instead of a rank among them, because a
//! rank among a few hundred past points cannot express the 1e-5 rarities an alert threshold
//! needs; the one-sided z goes through [`crate::score_from_z`].
//!
//! Timestamps are not used. State: `8 * (memory + window)` bytes of history.

use serde::{Deserialize, Serialize};

use crate::calibration::LogTail;
use crate::detector::{skip_non_finite, Detector, Observation, Stage, Verdict};
use crate::param::{self, InvalidParam};
use crate::scale::{MEAN_ABS_TO_SIGMA, SCALE_EPSILON};
use crate::score::score_from_z;
use crate::window::Ring;

const NAME: &str = "knn";
/// Smoothing of the running level and spread used to normalise distances.
const SPREAD_ALPHA: f64 = 0.01;
/// Smoothing of the nonconformity distribution.
const TAIL_ALPHA: f64 = 0.01;

/// Parameters of [`KnnConformal`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KnnParams {
    /// Values in a context, 2..=64.
    pub window: usize,
    /// Past contexts compared against, 16..=4096.
    pub memory: usize,
    /// Neighbours averaged, 1..=16 and less than `memory`.
    pub k: usize,
    /// Score at or above which a point is anomalous, (0, 1).
    pub threshold: f64,
}

impl Default for KnnParams {
    fn default() -> Self {
        Self {
            window: 8,
            memory: 128,
            k: 3,
            threshold: 0.5,
        }
    }
}

impl KnnParams {
    pub fn validate(&self) -> Result<(), InvalidParam> {
        param::count(NAME, "window", self.window, 2, 64, "from 2 to 64 values")?;
        param::count(
            NAME,
            "memory",
            self.memory,
            16,
            4096,
            "from 16 to 4096 contexts",
        )?;
        param::count(
            NAME,
            "k",
            self.k,
            1,
            16.min(self.memory - 1),
            "from 1 to 16 neighbours, fewer than memory",
        )?;
        param::threshold(NAME, self.threshold)
    }
}

/// k-nearest-neighbour context detector; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnnConformal {
    params: KnnParams,
    history: Ring,
    level: f64,
    mean_abs: f64,
    seen: u64,
    tail: LogTail,
    skipped: u64,
}

impl KnnConformal {
    pub fn new(params: KnnParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        Ok(Self {
            params,
            history: Ring::new(params.memory + 2 * params.window),
            level: 0.0,
            mean_abs: 0.0,
            seen: 0,
            tail: LogTail::new(TAIL_ALPHA),
            skipped: 0,
        })
    }

    /// Adds `value`, then returns the z of the newest context's nonconformity, `None` until
    /// enough contexts exist to compare with.
    pub(crate) fn step(&mut self, value: f64) -> Option<f64> {
        self.history.push(value);
        self.seen = self.seen.saturating_add(1);
        let a = SPREAD_ALPHA.max(1.0 / self.seen as f64);
        let r = value - self.level;
        self.level = (self.level + a * r).clamp(f64::MIN, f64::MAX);
        self.mean_abs = ((1.0 - a) * self.mean_abs + a * r.abs()).clamp(0.0, f64::MAX);

        let w = self.params.window;
        let len = self.history.len();
        // Contexts end at positions w-1 ..= len-1 (oldest first); the current ends at len-1 and
        // the comparable ones end at most at len-1-w.
        let comparable = (len + 1).saturating_sub(2 * w);
        if comparable < 2 * self.params.k.max(8) {
            return None;
        }
        let spread = (self.mean_abs * MEAN_ABS_TO_SIGMA)
            .max(1e-3 * self.level.abs())
            .clamp(SCALE_EPSILON, f64::MAX);
        let h = self.history.as_slice();
        let current = &h[len - w..];
        let k = self.params.k;
        let mut best = [f64::INFINITY; 16];
        for start in 0..comparable {
            // Early abandon: once the partial sum exceeds the k-th best, this context is out.
            let bound = best[k - 1];
            let mut d = 0.0;
            for (a, b) in h[start..start + w].iter().zip(current) {
                d += (a - b) * (a - b);
                if d >= bound {
                    break;
                }
            }
            if d < bound {
                // Insertion into the k smallest, kept sorted.
                let mut i = k - 1;
                while i > 0 && best[i - 1] > d {
                    best[i] = best[i - 1];
                    i -= 1;
                }
                best[i] = d;
            }
        }
        let nonconformity = best[..k]
            .iter()
            .map(|d| d.sqrt().min(f64::MAX))
            .sum::<f64>()
            / (k as f64 * (w as f64).sqrt() * spread);
        Some(self.tail.score_and_learn(nonconformity.min(f64::MAX)).0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.history.heap_bytes()
    }
}

impl Detector for KnnConformal {
    fn observe(&mut self, _ts_ms: i64, value: f64) -> Verdict {
        if skip_non_finite(value, &mut self.skipped) {
            return Verdict::Skipped;
        }
        match self.step(value) {
            None => Verdict::WarmingUp,
            Some(z) => {
                let score = score_from_z(z);
                // Values the recent contexts spanned.
                let h = self.history.as_slice();
                let low = h.iter().copied().fold(f64::INFINITY, f64::min);
                let high = h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                Verdict::Scored(Observation::within(score, low, high, self.params.threshold))
            }
        }
    }

    fn stage(&self) -> Stage {
        // `step` scores once `len + 1 - 2 * window` contexts reach `2 * max(k, 8)`.
        let needed = 2 * self.params.window + 2 * self.params.k.max(8) - 1;
        Stage::after(self.history.len(), needed)
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
    use crate::synth::{self, alert_rate, daily, flagged, noise};

    fn det() -> KnnConformal {
        KnnConformal::new(KnnParams::default()).unwrap()
    }

    #[test]
    fn contract() {
        synth::common_contract(|| Box::new(det()), 8 * 1024);
    }

    #[test]
    fn a_context_never_seen_is_flagged() {
        // A clean square wave of period 20; then one period is inverted: every value is
        // a usual one, the order is not.
        let mut v: Vec<f64> = (0..3000)
            .map(|i| if i % 20 < 10 { 1.0 } else { 5.0 })
            .collect();
        let noise = noise(1, 3000, 0.0, 0.05);
        v.iter_mut().zip(noise).for_each(|(x, e)| *x += e);
        for x in &mut v[2005..2015] {
            *x = 6.0 - *x;
        }
        let f = flagged(&mut det(), &v);
        assert!(f.iter().any(|&i| (2005..2025).contains(&i)), "{f:?}");
        assert!(f.iter().all(|&i| i >= 2000), "{f:?}");
    }

    #[test]
    fn spike_shift_and_variance_change_are_flagged() {
        let mut v = noise(2, 3000, 10.0, 1.0);
        v[2000] = 30.0;
        assert!(flagged(&mut det(), &v).contains(&2000));
        let mut w = noise(3, 3000, 10.0, 1.0);
        w[2000..].iter_mut().for_each(|x| *x += 10.0);
        assert!(flagged(&mut det(), &w).contains(&2000));
        let mut u = noise(4, 3000, 10.0, 1.0);
        u[2000..]
            .iter_mut()
            .zip(noise(5, 1000, 0.0, 8.0))
            .for_each(|(x, e)| *x = 10.0 + e);
        let f = flagged(&mut det(), &u);
        assert!(f.iter().any(|&i| (2000..2020).contains(&i)), "{f:?}");
    }

    #[test]
    fn clean_series_rarely_alert() {
        assert!(alert_rate(&mut det(), &noise(6, 50_000, 10.0, 1.0)) < 1e-3);
        assert!(alert_rate(&mut det(), &daily(7, 50_000)) < 1e-3);
    }
}
