//! Why a scrape failed: its own file, so that the body reader (`series.rs`) and the
//! fetching task (`mod.rs`) both name it without importing each other.

use std::time::Duration;

/// Why a scrape failed; `reason` labels the self-metric.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the target answered HTTP {0}")]
    Status(u16),
    #[error("the body is larger than max_body_bytes ({0} bytes)")]
    TooLarge(usize),
    #[error("the body is not Prometheus text exposition: {0}")]
    Parse(String),
    #[error("{0}")]
    Other(String),
}

impl ScrapeError {
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            ScrapeError::Timeout(_) => "timeout",
            ScrapeError::Connect(_) => "connect",
            ScrapeError::Status(_) => "status",
            ScrapeError::TooLarge(_) => "too_large",
            ScrapeError::Parse(_) => "parse",
            ScrapeError::Other(_) => "other",
        }
    }
}
