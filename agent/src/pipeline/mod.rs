//! The pipeline: one detector per signal, created on first sight from the configuration, fed
//! every sample; anomalies and normal points go through alerting, alerts through incident
//! grouping, and both to its output (the sinks). Observers follow the scores.

mod detectors;
mod handle;
pub mod observer;
pub mod output;
pub mod snapshot;
mod stage;
pub mod warmup;

pub use detectors::build_detector;
pub use handle::PipelineHandle;
pub use stage::{DetectorsReloaded, Pipeline, PipelineCommand};
