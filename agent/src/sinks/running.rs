//! The running sinks' tasks, by name: every sink (stdout, MQTT, OTLP, each webhook) is started
//! here at start-up and by a reload, restarted when a reload changes its settings, stopped when
//! a reload removes it, and joined here at shutdown.
//!
//! Starting is split in two so that a reload changes nothing when any sink cannot be set up:
//! [`RunningSinks::prepare`] does everything that can fail (passwords, TLS files, exporters,
//! opening the outbox), [`RunningSinks::start`] only spawns. An outbox is opened once per run and
//! kept while its sink is off, so a sink switched off and on again by reloads finds what it had
//! queued, and two delivery tasks never read one outbox.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use seismo_config::{Config, MqttSinkConfig, OtlpSinkConfig, StdoutSinkConfig, WebhookSinkConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::deliver::{self, Delivery};
use super::mqtt::{MqttSettings, MqttSink};
use super::otlp::transport::LogsTransport;
use super::otlp::OtlpSink;
use super::webhook::WebhookSink;
use super::{EventKind, SINK_QUEUE};
use crate::backoff::Backoff;
use crate::event::Event;
use crate::sinks::outbox::Outbox;
use crate::telemetry::stats::Stats;

/// The settings of one enabled sink: what starts it, and what a reload compares.
#[derive(Debug, PartialEq)]
pub(crate) enum SinkConfig<'a> {
    Stdout(&'a StdoutSinkConfig),
    Mqtt(&'a MqttSinkConfig),
    Otlp(&'a OtlpSinkConfig),
    Webhook(&'a WebhookSinkConfig),
}

/// Every sink `config` enables, by name, in the order they start: `stdout`, `mqtt`, `otlp`,
/// then each `[[sinks.webhook]]` under the name of its outbox (`webhook-{name}`).
pub(crate) fn configured(config: &Config) -> Vec<(String, SinkConfig<'_>)> {
    let sinks = &config.sinks;
    let mut out = Vec::new();
    if sinks.stdout.enabled {
        out.push(("stdout".to_owned(), SinkConfig::Stdout(&sinks.stdout)));
    }
    if sinks.mqtt.enabled {
        out.push(("mqtt".to_owned(), SinkConfig::Mqtt(&sinks.mqtt)));
    }
    if sinks.otlp.enabled {
        out.push(("otlp".to_owned(), SinkConfig::Otlp(&sinks.otlp)));
    }
    for w in &sinks.webhook {
        out.push((w.outbox_name(), SinkConfig::Webhook(w)));
    }
    out
}

/// What the pipeline holds of a started sink (see `Sinks::attach`).
pub(crate) enum SinkHandle {
    Channel(String, mpsc::Sender<Arc<Event>>),
    /// An outbox-backed sink and the event kinds it exports.
    Outbox(Arc<Outbox>, &'static [EventKind]),
}

/// A sink whose set-up succeeded, ready to start.
pub(crate) enum PreparedSink {
    Stdout,
    Mqtt(Box<MqttSettings>, Backoff, Arc<Outbox>),
    Otlp(Box<LogsTransport>, Backoff, Arc<Outbox>),
    Webhook(Box<WebhookSink>, Backoff, Arc<Outbox>),
}

struct SinkTask {
    /// Ends an outbox-backed sink at once (no drain); `None` for channel sinks, which end
    /// when the pipeline drops their sender.
    restart: Option<CancellationToken>,
    handle: JoinHandle<()>,
}

pub(crate) struct RunningSinks {
    state_dir: PathBuf,
    host: Arc<str>,
    stats: Arc<Stats>,
    /// Cancelled after the pipeline has stopped: outbox-backed sinks drain, then end.
    stop: CancellationToken,
    tasks: BTreeMap<String, SinkTask>,
    outboxes: HashMap<String, Arc<Outbox>>,
}

impl RunningSinks {
    pub(crate) fn new(state_dir: PathBuf, host: Arc<str>, stats: Arc<Stats>) -> Self {
        Self {
            state_dir,
            host,
            stats,
            stop: CancellationToken::new(),
            tasks: BTreeMap::new(),
            outboxes: HashMap::new(),
        }
    }

    /// Sets sink `name` up with its settings `sink` (one of [`configured`]). Must run inside
    /// the runtime (the OTLP exporter needs it).
    pub(crate) fn prepare(&self, name: &str, sink: &SinkConfig) -> anyhow::Result<PreparedSink> {
        Ok(match sink {
            SinkConfig::Stdout(_) => PreparedSink::Stdout,
            SinkConfig::Mqtt(cfg) => {
                let settings = MqttSettings::resolve(cfg, &self.host)
                    .context("cannot set up the MQTT sink")?;
                let outbox = self
                    .outbox(name, cfg.outbox_max_bytes)
                    .context("cannot open the MQTT sink's outbox")?;
                PreparedSink::Mqtt(
                    Box::new(settings),
                    Backoff::new(cfg.retry_initial, cfg.retry_max),
                    outbox,
                )
            }
            SinkConfig::Otlp(cfg) => {
                let transport =
                    LogsTransport::new(cfg, &self.host).context("cannot set up the OTLP sink")?;
                let outbox = self
                    .outbox(name, cfg.outbox_max_bytes)
                    .context("cannot open the OTLP sink's outbox")?;
                tracing::info!(endpoint = transport.endpoint(), protocol = ?cfg.protocol, "OTLP sink enabled");
                PreparedSink::Otlp(
                    Box::new(transport),
                    Backoff::new(cfg.retry_initial, cfg.retry_max),
                    outbox,
                )
            }
            SinkConfig::Webhook(cfg) => {
                let sink = WebhookSink::new(cfg)
                    .with_context(|| format!("cannot set up the webhook `{}`", cfg.name))?;
                let outbox = self.outbox(name, cfg.outbox_max_bytes).with_context(|| {
                    format!("cannot open the outbox of the webhook `{}`", cfg.name)
                })?;
                tracing::info!(webhook = %cfg.name, endpoint = sink.endpoint(), format = ?cfg.format, "webhook sink enabled");
                PreparedSink::Webhook(
                    Box::new(sink),
                    Backoff::new(cfg.retry_initial, cfg.retry_max),
                    outbox,
                )
            }
        })
    }

    /// The outbox of `name`: the one already open (with the bound it was opened with), or
    /// opened now.
    fn outbox(&self, name: &str, max_bytes: u64) -> anyhow::Result<Arc<Outbox>> {
        if let Some(o) = self.outboxes.get(name) {
            return Ok(Arc::clone(o));
        }
        Ok(Outbox::open(
            &self.state_dir,
            name,
            max_bytes,
            self.stats.sink(name),
        )?)
    }

    /// Spawns a prepared sink's task; returns what the pipeline attaches.
    pub(crate) fn start(&mut self, name: String, sink: PreparedSink) -> SinkHandle {
        let restart = CancellationToken::new();
        let (outbox, kinds, handle) = match sink {
            PreparedSink::Stdout => {
                let (tx, rx) = mpsc::channel(SINK_QUEUE);
                let handle = tokio::spawn(super::stdout::run(
                    rx,
                    tokio::io::stdout(),
                    Arc::clone(&self.stats),
                ));
                self.tasks.insert(
                    name.clone(),
                    SinkTask {
                        restart: None,
                        handle,
                    },
                );
                return SinkHandle::Channel(name, tx);
            }
            PreparedSink::Mqtt(settings, backoff, outbox) => {
                let handle = self.deliver(&outbox, MqttSink::new(*settings), backoff, &restart);
                (outbox, EventKind::ALL, handle)
            }
            PreparedSink::Otlp(transport, backoff, outbox) => {
                let handle = self.deliver(&outbox, OtlpSink::new(*transport), backoff, &restart);
                (outbox, EventKind::ALL, handle)
            }
            PreparedSink::Webhook(sink, backoff, outbox) => {
                let kinds = sink.event_kinds();
                let handle = self.deliver(&outbox, *sink, backoff, &restart);
                (outbox, kinds, handle)
            }
        };
        self.outboxes.insert(name.clone(), Arc::clone(&outbox));
        self.tasks.insert(
            name,
            SinkTask {
                restart: Some(restart),
                handle,
            },
        );
        SinkHandle::Outbox(outbox, kinds)
    }

    /// Spawns the delivery loop of an outbox-backed sink.
    fn deliver<D: Delivery + 'static>(
        &self,
        outbox: &Arc<Outbox>,
        sink: D,
        backoff: Backoff,
        restart: &CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(deliver::run_restartable(
            Arc::clone(outbox),
            sink,
            backoff,
            self.stop.clone(),
            restart.clone(),
        ))
    }

    /// Ends sink `name`'s task and waits for it. The caller detaches a channel sink from the
    /// pipeline first (its task ends when its sender is gone); an outbox-backed sink ends at
    /// once, leaving what is queued in its outbox.
    pub(crate) async fn stop(&mut self, name: &str) {
        let Some(task) = self.tasks.remove(name) else {
            return;
        };
        if let Some(restart) = &task.restart {
            restart.cancel();
        }
        let _ = task.handle.await;
    }

    /// Replaces a running outbox-backed sink by one with new settings, on the same outbox: the
    /// pipeline keeps appending meanwhile, and nothing queued is lost. Returns what the
    /// pipeline attaches in place of the old one (the kinds of event it takes may differ: a
    /// webhook's format changed).
    pub(crate) async fn restart(&mut self, name: String, sink: PreparedSink) -> SinkHandle {
        self.stop(&name).await;
        self.start(name, sink)
    }

    /// After the pipeline has stopped: outbox-backed sinks deliver what they can within their
    /// drain period, channel sinks write what they hold; then every task has ended.
    pub(crate) async fn join(self) {
        self.stop.cancel();
        for (_, task) in self.tasks {
            let _ = task.handle.await;
        }
    }
}
