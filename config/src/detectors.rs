//! Detector configuration: one default for every signal, refined per signal by glob overrides.

use std::time::Duration;

use serde::Deserialize;

use crate::values::{self, Count, NameGlob, NonNegative, Positive, Score, Smoothing};

/// The detector algorithms the agent can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// All of the below combined: the default.
    Ensemble,
    /// Robust EWMA z-score.
    Ewma,
    /// Sliding median / MAD z-score.
    Mad,
    /// Daily and weekly profiles.
    Seasonal,
    /// Two-sided CUSUM for level shifts.
    Cusum,
    /// k-means over windowed features.
    Kmeans,
    /// Nearest-neighbour context novelty.
    Knn,
}

/// Declares a table of detector settings: the fields written in it, then the parameters of
/// some kinds only, each `None` unless set (keeping the detector's own default). Both tables
/// that take them, `[detectors.defaults]` and `[[detectors.overrides]]`, get them from here.
macro_rules! with_kind_params {
    ($(#[$attr:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        $(#[$attr])*
        pub struct $name {
            $($fields)*
            /// `mad`: values the median and MAD are taken over.
            pub window: Option<Count<8, 4096>>,
            /// `seasonal`: slots per day.
            pub daily_bins: Option<Count<4, 1440>>,
            /// `seasonal`: slots per week.
            pub weekly_bins: Option<Count<7, 2016>>,
            /// `seasonal` (also inside the ensemble): the signal's own period; `None`: detected.
            #[serde(default, deserialize_with = "period_opt")]
            pub period: Option<Duration>,
            /// `cusum`: shifts smaller than this many spreads are ignored.
            pub drift: Option<Positive>,
            /// `cusum`: evidence, in spreads, that confirms a shift.
            pub decision: Option<Positive>,
            /// `kmeans`: clusters.
            pub clusters: Option<Count<2, 32>>,
            /// `kmeans`: most recent points a fit uses.
            pub train_size: Option<Count<64, 8192>>,
            /// `kmeans`: points between fits.
            pub retrain_every: Option<Count<16, 100_000>>,
            /// `knn`: values in a context.
            pub context: Option<Count<2, 64>>,
            /// `knn`: past contexts compared against.
            pub memory: Option<Count<32, 4096>>,
            /// `knn`: neighbours averaged.
            pub neighbours: Option<Count<1, 16>>,
            /// `ensemble`: points after an alert during which it stays quiet.
            pub quiet: Option<Count<0, 100_000>>,
            /// `ensemble`: points learned before its early stage scores (12); at or above
            /// `warmup`, no early stage.
            #[serde(default, deserialize_with = "early_warmup_opt")]
            pub early_warmup: Option<u32>,
            /// `kmeans`, `ensemble`: seed of the k-means initialisation.
            pub seed: Option<u64>,
        }
    };
}

/// `[detectors]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorsConfig {
    /// At most this many signals get a detector; further signals are refused and counted.
    #[serde(deserialize_with = "values::positive_count")]
    pub max_signals: usize,
    /// A signal not seen for this long has its learned state forgotten.
    #[serde(deserialize_with = "values::idle_ttl")]
    pub idle_ttl: Duration,
    pub defaults: DetectorSettings,
    pub overrides: Vec<DetectorOverride>,
    /// Kinds chosen per source (`[[sources.scrape]] detector`), each for its signals' glob:
    /// applied over the defaults and under the overrides. Filled at load, not written here.
    #[serde(skip)]
    pub source_kinds: Vec<(NameGlob, DetectorKind)>,
}

impl Default for DetectorsConfig {
    fn default() -> Self {
        Self {
            max_signals: 10_000,
            idle_ttl: Duration::from_secs(3600),
            defaults: DetectorSettings::default(),
            overrides: Vec::new(),
            source_kinds: Vec::new(),
        }
    }
}

