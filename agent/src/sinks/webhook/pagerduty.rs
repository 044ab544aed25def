//! `format = "pagerduty"`: PagerDuty Events API v2, one event per request (the API takes one).
//! A firing alert is a `trigger`, a resolved one a `resolve`, with `dedup_key` = the alert id,
//! so PagerDuty opens one incident per alert and closes it on resolve.

use serde::Serialize;

use super::{decode_alert, post_batch, Http};
use crate::sinks::deliver::DeliveryError;
use crate::sinks::otlp::record::{WireAlert, WireSeverity, WireState};
use crate::sinks::outbox::Record;
use crate::sinks::EventKind;

/// PagerDuty's limits.
pub const MAX_SUMMARY_CHARS: usize = 1024;
pub const MAX_DEDUP_KEY_CHARS: usize = 255;

/// An Events API v2 event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Event {
    routing_key: String,
    event_action: &'static str,
    dedup_key: String,
    /// Required to trigger; a resolve needs only the dedup key.
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload>,
    client: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Payload {
    summary: String,
    source: String,
    severity: &'static str,
    timestamp: String,
    component: String,
    group: String,
    class: &'static str,
    custom_details: serde_json::Value,
}

pub(crate) struct PagerDuty {
    routing_key: String,
}

impl PagerDuty {
    pub(crate) fn new(routing_key: String) -> Self {
        Self { routing_key }
    }

    #[cfg(test)]
    pub(crate) fn routing_key(&self) -> &str {
        &self.routing_key
    }

    fn item(&self, r: &Record) -> Result<Event, String> {
        match EventKind::from_tag(r.kind) {
            Some(EventKind::Alert) => {
                let details = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
                Ok(self.alert(&decode_alert(r)?, details))
            }
            _ => Err(format!(
                "record kind {} is not an alert; the pagerduty format maps alerts only",
                r.kind
            )),
        }
    }

    /// An alert event as a PagerDuty event; `details` (the event's full JSON, log evidence
    /// included) becomes `custom_details`.
    pub(crate) fn alert(&self, a: &WireAlert, details: serde_json::Value) -> Event {
        let firing = a.state == WireState::Firing;
        let severity = match a.severity {
            WireSeverity::Warning => "warning",
            WireSeverity::Critical => "critical",
        };
        Event {
            routing_key: self.routing_key.clone(),
            event_action: if firing { "trigger" } else { "resolve" },
            dedup_key: dedup_key(&a.alert_id),
            payload: firing.then(|| Payload {
                summary: cut(&a.summary, MAX_SUMMARY_CHARS),
                source: a.host.clone(),
                severity,
                timestamp: a.time.clone(),
                component: a.signal.clone(),
                group: group(&a.signal),
                class: "anomaly",
                custom_details: details,
            }),
            client: "seismo",
        }
    }

    pub(crate) async fn deliver(
        &mut self,
        http: &Http,
        batch: &[Record],
    ) -> Result<usize, DeliveryError> {
        for (i, r) in batch.iter().enumerate() {
            let result = match self.item(r) {
                Ok(event) => post_batch(http, std::slice::from_ref(&event), |e| body(&e[0])).await,
                Err(e) => Err(DeliveryError::Rejected {
                    count: 1,
                    message: format!("outbox record {} cannot be sent: {e}", r.seq),
                }),
            };
            match result {
                Ok(_) => {}
                // Acknowledge what went through; the failed one comes first next time.
                Err(_) if i > 0 => return Ok(i),
                Err(e) => return Err(e),
            }
        }
        Ok(batch.len())
    }
}

fn body(event: &Event) -> Vec<u8> {
    // Strings and parsed JSON: serializing cannot fail.
    serde_json::to_vec(event).unwrap_or_default()
}

/// The signal's family, for grouping: `host.cpu.utilization` → `host.cpu`,
/// `log.nginx.errors_per_s` → `log.nginx`.
fn group(signal: &str) -> String {
    signal.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

/// `s` cut to `max` characters, ending in `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if s.chars().count() > max => format!("{}…", &s[..at]),
        _ => s.to_owned(),
    }
}

/// The alert id, or for an id longer than PagerDuty takes, its start plus a hash of the whole,
/// so distinct alerts keep distinct keys.
fn dedup_key(id: &str) -> String {
    if id.chars().count() <= MAX_DEDUP_KEY_CHARS {
        return id.to_owned();
    }
    let head: String = id.chars().take(MAX_DEDUP_KEY_CHARS - 9).collect();
    format!("{head}#{:08x}", crc32fast::hash(id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_and_resolves_map_to_events() {
        let pd = PagerDuty::new("k".repeat(32));
        let raw = super::super::alertmanager::tests::ALERT;
        let a = WireAlert::decode(raw.as_bytes()).unwrap();
        let v = serde_json::to_value(pd.alert(&a, serde_json::from_str(raw).unwrap())).unwrap();
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], "host.cpu.utilization@1764097262123");
        assert_eq!(v["payload"]["source"], "web-1");
        assert_eq!(v["payload"]["severity"], "critical");
        assert_eq!(v["payload"]["group"], "host.cpu");
        assert_eq!(v["payload"]["component"], "host.cpu.utilization");
        assert_eq!(v["payload"]["custom_details"]["score"], 0.93);
        // The evidence is in the custom details as the event has it.
        let evidence = super::super::alertmanager::tests::EVIDENCE;
        let with = raw.replace(
            "\"summary\"",
            &format!("\"evidence\":{evidence},\"summary\""),
        );
        let a = WireAlert::decode(with.as_bytes()).unwrap();
        let v = serde_json::to_value(pd.alert(&a, serde_json::from_str(&with).unwrap())).unwrap();
        let details = &v["payload"]["custom_details"]["evidence"];
        assert_eq!(details["position"], "above");
        assert_eq!(details["components"][0]["kind"], "new_extreme");
        assert_eq!(details["components"][0]["previous"], 0.4);
        let resolved = raw.replace("\"firing\"", "\"resolved\"");
        let a = WireAlert::decode(resolved.as_bytes()).unwrap();
        let v = serde_json::to_value(pd.alert(&a, serde_json::Value::Null)).unwrap();
        assert_eq!(v["event_action"], "resolve");
        assert!(v.get("payload").is_none());
    }

    #[test]
    fn long_texts_are_cut_to_the_api_limits() {
        let s = "é".repeat(2000);
        let c = cut(&s, MAX_SUMMARY_CHARS);
        assert_eq!(c.chars().count(), MAX_SUMMARY_CHARS);
        assert!(c.ends_with('…'));
        assert_eq!(cut("short", MAX_SUMMARY_CHARS), "short");
        assert_eq!(cut(&"x".repeat(1024), 1024), "x".repeat(1024));
        let long = format!("log.{}.count@1", "s".repeat(400));
        let k = dedup_key(&long);
        assert_eq!(k.chars().count(), MAX_DEDUP_KEY_CHARS);
        assert_ne!(k, dedup_key(&format!("log.{}.count@2", "s".repeat(400))));
    }
}
