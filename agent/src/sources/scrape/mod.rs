//! The Prometheus scrape source: each `[[sources.scrape]]` target is fetched every interval
//! (text exposition format 0.0.4; OpenMetrics text is read too) and its series become
//! `scrape.{name}.…` signals (see [`series`]), plus `scrape.{name}.up` (1 or 0). The body is
//! read here ([`line`], [`labels`]): a series seen in an earlier scrape is found by its text,
//! without reading its labels again or allocating.
//!
//! Malformed lines (a bad name, an unclosed label set, a value that is not a number, a label
//! given twice) are skipped and counted (`seismo_scrape_lines_invalid_total`), and the first
//! one of a body is logged (rate-limited) with what is wrong with it.
//!
//! A target that hangs, refuses, answers an error status, garbage or a body past
//! `max_body_bytes` only costs its own task one `timeout`: the failure is counted by reason
//! (`seismo_scrape_errors_total`), logged rate-limited, `up` is 0, and the next interval tries
//! again. Each target runs in its own task, so none delays another or the rest of the agent.

mod error;
mod histogram;
mod labels;
mod line;
mod names;
mod refused;
pub mod series;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT};
use seismo_config::ScrapeSourceConfig;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::event::Sample;
use crate::sources::queue::SampleSender;
use crate::sources::tasks::SourceTasks;
use crate::telemetry::stats::{LogLimiter, Stats};
pub use error::ScrapeError;
use refused::{RefusedLog, Report};
use series::{Dropped, Read, Series};

/// Tells the tasks of one target apart across reloads (see `RefusedBoard`).
static RUNS: AtomicU64 = AtomicU64::new(0);

/// One target's HTTP client and request settings.
struct Fetcher {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    timeout: Duration,
    max_body: usize,
}

