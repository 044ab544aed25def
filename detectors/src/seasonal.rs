//! Seasonal baseline: daily and weekly profiles learned online.
//!
//! Two periods are fixed: a day and a week of wall-clock time (UTC), the rhythms of
//! human-driven load. A day is cut into `daily_bins` slots and a week into `weekly_bins`; each
//! slot learns the usual level of the signal at that time with a robust (Huber-clipped) running
//! mean, so a spike does not pollute next week's expectation. A third, flat profile is a plain
//! robust running level (no season). A fourth profile follows the signal's own period: the
//! configured `period_ms`, or else the dominant period detected online
//! ([`crate::period`]: autocorrelation over a bounded, downsampled history), cut into at most
//! `PERIOD_BINS` slots; it is rebuilt from scratch whenever the detected period changes.
//!
//! For every point each profile that has learned the current slot predicts a value, and tracks an
//! exponentially weighted mean absolute error. The point is scored against the profile with the
//! smallest recent error, using that error (turned into a normal sigma) as the spread: a signal
//! with no rhythm is scored against the flat profile, a signal with a daily rhythm against the
//! daily one, so a value normal at 3 pm but not at 3 am is flagged at 3 am. Scores are calibrated
//! with [`crate::score_from_z`].
//!
//! Timestamps only choose the slot, so gaps and out-of-order points are harmless: a late point
//! updates the slot its timestamp belongs to. State: four small arrays of 5-byte slots (about
//! 1.6 KiB by default) and, until the period is settled or found absent, the period finder's
//! history (about 1.1 KiB).

use serde::{Deserialize, Serialize};

use crate::detector::{skip_non_finite, Detector, Observation, Stage, Verdict};
use crate::evidence::Finding;
use crate::history::narrow;
use crate::param::{self, InvalidParam};
use crate::period::PeriodFinder;
use crate::scale::{self, MEAN_ABS_TO_SIGMA, SCALE_EPSILON};
use crate::score::{score_from_z, z_for_score};

const NAME: &str = "seasonal";
const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;
/// Residuals are clipped at this many spreads when learning.
const CLIP: f64 = 3.0;
/// Smoothing of a profile's slow error (about 100 points), the spread of
/// [`SeasonalState::expect_rhythm`].
const SLOW_ALPHA: f64 = 0.01;
/// A profile's error must have been tracked this many points before it can be chosen.
const MIN_ERROR_POINTS: u32 = 48;
/// Most slots of the signal's own period (fewer when the period holds fewer points).
const PERIOD_BINS: u32 = 64;
/// Bounds of a configured period.
const MIN_PERIOD_MS: i64 = 1000;
const MAX_PERIOD_MS: i64 = 28 * DAY_MS;

/// Parameters of [`Seasonal`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeasonalParams {
    /// Slots per day, 4..=1440 (48 = half-hour slots); 0 disables the daily profile.
    pub daily_bins: usize,
    /// Slots per week, 7..=2016 (168 = hourly slots); 0 disables the weekly profile.
    pub weekly_bins: usize,
    /// Smoothing of slot levels and errors, (0, 1].
    pub alpha: f64,
    /// Points seen before the first score, 2..=100000.
    pub warmup: usize,
    /// Score at or above which a point is anomalous, (0, 1).
    pub threshold: f64,
    /// Floor on the spread relative to the level.
    pub min_rel_scale: f64,
    /// Absolute floor on the spread.
    pub min_scale: f64,
    /// The signal's own period in ms, 1 s to 28 days; `None`: detected online.
    pub period_ms: Option<i64>,
}

impl Default for SeasonalParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl SeasonalParams {
    /// The defaults, as a constant (the ensemble's components use them).
    pub(crate) const DEFAULT: Self = Self {
        daily_bins: 48,
        weekly_bins: 168,
        alpha: 0.1,
        warmup: 30,
        threshold: 0.5,
        min_rel_scale: 0.001,
        min_scale: 0.0,
        period_ms: None,
    };
}

