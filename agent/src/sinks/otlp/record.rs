//! How alert and incident events become OTLP log records (the mapping the README documents);
//! hook runs in `hook_record.rs`.
//!
//! Severity: a firing `warning` is WARN (13); a firing `critical` is ERROR (17), not FATAL,
//! because FATAL means the emitting application cannot go on, and it is the watched system that
//! is in trouble, not seismo; a `resolved` event is INFO (9) whatever the alert's severity was.
//! Incidents map the same way: opened and updated as firing, resolved as resolved.

use std::time::SystemTime;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity as OtelSeverity};
use opentelemetry::{InstrumentationScope, Key, KeyValue};
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use serde::Deserialize;

/// An alert event as the outbox holds it: the JSON of the stdout sink's schema (README).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireAlert {
    pub time: String,
    pub state: WireState,
    pub alert_id: String,
    /// Absent in records queued by a version without incidents.
    #[serde(default)]
    pub incident_id: Option<String>,
    pub host: String,
    pub signal: String,
    pub severity: WireSeverity,
    /// `null` when the signal stopped being reported (JSON has no NaN).
    pub observed: Option<f64>,
    pub expected: WireRange,
    pub score: f64,
    pub detector: String,
    pub started_at: String,
    #[serde(default)]
    pub flapping: bool,
    pub summary: String,
    /// Why it fired (firing alerts of versions that report it): position and components.
    #[serde(default)]
    pub evidence: Option<WireEvidence>,
    /// Log evidence; only its Kubernetes metadata becomes attributes.
    #[serde(default)]
    pub log: Option<WireLog>,
}

/// An alert's `evidence`: `position` and the components as they are in JSON (each becomes a
/// map attribute, so a new figure needs no change here).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct WireEvidence {
    pub position: String,
    #[serde(default)]
    pub components: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// A JSON value as an OTLP attribute value (`null` left out).
fn any_value(v: &serde_json::Value) -> Option<AnyValue> {
    use serde_json::Value;
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => AnyValue::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::from(i),
            None => AnyValue::from(n.as_f64()?),
        },
        Value::String(s) => AnyValue::from(s.clone()),
        Value::Array(a) => AnyValue::ListAny(Box::new(a.iter().filter_map(any_value).collect())),
        Value::Object(m) => AnyValue::Map(Box::new(
            m.iter()
                .filter_map(|(k, v)| Some((Key::from(k.clone()), any_value(v)?)))
                .collect(),
        )),
    })
}

/// The part of an alert's log evidence the OTLP record carries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireLog {
    #[serde(default)]
    pub k8s: Option<WireK8s>,
}

/// `log.k8s` of an alert: attributes k8s.pod.name, k8s.namespace.name, k8s.container.name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireK8s {
    pub pod: String,
    pub namespace: String,
    pub container: String,
}

