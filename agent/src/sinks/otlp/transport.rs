//! The OTLP log exporter of opentelemetry-otlp, built from `[sinks.otlp]` and called directly,
//! one batch at a time, so the sink knows whether each batch was accepted. The SDK's own retries
//! are off: retrying (with backoff, from the outbox) is the sink's job, and the SDK's batch
//! processor is never used because it forgets what it could not deliver.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{
    Compression, LogExporter, RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _};
use seismo_config::{OtlpCompression, OtlpProtocol, OtlpSinkConfig, OtlpTlsConfig};

use super::record::{self, RecordBuilder, WireEvent};
use crate::sinks::error_chain::error_chain;

/// Why the exporter could not be built (unreadable or bogus TLS files, a header tonic refuses).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("[sinks.otlp.tls]: cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("[sinks.otlp.tls]: {0}")]
    Tls(String),
    #[error("[sinks.otlp.headers]: {0}")]
    Header(String),
    #[error("[sinks.otlp]: cannot build the OTLP exporter: {0}")]
    Exporter(String),
}

/// Why a batch was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// Worth another try later: the collector is down, slow, overloaded or refused our
    /// credentials (which an operator can fix without losing the alerts).
    #[error("{0}")]
    Retryable(String),
    /// The data itself was refused (gRPC INVALID_ARGUMENT, HTTP 400/413) or cannot be encoded:
    /// sending the same records again cannot succeed.
    #[error("{0}")]
    Rejected(String),
}

/// A log exporter plus what it needs to turn alert events into records.
pub struct LogsTransport {
    exporter: LogExporter,
    records: RecordBuilder,
    /// The last transport error of the HTTP client: the exporter itself only says
    /// "network error", which does not tell an operator what to fix.
    http_reason: Option<Arc<Mutex<Option<String>>>>,
    endpoint: String,
}

impl LogsTransport {
    /// Builds the exporter. Must run inside the tokio runtime (tonic's channel needs it); it
    /// does not connect: the first export does.
    pub fn new(cfg: &OtlpSinkConfig, host: &str) -> Result<Self, BuildError> {
        let (mut exporter, http_reason, endpoint) = match cfg.protocol {
            OtlpProtocol::Grpc => {
                let endpoint = cfg.endpoint().to_owned();
                (grpc_exporter(cfg, &endpoint)?, None, endpoint)
            }
            OtlpProtocol::Http => {
                let endpoint = format!("{}/v1/logs", cfg.endpoint());
                let reason = Arc::new(Mutex::new(None));
                let client = ReasonedClient {
                    inner: reqwest_client(cfg)?,
                    last_error: Arc::clone(&reason),
                };
                let mut builder = LogExporter::builder()
                    .with_http()
                    .with_endpoint(endpoint.clone())
                    .with_timeout(cfg.timeout)
                    .with_http_client(client)
                    .with_retry_policy(RetryPolicy::disabled())
                    .with_headers(cfg.headers.clone().into_iter().collect::<HashMap<_, _>>());
                if cfg.compression == OtlpCompression::Gzip {
                    builder = builder.with_compression(Compression::Gzip);
                }
                let exporter = builder
                    .build()
                    .map_err(|e| BuildError::Exporter(e.to_string()))?;
                (exporter, Some(reason), endpoint)
            }
        };
        exporter.set_resource(&record::resource(host));
        Ok(Self {
            exporter,
            records: RecordBuilder::new(),
            http_reason,
            endpoint,
        })
    }

