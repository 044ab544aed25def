//! `/metrics`: the self-metrics in the Prometheus text exposition format 0.0.4.
//!
//! Every family has `# HELP` and `# TYPE` lines, counters end in `_total`, label values are
//! escaped (`\\`, `\"`, `\n`), and every series of a family is written together.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::process::ProcessStats;
use super::state::HttpState;
use crate::clock::now_ms;
use crate::telemetry::stats::{SinkStats, Stats};

pub(super) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    let body = render(&s, &ProcessStats::read());
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// A text exposition being written.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: Value) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(k);
                self.0.push_str("=\"");
                escape_label_value(&mut self.0, v);
                self.0.push('"');
            }
            self.0.push('}');
        }
        self.0.push(' ');
        match value {
            Value::Int(n) => {
                let _ = write!(self.0, "{n}");
            }
            Value::Float(f) => write_float(&mut self.0, f),
        }
        self.0.push('\n');
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, kind: Kind, help: &str, value: Value) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

#[derive(Clone, Copy)]
enum Value {
    Int(u64),
    Float(f64),
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{f}");
    }
}

fn render(s: &HttpState, process: &ProcessStats) -> String {
    use Kind::{Counter, Gauge};
    use Value::{Float, Int};
    let st: &Stats = &s.stats;
    let g = |c: &std::sync::atomic::AtomicU64| Int(Stats::get(c));
    let mut e = Exposition(String::with_capacity(8192));

    e.family("seismo_build_info", Gauge, "The agent's version; always 1.");
    e.sample(
        "seismo_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        Int(1),
    );
    e.single(
        "seismo_ready",
        Gauge,
        "1 once sources and sinks are started (what /readyz answers), else 0.",
        Int(u64::from(s.ready.load(Ordering::Relaxed))),
    );
    let beat = st.heartbeat_ms.load(Ordering::Relaxed);
    if beat > 0 {
        let age = u64::try_from(now_ms()).unwrap_or(0).saturating_sub(beat);
        e.single(
            "seismo_pipeline_heartbeat_age_seconds",
            Gauge,
            "Seconds since the pipeline last ticked (it ticks every second; /healthz fails past 30).",
            Float(age as f64 / 1000.0),
        );
    }

    e.family(
        "seismo_reloads_total",
        Counter,
        "Configuration reloads (SIGHUP) by outcome: applied, refused (an invalid file, or a component that could not be set up: the running configuration was kept).",
    );
    for (outcome, c) in [
        ("applied", &st.reloads_ok),
        ("refused", &st.reloads_refused),
    ] {
        e.sample("seismo_reloads_total", &[("outcome", outcome)], g(c));
    }

    // Sources.
    e.single(
        "seismo_samples_total",
        Counter,
        "Samples of host and log signals that reached the pipeline.",
        g(&st.samples),
    );
    e.single(
        "seismo_host_errors_total",
        Counter,
        "Host metric collection steps that failed (a /proc read, a statvfs).",
        g(&st.host_errors),
    );
    e.single(
        "seismo_log_lines_total",
        Counter,
        "Log lines (or multiline events) fully processed.",
        g(&st.log_lines),
    );
    e.single(
        "seismo_log_bytes_read_total",
        Counter,
        "Bytes read from log files.",
        g(&st.log_bytes_read),
    );
    e.single(
        "seismo_log_files_watched",
        Gauge,
        "Log files being tailed.",
        g(&st.log_files_watched),
    );
    e.single(
        "seismo_log_templates_created_total",
        Counter,
        "Log templates created by the template miners.",
        g(&st.log_templates_new),
    );
    e.family(
        "seismo_journal_records_total",
        Counter,
        "Journal records by outcome: processed (mined per unit), malformed (journalctl output that was not a record, skipped), unit_overflow (processed, of units beyond max_units, mined together as _overflow).",
    );
    for (outcome, c) in [
        ("processed", &st.journal_records),
        ("malformed", &st.journal_records_malformed),
        ("unit_overflow", &st.journal_records_unit_overflow),
    ] {
        e.sample(
            "seismo_journal_records_total",
            &[("outcome", outcome)],
            g(c),
        );
    }
    e.single(
        "seismo_journal_units",
        Gauge,
        "Journal units mined separately.",
        g(&st.journal_units),
    );
    e.single(
        "seismo_journal_restarts_total",
        Counter,
        "journalctl restarts (it exited or could not be started); each is retried with backoff.",
        g(&st.journal_restarts),
    );
    e.single(
        "seismo_journal_stderr_lines_total",
        Counter,
        "Lines journalctl wrote on its standard error (logged at most once a minute).",
        g(&st.journal_stderr_lines),
    );
    e.family(
        "seismo_log_lines_flagged_total",
        Counter,
        "Log lines with a problem, processed anyway: truncated (cut at max_line_bytes), invalid_utf8 (bytes replaced), with_nul (NUL bytes removed), unparsed (header did not match the format).",
    );
    for (kind, c) in [
        ("truncated", &st.log_lines_truncated),
        ("invalid_utf8", &st.log_lines_invalid_utf8),
        ("with_nul", &st.log_lines_with_nul),
        ("unparsed", &st.log_lines_unparsed),
    ] {
        e.sample("seismo_log_lines_flagged_total", &[("kind", kind)], g(c));
    }
    e.family(
        "seismo_log_file_events_total",
        Counter,
        "Log file events: renamed (rotation followed), truncated (copytruncate, read again from 0), deleted, finished (rotated or deleted file read to its end and closed), vanished (gone before it was opened), compressed and not_regular (matched and skipped).",
    );
    for (event, c) in [
        ("renamed", &st.log_files_renamed),
        ("truncated", &st.log_files_truncated),
        ("deleted", &st.log_files_deleted),
        ("finished", &st.log_files_finished),
        ("vanished", &st.log_files_vanished),
        ("compressed", &st.log_files_compressed),
        ("not_regular", &st.log_files_not_regular),
    ] {
        e.sample("seismo_log_file_events_total", &[("event", event)], g(c));
    }
    e.family(
        "seismo_log_errors_total",
        Counter,
        "Errors of the file source, by kind: permission_denied and symlink_loop (once per path), walk (listing directories), read (opening or reading files), state (checkpoint, lines sink or template state writes, retried).",
    );
    for (kind, c) in [
        ("permission_denied", &st.log_permission_denied),
        ("symlink_loop", &st.log_symlink_loops),
        ("walk", &st.log_walk_errors),
        ("read", &st.log_read_errors),
        ("state", &st.log_state_errors),
    ] {
        e.sample("seismo_log_errors_total", &[("kind", kind)], g(c));
    }
    e.family(
        "seismo_process_errors_total",
        Counter,
        "Problems of the process groups ([[sources.processes]]), by kind: proc_unreadable (a step could not list /proc), fds_denied (a process's /proc/PID/fd refused for lack of permission: its group reports no fds), pids_capped (matched processes not measured past max_pids, per step).",
    );
    for (kind, c) in [
        ("proc_unreadable", &st.process_errors),
        ("fds_denied", &st.process_fds_denied),
        ("pids_capped", &st.process_pids_capped),
    ] {
        e.sample("seismo_process_errors_total", &[("kind", kind)], g(c));
    }
    e.single(
        "seismo_scrapes_total",
        Counter,
        "Prometheus scrapes ([[sources.scrape]]) that succeeded.",
        g(&st.scrapes_ok),
    );
    e.family(
        "seismo_scrape_errors_total",
        Counter,
        "Failed scrapes by reason: timeout, connect (refused or unreachable), status (not 2xx), too_large (past max_body_bytes), parse (no valid sample in the body), other. Each is retried at the next interval.",
    );
    let errors = st.scrape_errors.snapshot();
    for reason in [
        "timeout",
        "connect",
        "status",
        "too_large",
        "parse",
        "other",
    ] {
        let n = errors
            .iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n);
        e.sample("seismo_scrape_errors_total", &[("reason", reason)], Int(n));
    }
    e.family(
        "seismo_scrape_series_dropped_total",
        Counter,
        "Scraped series not turned into signals, counted per scrape, by reason: limit (the target reached max_series), duplicate (another series of the scrape already had its signal name).",
    );
    let dropped = st.scrape_series_dropped.snapshot();
    for reason in ["limit", "duplicate"] {
        let n = dropped
            .iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n);
        e.sample(
            "seismo_scrape_series_dropped_total",
            &[("reason", reason)],
            Int(n),
        );
    }
    e.single(
        "seismo_scrape_lines_invalid_total",
        Counter,
        "Lines of scraped bodies that are not exposition text (skipped).",
        g(&st.scrape_lines_invalid),
    );
    e.family(
        "seismo_dropped_total",
        Counter,
        "Input dropped, by reason: host_queue_full (sample batches of the host, process and scrape sources, which share sources.host.queue, dropped oldest-first because the pipeline fell behind), signal_limit (samples of new signals refused at detectors.max_signals), non_finite (NaN or infinite values skipped by detectors). Sink drops are in seismo_sink_dropped_total.",
    );
    for (reason, c) in [
        ("host_queue_full", &st.host_batches_dropped),
        ("signal_limit", &st.signals_refused),
        ("non_finite", &st.non_finite_skipped),
    ] {
        e.sample("seismo_dropped_total", &[("reason", reason)], g(c));
    }

    // Detectors and alerting.
    e.single(
        "seismo_detectors",
        Gauge,
        "Signals with a live detector.",
        g(&st.signals_active),
    );
    e.single(
        "seismo_signals_evicted_total",
        Counter,
        "Signals forgotten after detectors.idle_ttl without a sample.",
        g(&st.signals_evicted),
    );
    by_severity(
        &mut e,
        "seismo_anomalies_total",
        "Anomalous points scored by the detectors, by severity.",
        st.anomalies_by_severity.snapshot(),
    );
    by_severity(
        &mut e,
        "seismo_alerts_total",
        "Firing alert events sent to the sinks, by severity (an escalation to critical counts again).",
        st.alerts_by_severity.snapshot(),
    );
    e.single(
        "seismo_alerts_resolved_total",
        Counter,
        "Resolved alert events sent to the sinks.",
        g(&st.alerts_resolved),
    );
    e.single(
        "seismo_alerts_silenced_total",
        Counter,
        "Alert events kept from the sinks by a silence.",
        g(&st.alerts_silenced),
    );
    e.single(
        "seismo_silences_active",
        Gauge,
        "Silences in force (configuration and API).",
        Int(s.silences.active(now_ms()).len() as u64),
    );
    e.single(
        "seismo_api_requests_rejected_total",
        Counter,
        "Silences API requests refused as malformed or invalid (answered 4xx).",
        g(&st.api_requests_rejected),
    );
    // Hook runs by outcome (remediation hooks, issue 6) are reported here, next to the
    // alerts that trigger them, once the hooks' counters exist in `Stats`.

    // Sinks.
    e.single(
        "seismo_stdout_events_total",
        Counter,
        "Alert events written by the stdout sink.",
        g(&st.stdout_written),
    );
    e.single(
        "seismo_stdout_errors_total",
        Counter,
        "Alert events the stdout sink could not write.",
        g(&st.stdout_errors),
    );
    let sinks: Vec<_> = st.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if !sinks.is_empty() {
        let now = now_ms();
        type Read = fn(&SinkStats, i64) -> Value;
        let families: [(&str, Kind, &str, Read); 6] = [
            ("seismo_sink_queued", Gauge, "Events in the sink's outbox not yet acknowledged by its peer.", |s, _| Value::Int(SinkStats::get(&s.queued))),
            ("seismo_sink_delivered_total", Counter, "Events the sink's peer acknowledged.", |s, _| Value::Int(SinkStats::get(&s.delivered))),
            ("seismo_sink_retried_total", Counter, "Events offered again after a failed attempt (one per event per retry).", |s, _| Value::Int(SinkStats::get(&s.retried))),
            ("seismo_sink_dropped_total", Counter, "Events lost: dropped oldest-first at the outbox bound, refused by the peer for good, or not appendable.", |s, _| Value::Int(SinkStats::get(&s.dropped))),
            ("seismo_sink_corrupt_total", Counter, "Corrupt or torn outbox records skipped (never delivered).", |s, _| Value::Int(SinkStats::get(&s.corrupt))),
            ("seismo_sink_oldest_undelivered_age_seconds", Gauge, "Age of the oldest event in the outbox not yet delivered; 0 when none.", |s, now| Value::Float(s.oldest_age_ms(now) as f64 / 1000.0)),
        ];
        for (name, kind, help, read) in families {
            e.family(name, kind, help);
            for sink in &sinks {
                e.sample(name, &[("sink", &sink.name)], read(sink, now));
            }
        }
    }

    // Scores per signal (bounded by detectors.max_signals), in signal order.
    if s.scores {
        let mut scores: Vec<(std::sync::Arc<str>, f64)> = st
            .scores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (std::sync::Arc::clone(k), *v))
            .collect();
        scores.sort_by(|a, b| a.0.cmp(&b.0));
        e.family(
            "seismo_anomaly_score",
            Gauge,
            "The last anomaly score of each signal, 0..1 (at or above its detector's threshold is anomalous).",
        );
        for (signal, score) in &scores {
            e.sample("seismo_anomaly_score", &[("signal", signal)], Float(*score));
        }
    }

    if let Some(h) = process.heap {
        e.single(
            "seismo_heap_in_use_bytes",
            Gauge,
            "Heap bytes allocated and not yet freed, as the allocator counts them (chunk overhead and per-thread caches included).",
            Int(h.in_use),
        );
        e.single(
            "seismo_heap_free_bytes",
            Gauge,
            "Heap bytes free in the allocator's arenas, kept for reuse rather than returned to the system.",
            Int(h.free),
        );
    }

    // The process, under the names Prometheus client libraries use.
    if let Some(v) = process.cpu_seconds {
        e.single(
            "process_cpu_seconds_total",
            Counter,
            "User and system CPU time spent, in seconds.",
            Float(v),
        );
    }
    if let Some(v) = process.resident_bytes {
        e.single(
            "process_resident_memory_bytes",
            Gauge,
            "Resident memory size in bytes.",
            Int(v),
        );
    }
    if let Some(v) = process.virtual_bytes {
        e.single(
            "process_virtual_memory_bytes",
            Gauge,
            "Virtual memory size in bytes.",
            Int(v),
        );
    }
    if let Some(v) = process.start_time_seconds {
        e.single(
            "process_start_time_seconds",
            Gauge,
            "Start time of the process since the unix epoch, in seconds.",
            Float(v),
        );
    }
    if let Some(v) = process.open_fds {
        e.single("process_open_fds", Gauge, "Open file descriptors.", Int(v));
    }
    if let Some(v) = process.threads {
        e.single(
            "process_threads",
            Gauge,
            "Operating system threads.",
            Int(v),
        );
    }
    e.0
}

