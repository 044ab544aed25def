//! The values that flow through the agent: samples in, anomalies in the middle, events out
//! (alerts on one signal, incidents that group alerts).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One observation of one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub signal: Arc<str>,
    /// Unix time in milliseconds.
    pub ts_ms: i64,
    pub value: f64,
}

/// A point a detector found anomalous.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub signal: Arc<str>,
    pub ts_ms: i64,
    pub score: f64,
    pub observed: f64,
    pub expected_low: f64,
    pub expected_high: f64,
    pub detector: &'static str,
    /// What the detector's components saw (empty for one-off anomalies such as a new log
    /// template).
    pub evidence: seismo_detectors::Evidence,
}

/// Why an alert fired, as the sinks receive it: where the observed value lies against the
/// expected range, and every component of the detector that crossed its threshold, strongest
/// first, with the figures it used (exact, in the signal's unit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// `above`, `below` or `inside` the alert's `expected` range: the only claim the summary
    /// makes about it.
    pub position: Position,
    pub components: Vec<EvidenceComponent>,
    /// Which rule of practical significance let the alert through (absent when the rule is
    /// off, or the event is not the one that fired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub significance: Option<Significance>,
}

/// Why a move was large enough to page (see docs/alerts.md, "Small moves are not pages").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Significance {
    /// `large_move`: the move reached `needed` and leads to a level the signal seldom held;
    /// `young`: too little history to judge the signal's own scale (the bound of a ratio
    /// still applied).
    pub rule: &'static str,
    /// How far the value (a level shift's new level) lies from the level it is compared with,
    /// in the signal's unit.
    #[serde(rename = "move")]
    pub moved: f64,
    /// The smallest move that pages for this signal now.
    pub needed: f64,
    /// The share of the signal's recent history spent near the new level (`null` when young).
    pub usual_share: f64,
    /// The points of history the judgement rests on.
    pub horizon_points: u32,
}

/// Where a value lies against a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Above,
    Below,
    Inside,
}

impl Position {
    pub fn name(self) -> &'static str {
        match self {
            Position::Above => "above",
            Position::Below => "below",
            Position::Inside => "inside",
        }
    }
}

impl From<seismo_detectors::Position> for Position {
    fn from(p: seismo_detectors::Position) -> Self {
        match p {
            seismo_detectors::Position::Above => Position::Above,
            seismo_detectors::Position::Below => Position::Below,
            seismo_detectors::Position::Inside => Position::Inside,
        }
    }
}

/// One component that crossed its threshold. In JSON: `kind`, the figures of its finding,
/// `spreads`, `score`, `expected` (see docs/alerts.md).
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceComponent {
    pub finding: seismo_detectors::Finding,
    /// The distance the component measured, in its spread (a normal sigma); NaN (`null`)
    /// when it measures none or its spread is 0.
    pub spreads: f64,
    /// The component's own score (0..1).
    pub score: f64,
    /// The range of values it expected at that point.
    pub expected: Range,
}

/// The day and the week in milliseconds: the seasonal periods with names.
pub const DAY_MS: i64 = 86_400_000;
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// The name of a seasonal period: `day`, `week`, `own` (the signal's own) or `none`.
pub fn period_name(period_ms: i64) -> &'static str {
    match period_ms {
        0 => "none",
        DAY_MS => "day",
        WEEK_MS => "week",
        _ => "own",
    }
}

/// `map.serialize_entry("name", &name)?` for each name.
macro_rules! entries {
    ($map:ident, $($field:ident),*) => {{
        $( $map.serialize_entry(stringify!($field), &$field)?; )*
    }};
}

impl Serialize for EvidenceComponent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use seismo_detectors::Finding as F;
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", self.finding.kind())?;
        match self.finding {
            F::NewExtreme { previous, maximum } => {
                let extreme = if maximum { "maximum" } else { "minimum" };
                entries!(m, extreme, previous);
            }
            F::LevelShift {
                before,
                after,
                spread,
                points,
            } => entries!(m, before, after, spread, points),
            F::Spike {
                median,
                mad,
                spread,
                window,
            } => entries!(m, median, mad, spread, window),
            F::Seasonal {
                period_ms,
                slot_start_ms,
                slot_ms,
                usual,
                spread,
            } => {
                let period = period_name(period_ms);
                entries!(m, period, period_ms, slot_start_ms, slot_ms, usual, spread);
            }
            F::Pattern { points, .. } => entries!(m, points),
            F::EarlyLevel {
                median,
                spread,
                reference,
                mean,
                points,
            } => entries!(m, median, spread, reference, mean, points),
            F::AtBound {
                bound,
                points,
                previous,
            } => entries!(m, bound, points, previous),
            F::Filling {
                previous,
                rise,
                points_to_full,
            } => entries!(m, previous, rise, points_to_full),
            F::Band => {}
        }
        if !matches!(
            self.finding,
            F::NewExtreme { .. } | F::AtBound { .. } | F::Filling { .. } | F::Band
        ) {
            m.serialize_entry("spreads", &self.spreads)?;
        }
        m.serialize_entry("score", &self.score)?;
        m.serialize_entry("expected", &self.expected)?;
        m.end()
    }
}

