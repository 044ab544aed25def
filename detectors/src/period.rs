//! Online detection of a signal's dominant period, for [`crate::Seasonal`] when no period is
//! configured.
//!
//! The signal is kept in a bounded history of `HISTORY` entries, each the mean of `factor`
//! consecutive points. While no period is found and the history is full, neighbouring entries are
//! merged pairwise and `factor` doubles, so the history covers ever longer spans (up to
//! `HISTORY * MAX_FACTOR` points) at a fixed cost in memory: a 5-minute signal with a daily
//! rhythm (288 points) is found once `factor` reaches 2. Every `CHECK_EVERY` new entries the
//! history is detrended (least-squares line) and its autocorrelation computed for lags up to a
//! third of its length (so at least two full repetitions overlap). The period is the first
//! autocorrelation peak that is both high (`MIN_ACF`) and prominent (`MIN_PROMINENCE` above the
//! lowest autocorrelation at shorter lags: slowly wandering signals, whose autocorrelation
//! decays without coming back, have none), taking the shortest lag among peaks nearly as high
//! as the highest so that a multiple of the period is not chosen. White noise has
//! autocorrelations of about `1 / sqrt(len)` (0.05 here), far below `MIN_ACF`.
//!
//! The period is reported in points and, through a running estimate of the sampling step, in
//! milliseconds. State: `1.5 * HISTORY` bytes (entries on a 12-bit grid over their range,
//! [`crate::quantised`]: each within `3 / 4095` of the range of the entries, while their
//! standard deviation is at least `range / 32`, so each is within a fortieth of that
//! deviation and an autocorrelation moves by about a thousandth), none while every entry is the same (a constant signal), plus a few scalars. Cost: one autocorrelation
//! (about `0.28 * HISTORY^2` multiply-adds) every `CHECK_EVERY * factor` points.

use serde::{Deserialize, Serialize};

use crate::history::narrow;
use crate::quantised::Quantised;

/// Entries of the downsampled history.
const HISTORY: usize = 512;
/// Entries between two analyses.
const CHECK_EVERY: usize = HISTORY / 4;
/// Largest number of points averaged into one entry.
const MAX_FACTOR: u32 = 64;
/// Autocorrelation a period's peak must reach.
const MIN_ACF: f64 = 0.3;
/// How far a peak must rise above the lowest autocorrelation at shorter lags.
const MIN_PROMINENCE: f64 = 0.3;
/// Peaks at least this fraction of the highest count as candidates (the shortest wins).
const NEAR_BEST: f64 = 0.9;
/// Analyses in a row that must find the same period before it is settled.
const CONFIRMATIONS: u32 = 4;
/// Smoothing of the sampling step estimate.
const STEP_ALPHA: f64 = 0.05;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub(crate) struct PeriodFinder {
    /// The entries, oldest first; empty while they are all equal to `flat_value`.
    history: Quantised,
    /// Entries held without a buffer while all equal (0 once the buffer is used).
    flat_len: u32,
    flat_value: f32,
    /// Points averaged per history entry.
    factor: u32,
    acc: f64,
    acc_n: u32,
    since_check: u32,
    /// Detected period in points.
    period: Option<u32>,
    /// Analyses in a row that found the same period since it was last found anew (or, with
    /// none found, that found none over the longest span).
    confirmed: u32,
    last_ts: Option<i64>,
    /// Estimated sampling step in ms (0 until two timestamps were seen).
    step_ms: f64,
}

impl PeriodFinder {
    pub(crate) fn new() -> Self {
        Self {
            history: Quantised::new(),
            flat_len: 0,
            flat_value: 0.0,
            factor: 1,
            acc: 0.0,
            acc_n: 0,
            since_check: 0,
            period: None,
            confirmed: 0,
            last_ts: None,
            step_ms: 0.0,
        }
    }

    /// The detected period in points.
    pub(crate) fn period_points(&self) -> Option<u32> {
        self.period
    }

