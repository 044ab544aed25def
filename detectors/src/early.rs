//! The ensemble's early stage: scoring a signal from its first few dozen points, while the
//! full ensemble still learns, with rules that need little history and are conservative
//! enough not to alert on a signal's ordinary movement.
//!
//! - **Level**: the last [`PERSIST`] values all lie beyond every earlier value (by more than
//!   `min_scale`), and their mean is at least [`Z_EARLY`] spreads from the median of the values
//!   before them (at most [`RING`] - [`PERSIST`] of them, read from the median/MAD window as
//!   `f32`). The spread is the robust one of
//!   [`crate::SlidingMad`] (1.4826 × MAD, the mean absolute deviation when the MAD is 0), floored at
//!   1% of the median's size and, for a ratio (every value so far within 0..=1), at 0.01. A core
//!   going from 5% to 100%, memory climbing a few percent a minute, an error rate jumping from 0:
//!   each is caught within a few points; noise, a daily rhythm or a steady trend is not (the
//!   reference window moves with them, and a mean 8 spreads out is far beyond what noise does).
//! - **Jump**, for a signal whose caller says a rise is bad news and bursts are not its nature
//!   (`EnsembleParams::early_jump`: a resource's use, an error rate; not a throughput, whose
//!   bursts of a few seconds are ordinary): the last [`JUMP_POINTS`] values lie above every
//!   earlier value and their mean
//!   is at least [`Z_JUMP`] spreads from the median (each at least [`Z_EARLY`]): a move so large that a third point adds
//!   no certainty (a core from idle to saturated, a filesystem filled by gigabytes, an error
//!   rate from 0 to hundreds), caught at its second point, as the full ensemble catches a new
//!   extreme, so an agent restarted within its early stage alerts within two intervals. One
//!   odd point is still no alert.
//! - **Filling**, for a ratio that fills toward a capacity (`EnsembleParams::early_fill`: a
//!   filesystem's used share, which grows by writes that stay until deleted): the last value
//!   lies beyond every earlier one by at least `min_scale` (as a new extreme must once the
//!   full ensemble scores) and by [`Z_EARLY`] spreads of the reference values (unfloored: a
//!   share that moves by itself is left to the other rules), the last interval alone rose by
//!   as much, and at that interval's rate the ratio reaches 1 within [`FILL_POINTS`] points.
//!   A filesystem filling that fast is caught at the first or second sample of the fill,
//!   whatever its phase against the sampling, where the jump rule needs both points far out
//!   and the first one holds only part of an interval's fill. Not looser than the full
//!   ensemble, which alerts on such an excursion without asking where it leads.
//! - **At its bound**: a ratio sat at 1 (≥ 0.99) for [`BOUND_POINTS`] values in a row, which
//!   no earlier value reached: a saturated core or a full filesystem on a signal too noisy for
//!   the level rule.
//!
//! One episode, one alert: after an alert the stage is quiet for the ensemble's `quiet` points,
//! and a level that stays where it moved is no news afterwards (the values of the episode join
//! the range every later value is compared with). The ensemble takes over at its `warmup`
//! with the same memory: its own range holds every value since the start, so an episode the
//! early stage alerted on does not alert again at the hand-over.
//!
//! State: 40 bytes of plain numbers, held in the ensemble itself until the hand-over. The
//! values it judges are the ensemble's own windows, passed in as [`Recent`]: the last few
//! exactly (the level window, whose values evidence names) and the reference from the
//! median/MAD window; a window of its own (64 values, 512 bytes) freed at the hand-over left a
//! hole between other signals' buffers in the allocator's heap.

use serde::{Deserialize, Serialize};

use crate::detector::Observation;
use crate::evidence::{Component, Evidence, Finding};
use crate::history::History;
use crate::mad::median_and_sigma;
use crate::scale::SCALE_EPSILON;

