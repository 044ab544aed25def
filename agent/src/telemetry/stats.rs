//! Self-metrics: the counters every component bumps. What each one means, and where it is
//! shown (/metrics, the summary logged at stop), is its family in `catalog.rs`: a field added
//! here without one fails a test there; `Stats::summary` is defined there too. Relaxed atomics:
//! each counter is independent.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Stats {
    pub samples: AtomicU64,
    /// Samples of the metric sources dropped oldest-first at the queue to the pipeline.
    pub queue_samples_dropped: AtomicU64,
    /// Samples waiting in that queue now.
    pub queue_samples: AtomicU64,
    pub host_errors: AtomicU64,
    pub process_errors: AtomicU64,
    pub process_fds_denied: AtomicU64,
    pub process_pids_capped: AtomicU64,
    pub scrapes_ok: AtomicU64,
    /// By reason: `timeout`, `connect`, `status`, `too_large`, `parse`, `other`.
    pub scrape_errors: Labelled,
    /// By reason: `limit`, `duplicate`, `excluded`.
    pub scrape_series_dropped: Labelled,
    /// Series refused at `max_series` at each target's last scrape, by family.
    pub scrape_series_refused: RefusedBoard,
    pub scrape_lines_invalid: AtomicU64,
    pub non_finite_skipped: AtomicU64,
    pub signals_refused: AtomicU64,
    pub signals_evicted: AtomicU64,
    pub signals_active: AtomicU64,
    pub anomalies: AtomicU64,
    pub alerts_firing: AtomicU64,
    pub alerts_resolved: AtomicU64,
    pub incidents_opened: AtomicU64,
    pub incidents_resolved: AtomicU64,
    pub stdout_written: AtomicU64,
    pub stdout_errors: AtomicU64,
    pub log_lines: AtomicU64,
    pub log_bytes_read: AtomicU64,
    pub log_files_watched: AtomicU64,
    pub log_lines_truncated: AtomicU64,
    pub log_records_malformed: AtomicU64,
    pub log_lines_invalid_utf8: AtomicU64,
    pub log_lines_with_nul: AtomicU64,
    pub log_lines_unparsed: AtomicU64,
    pub log_files_renamed: AtomicU64,
    pub log_files_truncated: AtomicU64,
    pub log_files_deleted: AtomicU64,
    pub log_files_copies: AtomicU64,
    pub log_files_renamed_away: AtomicU64,
    pub log_checkpoints_beyond_size: AtomicU64,
    pub log_checkpoints_mismatched: AtomicU64,
    pub log_files_finished: AtomicU64,
    pub log_files_vanished: AtomicU64,
    pub log_files_compressed: AtomicU64,
    pub log_files_not_regular: AtomicU64,
    pub log_permission_denied: AtomicU64,
    pub log_symlink_loops: AtomicU64,
    pub log_walk_errors: AtomicU64,
    pub log_read_errors: AtomicU64,
    pub log_state_errors: AtomicU64,
    /// Milliseconds the lines sink was blocked, periods that ended.
    pub lines_sink_blocked_ms: AtomicU64,
    /// While the lines sink cannot write (reading paused): since when and why.
    pub lines_sink_blocked: Mutex<Option<SinkBlock>>,
    pub log_templates_new: AtomicU64,
    /// Per log source, the templates refused a signal of their own at `max_templates`.
    pub log_templates_refused: Labelled,
    pub journal_records: AtomicU64,
    /// Old lines and records learned as history (see `crate::logs::history`).
    pub history_lines: AtomicU64,
    pub journal_records_malformed: AtomicU64,
    pub journal_records_unit_overflow: AtomicU64,
    pub journal_units: AtomicU64,
    pub journal_restarts: AtomicU64,
    pub journal_stderr_lines: AtomicU64,
    pub hook_runs_ok: AtomicU64,
    pub hook_runs_failed: AtomicU64,
    pub hook_runs_timed_out: AtomicU64,
    pub hook_runs_interrupted: AtomicU64,
    pub hook_runs_skipped_concurrency: AtomicU64,
    pub hook_runs_skipped_interval: AtomicU64,
    pub hook_runs_dry_run: AtomicU64,
    /// Hook decisions by result: applied (approved, rejected, run) or why refused.
    pub hook_decisions: Labelled,
    pub otlp_metric_exports: AtomicU64,
    pub otlp_metric_export_failures: AtomicU64,
    pub otlp_metric_series_refused: AtomicU64,
    pub reloads_ok: AtomicU64,
    /// Snapshots of the learned state written, and those that failed (disk full, I/O).
    pub snapshots_written: AtomicU64,
    pub snapshot_errors: AtomicU64,
    /// The last snapshot written: its size, its signals, and how long it took (µs, from its
    /// start to its write being durable).
    pub snapshot_bytes: AtomicU64,
    pub snapshot_signals: AtomicU64,
    pub snapshot_micros: AtomicU64,
    pub reloads_refused: AtomicU64,
    /// Per-sink delivery counters of the outbox-backed sinks, in registration order.
    pub sinks: Mutex<Vec<Arc<SinkStats>>>,
    pub alerts_silenced: AtomicU64,
    pub api_requests_rejected: AtomicU64,
    /// By severity: `warning`, `critical`.
    pub anomalies_by_severity: Labelled,
    /// By severity: `warning`, `critical`.
    pub alerts_by_severity: Labelled,
    /// Unix ms of the pipeline's last tick: /healthz reports a stalled pipeline.
    pub heartbeat_ms: AtomicU64,
    /// Each signal's last anomaly score; filled only with `[http] scores = true`.
    pub scores: Mutex<HashMap<Arc<str>, f64>>,
    /// What each log source learned from history at its start.
    pub history: super::history::HistoryBoard,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
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

