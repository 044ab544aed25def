//! The OTLP sink: alerts as OTLP log records to an OpenTelemetry collector, over gRPC or
//! HTTP/protobuf, delivered from the sink's durable outbox.

pub mod record;
pub mod transport;
