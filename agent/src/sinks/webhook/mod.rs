//! The webhook sink: events POSTed over HTTP(S) to incident tools, in one of three body
//! formats (one module each), from the webhook's own durable outbox by the shared delivery loop.
//!
//! Outcomes: 2xx acknowledges what the request carried; 408, 429, 5xx and transport errors
//! (refused connection, timeout, TLS) are transient and retried with backoff; any other status
//! refuses the request's events for good (dropped and counted). When a peer refuses a request
//! of several events, they are sent again one by one, so one event it cannot take does not
//! take the others down with it.
//!
//! Each format maps one kind of event with one function (`alert` today); an incident or hook
//! event is one more function per format and one more arm in its `item`.

pub mod alertmanager;
pub mod json;
pub mod pagerduty;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use seismo_config::{WebhookFormat, WebhookSinkConfig};

use crate::sinks::deliver::{Delivery, DeliveryError};
use crate::sinks::error_chain::error_chain;
use crate::sinks::otlp::record::WireAlert;
use crate::sinks::outbox::Record;
use crate::sinks::EventKind;

/// Why a webhook cannot be set up (reported at start-up, exit code 2 territory).
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    #[error("[[sinks.webhook]] `{webhook}`: cannot read {}: {source}", path.display())]
    Read {
        webhook: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("[[sinks.webhook]] `{webhook}`: the environment variable {var} ({what}) is not set")]
    Env {
        webhook: String,
        var: String,
        what: String,
    },
    #[error("[[sinks.webhook]] `{webhook}`: {message}")]
    Invalid { webhook: String, message: String },
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PostError {
    /// Worth another try later.
    Transient(String),
    /// The peer refused the body for good.
    Rejected(String),
}

/// The HTTP side every format shares: one client (connection pool), the URL and the headers.
pub(crate) struct Http {
    client: reqwest::Client,
    endpoint: String,
    headers: HeaderMap,
}