impl Fetcher {
    fn new(cfg: &ScrapeSourceConfig) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        // Ask for the text format (not protobuf or OpenMetrics).
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("text/plain;version=0.0.4;q=1,*/*;q=0.1"),
        );
        for (name, value) in &cfg.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| anyhow::anyhow!("header `{name}`: {e}"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|e| anyhow::anyhow!("the value of header `{name}`: {e}"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        // reqwest is built without a default crypto provider; use ring, as the rest of the
        // agent does. Installing fails harmlessly when it is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = cfg.timeout();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            url: cfg.url.clone(),
            headers,
            timeout,
            max_body: cfg.max_body_bytes,
        })
    }

    /// The body of one scrape, within the timeout and the size bound.
    async fn fetch(&self) -> Result<Vec<u8>, ScrapeError> {
        match tokio::time::timeout(self.timeout, self.fetch_inner()).await {
            Ok(r) => r,
            Err(_) => Err(ScrapeError::Timeout(self.timeout)),
        }
    }

    async fn fetch_inner(&self) -> Result<Vec<u8>, ScrapeError> {
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                ScrapeError::Timeout(self.timeout)
            } else if e.is_connect() {
                ScrapeError::Connect(chain(&e))
            } else {
                ScrapeError::Other(chain(&e))
            }
        };
        let mut response = self
            .client
            .get(&self.url)
            .headers(self.headers.clone())
            .send()
            .await
            .map_err(classify)?;
        if !response.status().is_success() {
            return Err(ScrapeError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(ScrapeError::TooLarge(self.max_body));
        }
        // Room for the announced length at once (within the bound): no copies while it grows.
        let announced = response.content_length().unwrap_or(0) as usize;
        let mut body = Vec::with_capacity(announced.min(self.max_body));
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(ScrapeError::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// An error with its sources, for the log.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One target: fetched every interval until `cancel`.
async fn run(
    cfg: ScrapeSourceConfig,
    fetcher: Fetcher,
    tx: SampleSender,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut series = Series::new(&cfg.name, cfg.max_series, cfg.series_filter());
    let run_id = RUNS.fetch_add(1, Ordering::Relaxed);
    let up: Arc<str> = format!("scrape.{}.up", cfg.name).into();
    let mut ticker = tokio::time::interval(cfg.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut errors_log = LogLimiter::new(Duration::from_secs(300));
    let mut refused_log = RefusedLog::new(Duration::from_secs(3600));
    let mut invalid_log = LogLimiter::new(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let ts_ms = now_ms();
        let fetched = tokio::select! {
            _ = cancel.cancelled() => break,
            r = fetcher.fetch() => r,
        };
        // Parsing a large body is CPU work, kept off the async workers.
        let outcome = match fetched {
            Ok(body) => {
                let step = tokio::task::spawn_blocking(move || {
                    let mut dropped = Dropped::default();
                    let r = series.read(&body, ts_ms, &mut dropped);
                    (series, r, dropped)
                })
                .await;
                match step {
                    Ok((back, r, dropped)) => {
                        series = back;
                        if dropped.limit > 0 {
                            stats.scrape_series_dropped.add("limit", dropped.limit);
                        }
                        let top = dropped.refused.top();
                        match refused_log.observe(&top) {
                            Some(Report::Refused) => tracing::warn!(
                                scrape = %cfg.name,
                                refused = dropped.limit,
                                max_series = cfg.max_series,
                                families = %refused::describe(&top),
                                "the target exposes more series than max_series: new series are refused, by metric family as listed (seismo_scrape_series_refused); raise max_series or leave series out with exclude"
                            ),
                            Some(Report::Cleared) => tracing::info!(
                                scrape = %cfg.name,
                                "the target's series fit in max_series again: none is refused"
                            ),
                            None => {}
                        }
                        stats.scrape_series_refused.set(&cfg.name, run_id, top);
                        if dropped.excluded > 0 {
                            stats
                                .scrape_series_dropped
                                .add("excluded", dropped.excluded);
                        }
                        if dropped.duplicate > 0 {
                            stats
                                .scrape_series_dropped
                                .add("duplicate", dropped.duplicate);
                        }
                        r
                    }
                    Err(e) => {
                        tracing::error!(scrape = %cfg.name, error = %e, "the scrape parser failed; this target stops");
                        break;
                    }
                }
            }
            Err(e) => Err(e),
        };
        let (mut batch, up_value) = match outcome {
            Ok(Read {
                samples,
                invalid_lines,
                first_invalid,
            }) => {
                Stats::add(&stats.scrapes_ok, 1);
                Stats::add(&stats.scrape_lines_invalid, invalid_lines);
                if let Some((line, reason)) = first_invalid {
                    if let Some(n) = invalid_log.hit() {
                        tracing::warn!(scrape = %cfg.name, invalid_lines, line, bodies = n, "lines of the body are not exposition text: skipped and counted (seismo_scrape_lines_invalid_total); the first, line {line}: {reason}");
                    }
                }
                (samples, 1.0)
            }
            Err(e) => {
                stats.scrape_errors.add(e.reason(), 1);
                if let Some(n) = errors_log.hit() {
                    tracing::warn!(scrape = %cfg.name, url = %cfg.url, reason = e.reason(), failures = n, "scrape failed: {e}; retrying every interval");
                }
                (Vec::new(), 0.0)
            }
        };
        batch.push(Sample {
            signal: Arc::clone(&up),
            ts_ms,
            value: up_value,
        });
        if tx.send(Arc::new(batch)).is_err() {
            break;
        }
    }
    stats.scrape_series_refused.clear(&cfg.name, run_id);
}

/// Starts or reconciles the scrape targets, one task each (see [`SourceTasks::reconcile`]).
/// A target whose HTTP client cannot be built is logged and left out.
pub fn reconcile(
    tasks: &mut SourceTasks<ScrapeSourceConfig>,
    configs: &[ScrapeSourceConfig],
    tx: &SampleSender,
    stats: &Arc<Stats>,
    parent: &CancellationToken,
) {
    tasks.reconcile(configs, parent, |cfg, cancel| {
        let cfg = cfg.clone();
        let (tx, stats) = (tx.clone(), Arc::clone(stats));
        tokio::spawn(async move {
            match Fetcher::new(&cfg) {
                Ok(fetcher) => run(cfg, fetcher, tx, stats, cancel).await,
                Err(e) => {
                    tracing::error!(scrape = %cfg.name, error = %e, "cannot set up the scrape target; it is not scraped")
                }
            }
        })
    });
}
