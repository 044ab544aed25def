//! What the status page (`/`) and its JSON API (`/api/v1/signals`, `/api/v1/incidents`) show:
//! per signal its current value and anomaly score and a last-hour history in time buckets;
//! open and recently resolved incidents as the sinks received them; the last hook runs.
//!
//! The pipeline writes it as it goes: per sample one uncontended lock, a hash lookup and a
//! bucket update (`cargo bench -p seismo --bench status` measures it); incidents and hook runs
//! only when such an event happens. Nothing is sorted, copied or rendered until someone asks.
//! Memory is bounded: at most [`MAX_SIGNALS`] signals of at most [`BUCKETS`] buckets each
//! (16 bytes a bucket), [`MAX_RESOLVED`] resolved incidents, [`MAX_HOOK_RUNS`] hook runs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use seismo_detectors::Stage;
use serde::Serialize;

use crate::clock::now_ms;
use crate::event::{Event, IncidentEvent, IncidentState, LogEvidence};
use crate::event::{HookOutcome, HookResult, Sample};
use crate::pipeline::observer::Observer;

/// One history bucket spans this long.
pub const BUCKET_MS: i64 = 30_000;
/// Buckets kept per signal: one hour.
pub const BUCKETS: usize = 120;
/// Signals with a history; later signals are left out (and counted on the page) until
/// earlier ones are forgotten after `detectors.idle_ttl`.
pub const MAX_SIGNALS: usize = 1000;
/// Resolved incidents kept, newest first.
pub const MAX_RESOLVED: usize = 10;
/// Hook runs kept, newest first.
pub const MAX_HOOK_RUNS: usize = 20;

/// The shared state; `Arc`ed between the pipeline (writes) and the HTTP handlers (reads).
#[derive(Debug)]
pub struct Status {
    host: Arc<str>,
    started_ms: i64,
    signals: Mutex<HashMap<Arc<str>, Series>>,
    incidents: Mutex<Incidents>,
    hook_runs: Mutex<VecDeque<HookRun>>,
}

/// One signal's latest point and history.
#[derive(Debug, Clone)]
struct Series {
    value: f64,
    /// `None` while the detector learns.
    score: Option<f64>,
    anomalous: bool,
    ts_ms: i64,
    /// The detector's stage after the latest point.
    stage: Stage,
    /// The signal's observed interval (smoothed), 0 until two points came.
    interval_ms: i64,
    /// For log signals: the template (or the interval's busiest template) behind the signal.
    template: Option<Arc<LogEvidence>>,
    history: VecDeque<Bucket>,
}

impl Series {
    fn add(&mut self, ts_ms: i64, value: f64, score: Option<f64>, anomalous: bool) {
        if ts_ms > self.ts_ms {
            let step = ts_ms - self.ts_ms;
            self.interval_ms = if self.interval_ms == 0 {
                step
            } else {
                (3 * self.interval_ms + step) / 4
            };
        }
        self.value = value;
        self.score = score;
        self.anomalous = anomalous;
        self.ts_ms = ts_ms;
        let index = bucket_index(ts_ms);
        let score = score.map_or(-1.0, |s| s as f32);
        match self.history.back_mut() {
            // A point from the past (the clock stepped back) joins the latest bucket.
            Some(b) if b.index >= index => {
                // Past u16::MAX points the mean is that of the first ones.
                if b.n < u16::MAX {
                    b.n += 1;
                    b.sum += value as f32;
                }
                b.anomalous = b.anomalous.saturating_add(u16::from(anomalous));
                b.score = b.score.max(score);
            }
            _ => {
                self.history.push_back(Bucket {
                    index,
                    n: 1,
                    anomalous: u16::from(anomalous),
                    sum: value as f32,
                    score,
                });
                let oldest = index.saturating_sub(BUCKETS as u32 - 1);
                while let Some(front) = self.history.front() {
                    if front.index >= oldest && self.history.len() <= BUCKETS {
                        break;
                    }
                    self.history.pop_front();
                }
            }
        }
    }
}