    /// The detected period in milliseconds, once the sampling step is known.
    pub(crate) fn period_ms(&self) -> Option<i64> {
        let p = self.period?;
        let ms = (f64::from(p) * self.step_ms).round();
        (ms >= 1.0 && ms < i64::MAX as f64).then_some(ms as i64)
    }

    /// Learns one finite point. Returns true when the detected period changed.
    pub(crate) fn push(&mut self, ts_ms: i64, value: f64) -> bool {
        self.learn_step(ts_ms);
        self.acc += value;
        self.acc_n += 1;
        if self.acc_n < self.factor {
            return false;
        }
        let entry = narrow(self.acc / f64::from(self.acc_n));
        self.acc = 0.0;
        self.acc_n = 0;
        if self.len() == HISTORY {
            if self.period.is_none() && self.factor < MAX_FACTOR {
                self.coarsen();
            } else if self.history.is_empty() {
                self.flat_len -= CHECK_EVERY as u32;
            } else {
                // Dropping a batch of the oldest at once keeps the shift amortised.
                self.history.drop_oldest(CHECK_EVERY);
            }
        }
        if self.history.is_empty() && (self.flat_len == 0 || entry == self.flat_value) {
            self.flat_value = entry;
            self.flat_len += 1;
        } else {
            if self.history.is_empty() {
                self.history = Quantised::from_values(
                    &vec![f64::from(self.flat_value); self.flat_len as usize],
                    HISTORY,
                );
                self.flat_len = 0;
            }
            // Room for the whole history was made with the buffer: this never grows it.
            let len = self.history.len();
            self.history.push(f64::from(entry), HISTORY - len);
        }
        self.since_check += 1;
        if (self.since_check as usize) < CHECK_EVERY || self.len() < HISTORY / 2 {
            return false;
        }
        self.since_check = 0;
        if self.history.is_empty() {
            // Equal entries: no rhythm.
            self.no_rhythm();
            return false;
        }
        // The entries that widened the grid may have left: precision follows the range held.
        self.history.tighten();
        let entries: Vec<f64> = self.history.values().collect();
        match find_lag(&entries) {
            Some(lag) => {
                let p = (lag as u32).saturating_mul(self.factor);
                // The peak of a noisy rhythm moves by an entry from one analysis to the next:
                // within an entry it is the same period, kept as it was found (its profile
                // keeps what it learned) and confirmed. (Two entries would settle more
                // rhythms, but made the silence test's daily+weekly series with gaps alert
                // once more than it allows.)
                let same = self
                    .period
                    .is_some_and(|old| old.abs_diff(p) <= self.factor);
                if same {
                    self.confirmed = self.confirmed.saturating_add(1);
                } else {
                    self.period = Some(p);
                    self.confirmed = 0;
                }
                !same
            }
            // A rhythm once found is kept: the seasonal profile's own error tells whether it
            // still predicts.
            None => {
                self.no_rhythm();
                false
            }
        }
    }

    fn learn_step(&mut self, ts_ms: i64) {
        if let Some(last) = self.last_ts {
            let dt = ts_ms.saturating_sub(last) as f64;
            if dt > 0.0 {
                self.step_ms = if self.step_ms == 0.0 {
                    dt
                } else {
                    // Gaps are clipped so that one outage does not stretch the period.
                    let dt = dt.min(4.0 * self.step_ms);
                    self.step_ms + STEP_ALPHA * (dt - self.step_ms)
                };
            }
        }
        self.last_ts = Some(ts_ms);
    }

    /// Halves the history by averaging neighbours; each entry then stands for twice the points.
    fn coarsen(&mut self) {
        if self.history.is_empty() {
            self.flat_len /= 2;
            self.factor *= 2;
            return;
        }
        let n = self.history.len() / 2;
        let mut merged = Vec::with_capacity(HISTORY);
        merged.extend((0..n).map(|i| {
            let pair = self.history.get(2 * i) + self.history.get(2 * i + 1);
            f64::from(narrow(0.5 * pair))
        }));
        self.history = Quantised::from_values(&merged, HISTORY);
        self.factor *= 2;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.history.heap_bytes()
    }

