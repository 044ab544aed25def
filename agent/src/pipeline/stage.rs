//! The pipeline's stage: one detector per signal, created on first sight from the configuration,
//! fed every sample; anomalies and normal points go through alerting, alerts through incident
//! grouping, and both to its output (the sinks). Observers follow the scores.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_config::{AlertingConfig, Config, DetectorsConfig};
use seismo_detectors::{Learned, Verdict};
use tokio::sync::mpsc;

use super::detectors::Detectors;
use super::observer::Observer;
use super::output::Output;
use super::snapshot::{settings_hash, Encoded, Encoder, Loaded, Part, Parts, Restored, Writer};
use crate::alerting::hooks::Hooks;
use crate::alerting::incidents::Incidents;
use crate::alerting::lifecycle::Alerting;
use crate::alerting::silences::{SilenceGate, Silences};
use crate::clock::now_ms;
use crate::event::Normal;
use crate::event::{
    AlertEvent, AlertState, Anomaly, Event, IncidentState, LogEvidence, Range, Sample,
};
use crate::logs::LogUpdate;
use crate::sources::queue::SampleReceiver;
use crate::telemetry::stats::{LogLimiter, Stats};

/// A change run by the pipeline's own task between two events (a reload): it may edit the
/// pipeline and its output (the sinks), and returns alert events to send.
pub type PipelineCommand<O> = Box<dyn FnOnce(&mut Pipeline, &mut O) -> Vec<AlertEvent> + Send>;

/// What a detector reload did to the signals already tracked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DetectorsReloaded {
    /// Signals whose effective settings did not change: learned state kept.
    pub kept: usize,
    /// Signals with new settings: a fresh detector (firing alerts resolve through it).
    pub reset: usize,
    /// Signals an override now disables: detector dropped, firing alert resolved.
    pub disabled: usize,
}

/// A snapshot being encoded between events: its encoder and the signals still to encode.
struct InProgress {
    encoder: Encoder,
    left: Vec<Arc<str>>,
}

/// Room for the next part of the snapshot being written; `None` when the write failed.
async fn reserve(
    sender: Option<tokio::sync::mpsc::Sender<Part>>,
) -> Option<tokio::sync::mpsc::OwnedPermit<Part>> {
    sender?.reserve_owned().await.ok()
}

/// Signals encoded per step of a snapshot: about 13 ms with the default ensemble (see the
/// `snapshot` bench), so inputs wait at most that long for a snapshot.
const SNAPSHOT_SLICE: usize = 500;

struct Tracked {
    /// `None` when an override disables the signal: remembered so the globs are matched once.
    detector: Option<Box<dyn Learned>>,
    /// [`settings_hash`] of the settings the detector was built with, saved beside it.
    settings: u64,
    last_seen: Instant,
}

pub struct Pipeline {
    detectors: DetectorsConfig,
    /// Builds and restores the detectors, sharing what signals of one settings group share.
    build: Detectors,
    signals: HashMap<Arc<str>, Tracked>,
    alerting: Alerting,
    incidents: Incidents,
    stats: Arc<Stats>,
    refused_log: LogLimiter,
    non_finite_log: LogLimiter,
    /// Per log source, the evidence of its last interval, attached to alerts on its signals.
    log_evidence: HashMap<String, HashMap<Arc<str>, Arc<LogEvidence>>>,
    /// Remediation hooks run on alert events; their outcomes go to the sinks.
    hooks: Option<Hooks>,
    /// Follow the scores and events: status page, OTLP gauges, scores on /metrics.
    observers: Vec<Arc<dyn Observer>>,
    /// Silences, applied where alert events leave for the sinks.
    silences: SilenceGate,
    /// For counting anomalies by severity (the same bound alerting uses).
    critical_score: f64,
    /// Snapshots of the learned state: every `interval`, and at the end of [`Pipeline::run`].
    snapshots: Option<(Writer, Duration)>,
    /// Signals whose detectors the last snapshot restored, for the start-up line.
    restored_signals: usize,
}

impl Pipeline {
    pub fn new(host: Arc<str>, config: &Config, stats: Arc<Stats>) -> Self {
        Self {
            detectors: config.detectors.clone(),
            build: Detectors::default(),
            signals: HashMap::new(),
            alerting: Alerting::new(Arc::clone(&host), &config.alerting),
            incidents: Incidents::new(host, config.alerting.correlation_window),
            stats: Arc::clone(&stats),
            refused_log: LogLimiter::new(Duration::from_secs(300)),
            non_finite_log: LogLimiter::new(Duration::from_secs(300)),
            log_evidence: HashMap::new(),
            hooks: None,
            observers: Vec::new(),
            silences: SilenceGate::new(
                Arc::new(Silences::from_config(&config.silences, now_ms())),
                Arc::clone(&stats),
            ),
            critical_score: config.alerting.critical_score.get(),
            snapshots: None,
            restored_signals: 0,
        }
    }