impl Stats {
    /// The lines sink cannot write from `since_ms` (unix ms): readiness fails with `reason`.
    pub fn lines_sink_block(&self, since_ms: u64, reason: String) {
        let mut b = self
            .lines_sink_blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *b = Some(SinkBlock { since_ms, reason });
    }

    /// The lines sink writes again at `now_ms`: the period is added to the total.
    pub fn lines_sink_unblock(&self, now_ms: u64) {
        let mut b = self
            .lines_sink_blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(block) = b.take() {
            Self::add(
                &self.lines_sink_blocked_ms,
                now_ms.saturating_sub(block.since_ms),
            );
        }
    }

    /// Why the lines sink is blocked and for how long (ms), at `now_ms`; `None` when it writes.
    pub fn lines_sink_blocked_now(&self, now_ms: u64) -> Option<(String, u64)> {
        let b = self
            .lines_sink_blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        b.as_ref()
            .map(|b| (b.reason.clone(), now_ms.saturating_sub(b.since_ms)))
    }

    /// Milliseconds the lines sink has been blocked in all, the current period included.
    pub fn lines_sink_blocked_total_ms(&self, now_ms: u64) -> u64 {
        let current = self.lines_sink_blocked_now(now_ms).map_or(0, |(_, ms)| ms);
        Self::get(&self.lines_sink_blocked_ms) + current
    }
}

/// A period during which the lines sink cannot write.
#[derive(Debug)]
pub struct SinkBlock {
    pub since_ms: u64,
    pub reason: String,
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

    /// Sets `label` to `n`, as a gauge; 0 removes it.
    pub fn set(&self, label: &str, n: u64) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if n == 0 {
            m.remove(label);
        } else if let Some(c) = m.get_mut(label) {
            *c = n;
        } else {
            m.insert(label.to_owned(), n);
        }
    }

    /// Every label with its count, in label order.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// Per scrape target, the series its last scrape refused by metric family (each target's list
/// is bounded where it is made). `run` tells a target's task from the one a reload replaced it
/// with, so that the old one's leaving does not erase the new one's figures.
#[derive(Debug, Default)]
pub struct RefusedBoard(Mutex<BTreeMap<String, (u64, Families)>>);

/// (family, series refused), as a target lists them.
pub type Families = Vec<(String, u64)>;

impl RefusedBoard {
    /// Target `target`'s families after a scrape of its task `run` (empty: none refused).
    pub fn set(&self, target: &str, run: u64, families: Families) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if families.is_empty() {
            if m.get(target).is_some_and(|e| e.0 == run) {
                m.remove(target);
            }
        } else {
            m.insert(target.to_owned(), (run, families));
        }
    }

    /// Task `run` of `target` stopped: its figures go unless a newer task already set its own.
    pub fn clear(&self, target: &str, run: u64) {
        self.set(target, run, Vec::new());
    }

    /// (target, family, series refused), in target order, each target's families as listed.
    pub fn snapshot(&self) -> Vec<(String, String, u64)> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .flat_map(|(t, (_, fs))| fs.iter().map(move |(f, n)| (t.clone(), f.clone(), *n)))
            .collect()
    }
}

/// Delivery counters of one outbox-backed sink (`{name}.*` in the summary).
#[derive(Debug)]
pub struct SinkStats {
    pub name: String,
    pub queued: AtomicU64,
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub dropped: AtomicU64,
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