impl SeasonalParams {
    pub fn validate(&self) -> Result<(), InvalidParam> {
        param::ensure(
            self.daily_bins == 0 || (4..=1440).contains(&self.daily_bins),
            NAME,
            "daily_bins",
            self.daily_bins as f64,
            "0 (off) or from 4 to 1440 slots",
        )?;
        param::ensure(
            self.weekly_bins == 0 || (7..=2016).contains(&self.weekly_bins),
            NAME,
            "weekly_bins",
            self.weekly_bins as f64,
            "0 (off) or from 7 to 2016 slots",
        )?;
        param::alpha(NAME, self.alpha)?;
        param::warmup(NAME, self.warmup)?;
        param::threshold(NAME, self.threshold)?;
        param::scale_floors(NAME, self.min_scale, self.min_rel_scale)?;
        let period = self.period_ms.unwrap_or(MIN_PERIOD_MS);
        param::ensure(
            (MIN_PERIOD_MS..=MAX_PERIOD_MS).contains(&period),
            NAME,
            "period_ms",
            period as f64,
            "from 1000 ms (1 s) to 28 days, or unset to detect it",
        )
    }
}

/// One slot's usual level and how many values it averaged, in 5 bytes (16 as `f64` and
/// `u32`): the level as `f32`, since the expectation's spread is floored at a thousandth of the
/// level, far above `f32`'s precision; the count saturates at `u8::MAX`, where `1 / n` is
/// below every `alpha` but the smallest (the default is 0.1: from the tenth value on the count
/// no longer matters).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[repr(C, packed(1))]
struct Slot {
    level: f32,
    n: u8,
}

/// One profile: its slots (one for the flat profile) and its recent error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(remote = "Self")]
struct Profile {
    /// The slots from `first` on (wrapping at `bins`), grown as time reaches them: a fresh
    /// detector holds none, a day-old one at 10 s intervals a day of the weekly profile.
    slots: Vec<Slot>,
    first: u32,
    bins: u32,
    /// Slot width in ms; the period is `bins * width`. 0 for the flat profile.
    width_ms: i64,
    /// EWMA of |residual| of this profile's predictions.
    error: f64,
    error_n: u32,
    /// A slow EWMA of the same (see [`SeasonalState::expect_rhythm`]; `f32`: it fills the
    /// padding after `error_n`, so it costs no byte).
    slow_error: f32,
}

impl Profile {
    fn new(bins: usize, period_ms: i64) -> Self {
        Self {
            slots: Vec::new(),
            first: 0,
            bins: u32::try_from(bins.max(1)).unwrap_or(u32::MAX),
            width_ms: if bins == 0 {
                0
            } else {
                period_ms / bins as i64
            },
            error: 0.0,
            error_n: 0,
            slow_error: 0.0,
        }
    }

    fn slot(&self, ts_ms: i64) -> usize {
        if self.width_ms == 0 {
            return 0;
        }
        let period = self.period_ms();
        // rem_euclid keeps negative timestamps in range; the clamp guards the rounding of width.
        ((ts_ms.rem_euclid(period) / self.width_ms) as usize).min(self.bins as usize - 1)
    }

    fn period_ms(&self) -> i64 {
        self.width_ms * i64::from(self.bins)
    }

    /// Where slot `index` is held in `slots`.
    fn position(&self, index: usize) -> usize {
        let bins = self.bins as usize;
        (index + bins - self.first as usize % bins) % bins
    }

    /// The slot at `index` (an empty one where time has not reached yet).
    fn at(&self, index: usize) -> Slot {
        self.slots
            .get(self.position(index))
            .copied()
            .unwrap_or_default()
    }

    /// Holds slot `index` from now on; returns its position in `slots`.
    fn hold(&mut self, index: usize) -> usize {
        if self.slots.is_empty() {
            self.first = u32::try_from(index).unwrap_or(0);
        }
        let at = self.position(index);
        if at >= self.slots.len() {
            // One slot at a time, exactly: a profile grows slowly and never past its bins.
            self.slots.reserve_exact(at + 1 - self.slots.len());
            self.slots.resize(at + 1, Slot::default());
        }
        at
    }
}