    /// Restores what `loaded` holds (see [`Pipeline::restore`]) and snapshots the learned
    /// state into `dir` every `interval` and when the pipeline stops.
    pub fn with_snapshots(
        mut self,
        dir: &std::path::Path,
        interval: Duration,
        loaded: Loaded,
    ) -> Self {
        for problem in &loaded.problems {
            tracing::warn!(dir = %dir.display(), "snapshot of the learned state: {problem}");
        }
        let restored = self.restore(loaded, Instant::now());
        self.restored_signals = restored.signals;
        if restored == Restored::default() {
            tracing::info!(dir = %dir.display(), "no learned state to restore: every signal learns from its first points");
        } else {
            tracing::info!(dir = %dir.display(), "learned state restored: {}", restored.describe());
        }
        self.snapshots = Some((Writer::new(dir, Arc::clone(&self.stats)), interval));
        self
    }

    /// Signals whose learned detector state [`Pipeline::with_snapshots`] restored.
    pub fn restored_signals(&self) -> usize {
        self.restored_signals
    }

    /// Takes the signals, alerts and incidents of a snapshot. A signal is restored when its
    /// effective detector settings are those it was saved with; otherwise it learns afresh.
    /// Alert states and incidents are restored whatever the detectors: a firing alert keeps
    /// its id and resolves through the signal's next normal points.
    pub fn restore(&mut self, loaded: Loaded, now: Instant) -> Restored {
        let mut done = Restored::default();
        for (signal, settings, state) in loaded.signals {
            if self.signals.len() >= self.detectors.max_signals
                || self.signals.contains_key(&signal)
            {
                done.dropped += 1;
                continue;
            }
            // Every saved signal is tracked again (a disabled one without a detector, a changed
            // one with a fresh detector), so one that is never reported again is forgotten
            // after `idle_ttl` and its restored alert resolved, as if the agent had not stopped.
            let current = self.detectors.settings_for(&signal);
            let (detector, settings) = match current {
                None => {
                    done.dropped += 1;
                    (None, 0)
                }
                Some(s) if settings_hash(&s) == settings => {
                    done.signals += 1;
                    (Some(self.build.restore(state)), settings)
                }
                Some(s) => {
                    done.settings_changed += 1;
                    if done.examples.len() < 3 {
                        done.examples.push(signal.to_string());
                    }
                    (self.build.build(&s, &signal).ok(), settings_hash(&s))
                }
            };
            self.signals.insert(
                signal,
                Tracked {
                    detector,
                    settings,
                    last_seen: now,
                },
            );
            Stats::add(&self.stats.signals_active, 1);
        }
        for (signal, track) in loaded.alerts {
            self.alerting.restore(signal, track);
        }
        done.alerts_firing = self.alerting.firing();
        if let Some(incidents) = loaded.incidents {
            self.incidents.restore(incidents);
        }
        done.incidents_open = self.incidents.open();
        done
    }

    /// Encodes everything learned, whole in memory: each signal's detector (with its settings
    /// hash), each signal's alert state, the open incidents. For tests and the `snapshot`
    /// bench; the running pipeline streams its snapshots to the file a slice at a time.
    pub fn snapshot(&self) -> Encoded {
        let mut p = self.start_snapshot();
        loop {
            if let Some(done) = self.snapshot_step(&mut p, usize::MAX) {
                return done;
            }
        }
    }

    /// A snapshot to encode a slice at a time ([`Pipeline::snapshot_step`]), so that the
    /// pipeline serves its inputs in between.
    fn start_snapshot(&self) -> InProgress {
        InProgress {
            encoder: Encoder::new(now_ms()),
            left: self.signals.keys().cloned().collect(),
        }
    }

    /// Encodes up to `slice` more signals of `p`; once none are left, the alert states and
    /// incidents (as they are now), and returns the finished snapshot. A signal forgotten in
    /// between is left out; one that appeared waits for the next snapshot.
    fn snapshot_step(&self, p: &mut InProgress, slice: usize) -> Option<Encoded> {
        let from = p.left.len().saturating_sub(slice);
        for signal in p.left.drain(from..) {
            if let Some(Tracked {
                detector: Some(d),
                settings,
                ..
            }) = self.signals.get(&signal)
            {
                p.encoder.signal(&signal, *settings, d.save());
            }
        }
        if !p.left.is_empty() {
            return None;
        }
        let mut e = std::mem::replace(&mut p.encoder, Encoder::new(0));
        for (signal, track) in self.alerting.tracks() {
            e.alert(signal, track);
        }
        e.incidents(&self.incidents.save());
        Some(e.finish())
    }

    /// Runs `hooks` on the alert events (see `hooks/mod.rs`).
    pub fn with_hooks(mut self, hooks: Hooks) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Tells `observer` of every scored point, forgotten signal, log interval and event.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Uses `store` (config and API silences, shared with the HTTP API) instead of the
    /// configuration's silences alone.
    pub fn with_silences(mut self, store: Arc<Silences>) -> Self {
        self.silences = SilenceGate::new(store, Arc::clone(&self.stats));
        self
    }

