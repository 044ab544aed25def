//! What a hook receives: any event that can say what it is about (signals, severity, state, id)
//! and render itself as the JSON on the hook's stdin and the `SEISMO_*` variables of its
//! environment. Alerts implement it here; incidents implement it where they are defined.
//!
//! The environment holds only values the agent produced (names, numbers, ids, times); text
//! that came from a log file (templates, sample lines) travels only in the JSON on stdin.

use seismo_config::HookOn;

use crate::clock::format_ts;
use crate::event::{AlertEvent, AlertState, IncidentEvent, IncidentState, Severity};

pub trait HookInput {
    /// Whether this is a single alert or an incident (what a hook's `on` selects).
    fn kind(&self) -> HookOn;
    /// The alert or incident id, stable from firing to resolved.
    fn id(&self) -> &str;
    /// For an alert, the incident it belongs to.
    fn incident_id(&self) -> Option<&str> {
        None
    }
    fn host(&self) -> &str;
    fn state(&self) -> AlertState;
    fn severity(&self) -> Severity;
    /// The signals the event is about; a hook matches when its globs match any of them.
    fn signals(&self) -> Vec<&str>;
    /// The event as the sinks see it, for the hook's stdin.
    fn json(&self) -> Result<Vec<u8>, serde_json::Error>;
    /// `SEISMO_*` variables describing the event (the runner adds `SEISMO_HOOK`).
    fn env(&self) -> Vec<(&'static str, String)>;
}

pub(crate) fn state_name(s: AlertState) -> &'static str {
    match s {
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    }
}

/// A number for the environment: empty when not a number (a resolved alert whose signal
/// stopped being reported has no last value).
fn number(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

impl HookInput for AlertEvent {
    fn kind(&self) -> HookOn {
        HookOn::Alert
    }

    fn id(&self) -> &str {
        &self.alert_id
    }

    fn incident_id(&self) -> Option<&str> {
        Some(self.incident_id.as_str()).filter(|i| !i.is_empty())
    }

    fn host(&self) -> &str {
        &self.host
    }

    fn state(&self) -> AlertState {
        self.state
    }

    fn severity(&self) -> Severity {
        self.severity
    }

    fn signals(&self) -> Vec<&str> {
        vec![&self.signal]
    }

    fn json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut v = serde_json::to_vec(self)?;
        v.push(b'\n');
        Ok(v)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("SEISMO_EVENT", "alert".to_owned()),
            ("SEISMO_ALERT_ID", self.alert_id.clone()),
            ("SEISMO_STATE", state_name(self.state).to_owned()),
            ("SEISMO_SEVERITY", self.severity.name().to_owned()),
            ("SEISMO_SIGNAL", self.signal.to_string()),
            ("SEISMO_SIGNALS", self.signal.to_string()),
            ("SEISMO_HOST", self.host.to_string()),
            ("SEISMO_SCORE", number(self.score)),
            ("SEISMO_OBSERVED", number(self.observed)),
            ("SEISMO_EXPECTED_LOW", number(self.expected.low)),
            ("SEISMO_EXPECTED_HIGH", number(self.expected.high)),
            ("SEISMO_DETECTOR", self.detector.to_owned()),
            ("SEISMO_TIME", format_ts(self.time)),
            ("SEISMO_STARTED_AT", format_ts(self.started_at)),
        ];
        if let Some(log) = &self.log {
            env.push(("SEISMO_LOG_SOURCE", log.source.clone()));
            if let Some(id) = log.template_id {
                env.push(("SEISMO_LOG_TEMPLATE_ID", id.to_string()));
            }
        }
        env
    }
}

impl HookInput for IncidentEvent {
    fn kind(&self) -> HookOn {
        HookOn::Incident
    }

    fn id(&self) -> &str {
        &self.incident_id
    }

    fn host(&self) -> &str {
        &self.host
    }

    /// Opened and updated incidents are firing; a hook runs once per incident while it is.
    fn state(&self) -> AlertState {
        match self.state {
            IncidentState::Opened | IncidentState::Updated => AlertState::Firing,
            IncidentState::Resolved => AlertState::Resolved,
        }
    }

    fn severity(&self) -> Severity {
        self.severity
    }

    fn signals(&self) -> Vec<&str> {
        self.signals.iter().map(|s| &**s).collect()
    }

    fn json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut v = serde_json::to_vec(self)?;
        v.push(b'\n');
        Ok(v)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let signals: Vec<&str> = self.signals();
        vec![
            ("SEISMO_EVENT", "incident".to_owned()),
            ("SEISMO_INCIDENT_ID", self.incident_id.clone()),
            ("SEISMO_STATE", state_name(self.state()).to_owned()),
            ("SEISMO_SEVERITY", self.severity.name().to_owned()),
            ("SEISMO_SIGNAL", self.origin.to_string()),
            ("SEISMO_SIGNALS", signals.join(",")),
            ("SEISMO_ORIGIN", self.origin.to_string()),
            ("SEISMO_HOST", self.host.to_string()),
            ("SEISMO_TIME", format_ts(self.time)),
            ("SEISMO_STARTED_AT", format_ts(self.started_at)),
        ]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::{LogEvidence, Range};