/// Read back only when its parts fit together (see `fits`): a snapshot that passed its
/// checksum but does not fit is an error, not a detector that panics later.
impl Serialize for Profile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Profile::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let read = Profile::deserialize(d)?;
        read.fits().map_err(serde::de::Error::custom)?;
        Ok(read)
    }
}

impl Profile {
    /// At least one bin, the slots held within them.
    fn fits(&self) -> Result<(), String> {
        if self.bins == 0 || self.slots.len() > self.bins as usize || self.first >= self.bins {
            return Err(format!(
                "profile of {} bins holding {} slots from {}",
                self.bins,
                self.slots.len(),
                self.first
            ));
        }
        Ok(())
    }
}

/// Daily/weekly/flat profile detector; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seasonal {
    params: SeasonalParams,
    z_threshold: f64,
    state: SeasonalState,
    skipped: u64,
}

/// What a [`Seasonal`] learns of one signal, without its parameters: the ensemble holds one
/// per signal and passes the (shared) parameters in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SeasonalState {
    /// Flat first, then daily and weekly when enabled, then the signal's own period once known.
    profiles: Vec<Profile>,
    /// Whether the last profile is the signal's own period.
    own_period: bool,
    /// Timestamp of the last point learned.
    last_ts: i64,
    /// Finds the period when none is configured (boxed: gone once the period is settled).
    finder: Option<Box<PeriodFinder>>,
    seen: usize,
}

/// What the seasonal baseline expects of one point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expectation {
    pub level: f64,
    pub sigma: f64,
    /// Which profile: 0 flat, 1.. seasonal.
    #[cfg_attr(not(test), allow(dead_code))]
    pub profile: usize,
    /// The profile's period (0 for the flat profile), the start of the point's slot within
    /// it and the slot's width, in ms.
    pub period_ms: i64,
    pub slot_start_ms: i64,
    pub slot_ms: i64,
}

impl Expectation {
    /// The finding of a value unusual for this expectation.
    pub(crate) fn finding(&self) -> Finding {
        Finding::Seasonal {
            period_ms: self.period_ms,
            slot_start_ms: self.slot_start_ms,
            slot_ms: self.slot_ms,
            usual: self.level,
            spread: self.sigma,
        }
    }
}

impl Seasonal {
    pub fn new(params: SeasonalParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        Ok(Self {
            params,
            z_threshold: z_for_score(params.threshold),
            state: SeasonalState::new(&params),
            skipped: 0,
        })
    }

    /// The period of the own-period profile in ms, when it exists.
    pub fn period_ms(&self) -> Option<i64> {
        self.state.period_ms()
    }

    pub(crate) fn expect(&self, ts_ms: i64) -> Option<Expectation> {
        self.state.expect(&self.params, ts_ms)
    }

    pub(crate) fn learn(&mut self, ts_ms: i64, value: f64) {
        self.state.learn(&self.params, ts_ms, value);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.state.heap_bytes()
    }
}

impl SeasonalState {
    pub(crate) fn new(params: &SeasonalParams) -> Self {
        // Room for the own-period profile is made when it comes (most signals have none).
        let mut profiles = Vec::with_capacity(3);
        profiles.push(Profile::new(0, 0));
        if params.daily_bins > 0 {
            profiles.push(Profile::new(params.daily_bins, DAY_MS));
        }
        if params.weekly_bins > 0 {
            profiles.push(Profile::new(params.weekly_bins, WEEK_MS));
        }
        Self {
            profiles,
            own_period: false,
            last_ts: 0,
            finder: params
                .period_ms
                .is_none()
                .then(|| Box::new(PeriodFinder::new())),
            seen: 0,
        }
    }

    /// The period of the own-period profile in ms, when it exists.
    pub(crate) fn period_ms(&self) -> Option<i64> {
        self.own_period
            .then(|| self.profiles.last().map(Profile::period_ms))
            .flatten()
    }

