//! k-means over windowed feature vectors, the approach of Netdata's per-metric anomaly detection,
//! with three changes.
//!
//! Like Netdata: every point becomes a feature vector of its recent dynamics (first differences,
//! smoothed over 3 points, at 6 lags); a SmartCore k-means model is fitted on the last
//! `train_size` points (512) and refitted every `retrain_every` points (8192) as the stream goes
//! on (the cost of a fit is amortised over those points); a point is scored by its distance to
//! the nearest centroid, compared with the distances of the training points.
//!
//! Improvements on it:
//! - the vector also carries the level (the value itself), so a move to a value never seen in
//!   training is novel even if it happens smoothly; Netdata's pure-difference vector is blind to
//!   it;
//! - features are standardised with the training spread, so one model shape fits any unit;
//! - instead of a binary "beyond the 99th percentile of training distances", the distance is
//!   calibrated into a graded score: its log is compared with the mean and spread of the training
//!   points' log-distances ([`crate::calibration`]), and the one-sided z goes through
//!   [`crate::score_from_z`].
//!
//! SmartCore 0.7's `KMeans` exposes neither its centroids nor distances, so the centroids are
//! derived from the labels it predicts for the training points. The fit is seeded: the detector
//! is deterministic. State: the newest 9 values (as `f32`, for each point's feature vector),
//! the older values a fit trains on (`1.5 * train_size` bytes on a 12-bit grid,
//! [`crate::quantised`], held only until the first fit and from shortly before each refit) and
//! the model (k × 7 `f32`);
//! the training matrix exists only during a fit.

use serde::{Deserialize, Serialize};

