//! Decisions on hooks, as they arrive over MQTT (`{prefix}/{host}/hooks/decisions`) or the HTTP
//! API: approve or reject a proposal, or run an `on = "request"` hook for a known alert or
//! incident. A decision names what it decides on, never what to run: a body with any other field
//! (a `command`, say) is refused as invalid.
//!
//! Over MQTT a decision must be signed (`signature.rs`): `signature` is the hex HMAC-SHA256 of
//! its canonical JSON, the object without `signature`, keys sorted, no spaces, e.g.
//! `{"by":"alice","decision":"approve","proposal_id":"p-1f…","time":"2026-12-06T10:00:00Z"}`;
//! and its `time` must be within `[remediation] replay_window` of the agent's clock. Through
//! the HTTP API the write token stands in for the signature.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::signature::DecisionKey;
use crate::excerpt::excerpt;

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Mqtt,
    Http,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Mqtt => "mqtt",
            Source::Http => "http",
        }
    }
}

/// A decision on its way to the hooks, with where to say what became of it.
#[derive(Debug)]
pub struct Inbound {
    pub body: Vec<u8>,
    pub source: Source,
    pub reply: Option<oneshot::Sender<Result<Applied, Refusal>>>,
}

/// Where decisions are sent (the HTTP API, the MQTT subscription).
pub type DecisionSender = mpsc::Sender<Inbound>;

/// Decisions queued for the hooks before senders wait.
pub const QUEUE: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
    /// Runs an `on = "request"` hook.
    Run,
}

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
            Verdict::Run => "run",
        }
    }
}

/// A decision as sent. Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub decision: Verdict,
    /// The proposal decided on (`approve`, `reject`).
    #[serde(default)]
    pub proposal_id: Option<String>,
    /// The `on = "request"` hook to run (`run`).
    #[serde(default)]
    pub hook: Option<String>,
    /// The alert or incident the run is for (`run`).
    #[serde(default)]
    pub event_id: Option<String>,
    /// The sender's id for this request, so that a repeated request runs nothing twice (`run`).
    #[serde(default)]
    pub request_id: Option<String>,
    /// Who decided (logged, recorded and exported as `decided_by`).
    #[serde(default)]
    pub by: Option<String>,
    /// When it was decided (RFC 3339); required over MQTT.
    #[serde(default)]
    pub time: Option<String>,
    /// Hex HMAC-SHA256 of the canonical JSON; required over MQTT.
    #[serde(default)]
    pub signature: Option<String>,
}

/// Text fields longer than this are refused.
const MAX_FIELD: usize = 256;

impl Decision {
    /// The bytes the signature covers: every field but `signature`, keys sorted, compact.
    pub fn canonical(&self) -> Vec<u8> {
        let mut m: BTreeMap<&str, &str> = BTreeMap::new();
        m.insert("decision", self.decision.name());
        for (k, v) in [
            ("proposal_id", &self.proposal_id),
            ("hook", &self.hook),
            ("event_id", &self.event_id),
            ("request_id", &self.request_id),
            ("by", &self.by),
            ("time", &self.time),
        ] {
            if let Some(v) = v {
                m.insert(k, v);
            }
        }
        // Strings only: serializing cannot fail.
        serde_json::to_vec(&m).unwrap_or_default()
    }

    pub fn by(&self) -> String {
        self.by.clone().unwrap_or_else(|| "unknown".to_owned())
    }
}

/// A decision that took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `approved`, `rejected` or `run`.
    pub result: &'static str,
    /// The proposal, or for a run the request id.
    pub id: String,
}

/// Why a decision was refused. Each is counted under its [`Refusal::label`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the decision is not valid: {0}")]
    Invalid(String),
    #[error(
        "the decision is not signed: decisions over MQTT need a `signature` (see docs/alerts.md)"
    )]
    Unsigned,
    #[error("the decision's signature does not match (wrong key, or the decision was changed)")]
    BadSignature,
    #[error("the decision's time {0} is outside the replay window of the agent's clock: a replay, or the sender's clock is off")]
    Replayed(String),
    #[error("{0}")]
    Unknown(String),
    #[error("proposal {0} has expired: nothing runs")]
    Expired(String),
    #[error("{0}")]
    Duplicate(String),
    #[error("{0}")]
    Busy(String),
    #[error("the decision could not be recorded in the state directory, so nothing runs: {0}")]
    NotRecorded(String),
}