/// Values kept for the reference median: the most recent ones.
pub(crate) const RING: usize = 64;
/// Values in a row that must lie beyond every earlier one (one odd value is no level).
pub(crate) const PERSIST: usize = 3;
/// Spreads from the reference median the mean of the last [`PERSIST`] values must reach:
/// conservative (the full detectors alert at about 4.4), as the reference is short.
pub(crate) const Z_EARLY: f64 = 8.0;
/// Values in a row beyond every earlier one that make a jump.
pub(crate) const JUMP_POINTS: usize = 2;
/// Spreads from the reference median the mean of the last [`JUMP_POINTS`] values must reach:
/// twice the level rule's, so that only a move far beyond anything seen is judged on two.
pub(crate) const Z_JUMP: f64 = 2.0 * Z_EARLY;
/// Points within which a filling ratio must reach 1 at its last interval's rate (5 minutes at
/// the default 10 s interval): a fill that fast needs a hand now, not a trend line.
pub(crate) const FILL_POINTS: f64 = 30.0;
/// Floor of the spread relative to the size of the median.
const REL_FLOOR: f64 = 0.01;
/// Floor of the spread of a ratio (every value within 0..=1): one percentage point.
const RATIO_FLOOR: f64 = 0.01;
/// A ratio at or above this is at its bound.
const BOUND_AT: f64 = 0.99;
/// Values in a row at the bound that make a saturation.
pub(crate) const BOUND_POINTS: u32 = 6;
/// Values needed before the level rule has a reference to compare with.
const MIN_REFERENCE: usize = 8;

/// The early stage's state; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EarlyStage {
    /// The range of every value older than the last [`PERSIST`].
    settled_low: f64,
    settled_high: f64,
    /// Every value so far lies within 0..=1.
    ratio: bool,
    /// Values in a row at the bound (saturating), and the highest and lowest values outside
    /// that run.
    at_bound: u8,
    off_bound_high: f64,
    off_bound_low: f64,
    /// A run at the bound happened already: no news any more.
    bound_reached: bool,
    /// Points since the last early alert (saturating).
    since_alert: u32,
}

/// The ensemble's windows, the newest value last in both: what the early stage judges.
#[derive(Clone, Copy)]
pub(crate) struct Recent<'a> {
    /// The last values as they came (at least [`JUMP_POINTS`] + 1 and [`PERSIST`] + 1).
    pub(crate) exact: &'a History<f64>,
    /// The last values as `f32`, at least [`RING`] of them once that many came: the
    /// reference.
    pub(crate) window: &'a History<f32>,
}

impl Default for EarlyStage {
    fn default() -> Self {
        Self {
            settled_low: f64::INFINITY,
            settled_high: f64::NEG_INFINITY,
            ratio: true,
            at_bound: 0,
            off_bound_high: f64::NEG_INFINITY,
            off_bound_low: f64::INFINITY,
            bound_reached: false,
            since_alert: u32::MAX,
        }
    }
}

/// What one early point is scored with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EarlySettings {
    pub(crate) threshold: f64,
    pub(crate) min_scale: f64,
    pub(crate) quiet: usize,
    /// Whether a rise may be judged on [`JUMP_POINTS`] (the jump rule).
    pub(crate) jump: bool,
    /// Whether the signal fills toward a capacity (the filling rule).
    pub(crate) fill: bool,
}

