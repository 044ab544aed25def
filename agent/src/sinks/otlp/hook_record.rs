//! How the steps of hook runs (proposed, approved, rejected, expired, started, finished) become
//! OTLP log records (event name `seismo.hook`; docs/sinks.md lists the attributes). A record
//! carries the id of its alert (`seismo.alert.id`) or incident (`seismo.incident.id`) under the
//! same keys as the alert and incident records, so a backend joins them.
//!
//! Severity: a failed, timed-out or interrupted run, and an expired proposal, are WARN (13);
//! every other step is INFO (9).

use opentelemetry::logs::{AnyValue, LogRecord as _, Severity as OtelSeverity};
use opentelemetry_sdk::logs::SdkLogRecord;
use serde::Deserialize;

/// The `event_name` of every hook record.
pub const HOOK_EVENT_NAME: &str = "seismo.hook";

/// A hook event as the outbox holds it (`kind: "hook"`, the stdout sink's schema).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WireHook {
    pub time: String,
    /// Records queued by a version without phases are finished runs.
    #[serde(default = "finished")]
    pub phase: String,
    pub hook: String,
    pub event: String,
    pub event_id: String,
    #[serde(default)]
    pub incident_id: Option<String>,
    pub state: String,
    pub host: String,
    #[serde(default)]
    pub proposal_id: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub result: Option<String>,
    pub command: Vec<String>,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub exit_signal: Option<String>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stdout_truncated: bool,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub stderr_truncated: bool,
    #[serde(default)]
    pub error: Option<String>,
}

fn finished() -> String {
    "finished".to_owned()
}

impl WireHook {
    /// Decodes an outbox payload; the error says what is wrong with it.
    pub fn decode(payload: &[u8]) -> Result<Self, String> {
        let hook: WireHook = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        humantime::parse_rfc3339(&hook.time).map_err(|e| format!("`time` {:?}: {e}", hook.time))?;
        Ok(hook)
    }

    /// The record's body: one sentence.
    fn sentence(&self) -> String {
        let (h, on) = (&self.hook, format!("{} {}", self.event, self.event_id));
        let by = self.decided_by.as_deref().unwrap_or("unknown");
        match self.phase.as_str() {
            "proposed" => format!(
                "hook {h} proposed for {on}: it runs if approved before {}",
                self.expires_at.as_deref().unwrap_or("its expiry")
            ),
            "approved" => format!("hook {h} approved by {by} for {on}"),
            "rejected" => format!("hook {h} rejected by {by} for {on}: nothing runs"),
            "expired" => {
                format!("hook {h} proposed for {on} expired without a decision: nothing runs")
            }
            "started" => format!("hook {h} started for {on}"),
            _ => format!(
                "hook {h} finished for {on}: {}",
                self.result.as_deref().unwrap_or("unknown")
            ),
        }
    }
}

