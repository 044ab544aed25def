//! The interface every streaming detector implements.

use crate::evidence::{Component, Evidence, Finding};

/// One scored point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Calibrated anomaly score in `[0, 1]` (see [`crate::score_from_z`]).
    pub score: f64,
    /// Lower end of the range of values that would have scored below the threshold.
    pub expected_low: f64,
    /// Upper end of that range.
    pub expected_high: f64,
    /// `score >= ` the detector's threshold.
    pub anomalous: bool,
    /// Why an anomalous point is anomalous: the components that crossed the threshold
    /// (empty for normal points). Detectors without parts report one [`Finding::Band`]
    /// component with the range above.
    pub evidence: Evidence,
}

impl Observation {
    /// A point scored `score`, expected within `low..=high`, anomalous at `threshold`.
    pub(crate) fn within(score: f64, low: f64, high: f64, threshold: f64) -> Self {
        let anomalous = score >= threshold;
        let evidence = if anomalous {
            Evidence::single(Component {
                finding: Finding::Band,
                score,
                expected_low: low,
                expected_high: high,
            })
        } else {
            Evidence::default()
        };
        Self {
            score,
            expected_low: low,
            expected_high: high,
            anomalous,
            evidence,
        }
    }

    /// The same observation, its evidence (when anomalous) naming `finding` instead of a
    /// plain band.
    pub(crate) fn found(mut self, finding: Finding) -> Self {
        if self.anomalous {
            self.evidence = Evidence::single(Component {
                finding,
                score: self.score,
                expected_low: self.expected_low,
                expected_high: self.expected_high,
            });
        }
        self
    }

    /// A point scored `score`, expected within `center ± half_width` (the ends kept finite),
    /// anomalous at `threshold`.
    pub(crate) fn around(score: f64, center: f64, half_width: f64, threshold: f64) -> Self {
        Self::within(
            score,
            (center - half_width).max(f64::MIN),
            (center + half_width).min(f64::MAX),
            threshold,
        )
    }
}

/// Whether `value` is NaN or infinite, counting it in `skipped` if so: such a point is
/// [`Verdict::Skipped`], the detector's state untouched.
pub(crate) fn skip_non_finite(value: f64, skipped: &mut u64) -> bool {
    let skip = !value.is_finite();
    if skip {
        *skipped = skipped.saturating_add(1);
    }
    skip
}

/// What a detector made of one input point.
// `Scored` (with its fixed-size evidence) is the common case: boxing it would allocate on
// every scored point to save copying a few hundred bytes on the others.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// NaN or infinite input: ignored, counted, state untouched.
    Skipped,
    /// Still learning; no score yet.
    WarmingUp,
    /// The point was scored.
    Scored(Observation),
}

/// How far a detector is in learning its signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not scoring yet; `next_in` more finite points until it scores.
    Learning { next_in: u64 },
    /// Scoring with the early detectors (little history, conservative); `next_in` more finite
    /// points until the full detector takes over.
    Early { next_in: u64 },
    /// Scoring with everything it has.
    Full,
}

impl Stage {
    /// Stable snake_case name: `learning`, `early`, `full`.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Learning { .. } => "learning",
            Stage::Early { .. } => "early",
            Stage::Full => "full",
        }
    }

    /// Points until the next stage (`None` once full).
    pub fn next_in(&self) -> Option<u64> {
        match *self {
            Stage::Learning { next_in } | Stage::Early { next_in } => Some(next_in),
            Stage::Full => None,
        }
    }

    /// The stage of a single-stage detector that scores once it has seen `needed` points
    /// and has seen `seen`.
    pub(crate) fn after(seen: usize, needed: usize) -> Self {
        if seen >= needed {
            Stage::Full
        } else {
            Stage::Learning {
                next_in: (needed - seen) as u64,
            }
        }
    }
}

/// A streaming detector for one signal. Implementations keep bounded memory whatever the input.
pub trait Detector: Send {
    /// `ts_ms`: unix time in milliseconds (may repeat, go backwards or jump; must never panic).
    fn observe(&mut self, ts_ms: i64, value: f64) -> Verdict;
    /// Short stable name used in alerts, e.g. "ewma".
    fn name(&self) -> &'static str;
    /// How many non-finite inputs were skipped so far.
    fn skipped(&self) -> u64;
    /// The stage it is at: what the next point's verdict will be made of.
    fn stage(&self) -> Stage;
    /// Bytes of memory this detector holds for its signal: its struct and its heap buffers.
    /// The default counts the struct only; detectors with heap buffers override it.
    fn state_bytes(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
