//! What the status page (`/`) and its JSON API (`/api/v1/signals`, `/api/v1/incidents`) show:
//! per signal its current value and anomaly score and a last-hour history in time buckets;
//! open and recently resolved incidents as the sinks received them; the last hook runs.
//!
//! The pipeline writes it as it goes: per sample one uncontended lock, a hash lookup and a
//! bucket update (`cargo bench -p seismo --bench status` measures it); incidents and hook runs
//! only when such an event happens. Nothing is sorted, copied or rendered until someone asks.
//! Memory is bounded: the latest point of at most [`MAX_SIGNALS`] signals (about 100 bytes
//! each), a history of at most [`BUCKETS`] buckets (16 bytes a bucket) for at most
//! [`MAX_HISTORIES`] of them, [`MAX_RESOLVED`] resolved incidents, [`MAX_HOOK_RUNS`] hook runs.
//! A request costs O(signals) for the counts and a selection, plus O(rows × buckets) for
//! the rows it answers; never O(signals × buckets).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use seismo_detectors::Stage;
use serde::Serialize;

use crate::clock::now_ms;
use crate::event::{Event, IncidentEvent, IncidentState, LogEvidence};
use crate::event::{HookOutcome, HookResult, Sample};
use crate::pipeline::observer::Observer;

use super::signal_query::SignalQuery;

/// One history bucket spans this long.
pub const BUCKET_MS: i64 = 30_000;
/// Buckets kept per signal: one hour.
pub const BUCKETS: usize = 120;
/// Signals kept (their latest point); later signals are left out (and counted on the page)
/// until earlier ones are forgotten after `detectors.idle_ttl`.
pub const MAX_SIGNALS: usize = 100_000;
/// Signals with a last-hour history (the first ones seen); the others show their latest
/// point only, until a signal with a history is forgotten.
pub const MAX_HISTORIES: usize = 1000;
/// Signal prefixes (sources) counted one by one in [`Overview::groups`], the largest first.
pub const MAX_GROUPS: usize = 30;
/// Resolved incidents kept, newest first.
pub const MAX_RESOLVED: usize = 10;
/// Hook runs kept, newest first.
pub const MAX_HOOK_RUNS: usize = 20;

/// The shared state; `Arc`ed between the pipeline (writes) and the HTTP handlers (reads).
#[derive(Debug)]
pub struct Status {
    host: Arc<str>,
    started_ms: i64,
    signals: Mutex<Signals>,
    incidents: Mutex<Incidents>,
    hook_runs: Mutex<VecDeque<HookRun>>,
}

/// The signals kept, and how many of them keep a history.
#[derive(Debug, Default)]
struct Signals {
    map: HashMap<Arc<str>, Series>,
    histories: usize,
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
    /// Whether this signal is one of the [`MAX_HISTORIES`] with a history.
    keeps_history: bool,
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
        if !self.keeps_history {
            return;
        }
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
    /// Signals kept here (at most [`MAX_SIGNALS`]).
    pub signals_kept: usize,
    /// Of those, the ones with a history (at most [`MAX_HISTORIES`]).
    pub signals_with_history: usize,
    /// Kept signals that match the query's `prefix` and `stage`.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// The next page's offset; `None` on the last page.
    pub next_offset: Option<usize>,
    /// The next page's path and query; `None` on the last page.
    pub next: Option<String>,
    /// Signals in `signals` (this page).
    pub signals_listed: usize,
    /// How many of the `total` are at each stage.
    pub stages: StageCounts,
    pub bucket_seconds: i64,
    /// This page, sorted by name.
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

impl StageCounts {
    fn add(&mut self, stage: Stage) {
        match stage {
            Stage::Learning { .. } => self.learning += 1,
            Stage::Early { .. } => self.early += 1,
            Stage::Full => self.full += 1,
        }
    }
}

/// What the status page shows of the signals: summaries over all that match, the top rows.
#[derive(Debug, Clone)]
pub struct Overview {
    pub signals_active: u64,
    pub signals_kept: usize,
    pub signals_with_history: usize,
    /// Kept signals that match the page's `prefix` and `stage`.
    pub matched: usize,
    pub stages: StageCounts,
    /// Matching signals whose latest point was anomalous.
    pub anomalous: usize,
    /// When the last matching signal that is not full reaches its next stage, if known.
    pub next_stage_last: Option<i64>,
    /// The [`MAX_GROUPS`] largest groups (by anomalous signals, then signals).
    pub groups: Vec<Group>,
    /// Groups in all.
    pub groups_total: usize,
    /// Anomalous first, then by score (highest first), then by name.
    pub rows: Vec<SignalView>,
}

/// Signals that share a prefix (see [`Overview::groups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub prefix: String,
    pub signals: usize,
    pub anomalous: usize,
}