impl Evidence {
    /// The evidence of an anomaly: `observed` placed against its expected range, and the
    /// detector's components.
    pub fn of(a: &Anomaly) -> Self {
        use seismo_detectors::Finding as F;
        let x = a.observed;
        let ratio = |d: f64, spread: f64| if spread > 0.0 { d / spread } else { f64::NAN };
        let components = a
            .evidence
            .components()
            .map(|c| EvidenceComponent {
                finding: c.finding,
                spreads: match c.finding {
                    F::LevelShift {
                        before,
                        after,
                        spread,
                        ..
                    } => ratio(after - before, spread),
                    F::Spike { median, spread, .. } => ratio(x - median, spread),
                    F::Seasonal { usual, spread, .. } => ratio(x - usual, spread),
                    F::Pattern { z, .. } => z,
                    F::EarlyLevel {
                        median,
                        spread,
                        mean,
                        ..
                    } => ratio(mean - median, spread),
                    F::NewExtreme { .. } | F::AtBound { .. } | F::Filling { .. } | F::Band => {
                        f64::NAN
                    }
                },
                score: c.score,
                expected: Range {
                    low: c.expected_low,
                    high: c.expected_high,
                },
            })
            .collect();
        Evidence {
            position: seismo_detectors::Position::of(x, a.expected_low, a.expected_high).into(),
            components,
            significance: None,
        }
    }
}

/// A point that scored below its detector's threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Normal {
    pub ts_ms: i64,
    pub observed: f64,
    pub score: f64,
    pub expected: Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    /// The name in JSON, labels and environment variables.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub low: f64,
    pub high: f64,
}

/// What the sinks receive. Serialized as-is by the JSON sinks; the README documents the schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// When the event happened (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub time: i64,
    pub state: AlertState,
    /// Stable for one alert from firing to resolved: `{signal}@{first anomalous ts_ms}`.
    pub alert_id: String,
    /// The incident this alert belongs to (set by the incident stage, `incidents.rs`).
    pub incident_id: String,
    pub host: Arc<str>,
    pub signal: Arc<str>,
    pub severity: Severity,
    /// The value that fired the alert, or for `resolved` the last value seen.
    pub observed: f64,
    pub expected: Range,
    pub score: f64,
    pub detector: &'static str,
    /// When the alert started firing (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub started_at: i64,
    /// The signal keeps going in and out of its range: its alert is held open, not re-fired.
    pub flapping: bool,
    pub summary: String,
    /// Why it fired (firing events; `None` for resolved ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Arc<Evidence>>,
    /// For log signals: the template and sample lines behind the alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Arc<LogEvidence>>,
}

/// Where an incident is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Its first alert fired.
    Opened,
    /// An alert joined it, or its severity rose.
    Updated,
    /// Every one of its alerts has resolved.
    Resolved,
}

/// Alerts on several signals of one host, close together in time: one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentEvent {
    /// When the event happened (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub time: i64,
    pub state: IncidentState,
    /// Stable from opened to resolved: `{host}@{ts_ms of the alert that opened it}`.
    pub incident_id: String,
    pub host: Arc<str>,
    /// The highest severity any of its alerts reached.
    pub severity: Severity,
    /// The probable origin: the signal whose alert started first.
    pub origin: Arc<str>,
    /// Every signal in the timeline, once, in timeline order.
    pub signals: Vec<Arc<str>>,
    /// When the first alert started (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub started_at: i64,
    pub summary: String,
    /// Its alerts, ordered by the time each started: the earliest
    /// [`IncidentEvent::MAX_TIMELINE`].
    pub timeline: Vec<TimelineEntry>,
    /// Alerts that joined but are left out of the timeline (it is full).
    pub timeline_omitted: u32,
}

impl IncidentEvent {
    /// Timeline entries kept per incident, so a long incident's events stay bounded.
    pub const MAX_TIMELINE: usize = 64;
}

