//! The smoothed residual from the best rhythm: a peak that fails to come.
//!
//! The seasonal component scores a point against the profile with the smallest recent error.
//! While an expected daily peak fails to come, the flat profile (a running level) predicts the
//! flat signal best and wins that choice, and the rhythm's own recent error grows with every
//! missed point: the missing peak is never scored, by the component or by the ensemble's
//! smoothed residual (which follows the chosen profile). This residual is measured against the
//! best rhythm (daily, weekly or the signal's own period, never the flat profile) with that
//! rhythm's slowly learned spread ([`crate::seasonal::SeasonalState::expect_rhythm`]), so a
//! few missed points neither hand the choice to the flat profile nor widen the spread.
//!
//! Like the chosen profile's residual, it is smoothed over about `1 / RESIDUAL_ALPHA` points
//! and scores `RESIDUAL_BASE + RESIDUAL_GAIN * excursion / width` beyond the range of its
//! earlier values when at least `RESIDUAL_MIN_Z` spreads from the rhythm. Each point's z is
//! clamped at [`Z_CLAMP`] spreads first: on a signal that is mostly zeros the slow spread
//! shrinks to nothing and one burst reads as millions of spreads, which would stretch the
//! range for good (on NAB's rogue_agent_key_updown, three false alerts without the clamp).
//!
//! It needs no count of residuals before its range counts (the chosen profile's residual waits
//! for `RESIDUAL_MIN_POINTS`, and NAB's score moves by points when that count does): a rhythm
//! is used only once time has gone round the whole of it, so its range starts from residuals
//! of slots learned in an earlier period. NAB scores the same to the last digit with a wait
//! of 0 to 500 residuals on top of that, and without it a young rhythm (half-hour slots an
//! hour old) alerted at the warm-up's hand-over.

use serde::{Deserialize, Serialize};

use super::{widths_beyond, RESIDUAL_ALPHA, RESIDUAL_MIN_Z};
use crate::seasonal::Expectation;

/// Largest |z| a single point adds to the smoothed residual.
const Z_CLAMP: f64 = 10.0;
/// Codes per spread of the fixed-point values: a smoothed z lies within `±Z_CLAMP`, so
/// `±10,000` codes hold it to a two-thousandth of a spread.
const CODES_PER_Z: f64 = 1000.0;

/// The smoothed residual from the best rhythm, in spreads, and the range of its values so
/// far, in 6 bytes: fixed-point codes of a thousandth of a spread (an empty range is
/// `low > high`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct RhythmResidual {
    smoothed: i16,
    low: i16,
    high: i16,
}

impl Default for RhythmResidual {
    fn default() -> Self {
        Self {
            smoothed: 0,
            low: i16::MAX,
            high: i16::MIN,
        }
    }
}

fn code(z: f64) -> i16 {
    // In range by the clamp; `as` saturates anyway.
    (z * CODES_PER_Z).round() as i16
}

fn z(code: i16) -> f64 {
    f64::from(code) / CODES_PER_Z
}

