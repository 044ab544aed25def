//! Detector configuration: one default for every signal, refined per signal by glob overrides.

use std::time::Duration;

use serde::Deserialize;

use crate::values::{self, NameGlob, NonNegative, Positive, Score, Smoothing};

/// The detector algorithms the agent can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// Robust EWMA z-score.
    Ewma,
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
}

impl Default for DetectorsConfig {
    fn default() -> Self {
        Self {
            max_signals: 10_000,
            idle_ttl: Duration::from_secs(3600),
            defaults: DetectorSettings::default(),
            overrides: Vec::new(),
        }
    }
}

/// The full set of detector parameters for one signal.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSettings {
    pub kind: DetectorKind,
    /// Score at or above which a point is anomalous.
    pub threshold: Score,
    /// Points learned before the first score.
    #[serde(deserialize_with = "warmup")]
    pub warmup: u32,
    /// EWMA smoothing factor of level and scale.
    pub alpha: Smoothing,
    /// Residuals are clipped at `clip` scales when learning, so spikes do not drag the baseline.
    pub clip: Positive,
    /// Absolute floor on the learned scale, in the signal's unit.
    pub min_scale: NonNegative,
    /// Floor on the learned scale relative to the signal's level.
    pub min_rel_scale: NonNegative,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self {
            kind: DetectorKind::Ewma,
            threshold: Score::fixed(0.5),
            warmup: 30,
            alpha: Smoothing::fixed(0.05),
            clip: Positive::fixed(3.0),
            min_scale: NonNegative::fixed(0.0),
            min_rel_scale: NonNegative::fixed(0.01),
        }
    }
}

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

impl DetectorsConfig {
    /// The settings for `signal`, or `None` when an override disables it.
    pub fn settings_for(&self, signal: &str) -> Option<DetectorSettings> {
        let mut s = self.defaults.clone();
        let mut enabled = true;
        for o in self
            .overrides
            .iter()
            .filter(|o| values::any_match(&o.signals, signal))
        {
            enabled = o.enabled.unwrap_or(enabled);
            s.kind = o.kind.unwrap_or(s.kind);
            s.threshold = o.threshold.unwrap_or(s.threshold);
            s.warmup = o.warmup.unwrap_or(s.warmup);
            s.alpha = o.alpha.unwrap_or(s.alpha);
            s.clip = o.clip.unwrap_or(s.clip);
            s.min_scale = o.min_scale.unwrap_or(s.min_scale);
            s.min_rel_scale = o.min_rel_scale.unwrap_or(s.min_rel_scale);
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
    if (2..=100_000).contains(&w) {
        Ok(w)
    } else {
        Err(format!(
            "warmup = {w} is out of range: write a number of points from 2 to 100000"
        ))
    }
}

fn warmup<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    check_warmup(u32::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn warmup_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    warmup(d).map(Some)
}
