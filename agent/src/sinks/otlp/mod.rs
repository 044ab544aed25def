//! The OTLP sink: alerts as OTLP log records to an OpenTelemetry collector, over gRPC or
//! HTTP/protobuf, delivered from the sink's durable outbox by the shared delivery loop
//! (`sinks::deliver`), which acknowledges a batch only when the collector accepted it and
//! retries failures with backoff.

pub mod record;
pub mod transport;

use crate::outbox::Record;
use crate::sinks::deliver::{Delivery, DeliveryError};
use crate::sinks::EventKind;
use record::WireAlert;
use transport::{ExportError, LogsTransport};

/// Delivers outbox records to a collector.
pub struct OtlpSink {
    transport: LogsTransport,
}

impl OtlpSink {
    pub fn new(transport: LogsTransport) -> Self {
        Self { transport }
    }

    /// Sends each of `alerts` alone, in order, after the collector refused them together: so
    /// one record it cannot take does not take the others down with it.
    async fn one_by_one(&self, alerts: &[WireAlert]) -> Result<usize, DeliveryError> {
        for (i, alert) in alerts.iter().enumerate() {
            match self.transport.export(std::slice::from_ref(alert)).await {
                Ok(()) => {}
                // Acknowledge what went through; the refused one comes first next time.
                Err(_) if i > 0 => return Ok(i),
                Err(ExportError::Rejected(message)) => {
                    return Err(DeliveryError::Rejected {
                        count: 1,
                        message: format!(
                            "the collector refused alert {}: {message}",
                            alert.alert_id
                        ),
                    })
                }
                Err(ExportError::Retryable(message)) => {
                    return Err(DeliveryError::Transient(message))
                }
            }
        }
        Ok(alerts.len())
    }
}

impl Delivery for OtlpSink {
    async fn deliver(&mut self, batch: &[Record]) -> Result<usize, DeliveryError> {
        // Decode the leading run of valid alerts; a bad record is refused on its own when it
        // reaches the head, so it never holds the queue up.
        let mut alerts = Vec::with_capacity(batch.len());
        for r in batch {
            let decoded = if EventKind::from_tag(r.kind) == Some(EventKind::Alert) {
                WireAlert::decode(&r.payload)
            } else {
                Err(format!(
                    "record kind {} is not an alert; the OTLP sink exports alerts only",
                    r.kind
                ))
            };
            match decoded {
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
                    message: format!(
                        "the collector refused alert {}: {message}",
                        alerts[0].alert_id
                    ),
                })
            }
            Err(ExportError::Rejected(_)) => self.one_by_one(&alerts).await,
        }
    }
}
