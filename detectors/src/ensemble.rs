//! The default detector: an ensemble of every other detector, read through two questions that
//! decide how useful an alert is, as the Numenta Anomaly Benchmark measures it.
//!
//! 1. **Has the signal ever been here?** The range of every value seen since the signal
//!    started is tracked. A value beyond it, and at least 3 spreads from the sliding median (so
//!    a slow drift setting small new records is not news), is novel in the strongest sense: the
//!    score is `0.5 + excursion / range width` (capped at 1), so with the default threshold of
//!    0.5 every such new extreme alerts, and a bigger excursion scores higher. (Numenta's HTM detector gets much
//!    of its NAB score from the same "spatial anomaly" rule.)
//! 2. **Is the shape of the signal more unusual than it has been lately?** Within the known
//!    range, the components look for everything else: the sliding median/MAD ([`crate::SlidingMad`])
//!    for spikes, the seasonal baseline ([`crate::Seasonal`]) for values wrong for the time of
//!    day or week, the CUSUM ([`crate::Cusum`]) for level shifts, the k-means model
//!    ([`crate::KMeansDetector`]) for novel dynamics and the nearest-neighbour detector
//!    ([`crate::KnnConformal`]) for novel contexts. Each component's calibrated score is
//!    averaged over the last few points and compared with its own running distribution (the
//!    anomaly-likelihood idea of HTM: a signal whose component is always excited is not
//!    surprising when it is excited again). That surprise only counts when it beats the
//!    component's largest surprise of the recent past (a slowly forgotten record): a detector
//!    that fires once at the start of an episode and stays quiet beats one that keeps firing.
//!    The largest counting surprise maps to scores below 0.5, so it ranks points for a lower
//!    threshold but never alerts at the default one on its own.
//!
//! After an alert the ensemble stays quiet for `quiet` points: one episode, one alert.
//!
//! Calibration, therefore, is not the tail probability of the single detectors: 0.5 is the edge
//! of everything seen so far (widened by `min_scale`), and the expected range in each
//! [`Observation`] is exactly that range. All components are deterministic (the k-means fit is seeded), skip nothing themselves
//! (non-finite values are refused before they reach them) and use timestamps only for the
//! seasonal slot. State: about 20 KiB per signal with the defaults (see the `ensemble` bench).

use crate::cusum::{Cusum, CusumParams};
use crate::detector::{Detector, Observation, Verdict};
use crate::kmeans::{KMeansDetector, KMeansParams};
use crate::knn::{KnnConformal, KnnParams};
use crate::mad::{MadParams, SlidingMad};
use crate::param::{self, InvalidParam};
use crate::score::{score_from_z, z_for_score};
use crate::seasonal::{Seasonal, SeasonalParams};

const NAME: &str = "ensemble";
/// Points the component evidence is averaged over.
const EVIDENCE_POINTS: usize = 5;
/// Smoothing of the running distribution of the evidence.
const EVIDENCE_ALPHA: f64 = 0.002;
/// Per-point decay of the surprise record.
const RECORD_DECAY: f64 = 0.999;
/// A new extreme must also be this many spreads from the sliding median to count: a signal
/// drifting to new records one small step at a time is not news.
const NOVEL_MIN_Z: f64 = 3.0;
/// Components: median/MAD, seasonal, CUSUM, k-means, kNN.
const COMPONENTS: usize = 5;
/// Secondary scores stay below this, under the default threshold.
const SECONDARY_CEILING: f64 = 0.49;

/// Parameters of [`Ensemble`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnsembleParams {
    /// Points learned before the first score, 2..=100000.
    pub warmup: usize,
    /// Score at or above which a point is anomalous, (0, 1).
    pub threshold: f64,
    /// Points after an alert during which the ensemble scores 0, 0..=100000.
    pub quiet: usize,
    /// Seed of the k-means component.
    pub seed: u64,
    /// Smallest excursion beyond the known range that counts as novel, in the signal's unit
    /// (finite, >= 0): a CPU at 61% after a maximum of 60.5% is not news.
    pub min_scale: f64,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        Self {
            warmup: 300,
            threshold: 0.5,
            quiet: 30,
            seed: 42,
            min_scale: 0.0,
        }
    }
}

impl EnsembleParams {
    pub fn validate(&self) -> Result<(), InvalidParam> {
        param::count(
            NAME,
            "warmup",
            self.warmup,
            10,
            100_000,
            "from 10 to 100000 points",
        )?;
        param::threshold(NAME, self.threshold)?;
        param::count(
            NAME,
            "quiet",
            self.quiet,
            0,
            100_000,
            "from 0 to 100000 points",
        )
    }
}