    /// (Re)builds the own-period profile for `period_ms` holding about `points` points.
    fn set_own_period(&mut self, period_ms: i64, points: u32) {
        let bins = points.clamp(1, PERIOD_BINS) as usize;
        if period_ms / (bins as i64) < 1 {
            return;
        }
        let profile = Profile::new(bins, period_ms);
        if self.own_period {
            if let Some(last) = self.profiles.last_mut() {
                *last = profile;
            }
        } else {
            self.profiles.reserve_exact(1);
            self.profiles.push(profile);
            self.own_period = true;
        }
    }

    /// The best profile's expectation at `ts_ms`; `None` while warming up.
    pub(crate) fn expect(&self, p: &SeasonalParams, ts_ms: i64) -> Option<Expectation> {
        if self.seen < p.warmup {
            return None;
        }
        let mut best: Option<Expectation> = None;
        let mut best_error = f64::INFINITY;
        for (i, p) in self.profiles.iter().enumerate() {
            let index = p.slot(ts_ms);
            let slot = p.at(index);
            let ready = i == 0 || (slot.n >= 1 && p.error_n >= MIN_ERROR_POINTS);
            // The flat profile is the fallback; a seasonal one must beat it by 10% to be chosen.
            let error = if i == 0 { p.error } else { p.error * 1.1 };
            if ready && error < best_error {
                best_error = error;
                best = Some(Expectation {
                    level: f64::from(slot.level),
                    sigma: p.error * MEAN_ABS_TO_SIGMA,
                    profile: i,
                    period_ms: p.period_ms(),
                    slot_start_ms: p.width_ms * index as i64,
                    slot_ms: p.width_ms,
                });
            }
        }
        best.map(|mut e| {
            e.sigma = scale::floored(e.sigma, e.level, p.min_scale, p.min_rel_scale);
            e
        })
    }

    /// The expectation of the best rhythm at `ts_ms` (daily, weekly or own period, never
    /// the flat profile), with its slowly learned spread; `None` while warming up or before
    /// any rhythm has learned the point's slot.
    pub(crate) fn expect_rhythm(&self, p: &SeasonalParams, ts_ms: i64) -> Option<Expectation> {
        if self.seen < p.warmup {
            return None;
        }
        let mut best: Option<(f64, Expectation)> = None;
        for (i, profile) in self.profiles.iter().enumerate().skip(1) {
            let index = profile.slot(ts_ms);
            let slot = profile.at(index);
            // A rhythm once time has gone round all of it (so the point's slot was learned
            // in an earlier period), from a slot that averaged two values (as in `learn`).
            let whole = profile.slots.len() == profile.bins as usize;
            if !whole || slot.n < 2 || profile.error_n < MIN_ERROR_POINTS {
                continue;
            }
            let slow = f64::from(profile.slow_error);
            if best.as_ref().is_some_and(|b| b.0 <= slow) {
                continue;
            }
            best = Some((
                slow,
                Expectation {
                    level: f64::from(slot.level),
                    sigma: scale::floored(
                        slow * MEAN_ABS_TO_SIGMA,
                        f64::from(slot.level),
                        p.min_scale,
                        p.min_rel_scale,
                    ),
                    profile: i,
                    period_ms: profile.period_ms(),
                    slot_start_ms: profile.width_ms * index as i64,
                    slot_ms: profile.width_ms,
                },
            ));
        }
        best.map(|b| b.1)
    }

