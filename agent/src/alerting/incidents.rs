//! Groups the alerts of one host into incidents: an alert that starts within
//! `correlation_window` of the latest alert of an open incident joins it; otherwise it opens a
//! new one. The timeline is ordered by the time each alert started; its first signal is the
//! probable origin. The incident resolves when all its alerts have.
//!
//! Every alert passes through here on its way to the sinks and leaves with its `incident_id`,
//! followed by the incident event it caused, if any (opened, updated, resolved).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::format_ts;
use crate::event::{
    AlertEvent, AlertState, Event, IncidentEvent, IncidentState, Severity, TimelineEntry,
};

#[derive(Debug)]
struct Incident {
    id: String,
    /// The latest start among its alerts: later alerts join within the window of it.
    last_start: i64,
    severity: Severity,
    timeline: Vec<TimelineEntry>,
    /// Its alerts still firing.
    firing: usize,
    /// Alerts that joined past the timeline's bound.
    omitted: u32,
}

impl Incident {
    fn started_at(&self) -> i64 {
        self.timeline.first().map_or(self.last_start, |e| e.time)
    }

    fn origin(&self) -> Arc<str> {
        self.timeline
            .first()
            .map_or_else(|| "".into(), |e| Arc::clone(&e.signal))
    }

    fn signals(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = Vec::new();
        for e in &self.timeline {
            if !out.contains(&e.signal) {
                out.push(Arc::clone(&e.signal));
            }
        }
        out
    }
}

