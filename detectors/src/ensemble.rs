//! The default detector: an ensemble of the other detectors, read through four questions that
//! decide how useful an alert is, as the Numenta Anomaly Benchmark measures it.
//!
//! 1. **Has the signal ever been here?** The range of every value seen since the signal
//!    started is tracked. A value beyond it, and at least 3 spreads from the sliding median (so
//!    a slow drift setting small new records is not news), is novel in the strongest sense: the
//!    score is `0.48 + excursion / range width` (capped at 1), so with the default threshold of
//!    0.5 a new extreme alerts when it passes the old range by 2% of its width (a record by a
//!    hair is not news either), and a bigger excursion scores higher. (Numenta's HTM detector
//!    gets much of its NAB score from the same "spatial anomaly" rule.)
//! 2. **Has its level ever been here?** The same question for the mean of the last
//!    `LEVEL_POINTS` values against the range of every earlier such mean: a noisy or spiky
//!    signal whose raw range was stretched by a few spikes still alerts when its level settles
//!    where only spikes went before. A new level within one spread of the sliding median is
//!    not a shift (the mean of pure noise sets small records too). The score is
//!    `0.46 + 3 * excursion / range width`, so an excursion of a seventy-fifth of the width
//!    reaches 0.5.
//! 3. **Has the signal ever been this far from its rhythm?** Once the seasonal baseline
//!    ([`crate::Seasonal`]) scores a point against a rhythm (daily, weekly or the signal's own
//!    period, not its flat profile), the point's residual in spreads (its seasonal z) is
//!    smoothed over about `1 / RESIDUAL_ALPHA` points, and the range of that smoothed residual is
//!    tracked like the range of levels. Beyond it, at least [`RESIDUAL_MIN_Z`] spreads from
//!    the rhythm and after [`RESIDUAL_MIN_POINTS`] residuals (a young range is no reference),
//!    the score is `0.2 + 3 * excursion / range width`: a smoothed residual that passes the
//!    range by a tenth of its width alerts. This is the rule for an anomaly inside the known
//!    range of values that is wrong for its time: a daily peak that does not come, a rush hour
//!    at night; its z is the same unit on any signal, so a rhythm that grows keeps its range.
//!    While a daily peak fails to come the flat profile wins the seasonal choice, so a second
//!    smoothed residual is measured against the best rhythm with its slowly learned spread
//!    (`ensemble/rhythm.rs`), scored the same way.
//! 4. **Is the shape of the signal more unusual than it has been lately?** Within the known
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
//! After an alert the ensemble stays quiet for `quiet` points: one episode, one alert. The
//! warm-up hands over without alerts for what happened in it: points that would have alerted
//! during the warm-up hold the quiet period too, and the components' surprises (and so their
//! records) are measured from half-way through it, so an excitement under way when it ends is
//! not news.
//!
//! A young k-means model (fitted on half its training size during the warm-up) finds the first
//! patterns after its fit novel: for a warm-up's length after the fit, a point that only the
//! k-means component made anomalous holds the quiet period, as a warm-up alert does, and scores
//! just below the threshold instead of alerting.
//!
//! Before its warm-up ends the ensemble is not silent: from `early_warmup` points on, its early
//! stage ([`crate::early`]) scores each point with rules that need little history (a level
//! beyond every earlier value, far from the recent median; a ratio at its bound), and
//! [`Detector::stage`] says which stage scores the next point. An early alert holds the quiet
//! period like any other, so the hand-over does not repeat it.
//!
//! Calibration, therefore, is not the tail probability of the single detectors: 0.5 is (about)
//! the edge of everything seen so far (widened by `min_scale`). The expected range of a normal
//! [`Observation`] is exactly the range of the values; an anomalous one carries its
//! [`Evidence`]: every part whose own contribution to the score crossed the threshold (the new
//! extreme with the previous one; the level shift with the level before, the new level and the
//! values it averages; the spike with the sliding median and MAD; the seasonal slot with its
//! usual value; the unusual pattern), and its expected range is the one the strongest part
//! expected: the range seen so far, the range of earlier levels, or the band of the median, the
//! seasonal slot or the CUSUM level (±4.4 spreads, where their own detectors' threshold lies).
//! All components are deterministic (the k-means fit is seeded), skip nothing themselves
//! (non-finite values are refused before they reach them) and use timestamps only for the
//! seasonal slot and the period finder's sampling step. The constants below were chosen on
//! the NAB corpus (one global setting for every signal, as every NAB entrant tunes its
//! defaults; labels are never read while scoring). State: about 3.1 KiB per signal with the
//! defaults, under 4 KiB while a k-means refit's training values are collected (see the
//! `detectors` bench); the components' parameters are constants passed in, not held per
//! signal, and the k-means refit reads its newest values from the median/MAD window.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cusum::{CusumParams, CusumState};
use crate::detector::{skip_non_finite, Detector, Observation, Stage, Verdict};
use crate::early::{self, EarlySettings, EarlyStage, Recent};
use crate::evidence::{Component, Evidence, Finding};
use crate::history::History;
use crate::kmeans::{self, KMeansParams, KMeansState};
use crate::mad::{MadParams, MadWindow};
use crate::param::{self, InvalidParam};
use crate::score::{score_from_z, z_for_score};
use crate::seasonal::{Expectation, SeasonalParams, SeasonalState};

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
/// The k-means component's index (see [`Ensemble::young_pattern`]).
const KMEANS: usize = 3;
/// A surprise of 1 scores this.
const SECONDARY_SCALE: f64 = 0.55;
/// Values averaged into the level whose range is tracked.
const LEVEL_POINTS: usize = 16;
/// Score of a level just beyond its known range, and its growth per range width.
const LEVEL_BASE: f64 = 0.46;
const LEVEL_GAIN: f64 = 3.0;
/// A new level must also be this many spreads from the sliding median to count.
const LEVEL_MIN_Z: f64 = 1.0;
/// A level shift's evidence reports the mean of at least this many values (one odd value is
/// no level).
const SHIFT_MIN_POINTS: usize = 2;
/// Score of a new extreme just beyond the known range (it grows by 1 per range width).
const EXTREME_BASE: f64 = 0.48;
/// Smoothing of the seasonal residual whose range is tracked (about 8 points).
const RESIDUAL_ALPHA: f64 = 0.125;
/// Seasonal residuals learned before a smoothed one beyond their range counts.
const RESIDUAL_MIN_POINTS: u32 = 200;
/// A smoothed residual must also be this many spreads from the rhythm to count.
const RESIDUAL_MIN_Z: f64 = 3.0;
/// Score of a smoothed residual just beyond its range, and its growth per range width.
const RESIDUAL_BASE: f64 = 0.2;
const RESIDUAL_GAIN: f64 = 3.0;