    /// Where the records go (for logs).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends `events` as one export request; `Ok` only when the collector accepted it.
    pub async fn export(&self, events: &[WireEvent]) -> Result<(), ExportError> {
        let records: Vec<_> = events.iter().map(|a| self.records.record(a)).collect();
        let scope = self.records.scope();
        let pairs: Vec<_> = records.iter().map(|r| (r, scope)).collect();
        if let Some(reason) = &self.http_reason {
            *lock(reason) = None;
        }
        match self.exporter.export(LogBatch::new(&pairs)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let reason = self.http_reason.as_ref().and_then(|r| lock(r).take());
                Err(classify(&e, reason))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sorts an SDK error into retryable or not. The SDK folds every failure into a message, so
/// this reads the gRPC code or HTTP status out of it (pinned to opentelemetry-otlp 0.33; the
/// unit tests and the end-to-end tests against a real receiver hold it to that).
pub fn classify(err: &OTelSdkError, transport_reason: Option<String>) -> ExportError {
    let msg = err.to_string();
    if let Some(code) = after(&msg, "gRPC code: ") {
        return if code.starts_with("InvalidArgument") {
            ExportError::Rejected(msg)
        } else {
            ExportError::Retryable(msg)
        };
    }
    if let Some(status) = after(&msg, "status code: ") {
        let digits: String = status.chars().take_while(char::is_ascii_digit).collect();
        return match digits.parse::<u16>() {
            Ok(400 | 413) => ExportError::Rejected(msg),
            _ => ExportError::Retryable(msg),
        };
    }
    if msg.contains("network error") {
        return ExportError::Retryable(match transport_reason {
            Some(reason) => format!("HTTP export failed: {reason}"),
            None => msg,
        });
    }
    if matches!(err, OTelSdkError::Timeout(_)) {
        return ExportError::Retryable(msg);
    }
    // What is left is the exporter failing to build the request body (too large, cannot
    // encode): the same records would fail the same way.
    ExportError::Rejected(msg)
}

fn after<'a>(msg: &'a str, marker: &str) -> Option<&'a str> {
    msg.find(marker).map(|i| &msg[i + marker.len()..])
}

fn read(path: &Path) -> Result<Vec<u8>, BuildError> {
    std::fs::read(path).map_err(|source| BuildError::Read {
        path: path.to_owned(),
        source,
    })
}

/// `[sinks.otlp] headers` as gRPC metadata.
pub(crate) fn grpc_metadata(
    cfg: &OtlpSinkConfig,
) -> Result<tonic::metadata::MetadataMap, BuildError> {
    let mut metadata = tonic::metadata::MetadataMap::new();
    for (name, value) in &cfg.headers {
        let key = tonic::metadata::MetadataKey::from_bytes(name.as_bytes())
            .map_err(|e| BuildError::Header(format!("`{name}`: {e}")))?;
        let value = tonic::metadata::MetadataValue::try_from(value.as_str())
            .map_err(|e| BuildError::Header(format!("value of `{name}`: {e}")))?;
        metadata.insert(key, value);
    }
    Ok(metadata)
}

fn grpc_exporter(cfg: &OtlpSinkConfig, endpoint: &str) -> Result<LogExporter, BuildError> {
    let metadata = grpc_metadata(cfg)?;
    let mut builder = LogExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(cfg.timeout)
        .with_retry_policy(RetryPolicy::disabled())
        .with_metadata(metadata);
    if cfg.compression == OtlpCompression::Gzip {
        builder = builder.with_compression(Compression::Gzip);
    }
    if endpoint.starts_with("https://") {
        builder = builder.with_tls_config(grpc_tls(&cfg.tls)?);
    }
    builder
        .build()
        .map_err(|e| BuildError::Exporter(e.to_string()))
}

pub(crate) fn grpc_tls(
    tls: &OtlpTlsConfig,
) -> Result<tonic::transport::ClientTlsConfig, BuildError> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let mut config = ClientTlsConfig::new();
    config = match &tls.ca_file {
        Some(ca) => {
            let pem = read(ca)?;
            check_pem(ca, &pem, "CERTIFICATE")?;
            config.ca_certificate(Certificate::from_pem(pem))
        }
        None => config.with_enabled_roots(),
    };
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        let cert_pem = read(cert)?;
        check_pem(cert, &cert_pem, "CERTIFICATE")?;
        let key_pem = read(key)?;
        check_pem(key, &key_pem, "PRIVATE KEY")?;
        config = config.identity(Identity::from_pem(cert_pem, key_pem));
    }
    Ok(config)
}

/// tonic parses PEM files only at the first connection; catch the plain mistakes at start-up.
fn check_pem(path: &Path, pem: &[u8], what: &str) -> Result<(), BuildError> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("-----BEGIN ") && text.contains(what) {
        Ok(())
    } else {
        Err(BuildError::Tls(format!(
            "{} holds no PEM {what}: give a PEM file (\"-----BEGIN {what}-----\")",
            path.display()
        )))
    }
}

/// The HTTP client of `[sinks.otlp]` (TLS files, timeouts), remembering its last transport
/// error for the logs.
pub(crate) fn http_client(
    cfg: &OtlpSinkConfig,
) -> Result<(impl HttpClient + 'static, LastError), BuildError> {
    let last_error = LastError::default();
    let client = ReasonedClient {
        inner: reqwest_client(cfg)?,
        last_error: Arc::clone(&last_error.0),
    };
    Ok((client, last_error))
}