/// One [`BUCKET_MS`] of a signal: 16 bytes.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// `ts_ms / BUCKET_MS`.
    index: u32,
    /// Points in the bucket.
    n: u16,
    /// Anomalous points in the bucket.
    anomalous: u16,
    sum: f32,
    /// The highest score of the bucket; negative when no point was scored.
    score: f32,
}

#[derive(Debug, Default)]
struct Incidents {
    /// In the order they opened.
    open: Vec<IncidentRecord>,
    /// Newest first.
    resolved: VecDeque<IncidentRecord>,
}

#[derive(Debug, Clone)]
struct IncidentRecord {
    last: IncidentEvent,
    opened_ms: i64,
    /// Per alert id in the timeline: the log evidence its alert carried.
    logs: HashMap<String, Arc<LogEvidence>>,
}

impl IncidentRecord {
    fn view(&self) -> IncidentView {
        let mut last = self.last.clone();
        for t in &mut last.timeline {
            t.log = self.logs.get(&t.alert_id).cloned();
        }
        let open = last.state != IncidentState::Resolved;
        IncidentView {
            open,
            opened_at: self.opened_ms,
            updated_at: last.time,
            resolved_at: (!open).then_some(last.time),
            last,
        }
    }
}

/// The signals, as the API answers them.
#[derive(Debug, Clone, Serialize)]
pub struct SignalsView {
    pub host: Arc<str>,
    /// When the answer was made (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub time: i64,
    /// Signals with a live detector (`seismo_detectors` on /metrics).
    pub signals_active: u64,
    /// Signals listed here (at most [`MAX_SIGNALS`]).
    pub signals_listed: usize,
    /// How many of those are at each stage.
    pub stages: StageCounts,
    pub bucket_seconds: i64,
    /// Sorted by score, highest first; signals still warming up last; then by name.
    pub signals: Vec<SignalView>,
    /// Per log source, what it learned from history at its start (filled by the API).
    pub history_learned:
        std::collections::BTreeMap<String, crate::telemetry::history::HistoryLearned>,
}

/// Signals per detector stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StageCounts {
    /// Not scored yet.
    pub learning: usize,
    /// Scored by the early detectors.
    pub early: usize,
    /// Scored by the full detector.
    pub full: usize,
}

/// One signal.
#[derive(Debug, Clone, Serialize)]
pub struct SignalView {
    pub signal: Arc<str>,
    /// The latest value.
    pub value: f64,
    /// The latest anomaly score, 0..1; `null` while the detector warms up.
    pub score: Option<f64>,
    /// The latest point was anomalous.
    pub anomalous: bool,
    /// What scores its next point: `learning` (nothing yet), `early` (the early detectors)
    /// or `full`.
    pub stage: &'static str,
    /// Points until the next stage; `null` once full.
    pub next_stage_points: Option<u64>,
    /// When the next stage is expected, from the signal's observed interval (RFC 3339, UTC);
    /// `null` once full or before its interval is known.
    #[serde(serialize_with = "crate::clock::rfc3339_opt")]
    pub next_stage_at: Option<i64>,
    /// When the latest point was taken (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub updated_at: i64,
    /// For log signals with one: the template behind the signal (for `lines_per_s` and
    /// `errors_per_s`, the busiest of the last interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub history: History,
}

/// A signal's last hour, one entry per bucket from `start`, `null` where it has no point.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The start of the first bucket (RFC 3339, UTC).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub start: i64,
    /// The mean value of each bucket.
    pub values: Vec<Option<f64>>,
    /// The highest score of each bucket.
    pub scores: Vec<Option<f64>>,
    /// Anomalous points in each bucket.
    pub anomalous: Vec<u16>,
}

/// The incidents, as the API answers them.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentsView {
    pub host: Arc<str>,
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub time: i64,
    /// In the order they opened.
    pub open: Vec<IncidentView>,
    /// The last [`MAX_RESOLVED`] resolved ones, newest first.
    pub resolved: Vec<IncidentView>,
}