/// Parameters of [`Ensemble`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnsembleParams {
    /// Points learned before the full ensemble scores, 10..=100000.
    pub warmup: usize,
    /// Points learned before the early stage scores (see the module documentation),
    /// 2..=100000; at or above `warmup` there is no early stage.
    pub early_warmup: usize,
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
    /// The early stage judges a rise on 2 points when it is a jump (16 spreads; see
    /// `early.rs`): for signals where a rise is bad news and bursts are not their nature (a
    /// resource's use, an error rate), so that a restarted agent still in its early stage
    /// alerts within two intervals. Off: 3 points always (throughputs, whose bursts of a few
    /// seconds are ordinary, and any signal of unknown meaning).
    #[serde(default)]
    pub early_jump: bool,
    /// The early stage also judges a ratio filling toward its capacity (see `early.rs`): for
    /// a filesystem's used share, so that a fill is caught at its second point. Off for
    /// everything else.
    #[serde(default)]
    pub early_fill: bool,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        Self {
            warmup: 300,
            early_warmup: 12,
            threshold: 0.5,
            quiet: 30,
            seed: 42,
            min_scale: 0.0,
            period_ms: None,
            early_jump: false,
            early_fill: false,
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
        param::count(
            NAME,
            "early_warmup",
            self.early_warmup,
            2,
            100_000,
            "from 2 to 100000 points",
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

/// Scales that follow from the components' defaults, the same for every signal (so not part of
/// its state).
struct Scales {
    /// The z the CUSUM's decision level maps to (its score scale, see [`crate::Cusum`]).
    cusum_z: f64,
    /// The median/MAD score of [`NOVEL_MIN_Z`].
    novel_min_score: f64,
    /// Half-width, in spreads, of the bands of the median, seasonal and CUSUM components:
    /// where their own detectors' default threshold lies.
    band_z: f64,
}

fn scales() -> &'static Scales {
    static SCALES: std::sync::OnceLock<Scales> = std::sync::OnceLock::new();
    SCALES.get_or_init(|| Scales {
        cusum_z: z_for_score(CusumParams::default().threshold),
        novel_min_score: score_from_z(NOVEL_MIN_Z),
        band_z: z_for_score(MadParams::default().threshold),
    })
}

/// The median/MAD component's parameters.
const MAD: MadParams = MadParams::DEFAULT;

// The early stage reads its values from the ensemble's windows (see [`Recent`]).
const _: () = assert!(MAD.window >= early::RING);
const _: () = assert!(LEVEL_POINTS > early::PERSIST && LEVEL_POINTS > early::JUMP_POINTS);

/// The seasonal component's parameters: the defaults with the ensemble's period.
fn seasonal_params(p: &EnsembleParams) -> SeasonalParams {
    SeasonalParams {
        period_ms: p.period_ms,
        ..SeasonalParams::DEFAULT
    }
}

/// The default detector; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ensemble {
    /// Shared by the signals built with the same parameters (see [`Ensemble::with_shared`]);
    /// saved as the parameters themselves.
    params: Arc<EnsembleParams>,
    /// The components' learned state; their parameters are the defaults (with this
    /// ensemble's period and seed), passed in at each point, not held per signal.
    mad: MadWindow,
    seasonal: SeasonalState,
    cusum: CusumState,
    kmeans: KMeansState,
    /// The last [`LEVEL_POINTS`] values, and the range of their means so far.
    recent: History<f64>,
    level_low: f64,
    level_high: f64,
    /// The smoothed seasonal residual (in spreads), the range of its values so far and how
    /// many residuals it learned (see the module documentation; `f32`: a z needs no more).
    residual: f32,
    residual_low: f32,
    residual_high: f32,
    residuals: u32,
    rhythm: rhythm::RhythmResidual,
    seen: usize,
    low: f64,
    high: f64,
    /// The range of values before the newest point.
    previous_low: f64,
    previous_high: f64,
    /// One surprise tracker per component, in the order of [`Ensemble::component_scores`].
    surprise: [Surprise; COMPONENTS],
    /// Points since the last alert (saturating).
    since_alert: usize,
    /// Scores from `early_warmup` until `warmup`; gone once the full ensemble scores. (Held
    /// here, 40 bytes: a box freed at the hand-over left a hole between other signals'
    /// buffers in the allocator's heap.)
    early: Option<EarlyStage>,
    skipped: u64,
}

impl Ensemble {
    pub fn new(params: EnsembleParams) -> Result<Self, InvalidParam> {
        Self::with_shared(Arc::new(params))
    }

    /// An ensemble whose parameters are shared with others (8 bytes a signal instead of
    /// their 64): a caller with thousands of signals and a few parameter sets passes one
    /// `Arc` per set.
    pub fn with_shared(params: Arc<EnsembleParams>) -> Result<Self, InvalidParam> {
        params.validate()?;
        let seasonal = SeasonalState::new(&seasonal_params(&params));
        Ok(Self {
            params,
            mad: MadWindow::new(&MAD),
            seasonal,
            cusum: CusumState::default(),
            kmeans: KMeansState::default(),
            recent: History::new(LEVEL_POINTS),
            level_low: f64::INFINITY,
            level_high: f64::NEG_INFINITY,
            residual: 0.0,
            residual_low: f32::INFINITY,
            residual_high: f32::NEG_INFINITY,
            residuals: 0,
            rhythm: rhythm::RhythmResidual::default(),
            seen: 0,
            low: f64::INFINITY,
            high: f64::NEG_INFINITY,
            previous_low: f64::INFINITY,
            previous_high: f64::NEG_INFINITY,
            surprise: [Surprise::default(); COMPONENTS],
            since_alert: usize::MAX,
            early: Some(EarlyStage::default()),
            skipped: 0,
        })
    }

