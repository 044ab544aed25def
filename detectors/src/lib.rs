//! seismo's streaming anomaly detectors.
//!
//! Everything in this crate is pure and synchronous: no I/O, no clocks, no threads, no async
//! runtime. A detector is fed `(timestamp, value)` pairs one at a time and answers with a
//! [`Verdict`]; the same input sequence always yields the same verdicts, so every behaviour can
//! be unit-tested with plain data. Memory per detector is bounded whatever the input.
//!
//! Scores are calibrated to `[0, 1]` by [`score_from_z`] so that thresholds mean the same thing
//! across detectors and signals.

mod calibration;
mod cusum;
mod detector;
mod ensemble;
mod ewma;
mod kmeans;
mod knn;
mod mad;
pub mod nab;
mod param;
mod score;
mod seasonal;
#[cfg(test)]
mod synth;
mod window;

pub use cusum::{Cusum, CusumParams};
pub use detector::{Detector, Observation, Verdict};
pub use ensemble::{Ensemble, EnsembleParams};
pub use ewma::{EwmaParams, ParamError, RobustEwma};
pub use kmeans::{KMeansDetector, KMeansParams};
pub use knn::{KnnConformal, KnnParams};
pub use mad::{MadParams, SlidingMad};
pub use param::InvalidParam;
pub use score::{score_from_z, z_for_score};
pub use seasonal::{Seasonal, SeasonalParams};