/// A counter family by severity, with `warning` and `critical` always present so the series
/// exist from the start (rates need a first zero).
fn by_severity(e: &mut Exposition, name: &str, help: &str, mut counts: Vec<(String, u64)>) {
    for sev in ["critical", "warning"] {
        if !counts.iter().any(|(k, _)| k == sev) {
            counts.push((sev.to_owned(), 0));
        }
    }
    counts.sort();
    e.family(name, Kind::Counter, help);
    for (sev, n) in &counts {
        e.sample(name, &[("severity", sev)], Value::Int(*n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn state(scores: bool) -> HttpState {
        HttpState::new(
            Arc::new(Stats::default()),
            Arc::new(crate::alerting::silences::Silences::from_config(&[], 0)),
            Arc::new(AtomicBool::new(true)),
            scores,
        )
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut e = Exposition(String::new());
        e.family("m", Kind::Gauge, "a \\ b\nc");
        e.sample("m", &[("a", "x\"y\\z\nw"), ("b", "ü")], Value::Float(0.5));
        e.sample("m", &[], Value::Float(f64::NAN));
        e.sample("m", &[], Value::Float(f64::NEG_INFINITY));
        assert_eq!(
            e.0,
            "# HELP m a \\\\ b\\nc\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\",b=\"ü\"} 0.5\nm NaN\nm -Inf\n"
        );
    }

    #[test]
    fn every_family_has_help_and_type_once_and_its_samples_follow() {
        let s = state(true);
        s.stats.sink("mqtt");
        s.stats.sink("otlp");
        s.stats.anomalies_by_severity.add("critical", 2);
        s.stats
            .scores
            .lock()
            .unwrap()
            .insert("log.a\"b.count".into(), 0.25);
        let text = render(&s, &ProcessStats::read());
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap().to_owned();
                assert!(seen.insert(name.clone()), "{name} twice");
                current = name;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split(' ');
                assert_eq!(it.next(), Some(current.as_str()));
                let kind = it.next().unwrap();
                assert_eq!(current.ends_with("_total"), kind == "counter", "{line}");
            } else {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(name, current, "{line} outside its family");
            }
        }
        assert!(text.contains("seismo_reloads_total{outcome=\"refused\"} 0\n"));
        assert!(text.contains("seismo_anomalies_total{severity=\"critical\"} 2\n"));
        assert!(text.contains("seismo_anomalies_total{severity=\"warning\"} 0\n"));
        assert!(text.contains("seismo_sink_queued{sink=\"otlp\"} 0\n"));
        assert!(text.contains("seismo_anomaly_score{signal=\"log.a\\\"b.count\"} 0.25\n"));
        assert!(text.contains("process_resident_memory_bytes "));
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(
            text.contains("seismo_heap_in_use_bytes ") && text.contains("seismo_heap_free_bytes ")
        );
        assert!(!render(&state(false), &ProcessStats::default()).contains("seismo_anomaly_score"));
    }
}