impl EarlyStage {
    /// Learns the finite `value`, already the newest of `r`; when `score`, scores it too
    /// (`None` otherwise, or while there is not enough to compare it with).
    pub(crate) fn observe(
        &mut self,
        value: f64,
        r: Recent<'_>,
        score: bool,
        s: EarlySettings,
    ) -> Option<Observation> {
        self.since_alert = self.since_alert.saturating_add(1);
        self.ratio &= (0.0..=1.0).contains(&value);
        let saturated = self.bound_run(value);
        if r.exact.len() > PERSIST {
            let settled = r.exact.back(PERSIST);
            self.settled_low = self.settled_low.min(settled);
            self.settled_high = self.settled_high.max(settled);
        }
        if !score || r.window.len() < PERSIST + MIN_REFERENCE {
            return None;
        }
        let quiet = self.since_alert as usize <= s.quiet;
        let (median, sigma, reference) = reference(r.window);
        let floor = if self.ratio { RATIO_FLOOR } else { 0.0 };
        let spread = sigma
            .max(s.min_scale)
            .max(REL_FLOOR * median.abs())
            .max(floor)
            .clamp(SCALE_EPSILON, f64::MAX);
        let band = (Z_EARLY * spread).min(f64::MAX);
        let (low, high) = (
            self.settled_low - s.min_scale,
            self.settled_high + s.min_scale,
        );
        let normal_range = (low.min(median - band), high.max(median + band));

        let recent = (0..PERSIST).map(|i| r.exact.back(i));
        let (lowest, highest) = recent
            .clone()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
        let mean = recent.sum::<f64>() / PERSIST as f64;
        let beyond = lowest > high || highest < low;
        let z = ((mean - median) / spread).abs().min(f64::MAX);
        // The jump rule's range also holds the value just before its last two points.
        let before = r.exact.back(JUMP_POINTS);
        let (jump_low, jump_high) = (
            low.min(before - s.min_scale),
            high.max(before + s.min_scale),
        );
        let (a, b) = (r.exact.back(0), r.exact.back(1));
        let jump_mean = (a + b) / JUMP_POINTS as f64;
        let jump_beyond = s.jump && a.min(b) > jump_high;
        // Each point on its own is a level move too: one far point and a noise record beside
        // it are no jump.
        let each = ((a - median) / spread)
            .abs()
            .min(((b - median) / spread).abs());
        let jump_z = ((jump_mean - median) / spread).abs().min(f64::MAX);
        let mut evidence = Evidence::default();
        if let (Some(fill), false) = (self.filling(r.exact, sigma, s), quiet) {
            evidence.push(fill);
        }
        let rule = if beyond && z >= Z_EARLY {
            Some((mean, PERSIST, z / Z_EARLY, (low, high)))
        } else if jump_beyond && jump_z >= Z_JUMP && each >= Z_EARLY {
            Some((
                jump_mean,
                JUMP_POINTS,
                jump_z / Z_JUMP,
                (jump_low, jump_high),
            ))
        } else {
            None
        };
        if let (Some((mean, points, ratio, (low, high))), false) = (rule, quiet) {
            evidence.push(Component {
                finding: Finding::EarlyLevel {
                    median,
                    spread,
                    reference: u32::try_from(reference).unwrap_or(u32::MAX),
                    mean,
                    points: points as u32,
                },
                score: alert_score(s.threshold, ratio),
                expected_low: low.max(f64::MIN),
                expected_high: high.min(f64::MAX),
            });
        }
        if saturated && !quiet {
            evidence.push(Component {
                finding: Finding::AtBound {
                    bound: 1.0,
                    points: BOUND_POINTS,
                    previous: self.off_bound_high,
                },
                // As sure as a level the bound is twice the threshold's distance from.
                score: alert_score(s.threshold, 2.0),
                expected_low: self.off_bound_low,
                expected_high: self.off_bound_high,
            });
        }
        if let Some(primary) = evidence.primary().copied() {
            self.since_alert = 0;
            return Some(Observation {
                score: primary.score,
                expected_low: primary.expected_low,
                expected_high: primary.expected_high,
                anomalous: true,
                evidence,
            });
        }
        // A normal point scores its own distance from the median, at most half the threshold:
        // the early stage's rules, not its scores, decide, so a threshold optimised on the
        // scores (NAB's) must not find early points just under the alert threshold.
        let z_value = ((value - median) / spread).abs();
        let score = (0.5 * s.threshold * (z_value / Z_EARLY).min(1.0)).max(0.0);
        Some(Observation {
            score,
            expected_low: normal_range.0.max(f64::MIN),
            expected_high: normal_range.1.min(f64::MAX),
            anomalous: false,
            evidence: Evidence::default(),
        })
    }

    /// The filling rule's component when the latest value of `exact` (`a`, after `b`)
    /// completes a fill; see the module documentation. `sigma`: the spread of the reference
    /// values, unfloored.
    fn filling(&self, exact: &History<f64>, sigma: f64, s: EarlySettings) -> Option<Component> {
        if !s.fill || !self.ratio {
            return None;
        }
        let (a, b) = (exact.back(0), exact.back(1));
        // The range of every value before `a`: the settled one and the last points not in it.
        let (lowest, previous) = (1..PERSIST)
            .map(|i| exact.back(i))
            .fold((self.settled_low, self.settled_high), |(l, h), x| {
                (l.min(x), h.max(x))
            });
        // Beyond `min_scale` (a move the full ensemble would alert on too), and beyond what
        // the signal's own movement explains: a ratio that moves by itself (a busy scratch
        // space) is judged by the other rules.
        let step = s.min_scale.max(RATIO_FLOOR).max(Z_EARLY * sigma);
        let rise = a - b;
        if a - previous < step || rise < step {
            return None;
        }
        let points_to_full = (1.0 - a) / rise;
        (points_to_full <= FILL_POINTS).then(|| Component {
            finding: Finding::Filling {
                previous,
                rise,
                points_to_full,
            },
            // The sooner full, the surer: the threshold at FILL_POINTS, 1 at a third of it.
            score: alert_score(
                s.threshold,
                FILL_POINTS / points_to_full.max(f64::MIN_POSITIVE),
            ),
            expected_low: lowest,
            expected_high: previous,
        })
    }

