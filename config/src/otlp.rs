//! `[sinks.otlp]`: alerts as OTLP log records sent to an OpenTelemetry collector over gRPC or
//! HTTP/protobuf.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::sink_fields::{
    self, absolute_file, check_retry, http_url, outbox_bytes, retry, HeaderRules, OUTBOX_MAX_BYTES,
    RETRY_INITIAL, RETRY_MAX,
};
use crate::values;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtlpProtocol {
    /// OTLP/gRPC, conventionally port 4317.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies, conventionally port 4318.
    Http,
}

/// Request body compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtlpCompression {
    #[default]
    None,
    Gzip,
}

/// `[sinks.otlp]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpSinkConfig {
    pub enabled: bool,
    pub protocol: OtlpProtocol,
    /// The collector's base URL; `None` means the protocol's conventional local endpoint.
    /// For HTTP, `/v1/logs` is appended.
    #[serde(deserialize_with = "endpoint_opt")]
    pub endpoint: Option<String>,
    /// How long one export request may take before it counts as failed (and is retried).
    #[serde(deserialize_with = "export_timeout")]
    pub timeout: Duration,
    pub compression: OtlpCompression,
    /// Extra request headers (gRPC metadata), e.g. an API key.
    #[serde(deserialize_with = "headers")]
    pub headers: BTreeMap<String, String>,
    /// Retry backoff after a failed export: starts at `retry_initial`, doubles up to
    /// `retry_max`, with jitter.
    #[serde(deserialize_with = "retry")]
    pub retry_initial: Duration,
    #[serde(deserialize_with = "retry")]
    pub retry_max: Duration,
    /// Bound of this sink's outbox on disk, in bytes; past it the oldest alerts are dropped
    /// and counted.
    #[serde(deserialize_with = "outbox_bytes")]
    pub outbox_max_bytes: u64,
    /// Also export every signal's latest value and anomaly score as OTLP gauges, at the host
    /// sampling interval (current state, not events: not through the outbox).
    pub metrics: bool,
    /// At most this many signals are exported as gauges; more are left out and counted.
    #[serde(deserialize_with = "metrics_max_signals")]
    pub metrics_max_signals: usize,
    pub tls: OtlpTlsConfig,
}

impl Default for OtlpSinkConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            protocol: OtlpProtocol::Grpc,
            endpoint: None,
            timeout: Duration::from_secs(10),
            compression: OtlpCompression::None,
            headers: BTreeMap::new(),
            retry_initial: RETRY_INITIAL,
            retry_max: RETRY_MAX,
            outbox_max_bytes: OUTBOX_MAX_BYTES,
            metrics: false,
            metrics_max_signals: 2000,
            tls: OtlpTlsConfig::default(),
        }
    }
}

impl OtlpSinkConfig {
    /// The endpoint to use: the configured one, or the protocol's conventional local one.
    pub fn endpoint(&self) -> &str {
        match (&self.endpoint, self.protocol) {
            (Some(e), _) => e,
            (None, OtlpProtocol::Grpc) => "http://localhost:4317",
            (None, OtlpProtocol::Http) => "http://localhost:4318",
        }
    }
}

/// `[sinks.otlp.tls]`: used when the endpoint is `https://`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpTlsConfig {
    /// PEM file of the CA(s) that signed the collector's certificate; the system's roots when
    /// absent.
    #[serde(deserialize_with = "absolute_file")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for collectors that require mutual TLS (both or neither).
    #[serde(deserialize_with = "absolute_file")]
    pub cert_file: Option<PathBuf>,
    #[serde(deserialize_with = "absolute_file")]
    pub key_file: Option<PathBuf>,
}

impl OtlpTlsConfig {
    /// Whether any TLS setting is given.
    pub fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// Deserializes `[sinks.otlp]` and runs the cross-key checks, so their errors point at the table.
pub(crate) fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<OtlpSinkConfig, D::Error> {
    let c = OtlpSinkConfig::deserialize(d)?;
    check(&c).map_err(de::Error::custom)?;
    Ok(c)
}

/// Cross-key checks: keys that are fine alone but not together.
fn check(c: &OtlpSinkConfig) -> Result<(), String> {
    check_retry("[sinks.otlp]", c.retry_initial, c.retry_max)?;
    if c.tls.cert_file.is_some() != c.tls.key_file.is_some() {
        return Err("in [sinks.otlp.tls], `cert_file` and `key_file` go together: set both for mutual TLS, or neither".into());
    }
    if c.tls.is_set() && !c.endpoint().starts_with("https://") {
        return Err(format!(
            "[sinks.otlp.tls] is set but the endpoint `{}` is not https://: write an https:// endpoint, or remove [sinks.otlp.tls]",
            c.endpoint()
        ));
    }
    Ok(())
}

fn endpoint_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    http_url(&s, "http://localhost:4317", "http://collector.example:4317").map(Some)
}

