//! Online calibration of a raw nonconformity (a distance, a statistic) into a score.
//!
//! Distances are positive and right-skewed, so their logarithm is tracked instead: an
//! exponentially weighted mean and variance of `ln(d + eps)` over the recent past, learned only
//! from points that were not themselves surprising (so an anomaly does not widen its own
//! yardstick). A new distance becomes the one-sided z-score of its log against them, and the
//! z-score becomes a score with [`crate::score_from_z`]: the same log-scaled tail probability
//! as every other detector, so one threshold means the same rarity everywhere.

use serde::{Deserialize, Serialize};

use crate::score::score_from_z;

/// Below this many points the tail is not trusted and scores are 0.
const MIN_POINTS: u32 = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LogTail {
    alpha: f64,
    mean: f64,
    var: f64,
    n: u32,
    /// Points whose z exceeds this do not update the statistics.
    learn_below_z: f64,
}

impl LogTail {
    pub(crate) fn new(alpha: f64) -> Self {
        Self {
            alpha,
            mean: 0.0,
            var: 0.0,
            n: 0,
            learn_below_z: 4.0,
        }
    }

    fn log(d: f64) -> f64 {
        (d.max(0.0) + 1e-9).ln()
    }

    /// The one-sided z of `d` against what was learned (0 until enough points were seen).
    pub(crate) fn z(&self, d: f64) -> f64 {
        if self.n < MIN_POINTS {
            return 0.0;
        }
        // A floor on the spread of the log: a distance 10% above usual is never surprising.
        let sd = self.var.sqrt().max(0.1);
        ((Self::log(d) - self.mean) / sd).max(0.0)
    }

    /// Scores `d`, then learns from it unless it was an outlier.
    pub(crate) fn score_and_learn(&mut self, d: f64) -> (f64, f64) {
        let z = self.z(d);
        if z < self.learn_below_z {
            self.learn(d);
        }
        (z, score_from_z(z))
    }

    pub(crate) fn learn(&mut self, d: f64) {
        let x = Self::log(d);
        self.n = self.n.saturating_add(1);
        // Plain averages first, so the start is not biased towards the first point.
        let a = self.alpha.max(1.0 / f64::from(self.n));
        let delta = x - self.mean;
        self.mean += a * delta;
        self.var = (1.0 - a) * (self.var + a * delta * delta);
    }

    /// Replaces what was learned with the distribution of `ds` (used after a batch refit).
    pub(crate) fn reset_to(&mut self, ds: impl Iterator<Item = f64>) {
        self.n = 0;
        self.mean = 0.0;
        self.var = 0.0;
        let (mut n, mut s, mut s2) = (0u32, 0.0, 0.0);
        for d in ds {
            let x = Self::log(d);
            n += 1;
            s += x;
            s2 += x * x;
        }
        if n > 0 {
            let m = s / f64::from(n);
            self.mean = m;
            self.var = (s2 / f64::from(n) - m * m).max(0.0);
            self.n = n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_distances_score_low_and_far_ones_high() {
        let mut t = LogTail::new(0.01);
        assert_eq!(t.score_and_learn(5.0).1, 0.0);
        for i in 0..500 {
            t.score_and_learn(1.0 + f64::from(i % 10) * 0.05);
        }
        assert!(t.score_and_learn(1.2).1 < 0.1);
        assert_eq!(t.z(0.001), 0.0, "small distances are never anomalous");
        assert!(t.score_and_learn(50.0).1 > 0.9);
        // An outlier does not widen the yardstick.
        assert!(t.score_and_learn(50.0).1 > 0.9);
        t.reset_to([2.0, 2.0, 2.0].into_iter());
        assert_eq!(t.z(100.0), 0.0, "too few points to trust");
    }
}