    /// An analysis found no period: with none found before and the history at its longest
    /// span, that confirms the signal has no rhythm the finder can see.
    fn no_rhythm(&mut self) {
        if self.period.is_none() && self.factor >= MAX_FACTOR {
            self.confirmed = self.confirmed.saturating_add(1);
        }
    }

    /// The period was found again by [`CONFIRMATIONS`] analyses in a row, or no period by as
    /// many analyses of the longest span: the finder has done its job (see
    /// [`crate::Seasonal`], which then frees it; the daily, weekly and flat profiles stay).
    pub(crate) fn settled(&self) -> bool {
        self.confirmed >= CONFIRMATIONS
    }

    /// Entries held.
    fn len(&self) -> usize {
        self.history.len() + self.flat_len as usize
    }
}

/// Read back only when its parts fit together (see `fits`): a snapshot that passed its
/// checksum but does not fit is an error, not a detector that panics later.
impl Serialize for PeriodFinder {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PeriodFinder::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for PeriodFinder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let read = PeriodFinder::deserialize(d)?;
        read.fits().map_err(serde::de::Error::custom)?;
        Ok(read)
    }
}

impl PeriodFinder {
    /// Entries either in the buffer or flat, at most [`HISTORY`]; a factor within its bounds.
    fn fits(&self) -> Result<(), String> {
        let both = !self.history.is_empty() && self.flat_len > 0;
        if both || self.len() > HISTORY || !(1..=MAX_FACTOR).contains(&self.factor) {
            return Err(format!(
                "period finder of {} entries and {} flat ones, factor {}",
                self.history.len(),
                self.flat_len,
                self.factor
            ));
        }
        Ok(())
    }
}

