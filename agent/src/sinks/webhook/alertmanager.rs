//! `format = "alertmanager"`: Prometheus Alertmanager's API v2, `POST {url}/api/v2/alerts`
//! with a JSON array of postable alerts.
//!
//! Alertmanager resolves an alert by itself at its `endsAt`, so a firing alert is posted with
//! `endsAt` = now + 4 × `repeat_interval` and posted again every `repeat_interval` while it
//! fires (as Prometheus does); a resolved event is posted with `endsAt` = the resolve time.
//! The set of firing alerts lives in memory and is rebuilt from the events as they are
//! delivered (queued events replay through it after a restart). An alert that was firing when
//! the agent stopped and is not raised again is resolved by Alertmanager at its last `endsAt`,
//! at most 4 × `repeat_interval` after seismo last posted it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::{decode_alert, leading, post_batch, Http, PostError};
use crate::clock::{format_ts, now_ms};
use crate::sinks::deliver::DeliveryError;
use crate::sinks::otlp::record::{WireAlert, WireSeverity, WireState};
use crate::sinks::outbox::Record;
use crate::sinks::EventKind;
use crate::telemetry::stats::LogLimiter;
use crate::unit::Unit;

/// The `alertname` label of single-signal alerts.
pub const ALERTNAME: &str = "SeismoAnomaly";

/// A firing alert's `endsAt` is this many repeat intervals after each post.
const ENDS_AFTER_REPEATS: u32 = 4;

/// One alert of the request body (Alertmanager's `postableAlert`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostableAlert {
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

/// A postable alert plus what the sink tracks about it.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    id: String,
    firing: bool,
    /// The event's time.
    time: String,
    alert: PostableAlert,
    /// Labels are Alertmanager's identity of an alert, and `severity` is a label: when an
    /// alert escalates, the alert under its old labels is resolved (posted first, here) so it
    /// does not linger until its `endsAt`.
    replaces: Option<PostableAlert>,
}

/// What one Alertmanager webhook keeps between requests.
pub(crate) struct Alertmanager {
    interval: Duration,
    generator_url: Option<String>,
    /// Alerts posted as firing and not yet posted as resolved, by alert id.
    firing: BTreeMap<String, PostableAlert>,
    next_repeat: Instant,
    repeat_log: LogLimiter,
}

impl Alertmanager {
    pub(crate) fn new(interval: Duration, generator_url: Option<String>) -> Self {
        Self {
            interval,
            generator_url,
            firing: BTreeMap::new(),
            next_repeat: Instant::now() + interval,
            repeat_log: LogLimiter::new(Duration::from_secs(60)),
        }
    }

