//! The self-metrics, described once: each family's name, kind, help text, label and how its
//! values are read from [`Stats`]. `/metrics` (`http/metrics.rs`) and the summary logged at
//! stop ([`summary`]) both render [`FAMILIES`]; neither names a counter of its own.
//!
//! A field added to `Stats` (or `SinkStats`) without an entry here fails the test
//! `every_stats_field_is_described`.

use std::fmt::Write;
use std::sync::Arc;

use super::stats::{Labelled, SinkStats, Stats};

/// The `result` labels of `seismo_hook_decisions_total`: applied, or why refused (the labels of
/// `alerting::hooks::decisions::Refusal`).
pub const HOOK_DECISION_RESULTS: &[&str] = &[
    "approved",
    "rejected",
    "run",
    "invalid",
    "unsigned",
    "bad_signature",
    "replayed",
    "unknown",
    "expired",
    "duplicate",
    "busy",
    "not_recorded",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

/// One family of self-metrics.
pub struct Family {
    /// The exposition name: `seismo_*`, counters end in `_total`.
    pub name: &'static str,
    pub kind: Kind,
    /// The `# HELP` text.
    pub help: &'static str,
    pub exposed: Exposed,
    pub series: Series,
}

/// Whether a family is on `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposed {
    Always,
    /// With `[http] scores = true`.
    WithScores,
    /// Not on `/metrics` (yet): only in the stop summary.
    No,
}