/// The default detector; see the module documentation.
#[derive(Debug, Clone)]
pub struct Ensemble {
    params: EnsembleParams,
    mad: SlidingMad,
    seasonal: Seasonal,
    cusum: Cusum,
    kmeans: KMeansDetector,
    knn: KnnConformal,
    /// The z the CUSUM's decision level maps to (its score scale, see [`crate::Cusum`]).
    cusum_z: f64,
    /// The median/MAD score of [`NOVEL_MIN_Z`].
    novel_min_score: f64,
    seen: usize,
    low: f64,
    high: f64,
    /// One surprise tracker per component, in the order of [`Ensemble::component_scores`].
    surprise: [Surprise; COMPONENTS],
    /// Points since the last alert (saturating).
    since_alert: usize,
    skipped: u64,
}

impl Ensemble {
    pub fn new(params: EnsembleParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        let kmeans = KMeansParams {
            seed: params.seed,
            ..KMeansParams::default()
        };
        Ok(Self {
            params,
            mad: SlidingMad::new(MadParams::default())?,
            seasonal: Seasonal::new(SeasonalParams::default())?,
            cusum: Cusum::new(CusumParams::default())?,
            kmeans: KMeansDetector::new(kmeans)?,
            knn: KnnConformal::new(KnnParams::default())?,
            cusum_z: z_for_score(CusumParams::default().threshold),
            novel_min_score: score_from_z(NOVEL_MIN_Z),
            seen: 0,
            low: f64::INFINITY,
            high: f64::NEG_INFINITY,
            surprise: [Surprise::default(); COMPONENTS],
            since_alert: usize::MAX,
            skipped: 0,
        })
    }

    /// Every component's calibrated score for this point; every component learns the point.
    fn component_scores(&mut self, ts_ms: i64, value: f64) -> [f64; COMPONENTS] {
        let mad = self.mad.z(value).map_or(0.0, |(z, _, _)| z);
        self.mad.learn(value);
        let seasonal = self
            .seasonal
            .expect(ts_ms)
            .map_or(0.0, |e| (value - e.level) / e.sigma);
        self.seasonal.learn(ts_ms, value);
        let cusum = self
            .cusum
            .step(value)
            .map_or(0.0, |(stat, _, _)| stat * self.cusum_z);
        self.kmeans.learn(value);
        let kmeans = self.kmeans.z_newest();
        let knn = self.knn.step(value).unwrap_or(0.0);
        [mad, seasonal, cusum, kmeans, knn].map(score_from_z)
    }
}

/// How surprising one component's evidence is against its own past (see the module
/// documentation): its score averaged over the last few points, compared with the running mean
/// and spread of that average, kept only when it beats a slowly forgotten record.
#[derive(Debug, Clone, Copy, Default)]
struct Surprise {
    recent: [f64; EVIDENCE_POINTS],
    sum: f64,
    mean: f64,
    var: f64,
    record: f64,
}

impl Surprise {
    /// `seen` counts points from 1; returns the surprise in `[0, 1]` when it sets a record.
    fn update(&mut self, seen: usize, warmup: usize, score: f64) -> f64 {
        let slot = seen % EVIDENCE_POINTS;
        self.sum += score - self.recent[slot];
        self.recent[slot] = score;
        let averaged = (self.sum / seen.clamp(1, EVIDENCE_POINTS) as f64).max(0.0);

        let surprise = if seen > warmup {
            let sd = self.var.sqrt().max(0.01);
            ((averaged - self.mean) / sd / 10.0).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let a = EVIDENCE_ALPHA.max(1.0 / seen.max(1) as f64);
        let delta = averaged - self.mean;
        self.mean += a * delta;
        self.var = (1.0 - a) * (self.var + a * delta * delta);

        let beats = surprise > self.record;
        self.record = (self.record * RECORD_DECAY).max(surprise);
        if beats && seen > warmup {
            surprise
        } else {
            0.0
        }
    }
}

impl Detector for Ensemble {
    fn observe(&mut self, ts_ms: i64, value: f64) -> Verdict {
        if !value.is_finite() {
            self.skipped = self.skipped.saturating_add(1);
            return Verdict::Skipped;
        }
        self.seen = self.seen.saturating_add(1);
        let scores = self.component_scores(ts_ms, value);
        let (seen, warmup) = (self.seen, self.params.warmup);
        let secondary = SECONDARY_CEILING
            * self
                .surprise
                .iter_mut()
                .zip(scores)
                .map(|(s, score)| s.update(seen, warmup, score))
                .fold(0.0, f64::max);
        let (low, high) = (self.low, self.high);
        self.low = low.min(value);
        self.high = high.max(value);
        if self.seen <= self.params.warmup {
            return Verdict::WarmingUp;
        }

        let width = (high - low)
            .min(f64::MAX)
            .max(1e-9 * high.abs().max(low.abs()))
            .max(1e-300);
        let beyond = (value - high).max(low - value).min(f64::MAX);
        let outlier = scores[0] >= self.novel_min_score;
        let excursion = if beyond > self.params.min_scale && outlier {
            beyond / width
        } else {
            0.0
        };
        let mut score = if excursion > 0.0 {
            (0.5 + excursion).min(1.0)
        } else {
            secondary
        };
        self.since_alert = self.since_alert.saturating_add(1);
        if self.since_alert <= self.params.quiet {
            score = 0.0;
        }
        let anomalous = score >= self.params.threshold;
        if anomalous {
            self.since_alert = 0;
        }
        Verdict::Scored(Observation {
            score,
            expected_low: (low - self.params.min_scale).max(f64::MIN),
            expected_high: (high + self.params.min_scale).min(f64::MAX),
            anomalous,
        })
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.mad.heap_bytes()
            + self.seasonal.heap_bytes()
            + self.kmeans.heap_bytes()
            + self.knn.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, alert_rate, daily, flagged, noise, scores, STEP_MS};