use smartcore::cluster::kmeans::{KMeans, KMeansParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::calibration::LogTail;
use crate::detector::{skip_non_finite, Detector, Observation, Stage, Verdict};
use crate::evidence::Finding;
use crate::history::{narrow, History};
use crate::param::{self, InvalidParam};
use crate::quantised::Quantised;
use crate::scale::SCALE_EPSILON;
use crate::score::score_from_z;

const NAME: &str = "kmeans";
/// Feature dimensions: 6 lagged smoothed differences and the level.
const DIMS: usize = 7;
/// Raw values one feature vector spans: 6 lags of a 3-point mean of differences.
const SPAN: usize = 9;
/// k-means iterations per fit.
const MAX_ITER: usize = 10;

/// Parameters of [`KMeansDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    /// Clusters, 2..=32.
    pub k: usize,
    /// Most recent points a fit uses, 64..=8192.
    pub train_size: usize,
    /// Points between fits, 16..=100000.
    pub retrain_every: usize,
    /// Score at or above which a point is anomalous, (0, 1).
    pub threshold: f64,
    /// Seed of the k-means++ initialisation.
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl KMeansParams {
    /// The defaults, as a constant (the ensemble's components use them).
    pub(crate) const DEFAULT: Self = Self {
        k: 8,
        train_size: 512,
        retrain_every: 8192,
        threshold: 0.5,
        seed: 42,
    };
}

impl KMeansParams {
    pub fn validate(&self) -> Result<(), InvalidParam> {
        param::count(NAME, "k", self.k, 2, 32, "from 2 to 32 clusters")?;
        param::count(
            NAME,
            "train_size",
            self.train_size,
            64,
            8192,
            "from 64 to 8192 points",
        )?;
        param::count(
            NAME,
            "retrain_every",
            self.retrain_every,
            16,
            100_000,
            "from 16 to 100000 points",
        )?;
        param::threshold(NAME, self.threshold)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Model {
    /// In standardised units, as `f32`: a distance of a few spreads needs no more.
    centroids: Vec<[f32; DIMS]>,
    /// Per-dimension centre and spread of the training features, as `f32` (the fit itself
    /// standardises with these rounded figures, so the model and its scoring agree).
    center: [f32; DIMS],
    spread: [f32; DIMS],
    tail: LogTail,
}

/// k-means novelty detector; see the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KMeansDetector {
    params: KMeansParams,
    /// The newest [`SPAN`] values, as `f32` (the level's spread is floored at a thousandth of
    /// the level, far above `f32`'s precision): the feature vector of every scored point.
    recent: History<f32>,
    state: KMeansState,
    skipped: u64,
}

/// What a [`KMeansDetector`] learns of one signal, without its parameters nor its newest
/// values: the ensemble holds one per signal, passes the (shared) parameters in and reads the
/// newest values from its median/MAD window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct KMeansState {
    /// The older values the next fit trains on, oldest first, on a 12-bit grid: collected
    /// until the first fit and from shortly before each refit, empty between.
    training: Quantised,
    model: Option<Model>,
    /// Points until the next refit.
    until_fit: usize,
    fits: u64,
}

impl KMeansDetector {
    pub fn new(params: KMeansParams) -> Result<Self, InvalidParam> {
        params.validate()?;
        Ok(Self {
            params,
            recent: History::new(SPAN),
            state: KMeansState::default(),
            skipped: 0,
        })
    }

    /// How many models were fitted so far.
    pub fn fits(&self) -> u64 {
        self.state.fits
    }

    /// Values held: the training values and the newest ones.
    fn held(&self) -> usize {
        self.state.training.len() + self.recent.len()
    }

    #[cfg(test)]
    fn history_bytes(&self) -> usize {
        self.recent.heap_bytes() + self.state.training_bytes()
    }
}

impl KMeansState {
    /// The values a fit now would train on, oldest first: the training values, then the
    /// `newest`.
    fn series(&self, newest: &History<f32>) -> Vec<f64> {
        self.training
            .values()
            .chain(newest.iter().map(f64::from))
            .collect()
    }

    /// Fits on the training values and then the `newest`.
    fn fit(&mut self, p: &KMeansParams, newest: &History<f32>) {
        let series = self.series(newest);
        let n = series.len().saturating_sub(SPAN - 1);
        if n < 2 * p.k {
            return;
        }
        let last = series.len() - 1;
        let rows: Vec<[f64; DIMS]> = (0..n).map(|b| features(|i| series[last - b - i])).collect();
        let (mut center, mut spread) = ([0.0; DIMS], [0.0; DIMS]);
        for (d, c) in center.iter_mut().enumerate() {
            *c = rows.iter().map(|r| r[d]).sum::<f64>() / n as f64;
        }
        for (d, s) in spread.iter_mut().enumerate() {
            let var = rows.iter().map(|r| (r[d] - center[d]).powi(2)).sum::<f64>() / n as f64;
            *s = var.sqrt();
        }
        // The difference dimensions share one spread, so their lags stay comparable; floors
        // keep a flat training window from dividing by zero.
        let diff_spread = spread[..DIMS - 1].iter().copied().fold(0.0, f64::max);
        let level_floor = 1e-3 * center[DIMS - 1].abs();
        for s in spread[..DIMS - 1].iter_mut() {
            *s = diff_spread.max(level_floor).max(SCALE_EPSILON);
        }
        spread[DIMS - 1] = spread[DIMS - 1].max(level_floor).max(SCALE_EPSILON);
        let (center, spread) = (center.map(narrow), spread.map(narrow));
        let scaled: Vec<f64> = rows
            .iter()
            .flat_map(|r| (0..DIMS).map(move |d| matrix_at(r, &center, &spread, d)))
            .collect();
        let Ok(matrix) = DenseMatrix::new(n, DIMS, scaled, false) else {
            return;
        };
        let params = KMeansParameters {
            k: p.k,
            max_iter: MAX_ITER,
            seed: Some(p.seed),
        };
        let Ok(model) = KMeans::<f64, usize, DenseMatrix<f64>, Vec<usize>>::fit(&matrix, params)
        else {
            return;
        };
        let Ok(labels) = model.predict(&matrix) else {
            return;
        };
        // Centroids from the labels: SmartCore keeps its own private.
        let k = p.k;
        let mut sums = vec![[0.0; DIMS]; k];
        let mut counts = vec![0usize; k];
        for (i, &label) in labels.iter().enumerate() {
            let Some(sum) = sums.get_mut(label) else {
                continue;
            };
            counts[label] += 1;
            for (d, s) in sum.iter_mut().enumerate() {
                *s += matrix_at(&rows[i], &center, &spread, d);
            }
        }
        if counts.iter().all(|&c| c == 0) {
            return;
        }
        if self.until_fit >= keep(p, newest) {
            // This fit succeeds and no values are collected after it: they go before the
            // model is allocated, so that it can take their place in the allocator's heap
            // instead of leaving a hole there between other signals' buffers.
            self.training = Quantised::new();
        }
        let centroids: Vec<[f32; DIMS]> = sums
            .iter()
            .zip(&counts)
            .filter(|(_, &c)| c > 0)
            .map(|(s, &c)| s.map(|v| narrow(v / c as f64)))
            .collect();
        if centroids.is_empty() {
            return;
        }
        let mut model = Model {
            centroids,
            center,
            spread,
            tail: LogTail::new(0.0),
        };
        let distances: Vec<f64> = rows.iter().map(|r| model.distance(r)).collect();
        model.tail.reset_to(distances.into_iter());
        self.model = Some(model);
        self.fits += 1;
    }

    /// The calibrated z of the newest point (0 with no model yet), from the `newest` values.
    pub(crate) fn z_newest(&self, newest: &History<f32>) -> f64 {
        match &self.model {
            Some(m) if newest.len() >= SPAN => m
                .tail
                .z(m.distance(&features(|i| f64::from(newest.back(i))))),
            _ => 0.0,
        }
    }

    /// Learns the newest value, already the last of `newest` (a window of at least [`SPAN`]
    /// values that the caller keeps: the detector's own, or the ensemble's median/MAD window,
    /// so that a fit reads those from it and only the older ones are collected here); `left`
    /// is the value it pushed out. Keeps `left` for the next fit when collecting, and fits
    /// when due.
    pub(crate) fn learn(&mut self, p: &KMeansParams, newest: &History<f32>, left: Option<f32>) {
        self.until_fit = self.until_fit.saturating_sub(1);
        // A fit trains on the last `train_size + SPAN - 1` values. Between fits only the
        // newest are held (each point's feature vector); the older ones are collected again
        // in time for the next fit, which so sees the values it always did.
        let keep = keep(p, newest);
        let newest_len = newest.len();
        if let (Some(old), true) = (left, self.collecting(keep)) {
            // The buffer takes at once what it will hold: before the first fit the values
            // that fit needs, before a refit its whole length (a buffer grown by doubling
            // leaves each smaller one behind as a hole in the heap).
            let len = self.training.len();
            let grow = if self.model.is_some() {
                keep
            } else {
                (p.train_size / 2).saturating_sub(newest_len).max(1)
            };
            self.training
                .push(f64::from(old), grow.min(keep.saturating_sub(len)));
            let over = self.training.len().saturating_sub(keep);
            self.training.drop_oldest(over);
        }
        let held = self.training.len() + newest_len;
        let first = self.model.is_none() && held >= p.train_size / 2;
        if first || (self.model.is_some() && self.until_fit == 0) {
            self.until_fit = p.retrain_every;
            self.fit(p, newest);
        }
        if !self.collecting(keep) && !self.training.is_empty() {
            self.training = Quantised::new();
        }
    }

    /// Whether the values leaving the newest ones are kept for the next fit: until the first
    /// and in the last `keep` points before each refit.
    fn collecting(&self, keep: usize) -> bool {
        self.model.is_none() || self.until_fit < keep
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.training_bytes() + self.model_bytes()
    }

    /// Heap bytes of the older values the next fit trains on.
    pub(crate) fn training_bytes(&self) -> usize {
        self.training.heap_bytes()
    }

    /// Heap bytes of the fitted model (its centroids).
    pub(crate) fn model_bytes(&self) -> usize {
        self.model.as_ref().map_or(0, |m| {
            m.centroids.capacity() * std::mem::size_of::<[f32; DIMS]>()
        })
    }
}

/// How many values leaving the `newest` a fit needs: it trains on the last
/// `train_size + SPAN - 1`.
fn keep(p: &KMeansParams, newest: &History<f32>) -> usize {
    (p.train_size + SPAN - 1).saturating_sub(newest.cap())
}

/// The feature vector of the values `x(0)` (the newest), `x(1)`, ... `x(SPAN - 1)`.
fn features(x: impl Fn(usize) -> f64) -> [f64; DIMS] {
    let mut f = [0.0; DIMS];
    for (lag, slot) in f.iter_mut().take(DIMS - 1).enumerate() {
        // Mean of the 3 differences ending at lag: (x[lag] - x[lag + 3]) / 3.
        *slot = (x(lag) - x(lag + 3)) / 3.0;
    }
    f[DIMS - 1] = x(0);
    f
}

fn matrix_at(row: &[f64; DIMS], center: &[f32; DIMS], spread: &[f32; DIMS], d: usize) -> f64 {
    ((row[d] - f64::from(center[d])) / f64::from(spread[d])).clamp(-1e150, 1e150)
}

impl Model {
    /// Euclidean distance from `raw`'s standardised features to the nearest centroid.
    fn distance(&self, raw: &[f64; DIMS]) -> f64 {
        let mut f = [0.0; DIMS];
        for (d, v) in f.iter_mut().enumerate() {
            *v = matrix_at(raw, &self.center, &self.spread, d);
        }
        self.centroids
            .iter()
            .map(|c| {
                c.iter()
                    .zip(&f)
                    .map(|(&a, b)| (f64::from(a) - b) * (f64::from(a) - b))
                    .sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min)
            .sqrt()
            .min(f64::MAX)
    }
}

/// The finding of a movement `z` spreads from the usual ones.
pub(crate) fn pattern(z: f64) -> Finding {
    Finding::Pattern {
        points: SPAN as u32,
        z,
    }
}

impl Detector for KMeansDetector {
    fn observe(&mut self, _ts_ms: i64, value: f64) -> Verdict {
        if skip_non_finite(value, &mut self.skipped) {
            return Verdict::Skipped;
        }
        let out = self.recent.push(narrow(value));
        let s = &mut self.state;
        s.learn(&self.params, &self.recent, out);
        if s.model.is_none() || self.recent.len() < SPAN {
            return Verdict::WarmingUp;
        }
        // Scored after joining the history (the features need the newest value); the model was
        // fitted before it unless a refit fell on this very point.
        let z = s.z_newest(&self.recent);
        let score = score_from_z(z);
        let (low, high) = s.expected_range();
        Verdict::Scored(
            Observation::within(score, low, high, self.params.threshold).found(pattern(z)),
        )
    }

    fn stage(&self) -> Stage {
        if self.state.model.is_some() && self.recent.len() >= SPAN {
            Stage::Full
        } else {
            // The first fit comes with the point that fills half the training size.
            let needed = (self.params.train_size / 2).max(SPAN);
            Stage::Learning {
                next_in: needed.saturating_sub(self.held()).max(1) as u64,
            }
        }
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.recent.heap_bytes() + self.state.heap_bytes()
    }
}

impl KMeansState {
    /// The range of levels the training window covered (centre ± 3 spreads of the level).
    fn expected_range(&self) -> (f64, f64) {
        match &self.model {
            Some(m) => {
                let (c, s) = (f64::from(m.center[DIMS - 1]), f64::from(m.spread[DIMS - 1]));
                ((c - 3.0 * s).max(f64::MIN), (c + 3.0 * s).min(f64::MAX))
            }
            None => (f64::MIN, f64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, alert_rate, daily, flagged, noise};

    fn det() -> KMeansDetector {
        KMeansDetector::new(KMeansParams::default()).unwrap()
    }

    #[test]
    fn contract() {
        synth::common_contract(|| Box::new(det()), 3 * 1024);
    }

    /// For each point of `v`: fits so far and values held.
    fn sizes(d: &mut KMeansDetector, v: &[f64]) -> Vec<(u64, usize)> {
        v.iter()
            .enumerate()
            .map(|(i, &x)| {
                d.observe(i as i64, x);
                (d.fits(), d.held())
            })
            .collect()
    }

    /// The indices of the points at which a fit happened.
    fn fitted_at(sizes: &[(u64, usize)]) -> Vec<usize> {
        (0..sizes.len())
            .filter(|&i| sizes[i].0 > if i == 0 { 0 } else { sizes[i - 1].0 })
            .collect()
    }

    #[test]
    fn between_fits_only_the_newest_values_are_held() {
        let mut d = det();
        let p = KMeansParams::default();
        let cap = p.train_size + SPAN - 1;
        let v = noise(9, p.train_size / 2 + 2 * p.retrain_every + 10, 0.0, 1.0);
        let mut peak = 0;
        let mut sizes = Vec::new();
        for (i, &x) in v.iter().enumerate() {
            d.observe(i as i64, x);
            sizes.push((d.fits(), d.held()));
            if d.fits() == 1 {
                peak = peak.max(d.history_bytes());
            }
        }
        // Before the first fit everything is held; just after it, the newest SPAN values.
        let fits = fitted_at(&sizes);
        let first = p.train_size / 2 - 1;
        assert_eq!(fits[0], first);
        assert_eq!(sizes[first], (1, SPAN));
        assert_eq!(sizes[first + 100], (1, SPAN));
        // The history fills again in time for the next fit, which sees all of it (the point
        // of the fit is its last value).
        let second = fits[1];
        assert_eq!(sizes[second - 1], (1, cap - 1));
        assert_eq!(sizes[second - p.train_size + 1], (1, SPAN));
        assert_eq!(sizes[second], (2, SPAN));
        // A byte and a half a training value, four a newest one.
        assert_eq!(peak, (3 * (p.train_size - 1)).div_ceil(2) + 4 * SPAN);
        assert_eq!(d.history_bytes(), 4 * SPAN);
    }

    /// Beside the median/MAD window (the ensemble's), a fit reads the newest values from
    /// that window and collects only the older ones: the same values (up to the 12-bit grid
    /// of the collected ones) at the same points, in fewer bytes. (The scores then differ a
    /// little at times: k-means++ seeding is sensitive to that grid; NAB is unchanged.)
    #[test]
    fn a_fit_beside_a_longer_window_trains_on_the_same_values() {
        use crate::mad::{MadParams, MadWindow};
        let p = KMeansParams {
            train_size: 256,
            retrain_every: 700,
            ..KMeansParams::default()
        };
        let mad = MadParams::default();
        let mut window = MadWindow::new(&mad);
        let (mut alone, mut beside) = (KMeansDetector::new(p).unwrap(), KMeansState::default());
        let mut v = daily(5, 3000);
        v[1500..].iter_mut().for_each(|x| *x += 7.0);
        let range =
            v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min);
        let cap = p.train_size + SPAN - 1;
        let (mut peak_alone, mut peak_beside, mut full, mut scored) = (0, 0, 0, 0);
        for (i, &x) in v.iter().enumerate() {
            alone.observe(i as i64, x);
            let left = window.learn(x);
            beside.learn(&p, window.values(), left);
            assert_eq!(alone.state.fits, beside.fits, "point {i}");
            // What a fit now would train on: the same latest values in both.
            let a = alone.state.series(&alone.recent);
            let b = beside.series(window.values());
            let n = a.len().min(b.len());
            assert!(n >= SPAN.min(i + 1), "point {i}");
            for (j, (x, y)) in a[a.len() - n..].iter().zip(&b[b.len() - n..]).enumerate() {
                assert!(
                    (x - y).abs() <= 3.0 * range / 4095.0,
                    "point {i}, {j}: {x} {y}"
                );
            }
            // The point before a refit: the whole series but for the value to come.
            full += usize::from(a.len() == cap - 1 && b.len() == cap - 1);
            scored += usize::from(beside.z_newest(window.values()) != 0.0);
            peak_alone = peak_alone.max(alone.state.training_bytes());
            peak_beside = peak_beside.max(beside.training_bytes());
        }
        // Before each of the 4 refits, the whole series in both.
        assert_eq!(full, 4);
        assert_eq!(alone.state.fits, 5);
        assert!(scored > 1000, "{scored}");
        assert_eq!(peak_alone, (3 * (cap - SPAN)).div_ceil(2));
        assert_eq!(peak_beside, (3 * (cap - mad.window)).div_ceil(2));
    }

    #[test]
    fn refits_periodically() {
        let p = KMeansParams::default();
        let (every, first) = (p.retrain_every, p.train_size / 2 - 1);
        let v = noise(1, first + 2 * every + 1, 0.0, 1.0);
        // First fit at half the training size, then every retrain_every points.
        assert_eq!(
            fitted_at(&sizes(&mut det(), &v)),
            [first, first + every, first + 2 * every]
        );
    }

    #[test]
    fn spike_level_and_variance_changes_are_novel() {
        let mut v = noise(2, 3000, 10.0, 1.0);
        v[2000] = 25.0;
        assert!(flagged(&mut det(), &v).contains(&2000));

        let mut w = noise(3, 3000, 10.0, 1.0);
        w[2000..].iter_mut().for_each(|x| *x += 10.0);
        let f = flagged(&mut det(), &w);
        assert!(f.iter().any(|&i| (2000..2010).contains(&i)), "{f:?}");

        let mut u = noise(4, 3000, 10.0, 1.0);
        u[2000..]
            .iter_mut()
            .zip(noise(5, 1000, 0.0, 8.0))
            .for_each(|(x, e)| *x = 10.0 + e);
        let f = flagged(&mut det(), &u);
        assert!(f.iter().any(|&i| (2000..2020).contains(&i)), "{f:?}");
    }

    #[test]
    fn trend_change_is_novel() {
        let mut v = noise(6, 3000, 10.0, 0.2);
        v[2000..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x += 0.5 * i as f64);
        let f = flagged(&mut det(), &v);
        assert!(f.iter().any(|&i| (2000..2020).contains(&i)), "{f:?}");
    }

    #[test]
    fn clean_series_rarely_alert() {
        assert!(alert_rate(&mut det(), &noise(7, 50_000, 10.0, 1.0)) < 1e-3);
        assert!(alert_rate(&mut det(), &daily(8, 50_000)) < 1e-3);
    }
}