    /// Counts a run at a ratio's upper bound; whether `value` completes a saturation no
    /// earlier value reached.
    fn bound_run(&mut self, value: f64) -> bool {
        if value >= BOUND_AT {
            self.at_bound = self.at_bound.saturating_add(1);
        } else {
            if self.at_bound > 0 {
                // A run that ended (even a short one) makes the bound known.
                self.bound_reached = true;
            }
            self.at_bound = 0;
            self.off_bound_high = self.off_bound_high.max(value);
            self.off_bound_low = self.off_bound_low.min(value);
        }
        let news = u32::from(self.at_bound) == BOUND_POINTS
            && self.ratio
            && !self.bound_reached
            && self.off_bound_high.is_finite();
        if u32::from(self.at_bound) >= BOUND_POINTS {
            self.bound_reached = true;
        }
        news
    }
}

/// The median and spread (unfloored) of the values of `window` before its last [`PERSIST`]
/// (at most [`RING`] - [`PERSIST`] of them), and how many there are.
fn reference(window: &History<f32>) -> (f64, f64, usize) {
    let n = window.len().min(RING) - PERSIST;
    let mut sorted = [0.0; RING];
    let sorted = &mut sorted[..n];
    for (i, s) in sorted.iter_mut().enumerate() {
        *s = f64::from(window.back(PERSIST + i));
    }
    sorted.sort_unstable_by(f64::total_cmp);
    let (median, sigma) = median_and_sigma(sorted);
    (median, sigma, n)
}

/// The score of an early alert `ratio` times as far as its rule asks: the threshold at 1,
/// growing to 1 at 3.
fn alert_score(threshold: f64, ratio: f64) -> f64 {
    (threshold + (1.0 - threshold) * ((ratio - 1.0) / 2.0).clamp(0.0, 1.0)).clamp(threshold, 1.0)
}

#[cfg(test)]
mod tests {
    use crate::detector::{Detector, Stage, Verdict};
    use crate::ensemble::{Ensemble, EnsembleParams};
    use crate::evidence::{Finding, Position};
    use crate::synth::{daily, noise, trending, STEP_MS};

    /// The default ensemble with the jump rule on (as the agent builds it for a resource's
    /// use or an error rate), so that every rule of the stage is under test.
    fn det() -> Ensemble {
        Ensemble::new(EnsembleParams {
            early_jump: true,
            ..EnsembleParams::default()
        })
        .unwrap()
    }

    /// The anomalous points of `v` (fed every 10 s), with their index and evidence.
    fn alerts(v: &[f64]) -> Vec<(usize, Finding)> {
        alerts_of(det(), v)
    }

