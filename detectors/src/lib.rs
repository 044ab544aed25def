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

mod detector;
mod drain;
mod ewma;
mod log_format;
pub mod masking;
mod parse_accuracy;
mod score;

pub use detector::{Detector, Observation, Verdict};
pub use drain::{Match, MinerConfig, MinerConfigError, StateError, TemplateInfo, TemplateMiner};
pub use ewma::{EwmaParams, ParamError, RobustEwma};
pub use log_format::{Fields, FormatError, LogFormat};
pub use parse_accuracy::grouping_accuracy;
pub use score::{score_from_z, z_for_score};