    /// Every component's calibrated score for this point, and what each measured it against;
    /// every component learns the point.
    fn component_scores(&mut self, ts_ms: i64, value: f64) -> ([f64; COMPONENTS], Figures) {
        let baseline = self.mad.z(&MAD, value);
        let left = self.mad.learn(value);
        let seasonal = seasonal_params(&self.params);
        let expectation = self.seasonal.expect(&seasonal, ts_ms);
        let rhythm = self.seasonal.expect_rhythm(&seasonal, ts_ms);
        self.seasonal.learn(&seasonal, ts_ms, value);
        let cusum = self.cusum.step(&CusumParams::DEFAULT, value);
        let kmeans = KMeansParams {
            seed: self.params.seed,
            ..KMeansParams::DEFAULT
        };
        self.kmeans.learn(&kmeans, self.mad.values(), left);
        let kmeans = self.kmeans.z_newest(self.mad.values());
        let figures = Figures {
            baseline: baseline.map(|(_, median, sigma)| (median, sigma)),
            expectation,
            rhythm,
            cusum: cusum.map(|(_, level, sigma)| (level, sigma)),
            kmeans_z: kmeans,
            level_range: (self.level_low, self.level_high),
        };
        let z = [
            baseline.map_or(0.0, |(z, _, _)| z),
            expectation.map_or(0.0, |e| (value - e.level) / e.sigma),
            cusum.map_or(0.0, |(stat, _, _)| stat * scales().cusum_z),
            kmeans,
        ];
        (z.map(score_from_z), figures)
    }

    /// Whether the k-means component alone made this point anomalous while its model is
    /// young: fitted on half its training size during the warm-up, it finds the first patterns
    /// after the fit novel for a warm-up's length.
    fn young_pattern(&self, c: &Contributions) -> bool {
        let t = self.params.threshold;
        let fitted_at = KMeansParams::default().train_size / 2;
        self.seen < fitted_at + self.params.warmup
            && c.secondary[KMEANS] >= t
            && c.extreme < t
            && c.level < t
            && c.residual < t
            && c.rhythm < t
            && c.secondary[..KMEANS].iter().all(|&s| s < t)
    }

    /// Learns the residual of `value` from a rhythm's expectation `e` into the smoothed
    /// residual; returns how far that lies beyond the range of every earlier one, in range
    /// widths (0 for a point scored against no rhythm).
    fn residual_excursion(&mut self, value: f64, e: Option<Expectation>) -> f64 {
        let Some(e) = e.filter(|e| e.profile != 0) else {
            return 0.0;
        };
        let z = ((value - e.level) / e.sigma.max(1e-300)).clamp(-1e30, 1e30);
        let old = f64::from(self.residual);
        let smoothed = if self.residuals == 0 {
            z
        } else {
            old + RESIDUAL_ALPHA * (z - old)
        };
        self.residual = smoothed as f32;
        self.residuals = self.residuals.saturating_add(1);
        let (low, high) = (f64::from(self.residual_low), f64::from(self.residual_high));
        self.residual_low = low.min(smoothed) as f32;
        self.residual_high = high.max(smoothed) as f32;
        if self.residuals < RESIDUAL_MIN_POINTS || low >= high || smoothed.abs() < RESIDUAL_MIN_Z {
            return 0.0;
        }
        widths_beyond(smoothed, low, high)
    }

    /// Learns `value` into the recent level; returns how far the level (the mean of the last
    /// [`LEVEL_POINTS`] values) lies beyond the range of every earlier level, in range widths.
    fn level_excursion(&mut self, value: f64) -> f64 {
        self.recent.push(value);
        if self.recent.len() < LEVEL_POINTS {
            return 0.0;
        }
        let level = self.recent.iter().sum::<f64>() / LEVEL_POINTS as f64;
        let (low, high) = (self.level_low, self.level_high);
        self.level_low = low.min(level);
        self.level_high = high.max(level);
        if low >= high {
            return 0.0;
        }
        // A level within a fraction of a spread of the median is not a shift, however new.
        if let Some((median, sigma)) = self.mad.baseline(&MAD) {
            if (level - median).abs() < LEVEL_MIN_Z * sigma {
                return 0.0;
            }
        }
        widths_beyond(level, low, high)
    }
}

/// How far `x` lies beyond the range `low..=high` (a range, `low < high`), in range widths; 0
/// within it.
fn widths_beyond(x: f64, low: f64, high: f64) -> f64 {
    let beyond = (x - high).max(low - x).min(f64::MAX);
    if beyond > 0.0 {
        beyond / (high - low).clamp(1e-300, f64::MAX)
    } else {
        0.0
    }
}

/// The score of a smoothed residual `excursion` range widths beyond its range (0 within it).
fn residual_score(excursion: f64) -> f64 {
    if excursion > 0.0 {
        (RESIDUAL_BASE + RESIDUAL_GAIN * excursion).min(1.0)
    } else {
        0.0
    }
}

impl Ensemble {
    /// Its parameters.
    pub fn params(&self) -> &EnsembleParams {
        &self.params
    }

    /// Takes `shared` as its parameters when they are the same as its own (a restored
    /// ensemble holds a copy of its own); returns whether it did.
    pub fn share_params(&mut self, shared: &Arc<EnsembleParams>) -> bool {
        let same = **shared == *self.params;
        if same {
            self.params = Arc::clone(shared);
        }
        same
    }

    /// Bytes of state by part (they sum to [`Detector::state_bytes`]): what a signal's memory
    /// is spent on, printed by the `detectors` bench.
    pub fn state_parts(&self) -> [(&'static str, usize); 7] {
        [
            ("fields", std::mem::size_of::<Self>()),
            ("median/MAD window", self.mad.heap_bytes()),
            ("seasonal profiles", self.seasonal.profile_bytes()),
            ("period finder", self.seasonal.finder_bytes()),
            ("k-means training values", self.kmeans.training_bytes()),
            ("k-means model", self.kmeans.model_bytes()),
            ("level window", self.recent.heap_bytes()),
        ]
    }
}

/// What the components measured one point against (see [`Ensemble::component_scores`]).
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// Sliding median and spread before the point joined the window.
    baseline: Option<(f64, f64)>,
    expectation: Option<Expectation>,
    /// The best rhythm's expectation, with its slowly learned spread (see
    /// [`SeasonalState::expect_rhythm`]).
    rhythm: Option<Expectation>,
    /// The CUSUM's level and spread before the point.
    cusum: Option<(f64, f64)>,
    kmeans_z: f64,
    /// The range of earlier levels, before this point's level joined it.
    level_range: (f64, f64),
}