    pub(crate) fn learn(&mut self, params: &SeasonalParams, ts_ms: i64, value: f64) {
        self.seen = self.seen.saturating_add(1);
        if let Some(finder) = &mut self.finder {
            let changed = finder.push(ts_ms, value);
            let (ms, points) = (finder.period_ms(), finder.period_points());
            if finder.settled() {
                // The same period found again and again: its 2 KiB of history go, the
                // period stays (a rhythm that changes later shows as this profile's error,
                // and the daily, weekly and flat profiles take over).
                self.finder = None;
            }
            if changed {
                if let (Some(ms), Some(points)) = (ms, points) {
                    self.set_own_period(ms, points);
                }
            }
        } else if !self.own_period && self.seen == 2 {
            // A configured period: its slots once the sampling step is known (two points).
            if let Some(ms) = params.period_ms {
                let step = ts_ms.saturating_sub(self.last_ts).max(1);
                let points = u32::try_from(ms / step).unwrap_or(u32::MAX);
                self.set_own_period(ms, points);
            }
        }
        self.last_ts = ts_ms;
        let alpha = params.alpha;
        for p in &mut self.profiles {
            let i = p.slot(ts_ms);
            let at = p.hold(i);
            let slot = &mut p.slots[at];
            if slot.n == 0 {
                slot.level = narrow(value);
                slot.n = 1;
                continue;
            }
            let residual = value - f64::from(slot.level);
            if slot.n >= 2 || p.width_ms == 0 {
                // Only slots that have averaged two values predict well enough to be judged.
                let a = alpha.max(1.0 / f64::from(p.error_n.saturating_add(1)));
                let abs = residual.abs().min(f64::MAX);
                let limit = if p.error_n > 0 {
                    CLIP * MEAN_ABS_TO_SIGMA * p.error
                } else {
                    abs
                };
                p.error = ((1.0 - a) * p.error + a * abs.min(limit.max(SCALE_EPSILON)))
                    .clamp(0.0, f64::MAX);
                let slow = f64::from(p.slow_error);
                let a = SLOW_ALPHA.max(1.0 / f64::from(p.error_n.saturating_add(1)));
                let limit = if p.error_n > 0 {
                    CLIP * MEAN_ABS_TO_SIGMA * slow
                } else {
                    abs
                };
                p.slow_error = narrow((1.0 - a) * slow + a * abs.min(limit.max(SCALE_EPSILON)));
                p.error_n = p.error_n.saturating_add(1);
            }
            slot.n = slot.n.saturating_add(1);
            let a = alpha.max(1.0 / f64::from(slot.n));
            let limit = (CLIP * MEAN_ABS_TO_SIGMA * p.error).max(SCALE_EPSILON);
            let step = if p.error_n > 0 {
                residual.clamp(-limit, limit)
            } else {
                residual
            };
            slot.level = narrow(f64::from(slot.level) + a * step);
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.finder_bytes() + self.profile_bytes()
    }

    /// Heap bytes of the period finder.
    pub(crate) fn finder_bytes(&self) -> usize {
        self.finder
            .as_ref()
            .map_or(0, |f| std::mem::size_of::<PeriodFinder>() + f.heap_bytes())
    }

    /// Heap bytes of the profiles.
    pub(crate) fn profile_bytes(&self) -> usize {
        self.profiles.capacity() * std::mem::size_of::<Profile>()
            + self
                .profiles
                .iter()
                .map(|p| p.slots.capacity() * std::mem::size_of::<Slot>())
                .sum::<usize>()
    }
}

impl Detector for Seasonal {
    fn observe(&mut self, ts_ms: i64, value: f64) -> Verdict {
        if skip_non_finite(value, &mut self.skipped) {
            return Verdict::Skipped;
        }
        let verdict = match self.expect(ts_ms) {
            None => Verdict::WarmingUp,
            Some(e) => {
                let score = score_from_z((value - e.level) / e.sigma);
                let half = (self.z_threshold * e.sigma).min(f64::MAX);
                Verdict::Scored(
                    Observation::around(score, e.level, half, self.params.threshold)
                        .found(e.finding()),
                )
            }
        };
        self.learn(ts_ms, value);
        verdict
    }

    fn stage(&self) -> Stage {
        Stage::after(self.state.seen, self.params.warmup)
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, alert_rate, daily, flagged, noise, plateau, STEP_MS};

