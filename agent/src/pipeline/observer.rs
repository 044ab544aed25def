//! Observers of scored points: what follows the pipeline's scores without being part of it (the
//! status page, the OTLP gauges, the per-signal scores on /metrics). The daemon wires them; the
//! pipeline knows only this trait.

use std::collections::HashMap;
use std::sync::Arc;

use seismo_detectors::Stage;

use crate::event::{Event, LogEvidence, Sample};

/// Every method has a default that ignores the call: an observer takes what it needs.
pub trait Observer: Send + Sync {
    /// A sample was scored; `score` is `None` while its detector learns. `stage`: the
    /// detector's stage after the sample (what scores the signal's next point).
    fn scored(&self, _sample: &Sample, _score: Option<f64>, _anomalous: bool, _stage: Stage) {}

    /// The signal is no longer scored (evicted when idle, or disabled by a reload).
    fn forget(&self, _signal: &str) {}

    /// A log source's interval: the evidence (templates, samples) of its signals.
    fn log_evidence(&self, _evidence: &HashMap<Arc<str>, Arc<LogEvidence>>) {}

    /// Events on their way to the sinks (after silences and incident grouping), hook outcomes
    /// included.
    fn events(&self, _events: &[Event]) {}
}