/// An incident event as the outbox holds it: the JSON of the stdout sink's schema (README).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireIncident {
    pub time: String,
    pub state: WireIncidentState,
    pub incident_id: String,
    pub host: String,
    pub severity: WireSeverity,
    pub origin: String,
    pub signals: Vec<String>,
    pub started_at: String,
    pub summary: String,
    pub timeline: Vec<WireTimelineEntry>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireTimelineEntry {
    pub signal: String,
    pub time: String,
    pub severity: WireSeverity,
    pub alert_id: String,
    pub evidence: String,
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireIncidentState {
    Opened,
    Updated,
    Resolved,
}

impl WireIncident {
    /// Decodes an outbox payload; the error says what is wrong with it.
    pub fn decode(payload: &[u8]) -> Result<Self, String> {
        let incident: WireIncident = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        humantime::parse_rfc3339(&incident.time)
            .map_err(|e| format!("`time` {:?}: {e}", incident.time))?;
        Ok(incident)
    }
}

/// Any event the OTLP sink exports.
#[derive(Debug, Clone, PartialEq)]
pub enum WireEvent {
    Alert(WireAlert),
    Incident(WireIncident),
    /// A step of a hook run (`hook_record.rs`).
    Hook(super::hook_record::WireHook),
}

impl WireEvent {
    /// The id to name the event by in errors.
    pub fn id(&self) -> &str {
        match self {
            WireEvent::Alert(a) => &a.alert_id,
            WireEvent::Incident(i) => &i.incident_id,
            WireEvent::Hook(h) => &h.event_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireState {
    Firing,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireSeverity {
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct WireRange {
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl WireAlert {
    /// Decodes an outbox payload; the error says what is wrong with it.
    pub fn decode(payload: &[u8]) -> Result<Self, String> {
        let alert: WireAlert = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        humantime::parse_rfc3339(&alert.time)
            .map_err(|e| format!("`time` {:?}: {e}", alert.time))?;
        Ok(alert)
    }
}

/// The `event_name` of every alert record.
pub const EVENT_NAME: &str = "seismo.alert";
/// The `event_name` of every incident record.
pub const INCIDENT_EVENT_NAME: &str = "seismo.incident";

/// Builds log records for alert events. The SDK hands out records only through a logger, so
/// this keeps one from a provider without processors: nothing is emitted through it.
pub struct RecordBuilder {
    logger: SdkLogger,
    _provider: SdkLoggerProvider,
    scope: InstrumentationScope,
}

impl Default for RecordBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordBuilder {
    pub fn new() -> Self {
        let provider = SdkLoggerProvider::builder().build();
        let scope = InstrumentationScope::builder("seismo")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let logger =
            opentelemetry::logs::LoggerProvider::logger_with_scope(&provider, scope.clone());
        Self {
            logger,
            _provider: provider,
            scope,
        }
    }

    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }

    /// One log record for `event`.
    pub fn record(&self, event: &WireEvent) -> SdkLogRecord {
        match event {
            WireEvent::Alert(a) => self.alert(a),
            WireEvent::Incident(i) => self.incident(i),
            WireEvent::Hook(h) => {
                let mut r = self.logger.create_log_record();
                super::hook_record::fill(&mut r, h);
                r
            }
        }
    }

    fn incident(&self, event: &WireIncident) -> SdkLogRecord {
        let mut r = self.logger.create_log_record();
        let state = match event.state {
            WireIncidentState::Resolved => WireState::Resolved,
            WireIncidentState::Opened | WireIncidentState::Updated => WireState::Firing,
        };
        let (number, text) = severity(state, event.severity);
        r.set_event_name(INCIDENT_EVENT_NAME);
        if let Ok(t) = humantime::parse_rfc3339(&event.time) {
            r.set_timestamp(t);
        }
        r.set_observed_timestamp(SystemTime::now());
        r.set_severity_number(number);
        r.set_severity_text(text);
        r.set_body(AnyValue::from(event.summary.clone()));
        r.add_attribute("seismo.incident.id", event.incident_id.clone());
        r.add_attribute("seismo.incident.state", incident_state_name(event.state));
        r.add_attribute("seismo.incident.severity", severity_name(event.severity));
        r.add_attribute("seismo.incident.origin", event.origin.clone());
        r.add_attribute(
            "seismo.incident.signals",
            AnyValue::ListAny(Box::new(
                event.signals.iter().cloned().map(AnyValue::from).collect(),
            )),
        );
        r.add_attribute("seismo.incident.started_at", event.started_at.clone());
        let timeline = event
            .timeline
            .iter()
            .map(|e| {
                let mut m: Vec<(Key, AnyValue)> = vec![
                    (Key::from("signal"), AnyValue::from(e.signal.clone())),
                    (Key::from("time"), AnyValue::from(e.time.clone())),
                    (
                        Key::from("severity"),
                        AnyValue::from(severity_name(e.severity)),
                    ),
                    (Key::from("alert_id"), AnyValue::from(e.alert_id.clone())),
                    (Key::from("evidence"), AnyValue::from(e.evidence.clone())),
                ];
                if let Some(t) = &e.resolved_at {
                    m.push((Key::from("resolved_at"), AnyValue::from(t.clone())));
                }
                AnyValue::Map(Box::new(m.into_iter().collect()))
            })
            .collect();
        r.add_attribute(
            "seismo.incident.timeline",
            AnyValue::ListAny(Box::new(timeline)),
        );
        r
    }

    fn alert(&self, event: &WireAlert) -> SdkLogRecord {
        let mut r = self.logger.create_log_record();
        let (number, text) = severity(event.state, event.severity);
        r.set_event_name(EVENT_NAME);
        if let Ok(t) = humantime::parse_rfc3339(&event.time) {
            r.set_timestamp(t);
        }
        r.set_observed_timestamp(SystemTime::now());
        r.set_severity_number(number);
        r.set_severity_text(text);
        r.set_body(AnyValue::from(event.summary.clone()));
        r.add_attribute("seismo.alert.id", event.alert_id.clone());
        r.add_attribute("seismo.alert.state", state_name(event.state));
        r.add_attribute("seismo.alert.severity", severity_name(event.severity));
        r.add_attribute("seismo.alert.started_at", event.started_at.clone());
        r.add_attribute("seismo.alert.flapping", event.flapping);
        if let Some(id) = &event.incident_id {
            r.add_attribute("seismo.incident.id", id.clone());
        }
        r.add_attribute("seismo.signal", event.signal.clone());
        r.add_attribute("seismo.detector", event.detector.clone());
        r.add_attribute("seismo.score", event.score);
        // A resolved alert whose signal stopped being reported has no value and no range:
        // leave the attributes out rather than send NaN.
        for (key, value) in [
            ("seismo.observed", event.observed),
            ("seismo.expected.low", event.expected.low),
            ("seismo.expected.high", event.expected.high),
        ] {
            if let Some(v) = value.filter(|v| v.is_finite()) {
                r.add_attribute(key, v);
            }
        }
        if let Some(e) = &event.evidence {
            r.add_attribute("seismo.evidence.position", e.position.clone());
            let kinds = e
                .components
                .iter()
                .filter_map(|c| c.get("kind").and_then(|k| k.as_str()))
                .map(|k| AnyValue::from(k.to_owned()))
                .collect();
            r.add_attribute("seismo.evidence.kinds", AnyValue::ListAny(Box::new(kinds)));
            let components = e
                .components
                .iter()
                .filter_map(|c| any_value(&serde_json::Value::Object(c.clone())))
                .collect();
            r.add_attribute(
                "seismo.evidence.components",
                AnyValue::ListAny(Box::new(components)),
            );
        }
        if let Some(k) = event.log.as_ref().and_then(|l| l.k8s.as_ref()) {
            r.add_attribute("k8s.pod.name", k.pod.clone());
            r.add_attribute("k8s.namespace.name", k.namespace.clone());
            r.add_attribute("k8s.container.name", k.container.clone());
        }
        r
    }
}

/// `service.name=seismo`, `service.version`, `host.name`.
pub fn resource(host: &str) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "seismo"),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("host.name", host.to_owned()),
        ])
        .build()
}

/// OTLP severity number and text for an alert event.
pub fn severity(state: WireState, severity: WireSeverity) -> (OtelSeverity, &'static str) {
    match (state, severity) {
        (WireState::Resolved, _) => (OtelSeverity::Info, "INFO"),
        (WireState::Firing, WireSeverity::Warning) => (OtelSeverity::Warn, "WARN"),
        (WireState::Firing, WireSeverity::Critical) => (OtelSeverity::Error, "ERROR"),
    }
}

fn state_name(s: WireState) -> &'static str {
    match s {
        WireState::Firing => "firing",
        WireState::Resolved => "resolved",
    }
}

fn incident_state_name(s: WireIncidentState) -> &'static str {
    match s {
        WireIncidentState::Opened => "opened",
        WireIncidentState::Updated => "updated",
        WireIncidentState::Resolved => "resolved",
    }
}

