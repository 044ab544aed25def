//! The stdout sink: one JSON object per event (alert or incident), one per line.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::event::Event;
use crate::telemetry::stats::{LogLimiter, Stats};

/// Writes every event from `rx` to `out` until the channel closes, flushing after each event so
/// a reader sees events as they happen. Write errors (a closed pipe) are counted and logged at
/// most every 5 minutes; the sink keeps draining so it never blocks the pipeline.
pub async fn run<W: AsyncWrite + Unpin>(
    mut rx: mpsc::Receiver<Arc<Event>>,
    mut out: W,
    stats: Arc<Stats>,
) {
    let mut limiter = LogLimiter::new(Duration::from_secs(300));
    while let Some(event) = rx.recv().await {
        let mut line = match serde_json::to_vec(&*event) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, id = %event.id(), "cannot encode event");
                Stats::add(&stats.stdout_errors, 1);
                continue;
            }
        };
        line.push(b'\n');
        match write_line(&mut out, &line).await {
            Ok(()) => Stats::add(&stats.stdout_written, 1),
            Err(e) => {
                Stats::add(&stats.stdout_errors, 1);
                if let Some(n) = limiter.hit() {
                    tracing::error!(error = %e, failed = n, "cannot write events to standard output");
                }
            }
        }
    }
    let _ = out.flush().await;
}

async fn write_line<W: AsyncWrite + Unpin>(out: &mut W, line: &[u8]) -> std::io::Result<()> {
    out.write_all(line).await?;
    out.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        AlertEvent, AlertState, IncidentEvent, IncidentState, Range, Severity, TimelineEntry,
    };

    fn alert() -> AlertEvent {
        AlertEvent {
            time: 1_764_097_262_123,
            state: AlertState::Firing,
            alert_id: "host.cpu.utilization@1764097262123".into(),
            incident_id: "web-1@1764097262123".into(),
            host: "web-1".into(),
            signal: "host.cpu.utilization".into(),
            severity: Severity::Critical,
            observed: 0.97,
            expected: Range {
                low: 0.02,
                high: 0.3,
            },
            score: 0.91,
            detector: "ewma",
            started_at: 1_764_097_262_123,
            flapping: false,
            summary: "s".into(),
            evidence: None,
            log: None,
        }
    }

    #[tokio::test]
    async fn writes_one_json_object_per_line() {
        let (tx, rx) = mpsc::channel(4);
        let stats = Arc::new(Stats::default());
        let mut buf = Vec::new();
        let incident = IncidentEvent {
            time: 1_764_097_262_123,
            state: IncidentState::Opened,
            incident_id: "web-1@1764097262123".into(),
            host: "web-1".into(),
            severity: Severity::Critical,
            origin: "host.cpu.utilization".into(),
            signals: vec!["host.cpu.utilization".into()],
            started_at: 1_764_097_262_123,
            summary: "i".into(),
            timeline: vec![TimelineEntry {
                signal: "host.cpu.utilization".into(),
                time: 1_764_097_262_123,
                severity: Severity::Critical,
                alert_id: "host.cpu.utilization@1764097262123".into(),
                evidence: "s".into(),
                resolved_at: None,
                log: None,
            }],
            timeline_omitted: 0,
        };
        tx.send(Arc::new(Event::Alert(alert()))).await.unwrap();
        tx.send(Arc::new(Event::Incident(incident))).await.unwrap();
        drop(tx);
        run(rx, &mut buf, Arc::clone(&stats)).await;
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("{\"kind\":\"alert\","), "{}", lines[0]);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["time"], "2025-11-25T19:01:02.123Z");
        assert_eq!(v["state"], "firing");
        assert_eq!(v["incident_id"], "web-1@1764097262123");
        assert_eq!(v["host"], "web-1");
        assert_eq!(v["signal"], "host.cpu.utilization");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["observed"], 0.97);
        assert_eq!(v["expected"]["low"], 0.02);
        assert_eq!(v["expected"]["high"], 0.3);
        assert_eq!(v["score"], 0.91);
        assert_eq!(v["detector"], "ewma");
        assert_eq!(v["flapping"], false);
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["kind"], "incident");
        assert_eq!(v["state"], "opened");
        assert_eq!(v["origin"], "host.cpu.utilization");
        assert_eq!(v["signals"][0], "host.cpu.utilization");
        assert_eq!(v["timeline"][0]["time"], "2025-11-25T19:01:02.123Z");
        assert_eq!(v["timeline"][0]["resolved_at"], serde_json::Value::Null);
        assert_eq!(Stats::get(&stats.stdout_written), 2);
    }
}