impl Refusal {
    /// The `result` label of `seismo_hook_decisions_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Invalid(_) => "invalid",
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad_signature",
            Refusal::Replayed(_) => "replayed",
            Refusal::Unknown(_) => "unknown",
            Refusal::Expired(_) => "expired",
            Refusal::Duplicate(_) => "duplicate",
            Refusal::Busy(_) => "busy",
            Refusal::NotRecorded(_) => "not_recorded",
        }
    }
}

/// Parses and authenticates `body`: the decision, or why it is refused. Whether it applies
/// (a known, open proposal...) is the hooks' to say.
pub fn check(
    body: &[u8],
    source: Source,
    key: Option<&DecisionKey>,
    window: Duration,
    now_ms: i64,
) -> Result<Decision, Refusal> {
    let d: Decision = serde_json::from_slice(body).map_err(|e| {
        Refusal::Invalid(format!(
            "{} (send {{\"decision\": \"approve\", \"proposal_id\": \"…\", \"by\": \"…\", \"time\": \"…\", \"signature\": \"…\"}})",
            excerpt(&e.to_string())
        ))
    })?;
    let fields = [
        &d.proposal_id,
        &d.hook,
        &d.event_id,
        &d.request_id,
        &d.by,
        &d.time,
        &d.signature,
    ];
    if fields.iter().any(|f| {
        f.as_ref()
            .is_some_and(|v| v.is_empty() || v.len() > MAX_FIELD)
    }) {
        return Err(Refusal::Invalid(format!(
            "a field is empty or longer than {MAX_FIELD} bytes"
        )));
    }
    match d.decision {
        Verdict::Approve | Verdict::Reject if d.proposal_id.is_none() => {
            return Err(Refusal::Invalid(
                "`proposal_id` is missing: name the proposal decided on".into(),
            ))
        }
        Verdict::Approve | Verdict::Reject if d.hook.is_some() || d.event_id.is_some() => {
            return Err(Refusal::Invalid(
                "an approval or rejection names its proposal only (no `hook` or `event_id`)".into(),
            ))
        }
        Verdict::Run if d.hook.is_none() || d.event_id.is_none() || d.request_id.is_none() => {
            return Err(Refusal::Invalid(
                "a run needs `hook`, `event_id` and `request_id`".into(),
            ))
        }
        Verdict::Run if d.proposal_id.is_some() => {
            return Err(Refusal::Invalid(
                "a run names a hook and an event, not a proposal".into(),
            ))
        }
        _ => {}
    }
    if source == Source::Mqtt {
        let (Some(signature), Some(key)) = (&d.signature, key) else {
            return Err(Refusal::Unsigned);
        };
        if !key.verify(&d.canonical(), signature) {
            return Err(Refusal::BadSignature);
        }
    }
    match &d.time {
        Some(t) => {
            let at = humantime::parse_rfc3339(t)
                .map_err(|e| Refusal::Invalid(format!("`time` {:?}: {e}", excerpt(t))))?;
            let at_ms = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
            if now_ms.abs_diff(at_ms) > window_ms.unsigned_abs() {
                return Err(Refusal::Replayed(t.clone()));
            }
        }
        None if source == Source::Mqtt => {
            return Err(Refusal::Invalid(
                "`time` is missing: decisions over MQTT carry their time (RFC 3339)".into(),
            ))
        }
        None => {}
    }
    Ok(d)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn key() -> DecisionKey {
        DecisionKey::new(b"a key of at least sixteen bytes".to_vec()).unwrap()
    }

    /// `fields` as a signed decision body: the signature covers every field, as a sender
    /// would sign it (sorted keys, compact).
    pub(crate) fn signed(key: &DecisionKey, fields: serde_json::Value) -> Vec<u8> {
        let sorted: BTreeMap<String, serde_json::Value> = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut v = fields;
        v["signature"] = key.sign(&serde_json::to_vec(&sorted).unwrap()).into();
        serde_json::to_vec(&v).unwrap()
    }

    const NOW: i64 = 1_764_097_262_000;
    const W: Duration = Duration::from_secs(300);

    fn approve(time: &str) -> serde_json::Value {
        serde_json::json!({"decision": "approve", "proposal_id": "p-1", "by": "alice", "time": time})
    }

    #[test]
    fn every_result_is_a_described_label() {
        let all = [
            Refusal::Invalid(String::new()),
            Refusal::Unsigned,
            Refusal::BadSignature,
            Refusal::Replayed(String::new()),
            Refusal::Unknown(String::new()),
            Refusal::Expired(String::new()),
            Refusal::Duplicate(String::new()),
            Refusal::Busy(String::new()),
            Refusal::NotRecorded(String::new()),
        ];
        let known = crate::telemetry::catalog::HOOK_DECISION_RESULTS;
        for label in all
            .iter()
            .map(Refusal::label)
            .chain(["approved", "rejected", "run"])
        {
            assert!(known.contains(&label), "{label}");
        }
        assert_eq!(known.len(), all.len() + 3);
    }

    #[test]
    fn canonical_json_sorts_keys_and_leaves_out_the_signature() {
        let d: Decision = serde_json::from_value(serde_json::json!({
            "time": "t", "decision": "approve", "proposal_id": "p-1", "signature": "x", "by": "a"
        }))
        .unwrap();
        assert_eq!(
            String::from_utf8(d.canonical()).unwrap(),
            r#"{"by":"a","decision":"approve","proposal_id":"p-1","time":"t"}"#
        );
    }

    #[test]
    fn a_signed_fresh_decision_passes_over_mqtt() {
        let k = key();
        let body = signed(&k, approve("2025-11-25T19:01:00Z"));
        let d = check(&body, Source::Mqtt, Some(&k), W, NOW).unwrap();
        assert_eq!(d.decision, Verdict::Approve);
        assert_eq!(d.proposal_id.as_deref(), Some("p-1"));
    }

    #[test]
    fn unsigned_mis_signed_stale_and_changed_decisions_are_refused() {
        let k = key();
        let fresh = "2025-11-25T19:01:00Z";
        let plain = serde_json::to_vec(&approve(fresh)).unwrap();
        assert_eq!(
            check(&plain, Source::Mqtt, Some(&k), W, NOW),
            Err(Refusal::Unsigned)
        );
        // Through HTTP the token is the authentication.
        assert!(check(&plain, Source::Http, None, W, NOW).is_ok());

        let other = DecisionKey::new(b"another key, sixteen bytes+".to_vec()).unwrap();
        let body = signed(&other, approve(fresh));
        assert_eq!(
            check(&body, Source::Mqtt, Some(&k), W, NOW),
            Err(Refusal::BadSignature)
        );

        // Signed, then its proposal id changed: the signature no longer matches.
        let mut v: serde_json::Value = serde_json::from_slice(&signed(&k, approve(fresh))).unwrap();
        v["proposal_id"] = "p-2".into();
        let body = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            check(&body, Source::Mqtt, Some(&k), W, NOW),
            Err(Refusal::BadSignature)
        );

        let old = signed(&k, approve("2025-11-25T18:00:00Z"));
        assert!(matches!(
            check(&old, Source::Mqtt, Some(&k), W, NOW),
            Err(Refusal::Replayed(_))
        ));
        let future = signed(&k, approve("2025-11-25T20:00:00Z"));
        assert!(matches!(
            check(&future, Source::Mqtt, Some(&k), W, NOW),
            Err(Refusal::Replayed(_))
        ));
    }

    #[test]
    fn a_body_with_a_command_or_missing_fields_is_invalid() {
        let k = key();
        let mut v = approve("2025-11-25T19:01:00Z");
        v["command"] = serde_json::json!(["/bin/rm", "-rf", "/"]);
        // Even signed with the key, a decision cannot carry a command.
        let e = check(&signed(&k, v.clone()), Source::Mqtt, Some(&k), W, NOW).unwrap_err();
        assert_eq!(e.label(), "invalid");
        assert!(e.to_string().contains("command"), "{e}");
        let raw = serde_json::to_vec(&v).unwrap();
        let e = check(&raw, Source::Http, None, W, NOW).unwrap_err();
        assert_eq!(e.label(), "invalid");

        for bad in [
            serde_json::json!({"decision": "approve"}),
            serde_json::json!({"decision": "run", "hook": "h"}),
            serde_json::json!({"decision": "approve", "proposal_id": "p", "hook": "h"}),
            serde_json::json!({"decision": "maybe", "proposal_id": "p"}),
            serde_json::json!({"decision": "approve", "proposal_id": ""}),
            serde_json::json!({"decision": "approve", "proposal_id": "p", "time": "yesterday"}),
        ] {
            let raw = serde_json::to_vec(&bad).unwrap();
            let e = check(&raw, Source::Http, None, W, NOW).unwrap_err();
            assert_eq!(e.label(), "invalid", "{bad}: {e}");
        }
        assert_eq!(
            check(b"\xff not json", Source::Http, None, W, NOW)
                .unwrap_err()
                .label(),
            "invalid"
        );
        // Over MQTT the time is required.
        let mut v = approve("x");
        v.as_object_mut().unwrap().remove("time");
        let body = signed(&k, v);
        assert_eq!(
            check(&body, Source::Mqtt, Some(&k), W, NOW)
                .unwrap_err()
                .label(),
            "invalid"
        );
    }
}