/// Each part's contribution to one point's score, in the order the score takes them.
#[derive(Debug, Clone, Copy)]
struct Contributions {
    extreme: f64,
    level: f64,
    /// The smoothed seasonal residual beyond its range.
    residual: f64,
    /// The smoothed residual from the best rhythm beyond its range.
    rhythm: f64,
    /// The secondary components, in the order of [`Ensemble::component_scores`].
    secondary: [f64; COMPONENTS],
}

impl Ensemble {
    /// The level the last values moved to from `before`: the mean of the last `m` values
    /// ([`SHIFT_MIN_POINTS`]..=[`LEVEL_POINTS`]) for the `m` that makes the move most convincing (largest
    /// `m * (mean - before)^2`, the CUSUM change-point statistic), with `m`.
    fn recent_shift(&self, before: f64) -> (f64, u32) {
        let (mut sum, mut best) = (0.0, (before, 0u32, 0.0));
        for m in 1..=self.recent.len() {
            sum += self.recent.back(m - 1);
            let mean = sum / m as f64;
            let strength = m as f64 * (mean - before) * (mean - before);
            if (strength > best.2 || best.1 == 0)
                && (m >= SHIFT_MIN_POINTS || m == self.recent.len())
            {
                best = (mean, m as u32, strength);
            }
        }
        (best.0, best.1)
    }

    /// The components of an anomalous point that crossed the threshold, each with the range
    /// it expected (see [`crate::Evidence`]).
    fn evidence(&self, value: f64, f: &Figures, c: &Contributions) -> Evidence {
        let threshold = self.params.threshold;
        let mut e = Evidence::default();
        let mut add = |finding, score: f64, (low, high): (f64, f64)| {
            if score >= threshold {
                e.push(Component {
                    finding,
                    score,
                    expected_low: low.max(f64::MIN),
                    expected_high: high.min(f64::MAX),
                });
            }
        };
        let band = |center: f64, sigma: f64| {
            let half = (scales().band_z * sigma).min(f64::MAX);
            (center - half, center + half)
        };
        let (low, high) = (self.previous_low, self.previous_high);
        let maximum = value > high;
        add(
            Finding::NewExtreme {
                previous: if maximum { high } else { low },
                maximum,
            },
            c.extreme,
            (low - self.params.min_scale, high + self.params.min_scale),
        );
        let (level_low, level_high) = f.level_range;
        let (median, sigma) = f.baseline.unwrap_or((
            0.5 * level_low + 0.5 * level_high,
            0.5 * (level_high - level_low),
        ));
        let (after, points) = self.recent_shift(median);
        add(
            Finding::LevelShift {
                before: median,
                after,
                spread: sigma,
                points,
            },
            c.level,
            (level_low, level_high),
        );
        let spike_band = band(median, sigma);
        if let Some((median, sigma)) = f.baseline {
            add(self.mad.spike(median, sigma), c.secondary[0], spike_band);
        }
        if let Some(x) = f.expectation {
            add(x.finding(), c.secondary[1], band(x.level, x.sigma));
            add(x.finding(), c.residual, band(x.level, x.sigma));
        }
        if let Some(x) = f.rhythm {
            add(x.finding(), c.rhythm, band(x.level, x.sigma));
        }
        if let Some((level, sigma)) = f.cusum {
            let (after, points) = self.recent_shift(level);
            let finding = Finding::LevelShift {
                before: level,
                after,
                spread: sigma,
                points,
            };
            add(finding, c.secondary[2], band(level, sigma));
        }
        let pattern_band = if f.baseline.is_some() {
            spike_band
        } else {
            (low, high)
        };
        add(kmeans::pattern(f.kmeans_z), c.secondary[3], pattern_band);
        e
    }
}

/// How surprising one component's evidence is against its own past (see the module
/// documentation): its score averaged over the last few points, compared with the running mean
/// and spread of that average, kept only when it beats a slowly forgotten record.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Surprise {
    /// The last scores, and the running figures, as `f32` (a score in `[0, 1]`, and its
    /// mean and variance, need no more).
    recent: [f32; EVIDENCE_POINTS],
    mean: f32,
    var: f32,
    record: f32,
    /// Points seen (saturating).
    n: u32,
}