/// Fills `r` (fresh from the logger) with `h`.
pub(super) fn fill(r: &mut SdkLogRecord, h: &WireHook) {
    let warn = h.phase == "expired"
        || matches!(
            h.result.as_deref(),
            Some("failed" | "timed_out" | "interrupted")
        );
    let (number, text) = if warn {
        (OtelSeverity::Warn, "WARN")
    } else {
        (OtelSeverity::Info, "INFO")
    };
    r.set_event_name(HOOK_EVENT_NAME);
    if let Ok(t) = humantime::parse_rfc3339(&h.time) {
        r.set_timestamp(t);
    }
    r.set_observed_timestamp(std::time::SystemTime::now());
    r.set_severity_number(number);
    r.set_severity_text(text);
    r.set_body(AnyValue::from(h.sentence()));
    r.add_attribute("seismo.hook.name", h.hook.clone());
    r.add_attribute("seismo.hook.phase", h.phase.clone());
    r.add_attribute("seismo.hook.event", h.event.clone());
    r.add_attribute("seismo.hook.event_id", h.event_id.clone());
    r.add_attribute("seismo.hook.event_state", h.state.clone());
    // The correlation keys of the alert and incident records.
    if h.event == "incident" {
        r.add_attribute("seismo.incident.id", h.event_id.clone());
    } else {
        r.add_attribute("seismo.alert.id", h.event_id.clone());
        if let Some(i) = &h.incident_id {
            r.add_attribute("seismo.incident.id", i.clone());
        }
    }
    r.add_attribute(
        "seismo.hook.command",
        AnyValue::ListAny(Box::new(
            h.command.iter().cloned().map(AnyValue::from).collect(),
        )),
    );
    for (key, value) in [
        ("seismo.hook.proposal_id", &h.proposal_id),
        ("seismo.hook.expires_at", &h.expires_at),
        ("seismo.hook.decided_by", &h.decided_by),
        ("seismo.hook.result", &h.result),
        ("seismo.hook.exit_signal", &h.exit_signal),
        ("seismo.hook.error", &h.error),
    ] {
        if let Some(v) = value {
            r.add_attribute(key, v.clone());
        }
    }
    if h.phase == "finished" {
        if let Some(c) = h.exit_code {
            r.add_attribute("seismo.hook.exit_code", c);
        }
        r.add_attribute("seismo.hook.timed_out", h.timed_out);
        r.add_attribute(
            "seismo.hook.duration_ms",
            i64::try_from(h.duration_ms).unwrap_or(i64::MAX),
        );
        r.add_attribute("seismo.hook.stdout", h.stdout.clone());
        r.add_attribute("seismo.hook.stdout_truncated", h.stdout_truncated);
        r.add_attribute("seismo.hook.stderr", h.stderr.clone());
        r.add_attribute("seismo.hook.stderr_truncated", h.stderr_truncated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, HookOutcome, HookPhase, HookResult};
    use crate::sinks::otlp::record::{RecordBuilder, WireEvent};

    fn outcome(phase: HookPhase) -> HookOutcome {
        HookOutcome {
            time: 1_764_097_262_123,
            phase,
            hook: "restart".into(),
            event: "alert",
            event_id: "log.app.errors_per_s@1764097262123".into(),
            incident_id: Some("web-1@1764097262123".into()),
            state: "firing",
            host: "web-1".into(),
            proposal_id: Some("p-00000000000000aa".into()),
            expires_at: Some(1_764_097_862_123),
            decided_by: (phase != HookPhase::Proposed).then(|| "alice".into()),
            subject: None,
            result: (phase == HookPhase::Finished).then_some(HookResult::TimedOut),
            command: vec!["/usr/bin/restart".into(), "--graceful".into()],
            exit_code: None,
            exit_signal: Some("SIGKILL".into()),
            timed_out: phase == HookPhase::Finished,
            duration_ms: 30_000,
            stdout: "partial".into(),
            stdout_truncated: false,
            stderr: String::new(),
            stderr_truncated: false,
            error: None,
        }
    }

    fn attr(r: &SdkLogRecord, key: &str) -> Option<AnyValue> {
        r.attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
    }

    fn record(o: HookOutcome) -> SdkLogRecord {
        let json = serde_json::to_vec(&Event::Hook(o)).unwrap();
        RecordBuilder::new().record(&WireEvent::Hook(WireHook::decode(&json).unwrap()))
    }

    #[test]
    fn a_finished_run_carries_its_result_and_the_ids_to_join_on() {
        let r = record(outcome(HookPhase::Finished));
        let s = |v: &str| Some(AnyValue::from(v.to_owned()));
        assert_eq!(r.event_name(), Some(HOOK_EVENT_NAME));
        assert_eq!(r.severity_number(), Some(OtelSeverity::Warn));
        assert_eq!(attr(&r, "seismo.hook.name"), s("restart"));
        assert_eq!(attr(&r, "seismo.hook.phase"), s("finished"));
        assert_eq!(attr(&r, "seismo.hook.result"), s("timed_out"));
        assert_eq!(
            attr(&r, "seismo.alert.id"),
            s("log.app.errors_per_s@1764097262123")
        );
        assert_eq!(attr(&r, "seismo.incident.id"), s("web-1@1764097262123"));
        assert_eq!(attr(&r, "seismo.hook.proposal_id"), s("p-00000000000000aa"));
        assert_eq!(attr(&r, "seismo.hook.decided_by"), s("alice"));
        assert_eq!(attr(&r, "seismo.hook.exit_signal"), s("SIGKILL"));
        assert_eq!(
            attr(&r, "seismo.hook.duration_ms"),
            Some(AnyValue::Int(30_000))
        );
        assert_eq!(attr(&r, "seismo.hook.stdout"), s("partial"));
        assert_eq!(
            attr(&r, "seismo.hook.command"),
            Some(AnyValue::ListAny(Box::new(vec![
                AnyValue::from("/usr/bin/restart".to_owned()),
                AnyValue::from("--graceful".to_owned())
            ])))
        );
        let body = format!("{:?}", r.body());
        assert!(
            body.contains("finished") && body.contains("timed_out"),
            "{body}"
        );
    }

    #[test]
    fn a_proposal_has_its_expiry_and_no_run_fields() {
        let r = record(outcome(HookPhase::Proposed));
        assert_eq!(r.severity_number(), Some(OtelSeverity::Info));
        assert_eq!(
            attr(&r, "seismo.hook.expires_at"),
            Some(AnyValue::from("2025-11-25T19:11:02.123Z".to_owned()))
        );
        assert!(attr(&r, "seismo.hook.result").is_none());
        assert!(attr(&r, "seismo.hook.stdout").is_none());
        assert!(attr(&r, "seismo.hook.decided_by").is_none());
        let r = record(outcome(HookPhase::Expired));
        assert_eq!(r.severity_number(), Some(OtelSeverity::Warn));
    }

    #[test]
    fn an_incident_hook_joins_on_the_incident_id_and_old_records_are_finished() {
        let mut o = outcome(HookPhase::Started);
        o.event = "incident";
        o.event_id = "web-1@1".into();
        o.incident_id = None;
        let r = record(o);
        assert_eq!(
            attr(&r, "seismo.incident.id"),
            Some(AnyValue::from("web-1@1".to_owned()))
        );
        assert!(attr(&r, "seismo.alert.id").is_none());
        let old = br#"{"kind":"hook","time":"2025-11-25T19:01:02.123Z","hook":"h","event":"alert","event_id":"a@1","state":"firing","host":"h","result":"ok","command":["/bin/true"],"exit_code":0}"#;
        let w = WireHook::decode(old).unwrap();
        assert_eq!(w.phase, "finished");
        assert!(WireHook::decode(b"{}").is_err());
    }
}
