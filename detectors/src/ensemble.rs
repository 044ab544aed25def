//! The default detector: an ensemble of the other detectors, read through three questions that
//! decide how useful an alert is, as the Numenta Anomaly Benchmark measures it.
//!
//! 1. **Has the signal ever been here?** The range of every value seen since the signal
//!    started is tracked. A value beyond it, and at least 3 spreads from the sliding median (so
//!    a slow drift setting small new records is not news), is novel in the strongest sense: the
//!    score is `0.5 + excursion / range width` (capped at 1), so with the default threshold of
//!    0.5 every such new extreme alerts, and a bigger excursion scores higher. (Numenta's HTM detector gets much
//!    of its NAB score from the same "spatial anomaly" rule.)
//! 2. **Has its level ever been here?** The same question for the mean of the last
//!    `LEVEL_POINTS` values against the range of every earlier such mean: a noisy or spiky
//!    signal whose raw range was stretched by a few spikes still alerts when its level settles
//!    where only spikes went before. A new level within one spread of the sliding median is
//!    not a shift (the mean of pure noise sets small records too). The score is
//!    `0.45 + 3 * excursion / range width`, so an excursion of a sixtieth of the width reaches
//!    0.5.
//! 3. **Is the shape of the signal more unusual than it has been lately?** Within the known
//!    range, the components look for everything else: the sliding median/MAD ([`crate::SlidingMad`])
//!    for spikes, the seasonal baseline ([`crate::Seasonal`], daily, weekly and the signal's own
//!    detected period) for values wrong for the phase of the rhythm, the CUSUM
//!    ([`crate::Cusum`]) for level shifts and the k-means model ([`crate::KMeansDetector`]) for
//!    novel dynamics. Each component's calibrated score is averaged over the last few points and
//!    compared with its own slowly learned running distribution (the anomaly-likelihood idea of
//!    HTM: a signal whose component is always excited is not surprising when it is excited
//!    again). That surprise only counts when it beats the component's largest surprise of the
//!    recent past (a slowly forgotten record): a detector that fires once at the start of an
//!    episode and stays quiet beats one that keeps firing. The largest counting surprise `s`
//!    (in `[0, 1]`) scores `0.55 * s`, so only the strongest surprises (`s > 0.91`) alert at
//!    the default threshold. The nearest-neighbour detector ([`crate::KnnConformal`]) is not a
//!    component: on NAB it lowered the ensemble's score and it cost half of its time.
//!
//! After an alert the ensemble stays quiet for `quiet` points: one episode, one alert.
//!
//! Calibration, therefore, is not the tail probability of the single detectors: 0.5 is (about)
//! the edge of everything seen so far (widened by `min_scale`), and the expected range in each
//! [`Observation`] is exactly the range of the values. All components are deterministic (the k-means fit is seeded), skip nothing themselves
//! (non-finite values are refused before they reach them) and use timestamps only for the
//! seasonal slot and the period finder's sampling step. The constants below were chosen on
//! the NAB corpus (one global setting for every signal, as every NAB entrant tunes its
//! defaults; labels are never read while scoring). State: about 22 KiB per signal with the
//! defaults (see the `detectors` bench).

use crate::cusum::{Cusum, CusumParams};
use crate::detector::{skip_non_finite, Detector, Observation, Verdict};
use crate::kmeans::{KMeansDetector, KMeansParams};
use crate::mad::{MadParams, SlidingMad};
use crate::param::{self, InvalidParam};
use crate::score::{score_from_z, z_for_score};
use crate::seasonal::{Seasonal, SeasonalParams};
use crate::window::Ring;

