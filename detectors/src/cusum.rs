//! Level-shift detector: a two-sided CUSUM on robustly standardised values.
//!
//! A slow, Huber-clipped running level and spread (as in [`crate::RobustEwma`]) standardise each
//! value into `z`. Two cumulative sums collect evidence of a shift up and down:
//! `S+ = max(0, S+ + z - k)`, `S- = max(0, S- - z - k)`. Noise drains them (the drift `k`), a
//! sustained shift of more than `k` spreads makes one grow linearly, so shifts far too small to
//! flag any single point are found within a few tens of points. When a sum crosses `h` the shift
//! is confirmed: the sums restart and the level jumps to the recent mean, so one shift gives one
//! detection, not a stream of them.
//!
//! Calibration: `h` is where the score reaches the threshold. The statistic is mapped linearly
//! onto the z-scale, `z = max(S+, S-) / h * z_threshold`, then through [`crate::score_from_z`];
//! with the defaults (`k = 0.5`, `h = 10`) the in-control false-alarm run length is over 10^5
//! points. Timestamps are not used.

use serde::{Deserialize, Serialize};

use crate::detector::{skip_non_finite, Detector, Observation, Stage, Verdict};
use crate::param::{self, InvalidParam};
use crate::scale::{self, MEAN_ABS_TO_SIGMA};
use crate::score::{score_from_z, z_for_score};

const NAME: &str = "cusum";
/// Residuals are clipped at this many spreads when learning, and each z contributes at most
/// this much to the sums, so one spike cannot confirm a shift alone.
const CLIP: f64 = 4.0;
/// Smoothing of the recent mean the level jumps to on a detection.
const FAST_ALPHA: f64 = 0.25;

/// Parameters of [`Cusum`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CusumParams {
    /// Smoothing of the slow level and spread, (0, 1].
    pub alpha: f64,
    /// Drift per point, in spreads: shifts smaller than this are ignored. Finite, > 0.
    pub drift: f64,
    /// Decision level, in spreads: a sum reaching it is a shift. Finite, > 0.
    pub decision: f64,
    /// Points learned before the first score, 2..=100000.
    pub warmup: usize,
    /// Score at or above which a point is anomalous, (0, 1).
    pub threshold: f64,
    /// Floor on the spread relative to `|level|`.
    pub min_rel_scale: f64,
    /// Absolute floor on the spread.
    pub min_scale: f64,
}

impl Default for CusumParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl CusumParams {
    /// The defaults, as a constant (the ensemble's components use them).
    pub(crate) const DEFAULT: Self = Self {
        alpha: 0.01,
        drift: 0.5,
        decision: 10.0,
        warmup: 30,
        threshold: 0.5,
        min_rel_scale: 0.001,
        min_scale: 0.0,
    };
}

impl CusumParams {
    pub fn validate(&self) -> Result<(), InvalidParam> {
        param::alpha(NAME, self.alpha)?;
        param::positive(
            NAME,
            "drift",
            self.drift,
            "a finite number of spreads greater than 0, such as 0.5",
        )?;
        param::positive(
            NAME,
            "decision",
            self.decision,
            "a finite number of spreads greater than 0, such as 10",
        )?;
        param::warmup(NAME, self.warmup)?;
        param::threshold(NAME, self.threshold)?;
        param::scale_floors(NAME, self.min_scale, self.min_rel_scale)
    }
}

/// Two-sided CUSUM detector; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cusum {
    params: CusumParams,
    z_threshold: f64,
    state: CusumState,
    skipped: u64,
}

/// What a [`Cusum`] learns of one signal, without its parameters: the ensemble holds one per
/// signal and passes the (shared) parameters in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CusumState {
    seen: usize,
    /// Plain running sums during warm-up, then the slow level and mean |residual|.
    level: f64,
    mean_abs: f64,
    recent: f64,
    up: f64,
    down: f64,
}

impl Cusum {
    pub fn new(params: CusumParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        Ok(Self {
            params,
            z_threshold: z_for_score(params.threshold),
            state: CusumState::default(),
            skipped: 0,
        })
    }
}

impl CusumState {
    fn sigma(&self, p: &CusumParams) -> f64 {
        scale::floored(
            self.mean_abs * MEAN_ABS_TO_SIGMA,
            self.level,
            p.min_scale,
            p.min_rel_scale,
        )
    }