impl Http {
    /// POSTs `body` as JSON; `Ok` only on a 2xx answer.
    pub(crate) async fn post(&self, body: Vec<u8>) -> Result<(), PostError> {
        let response = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| PostError::Transient(format!("{}: {}", self.endpoint, error_chain(&e))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The peer's explanation helps an operator; keep it short.
        let text = response.text().await.unwrap_or_default();
        let text: String = text.chars().take(300).collect();
        let message = format!("{} answered {status}: {}", self.endpoint, text.trim());
        Err(classify(status.as_u16(), message))
    }
}

/// Sorts an HTTP status that is not 2xx.
pub(crate) fn classify(status: u16, message: String) -> PostError {
    match status {
        408 | 429 | 500..=599 => PostError::Transient(message),
        400..=499 => PostError::Rejected(message),
        // 1xx/3xx left over after reqwest followed redirects: a misconfigured URL an operator
        // can fix; keep the events.
        _ => PostError::Transient(message),
    }
}

/// The body format and what it keeps between requests.
enum Format {
    Json,
    Alertmanager(alertmanager::Alertmanager),
    PagerDuty(pagerduty::PagerDuty),
}

/// One `[[sinks.webhook]]`.
pub struct WebhookSink {
    http: Http,
    format: Format,
}

impl WebhookSink {
    /// Resolves the secrets (header values and routing key from files or the environment),
    /// loads the CA file and builds the client. Does not connect.
    pub fn new(cfg: &WebhookSinkConfig) -> Result<Self, WebhookSetupError> {
        let webhook = cfg.name.clone();
        let invalid = |message: String| WebhookSetupError::Invalid {
            webhook: webhook.clone(),
            message,
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("seismo/", env!("CARGO_PKG_VERSION"))),
        );
        let mut extra: Vec<(String, String)> = cfg
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (header, var) in &cfg.headers_env {
            let value = std::env::var(var).map_err(|_| WebhookSetupError::Env {
                webhook: webhook.clone(),
                var: var.clone(),
                what: format!("value of header {header}"),
            })?;
            extra.push((header.clone(), value));
        }
        for (header, path) in &cfg.headers_file {
            extra.push((header.clone(), read_secret(&webhook, path)?));
        }
        for (header, value) in extra {
            let name = HeaderName::from_bytes(header.as_bytes())
                .map_err(|e| invalid(format!("header name `{header}`: {e}")))?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                invalid(format!(
                    "the value of header `{header}` has characters that cannot be sent: use printable ASCII"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }

        // reqwest is built without a default crypto provider; use ring, as the rest of the
        // agent does. Installing fails harmlessly when it is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(60));
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|source| WebhookSetupError::Read {
                webhook: webhook.clone(),
                path: ca.clone(),
                source,
            })?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid(format!(
                    "{} holds no PEM CERTIFICATE block: name the PEM file of the CA that signs the server's certificate",
                    ca.display()
                )));
            }
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| invalid(format!("{}: {}", ca.display(), error_chain(&e))))?;
            builder = builder.tls_certs_only(certs);
        }
        let client = builder
            .build()
            .map_err(|e| invalid(format!("cannot build the HTTP client: {}", error_chain(&e))))?;

        let format = match cfg.format {
            WebhookFormat::Json => Format::Json,
            WebhookFormat::Alertmanager => Format::Alertmanager(alertmanager::Alertmanager::new(
                cfg.repeat_interval(),
                cfg.generator_url.clone(),
            )),
            WebhookFormat::Pagerduty => {
                let key = if let Some(k) = &cfg.routing_key {
                    k.clone()
                } else if let Some(path) = &cfg.routing_key_file {
                    read_secret(&webhook, path)?
                } else if let Some(var) = &cfg.routing_key_env {
                    std::env::var(var).map_err(|_| WebhookSetupError::Env {
                        webhook: webhook.clone(),
                        var: var.clone(),
                        what: "routing key".into(),
                    })?
                } else {
                    return Err(invalid("no routing key".into()));
                };
                if key.trim().is_empty() {
                    return Err(invalid("the routing key is empty".into()));
                }
                Format::PagerDuty(pagerduty::PagerDuty::new(key))
            }
        };
        Ok(Self {
            http: Http {
                client,
                endpoint: cfg.endpoint(),
                headers,
            },
            format,
        })
    }

    /// Where the requests go (for logs).
    pub fn endpoint(&self) -> &str {
        &self.http.endpoint
    }

    /// The event kinds its format maps: JSON carries every kind, the incident tools' formats
    /// alerts only.
    pub fn event_kinds(&self) -> &'static [EventKind] {
        match self.format {
            Format::Json => EventKind::ALL,
            Format::Alertmanager(_) | Format::PagerDuty(_) => EventKind::ALERTS,
        }
    }
}

