//! Prepare and apply: a reload's [`Plan`] set up where it can fail, then reconciled with the
//! running components.

use seismo_config::FileSourceConfig;

use super::plan::{Change, Plan};
use crate::daemon::running::Running;
use crate::logs::lines_sink::LinesSink;
use crate::logs::{open_lines_sink, PreparedSource, SourceSettings};
use crate::pipeline::DetectorsReloaded;
use crate::sinks::running::{configured, PreparedSink, SinkHandle};
use crate::sources::host::{HostCollector, HostTask};

/// A changed file source, set up (the settings boxed: they hold the template filters).
enum PreparedFiles {
    Added(FileSourceConfig, PreparedSource),
    Changed(FileSourceConfig, Box<SourceSettings>, bool),
    Removed(String),
}

/// Everything a plan needs that could fail, done before anything is applied.
pub(crate) struct Prepared {
    sinks: Vec<(String, Change, Option<PreparedSink>)>,
    sources: Vec<PreparedFiles>,
    lines_sink: Option<Option<LinesSink>>,
    host: Option<Option<HostCollector>>,
}

/// What applying a plan did.
#[derive(Default)]
pub(crate) struct Applied {
    pub detectors: Option<DetectorsReloaded>,
    /// Failures after the point of no return (a thread that would not start): logged.
    pub errors: Vec<String>,
}

impl Running {
    /// Sets up every component `plan` adds or changes.
    pub(crate) fn prepare(&self, plan: &Plan) -> anyhow::Result<Prepared> {
        let config = &plan.config;
        let configured = configured(config);
        let mut sinks = Vec::new();
        for (name, change) in &plan.sinks {
            let prepared = match (change, configured.iter().find(|(n, _)| n == name)) {
                (Change::Removed, _) | (_, None) => None,
                (_, Some((_, sink))) => Some(self.sinks.prepare(name, sink)?),
            };
            sinks.push((name.clone(), *change, prepared));
        }
        let mut sources = Vec::new();
        for (name, change) in &plan.sources {
            let cfg = config.sources.files.iter().find(|s| &s.name == name);
            sources.push(match (change, cfg) {
                (Change::Added, Some(cfg)) => PreparedFiles::Added(
                    cfg.clone(),
                    PreparedSource::new(cfg, self.logs.logs_dir())?,
                ),
                (Change::Changed { tailer }, Some(cfg)) => PreparedFiles::Changed(
                    cfg.clone(),
                    Box::new(SourceSettings::new(cfg)?),
                    *tailer,
                ),
                _ => PreparedFiles::Removed(name.clone()),
            });
        }
        let lines_sink = if plan.lines_sink {
            Some(open_lines_sink(config.sinks.lines.path.as_deref(), None)?)
        } else {
            None
        };
        let host = if plan.host {
            Some(HostTask::prepare(&config.sources.host)?)
        } else {
            None
        };
        Ok(Prepared {
            sinks,
            sources,
            lines_sink,
            host,
        })
    }

    /// Reconciles the running components with `plan`, in data-flow order from the sinks up,
    /// so that what new sources produce finds the new sinks.
    pub(crate) async fn apply(&mut self, plan: &Plan, prepared: Prepared) -> Applied {
        let mut applied = Applied::default();
        for (name, change, sink) in prepared.sinks {
            match (change, sink) {
                (Change::Removed, _) => self.detach_sink(name).await,
                (Change::Added, Some(sink)) => {
                    let handle = self.sinks.start(name, sink);
                    self.attach_sink(handle).await;
                }
                // A channel sink ends when the pipeline lets go of it: detached first.
                (Change::Changed { .. }, Some(PreparedSink::Stdout)) => {
                    self.detach_sink(name.clone()).await;
                    let handle = self.sinks.start(name, PreparedSink::Stdout);
                    self.attach_sink(handle).await;
                }
                // The pipeline keeps appending to the outbox meanwhile.
                (Change::Changed { .. }, Some(sink)) => {
                    let handle = self.sinks.restart(name, sink).await;
                    self.attach_sink(handle).await;
                }
                (_, None) => {}
            }
        }

        if plan.detectors || plan.alerting {
            let detectors = plan.detectors.then(|| plan.config.detectors.clone());
            let alerting = plan.alerting.then(|| plan.config.alerting.clone());
            applied.detectors = self
                .pipeline
                .apply(move |p, _| {
                    let mut done = (None, Vec::new());
                    if let Some(d) = detectors {
                        let (reloaded, events) = p.reconfigure_detectors(&d);
                        done = (Some(reloaded), events);
                    }
                    if let Some(a) = alerting {
                        p.reconfigure_alerting(&a);
                    }
                    done
                })
                .await
                .flatten();
        }
        if plan.alerting {
            self.logs
                .set_resolve_after(plan.config.alerting.resolve_after)
                .await;
        }

        if let Some(sink) = prepared.lines_sink {
            self.logs.set_lines_sink(sink).await;
        }
        if plan.journal {
            self.logs.set_journal(&plan.config.sources.journal).await;
        }
        for source in prepared.sources {
            let result = match source {
                PreparedFiles::Removed(name) => {
                    self.logs.remove(&name).await;
                    Ok(())
                }
                PreparedFiles::Changed(cfg, settings, tailer) => {
                    self.logs.change(&cfg, *settings, tailer).await
                }
                PreparedFiles::Added(cfg, source) => self.logs.add(&cfg, source).await,
            };
            if let Err(e) = result {
                applied.errors.push(format!("{e:#}"));
            }
        }

        if let Some(collector) = prepared.host {
            if let Some(old) = self.host.take() {
                old.stop().await;
            }
            self.host = collector.map(|c| {
                HostTask::start(
                    c,
                    self.samples.clone(),
                    std::sync::Arc::clone(&self.stats),
                    &self.cancel,
                )
            });
        }
        // Groups and targets whose table is unchanged keep running; the others restart.
        if plan.processes {
            crate::sources::process::reconcile(
                &mut self.processes,
                &plan.config.sources.processes,
                &self.samples,
                &self.stats,
                &self.cancel,
            );
        }
        if plan.scrapes {
            crate::sources::scrape::reconcile(
                &mut self.scrapes,
                &plan.config.sources.scrape,
                &self.samples,
                &self.stats,
                &self.cancel,
            );
        }
        applied
    }

    /// The pipeline takes a started sink, in place of the one of the same name, if any.
    async fn attach_sink(&mut self, handle: SinkHandle) {
        self.pipeline
            .apply(move |_, sinks| {
                sinks.attach(handle);
                ((), Vec::new())
            })
            .await;
    }

    /// The pipeline lets go of the sink first, so its task sees no more events, then it stops.
    async fn detach_sink(&mut self, name: String) {
        let detached = name.clone();
        self.pipeline
            .apply(move |_, sinks| {
                sinks.remove(&detached);
                ((), Vec::new())
            })
            .await;
        self.sinks.stop(&name).await;
    }
}
