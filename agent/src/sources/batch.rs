//! What the metric sources (host, processes, scrape targets) hand to the pipeline.

use std::sync::Arc;

use crate::event::Sample;

/// One collection step's samples.
pub type Batch = Arc<Vec<Sample>>;