/// One alert of an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub signal: Arc<str>,
    /// When the alert started: its signal's first anomalous point (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub time: i64,
    pub severity: Severity,
    pub alert_id: String,
    /// The alert's summary when it fired.
    pub evidence: String,
    /// When the alert resolved; `null` while it fires.
    #[serde(serialize_with = "crate::clock::rfc3339_opt")]
    pub resolved_at: Option<i64>,
    /// The alert's log evidence, where a reader attaches it (the status page's API); the
    /// events the sinks receive carry it on the alert instead, so it is `None` there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Arc<LogEvidence>>,
}

/// Everything the sinks receive, tagged by `kind` in JSON (`"alert"`, `"incident"`, `"hook"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Alert(AlertEvent),
    Incident(IncidentEvent),
    /// The outcome of a remediation hook run (`hooks/outcome.rs`).
    Hook(HookOutcome),
}

impl Event {
    /// The id to name the event by in logs.
    pub fn id(&self) -> &str {
        match self {
            Event::Alert(a) => &a.alert_id,
            Event::Incident(i) => &i.incident_id,
            Event::Hook(h) => &h.event_id,
        }
    }
}

/// What a log alert is about: the source, the template (when the signal has one) and up to
/// three of the interval's lines, each cut to [`LogEvidence::MAX_SAMPLE_CHARS`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEvidence {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub sample_lines: Vec<String>,
    /// The stream of each sample line (`stdout` / `stderr`), for container logs that say it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sample_streams: Vec<&'static str>,
    /// Kubernetes pod, namespace and container of the first sample line (container logs
    /// under /var/log/containers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s: Option<Arc<K8sPod>>,
}

/// Where a container log line comes from in Kubernetes (each name at most 253 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct K8sPod {
    pub pod: String,
    pub namespace: String,
    pub container: String,
}

impl LogEvidence {
    pub const MAX_SAMPLES: usize = 3;
    pub const MAX_SAMPLE_CHARS: usize = 512;

    /// `line` cut to [`Self::MAX_SAMPLE_CHARS`] characters, with `…` when cut.
    pub fn sample(line: &str) -> String {
        match line.char_indices().nth(Self::MAX_SAMPLE_CHARS) {
            Some((at, _)) => format!("{}…", &line[..at]),
            None => line.to_owned(),
        }
    }
}

/// Bytes of each of stdout and stderr kept in an outcome.
pub const OUTPUT_LIMIT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookResult {
    /// Exited with status 0.
    Ok,
    /// Exited with another status, was killed by a signal, or could not be started.
    Failed,
    /// Still running at its timeout; its process group was stopped.
    TimedOut,
    /// Still running when the agent stopped; its process group was stopped.
    Interrupted,
    /// `dry_run = true`: nothing was run.
    DryRun,
}

impl HookResult {
    /// As serialized.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Interrupted => "interrupted",
            Self::DryRun => "dry_run",
        }
    }
}

/// Where a hook run is in its life: each step is an event of kind `hook` (`phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPhase {
    /// An `approval = "required"` hook matched: a proposal waits for a decision.
    Proposed,
    Approved,
    Rejected,
    /// No decision came before the proposal's `expires_at`: nothing runs.
    Expired,
    Started,
    /// The run ended (`result` says how).
    Finished,
}

impl HookPhase {
    /// As serialized.
    pub fn name(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Started => "started",
            Self::Finished => "finished",
        }
    }
}

/// One step of one hook run (proposed ... finished), as the sinks receive it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookOutcome {
    /// When the step happened, for `finished` when the run ended (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub time: i64,
    pub phase: HookPhase,
    pub hook: String,
    /// `"alert"` or `"incident"`: what ran the hook.
    pub event: &'static str,
    /// The alert or incident id.
    pub event_id: String,
    /// For an alert, the incident it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// `"firing"` or `"resolved"`: the state of the event that ran the hook.
    pub state: &'static str,
    pub host: String,
    /// The proposal (approval mode) or request (`on = "request"`) this run belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    /// When an open proposal expires (RFC 3339, UTC).
    #[serde(
        serialize_with = "crate::clock::rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<i64>,
    /// Who approved, rejected or requested the run (the decision's `by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// The alert or incident as the hook receives it on stdin (proposals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<serde_json::Value>,
    /// How the run ended (`finished` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<HookResult>,
    /// The argv as configured (never holds alert data).
    pub command: Vec<String>,
    pub exit_code: Option<i32>,
    /// The signal that ended the hook's main process, e.g. `"SIGKILL"`.
    pub exit_signal: Option<String>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// The first [`OUTPUT_LIMIT`] bytes (invalid UTF-8 replaced).
    pub stdout: String,
    pub stdout_truncated: bool,
    pub stderr: String,
    pub stderr_truncated: bool,
    /// Why the command could not be started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