/// A secret from a file, without the trailing newline of `echo secret > file`.
fn read_secret(webhook: &str, path: &Path) -> Result<String, WebhookSetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebhookSetupError::Read {
        webhook: webhook.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// An outbox record as an alert, or why it cannot be one.
pub(crate) fn decode_alert(r: &Record) -> Result<WireAlert, String> {
    match EventKind::from_tag(r.kind) {
        Some(EventKind::Alert) => WireAlert::decode(&r.payload),
        _ => Err(format!(
            "record kind {} is not an alert; this webhook format maps alerts only",
            r.kind
        )),
    }
}

/// Maps the leading run of records that `item` accepts. A record it refuses is refused alone
/// when it reaches the head of the queue, so it never holds the queue up.
pub(crate) fn leading<T>(
    batch: &[Record],
    mut item: impl FnMut(&Record) -> Result<T, String>,
) -> Result<Vec<T>, DeliveryError> {
    let mut out = Vec::with_capacity(batch.len());
    for r in batch {
        match item(r) {
            Ok(t) => out.push(t),
            Err(e) if out.is_empty() => {
                return Err(DeliveryError::Rejected {
                    count: 1,
                    message: format!("outbox record {} cannot be sent: {e}", r.seq),
                })
            }
            Err(_) => break,
        }
    }
    Ok(out)
}

/// POSTs `items` as one request with the body `encode` makes; when the peer refuses them
/// together, sends them one by one. `Ok(n)`: the first `n` were accepted.
pub(crate) async fn post_batch<T>(
    http: &Http,
    items: &[T],
    encode: impl Fn(&[T]) -> Vec<u8>,
) -> Result<usize, DeliveryError> {
    match http.post(encode(items)).await {
        Ok(()) => Ok(items.len()),
        Err(PostError::Transient(m)) => Err(DeliveryError::Transient(m)),
        Err(PostError::Rejected(m)) if items.len() == 1 => Err(DeliveryError::Rejected {
            count: 1,
            message: m,
        }),
        Err(PostError::Rejected(_)) => {
            for (i, item) in items.iter().enumerate() {
                match http.post(encode(std::slice::from_ref(item))).await {
                    Ok(()) => {}
                    // Acknowledge what went through; the refused one comes first next time.
                    Err(_) if i > 0 => return Ok(i),
                    Err(PostError::Rejected(m)) => {
                        return Err(DeliveryError::Rejected {
                            count: 1,
                            message: m,
                        })
                    }
                    Err(PostError::Transient(m)) => return Err(DeliveryError::Transient(m)),
                }
            }
            Ok(items.len())
        }
    }
}

impl Delivery for WebhookSink {
    async fn deliver(&mut self, batch: &[Record]) -> Result<usize, DeliveryError> {
        match &mut self.format {
            Format::Json => {
                let items = leading(batch, json::item)?;
                post_batch(&self.http, &items, json::body).await
            }
            Format::Alertmanager(am) => am.deliver(&self.http, batch).await,
            Format::PagerDuty(pd) => pd.deliver(&self.http, batch).await,
        }
    }

    async fn idle(&mut self) -> Result<(), DeliveryError> {
        match &mut self.format {
            Format::Alertmanager(am) => am.idle(&self.http).await,
            _ => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        for (status, transient) in [
            (408, true),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (400, false),
            (401, false),
            (404, false),
            (413, false),
            (422, false),
            (302, true),
        ] {
            let got = classify(status, String::new());
            assert_eq!(
                matches!(got, PostError::Transient(_)),
                transient,
                "{status}"
            );
        }
    }

    fn cfg(text: &str) -> WebhookSinkConfig {
        seismo_config::parse(text, "t")
            .unwrap()
            .sinks
            .webhook
            .remove(0)
    }

    #[test]
    fn secrets_come_from_files_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "R0UT1NG\n").unwrap();
        let c = cfg(&format!(
            "[[sinks.webhook]]\nname = \"pd\"\nformat = \"pagerduty\"\nrouting_key_file = \"{}\"\nheaders_file = {{ \"X-Token\" = \"{}\" }}\n",
            key.display(),
            key.display()
        ));
        let s = WebhookSink::new(&c).unwrap();
        assert_eq!(s.http.headers["x-token"], "R0UT1NG");
        match &s.format {
            Format::PagerDuty(pd) => assert_eq!(pd.routing_key(), "R0UT1NG"),
            _ => panic!("not pagerduty"),
        }
        let c = cfg("[[sinks.webhook]]\nname = \"j\"\nurl = \"http://127.0.0.1:1\"\nheaders_env = { Authorization = \"SEISMO_TEST_SURELY_UNSET_VAR\" }\n");
        let e = WebhookSink::new(&c).err().unwrap().to_string();
        assert!(
            e.contains("SEISMO_TEST_SURELY_UNSET_VAR") && e.contains("authorization"),
            "{e}"
        );
        let c = cfg(&format!(
            "[[sinks.webhook]]\nname = \"pd\"\nformat = \"pagerduty\"\nrouting_key_file = \"{}/missing\"\n",
            dir.path().display()
        ));
        let e = WebhookSink::new(&c).err().unwrap().to_string();
        assert!(e.contains("cannot read") && e.contains("missing"), "{e}");
    }

    #[test]
    fn a_bogus_ca_file_is_refused_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let c = cfg(&format!(
            "[[sinks.webhook]]\nname = \"j\"\nurl = \"https://127.0.0.1:1\"\nca_file = \"{}\"\n",
            ca.display()
        ));
        let e = WebhookSink::new(&c).err().unwrap().to_string();
        assert!(e.contains("no PEM CERTIFICATE"), "{e}");
    }

    #[tokio::test]
    async fn an_unreachable_peer_is_transient_and_an_undecodable_record_is_refused_alone() {
        let c = cfg("[[sinks.webhook]]\nname = \"am\"\nformat = \"alertmanager\"\nurl = \"http://127.0.0.1:9\"\ntimeout = \"2s\"\n");
        let mut s = WebhookSink::new(&c).unwrap();
        let bad = Record {
            seq: 3,
            time_ms: 0,
            kind: EventKind::Alert as u8,
            payload: b"{\"not\": \"an alert\"}".to_vec(),
        };
        match s.deliver(std::slice::from_ref(&bad)).await {
            Err(DeliveryError::Rejected { count: 1, message }) => {
                assert!(message.contains("outbox record 3"), "{message}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let good = Record {
            payload: alertmanager::tests::ALERT.as_bytes().to_vec(),
            ..bad
        };
        match s.deliver(&[good]).await {
            Err(DeliveryError::Transient(m)) => assert!(m.contains("127.0.0.1:9"), "{m}"),
            other => panic!("expected a transient failure, got {other:?}"),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn alert_record(seq: u64, state: &str) -> Record {
        let payload = alertmanager::tests::ALERT.replace("\"firing\"", &format!("\"{state}\""));
        Record {
            seq,
            time_ms: 0,
            kind: EventKind::Alert as u8,
            payload: payload.into_bytes(),
        }
    }

    #[test]
    fn alertmanager_reposts_firing_alerts_until_they_resolve() {
        let am = seismo_e2e::http_receiver::HttpReceiver::start();
        block_on(async {
            let c = cfg(&format!(
                "[[sinks.webhook]]\nname = \"am\"\nformat = \"alertmanager\"\nurl = \"{}\"\nrepeat_interval = \"1s\"\n",
                am.url()
            ));
            let mut s = WebhookSink::new(&c).unwrap();
            assert_eq!(s.deliver(&[alert_record(1, "firing")]).await.unwrap(), 1);
            let Format::Alertmanager(state) = &s.format else {
                panic!("not alertmanager")
            };
            assert_eq!(state.firing_ids(), ["host.cpu.utilization@1764097262123"]);
            // Nothing queued: the idle task posts the firing alert again after the interval.
            tokio::time::timeout(Duration::from_secs(10), s.idle())
                .await
                .expect("a re-post within the interval")
                .unwrap();
            let requests = am.requests();
            assert_eq!(requests.len(), 2);
            let first = requests[0].json();
            let again = requests[1].json();
            assert_eq!(requests[1].path, "/api/v2/alerts");
            assert_eq!(again[0]["labels"], first[0]["labels"]);
            assert!(again[0]["endsAt"].as_str() >= first[0]["endsAt"].as_str());
            // Resolved: posted with its resolve time, and no longer re-posted.
            assert_eq!(s.deliver(&[alert_record(2, "resolved")]).await.unwrap(), 1);
            assert_eq!(
                am.requests()[2].json()[0]["endsAt"],
                "2025-11-25T19:01:02.123Z"
            );
            let Format::Alertmanager(state) = &s.format else {
                panic!("not alertmanager")
            };
            assert!(state.firing_ids().is_empty());
            assert!(tokio::time::timeout(Duration::from_millis(1500), s.idle())
                .await
                .is_err());
            assert_eq!(am.requests().len(), 3);
        });
    }

    #[test]
    fn an_escalated_alert_is_resolved_under_every_label_set_it_was_posted_with() {
        let am = seismo_e2e::http_receiver::HttpReceiver::start();
        let c = cfg(&format!(
            "[[sinks.webhook]]\nname = \"am\"\nformat = \"alertmanager\"\nurl = \"{}\"\n",
            am.url()
        ));
        let warning = |mut r: Record| {
            r.payload = String::from_utf8(r.payload)
                .unwrap()
                .replace("\"critical\"", "\"warning\"")
                .into_bytes();
            r
        };
        block_on(async {
            let mut s = WebhookSink::new(&c).unwrap();
            // Fires as a warning (delivered alone), escalates, resolves (delivered together).
            assert_eq!(
                s.deliver(&[warning(alert_record(1, "firing"))])
                    .await
                    .unwrap(),
                1
            );
            let rest = [alert_record(2, "firing"), alert_record(3, "resolved")];
            assert_eq!(s.deliver(&rest).await.unwrap(), 2);
        });
        // The last post of every label set ends in the past: nothing lingers.
        let mut last = std::collections::BTreeMap::new();
        for r in am.requests() {
            for a in r.json().as_array().unwrap() {
                last.insert(
                    a["labels"].to_string(),
                    a["endsAt"].as_str().unwrap().to_owned(),
                );
            }
        }
        assert_eq!(last.len(), 2, "{last:?}");
        for ends in last.values() {
            assert_eq!(ends, "2025-11-25T19:01:02.123Z", "{last:?}");
        }
    }

    #[test]
    fn a_refused_batch_is_retried_one_by_one_and_the_refused_event_alone_is_dropped() {
        let hook = seismo_e2e::http_receiver::HttpReceiver::start();
        block_on(async {
            let c = cfg(&format!(
                "[[sinks.webhook]]\nname = \"j\"\nurl = \"{}\"\n",
                hook.url()
            ));
            let mut s = WebhookSink::new(&c).unwrap();
            let batch = [alert_record(1, "firing"), alert_record(2, "resolved")];
            hook.script(&[400, 400]);
            match s.deliver(&batch).await {
                Err(DeliveryError::Rejected { count: 1, message }) => {
                    assert!(message.contains("400"), "{message}")
                }
                other => panic!("expected a refusal of one, got {other:?}"),
            }
            // The batch, then the first alone.
            assert_eq!(hook.requests().len(), 2);
            assert_eq!(hook.requests()[1].json().as_array().unwrap().len(), 1);
            assert_eq!(s.deliver(&batch[1..]).await.unwrap(), 1);
            // 429 and 5xx are transient.
            hook.script(&[429]);
            assert!(matches!(
                s.deliver(&batch).await,
                Err(DeliveryError::Transient(_))
            ));
        });
    }

    #[test]
    fn pagerduty_sends_one_event_per_request_and_acknowledges_what_went_through() {
        let pd = seismo_e2e::http_receiver::HttpReceiver::start();
        block_on(async {
            let c = cfg(&format!(
                "[[sinks.webhook]]\nname = \"pd\"\nformat = \"pagerduty\"\nurl = \"{}/v2/enqueue\"\nrouting_key = \"k\"\n",
                pd.url()
            ));
            let mut s = WebhookSink::new(&c).unwrap();
            let batch = [alert_record(1, "firing"), alert_record(2, "resolved")];
            // The second request fails: the first event is acknowledged alone.
            pd.script(&[202, 500]);
            assert_eq!(s.deliver(&batch).await.unwrap(), 1);
            assert_eq!(s.deliver(&batch[1..]).await.unwrap(), 1);
            let actions: Vec<_> = pd
                .requests()
                .iter()
                .map(|r| r.json()["event_action"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(actions, ["trigger", "resolve", "resolve"]);
        });
    }
}