    /// The `endsAt` of a firing alert posted now.
    fn firing_ends_at(&self) -> String {
        let ahead = self.interval * ENDS_AFTER_REPEATS;
        format_ts(now_ms().saturating_add(i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX)))
    }

    /// `pending` holds, by alert id, what the items before this one in the batch leave
    /// firing (`None`: resolved), over what was delivered before.
    fn item(
        &self,
        r: &Record,
        pending: &mut BTreeMap<String, Option<PostableAlert>>,
    ) -> Result<Item, String> {
        let mut item = match EventKind::from_tag(r.kind) {
            Some(EventKind::Alert) => self.alert(&decode_alert(r)?),
            _ => {
                return Err(format!(
                    "record kind {} is not an alert; the alertmanager format maps alerts only",
                    r.kind
                ))
            }
        };
        let active = match pending.get(&item.id) {
            Some(p) => p.clone(),
            None => self.firing.get(&item.id).cloned(),
        };
        if let Some(old) = active.filter(|old| old.labels != item.alert.labels) {
            if item.firing {
                item.replaces = Some(PostableAlert {
                    ends_at: item.time.clone(),
                    ..old
                });
            } else {
                // Resolve the alert under the labels Alertmanager knows it by.
                item.alert.labels = old.labels;
            }
        }
        pending.insert(item.id.clone(), item.firing.then(|| item.alert.clone()));
        Ok(item)
    }

    /// An alert event as an Alertmanager alert.
    pub(crate) fn alert(&self, a: &WireAlert) -> Item {
        let firing = a.state == WireState::Firing;
        let severity = match a.severity {
            WireSeverity::Warning => "warning",
            WireSeverity::Critical => "critical",
        };
        let labels = BTreeMap::from([
            ("alertname", ALERTNAME.to_owned()),
            ("signal", a.signal.clone()),
            ("host", a.host.clone()),
            ("severity", severity.to_owned()),
            ("detector", a.detector.clone()),
            ("alert_id", a.alert_id.clone()),
        ]);
        // JSON has no NaN: a value the signal no longer reports is `null`.
        let unit = Unit::of(&a.signal);
        let num = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| unit.format(v));
        let range = match (a.expected.low, a.expected.high) {
            (Some(low), Some(high)) => unit.range(low, high),
            (low, high) => format!("{}..{}", num(low), num(high)),
        };
        let mut description = format!(
            "{} on {}: observed {}, expected {range}, score {:.2} (detector {}); firing since {}",
            a.signal,
            a.host,
            num(a.observed),
            a.score,
            a.detector,
            a.started_at
        );
        if !firing {
            description.push_str(&format!(", resolved at {}", a.time));
        }
        let mut annotations =
            BTreeMap::from([("summary", a.summary.clone()), ("description", description)]);
        // The structured evidence, as the JSON sinks have it (annotations are strings).
        if let Some(e) = &a.evidence {
            if let Ok(json) = serde_json::to_string(e) {
                annotations.insert("evidence", json);
            }
        }
        Item {
            id: a.alert_id.clone(),
            firing,
            time: a.time.clone(),
            alert: PostableAlert {
                labels,
                annotations,
                starts_at: a.started_at.clone(),
                ends_at: if firing {
                    self.firing_ends_at()
                } else {
                    a.time.clone()
                },
                generator_url: self.generator_url.clone(),
            },
            replaces: None,
        }
    }

    pub(crate) async fn deliver(
        &mut self,
        http: &Http,
        batch: &[Record],
    ) -> Result<usize, DeliveryError> {
        let mut pending = BTreeMap::new();
        let items = leading(batch, |r| self.item(r, &mut pending))?;
        let n = post_batch(http, &items, |xs| {
            body(
                xs.iter()
                    .flat_map(|i| i.replaces.iter().chain(std::iter::once(&i.alert)))
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
        for it in &items[..n] {
            if it.firing {
                self.firing.insert(it.id.clone(), it.alert.clone());
            } else {
                self.firing.remove(&it.id);
            }
        }
        // Events may keep the queue busy for longer than the interval: re-post here too, not
        // only when idle.
        if n > 0 && !self.firing.is_empty() && Instant::now() >= self.next_repeat {
            if let Err(e) = self.repost(http).await {
                if let Some(k) = self.repeat_log.hit() {
                    tracing::warn!(endpoint = %http.endpoint, error = %e, failures = k, "cannot post firing alerts again; retrying (logged at most once a minute)");
                }
            }
        }
        Ok(n)
    }

    /// While nothing is queued: re-posts the firing alerts every interval.
    pub(crate) async fn idle(&mut self, http: &Http) -> Result<(), DeliveryError> {
        if self.firing.is_empty() {
            return std::future::pending().await;
        }
        tokio::time::sleep_until(self.next_repeat).await;
        self.repost(http).await.map_err(DeliveryError::Transient)
    }

    /// Posts every firing alert again with a fresh `endsAt`. A transient failure is retried
    /// by the caller's backoff; a refusal waits for the next interval.
    async fn repost(&mut self, http: &Http) -> Result<(), String> {
        let ends_at = self.firing_ends_at();
        for a in self.firing.values_mut() {
            a.ends_at.clone_from(&ends_at);
        }
        match http.post(body(self.firing.values().collect())).await {
            Ok(()) => {
                self.next_repeat = Instant::now() + self.interval;
                Ok(())
            }
            Err(PostError::Transient(m)) => Err(m),
            Err(PostError::Rejected(m)) => {
                self.next_repeat = Instant::now() + self.interval;
                Err(m)
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn firing_ids(&self) -> Vec<String> {
        self.firing.keys().cloned().collect()
    }
}

fn body(alerts: Vec<&PostableAlert>) -> Vec<u8> {
    // Plain strings and maps: serializing cannot fail.
    serde_json::to_vec(&alerts).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const ALERT: &str = r#"{"time":"2025-11-25T19:01:02.123Z","state":"firing","alert_id":"host.cpu.utilization@1764097262123","host":"web-1","signal":"host.cpu.utilization","severity":"critical","observed":0.97,"expected":{"low":0.1,"high":0.4},"score":0.93,"detector":"ewma","started_at":"2025-11-25T19:01:02.123Z","summary":"host.cpu.utilization is 0.97, above the expected range 0.1..0.4"}"#;

    /// The evidence of a new maximum, as `AlertEvent` serializes it.
    pub(crate) const EVIDENCE: &str = r#"{"position":"above","components":[{"kind":"new_extreme","extreme":"maximum","previous":0.4,"score":0.93,"expected":{"low":0.1,"high":0.4}}]}"#;

    #[test]
    fn alerts_map_to_postable_alerts() {
        let am = Alertmanager::new(Duration::from_secs(60), Some("http://grafana/d/x".into()));
        let a = WireAlert::decode(ALERT.as_bytes()).unwrap();
        let item = am.alert(&a);
        let v = serde_json::to_value(&item.alert).unwrap();
        assert_eq!(v["labels"]["alertname"], ALERTNAME);
        assert_eq!(v["labels"]["signal"], "host.cpu.utilization");
        assert_eq!(v["labels"]["host"], "web-1");
        assert_eq!(v["labels"]["severity"], "critical");
        assert_eq!(v["labels"]["detector"], "ewma");
        assert_eq!(
            v["labels"]["alert_id"],
            "host.cpu.utilization@1764097262123"
        );
        assert_eq!(v["startsAt"], "2025-11-25T19:01:02.123Z");
        assert_eq!(v["generatorURL"], "http://grafana/d/x");
        assert!(v["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("above"));
        // A firing alert ends in the future, four intervals from now.
        let ends = humantime::parse_rfc3339(v["endsAt"].as_str().unwrap()).unwrap();
        let ahead = ends
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        assert!(ahead > Duration::from_secs(200) && ahead <= Duration::from_secs(240));

        // Numbers for people in the description; no evidence, no annotation for it.
        assert_eq!(
            v["annotations"]["description"]
                .as_str()
                .unwrap()
                .split("; ")
                .next(),
            Some("host.cpu.utilization on web-1: observed 97%, expected 10%..40%, score 0.93 (detector ewma)")
        );
        assert!(v["annotations"].get("evidence").is_none());
        let with = ALERT.replace(
            "\"summary\"",
            &format!("\"evidence\":{EVIDENCE},\"summary\""),
        );
        let e = am.alert(&WireAlert::decode(with.as_bytes()).unwrap());
        let v = serde_json::to_value(&e.alert).unwrap();
        let evidence: serde_json::Value =
            serde_json::from_str(v["annotations"]["evidence"].as_str().unwrap()).unwrap();
        assert_eq!(
            evidence,
            serde_json::from_str::<serde_json::Value>(EVIDENCE).unwrap()
        );

        let resolved = ALERT
            .replace("\"firing\"", "\"resolved\"")
            .replace("19:01:02.123Z\",\"state", "19:05:00.000Z\",\"state");
        let r = am.alert(&WireAlert::decode(resolved.as_bytes()).unwrap());
        assert!(!r.firing);
        assert_eq!(r.alert.ends_at, "2025-11-25T19:05:00.000Z");
        assert_eq!(r.alert.starts_at, "2025-11-25T19:01:02.123Z");
    }
}