/// The last transport error of an HTTP client made by [`http_client`].
#[derive(Debug, Clone, Default)]
pub(crate) struct LastError(Arc<Mutex<Option<String>>>);

impl LastError {
    /// Takes the error recorded since the last call.
    pub(crate) fn take(&self) -> Option<String> {
        lock(&self.0).take()
    }
}

fn reqwest_client(cfg: &OtlpSinkConfig) -> Result<reqwest::Client, BuildError> {
    // reqwest is built without a default crypto provider; use ring, as tonic does. Installing
    // fails harmlessly when another part of the agent installed it first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout);
    if let Some(ca) = &cfg.tls.ca_file {
        let pem = read(ca)?;
        check_pem(ca, &pem, "CERTIFICATE")?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| BuildError::Tls(format!("{}: {}", ca.display(), error_chain(&e))))?;
        builder = builder.tls_certs_only(certs);
    }
    if let (Some(cert), Some(key)) = (&cfg.tls.cert_file, &cfg.tls.key_file) {
        let mut pem = read(cert)?;
        check_pem(cert, &pem, "CERTIFICATE")?;
        pem.push(b'\n');
        pem.extend(read(key)?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
            BuildError::Tls(format!(
                "{} / {}: not a PEM certificate and key: {}",
                cert.display(),
                key.display(),
                error_chain(&e)
            ))
        })?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| BuildError::Exporter(error_chain(&e)))
}

/// reqwest's client, remembering the last transport error in full (the exporter reduces it to
/// "network error").
#[derive(Debug)]
struct ReasonedClient {
    inner: reqwest::Client,
    last_error: Arc<Mutex<Option<String>>>,
}

#[async_trait::async_trait]
impl HttpClient for ReasonedClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let result = self.inner.send_bytes(request).await;
        if let Err(e) = &result {
            *lock(&self.last_error) = Some(error_chain(e.as_ref()));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(s: &str) -> OTelSdkError {
        OTelSdkError::InternalFailure(s.to_owned())
    }

    #[test]
    fn grpc_codes_classify() {
        let c = |s: &str| classify(&fail(s), None);
        assert!(matches!(
            c("TonicLogsClient export failed with gRPC code: Unavailable: connection refused"),
            ExportError::Retryable(_)
        ));
        assert!(matches!(
            c("TonicLogsClient export failed with gRPC code: Unauthenticated"),
            ExportError::Retryable(_)
        ));
        assert!(matches!(
            c("TonicLogsClient export failed with gRPC code: InvalidArgument"),
            ExportError::Rejected(_)
        ));
    }

    #[test]
    fn http_statuses_classify() {
        for (status, retry) in [
            (503, true),
            (429, true),
            (401, true),
            (500, true),
            (400, false),
            (413, false),
        ] {
            let got = classify(
                &fail(&format!("HTTP export failed with status code: {status}")),
                None,
            );
            assert_eq!(
                matches!(got, ExportError::Retryable(_)),
                retry,
                "{status}: {got:?}"
            );
        }
        let got = classify(
            &fail("HTTP export failed: network error"),
            Some("error sending request: connection refused".into()),
        );
        assert_eq!(
            got,
            ExportError::Retryable(
                "HTTP export failed: error sending request: connection refused".into()
            )
        );
        assert!(matches!(
            classify(
                &fail("request body of 70000000 bytes exceeds the limit"),
                None
            ),
            ExportError::Rejected(_)
        ));
    }

    #[tokio::test]
    async fn unreadable_or_bogus_tls_files_are_refused_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("ca.pem");
        std::fs::write(&bogus, "not a certificate").unwrap();
        for protocol in ["grpc", "http"] {
            let cfg = seismo_config::parse(
                &format!(
                    "[sinks.otlp]\nenabled = true\nprotocol = \"{protocol}\"\nendpoint = \"https://127.0.0.1:1\"\n[sinks.otlp.tls]\nca_file = \"{}\"\n",
                    bogus.display()
                ),
                "t",
            )
            .unwrap();
            let err = LogsTransport::new(&cfg.sinks.otlp, "h")
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("ca.pem") && err.contains("no PEM CERTIFICATE"),
                "{protocol}: {err}"
            );
            let mut missing = cfg.sinks.otlp.clone();
            missing.tls.ca_file = Some(dir.path().join("nope.pem"));
            let err = LogsTransport::new(&missing, "h").err().unwrap().to_string();
            assert!(
                err.contains("cannot read") && err.contains("nope.pem"),
                "{protocol}: {err}"
            );
        }
    }
}