fn metrics_max_signals<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = i64::deserialize(d)?;
    if !(1..=100_000).contains(&n) {
        return Err(de::Error::custom(format!(
            "{n} is out of range: write 1 to 100000 (the default is 2000)"
        )));
    }
    Ok(n as usize)
}

fn export_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    values::duration_in(d, Duration::from_millis(100), Duration::from_secs(300))
}

/// Header names are HTTP tokens (sent lower-cased, as gRPC metadata requires); values printable
/// ASCII.
fn headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    sink_fields::headers(
        d,
        &HeaderRules {
            example: "x-api-key",
            reserved: |h| h.starts_with("grpc-") || h == "content-type" || h == "content-encoding",
            setter: "the exporter",
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::tests::located as err;
    use crate::{parse, OtlpProtocol};

    #[test]
    fn defaults_are_off_and_grpc_on_localhost() {
        let c = parse("", "t").unwrap().sinks.otlp;
        assert!(!c.enabled);
        assert_eq!(c.protocol, OtlpProtocol::Grpc);
        assert_eq!(c.endpoint(), "http://localhost:4317");
        let c = parse("[sinks.otlp]\nprotocol = \"http\"\n", "t")
            .unwrap()
            .sinks
            .otlp;
        assert_eq!(c.endpoint(), "http://localhost:4318");
    }

    #[test]
    fn a_full_table_parses() {
        let c = parse(
            "[sinks.otlp]\nenabled = true\nprotocol = \"http\"\nendpoint = \"https://otel.example:4318/\"\ntimeout = \"2s\"\ncompression = \"gzip\"\nretry_initial = \"100ms\"\nretry_max = \"5s\"\noutbox_max_bytes = 1048576\nheaders = { \"X-Api-Key\" = \"s3cret\" }\n[sinks.otlp.tls]\nca_file = \"/etc/ca.pem\"\ncert_file = \"/etc/c.pem\"\nkey_file = \"/etc/k.pem\"\n",
            "t",
        )
        .unwrap()
        .sinks
        .otlp;
        assert_eq!(c.endpoint(), "https://otel.example:4318");
        assert_eq!(
            c.headers.get("x-api-key").map(String::as_str),
            Some("s3cret")
        );
        assert_eq!(c.outbox_max_bytes, 1 << 20);
        assert_eq!(c.retry_max, std::time::Duration::from_secs(5));
        assert!(!c.metrics, "gauges are off by default");
        let c = parse(
            "[sinks.otlp]\nmetrics = true\nmetrics_max_signals = 50\n",
            "t",
        )
        .unwrap()
        .sinks
        .otlp;
        assert!(c.metrics);
        assert_eq!(c.metrics_max_signals, 50);
    }

    #[test]
    fn bad_values_are_located_and_explained() {
        let e = err("[sinks.otlp]\nendpoint = \"localhost:4317\"\n");
        assert_eq!((e.line, e.column), (2, 12));
        assert!(
            e.message.contains("not an http:// or https:// URL"),
            "{}",
            e.message
        );
        let e = err("[sinks.otlp]\nprotocol = \"grcp\"\n");
        assert!(e.message.contains("Did you mean `grpc`?"), "{}", e.message);
        let e = err("[sinks.otlp]\ntimeout = \"10ms\"\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("from 100ms to 5m"), "{}", e.message);
        let e = err("[sinks.otlp]\nheaders = { \"bad header\" = \"x\" }\n");
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("not a valid header name"),
            "{}",
            e.message
        );
        let e = err("[sinks.otlp]\nmetrics_max_signals = 0\n");
        assert!(e.message.contains("1 to 100000"), "{}", e.message);
        let e = err("[sinks.otlp]\noutbox_max_bytes = 100\n");
        assert!(e.message.contains("too small"), "{}", e.message);
        let e = err("[sinks.otlp.tls]\nca_file = \"ca.pem\"\n");
        assert!(e.message.contains("relative path"), "{}", e.message);
    }

    #[test]
    fn tls_without_https_or_half_a_client_identity_is_refused() {
        let e =
            err("[sinks.otlp]\nenabled = true\n\n[sinks.otlp.tls]\nca_file = \"/etc/ca.pem\"\n");
        assert!(e.message.contains("is not https://"), "{}", e.message);
        let e = err("[sinks.otlp]\nendpoint = \"https://c:4317\"\n[sinks.otlp.tls]\ncert_file = \"/etc/c.pem\"\n");
        assert!(e.message.contains("go together"), "{}", e.message);
    }
}
