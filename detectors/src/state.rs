//! A detector's learned state, for snapshots: one variant per detector kind.
//!
//! [`Learned::save`] borrows the state as a [`SavedDetector`]; serializing it (with any serde
//! format) and deserializing the bytes as a [`DetectorState`] gives back a detector that scores
//! the next points exactly as the saved one would have. The two enums list the same kinds in
//! the same order, so their serialized forms are the same.
//!
//! The state holds the detector's parameters as they were: the caller decides whether they
//! still apply (the agent keeps a hash of the effective settings beside each state).

use serde::{Deserialize, Serialize};

use crate::nab::WindowedGaussian;
use crate::{
    Cusum, Detector, Ensemble, KMeansDetector, KnnConformal, RobustEwma, Seasonal, SlidingMad,
};

/// A detector whose learned state can be saved: every kind. (A trait of its own, not a method
/// of [`Detector`], so that the detectors do not import the list of every kind.)
pub trait Learned: Detector {
    /// The learned state, borrowed for a snapshot; see [`DetectorState`] to restore it.
    fn save(&self) -> SavedDetector<'_>;
}

macro_rules! learned {
    ($($kind:ident => $variant:ident),* $(,)?) => {
        $(impl Learned for $kind {
            fn save(&self) -> SavedDetector<'_> {
                SavedDetector::$variant(self)
            }
        })*
    };
}

learned! {
    Ensemble => Ensemble,
    RobustEwma => Ewma,
    SlidingMad => Mad,
    Seasonal => Seasonal,
    Cusum => Cusum,
    KMeansDetector => KMeans,
    KnnConformal => Knn,
    WindowedGaussian => WindowedGaussian,
}

/// A detector's state, borrowed for serializing (from [`Learned::save`]).
#[derive(Debug, Clone, Copy, Serialize)]
pub enum SavedDetector<'a> {
    Ensemble(&'a Ensemble),
    Ewma(&'a RobustEwma),
    Mad(&'a SlidingMad),
    Seasonal(&'a Seasonal),
    Cusum(&'a Cusum),
    KMeans(&'a KMeansDetector),
    Knn(&'a KnnConformal),
    WindowedGaussian(&'a WindowedGaussian),
}

/// A detector's state, read back from a [`SavedDetector`]'s serialized form.
#[derive(Debug, Clone, Deserialize)]
pub enum DetectorState {
    Ensemble(Box<Ensemble>),
    Ewma(Box<RobustEwma>),
    Mad(Box<SlidingMad>),
    Seasonal(Box<Seasonal>),
    Cusum(Box<Cusum>),
    KMeans(Box<KMeansDetector>),
    Knn(Box<KnnConformal>),
    WindowedGaussian(Box<WindowedGaussian>),
}

impl DetectorState {
    /// The detector again, ready for its next point.
    pub fn into_detector(self) -> Box<dyn Learned> {
        match self {
            DetectorState::Ensemble(d) => d,
            DetectorState::Ewma(d) => d,
            DetectorState::Mad(d) => d,
            DetectorState::Seasonal(d) => d,
            DetectorState::Cusum(d) => d,
            DetectorState::KMeans(d) => d,
            DetectorState::Knn(d) => d,
            DetectorState::WindowedGaussian(d) => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{daily, noise, STEP_MS};
    use crate::{
        CusumParams, EnsembleParams, EwmaParams, KMeansParams, KnnParams, MadParams,
        SeasonalParams, Verdict,
    };

    fn every_kind() -> Vec<Box<dyn Learned>> {
        vec![
            Box::new(Ensemble::new(EnsembleParams::default()).unwrap()),
            Box::new(RobustEwma::new(EwmaParams::default()).unwrap()),
            Box::new(SlidingMad::new(MadParams::default()).unwrap()),
            Box::new(Seasonal::new(SeasonalParams::default()).unwrap()),
            Box::new(Cusum::new(CusumParams::default()).unwrap()),
            Box::new(
                KMeansDetector::new(KMeansParams {
                    train_size: 256,
                    retrain_every: 64,
                    ..KMeansParams::default()
                })
                .unwrap(),
            ),
            Box::new(KnnConformal::new(KnnParams::default()).unwrap()),
            Box::new(
                WindowedGaussian::new(crate::nab::WindowedGaussianParams {
                    window_size: 500,
                    step_size: 50,
                    ..Default::default()
                })
                .unwrap(),
            ),
        ]
    }

    fn round_trip(d: &dyn Learned) -> Box<dyn Learned> {
        let bytes = postcard::to_allocvec(&d.save()).unwrap();
        let state: DetectorState = postcard::from_bytes(&bytes).unwrap();
        state.into_detector()
    }

    /// Every kind, stopped at points before, during and after its warm-up (and with a step
    /// and non-finite values in its history), restored from its bytes, scores the rest of the
    /// series exactly as the detector that never stopped.
    #[test]
    fn every_kind_round_trips_and_scores_on_identically() {
        for seed in 1..=3u64 {
            let mut series = daily(seed, 1600);
            // A level shift, a spike and non-finite values: state beyond the plain profile.
            for (i, v) in noise(seed + 10, 300, 80.0, 2.0).into_iter().enumerate() {
                series[900 + i] = v;
            }
            series[1300] = 1e6;
            series[40] = f64::NAN;
            series[41] = f64::INFINITY;
            for stop in [0usize, 5, 37, 450, 1250] {
                for (mut live, name) in every_kind().into_iter().map(|d| {
                    let n = d.name();
                    (d, n)
                }) {
                    for (i, &v) in series[..stop].iter().enumerate() {
                        live.observe(i as i64 * STEP_MS, v);
                    }
                    let mut restored = round_trip(live.as_ref());
                    assert_eq!(restored.name(), name);
                    assert_eq!(restored.skipped(), live.skipped(), "{name}");
                    for (i, &v) in series.iter().enumerate().skip(stop) {
                        let ts = i as i64 * STEP_MS;
                        let (a, b) = (live.observe(ts, v), restored.observe(ts, v));
                        assert_eq!(a, b, "{name}, seed {seed}, stopped at {stop}, point {i}");
                    }
                    if stop == 1250 {
                        // The comparison above covered scored points, not only warm-up.
                        assert!(matches!(
                            live.observe(1600 * STEP_MS, 50.0),
                            Verdict::Scored(_)
                        ));
                    }
                }
            }
        }
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let mut d = Ensemble::new(EnsembleParams::default()).unwrap();
        for (i, v) in daily(5, 400).into_iter().enumerate() {
            d.observe(i as i64 * STEP_MS, v);
        }
        let bytes = postcard::to_allocvec(&d.save()).unwrap();
        for cut in [0, 1, 7, bytes.len() / 2, bytes.len() - 1] {
            assert!(postcard::from_bytes::<DetectorState>(&bytes[..cut]).is_err());
        }
        // A variant past the known kinds.
        assert!(postcard::from_bytes::<DetectorState>(&[42, 0, 0]).is_err());
    }

    #[test]
    fn a_young_detector_saves_small() {
        let young =
            postcard::to_allocvec(&Ensemble::new(EnsembleParams::default()).unwrap().save())
                .unwrap();
        let mut old = Ensemble::new(EnsembleParams::default()).unwrap();
        for (i, v) in daily(6, 3000).into_iter().enumerate() {
            old.observe(i as i64 * STEP_MS, v);
        }
        let old = postcard::to_allocvec(&old.save()).unwrap();
        assert!(
            young.len() * 4 < old.len(),
            "{} vs {}",
            young.len(),
            old.len()
        );
    }
}
