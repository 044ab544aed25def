//! The stdout sink: one JSON object per alert event, one per line.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::event::AlertEvent;
use crate::stats::{LogLimiter, Stats};

/// Writes every event from `rx` to `out` until the channel closes, flushing after each event so
/// a reader sees alerts as they happen. Write errors (a closed pipe) are counted and logged at
/// most every 5 minutes; the sink keeps draining so it never blocks the pipeline.
pub async fn run<W: AsyncWrite + Unpin>(
    mut rx: mpsc::Receiver<Arc<AlertEvent>>,
    mut out: W,
    stats: Arc<Stats>,
) {
    let mut limiter = LogLimiter::new(Duration::from_secs(300));
    while let Some(event) = rx.recv().await {
        let mut line = match serde_json::to_vec(&*event) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, alert_id = %event.alert_id, "cannot encode alert");
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
                    tracing::error!(error = %e, failed = n, "cannot write alerts to standard output");
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
    use crate::event::{AlertState, Range, Severity};

    #[tokio::test]
    async fn writes_one_json_object_per_line() {
        let (tx, rx) = mpsc::channel(4);
        let stats = Arc::new(Stats::default());
        let mut buf = Vec::new();
        let event = AlertEvent {
            time: 1_764_097_262_123,
            state: AlertState::Firing,
            alert_id: "host.cpu.utilization@1764097262123".into(),
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
            summary: "s".into(),
            log: None,
        };
        tx.send(Arc::new(event.clone())).await.unwrap();
        tx.send(Arc::new(event)).await.unwrap();
        drop(tx);
        run(rx, &mut buf, Arc::clone(&stats)).await;
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["time"], "2025-11-25T19:01:02.123Z");
        assert_eq!(v["state"], "firing");
        assert_eq!(v["host"], "web-1");
        assert_eq!(v["signal"], "host.cpu.utilization");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["observed"], 0.97);
        assert_eq!(v["expected"]["low"], 0.02);
        assert_eq!(v["expected"]["high"], 0.3);
        assert_eq!(v["score"], 0.91);
        assert_eq!(v["detector"], "ewma");
        assert_eq!(Stats::get(&stats.stdout_written), 2);
    }
}