    /// Scores one log source's interval; returns the alert events it caused, with evidence.
    pub fn process_logs(&mut self, update: LogUpdate, now: Instant) -> Vec<AlertEvent> {
        if update.learn_only {
            self.learn(&update.samples, now);
            return Vec::new();
        }
        let mut events = Vec::new();
        for (anomaly, evidence) in update.novel {
            if let Some(mut e) = self.alerting.on_novel(&anomaly) {
                e.log = Some(evidence);
                events.push(e);
            }
        }
        for (signal, normal, evidence) in update.normals {
            if let Some(mut e) = self.alerting.on_normal(&signal, &normal) {
                e.log = Some(evidence);
                events.push(e);
            }
        }
        for o in &self.observers {
            o.log_evidence(&update.evidence);
        }
        let evidence = self.log_evidence.entry(update.source).or_default();
        *evidence = update.evidence;
        for sample in &update.samples {
            if let Some(mut e) = self.process(sample, now) {
                e.log = self
                    .log_evidence
                    .values()
                    .find_map(|m| m.get(&sample.signal))
                    .cloned();
                events.push(e);
            }
        }
        events
    }

    /// History's samples (see `crate::logs`): each signal's detector learns them in order,
    /// and so does its long-horizon profile (the significance rules' usual levels and scale),
    /// as live points would teach both; nothing is scored, observed or alerted on.
    pub fn learn(&mut self, samples: &[Sample], now: Instant) {
        for sample in samples {
            if let Some(d) = self.detector_for(&sample.signal, now) {
                let _ = d.observe(sample.ts_ms, sample.value);
                self.alerting.learn(&sample.signal, sample.value);
            }
        }
    }

    /// Scores one sample; returns the alert event it caused, if any.
    pub fn process(&mut self, sample: &Sample, now: Instant) -> Option<AlertEvent> {
        Stats::add(&self.stats.samples, 1);
        let (verdict, detector, stage) = {
            let d = self.detector_for(&sample.signal, now)?;
            (d.observe(sample.ts_ms, sample.value), d.name(), d.stage())
        };
        let scored = match &verdict {
            Verdict::WarmingUp => Some((None, false)),
            Verdict::Scored(o) => Some((Some(o.score), o.anomalous)),
            Verdict::Skipped => None,
        };
        if let Some((score, anomalous)) = scored {
            for o in &self.observers {
                o.scored(sample, score, anomalous, stage);
            }
            self.alerting.learn(&sample.signal, sample.value);
        }
        match verdict {
            Verdict::WarmingUp => None,
            Verdict::Skipped => {
                Stats::add(&self.stats.non_finite_skipped, 1);
                if let Some(n) = self.non_finite_log.hit() {
                    tracing::warn!(
                        signal = %sample.signal, value = sample.value, skipped = n,
                        "non-finite values skipped (logged at most every 5 minutes)"
                    );
                }
                None
            }
            Verdict::Scored(o) if o.anomalous => {
                Stats::add(&self.stats.anomalies, 1);
                let severity = if o.score >= self.critical_score {
                    "critical"
                } else {
                    "warning"
                };
                self.stats.anomalies_by_severity.add(severity, 1);
                let anomaly = Anomaly {
                    signal: Arc::clone(&sample.signal),
                    ts_ms: sample.ts_ms,
                    score: o.score,
                    observed: sample.value,
                    expected_low: o.expected_low,
                    expected_high: o.expected_high,
                    detector,
                    evidence: o.evidence,
                };
                self.alerting.on_anomaly(&anomaly)
            }
            Verdict::Scored(o) => {
                let normal = Normal {
                    ts_ms: sample.ts_ms,
                    observed: sample.value,
                    score: o.score,
                    expected: Range {
                        low: o.expected_low,
                        high: o.expected_high,
                    },
                };
                self.alerting.on_normal(&sample.signal, &normal)
            }
        }
    }