fn severity_name(s: WireSeverity) -> &'static str {
    match s {
        WireSeverity::Warning => "warning",
        WireSeverity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::event::{
        AlertEvent, AlertState, Event, IncidentEvent, IncidentState, Range, Severity, TimelineEntry,
    };

    /// An alert as the pipeline makes it, through the JSON the outbox stores.
    pub(crate) fn wire(state: AlertState, severity: Severity, observed: f64) -> WireAlert {
        let event = AlertEvent {
            time: 1_764_097_262_123,
            state,
            alert_id: "host.cpu.utilization@1764097262123".into(),
            incident_id: "web-1@1764097262123".into(),
            host: "web-1".into(),
            signal: "host.cpu.utilization".into(),
            severity,
            observed,
            expected: Range {
                low: if observed.is_nan() { f64::NAN } else { 0.02 },
                high: if observed.is_nan() { f64::NAN } else { 0.3 },
            },
            score: 0.91,
            detector: "ewma",
            started_at: 1_764_097_262_123,
            flapping: false,
            evidence: None,
            log: None,
            summary: "host.cpu.utilization is 0.97, above the expected range".into(),
        };
        WireAlert::decode(&serde_json::to_vec(&Event::Alert(event)).unwrap()).unwrap()
    }

    fn attr<'a>(r: &'a SdkLogRecord, key: &str) -> Option<&'a AnyValue> {
        r.attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn a_container_log_alert_carries_its_pod() {
        let mut w = wire(AlertState::Firing, Severity::Warning, 3.0);
        let b = RecordBuilder::new();
        let r = b.record(&WireEvent::Alert(w.clone()));
        assert_eq!(attr(&r, "k8s.pod.name"), None);
        let evidence = crate::event::LogEvidence {
            source: "pods".into(),
            template_id: None,
            template: None,
            sample_lines: vec!["boom".into()],
            sample_streams: vec!["stderr"],
            k8s: Some(std::sync::Arc::new(crate::event::K8sPod {
                pod: "web-1".into(),
                namespace: "shop".into(),
                container: "nginx".into(),
            })),
        };
        let json = serde_json::to_value(&evidence).unwrap();
        w.log = Some(serde_json::from_value(json).unwrap());
        let r = b.record(&WireEvent::Alert(w));
        let s = |v: &str| AnyValue::from(v.to_owned());
        assert_eq!(attr(&r, "k8s.pod.name"), Some(&s("web-1")));
        assert_eq!(attr(&r, "k8s.namespace.name"), Some(&s("shop")));
        assert_eq!(attr(&r, "k8s.container.name"), Some(&s("nginx")));
    }

    #[test]
    fn an_alerts_evidence_becomes_attributes() {
        let mut w = wire(AlertState::Firing, Severity::Warning, 0.97);
        let evidence = crate::event::Evidence {
            position: crate::event::Position::Above,
            components: vec![crate::event::EvidenceComponent {
                finding: seismo_detectors::Finding::NewExtreme {
                    previous: 0.71,
                    maximum: true,
                },
                spreads: f64::NAN,
                score: 0.76,
                expected: Range {
                    low: 0.02,
                    high: 0.71,
                },
            }],
            significance: None,
        };
        let json = serde_json::to_value(&evidence).unwrap();
        w.evidence = Some(serde_json::from_value(json).unwrap());
        let r = RecordBuilder::new().record(&WireEvent::Alert(w));
        let s = |v: &str| AnyValue::from(v.to_owned());
        assert_eq!(attr(&r, "seismo.evidence.position"), Some(&s("above")));
        assert_eq!(
            attr(&r, "seismo.evidence.kinds"),
            Some(&AnyValue::ListAny(Box::new(vec![s("new_extreme")])))
        );
        let Some(AnyValue::ListAny(components)) = attr(&r, "seismo.evidence.components") else {
            panic!("no components")
        };
        let AnyValue::Map(first) = &components[0] else {
            panic!("{components:?}")
        };
        assert_eq!(
            first.get(&Key::from("previous")),
            Some(&AnyValue::from(0.71))
        );
        assert_eq!(first.get(&Key::from("extreme")), Some(&s("maximum")));
        let Some(AnyValue::Map(expected)) = first.get(&Key::from("expected")) else {
            panic!("{first:?}")
        };
        assert_eq!(
            expected.get(&Key::from("high")),
            Some(&AnyValue::from(0.71))
        );
    }

    #[test]
    fn a_firing_alert_maps_to_a_record_with_every_attribute() {
        let b = RecordBuilder::new();
        let r = b.record(&WireEvent::Alert(wire(
            AlertState::Firing,
            Severity::Critical,
            0.97,
        )));
        assert_eq!(r.severity_number(), Some(OtelSeverity::Error));
        assert_eq!(r.severity_text(), Some("ERROR"));
        assert_eq!(r.event_name(), Some(EVENT_NAME));
        assert_eq!(
            r.timestamp(),
            Some(UNIX_EPOCH + Duration::from_millis(1_764_097_262_123))
        );
        let s = |v: &str| AnyValue::from(v.to_owned());
        assert_eq!(
            r.body(),
            Some(&s("host.cpu.utilization is 0.97, above the expected range"))
        );
        assert_eq!(
            attr(&r, "seismo.alert.id"),
            Some(&s("host.cpu.utilization@1764097262123"))
        );
        assert_eq!(attr(&r, "seismo.alert.state"), Some(&s("firing")));
        assert_eq!(attr(&r, "seismo.alert.severity"), Some(&s("critical")));
        assert_eq!(attr(&r, "seismo.signal"), Some(&s("host.cpu.utilization")));
        assert_eq!(attr(&r, "seismo.score"), Some(&AnyValue::Double(0.91)));
        assert_eq!(attr(&r, "seismo.observed"), Some(&AnyValue::Double(0.97)));
        assert_eq!(
            attr(&r, "seismo.expected.low"),
            Some(&AnyValue::Double(0.02))
        );
        assert_eq!(
            attr(&r, "seismo.expected.high"),
            Some(&AnyValue::Double(0.3))
        );
        assert_eq!(attr(&r, "seismo.detector"), Some(&s("ewma")));
        assert_eq!(
            attr(&r, "seismo.incident.id"),
            Some(&s("web-1@1764097262123"))
        );
        assert_eq!(
            attr(&r, "seismo.alert.flapping"),
            Some(&AnyValue::Boolean(false))
        );
        assert_eq!(
            attr(&r, "seismo.alert.started_at"),
            Some(&s("2025-11-25T19:01:02.123Z"))
        );
    }

    #[test]
    fn an_incident_maps_to_a_record_with_its_origin_signals_and_timeline() {
        let entry = |signal: &str, time: i64, resolved: Option<i64>| TimelineEntry {
            signal: signal.into(),
            time,
            severity: Severity::Warning,
            alert_id: format!("{signal}@{time}"),
            evidence: format!("{signal} is high"),
            resolved_at: resolved,
            log: None,
        };
        let event = IncidentEvent {
            time: 1_764_097_300_000,
            state: IncidentState::Updated,
            incident_id: "web-1@1764097262123".into(),
            host: "web-1".into(),
            severity: Severity::Critical,
            origin: "disk".into(),
            signals: vec!["disk".into(), "latency".into()],
            started_at: 1_764_097_262_123,
            summary: "latency joined".into(),
            timeline: vec![
                entry("disk", 1_764_097_262_123, None),
                entry("latency", 1_764_097_290_000, Some(1_764_097_300_000)),
            ],
            timeline_omitted: 0,
        };
        let json = serde_json::to_vec(&Event::Incident(event)).unwrap();
        let wire = WireIncident::decode(&json).unwrap();
        let r = RecordBuilder::new().record(&WireEvent::Incident(wire));
        let s = |v: &str| AnyValue::from(v.to_owned());
        assert_eq!(r.event_name(), Some(INCIDENT_EVENT_NAME));
        assert_eq!(r.severity_number(), Some(OtelSeverity::Error));
        assert_eq!(r.body(), Some(&s("latency joined")));
        assert_eq!(
            attr(&r, "seismo.incident.id"),
            Some(&s("web-1@1764097262123"))
        );
        assert_eq!(attr(&r, "seismo.incident.state"), Some(&s("updated")));
        assert_eq!(attr(&r, "seismo.incident.origin"), Some(&s("disk")));
        assert_eq!(
            attr(&r, "seismo.incident.signals"),
            Some(&AnyValue::ListAny(Box::new(vec![s("disk"), s("latency")])))
        );
        let Some(AnyValue::ListAny(timeline)) = attr(&r, "seismo.incident.timeline") else {
            panic!("no timeline")
        };
        assert_eq!(timeline.len(), 2);
        let AnyValue::Map(second) = &timeline[1] else {
            panic!("not a map")
        };
        assert_eq!(second.get(&Key::from("signal")), Some(&s("latency")));
        assert_eq!(
            second.get(&Key::from("resolved_at")),
            Some(&s("2025-11-25T19:01:40.000Z"))
        );
        assert!(WireIncident::decode(b"{}").is_err());
    }

    #[test]
    fn severities_map_warn_error_info() {
        assert_eq!(
            severity(WireState::Firing, WireSeverity::Warning),
            (OtelSeverity::Warn, "WARN")
        );
        assert_eq!(
            severity(WireState::Firing, WireSeverity::Critical),
            (OtelSeverity::Error, "ERROR")
        );
        assert_eq!(
            severity(WireState::Resolved, WireSeverity::Critical),
            (OtelSeverity::Info, "INFO")
        );
    }

    #[test]
    fn a_resolved_alert_without_values_omits_them() {
        let b = RecordBuilder::new();
        let r = b.record(&WireEvent::Alert(wire(
            AlertState::Resolved,
            Severity::Warning,
            f64::NAN,
        )));
        assert_eq!(r.severity_number(), Some(OtelSeverity::Info));
        assert!(attr(&r, "seismo.observed").is_none());
        assert!(attr(&r, "seismo.expected.low").is_none());
        assert_eq!(
            attr(&r, "seismo.alert.state"),
            Some(&AnyValue::from("resolved".to_owned()))
        );
    }

    #[test]
    fn garbage_payloads_are_refused_with_a_reason() {
        assert!(WireAlert::decode(b"not json").is_err());
        let mut v: serde_json::Value = serde_json::to_value(wire_json()).unwrap();
        v["time"] = "yesterday".into();
        let err = WireAlert::decode(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.contains("yesterday"), "{err}");
    }

    fn wire_json() -> serde_json::Value {
        serde_json::json!({
            "time": "2025-11-25T19:01:02.123Z", "state": "firing", "alert_id": "a@1",
            "host": "h", "signal": "a", "severity": "warning", "observed": 1.0,
            "expected": {"low": 0.0, "high": 0.5}, "score": 0.6, "detector": "ewma",
            "started_at": "2025-11-25T19:01:02.123Z", "summary": "s"
        })
    }
}
