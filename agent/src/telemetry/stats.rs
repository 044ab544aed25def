//! Self-metrics: counters every component bumps, read by the shutdown summary (and later by the
//! /metrics endpoint). Relaxed atomics: each counter is independent.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Stats {
    /// Samples that reached the pipeline.
    pub samples: AtomicU64,
    /// Host sample batches dropped oldest-first because the pipeline fell behind.
    pub host_batches_dropped: AtomicU64,
    /// Host collection steps that failed (a /proc read, a statvfs).
    pub host_errors: AtomicU64,
    /// Process-group collection steps that could not list /proc.
    pub process_errors: AtomicU64,
    /// Reads of a matched process's /proc/<pid>/fd refused for lack of permission.
    pub process_fds_denied: AtomicU64,
    /// Matched processes not measured because their group reached `max_pids` (per step).
    pub process_pids_capped: AtomicU64,
    /// Prometheus scrapes that succeeded.
    pub scrapes_ok: AtomicU64,
    /// Failed scrapes by reason (`timeout`, `connect`, `status`, `too_large`, `parse`, `other`).
    pub scrape_errors: Labelled,
    /// Scraped series not turned into signals, per scrape, by reason: `limit` (their target
    /// reached `max_series`) or `duplicate` (their signal name was taken in the same scrape).
    pub scrape_series_dropped: Labelled,
    /// Lines of scraped bodies that are not valid exposition text: skipped.
    pub scrape_lines_invalid: AtomicU64,
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
    pub incidents_opened: AtomicU64,
    pub incidents_resolved: AtomicU64,
    /// Alert events written by the stdout sink.
    pub stdout_written: AtomicU64,
    pub stdout_errors: AtomicU64,
    /// Log lines (or multiline events) fully processed by the log stage.
    pub log_lines: AtomicU64,
    /// Bytes read from log files.
    pub log_bytes_read: AtomicU64,
    /// Log files being tailed (a gauge).
    pub log_files_watched: AtomicU64,
    /// Lines cut at `max_line_bytes`.
    pub log_lines_truncated: AtomicU64,
    /// Container log records (CRI, Docker json-file) that could not be decoded: skipped.
    pub log_records_malformed: AtomicU64,
    /// Lines with invalid UTF-8 (replaced by U+FFFD for mining; the lines sink keeps them so).
    pub log_lines_invalid_utf8: AtomicU64,
    /// Lines containing NUL bytes (removed before mining).
    pub log_lines_with_nul: AtomicU64,
    /// Lines whose header did not match the source's `format` (mined whole).
    pub log_lines_unparsed: AtomicU64,
    /// Files followed to a new name (rename rotation).
    pub log_files_renamed: AtomicU64,
    /// Files truncated or rewritten in place (copytruncate), read again from 0.
    pub log_files_truncated: AtomicU64,
    /// Files found deleted while open (read to their end).
    pub log_files_deleted: AtomicU64,
    /// Copies of followed files (copytruncate's rotated copy): left alone while the original
    /// is followed, read from where the original stopped once it is truncated or finished.
    pub log_files_copies: AtomicU64,
    /// Files deleted or rotated away, read to their end, and closed.
    pub log_files_finished: AtomicU64,
    /// Files that disappeared between being listed and being opened.
    pub log_files_vanished: AtomicU64,
    /// Compressed files matched by a glob and not read.
    pub log_files_compressed: AtomicU64,
    /// Matched paths that are not regular files (directories, FIFOs, sockets, devices).
    pub log_files_not_regular: AtomicU64,
    /// Files or directories that could not be opened for lack of permission (once per path).
    pub log_permission_denied: AtomicU64,
    /// Symbolic link loops met by discovery (once per path).
    pub log_symlink_loops: AtomicU64,
    /// Other errors listing directories (once per path).
    pub log_walk_errors: AtomicU64,
    /// Other errors opening or reading files.
    pub log_read_errors: AtomicU64,
    /// Checkpoint, lines-sink or template-state writes that failed (retried).
    pub log_state_errors: AtomicU64,
    /// Templates created by the template miners.
    pub log_templates_new: AtomicU64,
    /// Journal records fully processed by the log stage.
    pub journal_records: AtomicU64,
    /// journalctl output lines that were not journal records (or too long): skipped.
    pub journal_records_malformed: AtomicU64,
    /// Records of units beyond `max_units`, mined together as the unit `_overflow`.
    pub journal_records_unit_overflow: AtomicU64,
    /// Units mined separately (a gauge).
    pub journal_units: AtomicU64,
    /// journalctl restarts (it exited, or could not be started).
    pub journal_restarts: AtomicU64,
    /// Lines journalctl wrote on its standard error.
    pub journal_stderr_lines: AtomicU64,
    /// Remediation hook runs by outcome, and matches not run because of a limit.
    pub hook_runs_ok: AtomicU64,
    pub hook_runs_failed: AtomicU64,
    pub hook_runs_timed_out: AtomicU64,
    /// Runs stopped because the agent stopped.
    pub hook_runs_interrupted: AtomicU64,
    pub hook_runs_skipped_concurrency: AtomicU64,
    pub hook_runs_skipped_interval: AtomicU64,
    pub hook_runs_dry_run: AtomicU64,
    /// OTLP gauge exports (`[sinks.otlp] metrics`) that succeeded and failed.
    pub otlp_metric_exports: AtomicU64,
    pub otlp_metric_export_failures: AtomicU64,
    /// Signal values left out of the OTLP gauges by `metrics_max_signals`.
    pub otlp_metric_series_refused: AtomicU64,
    /// Configuration reloads (SIGHUP) applied.
    pub reloads_ok: AtomicU64,
    /// Configuration reloads refused (invalid file, or a component that could not be set up):
    /// the running configuration was kept.
    pub reloads_refused: AtomicU64,
    /// Per-sink delivery counters of the outbox-backed sinks, in registration order.
    pub sinks: Mutex<Vec<Arc<SinkStats>>>,
    /// Alert events kept from the sinks by a silence.
    pub alerts_silenced: AtomicU64,
    /// Silences API requests refused as malformed or invalid (answered 4xx).
    pub api_requests_rejected: AtomicU64,
    /// Anomalous points by severity (`warning`, `critical`).
    pub anomalies_by_severity: Labelled,
    /// Firing alert events sent to the sinks, by severity (escalations count again).
    pub alerts_by_severity: Labelled,
    /// Unix ms of the pipeline's last tick: /healthz reports a stalled pipeline.
    pub heartbeat_ms: AtomicU64,
    /// Each signal's last anomaly score; filled only with `[http] scores = true`.
    pub scores: Mutex<HashMap<Arc<str>, f64>>,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// One line for the log at stop: every counter of the catalog, `key=value`.
    pub fn summary(&self) -> String {
        super::catalog::summary(self, crate::clock::now_ms())
    }

    /// Registers (or finds) the counters of sink `name`.
    pub fn sink(&self, name: &str) -> Arc<SinkStats> {
        let mut sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sinks.iter().find(|s| s.name == name) {
            return Arc::clone(s);
        }
        let s = Arc::new(SinkStats::new(name));
        sinks.push(Arc::clone(&s));
        s
    }
}