    fn alerts_of(mut d: Ensemble, v: &[f64]) -> Vec<(usize, Finding)> {
        v.iter()
            .enumerate()
            .filter_map(|(i, &x)| match d.observe(i as i64 * 10_000, x) {
                Verdict::Scored(o) if o.anomalous => {
                    Some((i, o.evidence.primary().unwrap().finding))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_level_step_is_caught_within_a_few_points() {
        // A core at 5% (noisy) saturated from point 20: 2 minutes and 20 s in at 10 s.
        let mut v: Vec<f64> = noise(1, 400, 0.05, 0.01)
            .into_iter()
            .map(|x| x.clamp(0.0, 1.0))
            .collect();
        v[20..].iter_mut().for_each(|x| *x = 1.0);
        let found = alerts(&v);
        assert_eq!(found.len(), 1, "{found:?}");
        let (i, finding) = found[0];
        // So far beyond the noise (95 spreads) that the jump rule takes it at its second point.
        assert_eq!(i, 20 + super::JUMP_POINTS - 1, "{found:?}");
        let Finding::EarlyLevel {
            median,
            mean,
            points,
            reference,
            ..
        } = finding
        else {
            panic!("{finding:?}")
        };
        assert!((median - 0.05).abs() < 0.01 && mean == 1.0, "{finding:?}");
        assert_eq!((points, reference), (2, 19));
        // Without the jump rule (a throughput's bursts are ordinary), and for a fall, 3 points.
        let plain = alerts_of(Ensemble::new(EnsembleParams::default()).unwrap(), &v);
        assert_eq!(plain.len(), 1, "{plain:?}");
        assert_eq!(plain[0].0, 20 + super::PERSIST - 1, "{plain:?}");
        let fall: Vec<f64> = v.iter().map(|x| 1.0 - x).collect();
        let found = alerts(&fall);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 20 + super::PERSIST - 1, "{found:?}");
    }

    #[test]
    fn a_smaller_step_needs_three_points_and_one_odd_point_none() {
        // Noise of spread 1 around 100: a step of 12 (beyond the level rule's 8 spreads, short
        // of the jump rule's 16) is judged on three points; a single point 200 spreads out, and
        // two points 12 out that return, are no alert.
        for seed in 0..20 {
            let base = noise(seed, 120, 100.0, 1.0);
            let mut step = base.clone();
            step[60..].iter_mut().for_each(|x| *x += 12.0);
            let found = alerts(&step);
            assert_eq!(found.len(), 1, "seed {seed}: {found:?}");
            assert_eq!(
                found[0].0,
                60 + super::PERSIST - 1,
                "seed {seed}: {found:?}"
            );
            let Finding::EarlyLevel { points, .. } = found[0].1 else {
                panic!("{found:?}")
            };
            assert_eq!(points as usize, super::PERSIST);

            let mut blips = base.clone();
            blips[60] += 200.0;
            blips[80] += 12.0;
            blips[81] += 12.0;
            assert_eq!(alerts(&blips), vec![], "seed {seed}");
        }
    }

    #[test]
    fn a_saturation_at_its_bound_is_caught() {
        // A ratio too noisy for the level rule (anywhere in 10%..90%), then at 100%.
        let mut v: Vec<f64> = noise(2, 200, 0.5, 0.2)
            .into_iter()
            .map(|x| x.clamp(0.1, 0.9))
            .collect();
        v[40..].iter_mut().for_each(|x| *x = 1.0);
        let found = alerts(&v);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 40 + super::BOUND_POINTS as usize - 1);
        assert_eq!(
            found[0].1,
            Finding::AtBound {
                bound: 1.0,
                points: super::BOUND_POINTS,
                previous: 0.9
            }
        );
    }

    #[test]
    fn a_climb_is_caught() {
        // Memory at 40% climbing 0.8 points every 10 s from point 20 (about 5% a minute).
        let v: Vec<f64> = noise(3, 200, 0.4, 0.001)
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                x + if i >= 20 {
                    0.008 * (i - 19) as f64
                } else {
                    0.0
                }
            })
            .collect();
        let found = alerts(&v);
        assert!(!found.is_empty(), "{found:?}");
        assert!((20..40).contains(&found[0].0), "{found:?}");
        // One alert per episode: the climb goes on and is no news after it.
        assert_eq!(found.len(), 1, "{found:?}");
    }

    /// The default ensemble as the agent builds it for a filesystem's used share: `min_scale`
    /// 2 points of the capacity, the jump and the filling rules on.
    fn filesystem() -> Ensemble {
        share(true)
    }

    /// A share of a capacity with `min_scale` 2 points and the jump rule on; `fill`: whether
    /// the filling rule is on too (a filesystem's share) or not (memory's).
    fn share(fill: bool) -> Ensemble {
        Ensemble::new(EnsembleParams {
            early_jump: true,
            early_fill: fill,
            min_scale: 0.02,
            ..EnsembleParams::default()
        })
        .unwrap()
    }

