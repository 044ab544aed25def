//! Turns scored points into alert events: one firing alert per signal until it resolves, an
//! escalation to critical re-sent under the same id, resolution after a run of normal points.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use seismo_config::AlertingConfig;

use crate::event::{AlertEvent, AlertState, Anomaly, Range, Severity};

/// A point that scored below its detector's threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Normal {
    pub ts_ms: i64,
    pub observed: f64,
    pub score: f64,
    pub expected: Range,
}

#[derive(Debug)]
struct Active {
    alert_id: String,
    started_at: i64,
    severity: Severity,
    detector: &'static str,
    /// Consecutive normal points since the last anomalous one.
    normal_run: u32,
}

#[derive(Debug)]
pub struct Alerting {
    host: Arc<str>,
    critical_score: f64,
    resolve_after: u32,
    active: HashMap<Arc<str>, Active>,
}

impl Alerting {
    pub fn new(host: Arc<str>, config: &AlertingConfig) -> Self {
        Self {
            host,
            critical_score: config.critical_score.get(),
            resolve_after: config.resolve_after,
            active: HashMap::new(),
        }
    }

    /// Reloaded parameters; firing alerts are kept.
    pub fn reconfigure(&mut self, config: &AlertingConfig) {
        self.critical_score = config.critical_score.get();
        self.resolve_after = config.resolve_after;
    }

    pub fn firing(&self) -> usize {
        self.active.len()
    }

    pub fn on_anomaly(&mut self, a: &Anomaly) -> Option<AlertEvent> {
        let severity = if a.score >= self.critical_score {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let expected = Range {
            low: a.expected_low,
            high: a.expected_high,
        };
        let (id, started_at) = match self.active.get_mut(&a.signal) {
            Some(active) => {
                active.normal_run = 0;
                if severity <= active.severity {
                    return None;
                }
                active.severity = severity;
                (active.alert_id.clone(), active.started_at)
            }
            None => {
                let id = format!("{}@{}", a.signal, a.ts_ms);
                self.active.insert(
                    Arc::clone(&a.signal),
                    Active {
                        alert_id: id.clone(),
                        started_at: a.ts_ms,
                        severity,
                        detector: a.detector,
                        normal_run: 0,
                    },
                );
                (id, a.ts_ms)
            }
        };
        Some(AlertEvent {
            time: a.ts_ms,
            state: AlertState::Firing,
            alert_id: id,
            host: Arc::clone(&self.host),
            signal: Arc::clone(&a.signal),
            severity,
            observed: a.observed,
            expected,
            score: a.score,
            detector: a.detector,
            started_at,
            summary: a.evidence(),
            log: None,
        })
    }

    pub fn on_normal(&mut self, signal: &Arc<str>, point: &Normal) -> Option<AlertEvent> {
        let active = self.active.get_mut(signal)?;
        active.normal_run += 1;
        if active.normal_run < self.resolve_after {
            return None;
        }
        let active = self.active.remove(signal)?;
        let lasted =
            Duration::from_millis(u64::try_from(point.ts_ms - active.started_at).unwrap_or(0));
        let summary = format!(
            "{signal} is back within its expected range after {}",
            humantime::format_duration(Duration::from_secs(lasted.as_secs()))
        );
        Some(self.resolved(signal, active, point, summary))
    }

    /// The signal is no longer reported (device gone, detector evicted): resolve its alert.
    pub fn forget(&mut self, signal: &Arc<str>, ts_ms: i64) -> Option<AlertEvent> {
        let active = self.active.remove(signal)?;
        let point = Normal {
            ts_ms,
            observed: f64::NAN,
            score: 0.0,
            expected: Range {
                low: f64::NAN,
                high: f64::NAN,
            },
        };
        let summary = format!("{signal} is no longer reported; its alert is resolved");
        Some(self.resolved(signal, active, &point, summary))
    }

    fn resolved(
        &self,
        signal: &Arc<str>,
        active: Active,
        point: &Normal,
        summary: String,
    ) -> AlertEvent {
        AlertEvent {
            time: point.ts_ms,
            state: AlertState::Resolved,
            alert_id: active.alert_id,
            host: Arc::clone(&self.host),
            signal: Arc::clone(signal),
            severity: active.severity,
            observed: point.observed,
            expected: point.expected,
            score: point.score,
            detector: active.detector,
            started_at: active.started_at,
            summary,
            log: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_config::Config;

    fn anomaly(ts: i64, score: f64) -> Anomaly {
        Anomaly {
            signal: "s".into(),
            ts_ms: ts,
            score,
            observed: 10.0,
            expected_low: 0.0,
            expected_high: 1.0,
            detector: "ewma",
        }
    }

    fn normal(ts: i64) -> Normal {
        Normal {
            ts_ms: ts,
            observed: 0.5,
            score: 0.1,
            expected: Range {
                low: 0.0,
                high: 1.0,
            },
        }
    }

    #[test]
    fn fires_once_escalates_then_resolves_after_a_normal_run() {
        let mut a = Alerting::new("h".into(), &Config::default().alerting);
        let s: Arc<str> = "s".into();
        let fired = a.on_anomaly(&anomaly(1_000, 0.6)).unwrap();
        assert_eq!(
            (fired.state, fired.severity),
            (AlertState::Firing, Severity::Warning)
        );
        assert_eq!(fired.alert_id, "s@1000");
        assert!(a.on_anomaly(&anomaly(2_000, 0.6)).is_none(), "deduplicated");
        let up = a.on_anomaly(&anomaly(3_000, 0.9)).unwrap();
        assert_eq!(
            (up.severity, up.alert_id.as_str()),
            (Severity::Critical, "s@1000")
        );
        assert!(
            a.on_anomaly(&anomaly(4_000, 0.6)).is_none(),
            "no downgrade event"
        );
        assert!(a.on_normal(&s, &normal(5_000)).is_none());
        assert!(a.on_normal(&s, &normal(6_000)).is_none());
        assert!(
            a.on_anomaly(&anomaly(7_000, 0.6)).is_none(),
            "the normal run restarts"
        );
        assert!(a.on_normal(&s, &normal(8_000)).is_none());
        assert!(a.on_normal(&s, &normal(9_000)).is_none());
        let done = a.on_normal(&s, &normal(10_000)).unwrap();
        assert_eq!(done.state, AlertState::Resolved);
        assert_eq!((done.alert_id.as_str(), done.started_at), ("s@1000", 1_000));
        assert_eq!(done.severity, Severity::Critical);
        assert_eq!(a.firing(), 0);
        let again = a.on_anomaly(&anomaly(11_000, 0.6)).unwrap();
        assert_eq!(again.alert_id, "s@11000", "a new alert after resolution");
    }

    #[test]
    fn normal_points_without_an_alert_emit_nothing() {
        let mut a = Alerting::new("h".into(), &Config::default().alerting);
        assert!(a.on_normal(&"s".into(), &normal(1)).is_none());
        assert!(a.forget(&"s".into(), 1).is_none());
    }

    #[test]
    fn forgetting_a_firing_signal_resolves_it() {
        let mut a = Alerting::new("h".into(), &Config::default().alerting);
        a.on_anomaly(&anomaly(1_000, 0.6));
        let e = a.forget(&"s".into(), 5_000).unwrap();
        assert_eq!(e.state, AlertState::Resolved);
        assert!(e.summary.contains("no longer reported"));
    }
}