const NAME: &str = "ensemble";
/// Points the component evidence is averaged over.
const EVIDENCE_POINTS: usize = 5;
/// Smoothing of the running distribution of the evidence (slow: a burst of excitement must
/// not teach the ensemble that excitement is normal).
const EVIDENCE_ALPHA: f64 = 0.0005;
/// Per-point decay of the surprise record.
const RECORD_DECAY: f64 = 0.999;
/// A new extreme must also be this many spreads from the sliding median to count: a signal
/// drifting to new records one small step at a time is not news.
const NOVEL_MIN_Z: f64 = 3.0;
/// Components: median/MAD, seasonal, CUSUM, k-means.
const COMPONENTS: usize = 4;
/// A surprise of 1 scores this.
const SECONDARY_SCALE: f64 = 0.55;
/// Values averaged into the level whose range is tracked.
const LEVEL_POINTS: usize = 16;
/// Score of a level just beyond its known range, and its growth per range width.
const LEVEL_BASE: f64 = 0.45;
const LEVEL_GAIN: f64 = 3.0;
/// A new level must also be this many spreads from the sliding median to count.
const LEVEL_MIN_Z: f64 = 1.0;

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
    /// The signal's own period for the seasonal component, in ms; `None`: detected online
    /// (see [`SeasonalParams::period_ms`]).
    pub period_ms: Option<i64>,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        Self {
            warmup: 300,
            threshold: 0.5,
            quiet: 30,
            seed: 42,
            min_scale: 0.0,
            period_ms: None,
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
        SeasonalParams {
            period_ms: self.period_ms,
            ..SeasonalParams::default()
        }
        .validate()?;
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
    /// The last [`LEVEL_POINTS`] values, and the range of their means so far.
    recent: Ring,
    level_low: f64,
    level_high: f64,
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
            seasonal: Seasonal::new(SeasonalParams {
                period_ms: params.period_ms,
                ..SeasonalParams::default()
            })?,
            cusum: Cusum::new(CusumParams::default())?,
            kmeans: KMeansDetector::new(kmeans)?,
            recent: Ring::new(LEVEL_POINTS),
            level_low: f64::INFINITY,
            level_high: f64::NEG_INFINITY,
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
        [mad, seasonal, cusum, kmeans].map(score_from_z)
    }

    /// Learns `value` into the recent level; returns how far the level (the mean of the last
    /// [`LEVEL_POINTS`] values) lies beyond the range of every earlier level, in range widths.
    fn level_excursion(&mut self, value: f64) -> f64 {
        self.recent.push(value);
        if self.recent.len() < LEVEL_POINTS {
            return 0.0;
        }
        let level = self.recent.as_slice().iter().sum::<f64>() / LEVEL_POINTS as f64;
        let (low, high) = (self.level_low, self.level_high);
        self.level_low = low.min(level);
        self.level_high = high.max(level);
        if low >= high {
            return 0.0;
        }
        // A level within a fraction of a spread of the median is not a shift, however new.
        if let Some((median, sigma)) = self.mad.baseline() {
            if (level - median).abs() < LEVEL_MIN_Z * sigma {
                return 0.0;
            }
        }
        let beyond = (level - high).max(low - level).min(f64::MAX);
        if beyond > 0.0 {
            beyond / (high - low).clamp(1e-300, f64::MAX)
        } else {
            0.0
        }
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
        if skip_non_finite(value, &mut self.skipped) {
            return Verdict::Skipped;
        }
        self.seen = self.seen.saturating_add(1);
        let scores = self.component_scores(ts_ms, value);
        let (seen, warmup) = (self.seen, self.params.warmup);
        let level = self.level_excursion(value);
        let secondary = SECONDARY_SCALE
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
        if level > 0.0 {
            score = score.max((LEVEL_BASE + LEVEL_GAIN * level).min(1.0));
        }
        self.since_alert = self.since_alert.saturating_add(1);
        if self.since_alert <= self.params.quiet {
            score = 0.0;
        }
        let anomalous = score >= self.params.threshold;
        if anomalous {
            self.since_alert = 0;
        }
        Verdict::Scored(Observation::within(
            score,
            (low - self.params.min_scale).max(f64::MIN),
            (high + self.params.min_scale).min(f64::MAX),
            self.params.threshold,
        ))
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
            + self.recent.heap_bytes()
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
    fn a_new_level_within_the_range_of_spikes_alerts() {
        // Noise around 10 with a spike to 20 now and then: the raw range reaches 20. From
        // 20 000 on the level sits at 14, where only spikes went before.
        let f = alerts_around_a_change(11, |_, x| *x += 4.0);
        let mut v = noise(11, 22_000, 10.0, 1.0);
        v.iter_mut().skip(250).step_by(500).for_each(|x| *x = 20.0);
        v[20_000..].iter_mut().for_each(|x| *x += 4.0);
        let g: Vec<usize> = flagged(&mut det(), &v)
            .into_iter()
            .filter(|i| (19_000..22_000).contains(i))
            .collect();
        assert!(
            g.iter()
                .any(|&i| (20_000..20_000 + LEVEL_POINTS).contains(&i)),
            "{g:?}"
        );
        assert!(g.iter().all(|&i| i >= 20_000), "{g:?}");
        // Without the spikes the raw values alert at once.
        assert_eq!(f.first(), Some(&20_000), "{f:?}");
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
        // New extremes of pure noise (of its values and of its level) become rarer as the
        // range fills, about ln(n) of them, and the strongest surprises of the components
        // alert now and then: 34 alerts in 100 000 points of this noise, 4 of the daily rhythm.
        let rate = alert_rate(&mut det(), &noise(7, 100_000, 10.0, 1.0));
        assert!(rate < 4e-4, "{rate}");
        let rate = alert_rate(&mut det(), &daily(8, 100_000));
        assert!(rate < 1e-4, "{rate}");
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