/// An incident as the status page shows it: its latest event (timeline entries with their
/// alerts' log evidence), whether it is open, and when it opened, changed and resolved.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    #[serde(flatten)]
    pub last: IncidentEvent,
    pub open: bool,
    /// When the incident was opened (the time of its first event).
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub opened_at: i64,
    /// The time of its latest event.
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub updated_at: i64,
    #[serde(serialize_with = "crate::clock::rfc3339_opt")]
    pub resolved_at: Option<i64>,
}

/// One finished hook run.
#[derive(Debug, Clone, Serialize)]
pub struct HookRun {
    #[serde(serialize_with = "crate::clock::rfc3339")]
    pub time: i64,
    pub hook: String,
    pub event_id: String,
    pub result: HookResult,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<String>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Status {
    pub fn new(host: Arc<str>) -> Self {
        Self {
            host,
            started_ms: now_ms(),
            signals: Mutex::new(HashMap::new()),
            incidents: Mutex::new(Incidents::default()),
            hook_runs: Mutex::new(VecDeque::new()),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// When the agent started (unix ms).
    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    fn series(&self) -> MutexGuard<'_, HashMap<Arc<str>, Series>> {
        self.signals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn incidents(&self) -> MutexGuard<'_, Incidents> {
        self.incidents.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn runs(&self) -> MutexGuard<'_, VecDeque<HookRun>> {
        self.hook_runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one point of `signal`: `score` is `None` while its detector warms up. A
    /// non-finite value is not recorded; a signal past [`MAX_SIGNALS`] is left out.
    pub fn record(
        &self,
        signal: &Arc<str>,
        ts_ms: i64,
        value: f64,
        score: Option<f64>,
        anomalous: bool,
        stage: Stage,
    ) {
        if !value.is_finite() {
            return;
        }
        let mut signals = self.series();
        if let Some(series) = signals.get_mut(signal) {
            series.add(ts_ms, value, score, anomalous);
            series.stage = stage;
        } else if signals.len() < MAX_SIGNALS {
            let mut series = Series {
                value,
                score,
                anomalous,
                ts_ms,
                stage,
                interval_ms: 0,
                template: None,
                history: VecDeque::new(),
            };
            series.add(ts_ms, value, score, anomalous);
            signals.insert(Arc::clone(signal), series);
        }
    }

    /// Notes the log evidence (template) of log signals, once per log interval.
    pub fn note_templates<'a>(
        &self,
        evidence: impl IntoIterator<Item = (&'a Arc<str>, &'a Arc<LogEvidence>)>,
    ) {
        let mut signals = self.series();
        for (signal, ev) in evidence {
            if let Some(s) = signals.get_mut(signal) {
                if ev.template.is_some() {
                    s.template = Some(Arc::clone(ev));
                }
            }
        }
    }

    /// Forgets a signal that stopped being reported.
    pub fn forget(&self, signal: &str) {
        self.series().remove(signal);
    }

    /// Follows the events on their way to the sinks: incident events open, update and
    /// resolve incidents; alert events add their log evidence to their incident's timeline.
    pub fn on_events(&self, events: &[Event]) {
        if !events.iter().any(|e| {
            matches!(e, Event::Incident(_)) || matches!(e, Event::Alert(a) if a.log.is_some())
        }) {
            return;
        }
        let mut board = self.incidents();
        for event in events {
            let Event::Incident(i) = event else { continue };
            match board
                .open
                .iter()
                .position(|r| r.last.incident_id == i.incident_id)
            {
                Some(at) => {
                    if i.state == IncidentState::Resolved {
                        let mut record = board.open.remove(at);
                        record.last = i.clone();
                        board.resolved.push_front(record);
                        board.resolved.truncate(MAX_RESOLVED);
                    } else {
                        board.open[at].last = i.clone();
                    }
                }
                None if i.state != IncidentState::Resolved => board.open.push(IncidentRecord {
                    last: i.clone(),
                    opened_ms: i.time,
                    logs: HashMap::new(),
                }),
                // Resolved without being seen open (cannot happen: one pipeline sees both).
                None => {}
            }
        }
        for event in events {
            let Event::Alert(a) = event else { continue };
            let Some(log) = &a.log else { continue };
            let Incidents { open, resolved } = &mut *board;
            if let Some(r) = open
                .iter_mut()
                .chain(resolved.iter_mut())
                .find(|r| r.last.incident_id == a.incident_id)
            {
                if r.last.timeline.iter().any(|t| t.alert_id == a.alert_id) {
                    r.logs.insert(a.alert_id.clone(), Arc::clone(log));
                }
            }
        }
    }

    /// Records a finished hook run (the other steps are not runs).
    pub fn on_hook(&self, o: &HookOutcome) {
        let Some(result) = o.result else { return };
        let mut runs = self.runs();
        runs.push_front(HookRun {
            time: o.time,
            hook: o.hook.clone(),
            event_id: o.event_id.clone(),
            result,
            exit_code: o.exit_code,
            exit_signal: o.exit_signal.clone(),
            duration_ms: o.duration_ms,
            error: o.error.clone(),
        });
        runs.truncate(MAX_HOOK_RUNS);
    }

    /// Every signal kept, sorted by score (highest first), at `now`.
    pub fn signals(&self, now: i64, signals_active: u64) -> SignalsView {
        // Copy under the lock, build outside it: the pipeline waits only for the copy.
        let copied: Vec<(Arc<str>, Series)> = self
            .series()
            .iter()
            .map(|(k, v)| (Arc::clone(k), v.clone()))
            .collect();
        let last = bucket_index(now);
        let first = last.saturating_sub(BUCKETS as u32 - 1);
        let mut stages = StageCounts::default();
        let mut signals: Vec<SignalView> = copied
            .into_iter()
            .map(|(signal, s)| SignalView {
                signal,
                value: s.value,
                score: s.score,
                anomalous: s.anomalous,
                stage: {
                    match s.stage {
                        Stage::Learning { .. } => stages.learning += 1,
                        Stage::Early { .. } => stages.early += 1,
                        Stage::Full => stages.full += 1,
                    }
                    s.stage.name()
                },
                next_stage_points: s.stage.next_in(),
                next_stage_at: s.stage.next_in().filter(|_| s.interval_ms > 0).map(|n| {
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    s.ts_ms.saturating_add(n.saturating_mul(s.interval_ms))
                }),
                updated_at: s.ts_ms,
                template: s.template.as_ref().and_then(|e| e.template.clone()),
                history: history(&s.history, first, last),
            })
            .collect();
        signals.sort_by(|a, b| {
            let key = |s: &SignalView| s.score.unwrap_or(-1.0);
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.signal.cmp(&b.signal))
        });
        SignalsView {
            host: Arc::clone(&self.host),
            time: now,
            signals_active,
            signals_listed: signals.len(),
            stages,
            bucket_seconds: BUCKET_MS / 1000,
            signals,
            history_learned: Default::default(),
        }
    }

    /// Open and recently resolved incidents.
    pub fn incident_views(&self, now: i64) -> IncidentsView {
        let board = self.incidents();
        IncidentsView {
            host: Arc::clone(&self.host),
            time: now,
            open: board.open.iter().map(IncidentRecord::view).collect(),
            resolved: board.resolved.iter().map(IncidentRecord::view).collect(),
        }
    }

    /// The last hook runs, newest first.
    pub fn hook_runs(&self) -> Vec<HookRun> {
        self.runs().iter().cloned().collect()
    }
}

/// The status page follows the pipeline's scores, log evidence and events.
impl Observer for Status {
    fn scored(&self, sample: &Sample, score: Option<f64>, anomalous: bool, stage: Stage) {
        self.record(
            &sample.signal,
            sample.ts_ms,
            sample.value,
            score,
            anomalous,
            stage,
        );
    }