/// The open incidents as a snapshot keeps them (the timeline without its log evidence, which
/// the sinks' events carry on the alerts).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SavedIncidents {
    open: Vec<SavedIncident>,
    by_alert: Vec<(String, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedIncident {
    id: String,
    last_start: i64,
    severity: Severity,
    timeline: Vec<SavedEntry>,
    firing: usize,
    omitted: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedEntry {
    signal: String,
    time: i64,
    severity: Severity,
    alert_id: String,
    evidence: String,
    resolved_at: Option<i64>,
}

#[derive(Debug)]
pub struct Incidents {
    host: Arc<str>,
    window_ms: i64,
    open: Vec<Incident>,
    /// Firing alert id → id of its incident.
    by_alert: HashMap<String, String>,
}

impl Incidents {
    /// A reloaded correlation window; open incidents are kept.
    pub fn set_window(&mut self, correlation_window: Duration) {
        self.window_ms = i64::try_from(correlation_window.as_millis()).unwrap_or(i64::MAX);
    }

    pub fn new(host: Arc<str>, correlation_window: Duration) -> Self {
        Self {
            host,
            window_ms: i64::try_from(correlation_window.as_millis()).unwrap_or(i64::MAX),
            open: Vec::new(),
            by_alert: HashMap::new(),
        }
    }

    /// Incidents open now.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// The open incidents, for a snapshot.
    pub(crate) fn save(&self) -> SavedIncidents {
        SavedIncidents {
            open: self
                .open
                .iter()
                .map(|inc| SavedIncident {
                    id: inc.id.clone(),
                    last_start: inc.last_start,
                    severity: inc.severity,
                    timeline: inc
                        .timeline
                        .iter()
                        .map(|e| SavedEntry {
                            signal: e.signal.to_string(),
                            time: e.time,
                            severity: e.severity,
                            alert_id: e.alert_id.clone(),
                            evidence: e.evidence.clone(),
                            resolved_at: e.resolved_at,
                        })
                        .collect(),
                    firing: inc.firing,
                    omitted: inc.omitted,
                })
                .collect(),
            by_alert: self
                .by_alert
                .iter()
                .map(|(a, i)| (a.clone(), i.clone()))
                .collect(),
        }
    }

    /// The open incidents from a snapshot, replacing none: alerts that resolve after the
    /// restart resolve their incident as if the agent had never stopped.
    pub(crate) fn restore(&mut self, saved: SavedIncidents) {
        for inc in saved.open {
            if self.open.iter().any(|o| o.id == inc.id) {
                continue;
            }
            self.open.push(Incident {
                id: inc.id,
                last_start: inc.last_start,
                severity: inc.severity,
                timeline: inc
                    .timeline
                    .into_iter()
                    .map(|e| TimelineEntry {
                        signal: e.signal.into(),
                        time: e.time,
                        severity: e.severity,
                        alert_id: e.alert_id,
                        evidence: e.evidence,
                        resolved_at: e.resolved_at,
                        log: None,
                    })
                    .collect(),
                firing: inc.firing,
                omitted: inc.omitted,
            });
        }
        for (alert, incident) in saved.by_alert {
            if self.open.iter().any(|o| o.id == incident) {
                self.by_alert.entry(alert).or_insert(incident);
            }
        }
    }

    /// Assigns `alert` to its incident. Returns the alert, then the incident event it caused.
    pub fn on_alert(&mut self, mut alert: AlertEvent) -> Vec<Event> {
        let incident = match alert.state {
            AlertState::Firing => self.firing(&mut alert),
            AlertState::Resolved => self.resolved(&mut alert),
        };
        let mut out = vec![Event::Alert(alert)];
        out.extend(incident.map(Event::Incident));
        out
    }

    fn firing(&mut self, alert: &mut AlertEvent) -> Option<IncidentEvent> {
        // An alert already in an incident (escalated, or marked flapping).
        if let Some(id) = self.by_alert.get(&alert.alert_id) {
            alert.incident_id = id.clone();
            let i = self.open.iter().position(|inc| inc.id == *id)?;
            let inc = &mut self.open[i];
            if let Some(e) = inc
                .timeline
                .iter_mut()
                .find(|e| e.alert_id == alert.alert_id)
            {
                e.severity = e.severity.max(alert.severity);
            }
            if alert.severity <= inc.severity {
                return None;
            }
            inc.severity = alert.severity;
            let summary = format!("{} escalated to {}", alert.signal, alert.severity.name());
            return Some(self.event(i, alert.time, IncidentState::Updated, summary));
        }
        let entry = TimelineEntry {
            signal: Arc::clone(&alert.signal),
            time: alert.started_at,
            severity: alert.severity,
            alert_id: alert.alert_id.clone(),
            evidence: alert.summary.clone(),
            resolved_at: None,
            log: None,
        };
        let start = alert.started_at;
        // The most recent open incident whose alerts started close enough to this one.
        let joined = (self.window_ms > 0)
            .then(|| {
                self.open
                    .iter()
                    .enumerate()
                    .filter(|(_, inc)| {
                        start <= inc.last_start.saturating_add(self.window_ms)
                            && start >= inc.started_at().saturating_sub(self.window_ms)
                    })
                    .max_by_key(|(_, inc)| inc.last_start)
                    .map(|(i, _)| i)
            })
            .flatten();
        let Some(i) = joined else {
            let id = self.new_id(start);
            alert.incident_id = id.clone();
            self.by_alert.insert(alert.alert_id.clone(), id.clone());
            self.open.push(Incident {
                id,
                last_start: start,
                severity: alert.severity,
                timeline: vec![entry],
                firing: 1,
                omitted: 0,
            });
            let summary = format!("{} on {}: {}", alert.signal, self.host, alert.summary);
            return Some(self.event(
                self.open.len() - 1,
                alert.time,
                IncidentState::Opened,
                summary,
            ));
        };
        let inc = &mut self.open[i];
        alert.incident_id = inc.id.clone();
        self.by_alert
            .insert(alert.alert_id.clone(), alert.incident_id.clone());
        // Keep the timeline ordered by start; equal starts stay in arrival order.
        let at = inc.timeline.partition_point(|e| e.time <= start);
        inc.timeline.insert(at, entry);
        if inc.timeline.len() > IncidentEvent::MAX_TIMELINE {
            // Keep the earliest: the origin and how it spread.
            inc.timeline.pop();
            inc.omitted = inc.omitted.saturating_add(1);
        }
        inc.last_start = inc.last_start.max(start);
        inc.severity = inc.severity.max(alert.severity);
        inc.firing += 1;
        let summary = format!(
            "{} joined: {} signals anomalous on {}; probable origin {}",
            alert.signal,
            inc.signals().len(),
            self.host,
            inc.origin()
        );
        Some(self.event(i, alert.time, IncidentState::Updated, summary))
    }

    fn resolved(&mut self, alert: &mut AlertEvent) -> Option<IncidentEvent> {
        let Some(id) = self.by_alert.remove(&alert.alert_id) else {
            // Not seen firing (cannot happen: both live in the same pipeline). Still name one.
            alert.incident_id = self.new_id(alert.started_at);
            return None;
        };
        alert.incident_id = id;
        let i = self
            .open
            .iter()
            .position(|inc| inc.id == alert.incident_id)?;
        let inc = &mut self.open[i];
        if let Some(e) = inc
            .timeline
            .iter_mut()
            .find(|e| e.alert_id == alert.alert_id)
        {
            e.resolved_at = Some(alert.time);
        }
        inc.firing = inc.firing.saturating_sub(1);
        if inc.firing > 0 {
            return None;
        }
        let lasted = alert.time.saturating_sub(inc.started_at());
        let summary = format!(
            "all {} signals on {} are back to normal after {}; probable origin was {}",
            inc.signals().len(),
            self.host,
            humantime::format_duration(Duration::from_secs(
                u64::try_from(lasted / 1000).unwrap_or(0)
            )),
            inc.origin()
        );
        let event = self.event(i, alert.time, IncidentState::Resolved, summary);
        self.open.remove(i);
        Some(event)
    }

    /// `{host}@{start}`, with a suffix in the rare case an open incident has it already.
    fn new_id(&self, start: i64) -> String {
        let base = format!("{}@{start}", self.host);
        let taken = |id: &str| self.open.iter().any(|inc| inc.id == id);
        if !taken(&base) {
            return base;
        }
        (1..)
            .map(|n| format!("{base}.{n}"))
            .find(|id| !taken(id))
            .unwrap_or(base)
    }

    fn event(&self, i: usize, time: i64, state: IncidentState, summary: String) -> IncidentEvent {
        let inc = &self.open[i];
        let summary = match state {
            IncidentState::Resolved => summary,
            _ => format!("{summary} (since {})", format_ts(inc.started_at())),
        };
        IncidentEvent {
            time,
            state,
            incident_id: inc.id.clone(),
            host: Arc::clone(&self.host),
            severity: inc.severity,
            origin: inc.origin(),
            signals: inc.signals(),
            started_at: inc.started_at(),
            summary,
            timeline: inc.timeline.clone(),
            timeline_omitted: inc.omitted,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::event::{Range, Sample};
    use crate::pipeline::Pipeline;
    use crate::telemetry::stats::Stats;

    fn alert(signal: &str, state: AlertState, started: i64, time: i64) -> AlertEvent {
        AlertEvent {
            time,
            state,
            alert_id: format!("{signal}@{started}"),
            incident_id: String::new(),
            host: "h".into(),
            signal: signal.into(),
            severity: Severity::Warning,
            observed: 1.0,
            expected: Range {
                low: 0.0,
                high: 0.5,
            },
            score: 0.6,
            detector: "ewma",
            started_at: started,
            flapping: false,
            summary: format!("{signal} is high"),
            evidence: None,
            log: None,
        }
    }

    fn split(events: Vec<Event>) -> (AlertEvent, Option<IncidentEvent>) {
        let mut it = events.into_iter();
        let Some(Event::Alert(a)) = it.next() else {
            panic!("the alert comes first")
        };
        let inc = it.next().map(|e| match e {
            Event::Incident(i) => i,
            other => panic!("not an incident: {other:?}"),
        });
        assert!(it.next().is_none());
        (a, inc)
    }

    #[test]
    fn alerts_close_in_time_share_one_incident_until_all_resolve() {
        let mut inc = Incidents::new("h".into(), Duration::from_secs(60));
        let (a, opened) = split(inc.on_alert(alert("a", AlertState::Firing, 0, 0)));
        let opened = opened.expect("the first alert opens an incident");
        assert_eq!(opened.state, IncidentState::Opened);
        assert_eq!(a.incident_id, "h@0");
        assert_eq!(opened.incident_id, "h@0");
        let (b, joined) = split(inc.on_alert(alert("b", AlertState::Firing, 50_000, 50_000)));
        assert_eq!(b.incident_id, "h@0");
        let joined = joined.unwrap();
        assert_eq!(joined.state, IncidentState::Updated);
        assert_eq!(joined.signals, ["a".into(), "b".into()] as [Arc<str>; 2]);
        // 150 s after the first but 100 s after the latest: too far, a new incident.
        let (c, other) = split(inc.on_alert(alert("c", AlertState::Firing, 150_000, 150_000)));
        assert_eq!(c.incident_id, "h@150000");
        assert_eq!(other.unwrap().state, IncidentState::Opened);
        assert_eq!(inc.open(), 2);
        let (ra, none) = split(inc.on_alert(alert("a", AlertState::Resolved, 0, 200_000)));
        assert_eq!((ra.incident_id.as_str(), none), ("h@0", None));
        let (_, done) = split(inc.on_alert(alert("b", AlertState::Resolved, 50_000, 210_000)));
        let done = done.expect("the last alert resolves the incident");
        assert_eq!(done.state, IncidentState::Resolved);
        assert_eq!(done.timeline[0].resolved_at, Some(200_000));
        assert_eq!(done.timeline[1].resolved_at, Some(210_000));
        assert_eq!(inc.open(), 1);
    }

    #[test]
    fn an_earlier_start_becomes_the_origin_and_escalation_updates() {
        let mut inc = Incidents::new("h".into(), Duration::from_secs(60));
        inc.on_alert(alert("late", AlertState::Firing, 10_000, 10_000));
        // Fired later (k of n) but started earlier: it heads the timeline.
        let (_, e) = split(inc.on_alert(alert("early", AlertState::Firing, 5_000, 12_000)));
        let e = e.unwrap();
        assert_eq!(&*e.origin, "early");
        assert_eq!(e.started_at, 5_000);
        let mut up = alert("late", AlertState::Firing, 10_000, 13_000);
        up.severity = Severity::Critical;
        let (_, e) = split(inc.on_alert(up.clone()));
        let e = e.expect("a rise in severity updates the incident");
        assert_eq!(
            (e.state, e.severity),
            (IncidentState::Updated, Severity::Critical)
        );
        assert_eq!(e.timeline[1].severity, Severity::Critical);
        // The same alert sent again at the same severity (e.g. marked flapping): no event.
        up.flapping = true;
        assert!(split(inc.on_alert(up)).1.is_none());
    }

    #[test]
    fn the_timeline_keeps_the_earliest_alerts_and_counts_the_rest() {
        let mut inc = Incidents::new("h".into(), Duration::from_secs(60));
        let n = IncidentEvent::MAX_TIMELINE as i64 + 5;
        let mut last = None;
        for i in 0..n {
            let a = alert(&format!("s{i}"), AlertState::Firing, i * 100, i * 100);
            last = split(inc.on_alert(a)).1;
        }
        let last = last.unwrap();
        assert_eq!(last.timeline.len(), IncidentEvent::MAX_TIMELINE);
        assert_eq!(last.timeline_omitted, 5);
        assert_eq!(&*last.origin, "s0");
        // Every alert is still a member: the incident resolves only after the last of them.
        for i in 0..n {
            let a = alert(&format!("s{i}"), AlertState::Resolved, i * 100, 100_000 + i);
            let (a, e) = split(inc.on_alert(a));
            assert_eq!(a.incident_id, "h@0");
            assert_eq!(e.is_some(), i == n - 1);
        }
    }

    #[test]
    fn a_zero_window_makes_one_incident_per_alert() {
        let mut inc = Incidents::new("h".into(), Duration::ZERO);
        let (a, _) = split(inc.on_alert(alert("a", AlertState::Firing, 0, 0)));
        let (b, _) = split(inc.on_alert(alert("b", AlertState::Firing, 0, 0)));
        assert_eq!(
            (a.incident_id.as_str(), b.incident_id.as_str()),
            ("h@0", "h@0.1")
        );
    }

    /// Deterministic jitter in [-1, 1].
    fn wiggle(i: i64) -> f64 {
        ((i * 7919) % 200) as f64 / 100.0 - 1.0
    }

    /// The scenario through the real pipeline (EWMA detectors, default alerting): a
    /// disk fills, then latency rises, then errors burst. One incident, three signals, the disk
    /// as its origin; it resolves when all three are back to normal.
    #[test]
    fn disk_then_latency_then_errors_is_one_incident_with_the_disk_as_origin() {
        let config =
            seismo_config::parse("[detectors.defaults]\nkind = \"ewma\"\nwarmup = 20\n", "t")
                .unwrap();
        let mut p = Pipeline::new("web-1".into(), &config, Arc::new(Stats::default()));
        let mut incidents = Incidents::new("web-1".into(), config.alerting.correlation_window);
        let now = Instant::now();
        let mut events = Vec::new();
        // One point every 10 s for 30 minutes; trouble between minutes 10 and 14.
        for i in 0..180i64 {
            let ts = 1_764_000_000_000 + i * 10_000;
            let trouble = |from: i64, to: i64| (from..to).contains(&i);
            let disk = if trouble(60, 84) {
                0.97
            } else {
                0.52 + wiggle(i) * 0.005
            };
            let latency = if trouble(66, 84) {
                900.0
            } else {
                120.0 + wiggle(i + 7) * 5.0
            };
            let errors = if trouble(72, 84) {
                40.0
            } else {
                1.0 + wiggle(i + 3) * 0.2
            };
            for (signal, value) in [
                ("host.filesystem.used_ratio", disk),
                ("app.latency_ms", latency),
                ("log.app.errors_per_s", errors),
            ] {
                let sample = Sample {
                    signal: signal.into(),
                    ts_ms: ts,
                    value,
                };
                if let Some(alert) = p.process(&sample, now) {
                    events.extend(incidents.on_alert(alert));
                }
            }
        }
        let incidents_seen: Vec<&IncidentEvent> = events
            .iter()
            .filter_map(|e| match e {
                Event::Incident(i) => Some(i),
                Event::Alert(_) | Event::Hook(_) => None,
            })
            .collect();
        let ids: std::collections::HashSet<&str> = incidents_seen
            .iter()
            .map(|i| i.incident_id.as_str())
            .collect();
        assert_eq!(ids.len(), 1, "one incident: {incidents_seen:#?}");
        let states: Vec<IncidentState> = incidents_seen.iter().map(|i| i.state).collect();
        assert_eq!(
            states,
            [
                IncidentState::Opened,
                IncidentState::Updated,
                IncidentState::Updated,
                IncidentState::Resolved
            ],
            "{incidents_seen:#?}"
        );
        let last = incidents_seen[3];
        assert_eq!(&*last.origin, "host.filesystem.used_ratio");
        let signals: Vec<&str> = last.signals.iter().map(|s| &**s).collect();
        assert_eq!(
            signals,
            [
                "host.filesystem.used_ratio",
                "app.latency_ms",
                "log.app.errors_per_s"
            ]
        );
        assert_eq!(last.started_at, 1_764_000_000_000 + 60 * 10_000);
        assert!(last.timeline.windows(2).all(|w| w[0].time < w[1].time));
        assert!(last.timeline.iter().all(|e| e.resolved_at.is_some()));
        // Every alert names the incident.
        for e in &events {
            if let Event::Alert(a) = e {
                assert_eq!(a.incident_id, last.incident_id, "{a:?}");
            }
        }
        assert_eq!(incidents.open(), 0);
        let json = serde_json::to_value(Event::Incident(last.clone())).unwrap();
        assert_eq!(json["kind"], "incident");
        assert_eq!(json["state"], "resolved");
        assert_eq!(json["origin"], "host.filesystem.used_ratio");
        assert_eq!(json["timeline"][0]["time"], "2025-11-24T16:10:00.000Z");
        assert_eq!(json["timeline"][2]["signal"], "log.app.errors_per_s");
    }
}