    fn det() -> Seasonal {
        Seasonal::new(SeasonalParams::default()).unwrap()
    }

    #[test]
    fn contract() {
        synth::common_contract(|| Box::new(det()), 5 * 1024);
    }

    #[test]
    fn anomaly_inside_the_season_is_flagged() {
        // Three weeks of a daily rhythm; on day 15 at the trough the signal sits at the
        // level of the daily peak for an hour: within the overall range, wrong for the hour.
        let per_day = (DAY_MS / STEP_MS) as usize;
        let mut v = daily(1, 21 * per_day);
        let trough = 15 * per_day + 3 * per_day / 4;
        v[trough..trough + 12].iter_mut().for_each(|x| *x = 60.0);
        let f = flagged(&mut det(), &v);
        assert!(
            f.iter().any(|&i| (trough..trough + 12).contains(&i)),
            "{f:?}"
        );
        // Its evidence: the half-hour of the day and its usual value.
        let mut d = det();
        let mut evidence = None;
        for (i, &x) in v[..trough + 12].iter().enumerate() {
            if let Verdict::Scored(o) = d.observe(i as i64 * STEP_MS, x) {
                if o.anomalous && i >= trough {
                    evidence = evidence.or(o.evidence.primary().copied());
                }
            }
        }
        let c = evidence.unwrap();
        match c.finding {
            Finding::Seasonal {
                period_ms,
                slot_start_ms,
                slot_ms,
                usual,
                ..
            } => {
                assert_eq!((period_ms, slot_ms), (DAY_MS, DAY_MS / 48), "{c:?}");
                assert_eq!(slot_start_ms, 18 * 3_600_000, "{c:?}");
                assert!(usual < 45.0 && 60.0 > c.expected_high, "{c:?}");
            }
            other => panic!("{other:?}"),
        }
        // Days 8 to 14 (the profile learned, nothing wrong): at most a stray alert.
        let clean: Vec<_> = f
            .iter()
            .filter(|&&i| (8 * per_day..14 * per_day).contains(&i))
            .collect();
        assert!(clean.len() <= 2, "{clean:?}");
    }

    #[test]
    fn a_missing_peak_is_measured_against_the_rhythm_with_its_slow_spread() {
        let per_day = (DAY_MS / STEP_MS) as usize;
        let v = plateau(12, 11, 10);
        let mut d = det();
        let peak = 10 * per_day + 9 * per_day / 24;
        for (i, &x) in v[..peak + 12].iter().enumerate() {
            d.observe(i as i64 * STEP_MS, x);
        }
        // An hour into the missing plateau the flat profile predicts the flat signal best
        // (the daily one's recent error has grown with every missed point)...
        let ts = (peak + 12) as i64 * STEP_MS;
        let chosen = d.expect(ts).unwrap();
        assert_eq!(chosen.profile, 0, "{chosen:?}");
        assert!(
            (v[peak + 12] - chosen.level).abs() < 3.0 * chosen.sigma,
            "{chosen:?}"
        );
        // ...while the best rhythm still expects the plateau, within its usual spread.
        let rhythm = d.state.expect_rhythm(&d.params, ts).unwrap();
        // (The daily profile or the signal's own period, found to be a day.)
        assert!(
            rhythm.profile > 0 && rhythm.period_ms == DAY_MS,
            "{rhythm:?}"
        );
        assert!(rhythm.level > 60.0, "{rhythm:?}");
        assert!(
            (v[peak + 12] - rhythm.level) / rhythm.sigma < -10.0,
            "{rhythm:?}"
        );
        // Never the flat profile: nothing for a slot no rhythm has learned (8 hours in, noon).
        let mut young = det();
        for (i, &x) in v[..per_day / 3].iter().enumerate() {
            young.observe(i as i64 * STEP_MS, x);
        }
        assert!(young.expect(DAY_MS / 2).is_some_and(|e| e.profile == 0));
        assert!(young
            .state
            .expect_rhythm(&young.params, DAY_MS / 2)
            .is_none());
    }