    fn detector_for(&mut self, signal: &Arc<str>, now: Instant) -> Option<&mut Box<dyn Learned>> {
        if !self.signals.contains_key(signal) {
            if self.signals.len() >= self.detectors.max_signals {
                Stats::add(&self.stats.signals_refused, 1);
                if let Some(n) = self.refused_log.hit() {
                    tracing::warn!(
                        signal = %signal, refused = n, max_signals = self.detectors.max_signals,
                        "signal limit reached: new signals are not watched (raise detectors.max_signals)"
                    );
                }
                return None;
            }
            let settings = self.detectors.settings_for(signal);
            let hash = settings.as_ref().map_or(0, settings_hash);
            let detector = settings.and_then(|s| match self.build.build(&s, signal) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::error!(signal = %signal, error = %e, "cannot build detector");
                    None
                }
            });
            self.signals.insert(
                Arc::clone(signal),
                Tracked {
                    detector,
                    settings: hash,
                    last_seen: now,
                },
            );
            Stats::add(&self.stats.signals_active, 1);
        }
        let tracked = self.signals.get_mut(signal)?;
        tracked.last_seen = now;
        tracked.detector.as_mut()
    }

    /// Forgets signals not seen for `idle_ttl`, resolving their firing alerts.
    pub fn evict_idle(&mut self, now: Instant) -> Vec<AlertEvent> {
        let ttl = self.detectors.idle_ttl;
        let idle: Vec<Arc<str>> = self
            .signals
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(t.last_seen) >= ttl)
            .map(|(k, _)| Arc::clone(k))
            .collect();
        let mut events = Vec::new();
        for signal in idle {
            self.signals.remove(&signal);
            self.stats
                .signals_active
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            Stats::add(&self.stats.signals_evicted, 1);
            for o in &self.observers {
                o.forget(&signal);
            }
            events.extend(self.alerting.forget(&signal, now_ms()));
        }
        events
    }

    pub fn signal_count(&self) -> usize {
        self.signals.len()
    }

    /// What the signals' detectors hold by their own count (`Detector::state_bytes`): the
    /// part of the pipeline's memory that is learned state, for the memory benches.
    pub fn detector_bytes(&self) -> usize {
        self.signals
            .values()
            .filter_map(|t| t.detector.as_ref())
            .map(|d| d.state_bytes())
            .sum()
    }

    /// Takes reloaded detector settings. A tracked signal keeps its detector (and all it
    /// learned) when its effective settings are unchanged; otherwise it gets a fresh one.
    /// Returns what happened, and the resolved events of signals now disabled.
    pub fn reconfigure_detectors(
        &mut self,
        new: &DetectorsConfig,
    ) -> (DetectorsReloaded, Vec<AlertEvent>) {
        let mut done = DetectorsReloaded::default();
        let mut events = Vec::new();
        if *new == self.detectors {
            done.kept = self.signals.len();
            return (done, events);
        }
        for (signal, tracked) in &mut self.signals {
            let before = self.detectors.settings_for(signal);
            let after = new.settings_for(signal);
            if before == after {
                done.kept += 1;
                continue;
            }
            tracked.detector = match after {
                None => {
                    done.disabled += 1;
                    events.extend(self.alerting.forget(signal, now_ms()));
                    for o in &self.observers {
                        o.forget(signal);
                    }
                    None
                }
                Some(s) => {
                    done.reset += 1;
                    tracked.settings = settings_hash(&s);
                    match self.build.build(&s, signal) {
                        Ok(d) => Some(d),
                        Err(e) => {
                            tracing::error!(signal = %signal, error = %e, "cannot build detector");
                            None
                        }
                    }
                }
            };
        }
        self.detectors = new.clone();
        (done, events)
    }

    /// Takes reloaded alerting parameters; alerts already firing stay firing.
    pub fn reconfigure_alerting(&mut self, config: &AlertingConfig) {
        self.alerting.reconfigure(config);
        self.incidents.set_window(config.correlation_window);
        self.critical_score = config.critical_score.get();
    }

    /// Runs until every sample sender (host and logs) is gone, then returns (dropping the
    /// sinks' senders, which lets them drain and stop). Log updates come on a bounded channel
    /// and are never dropped: a busy pipeline slows the log stage down instead.
    /// Commands (reloads) run between events.
    pub async fn run<O: Output>(
        mut self,
        mut samples: SampleReceiver,
        mut logs: mpsc::Receiver<LogUpdate>,
        mut commands: mpsc::Receiver<PipelineCommand<O>>,
        mut out: O,
    ) {
        let sweep_for = |ttl: Duration| {
            let mut sweep = tokio::time::interval((ttl / 4).min(Duration::from_secs(60)));
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            sweep
        };
        let mut sweep_ttl = self.detectors.idle_ttl;
        let mut sweep = sweep_for(sweep_ttl);
        let (mut host_open, mut logs_open, mut commands_open) = (true, true, true);
        // Ticks the health heartbeat and releases alerts whose silence ended.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hooks = self.hooks.take();
        let mut snapshots = self.snapshots.take();
        // The first tick of a tokio interval is immediate: start one interval from now.
        let mut snapshot_tick = tokio::time::interval_at(
            tokio::time::Instant::now()
                + snapshots
                    .as_ref()
                    .map_or(Duration::from_secs(3600), |s| s.1),
            snapshots
                .as_ref()
                .map_or(Duration::from_secs(3600), |s| s.1),
        );
        snapshot_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The snapshot being encoded, and where its slices go.
        let mut encoding: Option<(InProgress, Parts)> = None;
        while host_open || logs_open {
            let part_sender = encoding.as_ref().map(|(_, parts)| parts.sender());
            if self.detectors.idle_ttl != sweep_ttl {
                sweep_ttl = self.detectors.idle_ttl;
                sweep = sweep_for(sweep_ttl);
            }
            let events = tokio::select! {
                command = commands.recv(), if commands_open => match command {
                    Some(command) => command(&mut self, &mut out),
                    None => { commands_open = false; Vec::new() }
                },
                update = logs.recv(), if logs_open => match update {
                    Some(update) => self.process_logs(update, Instant::now()),
                    None => { logs_open = false; Vec::new() }
                },
                // The queue drops (and counts) the oldest batches when this falls behind.
                batch = samples.recv(), if host_open => match batch {
                    Some(batch) => {
                        let now = Instant::now();
                        batch.iter().filter_map(|s| self.process(s, now)).collect()
                    }
                    None => { host_open = false; Vec::new() }
                },
                _ = sweep.tick() => self.evict_idle(Instant::now()),
                _ = snapshot_tick.tick(), if snapshots.is_some() && encoding.is_none() => {
                    // A write still in flight (a slow disk) skips this one.
                    if let Some((writer, _)) = snapshots.as_mut().filter(|(w, _)| !w.busy()) {
                        encoding = Some((self.start_snapshot(), writer.open()));
                    }
                    Vec::new()
                }
                // One slice of the snapshot being encoded, once the writer has room for it;
                // then ready at once, so it takes turns with the inputs (select! picks among
                // ready branches at random), and a slow disk delays the snapshot, not them.
                permit = reserve(part_sender), if encoding.is_some() => {
                    let over = match (permit, encoding.as_mut()) {
                        (Some(permit), Some((p, _))) => {
                            match self.snapshot_step(p, SNAPSHOT_SLICE) {
                                Some(done) => {
                                    permit.send(Part::End(done));
                                    true
                                }
                                None => {
                                    permit.send(Part::Slice(p.encoder.take()));
                                    false
                                }
                            }
                        }
                        // The write failed (logged and counted by the writer): this snapshot
                        // is abandoned, the previous one stays.
                        _ => true,
                    };
                    if over {
                        encoding = None;
                    }
                    Vec::new()
                }
                Some(outcome) = next_outcome(&mut hooks) => {
                    let events = [Event::Hook(outcome)];
                    for o in &self.observers {
                        o.events(&events);
                    }
                    out.send_all(events.into()).await;
                    Vec::new()
                }
                _ = tick.tick() => {
                    self.stats.heartbeat_ms.store(
                        u64::try_from(now_ms()).unwrap_or(0),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    self.silences.release(now_ms())
                }
            };
            // The one place alert events leave for incidents, hooks and the sinks: silences
            // apply here, so a silenced alert joins no incident and runs no hook.
            let now = now_ms();
            let events: Vec<Event> = events
                .into_iter()
                .filter_map(|a| self.silences.admit(a, now))
                .flat_map(|a| self.incidents.on_alert(a))
                .collect();
            for o in &self.observers {
                o.events(&events);
            }
            for event in &events {
                count(&self.stats, event);
                if let Some(h) = &mut hooks {
                    match event {
                        Event::Alert(a) => h.dispatch(a),
                        Event::Incident(i) => h.dispatch(i),
                        Event::Hook(_) => {}
                    }
                }
            }
            // One hand-off per burst: outbox sinks store it with one fsync.
            out.send_all(events).await;
        }
        // A clean stop saves the latest state (all inputs are drained by now), streamed as
        // the periodic ones are; one being encoded is abandoned for it.
        drop(encoding);
        if let Some((mut writer, _)) = snapshots {
            writer.flush().await;
            let mut p = self.start_snapshot();
            let parts = writer.open();
            loop {
                let part = match self.snapshot_step(&mut p, SNAPSHOT_SLICE) {
                    Some(done) => Part::End(done),
                    None => Part::Slice(p.encoder.take()),
                };
                let end = matches!(part, Part::End(_));
                if !parts.send(part).await || end {
                    break;
                }
            }
            drop(parts);
            writer.flush().await;
        }
        // Runs still going are stopped; their outcomes still reach the sinks.
        if let Some(h) = &mut hooks {
            h.stop();
            while let Some(outcome) = h.next_outcome().await {
                let events = [Event::Hook(outcome)];
                for o in &self.observers {
                    o.events(&events);
                }
                out.send_all(events.into()).await;
            }
        }
    }
}