with_kind_params! {
    /// The full set of detector parameters for one signal.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct DetectorSettings {
        pub kind: DetectorKind,
        /// Score at or above which a point is anomalous.
        pub threshold: Score,
        /// Points learned before the first score; `None`: the kind's own (300 for the ensemble,
        /// 30 for the others).
        #[serde(deserialize_with = "warmup_opt")]
        pub warmup: Option<u32>,
        /// EWMA smoothing factor of level and scale.
        pub alpha: Smoothing,
        /// Residuals are clipped at `clip` scales when learning, so spikes do not drag the baseline.
        pub clip: Positive,
        /// Absolute floor on the learned scale, in the signal's unit.
        pub min_scale: NonNegative,
        /// Floor on the learned scale relative to the signal's level.
        pub min_rel_scale: NonNegative,
    }
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self {
            kind: DetectorKind::Ensemble,
            threshold: Score::fixed(0.5),
            warmup: None,
            alpha: Smoothing::fixed(0.05),
            clip: Positive::fixed(3.0),
            min_scale: NonNegative::fixed(0.0),
            min_rel_scale: NonNegative::fixed(0.01),
            window: None,
            daily_bins: None,
            weekly_bins: None,
            period: None,
            drift: None,
            decision: None,
            clusters: None,
            train_size: None,
            retrain_every: None,
            context: None,
            memory: None,
            neighbours: None,
            quiet: None,
            early_warmup: None,
            seed: None,
        }
    }
}

with_kind_params! {
    /// `[[detectors.overrides]]`: settings for the signals matching `signals`. Every override that
    /// matches a signal applies, in file order, later ones winning key by key.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct DetectorOverride {
        #[serde(deserialize_with = "non_empty_globs")]
        pub signals: Vec<NameGlob>,
        /// `false` leaves the matching signals unwatched.
        pub enabled: Option<bool>,
        pub kind: Option<DetectorKind>,
        pub threshold: Option<Score>,
        #[serde(default, deserialize_with = "warmup_opt")]
        pub warmup: Option<u32>,
        pub alpha: Option<Smoothing>,
        pub clip: Option<Positive>,
        pub min_scale: Option<NonNegative>,
        pub min_rel_scale: Option<NonNegative>,
    }
}

impl DetectorsConfig {
    /// The settings for `signal`, or `None` when an override disables it.
    pub fn settings_for(&self, signal: &str) -> Option<DetectorSettings> {
        let mut s = self.defaults.clone();
        if let Some((_, kind)) = self.source_kinds.iter().find(|(g, _)| g.is_match(signal)) {
            s.kind = *kind;
        }
        let mut enabled = true;
        for o in self
            .overrides
            .iter()
            .filter(|o| values::any_match(&o.signals, signal))
        {
            enabled = o.enabled.unwrap_or(enabled);
            s.kind = o.kind.unwrap_or(s.kind);
            s.threshold = o.threshold.unwrap_or(s.threshold);
            s.warmup = o.warmup.or(s.warmup);
            s.alpha = o.alpha.unwrap_or(s.alpha);
            s.clip = o.clip.unwrap_or(s.clip);
            s.min_scale = o.min_scale.unwrap_or(s.min_scale);
            s.min_rel_scale = o.min_rel_scale.unwrap_or(s.min_rel_scale);
            s.window = o.window.or(s.window);
            s.daily_bins = o.daily_bins.or(s.daily_bins);
            s.weekly_bins = o.weekly_bins.or(s.weekly_bins);
            s.period = o.period.or(s.period);
            s.drift = o.drift.or(s.drift);
            s.decision = o.decision.or(s.decision);
            s.clusters = o.clusters.or(s.clusters);
            s.train_size = o.train_size.or(s.train_size);
            s.retrain_every = o.retrain_every.or(s.retrain_every);
            s.context = o.context.or(s.context);
            s.memory = o.memory.or(s.memory);
            s.neighbours = o.neighbours.or(s.neighbours);
            s.quiet = o.quiet.or(s.quiet);
            s.early_warmup = o.early_warmup.or(s.early_warmup);
            s.seed = o.seed.or(s.seed);
        }
        enabled.then_some(s)
    }
}

fn non_empty_globs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<NameGlob>, D::Error> {
    let globs = Vec::<NameGlob>::deserialize(d)?;
    if globs.is_empty() {
        return Err(serde::de::Error::custom(
            "`signals` is empty: list at least one glob, such as [\"host.cpu.*\"]",
        ));
    }
    Ok(globs)
}

fn check_warmup(w: u32) -> Result<u32, String> {
    check_points("warmup", w)
}

fn check_points(key: &str, w: u32) -> Result<u32, String> {
    if (2..=100_000).contains(&w) {
        Ok(w)
    } else {
        Err(format!(
            "{key} = {w} is out of range: write a number of points from 2 to 100000"
        ))
    }
}

fn early_warmup_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    check_points("early_warmup", u32::deserialize(d)?)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn period_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    values::season_period(d).map(Some)
}

fn warmup_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    check_warmup(u32::deserialize(d)?)
        .map(Some)
        .map_err(serde::de::Error::custom)
}