    fn forget(&self, signal: &str) {
        Status::forget(self, signal);
    }

    fn log_evidence(&self, evidence: &HashMap<Arc<str>, Arc<LogEvidence>>) {
        self.note_templates(evidence);
    }

    fn events(&self, events: &[Event]) {
        for e in events {
            if let Event::Hook(outcome) = e {
                self.on_hook(outcome);
            }
        }
        self.on_events(events);
    }
}

fn bucket_index(ts_ms: i64) -> u32 {
    u32::try_from(ts_ms.max(0) / BUCKET_MS).unwrap_or(u32::MAX)
}

/// The buckets `first..=last` as dense arrays, with gaps where there was no point.
fn history(buckets: &VecDeque<Bucket>, first: u32, last: u32) -> History {
    let len = (last - first) as usize + 1;
    let mut h = History {
        start: i64::from(first) * BUCKET_MS,
        values: vec![None; len],
        scores: vec![None; len],
        anomalous: vec![0; len],
    };
    for b in buckets {
        // Buckets ahead of `now` (a clock ahead of ours) show in the last slot.
        let at = (b.index.clamp(first, last) - first) as usize;
        if b.index < first {
            continue;
        }
        h.values[at] = Some(f64::from(b.sum) / f64::from(b.n.max(1)));
        h.scores[at] = (b.score >= 0.0).then_some(f64::from(b.score));
        h.anomalous[at] = b.anomalous;
    }
    // Trim leading empty buckets: a signal seen for five minutes has five minutes of history.
    let lead = h.values.iter().take_while(|v| v.is_none()).count();
    if lead > 0 && lead < len {
        h.values.drain(..lead);
        h.scores.drain(..lead);
        h.anomalous.drain(..lead);
        h.start += lead as i64 * BUCKET_MS;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AlertEvent, AlertState, Range, Severity};

    const T0: i64 = 1_795_633_200_000; // a bucket boundary

    #[test]
    fn history_is_bucketed_bounded_and_sorted_by_score() {
        let s = Status::new("h".into());
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        // Two hours of points every 10 s: only the last hour is kept, 3 points a bucket.
        for i in 0..720 {
            let t = T0 + i * 10_000;
            s.record(&a, t, i as f64, Some(0.1), false, Stage::Full);
        }
        s.record(&b, T0 + 7_190_000, 5.0, Some(0.9), true, Stage::Full);
        let now = T0 + 7_199_000;
        let v = s.signals(now, 2);
        assert_eq!(v.signals_listed, 2);
        assert_eq!(&*v.signals[0].signal, "b");
        assert!(v.signals[0].anomalous);
        let h = &v.signals[1].history;
        assert_eq!(h.values.len(), BUCKETS);
        assert_eq!(h.start, T0 + 3_600_000);
        // Bucket means: points 360, 361, 362 → 361.
        assert_eq!(h.values[0], Some(361.0));
        assert_eq!(h.values[BUCKETS - 1], Some(718.0));
        assert!(h.scores.iter().all(|s| (s.unwrap() - 0.1).abs() < 1e-6));
        // b has one bucket only: the leading gaps are trimmed.
        assert_eq!(v.signals[0].history.values, [Some(5.0)]);
        assert_eq!(v.signals[0].history.anomalous, [1]);
        let series = s.series();
        assert!(series["a"].history.len() <= BUCKETS);
    }

    #[test]
    fn gaps_warm_up_and_bad_values() {
        let s = Status::new("h".into());
        let a: Arc<str> = "a".into();
        s.record(&a, T0, 1.0, None, false, Stage::Full);
        s.record(&a, T0 + 90_000, 3.0, Some(0.2), false, Stage::Full);
        s.record(&a, T0 + 90_001, f64::NAN, Some(0.2), false, Stage::Full);
        // A point from the past joins the latest bucket.
        s.record(&a, T0 - 500_000, 5.0, Some(0.3), false, Stage::Full);
        let v = s.signals(T0 + 100_000, 1);
        let h = &v.signals[0].history;
        assert_eq!(h.values, [Some(1.0), None, None, Some(4.0)]);
        assert_eq!(h.scores[0], None);
        assert!((h.scores[3].unwrap() - 0.3).abs() < 1e-6);
        assert_eq!(v.signals[0].value, 5.0);
        s.forget("a");
        assert!(s.signals(T0, 0).signals.is_empty());
    }

    #[test]
    fn stages_are_counted_and_the_next_one_timed_from_the_interval() {
        let s = Status::new("h".into());
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        // `a` every 10 s, learning with 3 points to go; `b` seen once; `c` full.
        for i in 0..4 {
            s.record(
                &a,
                T0 + i * 10_000,
                1.0,
                None,
                false,
                Stage::Learning {
                    next_in: 6 - i as u64 - 1,
                },
            );
        }
        s.record(&b, T0, 1.0, Some(0.1), false, Stage::Early { next_in: 100 });
        s.record(&c, T0, 1.0, Some(0.1), false, Stage::Full);
        let v = s.signals(T0 + 40_000, 3);
        assert_eq!(
            v.stages,
            StageCounts {
                learning: 1,
                early: 1,
                full: 1
            }
        );
        let get = |name: &str| v.signals.iter().find(|x| &*x.signal == name).unwrap();
        assert_eq!(get("a").stage, "learning");
        assert_eq!(get("a").next_stage_points, Some(2));
        assert_eq!(get("a").next_stage_at, Some(T0 + 30_000 + 2 * 10_000));
        // One point: no interval yet, so no time.
        assert_eq!(
            (get("b").stage, get("b").next_stage_points),
            ("early", Some(100))
        );
        assert_eq!(get("b").next_stage_at, None);
        assert_eq!(
            (get("c").next_stage_points, get("c").next_stage_at),
            (None, None)
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["stages"]["early"], 1);
        assert!(json["signals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["next_stage_at"].as_str().is_some()));
    }

    #[test]
    fn signals_past_the_bound_are_left_out() {
        let s = Status::new("h".into());
        for i in 0..MAX_SIGNALS + 5 {
            s.record(&format!("s{i}").into(), T0, 1.0, None, false, Stage::Full);
        }
        let v = s.signals(T0, (MAX_SIGNALS + 5) as u64);
        assert_eq!(v.signals_listed, MAX_SIGNALS);
        assert_eq!(v.signals_active, (MAX_SIGNALS + 5) as u64);
        // Warming-up signals sort by name.
        assert_eq!(&*v.signals[0].signal, "s0");
    }

    fn alert(signal: &str, incident: &str, log: Option<&str>) -> AlertEvent {
        AlertEvent {
            time: T0,
            state: AlertState::Firing,
            alert_id: format!("{signal}@{T0}"),
            incident_id: incident.into(),
            host: "h".into(),
            signal: signal.into(),
            severity: Severity::Critical,
            observed: 1.0,
            expected: Range {
                low: 0.0,
                high: 0.5,
            },
            score: 1.0,
            detector: "ewma",
            started_at: T0,
            flapping: false,
            summary: format!("{signal} is high"),
            evidence: None,
            log: log.map(|t| {
                Arc::new(LogEvidence {
                    source: "app".into(),
                    template_id: Some(1),
                    template: Some(t.into()),
                    sample_lines: vec![t.into()],
                    sample_streams: Vec::new(),
                    k8s: None,
                })
            }),
        }
    }

    #[test]
    fn incidents_follow_their_events_with_log_evidence() {
        let mut incidents = crate::alerting::incidents::Incidents::new(
            "h".into(),
            std::time::Duration::from_secs(60),
        );
        let s = Status::new("h".into());
        let events = incidents.on_alert(alert("log.app.template.1.new", "", Some("<b>x</b>")));
        s.on_events(&events);
        let v = s.incident_views(T0);
        assert_eq!(v.open.len(), 1);
        let inc = &v.open[0];
        assert_eq!(&*inc.last.origin, "log.app.template.1.new");
        assert_eq!(
            inc.last.timeline[0]
                .log
                .as_ref()
                .unwrap()
                .template
                .as_deref(),
            Some("<b>x</b>")
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json["open"][0]["timeline"][0]["log"]["template"],
            "<b>x</b>"
        );
        assert_eq!(
            json["open"][0]["timeline"][0]["resolved_at"],
            serde_json::Value::Null
        );
        assert_eq!(json["open"][0]["resolved_at"], serde_json::Value::Null);

        let mut resolved = alert("log.app.template.1.new", "", None);
        resolved.state = AlertState::Resolved;
        resolved.time = T0 + 5_000;
        s.on_events(&incidents.on_alert(resolved));
        let v = s.incident_views(T0);
        assert!(v.open.is_empty());
        assert_eq!(v.resolved.len(), 1);
        assert!(!v.resolved[0].open);
        assert_eq!(v.resolved[0].resolved_at, Some(T0 + 5_000));
        // The evidence stays with the resolved incident.
        assert!(v.resolved[0].last.timeline[0].log.is_some());
    }

    #[test]
    fn the_pipeline_records_scored_points_and_forgets_idle_and_disabled_signals() {
        use crate::event::Sample;
        use crate::pipeline::Pipeline;
        use std::time::{Duration, Instant};
        let config = seismo_config::parse(
            "[detectors]\nidle_ttl = \"1m\"\n[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n",
            "t",
        )
        .unwrap();
        let status = Arc::new(Status::new("h".into()));
        let mut p = Pipeline::new(
            "h".into(),
            &config,
            Arc::new(crate::telemetry::stats::Stats::default()),
        )
        .with_observer(Arc::clone(&status) as Arc<dyn crate::pipeline::observer::Observer>);
        let t0 = Instant::now();
        for i in 0..20 {
            for name in ["a", "b"] {
                let value = if i == 19 {
                    1e6
                } else {
                    1.0 + (i % 3) as f64 * 0.01
                };
                let sample = Sample {
                    signal: name.into(),
                    ts_ms: T0 + i * 1000,
                    value,
                };
                let at = if name == "b" {
                    t0 + Duration::from_secs(50)
                } else {
                    t0
                };
                p.process(&sample, at);
            }
        }
        p.process(
            &Sample {
                signal: "nan".into(),
                ts_ms: T0,
                value: f64::NAN,
            },
            t0,
        );
        let v = status.signals(T0 + 20_000, 2);
        let names: Vec<&str> = v.signals.iter().map(|s| &*s.signal).collect();
        assert_eq!(names, ["a", "b"], "a NaN is not recorded");
        let a = &v.signals[0];
        assert_eq!(a.value, 1e6);
        assert!(a.anomalous && a.score.is_some_and(|s| s > 0.5), "{a:?}");
        // Warm-up points have no score: the first bucket's highest score is a later one's.
        assert_eq!(a.history.values.len(), 1);
        p.evict_idle(t0 + Duration::from_secs(61));
        let v = status.signals(T0 + 20_000, 1);
        assert_eq!(v.signals.len(), 1);
        assert_eq!(&*v.signals[0].signal, "b");
        let disabled = seismo_config::parse(
            "[detectors]\nidle_ttl = \"1m\"\n[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n[[detectors.overrides]]\nsignals = [\"b\"]\nenabled = false\n",
            "t",
        )
        .unwrap();
        p.reconfigure_detectors(&disabled.detectors);
        assert!(status.signals(T0, 0).signals.is_empty());
    }

    #[test]
    fn hook_runs_are_bounded_newest_first() {
        let s = Status::new("h".into());
        for i in 0..MAX_HOOK_RUNS + 3 {
            s.on_hook(&HookOutcome {
                time: T0 + i as i64,
                hook: format!("h{i}"),
                event: "alert",
                event_id: "x".into(),
                incident_id: None,
                state: "firing",
                host: "h".into(),
                phase: crate::event::HookPhase::Finished,
                proposal_id: None,
                expires_at: None,
                decided_by: None,
                subject: None,
                result: Some(HookResult::Ok),
                command: vec!["/bin/true".into()],
                exit_code: Some(0),
                exit_signal: None,
                timed_out: false,
                duration_ms: 3,
                stdout: String::new(),
                stdout_truncated: false,
                stderr: String::new(),
                stderr_truncated: false,
                error: None,
            });
        }
        let runs = s.hook_runs();
        assert_eq!(runs.len(), MAX_HOOK_RUNS);
        assert_eq!(runs[0].hook, format!("h{}", MAX_HOOK_RUNS + 2));
    }
}