    #[test]
    fn a_filling_filesystem_is_caught_within_two_points_whatever_the_phase() {
        // Steady at 10% (a few KiB of churn), then filled by 15.6% of its capacity every 10 s
        // (4 MiB/s on 256 MiB) from a moment `phase` of an interval before point 30.
        for phase in [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0] {
            let v: Vec<f64> = noise(5, 60, 0.1, 0.00002)
                .into_iter()
                .enumerate()
                .map(|(i, x)| {
                    let filled = if i >= 30 {
                        0.156 * (i - 30) as f64 + 0.156 * phase
                    } else {
                        0.0
                    };
                    (x + filled).min(1.0)
                })
                .collect();
            let found = alerts_of(filesystem(), &v);
            assert!(!found.is_empty(), "phase {phase}");
            let (i, finding) = found[0];
            assert!(i <= 31, "phase {phase}: {found:?}");
            let Finding::Filling {
                previous,
                rise,
                points_to_full,
            } = finding
            else {
                panic!("phase {phase}: {finding:?}")
            };
            let before = v[..i].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(previous, before, "{finding:?}");
            assert!(
                rise >= 0.02 && points_to_full <= super::FILL_POINTS,
                "{finding:?}"
            );
            // Without the rule, the jump rule needs both points 16 spreads out (2 points of
            // the capacity each): a fill that began late in the interval waits a third point.
            if phase <= 0.1 {
                let late = alerts_of(share(false), &v);
                assert!(late[0].0 > 31, "phase {phase}: {late:?}");
            }
        }
    }

    #[test]
    fn the_filling_rule_leaves_small_steps_slow_fills_and_restless_shares_alone() {
        let fills = |v: &[f64]| {
            alerts_of(filesystem(), v)
                .into_iter()
                .filter(|(_, f)| matches!(f, Finding::Filling { .. }))
                .collect::<Vec<_>>()
        };
        for seed in 0..40 {
            // A step of 1.5 points of the capacity (under `min_scale`), once.
            let mut step = noise(seed, 200, 0.4, 0.0002);
            step[100..].iter_mut().for_each(|x| *x += 0.015);
            assert_eq!(fills(&step), vec![], "step, seed {seed}");
            // A fill of 0.5 points every 10 s from 40%: full in 2 hours, not minutes.
            let slow: Vec<f64> = noise(seed, 200, 0.4, 0.0002)
                .into_iter()
                .enumerate()
                .map(|(i, x)| x + 0.005 * i.saturating_sub(50) as f64)
                .collect();
            assert_eq!(fills(&slow), vec![], "slow, seed {seed}");
            // A scratch space whose share moves by itself (5 points of spread).
            let restless: Vec<f64> = noise(seed, 300, 0.5, 0.05)
                .into_iter()
                .map(|x| x.clamp(0.0, 1.0))
                .collect();
            assert_eq!(fills(&restless), vec![], "restless, seed {seed}");
        }
        // 4 points of the capacity written at once on a disk at 10%, and no more: at that rate
        // full in 22 points, so judged a fill, once (the new level is known afterwards). As
        // the full ensemble judges such a move beyond everything seen.
        let mut v = noise(9, 100, 0.1, 0.00002);
        v[50..].iter_mut().for_each(|x| *x += 0.04);
        assert_eq!(fills(&v).len(), 1, "{:?}", fills(&v));
        // Off (a memory share): never.
        assert!(alerts_of(share(false), &v)
            .iter()
            .all(|(_, f)| !matches!(f, Finding::Filling { .. })));
    }

