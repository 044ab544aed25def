//! Signals and their anomaly scores as OTLP gauges (`[sinks.otlp] metrics = true`).
//!
//! The pipeline writes each signal's latest value and score into [`SignalGauges`]; the SDK's
//! periodic reader reads them at the sampling interval through two observable gauges,
//! `seismo.signal.value` and `seismo.signal.score`, one series per signal (attribute
//! `seismo.signal`), and opentelemetry-otlp's metric exporter sends them over the sink's
//! protocol, TLS, headers and compression, with the resource of the log records.
//!
//! Gauges are current state, not events: they do not go through the outbox. An export that
//! fails is logged (at most once a minute) and counted; the next interval sends fresh values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use opentelemetry::metrics::{MeterProvider as _, ObservableGauge};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{
    Compression, MetricExporter, RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{
    Instrument, PeriodicReader, SdkMeterProvider, Stream, Temporality,
};
use seismo_config::{OtlpCompression, OtlpProtocol, OtlpSinkConfig};

use super::record;
use super::transport::{self, BuildError};
use crate::event::Sample;
use crate::pipeline::observer::Observer;
use crate::telemetry::stats::{LogLimiter, Stats};

/// The gauge of a signal's latest value.
pub const VALUE_GAUGE: &str = "seismo.signal.value";
/// The gauge of a signal's latest anomaly score (0..1).
pub const SCORE_GAUGE: &str = "seismo.signal.score";
/// The attribute naming the signal, as on the alert log records.
pub const SIGNAL_ATTRIBUTE: &str = "seismo.signal";

#[derive(Debug, Clone, Copy)]
struct Latest {
    value: f64,
    /// `None` while the signal's detector is warming up.
    score: Option<f64>,
}

/// The latest value and score of every signal, bounded to `max` signals. Shared between the
/// pipeline (writes) and the metric reader (reads once per interval).
#[derive(Debug)]
pub struct SignalGauges {
    latest: Mutex<HashMap<Arc<str>, Latest>>,
    max: usize,
    stats: Arc<Stats>,
    refused_log: Mutex<LogLimiter>,
}

