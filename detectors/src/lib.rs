//! seismo's streaming anomaly detectors and log template miner.
//!
//! Everything in this crate is pure and synchronous: no I/O, no clocks, no threads, no async
//! runtime. A detector is fed `(timestamp, value)` pairs one at a time and answers with a
//! [`Verdict`]; the same input sequence always yields the same verdicts, so every behaviour can
//! be unit-tested with plain data. Memory per detector is bounded whatever the input.
//!
//! Scores are calibrated to `[0, 1]` by [`score_from_z`] so that thresholds mean the same thing
//! across detectors and signals.
//!
//! Logs: [`TemplateMiner`] (Drain with masking, see [`drain`](crate::TemplateMiner)) turns log
//! messages into stable template ids; [`LogFormat`] splits a line's header from its message;
//! [`grouping_accuracy`] scores a parser against labelled data.

// No unwrap()/expect() outside tests: input, I/O and the network must not crash the agent.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod byte_scan;
mod calibration;
mod cusum;
mod date_span;
mod detector;
mod drain;
mod early;
mod ensemble;
mod evidence;
mod ewma;
mod header;
mod history;
mod kmeans;
mod knn;
mod log_format;
mod mad;
pub mod masking;
pub mod nab;
mod param;
mod parse_accuracy;
mod period;
mod quantised;
mod scale;
mod score;
mod seasonal;
mod state;
#[cfg(test)]
mod synth;
#[cfg(test)]
mod test_rng;
mod variable_form;
mod window;

pub use cusum::{Cusum, CusumParams};
pub use detector::{Detector, Observation, Stage, Verdict};
pub use drain::{Match, MinerConfig, MinerConfigError, StateError, TemplateInfo, TemplateMiner};
pub use ensemble::{Ensemble, EnsembleParams};
pub use evidence::{Component, Evidence, Finding, Position, MAX_COMPONENTS};
pub use ewma::{EwmaParams, RobustEwma};
pub use header::{split_header, Header, HeaderSplitter};
pub use kmeans::{KMeansDetector, KMeansParams};
pub use knn::{KnnConformal, KnnParams};
pub use log_format::{Fields, FormatError, LogFormat};
pub use mad::{MadParams, SlidingMad};
pub use param::InvalidParam;
pub use parse_accuracy::{
    csv_rows, f1_group_accuracy, grouping_accuracy, loghub_column, loghub_event_ids,
    loghub_normalize, parsing_accuracy,
};
pub use score::{score_from_z, z_for_score};
pub use seasonal::{Seasonal, SeasonalParams};
pub use state::{DetectorState, Learned, SavedDetector};
pub use variable_form::VariableForm;
