//! The OTLP sink: alerts, incidents and the steps of hook runs as OTLP log records to an OpenTelemetry collector, over gRPC or
//! HTTP/protobuf, delivered from the sink's durable outbox by the shared delivery loop
//! (`sinks::deliver`), which acknowledges a batch only when the collector accepted it and
//! retries failures with backoff.

pub mod hook_record;
pub mod metrics;
pub mod record;
pub mod transport;

use crate::sinks::deliver::{Delivery, DeliveryError};
use crate::sinks::outbox::Record;
use crate::sinks::EventKind;
use record::{WireAlert, WireEvent, WireIncident};
use transport::{ExportError, LogsTransport};

/// Delivers outbox records to a collector.
pub struct OtlpSink {
    transport: LogsTransport,
}

impl OtlpSink {
    pub fn new(transport: LogsTransport) -> Self {
        Self { transport }
    }

    /// Sends each of `events` alone, in order, after the collector refused them together: so
    /// one record it cannot take does not take the others down with it.
    async fn one_by_one(&self, events: &[WireEvent]) -> Result<usize, DeliveryError> {
        for (i, event) in events.iter().enumerate() {
            match self.transport.export(std::slice::from_ref(event)).await {
                Ok(()) => {}
                // Acknowledge what went through; the refused one comes first next time.
                Err(_) if i > 0 => return Ok(i),
                Err(ExportError::Rejected(message)) => {
                    return Err(DeliveryError::Rejected {
                        count: 1,
                        message: format!("the collector refused event {}: {message}", event.id()),
                    })
                }
                Err(ExportError::Retryable(message)) => {
                    return Err(DeliveryError::Transient(message))
                }
            }
        }
        Ok(events.len())
    }
}

/// Decodes an outbox record by its kind tag.
fn decode(r: &Record) -> Result<WireEvent, String> {
    match EventKind::from_tag(r.kind) {
        Some(EventKind::Alert) => WireAlert::decode(&r.payload).map(WireEvent::Alert),
        Some(EventKind::Incident) => WireIncident::decode(&r.payload).map(WireEvent::Incident),
        Some(EventKind::Hook | EventKind::Proposal) => {
            hook_record::WireHook::decode(&r.payload).map(WireEvent::Hook)
        }
        None => Err(format!(
            "record kind {} is not an alert, an incident or a hook run; the OTLP sink exports those only",
            r.kind
        )),
    }
}

impl Delivery for OtlpSink {
    async fn deliver(&mut self, batch: &[Record]) -> Result<usize, DeliveryError> {
        // Decode the leading run of valid events; a bad record is refused on its own when it
        // reaches the head, so it never holds the queue up.
        let mut alerts = Vec::with_capacity(batch.len());
        for r in batch {
            match decode(r) {
                Ok(a) => alerts.push(a),
                Err(e) if alerts.is_empty() => {
                    return Err(DeliveryError::Rejected {
                        count: 1,
                        message: format!("cannot encode outbox record {} for OTLP: {e}", r.seq),
                    })
                }
                Err(_) => break,
            }
        }
        match self.transport.export(&alerts).await {
            Ok(()) => Ok(alerts.len()),
            Err(ExportError::Retryable(message)) => Err(DeliveryError::Transient(format!(
                "{}: {message}",
                self.transport.endpoint()
            ))),
            Err(ExportError::Rejected(message)) if alerts.len() == 1 => {
                Err(DeliveryError::Rejected {
                    count: 1,
                    message: format!("the collector refused event {}: {message}", alerts[0].id()),
                })
            }
            Err(ExportError::Rejected(_)) => self.one_by_one(&alerts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, kind: u8, payload: &[u8]) -> Record {
        Record {
            seq,
            time_ms: 0,
            kind,
            payload: payload.to_vec(),
        }
    }

    /// A sink whose collector is never reached: these records must be refused before export.
    fn sink() -> OtlpSink {
        let cfg = seismo_config::parse(
            "[sinks.otlp]\nenabled = true\nendpoint = \"http://127.0.0.1:9\"\n",
            "t",
        )
        .unwrap();
        OtlpSink::new(LogsTransport::new(&cfg.sinks.otlp, "h").unwrap())
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_encoded_is_refused_alone_not_retried() {
        let mut s = sink();
        let batch = [
            record(7, EventKind::Alert as u8, b"{\"not\": \"an alert\"}"),
            record(8, EventKind::Alert as u8, b"{}"),
        ];
        match s.deliver(&batch).await {
            Err(DeliveryError::Rejected { count, message }) => {
                assert_eq!(count, 1);
                assert!(message.contains("outbox record 7"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        match s.deliver(&[record(9, 99, b"{}")]).await {
            Err(DeliveryError::Rejected { count: 1, message }) => {
                assert!(
                    message.contains("an alert, an incident or a hook"),
                    "{message}"
                )
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unreachable_collector_is_a_transient_failure() {
        let mut s = sink();
        let alert = serde_json::json!({
            "time": "2025-11-25T19:01:02.123Z", "state": "firing", "alert_id": "a@1",
            "host": "h", "signal": "a", "severity": "warning", "observed": 1.0,
            "expected": {"low": 0.0, "high": 0.5}, "score": 0.6, "detector": "ewma",
            "started_at": "2025-11-25T19:01:02.123Z", "summary": "s"
        });
        let batch = [record(
            1,
            EventKind::Alert as u8,
            &serde_json::to_vec(&alert).unwrap(),
        )];
        match s.deliver(&batch).await {
            Err(DeliveryError::Transient(m)) => assert!(m.contains("127.0.0.1:9"), "{m}"),
            other => panic!("expected a transient failure, got {other:?}"),
        }
    }
}