/// What the overview ranks and counts a signal by, copied out of the lock.
struct Brief {
    signal: Arc<str>,
    stage: Stage,
    anomalous: bool,
    /// -1 while the detector learns.
    score: f64,
    next_stage_at: Option<i64>,
}

#[derive(Default)]
struct GroupCount {
    signals: usize,
    anomalous: usize,
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
            signals: Mutex::new(Signals::default()),
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

    fn series(&self) -> MutexGuard<'_, Signals> {
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
        let mut guard = self.series();
        let signals = &mut *guard;
        let room = signals.histories < MAX_HISTORIES;
        if let Some(series) = signals.map.get_mut(signal) {
            if !series.keeps_history && room {
                series.keeps_history = true;
                signals.histories += 1;
            }
            series.add(ts_ms, value, score, anomalous);
            series.stage = stage;
        } else if signals.map.len() < MAX_SIGNALS {
            signals.histories += usize::from(room);
            let mut series = Series {
                value,
                score,
                anomalous,
                ts_ms,
                stage,
                interval_ms: 0,
                template: None,
                keeps_history: room,
                history: VecDeque::new(),
            };
            series.add(ts_ms, value, score, anomalous);
            signals.map.insert(Arc::clone(signal), series);
        }
    }

    /// Notes the log evidence (template) of log signals, once per log interval.
    pub fn note_templates<'a>(
        &self,
        evidence: impl IntoIterator<Item = (&'a Arc<str>, &'a Arc<LogEvidence>)>,
    ) {
        let mut signals = self.series();
        for (signal, ev) in evidence {
            if let Some(s) = signals.map.get_mut(signal) {
                if ev.template.is_some() {
                    s.template = Some(Arc::clone(ev));
                }
            }
        }
    }

    /// Forgets a signal that stopped being reported.
    pub fn forget(&self, signal: &str) {
        let mut signals = self.series();
        if signals.map.remove(signal).is_some_and(|s| s.keeps_history) {
            signals.histories -= 1;
        }
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

    /// One page of the signals `q` asks for, sorted by name, at `now`.
    pub fn signals(&self, now: i64, signals_active: u64, q: &SignalQuery) -> SignalsView {
        // Under the lock only the names and counts are taken; sorting happens outside, then
        // only the page's series are copied.
        let mut stages = StageCounts::default();
        let (mut names, kept, histories) = {
            let signals = self.series();
            let names: Vec<Arc<str>> = signals
                .map
                .iter()
                .filter(|(k, s)| q.matches(k, s.stage.name()))
                .map(|(k, s)| {
                    stages.add(s.stage);
                    Arc::clone(k)
                })
                .collect();
            (names, signals.map.len(), signals.histories)
        };
        names.sort_unstable();
        let total = names.len();
        let start = q.offset.min(total);
        let end = q.offset.saturating_add(q.limit).min(total);
        let page: Vec<(Arc<str>, Series)> = {
            let signals = self.series();
            names[start..end]
                .iter()
                // A signal forgotten since is left out of the page.
                .filter_map(|k| signals.map.get(k).map(|s| (Arc::clone(k), s.clone())))
                .collect()
        };
        let (first, last) = window(now);
        let list: Vec<SignalView> = page
            .into_iter()
            .map(|(k, s)| view(k, &s, first, last))
            .collect();
        let next_offset = (end < total).then_some(end);
        SignalsView {
            host: Arc::clone(&self.host),
            time: now,
            signals_active,
            signals_kept: kept,
            signals_with_history: histories,
            total,
            offset: q.offset,
            limit: q.limit,
            next_offset,
            next: next_offset.map(|o| format!("/api/v1/signals{}", q.at(o))),
            signals_listed: list.len(),
            stages,
            bucket_seconds: BUCKET_MS / 1000,
            signals: list,
            history_learned: Default::default(),
        }
    }

    /// The status page's summary of the signals `q` asks for (its offset and limit aside):
    /// counts per stage and per prefix, and the `rows` top signals: anomalous ones first,
    /// then by score, highest first, then by name.
    pub fn overview(
        &self,
        now: i64,
        signals_active: u64,
        q: &SignalQuery,
        rows: usize,
    ) -> Overview {
        // Under the lock only what ranks and counts a signal is copied (a name is an `Arc`,
        // so a copy is a count's increment); counting, grouping and the selection run
        // outside it, and the lock is taken again only to copy the rows' series.
        let (briefs, kept, histories) = {
            let signals = self.series();
            let briefs: Vec<Brief> = signals
                .map
                .iter()
                .filter(|(k, s)| q.matches(k, s.stage.name()))
                .map(|(k, s)| Brief {
                    signal: Arc::clone(k),
                    stage: s.stage,
                    anomalous: s.anomalous,
                    score: s.score.unwrap_or(-1.0),
                    next_stage_at: next_stage_at(s),
                })
                .collect();
            (briefs, signals.map.len(), signals.histories)
        };
        let mut stages = StageCounts::default();
        let mut anomalous = 0;
        let mut next_stage_last: Option<i64> = None;
        let mut groups: HashMap<&str, GroupCount> = HashMap::new();
        let mut candidates: Vec<&Brief> = Vec::with_capacity(briefs.len());
        for b in &briefs {
            stages.add(b.stage);
            anomalous += usize::from(b.anomalous);
            next_stage_last = next_stage_last.max(b.next_stage_at);
            let g = groups.entry(group_of(&b.signal)).or_default();
            g.signals += 1;
            g.anomalous += usize::from(b.anomalous);
            candidates.push(b);
        }
        let matched = candidates.len();
        let order = |a: &&Brief, b: &&Brief| {
            b.anomalous
                .cmp(&a.anomalous)
                .then(b.score.total_cmp(&a.score))
                .then_with(|| a.signal.cmp(&b.signal))
        };
        // A selection, then a sort of the rows only.
        if rows < candidates.len() {
            candidates.select_nth_unstable_by(rows, order);
            candidates.truncate(rows);
        }
        candidates.sort_unstable_by(order);
        let top: Vec<(Arc<str>, Series)> = {
            let signals = self.series();
            candidates
                .iter()
                // A signal forgotten since is left out of the rows.
                .filter_map(|b| {
                    let s = signals.map.get(&b.signal)?;
                    Some((Arc::clone(&b.signal), s.clone()))
                })
                .collect()
        };
        let mut group_list: Vec<Group> = groups
            .into_iter()
            .map(|(prefix, c)| Group {
                prefix: prefix.to_owned(),
                signals: c.signals,
                anomalous: c.anomalous,
            })
            .collect();
        let groups_total = group_list.len();
        group_list.sort_unstable_by(|a, b| {
            b.anomalous
                .cmp(&a.anomalous)
                .then(b.signals.cmp(&a.signals))
                .then_with(|| a.prefix.cmp(&b.prefix))
        });
        group_list.truncate(MAX_GROUPS);
        let (first, last) = window(now);
        Overview {
            signals_active,
            signals_kept: kept,
            signals_with_history: histories,
            matched,
            stages,
            anomalous,
            next_stage_last,
            groups: group_list,
            groups_total,
            rows: top
                .into_iter()
                .map(|(k, s)| view(k, &s, first, last))
                .collect(),
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

/// The first and last bucket of the hour up to `now`.
fn window(now: i64) -> (u32, u32) {
    let last = bucket_index(now);
    (last.saturating_sub(BUCKETS as u32 - 1), last)
}

/// When `s` is expected at its next stage, from its observed interval.
fn next_stage_at(s: &Series) -> Option<i64> {
    s.stage.next_in().filter(|_| s.interval_ms > 0).map(|n| {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        s.ts_ms.saturating_add(n.saturating_mul(s.interval_ms))
    })
}

fn view(signal: Arc<str>, s: &Series, first: u32, last: u32) -> SignalView {
    SignalView {
        signal,
        value: s.value,
        score: s.score,
        anomalous: s.anomalous,
        stage: s.stage.name(),
        next_stage_points: s.stage.next_in(),
        next_stage_at: next_stage_at(s),
        updated_at: s.ts_ms,
        template: s.template.as_ref().and_then(|e| e.template.clone()),
        history: history(&s.history, first, last),
    }
}

/// A signal's group on the page: its first two dot-separated parts (`host.cpu`, `log.app`,
/// `scrape.api`), or the whole name when it has fewer.
fn group_of(name: &str) -> &str {
    match name.match_indices('.').nth(1) {
        Some((at, _)) => &name[..at],
        None => name,
    }
}

fn bucket_index(ts_ms: i64) -> u32 {
    u32::try_from(ts_ms.max(0) / BUCKET_MS).unwrap_or(u32::MAX)
}

/// The buckets `first..=last` as dense arrays, with gaps where there was no point.
fn history(buckets: &VecDeque<Bucket>, first: u32, last: u32) -> History {
    if buckets.is_empty() {
        // A signal without a history (past MAX_HISTORIES).
        return History {
            start: i64::from(last) * BUCKET_MS,
            values: Vec::new(),
            scores: Vec::new(),
            anomalous: Vec::new(),
        };
    }
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

    fn q() -> SignalQuery {
        SignalQuery::default()
    }

    #[test]
    fn history_is_bucketed_bounded_and_sorted_by_name() {
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
        let v = s.signals(now, 2, &q());
        assert_eq!(v.signals_listed, 2);
        assert_eq!(&*v.signals[1].signal, "b");
        assert!(v.signals[1].anomalous);
        let h = &v.signals[0].history;
        assert_eq!(h.values.len(), BUCKETS);
        assert_eq!(h.start, T0 + 3_600_000);
        // Bucket means: points 360, 361, 362 → 361.
        assert_eq!(h.values[0], Some(361.0));
        assert_eq!(h.values[BUCKETS - 1], Some(718.0));
        assert!(h.scores.iter().all(|s| (s.unwrap() - 0.1).abs() < 1e-6));
        // b has one bucket only: the leading gaps are trimmed.
        assert_eq!(v.signals[1].history.values, [Some(5.0)]);
        assert_eq!(v.signals[1].history.anomalous, [1]);
        let series = s.series();
        assert!(series.map["a"].history.len() <= BUCKETS);
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
        let v = s.signals(T0 + 100_000, 1, &q());
        let h = &v.signals[0].history;
        assert_eq!(h.values, [Some(1.0), None, None, Some(4.0)]);
        assert_eq!(h.scores[0], None);
        assert!((h.scores[3].unwrap() - 0.3).abs() < 1e-6);
        assert_eq!(v.signals[0].value, 5.0);
        s.forget("a");
        assert!(s.signals(T0, 0, &q()).signals.is_empty());
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
        let v = s.signals(T0 + 40_000, 3, &q());
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
    fn signals_past_the_bounds_are_left_out_or_kept_without_history() {
        let s = Status::new("h".into());
        let n = MAX_SIGNALS + 5;
        for i in 0..n {
            s.record(
                &format!("s{i:06}").into(),
                T0,
                1.0,
                None,
                false,
                Stage::Full,
            );
        }
        let v = s.signals(T0, n as u64, &q());
        assert_eq!(v.signals_kept, MAX_SIGNALS);
        assert_eq!(v.total, MAX_SIGNALS);
        assert_eq!(v.signals_with_history, MAX_HISTORIES);
        assert_eq!(v.signals_active, n as u64);
        assert_eq!(&*v.signals[0].signal, "s000000");
        // The first MAX_HISTORIES seen have a history, the later ones their latest point.
        assert_eq!(v.signals[0].history.values, [Some(1.0)]);
        let late = SignalQuery {
            prefix: Some(format!("s{:06}", MAX_HISTORIES)),
            ..q()
        };
        let v = s.signals(T0, n as u64, &late);
        assert_eq!(v.signals[0].value, 1.0);
        assert!(v.signals[0].history.values.is_empty());
        // Forgetting one with a history makes room: the next point of a later one starts one.
        s.forget("s000000");
        s.record(
            &format!("s{:06}", MAX_HISTORIES).into(),
            T0 + 1,
            2.0,
            None,
            false,
            Stage::Full,
        );
        let v = s.signals(T0, n as u64, &late);
        assert_eq!(v.signals[0].history.values, [Some(2.0)]);
        assert_eq!(v.signals_with_history, MAX_HISTORIES);
    }

    /// `n` signals named `g{i % 3}.x.{i:05}`, score `i / n`, every 7th anomalous, every
    /// 5th still learning.
    fn many(n: usize) -> Status {
        let s = Status::new("h".into());
        for i in 0..n {
            let stage = if i % 5 == 0 {
                Stage::Learning { next_in: 3 }
            } else {
                Stage::Full
            };
            let score = (i % 5 != 0).then_some(i as f64 / n as f64);
            let name: Arc<str> = format!("g{}.x.{i:05}", i % 3).into();
            s.record(&name, T0, i as f64, score, i % 7 == 0, stage);
        }
        s
    }

    #[test]
    fn pages_are_sorted_by_name_stable_and_complete() {
        let s = many(1234);
        let mut names: Vec<String> = Vec::new();
        let mut query = SignalQuery { limit: 500, ..q() };
        let mut pages = Vec::new();
        loop {
            let v = s.signals(T0, 1234, &query);
            assert_eq!(v.total, 1234);
            assert_eq!(v.stages.learning + v.stages.early + v.stages.full, 1234);
            assert_eq!(v.stages.learning, 247);
            pages.push((v.offset, v.signals_listed, v.next_offset, v.next.clone()));
            names.extend(v.signals.iter().map(|x| x.signal.to_string()));
            // Scores change between two pages: the order does not.
            s.record(
                &"g0.x.00003".into(),
                T0 + 1,
                1.0,
                Some(0.99),
                true,
                Stage::Full,
            );
            let Some(next) = v.next_offset else { break };
            query.offset = next;
        }
        assert_eq!(
            pages,
            [
                (0, 500, Some(500), Some("/api/v1/signals?offset=500".into())),
                (
                    500,
                    500,
                    Some(1000),
                    Some("/api/v1/signals?offset=1000".into())
                ),
                (1000, 234, None, None),
            ]
        );
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "every signal once, by name");
        // Past the end: an empty page with the total.
        let v = s.signals(
            T0,
            1234,
            &SignalQuery {
                offset: 5000,
                ..q()
            },
        );
        assert!(v.signals.is_empty() && v.total == 1234 && v.next.is_none());
    }

    #[test]
    fn prefix_and_stage_narrow_the_pages_and_their_counts() {
        let s = many(300);
        let g1 = SignalQuery {
            prefix: Some("g1.".into()),
            limit: 40,
            ..q()
        };
        let v = s.signals(T0, 300, &g1);
        assert_eq!(v.total, 100);
        assert!(v.signals.iter().all(|x| x.signal.starts_with("g1.")));
        assert_eq!(
            v.next.as_deref(),
            Some("/api/v1/signals?offset=40&limit=40&prefix=g1.")
        );
        let learning = SignalQuery {
            stage: Some("learning"),
            ..g1
        };
        let v = s.signals(T0, 300, &learning);
        assert_eq!(v.total, 20);
        assert_eq!((v.stages.learning, v.stages.full), (20, 0));
        assert!(v.signals.iter().all(|x| x.stage == "learning"));
    }

    #[test]
    fn the_overview_counts_all_and_lists_the_top_rows_anomalous_first() {
        let n = 3000;
        let s = many(n);
        let o = s.overview(T0, n as u64, &q(), 200);
        assert_eq!(o.rows.len(), 200);
        assert_eq!(o.matched, n);
        assert_eq!(o.stages.learning, 600);
        assert_eq!(o.anomalous, n.div_ceil(7));
        assert_eq!(o.groups.len(), 3);
        assert_eq!(o.groups.iter().map(|g| g.signals).sum::<usize>(), n);
        assert_eq!(
            o.groups.iter().map(|g| g.anomalous).sum::<usize>(),
            o.anomalous
        );
        // Anomalous first, then by score, highest first.
        assert!(
            o.rows.iter().all(|r| r.anomalous),
            "429 anomalous fill 200 rows"
        );
        let scores: Vec<f64> = o.rows.iter().map(|r| r.score.unwrap_or(-1.0)).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert_eq!(&*o.rows[0].signal, "g2.x.02996");
        let few = s.overview(
            T0,
            n as u64,
            &SignalQuery {
                prefix: Some("g0.x.0000".into()),
                ..q()
            },
            200,
        );
        // 0, 3, 6, 9: 0 is anomalous (and learning), then 6 (score 0.002), 9, 3.
        let names: Vec<&str> = few.rows.iter().map(|r| &*r.signal).collect();
        assert_eq!(
            names,
            ["g0.x.00000", "g0.x.00009", "g0.x.00006", "g0.x.00003"]
        );
        assert_eq!(few.groups.len(), 1);
        assert_eq!(group_of("host.cpu.utilization"), "host.cpu");
        assert_eq!(group_of("up"), "up");
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
        let v = status.signals(T0 + 20_000, 2, &q());
        let names: Vec<&str> = v.signals.iter().map(|s| &*s.signal).collect();
        assert_eq!(names, ["a", "b"], "a NaN is not recorded");
        let a = &v.signals[0];
        assert_eq!(a.value, 1e6);
        assert!(a.anomalous && a.score.is_some_and(|s| s > 0.5), "{a:?}");
        // Warm-up points have no score: the first bucket's highest score is a later one's.
        assert_eq!(a.history.values.len(), 1);
        p.evict_idle(t0 + Duration::from_secs(61));
        let v = status.signals(T0 + 20_000, 1, &q());
        assert_eq!(v.signals.len(), 1);
        assert_eq!(&*v.signals[0].signal, "b");
        let disabled = seismo_config::parse(
            "[detectors]\nidle_ttl = \"1m\"\n[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n[[detectors.overrides]]\nsignals = [\"b\"]\nenabled = false\n",
            "t",
        )
        .unwrap();
        p.reconfigure_detectors(&disabled.detectors);
        assert!(status.signals(T0, 0, &q()).signals.is_empty());
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
