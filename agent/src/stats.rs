//! Self-metrics: counters every component bumps, read by the shutdown summary (and later by the
//! /metrics endpoint). Relaxed atomics: each counter is independent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Stats {
    /// Samples that reached the pipeline.
    pub samples: AtomicU64,
    /// Host sample batches dropped oldest-first because the pipeline fell behind.
    pub host_batches_dropped: AtomicU64,
    /// Host collection steps that failed (a /proc read, a statvfs).
    pub host_errors: AtomicU64,
    /// NaN or infinite values skipped by detectors.
    pub non_finite_skipped: AtomicU64,
    /// Samples of new signals refused because `detectors.max_signals` was reached.
    pub signals_refused: AtomicU64,
    /// Signals forgotten after `detectors.idle_ttl`.
    pub signals_evicted: AtomicU64,
    /// Signals with a live detector.
    pub signals_active: AtomicU64,
    pub anomalies: AtomicU64,
    pub alerts_firing: AtomicU64,
    pub alerts_resolved: AtomicU64,
    /// Alert events written by the stdout sink.
    pub stdout_written: AtomicU64,
    pub stdout_errors: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        let g = Self::get;
        format!(
            "samples={} signals={} anomalies={} alerts_firing={} alerts_resolved={} \
             stdout_written={} host_batches_dropped={} host_errors={} non_finite_skipped={} \
             signals_refused={} signals_evicted={} stdout_errors={}",
            g(&self.samples),
            g(&self.signals_active),
            g(&self.anomalies),
            g(&self.alerts_firing),
            g(&self.alerts_resolved),
            g(&self.stdout_written),
            g(&self.host_batches_dropped),
            g(&self.host_errors),
            g(&self.non_finite_skipped),
            g(&self.signals_refused),
            g(&self.signals_evicted),
            g(&self.stdout_errors),
        )
    }
}

/// Lets a recurring problem be logged once per period with the count since the last log line,
/// instead of once per occurrence.
#[derive(Debug)]
pub struct LogLimiter {
    period: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: None,
            suppressed: 0,
        }
    }

    /// Records one occurrence; returns `Some(n)` (occurrences since the last log, this one
    /// included) when it is time to log.
    pub fn hit(&mut self) -> Option<u64> {
        self.suppressed += 1;
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.period)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_logs_first_then_counts() {
        let mut l = LogLimiter::new(Duration::from_secs(3600));
        assert_eq!(l.hit(), Some(1));
        assert_eq!(l.hit(), None);
        assert_eq!(l.hit(), None);
        let mut l0 = LogLimiter::new(Duration::ZERO);
        assert_eq!(l0.hit(), Some(1));
        assert_eq!(l0.hit(), Some(1));
    }
}