    /// Feeds one finite value; returns `(statistic in decision units, level, sigma)` once warm.
    pub(crate) fn step(&mut self, p: &CusumParams, value: f64) -> Option<(f64, f64, f64)> {
        self.seen = self.seen.saturating_add(1);
        if self.seen <= p.warmup {
            // Running mean, then mean absolute deviation around it.
            let n = self.seen as f64;
            let d = value - self.level;
            self.level = (self.level + d / n).clamp(f64::MIN, f64::MAX);
            self.mean_abs += ((value - self.level).abs().min(f64::MAX) - self.mean_abs) / n;
            self.recent = self.level;
            return None;
        }
        let (level, sigma) = (self.level, self.sigma(p));
        let z = ((value - level) / sigma).clamp(-CLIP, CLIP);
        self.up = (self.up + z - p.drift).max(0.0);
        self.down = (self.down - z - p.drift).max(0.0);
        let stat = self.up.max(self.down) / p.decision;

        let a = p.alpha;
        self.recent += FAST_ALPHA * (value - self.recent);
        if stat >= 1.0 {
            // A confirmed shift: restart from the recent mean.
            self.level = self.recent.clamp(f64::MIN, f64::MAX);
            self.up = 0.0;
            self.down = 0.0;
        } else {
            let limit = CLIP * sigma;
            let r = (value - level).clamp(-limit, limit);
            self.level = (level + a * r).clamp(f64::MIN, f64::MAX);
            self.mean_abs = ((1.0 - a) * self.mean_abs + a * r.abs()).clamp(0.0, f64::MAX);
        }
        Some((stat, level, sigma))
    }
}

impl Detector for Cusum {
    fn observe(&mut self, _ts_ms: i64, value: f64) -> Verdict {
        if skip_non_finite(value, &mut self.skipped) {
            return Verdict::Skipped;
        }
        match self.state.step(&self.params, value) {
            None => Verdict::WarmingUp,
            Some((stat, level, sigma)) => {
                let score = score_from_z(stat * self.z_threshold);
                let half = (self.z_threshold * sigma).min(f64::MAX);
                Verdict::Scored(Observation::around(
                    score,
                    level,
                    half,
                    self.params.threshold,
                ))
            }
        }
    }

    fn stage(&self) -> Stage {
        // The first point past the warm-up is scored.
        Stage::after(self.state.seen, self.params.warmup)
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, alert_rate, flagged, noise};

    fn det() -> Cusum {
        Cusum::new(CusumParams::default()).unwrap()
    }

    #[test]
    fn contract() {
        synth::common_contract(|| Box::new(det()), 1024);
    }

    #[test]
    fn small_level_shift_is_found_once() {
        // 1.5 sigma: no single point is remarkable, the sum is.
        let mut v = noise(1, 4000, 10.0, 1.0);
        v[2000..].iter_mut().for_each(|x| *x += 1.5);
        let f = flagged(&mut det(), &v);
        assert!(!f.is_empty() && f[0] >= 2000 && f[0] < 2030, "{f:?}");
        assert!(f.len() <= 2, "{f:?}");
    }

    #[test]
    fn a_lone_spike_is_not_a_shift() {
        let mut v = noise(2, 4000, 10.0, 1.0);
        v[2000] = 1e6;
        assert!(flagged(&mut det(), &v).is_empty());
    }

    #[test]
    fn trend_and_variance_changes_are_flagged() {
        let mut v = noise(3, 4000, 10.0, 1.0);
        v[2000..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x += 0.05 * i as f64);
        let f = flagged(&mut det(), &v);
        assert!(f.iter().any(|&i| (2000..2150).contains(&i)), "{f:?}");
        let mut w = noise(4, 4000, 10.0, 1.0);
        w[2000..]
            .iter_mut()
            .zip(noise(5, 2000, 0.0, 5.0))
            .for_each(|(x, e)| *x = 10.0 + e);
        let f = flagged(&mut det(), &w);
        assert!(f.iter().any(|&i| (2000..2100).contains(&i)), "{f:?}");
    }

    #[test]
    fn clean_noise_rarely_alerts() {
        let rate = alert_rate(&mut det(), &noise(6, 200_000, 10.0, 1.0));
        assert!(rate < 5e-5, "{rate}");
    }
}