/// The period, in entries, of `x` (see the module documentation), if it has one.
fn find_lag(x: &[f64]) -> Option<usize> {
    let n = x.len();
    let max_lag = n / 3;
    if max_lag < 4 {
        return None;
    }
    // Least-squares line through (i, x_i), removed so that a trend does not look like a rhythm.
    let nf = n as f64;
    let mean_i = (nf - 1.0) / 2.0;
    let mean_x = x.iter().sum::<f64>() / nf;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let di = i as f64 - mean_i;
        sxy += di * (v - mean_x);
        sxx += di * di;
    }
    let slope = sxy / sxx;
    let d: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| v - mean_x - slope * (i as f64 - mean_i))
        .collect();
    let var = d.iter().map(|v| v * v).sum::<f64>() / nf;
    if !(var.is_finite() && var > 0.0) {
        return None;
    }
    let acf: Vec<f64> = (0..=max_lag + 1)
        .map(|lag| {
            let s: f64 = d[..n - lag].iter().zip(&d[lag..]).map(|(a, b)| a * b).sum();
            s / (n - lag) as f64 / var
        })
        .collect();
    let mut lowest = f64::INFINITY;
    let mut peaks = Vec::new();
    for lag in 1..=max_lag {
        lowest = lowest.min(acf[lag - 1]);
        let r = acf[lag];
        if lag >= 2
            && r >= acf[lag - 1]
            && r >= acf[lag + 1]
            && r >= MIN_ACF
            && r - lowest >= MIN_PROMINENCE
        {
            peaks.push((lag, r));
        }
    }
    let best = peaks.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    peaks
        .into_iter()
        .find(|p| p.1 >= NEAR_BEST * best)
        .map(|p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::noise;

    /// Feeds `v` at 5-minute steps; returns the final period in points.
    fn detect(v: &[f64]) -> Option<u32> {
        let mut f = PeriodFinder::new();
        for (i, &x) in v.iter().enumerate() {
            f.push(i as i64 * 300_000, x);
        }
        f.period_points()
    }

    fn periodic(seed: u64, n: usize, period: f64, sd: f64) -> Vec<f64> {
        noise(seed, n, 0.0, sd)
            .into_iter()
            .enumerate()
            .map(|(i, e)| 10.0 * (std::f64::consts::TAU * i as f64 / period).sin() + e)
            .collect()
    }

    #[test]
    fn finds_known_periods() {
        for (seed, period) in [(1, 24.0), (2, 60.0), (3, 144.0), (4, 288.0), (5, 1000.0)] {
            let v = periodic(seed, 8 * period as usize + 4096, period, 3.0);
            let p = f64::from(detect(&v).unwrap_or_else(|| panic!("period {period}: none")));
            // Within one history entry of the truth (entries average up to 4 points here).
            assert!((p - period).abs() <= period * 0.03 + 4.0, "{period}: {p}");
        }
    }

    #[test]
    fn finds_a_square_wave_and_a_trended_rhythm() {
        let v: Vec<f64> = noise(6, 4000, 0.0, 0.5)
            .into_iter()
            .enumerate()
            .map(|(i, e)| if i % 50 < 10 { 5.0 + e } else { e } + 0.01 * i as f64)
            .collect();
        assert_eq!(detect(&v), Some(50));
    }

    #[test]
    fn noise_and_a_random_walk_have_no_period() {
        for seed in 10..15 {
            assert_eq!(detect(&noise(seed, 40_000, 5.0, 1.0)), None, "noise {seed}");
        }
        let walk: Vec<f64> = noise(20, 40_000, 0.0, 1.0)
            .into_iter()
            .scan(0.0, |s, e| {
                *s += e;
                Some(*s)
            })
            .collect();
        assert_eq!(detect(&walk), None, "random walk");
    }

    #[test]
    fn a_flat_signal_holds_no_history_until_it_moves() {
        let mut f = PeriodFinder::new();
        for i in 0..100_000 {
            f.push(i * 10_000, 3.0);
        }
        assert_eq!((f.heap_bytes(), f.period_points()), (0, None));
        // Then a rhythm: the flat entries take their place in the history and it is found.
        let v = periodic(8, 20_000, 40.0, 1.0);
        for (i, &x) in v.iter().enumerate() {
            f.push((100_000 + i as i64) * 10_000, x + 3.0);
        }
        assert!(f.heap_bytes() > 0);
        assert!(f.period_points().is_some());
    }

    #[test]
    fn a_saved_finder_that_does_not_fit_is_refused() {
        let mut f = PeriodFinder::new();
        for (i, &x) in periodic(9, 2000, 40.0, 1.0).iter().enumerate() {
            f.push(i as i64 * 60_000, x);
        }
        let read = |f: &PeriodFinder| {
            postcard::from_bytes::<PeriodFinder>(&postcard::to_allocvec(f).unwrap())
        };
        assert_eq!(read(&f).unwrap().period_points(), f.period_points());
        for damage in [
            |f: &mut PeriodFinder| f.flat_len = 3,
            |f: &mut PeriodFinder| {
                f.history = Quantised::from_values(&[0.0; HISTORY + 1], 0);
            },
            |f: &mut PeriodFinder| f.factor = 0,
        ] {
            let mut bad = f.clone();
            damage(&mut bad);
            assert!(read(&bad).is_err());
        }
    }

    #[test]
    fn period_in_ms_follows_the_sampling_step() {
        let v = periodic(7, 3000, 40.0, 1.0);
        let mut f = PeriodFinder::new();
        for (i, &x) in v.iter().enumerate() {
            f.push(i as i64 * 60_000, x);
        }
        assert_eq!(f.period_points(), Some(40));
        assert_eq!(f.period_ms(), Some(40 * 60_000));
        assert!(f.heap_bytes() <= 3 * HISTORY / 2);
    }
}
