//! What a detector saw when it scored a point anomalous: one [`Component`] per part of it that
//! crossed its threshold, with the figures that part used, so that an alert can say why it
//! fired in one true sentence.
//!
//! Each component carries the range of values it expected at that point (`expected_low..=
//! expected_high`): its level band, its seasonal band, the range seen so far. Whether the
//! observed value lies above, below or inside that range is for the reader to compare; a
//! component such as [`Finding::Pattern`] fires with the value inside every band, and then
//! nothing is above or below anything. Fixed-size and `Copy`, so that an [`Observation`]
//! stays a plain value.
//!
//! [`Observation`]: crate::Observation

/// Most components one point's evidence holds.
pub const MAX_COMPONENTS: usize = 6;

/// What one component found, with its figures (in the signal's unit unless said otherwise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Finding {
    /// The value lies beyond every value seen since the signal started.
    NewExtreme {
        /// The previous maximum (when the value is above it) or minimum (below it).
        previous: f64,
        /// Whether the new extreme is a maximum.
        maximum: bool,
    },
    /// The signal's level moved: the mean of its last `points` values, `after`, lies
    /// `(after - before) / spread` spreads from the level `before`.
    LevelShift {
        before: f64,
        after: f64,
        /// The spread (a normal sigma) the move is measured in.
        spread: f64,
        /// Values the new level is the mean of.
        points: u32,
    },
    /// The value lies far from the median of the last `window` values.
    Spike {
        median: f64,
        /// The median absolute deviation of the window (0 on a mostly flat signal).
        mad: f64,
        /// The spread (a normal sigma) the distance is measured in.
        spread: f64,
        window: u32,
    },
    /// The value is unusual for its slot of a rhythm: the slot
    /// `slot_start_ms..slot_start_ms + slot_ms` (from the start of the period; periods start at
    /// the unix epoch, UTC) usually holds `usual`, give or take `spread`. `period_ms` 0: no
    /// rhythm, `usual` is the signal's robust running level.
    Seasonal {
        period_ms: i64,
        slot_start_ms: i64,
        slot_ms: i64,
        usual: f64,
        spread: f64,
    },
    /// The movement of the last `points` values is unlike the movements learned: `z` spreads
    /// from the nearest usual one.
    Pattern { points: u32, z: f64 },
    /// Early stage (before the full detector is ready): the mean of the last `points` values,
    /// `mean`, lies beyond every earlier value and far (in `spread`s) from `median`, the median
    /// of the `reference` values before them.
    EarlyLevel {
        median: f64,
        spread: f64,
        reference: u32,
        mean: f64,
        points: u32,
    },
    /// Early stage: a ratio (every value so far within 0..=1) sat at its bound `bound` for the
    /// last `points` values, which no earlier value reached; `previous` is the earlier maximum.
    AtBound {
        bound: f64,
        points: u32,
        previous: f64,
    },
    /// Early stage: a ratio filling toward its capacity (a filesystem's used share) rose by
    /// `rise` in its last point, beyond `previous`, the maximum of every earlier value; at that
    /// rate it is full (1) in `points_to_full` points.
    Filling {
        previous: f64,
        rise: f64,
        points_to_full: f64,
    },
    /// A detector's one band, without more detail: the value scored outside what it expected.
    Band,
}

impl Finding {
    /// Stable snake_case name, as alerts carry it.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::NewExtreme { .. } => "new_extreme",
            Finding::LevelShift { .. } => "level_shift",
            Finding::Spike { .. } => "spike",
            Finding::Seasonal { .. } => "seasonal",
            Finding::Pattern { .. } => "pattern",
            Finding::EarlyLevel { .. } => "early_level",
            Finding::AtBound { .. } => "at_bound",
            Finding::Filling { .. } => "filling",
            Finding::Band => "band",
        }
    }
}

/// Where a value lies against a range: the only above/below claim an alert may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Above,
    Below,
    /// Within the range, ends included (or the range is not a range: NaN).
    Inside,
}

impl Position {
    pub fn of(value: f64, low: f64, high: f64) -> Self {
        if value > high {
            Position::Above
        } else if value < low {
            Position::Below
        } else {
            Position::Inside
        }
    }
}

/// One part of a detector that crossed its threshold at a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    pub finding: Finding,
    /// This component's own score, in `[0, 1]`, at or above the detector's threshold.
    pub score: f64,
    /// The range of values this component expected at the point.
    pub expected_low: f64,
    pub expected_high: f64,
}

/// The components of one anomalous point, strongest first (empty for normal points).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Evidence {
    components: [Option<Component>; MAX_COMPONENTS],
}

impl Evidence {
    /// Evidence of one component.
    pub fn single(c: Component) -> Self {
        let mut e = Self::default();
        e.push(c);
        e
    }

    /// Adds `c`, keeping the components ordered by score (strongest first, the earlier on a
    /// tie); beyond [`MAX_COMPONENTS`] the weakest is dropped.
    pub fn push(&mut self, c: Component) {
        let mut item = Some(c);
        for slot in &mut self.components {
            match (slot.as_ref(), item.as_ref()) {
                (_, None) => return,
                (None, Some(_)) => {
                    *slot = item.take();
                    return;
                }
                (Some(have), Some(new)) if new.score > have.score => {
                    item = std::mem::replace(slot, item);
                }
                _ => {}
            }
        }
    }

    /// The components, strongest first.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.components.iter().flatten()
    }

    /// The strongest component.
    pub fn primary(&self) -> Option<&Component> {
        self.components[0].as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.components[0].is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(score: f64) -> Component {
        Component {
            finding: Finding::Band,
            score,
            expected_low: 0.0,
            expected_high: 1.0,
        }
    }

    #[test]
    fn components_are_kept_strongest_first_and_bounded() {
        let mut e = Evidence::default();
        assert!(e.is_empty() && e.primary().is_none());
        for s in [0.6, 0.9, 0.7, 0.9, 0.5, 0.55, 0.65, 0.95] {
            e.push(c(s));
        }
        let scores: Vec<f64> = e.components().map(|c| c.score).collect();
        assert_eq!(scores, [0.95, 0.9, 0.9, 0.7, 0.65, 0.6]);
        assert_eq!(Evidence::single(c(0.5)).primary(), Some(&c(0.5)));
        assert_eq!(Finding::Band.kind(), "band");
        assert_eq!(Position::of(2.0, 0.0, 1.0), Position::Above);
        assert_eq!(Position::of(-1.0, 0.0, 1.0), Position::Below);
        assert_eq!(Position::of(1.0, 0.0, 1.0), Position::Inside);
        assert_eq!(Position::of(f64::NAN, 0.0, 1.0), Position::Inside);
    }
}