    #[test]
    fn the_daily_profile_is_chosen_for_a_rhythmic_signal() {
        let per_day = (DAY_MS / STEP_MS) as usize;
        let v = daily(2, 4 * per_day);
        let mut d = det();
        for (i, &x) in v.iter().enumerate() {
            d.observe(i as i64 * STEP_MS, x);
        }
        let e = d.expect(v.len() as i64 * STEP_MS).unwrap();
        assert_eq!(e.profile, 1, "{e:?}");
        assert!(e.sigma < 2.0, "{e:?}");
    }

    #[test]
    fn flat_noise_uses_the_flat_profile_and_rarely_alerts() {
        let v = noise(3, 60_000, 10.0, 1.0);
        let rate = alert_rate(&mut det(), &v);
        assert!(rate < 5e-4, "{rate}");
        let mut spiked = v.clone();
        spiked[50_000] = 20.0;
        let f = flagged(&mut det(), &spiked);
        assert!(f.contains(&50_000), "{f:?}");
    }

    #[test]
    fn level_shift_and_variance_change_are_flagged() {
        let mut v = noise(4, 4000, 10.0, 1.0);
        v[3000..].iter_mut().for_each(|x| *x += 8.0);
        assert!(flagged(&mut det(), &v).contains(&3000));
        let mut w = noise(5, 4000, 10.0, 1.0);
        w[3000..]
            .iter_mut()
            .zip(noise(6, 1000, 0.0, 8.0))
            .for_each(|(x, e)| *x = 10.0 + e);
        let f = flagged(&mut det(), &w);
        assert!(f.iter().any(|&i| (3000..3050).contains(&i)), "{f:?}");
    }

    /// A rhythm of 50 one-minute points (no link to the day or week) with noise.
    fn rhythm(seed: u64, n: usize) -> Vec<f64> {
        noise(seed, n, 0.0, 0.5)
            .into_iter()
            .enumerate()
            .map(|(i, e)| 20.0 + 10.0 * (std::f64::consts::TAU * i as f64 / 50.0).sin() + e)
            .collect()
    }

    #[test]
    fn an_own_period_is_detected_and_used() {
        let mut v = rhythm(7, 6000);
        // At the rhythm's trough, the level of its peak: inside the range, wrong for the phase.
        let trough = 5000 + 37;
        v[trough..trough + 3].iter_mut().for_each(|x| *x = 30.0);
        let mut d = det();
        let mut flagged = Vec::new();
        for (i, &x) in v.iter().enumerate() {
            let ts = i as i64 * 60_000;
            if i == 4000 {
                assert_eq!(d.period_ms(), Some(50 * 60_000));
                let e = d.expect(ts).unwrap();
                assert_eq!(e.profile, 3, "{e:?}");
                assert!(e.sigma < 1.5, "{e:?}");
            }
            if let Verdict::Scored(o) = d.observe(ts, x) {
                if o.anomalous && i >= 3000 {
                    flagged.push(i);
                }
            }
        }
        assert!(flagged.contains(&trough), "{flagged:?}");
        assert!(
            flagged.iter().all(|&i| (trough..trough + 3).contains(&i)),
            "{flagged:?}"
        );
    }

    #[test]
    fn a_settled_period_frees_its_finder() {
        let mut d = det();
        let mut freed_at = None;
        for (i, &x) in rhythm(10, 20_000).iter().enumerate() {
            d.observe(i as i64 * 60_000, x);
            if freed_at.is_none() && d.state.finder.is_none() {
                freed_at = Some(i);
            }
        }
        // Found, confirmed by four more analyses, then the finder's history is gone and the
        // period stays.
        assert!(freed_at.is_some_and(|i| i < 10_000), "{freed_at:?}");
        assert_eq!(d.period_ms(), Some(50 * 60_000));
        assert_eq!(d.state.finder_bytes(), 0);
    }