impl RhythmResidual {
    /// Learns the residual of `value` from the best rhythm's expectation `e`; returns how far
    /// the smoothed residual lies beyond the range of every earlier one, in range widths (0
    /// without a rhythm).
    pub(super) fn excursion(&mut self, value: f64, e: Option<Expectation>) -> f64 {
        let Some(e) = e else {
            return 0.0;
        };
        let now = ((value - e.level) / e.sigma.max(1e-300)).clamp(-Z_CLAMP, Z_CLAMP);
        let empty = self.low > self.high;
        let smoothed = if empty {
            now
        } else {
            let old = z(self.smoothed);
            old + RESIDUAL_ALPHA * (now - old)
        };
        let (low, high) = (z(self.low), z(self.high));
        self.smoothed = code(smoothed);
        self.low = self.low.min(self.smoothed);
        self.high = self.high.max(self.smoothed);
        if empty || low >= high || smoothed.abs() < RESIDUAL_MIN_Z {
            return 0.0;
        }
        widths_beyond(smoothed, low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{Detector, Verdict};
    use crate::ensemble::{residual_score, Ensemble, EnsembleParams};
    use crate::evidence::Finding;
    use crate::synth::{noise, plateau, STEP_MS};

    fn at(level: f64, sigma: f64) -> Option<Expectation> {
        Some(Expectation {
            level,
            sigma,
            profile: 1,
            period_ms: 86_400_000,
            slot_start_ms: 0,
            slot_ms: 1_800_000,
        })
    }

    #[test]
    fn a_missing_peak_leaves_the_range_within_a_few_points() {
        let mut r = RhythmResidual::default();
        // Two days of residuals of -2..2 spreads from the rhythm: once the range has a few
        // points, nothing is beyond it by a tenth of its width.
        let late: Vec<f64> = noise(5, 600, 0.0, 1.0)
            .into_iter()
            .enumerate()
            .map(|(i, z)| (i, r.excursion(50.0 + z.clamp(-2.0, 2.0), at(50.0, 1.0))))
            .filter(|&(i, x)| i >= 20 && residual_score(x) >= 0.5)
            .map(|(_, x)| x)
            .collect();
        assert!(late.is_empty(), "{late:?}");
        // The peak (60 spreads up) does not come: the value stays at the trough.
        let first = (0..12).find(|_| residual_score(r.excursion(-10.0, at(50.0, 1.0))) >= 0.5);
        assert!(first.is_some_and(|i| i < 4), "{first:?}");
        // No rhythm (warming up): nothing learned, nothing scored.
        let before = r.smoothed;
        assert_eq!(r.excursion(-10.0, None), 0.0);
        assert_eq!(r.smoothed, before);
    }

    #[test]
    fn one_burst_against_a_collapsed_spread_does_not_blind_the_residual() {
        // Residuals of -2..2 spreads, then one burst against a spread that collapsed (a
        // signal of zeros): a million spreads. Clamped, it stretches the range by little...
        let mut r = RhythmResidual::default();
        for z in noise(6, 600, 0.0, 1.0) {
            r.excursion(z.clamp(-2.0, 2.0), at(0.0, 1.0));
        }
        r.excursion(1.0, at(0.0, 1e-6));
        for z in noise(7, 100, 0.0, 1.0) {
            r.excursion(z.clamp(-2.0, 2.0), at(0.0, 1.0));
        }
        assert!(z(r.high) < 4.0, "{r:?}");
        // ...so a later excursion on the same side, 8 spreads for an hour, still alerts.
        let first = (0..12).find(|_| residual_score(r.excursion(8.0, at(0.0, 1.0))) >= 0.5);
        assert!(first.is_some_and(|i| i < 8), "{first:?}");
    }

    #[test]
    fn the_ensemble_alerts_when_a_daily_plateau_fails_to_come() {
        // Ten working days, then a day whose plateau does not come: the flat profile wins the
        // seasonal choice within minutes, so only the rhythm's residual sees it.
        let per_day = (86_400_000 / STEP_MS) as usize;
        for seed in [1, 2, 3] {
            let v = plateau(seed, 12, 10);
            let missing = 10 * per_day + 9 * per_day / 24;
            let mut d = Ensemble::new(EnsembleParams::default()).unwrap();
            let mut alerts = Vec::new();
            for (i, &x) in v.iter().enumerate() {
                if let Verdict::Scored(o) = d.observe(i as i64 * STEP_MS, x) {
                    if o.anomalous && i >= 3 * per_day {
                        alerts.push((i, o.evidence.primary().map(|c| c.finding)));
                    }
                }
            }
            let first = alerts.iter().find(|a| a.0 >= missing);
            assert!(
                first.is_some_and(|a| a.0 < missing + 12),
                "seed {seed}: {alerts:?}"
            );
            assert!(
                matches!(
                    first.and_then(|a| a.1),
                    Some(Finding::Seasonal {
                        period_ms: 86_400_000,
                        ..
                    })
                ),
                "seed {seed}: {first:?}"
            );
            // Days 3 to 9 (the rhythm learned, nothing wrong): at most a stray alert (the
            // chosen profile's residual raises one on the weekly profile's first repeat of a
            // weekday for seed 1, with or without this residual).
            let before = alerts.iter().filter(|a| a.0 < missing).count();
            assert!(before <= 1, "seed {seed}: {alerts:?}");
        }
    }
}
