//! Each signal's last anomaly score, for /metrics (`[http] scores = true`).

use std::sync::Arc;

use crate::event::Sample;
use crate::pipeline::observer::Observer;
use crate::telemetry::stats::Stats;

/// Keeps `Stats::scores` up to date from the pipeline's scores.
pub struct ScoreExport(pub Arc<Stats>);

impl Observer for ScoreExport {
    fn scored(
        &self,
        sample: &Sample,
        score: Option<f64>,
        _anomalous: bool,
        _stage: seismo_detectors::Stage,
    ) {
        if let Some(score) = score {
            let mut scores = self.0.scores.lock().unwrap_or_else(|p| p.into_inner());
            scores.insert(Arc::clone(&sample.signal), score);
        }
    }

    fn forget(&self, signal: &str) {
        let mut scores = self.0.scores.lock().unwrap_or_else(|p| p.into_inner());
        scores.remove(signal);
    }
}