/// Counters keyed by a label value (a severity, an outcome), for the few events that need one.
#[derive(Debug, Default)]
pub struct Labelled(Mutex<BTreeMap<String, u64>>);

impl Labelled {
    pub fn add(&self, label: &str, n: u64) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(label) {
            Some(c) => *c += n,
            None => {
                m.insert(label.to_owned(), n);
            }
        }
    }

    /// Every label with its count, in label order.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// Delivery counters of one outbox-backed sink (`sinks.{name}.*` in the summary).
#[derive(Debug)]
pub struct SinkStats {
    pub name: String,
    /// Records in the outbox not yet acknowledged by the peer (a gauge).
    pub queued: AtomicU64,
    /// Records the peer acknowledged.
    pub delivered: AtomicU64,
    /// Records sent again after a failed attempt (one per record per retry).
    pub retried: AtomicU64,
    /// Records lost: dropped oldest-first at the outbox bound, refused by the peer for good,
    /// or not appendable (disk error, oversized).
    pub dropped: AtomicU64,
    /// Corrupt or torn records found on disk and skipped (never delivered).
    pub corrupt: AtomicU64,
    /// Append time (unix ms) of the oldest undelivered record; 0 when none.
    pub oldest_ms: AtomicU64,
}

impl SinkStats {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            queued: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            oldest_ms: AtomicU64::new(0),
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Age of the oldest undelivered record at `now_ms`; 0 when nothing is queued.
    pub fn oldest_age_ms(&self, now_ms: i64) -> u64 {
        match Self::get(&self.oldest_ms) {
            0 => 0,
            t => u64::try_from(now_ms).unwrap_or(0).saturating_sub(t),
        }
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