impl SignalGauges {
    pub fn new(max: usize, stats: Arc<Stats>) -> Self {
        Self {
            latest: Mutex::new(HashMap::new()),
            max,
            stats,
            refused_log: Mutex::new(LogLimiter::new(Duration::from_secs(300))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Latest>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a signal's latest point. A non-finite value is not recorded (the gauge keeps
    /// none rather than NaN); a signal past the bound is left out and counted.
    pub fn record(&self, signal: &Arc<str>, value: f64, score: Option<f64>) {
        if !value.is_finite() {
            return;
        }
        let mut latest = self.lock();
        if let Some(l) = latest.get_mut(signal) {
            *l = Latest { value, score };
            return;
        }
        if latest.len() >= self.max {
            drop(latest);
            Stats::add(&self.stats.otlp_metric_series_refused, 1);
            let hit = self
                .refused_log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .hit();
            if let Some(n) = hit {
                tracing::warn!(
                    signal = %signal, refused = n, max = self.max,
                    "OTLP gauges: series limit reached, this signal is not exported (raise [sinks.otlp] metrics_max_signals)"
                );
            }
            return;
        }
        latest.insert(Arc::clone(signal), Latest { value, score });
    }

    /// Forgets a signal that stopped being reported: its series ends.
    pub fn forget(&self, signal: &str) {
        self.lock().remove(signal);
    }

    fn snapshot(&self) -> Vec<(Arc<str>, Latest)> {
        self.lock()
            .iter()
            .map(|(k, v)| (Arc::clone(k), *v))
            .collect()
    }
}

/// The running gauge export; [`GaugeExport::shutdown`] sends a last export and stops it.
pub struct GaugeExport {
    provider: SdkMeterProvider,
    _gauges: [ObservableGauge<f64>; 2],
}

impl GaugeExport {
    /// Starts exporting `gauges` every `interval`. Must run inside the (multi-thread) tokio
    /// runtime: the exporter's transport lives on it.
    pub fn start(
        cfg: &OtlpSinkConfig,
        host: &str,
        interval: Duration,
        gauges: Arc<SignalGauges>,
        stats: Arc<Stats>,
    ) -> Result<Self, BuildError> {
        let (inner, http_error) = exporter(cfg)?;
        let exporter = LoggedExporter {
            inner,
            http_error,
            runtime: tokio::runtime::Handle::current(),
            endpoint: metrics_endpoint(cfg),
            stats,
            fail_log: Mutex::new(LogLimiter::new(Duration::from_secs(60))),
        };
        let reader = PeriodicReader::builder(exporter)
            .with_interval(interval)
            .build();
        // One series per signal, plus the SDK's overflow series: never fold signals together.
        let limit = gauges.max + 1;
        let provider = SdkMeterProvider::builder()
            .with_resource(record::resource(host))
            .with_reader(reader)
            .with_view(move |_: &Instrument| {
                Stream::builder().with_cardinality_limit(limit).build().ok()
            })
            .build();
        let meter = provider.meter_with_scope(
            InstrumentationScope::builder("seismo")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let values = Arc::clone(&gauges);
        let value = meter
            .f64_observable_gauge(VALUE_GAUGE)
            .with_description("The signal's latest value")
            .with_callback(move |observer| {
                for (signal, latest) in values.snapshot() {
                    observer.observe(latest.value, &[KeyValue::new(SIGNAL_ATTRIBUTE, signal)]);
                }
            })
            .build();
        let scores = gauges;
        let score = meter
            .f64_observable_gauge(SCORE_GAUGE)
            .with_description("The signal's latest anomaly score, 0 to 1")
            .with_callback(move |observer| {
                for (signal, latest) in scores.snapshot() {
                    if let Some(s) = latest.score {
                        observer.observe(s, &[KeyValue::new(SIGNAL_ATTRIBUTE, signal)]);
                    }
                }
            })
            .build();
        Ok(Self {
            provider,
            _gauges: [value, score],
        })
    }

    /// Exports the current values once more and stops. Blocking (call it off the runtime's
    /// worker threads, e.g. with `spawn_blocking`).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "OTLP gauges: the last export did not finish");
        }
    }
}

fn metrics_endpoint(cfg: &OtlpSinkConfig) -> String {
    match cfg.protocol {
        OtlpProtocol::Grpc => cfg.endpoint().to_owned(),
        OtlpProtocol::Http => format!("{}/v1/metrics", cfg.endpoint()),
    }
}

/// opentelemetry-otlp's metric exporter for `[sinks.otlp]`: the same transport settings as the
/// log exporter. The SDK's retries are off: a missed interval is replaced by the next one.
fn exporter(
    cfg: &OtlpSinkConfig,
) -> Result<(MetricExporter, Option<transport::LastError>), BuildError> {
    let endpoint = metrics_endpoint(cfg);
    // Gauges have no temporality; delta keeps the SDK from remembering series that ended.
    let builder = MetricExporter::builder().with_temporality(Temporality::Delta);
    let mut http_error = None;
    let built = match cfg.protocol {
        OtlpProtocol::Grpc => {
            let mut b = builder
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .with_timeout(cfg.timeout)
                .with_retry_policy(RetryPolicy::disabled())
                .with_metadata(transport::grpc_metadata(cfg)?);
            if cfg.compression == OtlpCompression::Gzip {
                b = b.with_compression(Compression::Gzip);
            }
            if endpoint.starts_with("https://") {
                b = b.with_tls_config(transport::grpc_tls(&cfg.tls)?);
            }
            b.build()
        }
        OtlpProtocol::Http => {
            let (client, last_error) = transport::http_client(cfg)?;
            http_error = Some(last_error);
            let mut b = builder
                .with_http()
                .with_endpoint(endpoint)
                .with_timeout(cfg.timeout)
                .with_http_client(client)
                .with_retry_policy(RetryPolicy::disabled())
                .with_headers(cfg.headers.clone().into_iter().collect());
            if cfg.compression == OtlpCompression::Gzip {
                b = b.with_compression(Compression::Gzip);
            }
            b.build()
        }
    };
    let exporter = built.map_err(|e| BuildError::Exporter(e.to_string()))?;
    Ok((exporter, http_error))
}

/// Runs each export on the agent's runtime (the periodic reader calls it from its own thread,
/// where tonic's and reqwest's I/O would find no reactor), and logs and counts failures.
struct LoggedExporter {
    inner: MetricExporter,
    /// The HTTP client's own words for a transport failure (the SDK says "network error").
    http_error: Option<transport::LastError>,
    runtime: tokio::runtime::Handle,
    endpoint: String,
    stats: Arc<Stats>,
    fail_log: Mutex<LogLimiter>,
}

impl std::fmt::Debug for LoggedExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedExporter")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl PushMetricExporter for LoggedExporter {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            // Never block a runtime thread (not how the periodic reader calls it).
            Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                "metric export called on the runtime".into(),
            ))
        } else {
            self.runtime.block_on(self.inner.export(metrics))
        };
        match &result {
            Ok(()) => Stats::add(&self.stats.otlp_metric_exports, 1),
            Err(e) => {
                Stats::add(&self.stats.otlp_metric_export_failures, 1);
                let hit = self
                    .fail_log
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .hit();
                let reason = self.http_error.as_ref().and_then(|r| r.take());
                if let Some(n) = hit {
                    let error = match reason {
                        Some(r) => format!("{e}: {r}"),
                        None => e.to_string(),
                    };
                    tracing::warn!(
                        endpoint = %self.endpoint, error = %error, failures = n,
                        "OTLP gauges: export failed; the next interval sends fresh values (logged at most once a minute)"
                    );
                }
            }
        }
        std::future::ready(result)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// The gauges follow the pipeline's scores.