    fn det() -> Ensemble {
        Ensemble::new(EnsembleParams::default()).unwrap()
    }

    #[test]
    fn contract_and_state_budget() {
        synth::common_contract(|| Box::new(det()), 32 * 1024);
    }

    /// Alerts in `range` of a series of Gaussian noise with `change` applied from index
    /// 20 000 on. Pure noise sets a new record (an alert) now and then, about 2/n per point
    /// after n points, so the change sits late in the series.
    fn alerts_around_a_change(seed: u64, change: impl Fn(usize, &mut f64)) -> Vec<usize> {
        let mut v = noise(seed, 22_000, 10.0, 1.0);
        v[20_000..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| change(i, x));
        let f = flagged(&mut det(), &v);
        f.into_iter()
            .filter(|i| (19_000..22_000).contains(i))
            .collect()
    }

    #[test]
    fn spike_alerts_once() {
        let f = alerts_around_a_change(1, |i, x| match i {
            0 => *x = 20.0,
            5 => *x = 21.0, // inside the quiet period: the same episode
            _ => {}
        });
        assert_eq!(f, [20_000]);
    }

    #[test]
    fn level_shift_alerts_at_its_start() {
        let f = alerts_around_a_change(2, |_, x| *x += 10.0);
        assert_eq!(f.first(), Some(&20_000), "{f:?}");
        assert!(f.len() <= 3, "{f:?}");
    }

    #[test]
    fn trend_and_variance_changes_alert() {
        let f = alerts_around_a_change(3, |i, x| *x += 0.2 * i as f64);
        assert!(f.iter().any(|&i| (20_000..20_050).contains(&i)), "{f:?}");
        assert!(f.iter().all(|&i| i >= 20_000), "{f:?}");
        let wide = noise(5, 2000, 0.0, 8.0);
        let f = alerts_around_a_change(4, |i, x| *x = 10.0 + wide[i]);
        assert!(f.iter().any(|&i| (20_000..20_020).contains(&i)), "{f:?}");
        // At most the occasional record of the noise before the change.
        assert!(f.iter().filter(|&&i| i < 20_000).count() <= 1, "{f:?}");
    }

    #[test]
    fn anomaly_inside_the_season_ranks_highest() {
        // Inside the known range, so below the default threshold, but it is the day's
        // highest score: a lower threshold catches it without false alerts.
        let per_day = (86_400_000 / STEP_MS) as usize;
        let mut v = daily(6, 10 * per_day);
        let trough = 8 * per_day + 3 * per_day / 4;
        v[trough..trough + 12].iter_mut().for_each(|x| *x = 58.0);
        let s = scores(&mut det(), &v);
        let day = |d: usize| {
            s[d * per_day..(d + 1) * per_day]
                .iter()
                .flatten()
                .fold(0.0_f64, |a, &b| a.max(b))
        };
        let at = s[trough..trough + 12]
            .iter()
            .flatten()
            .fold(0.0_f64, |a, &b| a.max(b));
        assert!(at > 0.0, "{at}");
        assert!(
            at >= day(8) && at > day(7) && at > day(6),
            "{at} {} {}",
            day(7),
            day(6)
        );
    }

    #[test]
    fn clean_series_rarely_alert() {
        // New extremes of pure noise become rarer as the range fills: about ln(n) of them.
        let rate = alert_rate(&mut det(), &noise(7, 100_000, 10.0, 1.0));
        assert!(rate < 2e-4, "{rate}");
        let rate = alert_rate(&mut det(), &daily(8, 100_000));
        assert!(rate < 2e-4, "{rate}");
    }

    #[test]
    fn expected_range_is_what_was_seen() {
        let v = noise(9, 1000, 10.0, 1.0);
        let mut d = det();
        let mut last = None;
        for (i, &x) in v.iter().enumerate() {
            last = Some(d.observe(i as i64, x));
        }
        let (lo, hi) = v[..999]
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        match last {
            Some(Verdict::Scored(o)) => assert_eq!((o.expected_low, o.expected_high), (lo, hi)),
            other => panic!("{other:?}"),
        }
    }
}