    #[test]
    fn quiet_series_stay_silent_through_the_hand_over() {
        // From the first point through the hand-over at 300 (the first points the full
        // ensemble scores). Later the full ensemble's own rules alert now and then on such
        // series (a record of pure noise, a level record of a trend), as before the early
        // stage; on the noisy trend its level rule does so from its first point for some
        // seeds (21: point 300), so that one is checked through the early stage only.
        for seed in 0..40 {
            let series: [(&str, Vec<f64>); 5] = [
                ("noise", noise(seed, 400, 10.0, 1.0)),
                ("daily", daily(seed, 400)),
                ("trend", trending(seed, 400, 0.05, 1.0)),
                ("steep trend", trending(seed, 400, 1.0, 0.1)),
                (
                    "ratio",
                    noise(seed, 400, 0.3, 0.05)
                        .into_iter()
                        .map(|x| x.clamp(0.0, 1.0))
                        .collect(),
                ),
            ];
            for (name, mut v) in series {
                v.truncate(if name == "trend" { 300 } else { 303 });
                // Every rule of the stage on, the filling rule included.
                let mut d = Ensemble::new(EnsembleParams {
                    early_jump: true,
                    early_fill: true,
                    ..EnsembleParams::default()
                })
                .unwrap();
                for (i, &x) in v.iter().enumerate() {
                    let verdict = d.observe(i as i64 * STEP_MS, x);
                    assert!(
                        !matches!(verdict, Verdict::Scored(o) if o.anomalous),
                        "{name} seed {seed} point {i}: {verdict:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_episode_alerted_early_does_not_alert_at_the_hand_over() {
        // A level step that lasts, at point 200 and 10 points before the hand-over at 300:
        // one alert, from the early stage, and none when the full ensemble takes over (up to
        // 20 points after it; later the noise at its new level sets a record now and then,
        // as after any level shift, while the sliding median has not caught up).
        for seed in 0..20 {
            for at in [200, 290] {
                let mut v = noise(seed, 320, 10.0, 1.0);
                v[at..].iter_mut().for_each(|x| *x += 30.0);
                let found = alerts(&v);
                assert_eq!(found.len(), 1, "seed {seed} at {at}: {found:?}");
                assert!((at..at + 5).contains(&found[0].0), "seed {seed}: {found:?}");
                assert_eq!(found[0].1.kind(), "early_level");
            }
        }
    }

    #[test]
    fn the_stage_says_what_scores_the_next_point() {
        let mut d = det();
        assert_eq!(d.stage(), Stage::Learning { next_in: 12 });
        let mut stages = Vec::new();
        for (i, x) in noise(4, 320, 1.0, 0.1).into_iter().enumerate() {
            let before = d.stage();
            let verdict = d.observe(i as i64, x);
            stages.push(before);
            match before {
                Stage::Learning { .. } => assert_eq!(verdict, Verdict::WarmingUp, "{i}"),
                _ => assert!(matches!(verdict, Verdict::Scored(_)), "{i} {before:?}"),
            }
        }
        assert_eq!(stages[11], Stage::Learning { next_in: 1 });
        assert_eq!(stages[12], Stage::Early { next_in: 288 });
        assert_eq!(stages[299], Stage::Early { next_in: 1 });
        assert_eq!(stages[300], Stage::Full);
        // Without an early stage the ensemble learns until its warm-up.
        let mut d = Ensemble::new(EnsembleParams {
            early_warmup: 300,
            ..EnsembleParams::default()
        })
        .unwrap();
        for i in 0..100 {
            assert_eq!(d.observe(i, 1.0), Verdict::WarmingUp);
        }
        assert_eq!(d.stage(), Stage::Learning { next_in: 200 });
        assert_eq!(Stage::Early { next_in: 3 }.next_in(), Some(3));
        assert_eq!(Stage::Full.name(), "full");
    }

    #[test]
    fn early_evidence_is_true() {
        // Steps up and down at random points of the early stage: every alert's claims hold.
        use rand::{Rng, SeedableRng};
        let mut checked = 0;
        for seed in 0..60u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let at = rng.random_range(15..280);
            let by = rng.random_range(5.0..50.0) * if seed % 2 == 0 { 1.0 } else { -1.0 };
            let mut v = noise(seed, 320, 100.0, rng.random_range(0.1..3.0));
            v[at..].iter_mut().for_each(|x| *x += by);
            let mut d = det();
            for (i, &x) in v.iter().enumerate() {
                let Verdict::Scored(o) = d.observe(i as i64 * 10_000, x) else {
                    continue;
                };
                if !o.anomalous || i >= 300 {
                    continue;
                }
                checked += 1;
                let c = o.evidence.primary().unwrap();
                let Finding::EarlyLevel {
                    median,
                    spread,
                    mean,
                    points,
                    ..
                } = c.finding
                else {
                    panic!("{seed} {i}: {o:?}")
                };
                let m = points as usize;
                let real = v[i + 1 - m..=i].iter().sum::<f64>() / m as f64;
                assert!((real - mean).abs() < 1e-9, "{seed} {i}: {o:?}");
                assert!(((mean - median) / spread).abs() >= super::Z_EARLY);
                let side = if mean > median {
                    Position::Above
                } else {
                    Position::Below
                };
                assert_eq!(Position::of(x, o.expected_low, o.expected_high), side);
            }
        }
        assert!(checked >= 50, "{checked}");
    }
}