impl Observer for SignalGauges {
    fn scored(
        &self,
        sample: &Sample,
        score: Option<f64>,
        _anomalous: bool,
        _stage: seismo_detectors::Stage,
    ) {
        self.record(&sample.signal, sample.value, score);
    }

    fn forget(&self, signal: &str) {
        SignalGauges::forget(self, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_e2e::otlp_receiver::{OtlpReceiver, ReceivedGauge, Transport};
    use seismo_e2e::tls_certs::{make_ca, make_server_cert};

    fn config(extra: &str) -> OtlpSinkConfig {
        seismo_config::parse(
            &format!("[sinks.otlp]\nenabled = true\nmetrics = true\n{extra}"),
            "t",
        )
        .unwrap()
        .sinks
        .otlp
    }

    /// The latest point of gauge `name` for `signal` in the last request that has one.
    fn latest<'a>(
        points: &'a [ReceivedGauge],
        name: &str,
        signal: &str,
    ) -> Option<&'a ReceivedGauge> {
        points.iter().rev().find(|p| {
            p.name == name && p.attributes.get(SIGNAL_ATTRIBUTE).map(String::as_str) == Some(signal)
        })
    }

    /// Exports two signals over `cfg` and checks what the receiver got, field by field.
    /// The agent's kind of runtime (multi-thread); the test thread itself is not one of its
    /// workers, so it may block on the receiver.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn exports_values_and_scores(
        cfg: OtlpSinkConfig,
        receiver: &OtlpReceiver,
        transport: Transport,
    ) {
        let rt = runtime();
        let _entered = rt.enter();
        let stats = Arc::new(Stats::default());
        let gauges = Arc::new(SignalGauges::new(10, Arc::clone(&stats)));
        gauges.record(&Arc::from("host.cpu.utilization"), 0.25, Some(0.125));
        gauges.record(&Arc::from("log.app.errors_per_s"), 42.0, None);
        gauges.record(&Arc::from("nan.signal"), f64::NAN, Some(0.5));
        let export = GaugeExport::start(
            &cfg,
            "gauge-host",
            Duration::from_millis(200),
            Arc::clone(&gauges),
            Arc::clone(&stats),
        )
        .unwrap();
        let points = receiver
            .wait_gauges(Duration::from_secs(20), |p| {
                latest(p, VALUE_GAUGE, "log.app.errors_per_s").is_some()
                    && latest(p, SCORE_GAUGE, "host.cpu.utilization").is_some()
            })
            .unwrap_or_else(|p| panic!("gauges did not arrive: {p:#?}"));
        let cpu = latest(&points, VALUE_GAUGE, "host.cpu.utilization").unwrap();
        assert_eq!(cpu.value, 0.25);
        assert_eq!(cpu.transport, transport);
        assert_eq!(cpu.scope, "seismo");
        assert_eq!(
            cpu.resource.get("service.name").map(String::as_str),
            Some("seismo")
        );
        assert_eq!(
            cpu.resource.get("host.name").map(String::as_str),
            Some("gauge-host")
        );
        assert_eq!(
            cpu.resource.get("service.version").map(String::as_str),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(cpu.attributes.len(), 1, "{:?}", cpu.attributes);
        assert_eq!(
            latest(&points, SCORE_GAUGE, "host.cpu.utilization")
                .unwrap()
                .value,
            0.125
        );
        assert_eq!(
            latest(&points, VALUE_GAUGE, "log.app.errors_per_s")
                .unwrap()
                .value,
            42.0
        );
        // No score while warming up, nothing for a non-finite value.
        assert!(latest(&points, SCORE_GAUGE, "log.app.errors_per_s").is_none());
        assert!(points
            .iter()
            .all(|p| p.attributes.get(SIGNAL_ATTRIBUTE).map(String::as_str) != Some("nan.signal")));

        // A new value is exported at the next interval; a forgotten signal's series ends.
        gauges.forget("log.app.errors_per_s");
        gauges.record(&Arc::from("host.cpu.utilization"), 0.75, Some(0.875));
        let before = points.len();
        let points = receiver
            .wait_gauges(Duration::from_secs(20), |p| {
                p.len() > before
                    && latest(p, VALUE_GAUGE, "host.cpu.utilization")
                        .is_some_and(|g| g.value == 0.75)
            })
            .unwrap_or_else(|p| panic!("the new value did not arrive: {p:#?}"));
        let last_time = latest(&points, VALUE_GAUGE, "host.cpu.utilization")
            .unwrap()
            .time_unix_nano;
        assert!(
            points
                .iter()
                .filter(|p| p.time_unix_nano >= last_time)
                .all(|p| p.attributes.get(SIGNAL_ATTRIBUTE).map(String::as_str)
                    != Some("log.app.errors_per_s")),
            "a forgotten signal is still exported"
        );
        assert_eq!(
            latest(&points, SCORE_GAUGE, "host.cpu.utilization")
                .unwrap()
                .value,
            0.875
        );
        export.shutdown();
        assert!(Stats::get(&stats.otlp_metric_exports) >= 2);
        assert_eq!(Stats::get(&stats.otlp_metric_export_failures), 0);
    }

    #[test]
    fn gauges_arrive_over_grpc_with_gzip() {
        let receiver = OtlpReceiver::start();
        let cfg = config(&format!(
            "endpoint = \"{}\"\ncompression = \"gzip\"\n",
            receiver.grpc_endpoint()
        ));
        exports_values_and_scores(cfg, &receiver, Transport::Grpc);
    }

    #[test]
    fn gauges_arrive_over_http_protobuf() {
        let receiver = OtlpReceiver::start();
        let cfg = config(&format!(
            "protocol = \"http\"\nendpoint = \"{}\"\nheaders = {{ \"x-api-key\" = \"k\" }}\n",
            receiver.http_endpoint()
        ));
        exports_values_and_scores(cfg, &receiver, Transport::Http);
    }

    #[test]
    fn gauges_arrive_over_https_with_a_ca_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_ca(dir.path(), "ca");
        let server = make_server_cert(dir.path(), &ca, "server");
        let receiver = OtlpReceiver::start_tls(&server.0, &server.1);
        let cfg = config(&format!(
            "protocol = \"http\"\nendpoint = \"{}\"\n[sinks.otlp.tls]\nca_file = \"{}\"\n",
            receiver.http_endpoint(),
            ca.0.display()
        ));
        exports_values_and_scores(cfg, &receiver, Transport::Http);
    }

    #[test]
    fn signals_past_the_bound_are_left_out_and_counted() {
        let stats = Arc::new(Stats::default());
        let gauges = SignalGauges::new(3, Arc::clone(&stats));
        for i in 0..5 {
            gauges.record(&Arc::from(format!("s{i}")), i as f64, Some(0.0));
        }
        // A known signal still updates at the bound.
        gauges.record(&Arc::from("s0"), 9.0, Some(0.5));
        let mut snap: Vec<(String, f64)> = gauges
            .snapshot()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.value))
            .collect();
        snap.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            snap,
            [("s0".into(), 9.0), ("s1".into(), 1.0), ("s2".into(), 2.0)]
        );
        assert_eq!(Stats::get(&stats.otlp_metric_series_refused), 2);
        // Forgetting one makes room.
        gauges.forget("s1");
        gauges.record(&Arc::from("s4"), 4.0, None);
        assert_eq!(gauges.snapshot().len(), 3);
    }

    #[test]
    fn an_unreachable_collector_is_counted_and_does_not_stop_the_export() {
        let stats = Arc::new(Stats::default());
        let gauges = Arc::new(SignalGauges::new(10, Arc::clone(&stats)));
        gauges.record(&Arc::from("a"), 1.0, Some(0.1));
        let cfg =
            config("protocol = \"http\"\nendpoint = \"http://127.0.0.1:9\"\ntimeout = \"500ms\"\n");
        let rt = runtime();
        let _entered = rt.enter();
        let export = GaugeExport::start(
            &cfg,
            "h",
            Duration::from_millis(100),
            gauges,
            Arc::clone(&stats),
        )
        .unwrap();
        for _ in 0..200 {
            if Stats::get(&stats.otlp_metric_export_failures) >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(Stats::get(&stats.otlp_metric_export_failures) >= 2);
        export.shutdown();
    }
}