/// The next hook outcome; pending forever without hooks (so `select!` skips it).
async fn next_outcome(hooks: &mut Option<Hooks>) -> Option<crate::event::HookOutcome> {
    match hooks {
        Some(h) => h.next_outcome().await,
        None => std::future::pending().await,
    }
}

fn count(stats: &Stats, event: &Event) {
    if let Event::Alert(a) = event {
        if a.state == AlertState::Firing {
            stats.alerts_by_severity.add(a.severity.name(), 1);
        }
    }
    let counter = match event {
        Event::Alert(a) if a.state == AlertState::Firing => &stats.alerts_firing,
        Event::Alert(_) => &stats.alerts_resolved,
        Event::Incident(i) if i.state == IncidentState::Opened => &stats.incidents_opened,
        Event::Incident(i) if i.state == IncidentState::Resolved => &stats.incidents_resolved,
        Event::Incident(_) | Event::Hook(_) => return,
    };
    Stats::add(counter, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(config: &str) -> (Pipeline, Arc<Stats>) {
        let config = seismo_config::parse(config, "test").unwrap();
        let stats = Arc::new(Stats::default());
        (
            Pipeline::new("h".into(), &config, Arc::clone(&stats)),
            stats,
        )
    }

    fn detectors(config: &str) -> DetectorsConfig {
        seismo_config::parse(config, "test").unwrap().detectors
    }

    /// Feeds `n` normal points to `signal` from `from`; returns the events.
    fn feed(p: &mut Pipeline, signal: &str, from: i64, n: i64) -> Vec<AlertEvent> {
        let now = Instant::now();
        (from..from + n)
            .filter_map(|i| p.process(&sample(signal, i * 1000, 100.0 + wiggle(i)), now))
            .collect()
    }

    #[test]
    fn a_detector_reload_keeps_unchanged_signals_and_resets_changed_ones() {
        let old = "[detectors.defaults]\nkind = \"ewma\"\nwarmup = 10\n";
        let (mut p, _) = pipeline(old);
        feed(&mut p, "app.kept", 0, 50);
        feed(&mut p, "app.reset", 0, 50);
        feed(&mut p, "quiet.x", 0, 50);
        // A spike on `quiet.x` fires; disabling it resolves the alert.
        let now = Instant::now();
        let fired = p.process(&sample("quiet.x", 50_000, 1e6), now);
        assert_eq!(fired.map(|e| e.state), Some(AlertState::Firing));

        let new = detectors(&format!(
            "{old}[[detectors.overrides]]\nsignals = [\"app.reset\"]\nthreshold = 0.6\n\
             [[detectors.overrides]]\nsignals = [\"quiet.*\"]\nenabled = false\n"
        ));
        let (done, events) = p.reconfigure_detectors(&new);
        assert_eq!(
            done,
            DetectorsReloaded {
                kept: 1,
                reset: 1,
                disabled: 1
            }
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].state, AlertState::Resolved);
        assert_eq!(&*events[0].signal, "quiet.x");
        // The kept detector is past its warm-up: a spike scores at once. The reset one warms
        // up again: the same spike is not scored.
        let kept = p.process(&sample("app.kept", 60_000, 1e6), now);
        assert_eq!(kept.map(|e| e.state), Some(AlertState::Firing));
        assert!(p.process(&sample("app.reset", 60_000, 1e6), now).is_none());
        assert!(p.signals["quiet.x"].detector.is_none());

        // The same settings again change nothing.
        let (again, events) = p.reconfigure_detectors(&new);
        assert_eq!(again.kept, 3);
        assert!(events.is_empty());
    }

    #[test]
    fn a_restored_pipeline_scores_at_once_and_resolves_the_alert_it_saved_firing() {
        let config = "[detectors.defaults]\nkind = \"ewma\"\nwarmup = 30\n";
        let (mut p, _) = pipeline(config);
        feed(&mut p, "app.latency", 0, 60);
        feed(&mut p, "app.other", 0, 60);
        let now = Instant::now();
        let fired = p.process(&sample("app.latency", 60_000, 1e6), now).unwrap();
        assert_eq!(fired.state, AlertState::Firing);
        let incident_events = p.incidents.on_alert(fired.clone());
        assert_eq!(incident_events.len(), 2, "the alert opens an incident");
        let bytes = p.snapshot().bytes;

        // Another configuration for `app.other` only: it learns afresh, the rest is restored.
        let (mut q, stats) = pipeline(&format!(
            "{config}[[detectors.overrides]]\nsignals = [\"app.other\"]\nthreshold = 0.7\n"
        ));
        let loaded = super::super::snapshot::decode(&bytes);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let restored = q.restore(loaded, now);
        assert_eq!(restored.signals, 1);
        assert_eq!(restored.settings_changed, 1);
        assert_eq!(restored.examples, ["app.other"]);
        assert_eq!(restored.alerts_firing, 1);
        assert_eq!(restored.incidents_open, 1);
        assert_eq!(Stats::get(&stats.signals_active), 2);

        // The next anomalous point is scored at once and is not a new alert; normal points
        // resolve the saved alert under its id, and its incident with it.
        assert!(q
            .process(&sample("app.latency", 61_000, 1e6), now)
            .is_none());
        let mut events = Vec::new();
        for i in 62..80 {
            events.extend(q.process(&sample("app.latency", i * 1000, 100.0 + wiggle(i)), now));
        }
        assert_eq!(events.len(), 1, "{events:#?}");
        assert_eq!(events[0].state, AlertState::Resolved);
        assert_eq!(events[0].alert_id, fired.alert_id);
        let out = q.incidents.on_alert(events.remove(0));
        assert!(
            matches!(&out[1], Event::Incident(i) if i.state == IncidentState::Resolved),
            "{out:#?}"
        );
        // The changed signal warms up again: a spike is not scored.
        assert!(q.process(&sample("app.other", 61_000, 1e6), now).is_none());
        assert!(q.signals["app.other"].detector.is_some());
    }

    #[test]
    fn a_snapshot_encoded_in_slices_holds_what_one_encoded_at_once_does() {
        let (mut p, _) = pipeline("[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n");
        for name in ["a", "b", "c", "d", "e"] {
            feed(&mut p, name, 0, 20);
        }
        let mut progress = p.start_snapshot();
        // A signal forgotten in between is left out.
        p.signals.remove("c");
        let mut steps = 1;
        let sliced = loop {
            match p.snapshot_step(&mut progress, 2) {
                Some(done) => break done,
                None => steps += 1,
            }
        };
        assert_eq!(steps, 3);
        let names = |bytes: &[u8]| {
            let mut n: Vec<String> = super::super::snapshot::decode(bytes)
                .signals
                .into_iter()
                .map(|s| s.0.to_string())
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(&sliced.bytes), ["a", "b", "d", "e"]);
        assert_eq!(names(&sliced.bytes), names(&p.snapshot().bytes));
        assert_eq!(sliced.signals, 4);
    }

    #[test]
    fn a_restored_alert_whose_signal_never_comes_back_resolves_after_idle_ttl() {
        let config =
            "[detectors]\nidle_ttl = \"1m\"\n[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n";
        let (mut p, _) = pipeline(config);
        feed(&mut p, "gone", 0, 20);
        let now = Instant::now();
        let fired = p.process(&sample("gone", 20_000, 1e6), now).unwrap();
        // Restored under another detector setting: the signal is still tracked, and forgotten
        // (its alert resolved) when it is not reported for `idle_ttl`.
        let (mut q, _) = pipeline(&format!("{config}threshold = 0.7\n"));
        let restored = q.restore(super::super::snapshot::decode(&p.snapshot().bytes), now);
        assert_eq!((restored.signals, restored.settings_changed), (0, 1));
        assert!(q.evict_idle(now + Duration::from_secs(30)).is_empty());
        let events = q.evict_idle(now + Duration::from_secs(61));
        assert_eq!(events.len(), 1, "{events:#?}");
        assert_eq!(events[0].state, AlertState::Resolved);
        assert_eq!(events[0].alert_id, fired.alert_id);
    }

    fn sample(signal: &str, ts_ms: i64, value: f64) -> Sample {
        Sample {
            signal: signal.into(),
            ts_ms,
            value,
        }
    }

    /// Deterministic jitter in [-1, 1].
    fn wiggle(i: i64) -> f64 {
        ((i * 7919) % 200) as f64 / 100.0 - 1.0
    }

    #[test]
    fn history_teaches_the_significance_profile_too() {
        let (mut p, _) = pipeline("");
        let now = Instant::now();
        let signal = "log.app.lines_per_s";
        // History: about 1 line a second, a long batch run at 20 lines a second, 1 again.
        let level = |i: i64| match i {
            1500..2100 => 20.0,
            _ => 1.0 + wiggle(i) * 0.1,
        };
        let history: Vec<Sample> = (0..2200)
            .map(|i| sample(signal, i * 1000, level(i)))
            .collect();
        p.learn(&history, now);
        // Live, a move to the level of the batch runs is a return to a usual level.
        let shift = seismo_detectors::Finding::LevelShift {
            before: 1.0,
            after: 20.0,
            spread: 0.1,
            points: 8,
        };
        let back = Anomaly {
            signal: signal.into(),
            ts_ms: 2_200_000,
            score: 0.9,
            observed: 20.0,
            expected_low: 0.8,
            expected_high: 1.2,
            detector: "ensemble",
            evidence: seismo_detectors::Evidence::single(seismo_detectors::Component {
                finding: shift,
                score: 0.9,
                expected_low: 0.8,
                expected_high: 1.2,
            }),
        };
        assert!(
            p.alerting.on_anomaly(&back).is_none(),
            "a usual level paged"
        );
        assert_eq!(p.alerting.held_back().usual_levels, 1);
        // A burst it never saw is judged against the history's scale, not as young.
        let mut fired = None;
        for i in 2200..2210 {
            let v = if i == 2205 {
                60.0
            } else {
                1.0 + wiggle(i) * 0.1
            };
            fired = fired.or(p.process(&sample(signal, i * 1000, v), now));
        }
        let fired = fired.expect("the burst pages");
        let s = fired.evidence.and_then(|e| e.significance).unwrap();
        assert_eq!(s.rule, "large_move", "{s:?}");
        assert!(s.horizon_points >= 2048, "{s:?}");
    }

    #[test]
    fn a_spike_fires_one_alert_that_resolves() {
        let (mut p, stats) = pipeline("[detectors.defaults]\nkind = \"ewma\"\nwarmup = 10\n");
        let now = Instant::now();
        let mut events = Vec::new();
        for i in 0..200 {
            let v = if i == 100 { 1_000.0 } else { 100.0 + wiggle(i) };
            events.extend(p.process(&sample("app.latency", i * 1000, v), now));
        }
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_eq!(events[0].state, AlertState::Firing);
        assert_eq!(events[0].time, 100_000);
        assert_eq!(events[0].observed, 1_000.0);
        assert!(events[0].expected.high < 1_000.0 && events[0].expected.low > 90.0);
        assert_eq!(events[1].state, AlertState::Resolved);
        assert_eq!(events[1].alert_id, events[0].alert_id);
        assert_eq!(Stats::get(&stats.samples), 200);
        assert_eq!(Stats::get(&stats.signals_active), 1);
    }

    #[test]
    fn non_finite_values_are_skipped_and_counted() {
        let (mut p, stats) = pipeline("[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n");
        let now = Instant::now();
        for i in 0..50 {
            let v = match i % 10 {
                3 => f64::NAN,
                7 => f64::INFINITY,
                _ => 5.0 + wiggle(i) * 0.1,
            };
            assert!(p.process(&sample("s", i, v), now).is_none());
        }
        assert_eq!(Stats::get(&stats.non_finite_skipped), 10);
    }

    #[test]
    fn signals_beyond_the_limit_are_refused_and_counted() {
        let (mut p, stats) = pipeline("[detectors]\nmax_signals = 2\n");
        let now = Instant::now();
        for name in ["a", "b", "c", "d"] {
            p.process(&sample(name, 0, 1.0), now);
        }
        assert_eq!(p.signal_count(), 2);
        assert_eq!(Stats::get(&stats.signals_refused), 2);
    }

    #[test]
    fn disabled_signals_are_not_scored() {
        let (mut p, _) = pipeline(
            "[detectors.defaults]\nkind = \"ewma\"\nwarmup = 2\n[[detectors.overrides]]\nsignals = [\"quiet.*\"]\nenabled = false\n",
        );
        let now = Instant::now();
        let mut events = Vec::new();
        for i in 0..50 {
            let v = if i == 40 { 1e9 } else { 1.0 + wiggle(i) };
            events.extend(p.process(&sample("quiet.x", i, v), now));
        }
        assert!(events.is_empty());
    }

    #[test]
    fn log_alerts_carry_their_evidence() {
        let (mut p, _) = pipeline("[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n");
        let now = Instant::now();
        let signal: Arc<str> = "log.app.errors_per_s".into();
        let evidence = |line: &str| {
            Arc::new(LogEvidence {
                source: "app".into(),
                template_id: Some(4),
                template: Some("disk <*> full".into()),
                sample_lines: vec![line.into()],
                sample_streams: Vec::new(),
                k8s: None,
            })
        };
        let mut fired = Vec::new();
        for i in 0..20 {
            let value = if i == 15 {
                500.0
            } else {
                1.0 + wiggle(i) * 0.1
            };
            let update = LogUpdate {
                source: "app".into(),
                samples: vec![sample(&signal, i * 1000, value)],
                evidence: [(Arc::clone(&signal), evidence(&format!("line {i}")))].into(),
                novel: Vec::new(),
                normals: Vec::new(),
                learn_only: false,
            };
            fired.extend(p.process_logs(update, now));
        }
        let firing = fired
            .iter()
            .find(|e| e.state == AlertState::Firing)
            .expect("the spike fires");
        let log = firing.log.as_ref().expect("log evidence on a log alert");
        assert_eq!(log.sample_lines, ["line 15"]);
        assert_eq!(log.template.as_deref(), Some("disk <*> full"));
        let json = serde_json::to_value(firing).unwrap();
        assert_eq!(json["log"]["template_id"], 4);
    }

    #[test]
    fn idle_signals_are_evicted_and_their_alerts_resolved() {
        let (mut p, stats) = pipeline(
            "[detectors]\nidle_ttl = \"1m\"\n[detectors.defaults]\nkind = \"ewma\"\nwarmup = 5\n",
        );
        let t0 = Instant::now();
        let mut fired = None;
        for i in 0..20 {
            let v = if i == 19 { 1e6 } else { 1.0 + wiggle(i) * 0.01 };
            fired = fired.or(p.process(&sample("gone", i, v), t0));
        }
        assert_eq!(fired.map(|e| e.state), Some(AlertState::Firing));
        p.process(&sample("stays", 0, 1.0), t0 + Duration::from_secs(50));
        let events = p.evict_idle(t0 + Duration::from_secs(61));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].state, AlertState::Resolved);
        assert_eq!(p.signal_count(), 1);
        assert_eq!(Stats::get(&stats.signals_evicted), 1);
        assert_eq!(Stats::get(&stats.signals_active), 1);
    }

    #[test]
    fn every_kind_is_built_from_the_config() {
        let (mut p, _) = pipeline(
            r#"
[[detectors.overrides]]
signals = ["k.mad"]
kind = "mad"
window = 32
[[detectors.overrides]]
signals = ["k.seasonal"]
kind = "seasonal"
[[detectors.overrides]]
signals = ["k.cusum"]
kind = "cusum"
[[detectors.overrides]]
signals = ["k.kmeans"]
kind = "kmeans"
clusters = 4
[[detectors.overrides]]
signals = ["k.knn"]
kind = "knn"
[[detectors.overrides]]
signals = ["k.ewma"]
kind = "ewma"
"#,
        );
        let now = Instant::now();
        for (signal, name) in [
            ("k.default", "ensemble"),
            ("k.mad", "mad"),
            ("k.seasonal", "seasonal"),
            ("k.cusum", "cusum"),
            ("k.kmeans", "kmeans"),
            ("k.knn", "knn"),
            ("k.ewma", "ewma"),
        ] {
            p.process(&sample(signal, 0, 1.0), now);
            let d = p.signals[signal].detector.as_ref().unwrap();
            assert_eq!(d.name(), name);
        }
    }

    #[test]
    fn the_default_ensemble_alerts_on_a_new_extreme() {
        let (mut p, _) = pipeline("[detectors.defaults]\nwarmup = 50\n");
        let now = Instant::now();
        let mut events = Vec::new();
        for i in 0..400 {
            // A repeating pattern: after warm-up nothing is new until the jump.
            let v = if i == 300 {
                1_000.0
            } else {
                100.0 + wiggle(i % 50)
            };
            events.extend(p.process(&sample("app.latency", i * 1000, v), now));
        }
        let firing: Vec<_> = events
            .iter()
            .filter(|e| e.state == AlertState::Firing)
            .collect();
        assert_eq!(firing.len(), 1, "{events:#?}");
        assert_eq!(firing[0].time, 300_000);
        assert_eq!(firing[0].detector, "ensemble");
    }
}