/// Where a family's series come from.
pub enum Series {
    /// One unlabelled series.
    One(Field),
    /// One series per value of the label, each read from its own field.
    Split(&'static str, &'static [(&'static str, Field)]),
    /// A [`Labelled`] counter.
    Tally(Tally),
    /// One series per outbox-backed sink (label `sink`), in registration order.
    Sink(SinkField),
    /// Each signal's last anomaly score (label `signal`), in signal order.
    Scores,
    /// Series refused at `max_series` by the scrape targets' last scrapes (labels `target`,
    /// `family`); its summary key sums them.
    Refused(&'static str),
}

/// A field of [`Stats`].
pub struct Field {
    /// The field's name (the tests check that every field of `Stats` is read somewhere).
    pub field: &'static str,
    /// Its key in the stop summary; `None`: not in the summary.
    pub summary: Option<&'static str>,
    /// Its value at `now_ms` (unix ms); `None` leaves the family out of `/metrics`.
    pub read: fn(&Stats, i64) -> Option<Value>,
}

/// A [`Labelled`] field of [`Stats`]: one series per label value, the `known` values first (0
/// until counted, so rates have a first zero), then any other in label order.
pub struct Tally {
    pub field: &'static str,
    pub label: &'static str,
    pub known: &'static [&'static str],
    /// The key of the values' sum in the stop summary; `None`: not in the summary.
    pub summary: Option<&'static str>,
    pub read: fn(&Stats) -> &Labelled,
}

/// A field of [`SinkStats`], `{sink}.{summary}` in the stop summary.
pub struct SinkField {
    pub field: &'static str,
    pub summary: &'static str,
    pub read: fn(&SinkStats, i64) -> Value,
}

/// One series: its labels (name, value), if any, and its value.
#[derive(Debug, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

/// A `Stats` counter or gauge read as is; its summary key is the field's name unless given.
macro_rules! field {
    ($f:ident) => {
        field!($f, Some(stringify!($f)))
    };
    ($f:ident, $summary:expr) => {
        Field {
            field: stringify!($f),
            summary: $summary,
            read: |s, _| Some(Value::Int(Stats::get(&s.$f))),
        }
    };
}

macro_rules! tally {
    ($f:ident, $label:literal, $known:expr, $summary:expr) => {
        Tally {
            field: stringify!($f),
            label: $label,
            known: $known,
            summary: $summary,
            read: |s| &s.$f,
        }
    };
}

macro_rules! sink_field {
    ($f:ident) => {
        SinkField {
            field: stringify!($f),
            summary: stringify!($f),
            read: |s, _| Value::Int(SinkStats::get(&s.$f)),
        }
    };
}

const fn counter(name: &'static str, help: &'static str, series: Series) -> Family {
    Family {
        name,
        kind: Kind::Counter,
        help,
        exposed: Exposed::Always,
        series,
    }
}

const fn gauge(name: &'static str, help: &'static str, series: Series) -> Family {
    Family {
        name,
        kind: Kind::Gauge,
        help,
        exposed: Exposed::Always,
        series,
    }
}

impl Family {
    /// Kept from `/metrics` (described here so that exposing it is a one-word change).
    const fn summary_only(self) -> Self {
        Self {
            exposed: Exposed::No,
            ..self
        }
    }

    const fn with_scores(self) -> Self {
        Self {
            exposed: Exposed::WithScores,
            ..self
        }
    }

    /// The family's series at `now_ms`; `None` when it has none to show (no heartbeat yet, no
    /// outbox-backed sink).
    pub fn samples(&self, stats: &Stats, now_ms: i64) -> Option<Vec<Sample>> {
        let int = |label: &'static str, value: &str, n: u64| Sample {
            labels: vec![(label, value.to_owned())],
            value: Value::Int(n),
        };
        Some(match &self.series {
            Series::One(f) => vec![Sample {
                labels: vec![],
                value: (f.read)(stats, now_ms)?,
            }],
            Series::Split(label, fields) => fields
                .iter()
                .filter_map(|(value, f)| {
                    Some(Sample {
                        labels: vec![(*label, (*value).to_owned())],
                        value: (f.read)(stats, now_ms)?,
                    })
                })
                .collect(),
            Series::Tally(t) => {
                let counts = (t.read)(stats).snapshot();
                let count = |v: &str| counts.iter().find(|(k, _)| k == v).map_or(0, |c| c.1);
                let mut samples: Vec<Sample> =
                    t.known.iter().map(|v| int(t.label, v, count(v))).collect();
                samples.extend(
                    counts
                        .iter()
                        .filter(|(k, _)| !t.known.contains(&k.as_str()))
                        .map(|(k, n)| int(t.label, k, *n)),
                );
                samples
            }
            Series::Sink(f) => {
                let sinks = sinks(stats);
                if sinks.is_empty() {
                    return None;
                }
                sinks
                    .iter()
                    .map(|s| Sample {
                        labels: vec![("sink", s.name.clone())],
                        value: (f.read)(s, now_ms),
                    })
                    .collect()
            }
            Series::Scores => {
                let mut scores: Vec<(Arc<str>, f64)> = stats
                    .scores
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .map(|(k, v)| (Arc::clone(k), *v))
                    .collect();
                scores.sort_by(|a, b| a.0.cmp(&b.0));
                scores
                    .into_iter()
                    .map(|(signal, score)| Sample {
                        labels: vec![("signal", signal.to_string())],
                        value: Value::Float(score),
                    })
                    .collect()
            }
            Series::Refused(_) => {
                let refused = stats.scrape_series_refused.snapshot();
                if refused.is_empty() {
                    return None;
                }
                refused
                    .into_iter()
                    .map(|(target, family, n)| Sample {
                        labels: vec![("target", target), ("family", family)],
                        value: Value::Int(n),
                    })
                    .collect()
            }
        })
    }
}

fn sinks(stats: &Stats) -> Vec<Arc<SinkStats>> {
    stats
        .sinks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

impl Stats {
    /// The one line logged at stop (see [`summary`]).
    pub fn summary(&self) -> String {
        summary(self, crate::clock::now_ms())
    }
}

/// The one line logged at stop: `key=value` for every series of [`FAMILIES`] that has a summary
/// key, in table order, then `{sink}.{key}=value` sink by sink.
pub fn summary(stats: &Stats, now_ms: i64) -> String {
    let mut out = String::with_capacity(2048);
    let mut put = |key: &dyn std::fmt::Display, value: Value| {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = match value {
            Value::Int(n) => write!(out, "{key}={n}"),
            Value::Float(f) => write!(out, "{key}={f:.1}"),
        };
    };
    for family in FAMILIES {
        match &family.series {
            Series::One(f) => {
                if let (Some(key), Some(v)) = (f.summary, (f.read)(stats, now_ms)) {
                    put(&key, v);
                }
            }
            Series::Split(_, fields) => {
                for (_, f) in *fields {
                    if let (Some(key), Some(v)) = (f.summary, (f.read)(stats, now_ms)) {
                        put(&key, v);
                    }
                }
            }
            Series::Tally(t) => {
                if let Some(key) = t.summary {
                    let sum = (t.read)(stats).snapshot().iter().map(|c| c.1).sum();
                    put(&key, Value::Int(sum));
                }
            }
            Series::Refused(key) => {
                let sum = stats
                    .scrape_series_refused
                    .snapshot()
                    .iter()
                    .map(|r| r.2)
                    .sum();
                put(key, Value::Int(sum));
            }
            Series::Sink(_) | Series::Scores => {}
        }
    }
    for sink in sinks(stats) {
        for family in FAMILIES {
            if let Series::Sink(f) = &family.series {
                put(
                    &format_args!("{}.{}", sink.name, f.summary),
                    (f.read)(&sink, now_ms),
                );
            }
        }
    }
    out
}

/// Every self-metric kept in [`Stats`], in `/metrics` order.
pub static FAMILIES: &[Family] = &[
    gauge(
        "seismo_pipeline_heartbeat_age_seconds",
        "Seconds since the pipeline last ticked (it ticks every second; /healthz fails past 30).",
        Series::One(Field {
            field: "heartbeat_ms",
            summary: None,
            read: |s, now| match Stats::get(&s.heartbeat_ms) {
                0 => None,
                beat => {
                    let age = u64::try_from(now).unwrap_or(0).saturating_sub(beat);
                    Some(Value::Float(age as f64 / 1000.0))
                }
            },
        }),
    ),
    // Sources.
    counter(
        "seismo_samples_total",
        "Samples of host and log signals that reached the pipeline.",
        Series::One(field!(samples)),
    ),
    counter(
        "seismo_host_errors_total",
        "Host metric collection steps that failed (a /proc read, a statvfs).",
        Series::One(field!(host_errors)),
    ),
    counter(
        "seismo_log_lines_total",
        "Log lines (or multiline events) fully processed.",
        Series::One(field!(log_lines)),
    ),
    counter(
        "seismo_log_bytes_read_total",
        "Bytes read from log files.",
        Series::One(field!(log_bytes_read)),
    ),
    gauge(
        "seismo_log_files_watched",
        "Log files being tailed.",
        Series::One(field!(log_files_watched)),
    ),
    counter(
        "seismo_log_history_lines_total",
        "Old log lines and journal records learned as history at a source's first start (not exported, not alerted on).",
        Series::One(field!(history_lines)),
    ),
    gauge(
        "seismo_log_history_sources",
        "Log sources that read history at their start (the journal counts once); what each learned is under history_learned in /api/v1/signals.",
        Series::One(Field {
            field: "history",
            summary: None,
            read: |s, _| Some(Value::Int(s.history.all().len() as u64)),
        }),
    ),
    counter(
        "seismo_log_templates_created_total",
        "Log templates created by the template miners.",
        Series::One(field!(log_templates_new)),
    ),
    gauge(
        "seismo_log_templates_refused",
        "Templates of a log source (journal units as journal.{unit}) refused a signal of their own at its max_templates: their lines count in the source's totals and template.other.count only. Sources refusing none are not listed.",
        Series::Tally(tally!(
            log_templates_refused,
            "source",
            &[],
            Some("log_templates_refused")
        )),
    ),
    counter(
        "seismo_log_records_malformed_total",
        "Container log records (CRI, Docker json-file) that could not be decoded: skipped.",
        Series::One(field!(log_records_malformed)),
    )
    ,
    counter(
        "seismo_journal_records_total",
        "Journal records by outcome: processed (mined per unit), malformed (journalctl output that was not a record, skipped), unit_overflow (processed, of units beyond max_units, mined together as _overflow).",
        Series::Split(
            "outcome",
            &[
                ("processed", field!(journal_records)),
                ("malformed", field!(journal_records_malformed)),
                ("unit_overflow", field!(journal_records_unit_overflow)),
            ],
        ),
    ),
    gauge(
        "seismo_journal_units",
        "Journal units mined separately.",
        Series::One(field!(journal_units)),
    ),
    counter(
        "seismo_journal_restarts_total",
        "journalctl restarts (it exited or could not be started); each is retried with backoff.",
        Series::One(field!(journal_restarts)),
    ),
    counter(
        "seismo_journal_stderr_lines_total",
        "Lines journalctl wrote on its standard error (logged at most once a minute).",
        Series::One(field!(journal_stderr_lines)),
    ),
    counter(
        "seismo_log_lines_flagged_total",
        "Log lines with a problem, processed anyway: truncated (cut at max_line_bytes), invalid_utf8 (bytes replaced), with_nul (NUL bytes removed), unparsed (header did not match the format).",
        Series::Split(
            "kind",
            &[
                ("truncated", field!(log_lines_truncated)),
                ("invalid_utf8", field!(log_lines_invalid_utf8)),
                ("with_nul", field!(log_lines_with_nul)),
                ("unparsed", field!(log_lines_unparsed)),
            ],
        ),
    ),
    counter(
        "seismo_log_file_events_total",
        "Log file events: renamed (rotation followed), truncated (copytruncate, read again from 0), deleted, finished (rotated or deleted file read to its end and closed), vanished (gone before it was opened), compressed and not_regular (matched and skipped).",
        Series::Split(
            "event",
            &[
                ("renamed", field!(log_files_renamed)),
                ("truncated", field!(log_files_truncated)),
                ("deleted", field!(log_files_deleted)),
                ("finished", field!(log_files_finished)),
                ("vanished", field!(log_files_vanished)),
                ("compressed", field!(log_files_compressed)),
                ("not_regular", field!(log_files_not_regular)),
            ],
        ),
    ),
    counter(
        "seismo_log_file_copies_total",
        "Copies of followed files (copytruncate's rotated copy): left alone while the original is followed, read from where the original stopped once it is truncated or finished.",
        Series::One(field!(log_files_copies)),
    )
    ,
    counter(
        "seismo_log_files_renamed_away_total",
        "Files being read that were found, at start-up, renamed to a name outside the globs (same device and inode, same fingerprint): read to their end once, then let go.",
        Series::One(field!(log_files_renamed_away)),
    ),
    counter(
        "seismo_log_checkpoints_distrusted_total",
        "Checkpointed file positions found not to fit the file and not trusted, by reason: beyond_size (the offset is past the file's end: read again from its start), fingerprint (the file was rewritten in place or its inode reused: read from its start).",
        Series::Split(
            "reason",
            &[
                ("beyond_size", field!(log_checkpoints_beyond_size)),
                ("fingerprint", field!(log_checkpoints_mismatched)),
            ],
        ),
    ),
    counter(
        "seismo_log_errors_total",
        "Errors of the file source, by kind: permission_denied and symlink_loop (once per path), walk (listing directories), read (opening or reading files), state (checkpoint, lines sink or template state writes, retried).",
        Series::Split(
            "kind",
            &[
                ("permission_denied", field!(log_permission_denied)),
                ("symlink_loop", field!(log_symlink_loops)),
                ("walk", field!(log_walk_errors)),
                ("read", field!(log_read_errors)),
                ("state", field!(log_state_errors)),
            ],
        ),
    ),
    counter(
        "seismo_lines_sink_blocked_seconds_total",
        "Seconds the lines sink ([sinks.lines]) could not write or fsync (a full disk, an I/O error, a read-only file system): reading paused, nothing dropped; the current period included.",
        Series::One(Field {
            field: "lines_sink_blocked_ms",
            summary: Some("lines_sink_blocked_s"),
            read: |s, now| {
                let ms = s.lines_sink_blocked_total_ms(u64::try_from(now).unwrap_or(0));
                Some(Value::Float(ms as f64 / 1000.0))
            },
        }),
    ),
    gauge(
        "seismo_lines_sink_blocked",
        "1 while the lines sink cannot write (reading is paused and /readyz says why), else 0.",
        Series::One(Field {
            field: "lines_sink_blocked",
            summary: None,
            read: |s, now| {
                let blocked = s
                    .lines_sink_blocked_now(u64::try_from(now).unwrap_or(0))
                    .is_some();
                Some(Value::Int(u64::from(blocked)))
            },
        }),
    ),
    counter(
        "seismo_process_errors_total",
        "Problems of the process groups ([[sources.processes]]), by kind: proc_unreadable (a step could not list /proc), fds_denied (a process's /proc/PID/fd refused for lack of permission: its group reports no fds), pids_capped (matched processes not measured past max_pids, per step).",
        Series::Split(
            "kind",
            &[
                ("proc_unreadable", field!(process_errors)),
                ("fds_denied", field!(process_fds_denied)),
                ("pids_capped", field!(process_pids_capped)),
            ],
        ),
    ),
    counter(
        "seismo_scrapes_total",
        "Prometheus scrapes ([[sources.scrape]]) that succeeded.",
        Series::One(field!(scrapes_ok)),
    ),
    counter(
        "seismo_scrape_errors_total",
        "Failed scrapes by reason: timeout, connect (refused or unreachable), status (not 2xx), too_large (past max_body_bytes), parse (no valid sample in the body), other. Each is retried at the next interval.",
        Series::Tally(tally!(
            scrape_errors,
            "reason",
            &["timeout", "connect", "status", "too_large", "parse", "other"],
            Some("scrape_errors")
        )),
    ),
    counter(
        "seismo_scrape_series_dropped_total",
        "Scraped series not turned into signals, counted per scrape, by reason: limit (the target reached max_series), duplicate (another series of the scrape already had its signal name), excluded (left out by the target's include / exclude).",
        Series::Tally(tally!(
            scrape_series_dropped,
            "reason",
            &["limit", "duplicate"],
            Some("scrape_series_dropped")
        )),
    ),
    gauge(
        "seismo_scrape_series_refused",
        "Series the target's last scrape refused at max_series, by metric family (at most 100 families per target; the rest summed as family=\"(other)\").",
        Series::Refused("scrape_series_refused"),
    ),
    counter(
        "seismo_scrape_lines_invalid_total",
        "Lines of scraped bodies that are not exposition text (skipped).",
        Series::One(field!(scrape_lines_invalid)),
    ),
    counter(
        "seismo_dropped_total",
        "Input dropped, by reason: host_queue_full (samples of the host, process and scrape sources, dropped oldest-first, a batch at a time, because the pipeline fell behind and their shared queue held sources.host.queue batches or sources.host.queue_samples samples), signal_limit (samples of new signals refused at detectors.max_signals), non_finite (NaN or infinite values skipped by detectors). Sink drops are in seismo_sink_dropped_total.",
        Series::Split(
            "reason",
            &[
                ("host_queue_full", field!(queue_samples_dropped)),
                ("signal_limit", field!(signals_refused)),
                ("non_finite", field!(non_finite_skipped)),
            ],
        ),
    ),
    // Detectors and alerting.
    counter(
        "seismo_snapshots_total",
        "Snapshots of the learned state (detectors, alerts, incidents) written to the state directory, by outcome: ok, or error (disk full or another write error: logged, the previous snapshot stays valid).",
        Series::Split(
            "outcome",
            &[
                ("ok", field!(snapshots_written)),
                ("error", field!(snapshot_errors)),
            ],
        ),
    ),
    gauge(
        "seismo_snapshot_bytes",
        "Size of the last snapshot of the learned state written.",
        Series::One(field!(snapshot_bytes, None)),
    ),
    gauge(
        "seismo_snapshot_signals",
        "Signals in the last snapshot of the learned state written.",
        Series::One(field!(snapshot_signals, None)),
    ),
    gauge(
        "seismo_snapshot_duration_seconds",
        "Time the last snapshot took, from its start to its write being durable: encoded in slices of 500 signals between the pipeline's events, then written and synced off the pipeline.",
        Series::One(Field {
            field: "snapshot_micros",
            summary: None,
            read: |s, _| Some(Value::Float(Stats::get(&s.snapshot_micros) as f64 / 1e6)),
        }),
    ),
    gauge(
        "seismo_sample_queue_samples",
        "Samples of the host, process and scrape sources waiting for the pipeline (bounded by sources.host.queue_samples; past it the oldest are dropped, see seismo_dropped_total).",
        Series::One(field!(queue_samples, None)),
    ),
    gauge(
        "seismo_detectors",
        "Signals with a live detector.",
        Series::One(field!(signals_active, Some("signals"))),
    ),
    counter(
        "seismo_signals_evicted_total",
        "Signals forgotten after detectors.idle_ttl without a sample.",
        Series::One(field!(signals_evicted)),
    ),
    counter(
        "seismo_anomalous_points_total",
        "Anomalous points: those the detectors scored and new log templates.",
        Series::One(field!(anomalies)),
    )
    .summary_only(),
    counter(
        "seismo_anomalies_total",
        "Anomalous points scored by the detectors, by severity.",
        Series::Tally(tally!(
            anomalies_by_severity,
            "severity",
            &["critical", "warning"],
            None
        )),
    ),
    counter(
        "seismo_alerts_total",
        "Firing alert events sent to the sinks, by severity (an escalation to critical counts again).",
        Series::Tally(tally!(
            alerts_by_severity,
            "severity",
            &["critical", "warning"],
            None
        )),
    ),
    counter(
        "seismo_alerts_firing_total",
        "Firing alert events sent to the sinks (the sum of seismo_alerts_total).",
        Series::One(field!(alerts_firing)),
    )
    .summary_only(),
    counter(
        "seismo_alerts_resolved_total",
        "Resolved alert events sent to the sinks.",
        Series::One(field!(alerts_resolved)),
    ),
    counter(
        "seismo_incidents_total",
        "Incident events sent to the sinks: opened, resolved.",
        Series::Split(
            "event",
            &[
                ("opened", field!(incidents_opened)),
                ("resolved", field!(incidents_resolved)),
            ],
        ),
    )
    ,
    counter(
        "seismo_alerts_silenced_total",
        "Alert events kept from the sinks by a silence.",
        Series::One(field!(alerts_silenced)),
    ),
    counter(
        "seismo_api_requests_rejected_total",
        "Silences API requests refused as malformed or invalid (answered 4xx).",
        Series::One(field!(api_requests_rejected, None)),
    ),
    counter(
        "seismo_hook_runs_total",
        "Remediation hook runs by outcome: ok, failed, timed_out, interrupted (the agent stopped), dry_run; and matches not run because of a limit: skipped_concurrency, skipped_interval.",
        Series::Split(
            "outcome",
            &[
                ("ok", field!(hook_runs_ok)),
                ("failed", field!(hook_runs_failed)),
                ("timed_out", field!(hook_runs_timed_out)),
                ("interrupted", field!(hook_runs_interrupted)),
                ("skipped_concurrency", field!(hook_runs_skipped_concurrency)),
                ("skipped_interval", field!(hook_runs_skipped_interval)),
                ("dry_run", field!(hook_runs_dry_run)),
            ],
        ),
    )
    ,
    counter(
        "seismo_hook_decisions_total",
        "Decisions on remediation hooks (docs/alerts.md) by result: approved, rejected, run; or refused: invalid, unsigned, bad_signature, replayed, unknown, expired, duplicate, busy, not_recorded.",
        Series::Tally(tally!(
            hook_decisions,
            "result",
            HOOK_DECISION_RESULTS,
            None
        )),
    ),
    counter(
        "seismo_reloads_total",
        "Configuration reloads (SIGHUP) by outcome: applied, refused (an invalid file, or a component that could not be set up: the running configuration was kept).",
        Series::Split(
            "outcome",
            &[
                ("applied", field!(reloads_ok)),
                ("refused", field!(reloads_refused)),
            ],
        ),
    )
    ,
    // Sinks.
    counter(
        "seismo_stdout_events_total",
        "Alert events written by the stdout sink.",
        Series::One(field!(stdout_written)),
    ),
    counter(
        "seismo_stdout_errors_total",
        "Alert events the stdout sink could not write.",
        Series::One(field!(stdout_errors)),
    ),
    counter(
        "seismo_otlp_metric_exports_total",
        "OTLP gauge exports ([sinks.otlp] metrics) by outcome: ok, failed.",
        Series::Split(
            "outcome",
            &[
                ("ok", field!(otlp_metric_exports)),
                ("failed", field!(otlp_metric_export_failures)),
            ],
        ),
    )
    ,
    counter(
        "seismo_otlp_metric_series_refused_total",
        "Signal values left out of the OTLP gauges by metrics_max_signals.",
        Series::One(field!(otlp_metric_series_refused)),
    )
    ,
    gauge(
        "seismo_sink_queued",
        "Events in the sink's outbox not yet acknowledged by its peer.",
        Series::Sink(sink_field!(queued)),
    ),
    counter(
        "seismo_sink_delivered_total",
        "Events the sink's peer acknowledged.",
        Series::Sink(sink_field!(delivered)),
    ),
    counter(
        "seismo_sink_retried_total",
        "Events offered again after a failed attempt (one per event per retry).",
        Series::Sink(sink_field!(retried)),
    ),
    counter(
        "seismo_sink_dropped_total",
        "Events lost: dropped oldest-first at the outbox bound, refused by the peer for good, or not appendable.",
        Series::Sink(sink_field!(dropped)),
    ),
    counter(
        "seismo_sink_corrupt_total",
        "Corrupt or torn outbox records skipped (never delivered).",
        Series::Sink(sink_field!(corrupt)),
    ),
    gauge(
        "seismo_sink_oldest_undelivered_age_seconds",
        "Age of the oldest event in the outbox not yet delivered; 0 when none.",
        Series::Sink(SinkField {
            field: "oldest_ms",
            summary: "oldest_age_s",
            read: |s, now| Value::Float(s.oldest_age_ms(now) as f64 / 1000.0),
        }),
    ),
    // Scores per signal (bounded by detectors.max_signals).
    gauge(
        "seismo_anomaly_score",
        "The last anomaly score of each signal, 0..1 (at or above its detector's threshold is anomalous).",
        Series::Scores,
    )
    .with_scores(),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The names of a struct's own fields, from its pretty `Debug` output.
    fn debug_fields(debug: &str) -> BTreeSet<String> {
        debug
            .lines()
            .filter_map(|l| l.strip_prefix("    "))
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_owned()))
            .collect()
    }

    #[test]
    fn every_stats_field_is_described() {
        let mut read = BTreeSet::new();
        let mut sink_read = BTreeSet::new();
        for family in FAMILIES {
            match &family.series {
                Series::One(f) => {
                    read.insert(f.field.to_owned());
                }
                Series::Split(_, fields) => {
                    read.extend(fields.iter().map(|(_, f)| f.field.to_owned()));
                }
                Series::Tally(t) => {
                    read.insert(t.field.to_owned());
                }
                Series::Sink(f) => {
                    read.insert("sinks".to_owned());
                    sink_read.insert(f.field.to_owned());
                }
                Series::Scores => {
                    read.insert("scores".to_owned());
                }
                Series::Refused(_) => {
                    read.insert("scrape_series_refused".to_owned());
                }
            }
        }
        let fields = debug_fields(&format!("{:#?}", Stats::default()));
        assert!(
            fields.contains("samples") && fields.contains("sinks"),
            "{fields:?}"
        );
        let undescribed: Vec<_> = fields.difference(&read).collect();
        assert!(
            undescribed.is_empty(),
            "Stats fields without a family in FAMILIES: {undescribed:?}"
        );
        assert_eq!(fields, read);
        let mut sink_fields = debug_fields(&format!("{:#?}", SinkStats::new("x")));
        assert!(sink_fields.remove("name"));
        let undescribed: Vec<_> = sink_fields.difference(&sink_read).collect();
        assert!(
            undescribed.is_empty(),
            "SinkStats fields without a family: {undescribed:?}"
        );
        assert_eq!(sink_fields, sink_read);
    }

    #[test]
    fn names_and_summary_keys_are_unique_and_every_family_is_shown() {
        let mut names = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for family in FAMILIES {
            assert!(names.insert(family.name), "{} twice", family.name);
            assert!(family.name.starts_with("seismo_"), "{}", family.name);
            assert_eq!(
                family.name.ends_with("_total"),
                family.kind == Kind::Counter,
                "{}",
                family.name
            );
            let family_keys: Vec<&str> = match &family.series {
                Series::One(f) => f.summary.into_iter().collect(),
                Series::Split(_, fields) => fields.iter().filter_map(|(_, f)| f.summary).collect(),
                Series::Tally(t) => t.summary.into_iter().collect(),
                Series::Sink(f) => vec![f.summary],
                Series::Scores => vec![],
                Series::Refused(key) => vec![*key],
            };
            assert!(
                family.exposed != Exposed::No || !family_keys.is_empty(),
                "{} is shown nowhere",
                family.name
            );
            for key in family_keys {
                assert!(keys.insert(key), "summary key {key} twice");
            }
        }
    }

    #[test]
    fn summary_reads_the_table() {
        let stats = Stats::default();
        Stats::add(&stats.samples, 3);
        Stats::add(&stats.signals_active, 2);
        Stats::add(&stats.journal_records_malformed, 1);
        stats.scrape_errors.add("timeout", 2);
        stats.scrape_errors.add("parse", 1);
        let mqtt = stats.sink("mqtt");
        SinkStats::add(&mqtt.delivered, 5);
        SinkStats::set(&mqtt.oldest_ms, 1_000);
        stats.sink("otlp");
        let line = summary(&stats, 2_500);
        assert!(line.starts_with("samples=3 "), "{line}");
        for kv in [
            " signals=2 ",
            " journal_records_malformed=1 ",
            " scrape_errors=3 ",
            " hook_runs_ok=0 ",
            " mqtt.delivered=5 ",
            " mqtt.oldest_age_s=1.5 ",
        ] {
            assert!(line.contains(kv), "{kv} in {line}");
        }
        assert!(line.ends_with(" otlp.oldest_age_s=0.0"), "{line}");
        assert!(!line.contains("heartbeat") && !line.contains("api_requests"));
    }
}