impl Surprise {
    /// `primed`: the ensemble is far enough into its warm-up that surprises are measured (so
    /// that the record holds the warm-up's own surprises when the first point is scored).
    /// Returns the surprise in `[0, 1]` when it sets a record.
    fn update(&mut self, primed: bool, score: f64) -> f64 {
        self.n = self.n.saturating_add(1);
        let n = self.n as usize;
        self.recent[n % EVIDENCE_POINTS] = score as f32;
        let sum: f64 = self.recent.iter().copied().map(f64::from).sum();
        let averaged = (sum / n.clamp(1, EVIDENCE_POINTS) as f64).max(0.0);

        let (mean, var, record) = (
            f64::from(self.mean),
            f64::from(self.var),
            f64::from(self.record),
        );
        let surprise = if primed {
            let sd = var.sqrt().max(0.01);
            // Rounded as the record is held, so that the same surprise never beats itself.
            f64::from(((averaged - mean) / sd / 10.0).clamp(0.0, 1.0) as f32)
        } else {
            0.0
        };
        let a = EVIDENCE_ALPHA.max(1.0 / n as f64);
        let delta = averaged - mean;
        self.mean = (mean + a * delta) as f32;
        self.var = ((1.0 - a) * (var + a * delta * delta)) as f32;

        let beats = surprise > record;
        self.record = (record * RECORD_DECAY).max(surprise) as f32;
        if beats && primed {
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
        let (scores, figures) = self.component_scores(ts_ms, value);
        // Surprises are measured from half-way through the warm-up on: an excitement that
        // began during the warm-up is no news when it ends.
        let primed = self.seen > self.params.warmup / 2;
        let level = self.level_excursion(value);
        let residual = self.residual_excursion(value, figures.expectation);
        let rhythm = self.rhythm.excursion(value, figures.rhythm);
        let mut surprises = [0.0; COMPONENTS];
        for ((s, score), out) in self.surprise.iter_mut().zip(scores).zip(&mut surprises) {
            *out = SECONDARY_SCALE * s.update(primed, score);
        }
        let secondary = surprises.iter().copied().fold(0.0, f64::max);
        let (low, high) = (self.low, self.high);
        (self.previous_low, self.previous_high) = (low, high);
        self.low = low.min(value);
        self.high = high.max(value);

        let width = (high - low)
            .min(f64::MAX)
            .max(1e-9 * high.abs().max(low.abs()))
            .max(1e-300);
        let beyond = (value - high).max(low - value).min(f64::MAX);
        let outlier = scores[0] >= scales().novel_min_score;
        let excursion = if beyond > self.params.min_scale && outlier {
            beyond / width
        } else {
            0.0
        };
        // The secondary components count only when no new extreme sets the score.
        let counted = if excursion > 0.0 {
            [0.0; COMPONENTS]
        } else {
            surprises
        };
        let contributions = Contributions {
            extreme: if excursion > 0.0 {
                (EXTREME_BASE + excursion).min(1.0)
            } else {
                0.0
            },
            level: if level > 0.0 {
                (LEVEL_BASE + LEVEL_GAIN * level).min(1.0)
            } else {
                0.0
            },
            residual: residual_score(residual),
            rhythm: residual_score(rhythm),
            secondary: counted,
        };
        let mut score = if excursion > 0.0 {
            contributions.extreme
        } else {
            secondary
        };
        score = score
            .max(contributions.level)
            .max(contributions.residual)
            .max(contributions.rhythm);
        self.since_alert = self.since_alert.saturating_add(1);
        if self.since_alert <= self.params.quiet {
            score = 0.0;
        }
        let anomalous = score >= self.params.threshold;
        if self.seen <= self.params.warmup {
            // An episode under way when the warm-up ends is no news then: what would have
            // alerted during the warm-up holds the quiet period as an alert does.
            if anomalous {
                self.since_alert = 0;
            }
            let recent = Recent {
                exact: &self.recent,
                window: self.mad.values(),
            };
            let early = self.early.get_or_insert_with(EarlyStage::default).observe(
                value,
                recent,
                self.seen > self.params.early_warmup,
                EarlySettings {
                    threshold: self.params.threshold,
                    min_scale: self.params.min_scale,
                    quiet: self.params.quiet,
                    jump: self.params.early_jump,
                    fill: self.params.early_fill,
                },
            );
            return match early {
                Some(o) => {
                    // So does an early alert: the hand-over does not repeat it.
                    if o.anomalous {
                        self.since_alert = 0;
                    }
                    Verdict::Scored(o)
                }
                None => Verdict::WarmingUp,
            };
        }
        if self.seen == self.params.warmup + 1 {
            self.early = None;
        }
        let seen_low = (low - self.params.min_scale).max(f64::MIN);
        let seen_high = (high + self.params.min_scale).min(f64::MAX);
        if anomalous && self.young_pattern(&contributions) {
            // It holds the quiet period as a warm-up alert does, and scores just below the
            // threshold: the episode is seen, not paged.
            self.since_alert = 0;
            let below = score.min(self.params.threshold * (1.0 - 1e-9));
            return Verdict::Scored(Observation::within(
                below,
                seen_low,
                seen_high,
                self.params.threshold,
            ));
        }
        if !anomalous {
            return Verdict::Scored(Observation::within(
                score,
                seen_low,
                seen_high,
                self.params.threshold,
            ));
        }
        self.since_alert = 0;
        let evidence = self.evidence(value, &figures, &contributions);
        let (expected_low, expected_high) = evidence
            .primary()
            .map_or((seen_low, seen_high), |c| (c.expected_low, c.expected_high));
        Verdict::Scored(Observation {
            score,
            expected_low,
            expected_high,
            anomalous,
            evidence,
        })
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn stage(&self) -> Stage {
        let (seen, early, full) = (self.seen, self.params.early_warmup, self.params.warmup);
        if seen >= full {
            Stage::Full
        } else if seen < early.min(full) {
            Stage::Learning {
                next_in: (early.min(full) - seen) as u64,
            }
        } else {
            Stage::Early {
                next_in: (full - seen) as u64,
            }
        }
    }

    fn state_bytes(&self) -> usize {
        self.state_parts().iter().map(|p| p.1).sum()
    }
}

mod rhythm;
#[cfg(test)]
mod silence;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Position;
    use crate::synth::{self, alert_rate, daily, flagged, noise, scores, STEP_MS};

    fn det() -> Ensemble {
        Ensemble::new(EnsembleParams::default()).unwrap()
    }

    /// The state of `points` points of `v` (one every 5 minutes).
    fn state_after(v: &[f64]) -> Ensemble {
        let mut d = det();
        for (i, &x) in v.iter().enumerate() {
            d.observe(i as i64 * STEP_MS, x);
        }
        d
    }

    #[test]
    fn state_is_compact_and_a_constant_or_young_signal_holds_little() {
        let held = |d: &Ensemble, part: &str| {
            d.state_parts()
                .iter()
                .find(|p| p.0 == part)
                .map_or(0, |p| p.1)
        };
        // A noisy daily rhythm over 70 days (the `detectors` bench's), and noise over 208
        // days: every window full, every profile filled, the k-means model fitted, the period
        // finder settled (22 KiB a signal before the compact storage). Once the finder is
        // gone (settled, or given up on the noise), at most 4 KiB even while the training
        // values of a k-means refit are collected (5% of the time; 4,911 B before), and at
        // most BETWEEN_REFITS between refits (3,889 B before; 3,301 with the smoothed seasonal
        // residual's fields, 3,309 with the rhythm residual's, 3,173 with the early stage inside
        // the ensemble and f32 running figures; peak 4,093, then 3,957).
        const BETWEEN_REFITS: usize = 3_320;
        let mut v = noise(3, 80_000, 10.0, 1.0);
        for (i, x) in noise(7, 20_000, 0.0, 2.0).into_iter().enumerate() {
            let day = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            v[i] = 100.0 + 20.0 * day.sin() + x;
        }
        for series in [&v[..20_000], &v[20_000..]] {
            let mut warm = det();
            let (mut least, mut peak) = ((usize::MAX, Vec::new()), (0, Vec::new()));
            for (i, &x) in series.iter().enumerate() {
                warm.observe(i as i64 * STEP_MS, x);
                if held(&warm, "period finder") == 0 {
                    let bytes = warm.state_bytes();
                    if bytes < least.0 {
                        least = (bytes, warm.state_parts().to_vec());
                    }
                    if bytes > peak.0 {
                        peak = (bytes, warm.state_parts().to_vec());
                    }
                }
            }
            let parts = warm.state_parts();
            assert_eq!(parts.iter().map(|p| p.1).sum::<usize>(), warm.state_bytes());
            assert!(peak.0 <= 4 * 1024, "{peak:?}");
            assert!(least.0 <= BETWEEN_REFITS, "{least:?}");
            // 12-bit training values, 1.5 B each: 588 B for a refit's 392 (784 B at 16 bits).
            assert!(held(&warm, "k-means training values") <= 768, "{parts:?}");
            assert_eq!(held(&warm, "period finder"), 0, "{parts:?}");
        }
        // A constant signal holds no window or finder buffer.
        let constant = state_after(&[42.0; 20_000]);
        for (part, most) in [
            ("median/MAD window", 0),
            (
                "period finder",
                std::mem::size_of::<crate::period::PeriodFinder>(),
            ),
        ] {
            assert!(
                held(&constant, part) <= most,
                "{part}: {:?}",
                constant.state_parts()
            );
        }
        assert!(
            constant.state_bytes() <= 4 * 1024,
            "{:?}",
            constant.state_parts()
        );
        // A young signal (100 points at 10 s, 17 minutes), its windows allocated whole.
        let mut young = det();
        for (i, &x) in daily(7, 100).iter().enumerate() {
            young.observe(i as i64 * 10_000, x);
        }
        assert!(young.state_bytes() <= 4 * 1024, "{:?}", young.state_parts());
        // Its early stage is a few numbers inside the ensemble, no buffer of its own (one
        // freed at the hand-over left a hole in the allocator's heap): it judges the
        // ensemble's windows.
        assert!(std::mem::size_of::<EarlyStage>() <= 40);
    }

    #[test]
    fn contract_and_state_budget() {
        synth::common_contract(|| Box::new(det()), 9 * 1024);
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

    /// The anomalous observations of `v`, fed one point a minute, with their index.
    fn anomalies(d: &mut Ensemble, v: &[f64]) -> Vec<(usize, Observation)> {
        v.iter()
            .enumerate()
            .filter_map(|(i, &x)| match d.observe(i as i64 * 60_000, x) {
                Verdict::Scored(o) if o.anomalous => Some((i, o)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_level_shift_inside_the_known_range_names_its_levels() {
        // Noise around 10 with spikes to 0 and 20: the range is 0..20. From 2000 on the
        // level is 6, inside it.
        let mut v = noise(21, 2400, 10.0, 1.0);
        v.iter_mut().skip(100).step_by(150).for_each(|x| *x = 20.0);
        v.iter_mut().skip(175).step_by(150).for_each(|x| *x = 0.0);
        v[2000..].iter_mut().for_each(|x| *x -= 4.0);
        let found = anomalies(&mut det(), &v);
        let (i, o) = found.iter().find(|(i, _)| *i >= 2000).unwrap();
        assert!(*i < 2016, "{i}");
        let c = o
            .evidence
            .components()
            .find(|c| c.finding.kind() == "level_shift")
            .unwrap_or_else(|| panic!("{o:?}"));
        let Finding::LevelShift {
            before,
            after,
            points,
            ..
        } = c.finding
        else {
            panic!("{c:?}")
        };
        assert!((before - 10.0).abs() < 0.5, "{c:?}");
        assert!((after - 6.0).abs() < 0.7, "{c:?}");
        // The new level is the mean of the points since the shift.
        assert_eq!(points as usize, i - 2000 + 1, "{c:?}");
        // The range is the one the level component expected (the CUSUM's band around its
        // level): the value is below it or inside it, never above.
        assert_eq!(
            (o.expected_low, o.expected_high),
            (c.expected_low, c.expected_high)
        );
        assert!(o.expected_low < before && before < o.expected_high, "{o:?}");
        assert_ne!(
            Position::of(v[*i], o.expected_low, o.expected_high),
            Position::Above
        );
    }

    #[test]
    fn a_record_by_a_hair_is_not_news() {
        // Noise around 10 with one spike to 16 long ago: the range is about 7..16.
        let mut v = noise(23, 1000, 10.0, 1.0);
        v[500] = 16.0;
        let (low, high) = v[..900]
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        // A new maximum by 1% of the range's width, 6 spreads from the median: no alert.
        v[900] = high + 0.01 * (high - low);
        assert!(!anomalies(&mut det(), &v).iter().any(|(i, _)| *i == 900));
        // By 5% of it: an alert naming the new extreme.
        v[900] = high + 0.05 * (high - low);
        let found = anomalies(&mut det(), &v);
        let (_, o) = found.iter().find(|(i, _)| *i == 900).expect("alerts");
        assert_eq!(o.evidence.primary().unwrap().finding.kind(), "new_extreme");
    }

    #[test]
    fn a_smoothed_residual_beyond_its_range_scores_against_a_rhythm_only() {
        let at = |level: f64, profile: usize| Expectation {
            level,
            sigma: 1.0,
            profile,
            period_ms: 86_400_000,
            slot_start_ms: 0,
            slot_ms: 1_800_000,
        };
        let mut d = det();
        // Residuals of -2..2 spreads from a daily rhythm at 50: nothing is beyond their range
        // once it is learned (the first ones set it, but are too few to count).
        let noise = noise(43, 400, 0.0, 1.0);
        let mut beyond = Vec::new();
        for (i, z) in noise.iter().enumerate() {
            let x = d.residual_excursion(50.0 + z.clamp(-2.0, 2.0), Some(at(50.0, 1)));
            if x > 0.0 {
                beyond.push(i);
            }
        }
        assert!(
            beyond.iter().all(|&i| i < RESIDUAL_MIN_POINTS as usize),
            "{beyond:?}"
        );
        // Then 6 spreads under the rhythm, each value unremarkable on its own scale: within a
        // few points the smoothed residual passes its range by a tenth of its width, which
        // scores the threshold.
        let mut v = d.clone();
        let first = (0..16)
            .find(|_| v.residual_excursion(44.0, Some(at(50.0, 1))) >= 0.1)
            .expect("beyond its range");
        assert!(first < 8, "{first}");
        assert!(RESIDUAL_BASE + RESIDUAL_GAIN * 0.1 >= d.params.threshold - 1e-12);
        // The same values against the flat profile (no rhythm) are not this rule's business,
        // and a missing expectation (warming up) neither.
        let mut flat = d.clone();
        assert!((0..16).all(|_| flat.residual_excursion(44.0, Some(at(50.0, 0))) == 0.0));
        assert!((0..16).all(|_| flat.residual_excursion(44.0, None) == 0.0));
    }

    #[test]
    fn a_new_maximum_names_the_previous_one() {
        let mut v = noise(22, 1000, 10.0, 1.0);
        v[900] = 30.0;
        let previous = v[..900].iter().copied().fold(f64::MIN, f64::max);
        let found = anomalies(&mut det(), &v);
        let (_, o) = found.iter().find(|(i, _)| *i == 900).unwrap();
        let c = o.evidence.primary().unwrap();
        assert_eq!(
            c.finding,
            Finding::NewExtreme {
                previous,
                maximum: true
            }
        );
        assert_eq!((o.expected_low, o.expected_high).1, previous);
        assert_eq!(
            Position::of(30.0, o.expected_low, o.expected_high),
            Position::Above
        );
        assert_eq!(o.score, c.score);
    }

    #[test]
    fn no_alert_at_the_warm_up_hand_over() {
        // Signals that are busy from the start: a count that wanders around its mean, a
        // ratio with bursts, a ratio with regular spikes. None of them alerts in the first
        // points after the warm-up for what it already did during it.
        use rand::{Rng, SeedableRng};
        let mut at_hand_over = Vec::new();
        for seed in 0..150u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let v: Vec<f64> = (0..900)
                .map(|i| match seed % 3 {
                    0 => (68.0 + 3.0 * rng.sample::<f64, _>(rand_distr::StandardNormal)).round(),
                    1 if rng.random_bool(0.05) => 1.0,
                    1 => rng.random_range(0.0..0.05),
                    _ => 0.02 + 0.01 * rng.random::<f64>() + if i % 97 < 3 { 0.5 } else { 0.0 },
                })
                .collect();
            // Alerts of the early stage (before 300) are news of their own: the first of
            // the regular spikes, say.
            let found = anomalies(&mut det(), &v);
            at_hand_over.extend(
                found
                    .iter()
                    .filter(|(i, _)| *i >= 300)
                    .map(|(i, o)| (seed, *i, o.score)),
            );
        }
        // As few alerts in the 30 points after the warm-up as in later stretches of 30, and
        // none in its first 5 points.
        let window = |k: usize| {
            at_hand_over
                .iter()
                .filter(|a| (300 + 100 * k..330 + 100 * k).contains(&a.1))
                .count()
        };
        let later = (1..6).map(window).sum::<usize>() as f64 / 5.0;
        assert!(window(0) as f64 <= later, "{} {later}", window(0));
        assert!(at_hand_over.iter().all(|a| a.1 >= 305), "{at_hand_over:?}");
    }

    #[test]
    fn a_young_pattern_model_does_not_alert_after_the_hand_over() {
        // Quiet series: noise, a daily rhythm, a noisy ratio. The k-means model is fitted on
        // 256 points during the warm-up; the patterns after it must not read as novel.
        let mut young = Vec::new();
        for seed in 0..60u64 {
            let v: Vec<f64> = match seed % 3 {
                0 => noise(seed, 500, 10.0, 1.0),
                1 => daily(seed, 500),
                _ => noise(seed, 500, 0.3, 0.05)
                    .into_iter()
                    .map(|x| x.clamp(0.0, 1.0))
                    .collect(),
            };
            let mut d = det();
            for (i, &x) in v.iter().enumerate() {
                if let Verdict::Scored(o) = d.observe(i as i64 * STEP_MS, x) {
                    let pattern = o
                        .evidence
                        .components()
                        .any(|c| c.finding.kind() == "pattern");
                    if o.anomalous && pattern && i >= d.params.warmup {
                        young.push((seed, i));
                    }
                }
            }
        }
        assert!(young.is_empty(), "{young:?}");
        // A shape the model never saw, later, inside the range of the values: it still fires.
        let mut v = noise(31, 3000, 10.0, 1.0);
        v[2000..2040]
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = 10.0 + if i % 2 == 0 { 2.8 } else { -2.8 });
        let found = anomalies(&mut det(), &v);
        let pattern = found.iter().find(|(i, o)| {
            (2000..2040).contains(i)
                && o.evidence
                    .components()
                    .any(|c| c.finding.kind() == "pattern")
        });
        assert!(pattern.is_some(), "{found:?}");
    }

    /// A seeded random series with something to find: a level shift inside the known range,
    /// a spike, a break of the daily rhythm, a trend, a flat signal with rare steps, a
    /// random walk of integers, or a ratio that saturates.
    fn eventful(seed: u64) -> Vec<f64> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n = 2500;
        let at = rng.random_range(800..2200);
        let mut v = match seed % 7 {
            0 => {
                let mut v = noise(seed, n, 10.0, 1.0);
                v.iter_mut().skip(50).step_by(97).for_each(|x| *x = 25.0);
                v.iter_mut().skip(90).step_by(113).for_each(|x| *x = -5.0);
                let to = rng.random_range(2.0..8.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                v[at..].iter_mut().for_each(|x| *x += to);
                v
            }
            1 => {
                let mut v = noise(seed, n, 50.0, rng.random_range(0.5..5.0));
                v[at] += rng.random_range(-60.0..60.0);
                v
            }
            2 => {
                // Five-minute points of a daily rhythm, its trough at its peak's level.
                let mut v = daily(seed, n);
                let per_day = (86_400_000 / STEP_MS) as usize;
                let trough = 7 * per_day + 3 * per_day / 4;
                v[trough..trough + 12].iter_mut().for_each(|x| *x = 58.0);
                v
            }
            3 => noise(seed, n, 0.0, 1.0)
                .into_iter()
                .enumerate()
                .map(|(i, e)| e + if i >= at { 0.05 * (i - at) as f64 } else { 0.0 })
                .collect(),
            4 => (0..n)
                .map(|i| 63.0 + f64::from(u8::from(i % 211 == 0 || rng.random_bool(0.01))))
                .collect(),
            5 => {
                let mut x: f64 = 63.0;
                (0..n)
                    .map(|_| {
                        x = (x + f64::from(rng.random_range(-1..=1))).clamp(40.0, 90.0);
                        x
                    })
                    .collect()
            }
            _ => noise(seed, n, 0.3, 0.1)
                .into_iter()
                .enumerate()
                .map(|(i, e)| (e + if i >= at { 0.5 } else { 0.0 }).clamp(0.0, 1.0))
                .collect(),
        };
        v.truncate(n);
        v
    }

    /// A seeded random series with something to find while the ensemble is in its early
    /// stage: a step up or down, a ratio that saturates, a climb.
    fn eventful_early(seed: u64) -> Vec<f64> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let at = rng.random_range(15..290);
        let n = 400;
        match seed % 3 {
            0 => {
                let by =
                    rng.random_range(3.0..40.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                let mut v = noise(seed, n, 50.0, rng.random_range(0.2..2.0));
                v[at..].iter_mut().for_each(|x| *x += by);
                v
            }
            1 => noise(seed, n, 0.4, 0.15)
                .into_iter()
                .enumerate()
                .map(|(i, x)| if i >= at { 1.0 } else { x.clamp(0.0, 0.95) })
                .collect(),
            _ => noise(seed, n, 0.3, 0.002)
                .into_iter()
                .enumerate()
                .map(|(i, x)| (x + if i >= at { 0.01 * (i - at) as f64 } else { 0.0 }).min(1.0))
                .collect(),
        }
    }

    #[test]
    fn evidence_is_true_of_every_anomalous_point() {
        let mut anomalous = 0;
        let mut kinds = std::collections::BTreeSet::new();
        let series = (0..140)
            .map(|seed| (seed, eventful(seed)))
            .chain((0..60).map(|seed| (1000 + seed, eventful_early(seed))));
        for (seed, v) in series {
            let mut d = det();
            for (i, &x) in v.iter().enumerate() {
                let Verdict::Scored(o) = d.observe(i as i64 * STEP_MS, x) else {
                    continue;
                };
                if !o.anomalous {
                    assert!(o.evidence.is_empty(), "{seed} {i}: {o:?}");
                    continue;
                }
                anomalous += 1;
                let at = format!("seed {seed} point {i} value {x}: {o:?}");
                let primary = o.evidence.primary().expect(&at);
                // The strongest component set the score; the range is the one it expected.
                assert_eq!(primary.score, o.score, "{at}");
                assert_eq!(
                    (primary.expected_low, primary.expected_high),
                    (o.expected_low, o.expected_high),
                    "{at}"
                );
                for c in o.evidence.components() {
                    kinds.insert(c.finding.kind());
                    // Every component named crossed the threshold.
                    assert!(c.score >= d.params.threshold && c.score <= 1.0, "{at}");
                    assert!(c.expected_low <= c.expected_high, "{at}");
                    let position = Position::of(x, c.expected_low, c.expected_high);
                    match c.finding {
                        // A new extreme is outside its range, on the side it says.
                        Finding::NewExtreme { previous, maximum } => {
                            if maximum {
                                assert!(x > previous, "{at}");
                                assert_eq!(position, Position::Above, "{at}");
                            } else {
                                assert!(x < previous, "{at}");
                                assert_eq!(position, Position::Below, "{at}");
                            }
                        }
                        // The new level is the mean of the values it names.
                        Finding::LevelShift {
                            after,
                            points,
                            spread,
                            ..
                        } => {
                            let m = points as usize;
                            assert!((1..=LEVEL_POINTS).contains(&m), "{at}");
                            let mean = v[i + 1 - m..=i].iter().sum::<f64>() / m as f64;
                            assert!((mean - after).abs() <= 1e-9 * mean.abs().max(1.0), "{at}");
                            assert!(spread >= 0.0, "{at}");
                        }
                        Finding::Spike { spread, mad, .. } => {
                            assert!(spread > 0.0 && mad >= 0.0, "{at}");
                        }
                        Finding::Seasonal {
                            period_ms,
                            slot_start_ms,
                            slot_ms,
                            ..
                        } => {
                            assert!(
                                period_ms == 0 || slot_start_ms + slot_ms <= period_ms,
                                "{at}"
                            );
                        }
                        Finding::Pattern { points, .. } => assert_eq!(points, 9, "{at}"),
                        // The early level is the mean of the values it names, far from the
                        // median, and the value lies beyond every earlier one on its side.
                        Finding::EarlyLevel {
                            median,
                            spread,
                            mean,
                            points,
                            ..
                        } => {
                            let m = points as usize;
                            let real = v[i + 1 - m..=i].iter().sum::<f64>() / m as f64;
                            assert!((real - mean).abs() <= 1e-9 * mean.abs().max(1.0), "{at}");
                            assert!((mean - median).abs() >= crate::early::Z_EARLY * spread);
                            let side = if mean > median {
                                Position::Above
                            } else {
                                Position::Below
                            };
                            assert_eq!(position, side, "{at}");
                            assert!(i < d.params.warmup, "{at}");
                        }
                        // At the bound, which no earlier value reached.
                        Finding::AtBound { previous, .. } => {
                            assert!(x >= 0.99 && previous < 0.99, "{at}");
                            assert!(v[..i].iter().all(|y| (0.0..=1.0).contains(y)), "{at}");
                            assert_eq!(position, Position::Above, "{at}");
                        }
                        // A fill beyond every earlier value, full soon at its last rise.
                        Finding::Filling {
                            previous,
                            rise,
                            points_to_full,
                        } => {
                            assert!(x > previous && rise > 0.0, "{at}");
                            assert!(points_to_full <= crate::early::FILL_POINTS, "{at}");
                            assert!(i < d.params.warmup, "{at}");
                        }
                        Finding::Band => panic!("the ensemble names its components: {at}"),
                    }
                }
            }
        }
        assert!(anomalous > 100, "{anomalous}");
        assert!(kinds.len() >= 6, "{kinds:?}");
        assert!(
            kinds.contains("early_level") && kinds.contains("at_bound"),
            "{kinds:?}"
        );
    }
}