    #[test]
    fn a_configured_period_needs_no_detection() {
        let params = SeasonalParams {
            period_ms: Some(50 * 60_000),
            ..SeasonalParams::default()
        };
        let mut d = Seasonal::new(params).unwrap();
        assert!(d.state.finder.is_none());
        for (i, &x) in rhythm(8, 500).iter().enumerate() {
            d.observe(i as i64 * 60_000, x);
        }
        assert_eq!(d.period_ms(), Some(50 * 60_000));
        assert_eq!(d.state.profiles[3].bins, 50);
        let bad = SeasonalParams {
            period_ms: Some(10),
            ..SeasonalParams::default()
        };
        assert!(Seasonal::new(bad).is_err());
    }

    #[test]
    fn noise_has_no_own_period_and_its_finder_gives_up() {
        let mut d = det();
        let mut freed_at = None;
        for (i, &x) in noise(9, 80_000, 10.0, 1.0).iter().enumerate() {
            d.observe(i as i64 * 60_000, x);
            if i == 30_000 {
                assert_eq!(d.period_ms(), None);
                assert_eq!(d.state.profiles.len(), 3);
            }
            if freed_at.is_none() && d.state.finder.is_none() {
                freed_at = Some(i);
            }
        }
        // Only after four analyses of its longest span (64 points an entry) found no rhythm.
        assert!(freed_at.is_some_and(|i| i > 4 * 64 * 128), "{freed_at:?}");
        assert_eq!((d.period_ms(), d.state.finder_bytes()), (None, 0));
    }

    #[test]
    fn profiles_hold_the_slots_time_has_reached() {
        let mut d = det();
        assert_eq!(
            d.state.profile_bytes(),
            d.state.profiles.capacity() * std::mem::size_of::<Profile>()
        );
        // Two hours at 10 s, starting mid-week: 4 half-hour slots, 2 or 3 hourly ones.
        let start = 3 * DAY_MS + 5 * 3_600_000 + 600_000;
        for i in 0..720 {
            d.observe(start + i * 10_000, 5.0 + (i % 7) as f64);
        }
        // (The signal's own 7-point rhythm has a profile of its own too.)
        let held: Vec<usize> = d.state.profiles.iter().map(|p| p.slots.len()).collect();
        assert_eq!(held[..3], [1, 5, 3], "{held:?}");
        // A whole week holds every slot, each where its index says.
        for i in 0..(WEEK_MS / 600_000) {
            d.observe(start + 7_200_000 + i * 600_000, 5.0);
        }
        let held: Vec<usize> = d.state.profiles.iter().map(|p| p.slots.len()).collect();
        assert_eq!(held[..3], [1, 48, 168], "{held:?}");
        let hour = ((start / 3_600_000) % 168) as usize;
        assert_eq!(
            d.state.profiles[2].at(hour).n,
            u8::MAX,
            "{:?}",
            d.state.profiles[2].at(hour)
        );
    }

    #[test]
    fn a_saved_profile_that_does_not_fit_is_refused() {
        let mut d = det();
        d.learn(0, 1.0);
        let read =
            |p: &Profile| postcard::from_bytes::<Profile>(&postcard::to_allocvec(p).unwrap());
        assert!(read(&d.state.profiles[2]).is_ok());
        for damage in [
            |p: &mut Profile| p.bins = 0,
            |p: &mut Profile| p.first = p.bins,
            |p: &mut Profile| p.slots = vec![Slot::default(); p.bins as usize + 1],
        ] {
            let mut bad = d.state.profiles[2].clone();
            damage(&mut bad);
            assert!(read(&bad).is_err());
        }
    }

    #[test]
    fn late_points_update_their_own_slot() {
        let mut d = det();
        d.learn(0, 1.0);
        d.learn(-1, 2.0); // the last slot of the day and week
        assert_eq!(d.state.profiles[1].at(0).n, 1);
        assert_eq!(d.state.profiles[1].at(47).n, 1);
        assert_eq!(d.state.profiles[2].at(167).n, 1);
        assert_eq!(d.state.profiles[2].at(166).n, 0);
    }
}