    /// A firing log alert whose sample line is hostile shell text.
    pub(crate) fn log_alert(signal: &str, severity: Severity, state: AlertState) -> AlertEvent {
        AlertEvent {
            time: 1_764_097_262_123,
            state,
            alert_id: format!("{signal}@1764097262123"),
            incident_id: "web-1@1764097262123".into(),
            flapping: false,
            host: "web-1".into(),
            signal: signal.into(),
            severity,
            observed: 12.5,
            expected: Range {
                low: 0.0,
                high: 2.0,
            },
            score: 0.93,
            detector: "ewma",
            started_at: 1_764_097_262_123,
            summary: "s".into(),
            evidence: None,
            log: Some(Arc::new(LogEvidence {
                source: "app".into(),
                template_id: Some(7),
                template: Some("error <*>".into()),
                sample_lines: vec!["error $(touch /tmp/x) `id`; rm -rf /".into()],
                sample_streams: Vec::new(),
                k8s: None,
            })),
        }
    }

    #[test]
    fn an_alert_renders_env_without_log_text_and_json_with_it() {
        let a = log_alert(
            "log.app.errors_per_s",
            Severity::Critical,
            AlertState::Firing,
        );
        let env: std::collections::HashMap<_, _> = a.env().into_iter().collect();
        assert_eq!(env["SEISMO_SIGNAL"], "log.app.errors_per_s");
        assert_eq!(env["SEISMO_SEVERITY"], "critical");
        assert_eq!(env["SEISMO_STATE"], "firing");
        assert_eq!(env["SEISMO_ALERT_ID"], "log.app.errors_per_s@1764097262123");
        assert_eq!(env["SEISMO_SCORE"], "0.93");
        assert_eq!(env["SEISMO_OBSERVED"], "12.5");
        assert_eq!(env["SEISMO_TIME"], "2025-11-25T19:01:02.123Z");
        assert_eq!(env["SEISMO_LOG_TEMPLATE_ID"], "7");
        assert!(env.values().all(|v| !v.contains("rm -rf")));
        let json: serde_json::Value = serde_json::from_slice(&a.json().unwrap()).unwrap();
        assert_eq!(
            json["log"]["sample_lines"][0],
            "error $(touch /tmp/x) `id`; rm -rf /"
        );
        let mut gone = a.clone();
        gone.observed = f64::NAN;
        let env: std::collections::HashMap<_, _> = gone.env().into_iter().collect();
        assert_eq!(env["SEISMO_OBSERVED"], "");
    }

    fn incident(state: IncidentState) -> IncidentEvent {
        IncidentEvent {
            time: 1_764_097_263_123,
            state,
            incident_id: "web-1@1764097262123".into(),
            host: "web-1".into(),
            severity: Severity::Critical,
            origin: "host.disk.sda.used_ratio".into(),
            signals: vec![
                "host.disk.sda.used_ratio".into(),
                "log.app.errors_per_s".into(),
            ],
            started_at: 1_764_097_262_123,
            summary: "2 signals".into(),
            timeline: vec![crate::event::TimelineEntry {
                signal: "log.app.errors_per_s".into(),
                time: 1_764_097_263_123,
                severity: Severity::Critical,
                alert_id: "log.app.errors_per_s@1764097263123".into(),
                evidence: "error $(touch /tmp/x) seen".into(),
                resolved_at: None,
                log: None,
            }],
            timeline_omitted: 0,
        }
    }

    #[test]
    fn an_incident_renders_its_signals_and_origin_and_keeps_log_text_on_stdin() {
        let i = incident(IncidentState::Updated);
        assert_eq!(i.kind(), HookOn::Incident);
        assert_eq!(i.id(), "web-1@1764097262123");
        assert_eq!(
            i.state(),
            AlertState::Firing,
            "opened and updated are firing"
        );
        assert_eq!(
            incident(IncidentState::Resolved).state(),
            AlertState::Resolved
        );
        assert_eq!(
            i.signals(),
            ["host.disk.sda.used_ratio", "log.app.errors_per_s"]
        );
        let env: std::collections::HashMap<_, _> = i.env().into_iter().collect();
        assert_eq!(env["SEISMO_EVENT"], "incident");
        assert_eq!(env["SEISMO_INCIDENT_ID"], "web-1@1764097262123");
        assert_eq!(env["SEISMO_ORIGIN"], "host.disk.sda.used_ratio");
        assert_eq!(env["SEISMO_SIGNAL"], "host.disk.sda.used_ratio");
        assert_eq!(
            env["SEISMO_SIGNALS"],
            "host.disk.sda.used_ratio,log.app.errors_per_s"
        );
        assert_eq!(env["SEISMO_STATE"], "firing");
        assert!(env.values().all(|v| !v.contains("touch")));
        let json: serde_json::Value = serde_json::from_slice(&i.json().unwrap()).unwrap();
        assert_eq!(
            json["timeline"][0]["evidence"],
            "error $(touch /tmp/x) seen"
        );
    }
}
