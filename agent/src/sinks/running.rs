//! The running sinks' tasks, by name: started at start-up and by a reload, restarted when a
//! reload changes their settings, stopped when it disables them.
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
use seismo_config::Config;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::deliver;
use super::mqtt::{MqttSettings, MqttSink};
use super::otlp::transport::LogsTransport;
use super::otlp::OtlpSink;
use super::{EventKind, SINK_QUEUE};
use crate::backoff::Backoff;
use crate::event::Event;
use crate::sinks::outbox::Outbox;
use crate::telemetry::stats::Stats;

/// Every sink by name, in the order they are started.
pub(crate) const SINK_NAMES: [&str; 3] = ["stdout", "mqtt", "otlp"];

/// What the pipeline holds of a started sink (see `Sinks::attach`).
pub(crate) enum SinkHandle {
    Channel(&'static str, mpsc::Sender<Arc<Event>>),
    /// An outbox-backed sink and the event kinds it exports.
    Outbox(Arc<Outbox>, &'static [EventKind]),
}

/// A sink whose set-up succeeded, ready to start.
pub(crate) enum PreparedSink {
    Stdout,
    Mqtt(Box<MqttSettings>, Backoff, Arc<Outbox>),
    Otlp(Box<LogsTransport>, Backoff, Arc<Outbox>),
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
    tasks: BTreeMap<&'static str, SinkTask>,
    outboxes: HashMap<&'static str, Arc<Outbox>>,
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

    /// Sets sink `name` up as `config` says; `None` when it is disabled. Must run inside the
    /// runtime (the OTLP exporter needs it).
    pub(crate) fn prepare(
        &self,
        name: &'static str,
        config: &Config,
    ) -> anyhow::Result<Option<PreparedSink>> {
        let sinks = &config.sinks;
        Ok(match name {
            "stdout" if sinks.stdout.enabled => Some(PreparedSink::Stdout),
            "mqtt" if sinks.mqtt.enabled => {
                let cfg = &sinks.mqtt;
                let settings = MqttSettings::resolve(cfg, &self.host)
                    .context("cannot set up the MQTT sink")?;
                let outbox = self
                    .outbox(name, cfg.outbox_max_bytes)
                    .context("cannot open the MQTT sink's outbox")?;
                Some(PreparedSink::Mqtt(
                    Box::new(settings),
                    Backoff::new(cfg.retry_initial, cfg.retry_max),
                    outbox,
                ))
            }
            "otlp" if sinks.otlp.enabled => {
                let cfg = &sinks.otlp;
                let transport =
                    LogsTransport::new(cfg, &self.host).context("cannot set up the OTLP sink")?;
                let outbox = self
                    .outbox(name, cfg.outbox_max_bytes)
                    .context("cannot open the OTLP sink's outbox")?;
                tracing::info!(endpoint = transport.endpoint(), protocol = ?cfg.protocol, "OTLP sink enabled");
                Some(PreparedSink::Otlp(
                    Box::new(transport),
                    Backoff::new(cfg.retry_initial, cfg.retry_max),
                    outbox,
                ))
            }
            _ => None,
        })
    }

    /// The outbox of `name`: the one already open, or opened now.
    fn outbox(&self, name: &'static str, max_bytes: u64) -> anyhow::Result<Arc<Outbox>> {
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
    pub(crate) fn start(&mut self, name: &'static str, sink: PreparedSink) -> SinkHandle {
        let restart = CancellationToken::new();
        let outbox_sink = |this: &mut Self,
                           outbox: Arc<Outbox>,
                           kinds: &'static [EventKind],
                           handle: JoinHandle<()>| {
            this.outboxes.insert(name, Arc::clone(&outbox));
            this.tasks.insert(
                name,
                SinkTask {
                    restart: Some(restart.clone()),
                    handle,
                },
            );
            SinkHandle::Outbox(outbox, kinds)
        };
        match sink {
            PreparedSink::Stdout => {
                let (tx, rx) = mpsc::channel(SINK_QUEUE);
                let handle = tokio::spawn(super::stdout::run(
                    rx,
                    tokio::io::stdout(),
                    Arc::clone(&self.stats),
                ));
                self.tasks.insert(
                    name,
                    SinkTask {
                        restart: None,
                        handle,
                    },
                );
                SinkHandle::Channel(name, tx)
            }
            PreparedSink::Mqtt(settings, backoff, outbox) => {
                let handle = tokio::spawn(deliver::run_restartable(
                    Arc::clone(&outbox),
                    MqttSink::new(*settings),
                    backoff,
                    self.stop.clone(),
                    restart.clone(),
                ));
                outbox_sink(self, outbox, EventKind::ALL, handle)
            }
            PreparedSink::Otlp(transport, backoff, outbox) => {
                let handle = tokio::spawn(deliver::run_restartable(
                    Arc::clone(&outbox),
                    OtlpSink::new(*transport),
                    backoff,
                    self.stop.clone(),
                    restart.clone(),
                ));
                outbox_sink(self, outbox, EventKind::ALERTS_AND_INCIDENTS, handle)
            }
        }
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
    /// pipeline keeps appending meanwhile, and nothing queued is lost.
    pub(crate) async fn restart(&mut self, name: &'static str, sink: PreparedSink) {
        self.stop(name).await;
        // Same outbox, already attached to the pipeline.
        let _ = self.start(name, sink);
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
