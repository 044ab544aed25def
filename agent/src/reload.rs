//! Live reload on SIGHUP: the configuration file is read and validated again; an invalid one
//! is refused (logged with its file, line and column, as `check-config` says it) and the running
//! configuration stays. A valid one is compared with the running one ([`plan`]), every
//! component it changes is set up first ([`Running::prepare`]: a failure there refuses the
//! whole reload, nothing changed), then reconciled ([`Running::apply`]) without losing what
//! the agent holds:
//!
//! - file sources: added ones start; removed ones stop after what they read is processed and
//!   checkpointed; changed ones keep their templates, counts and file positions (their tailer,
//!   when its settings changed, restarts from the positions the log stage processed);
//! - sinks: added ones start, removed ones stop (what their outbox holds stays on disk for
//!   when they come back), changed ones reconnect with the new settings on the same outbox, so
//!   pending alerts are delivered with the new settings; unchanged ones are not touched;
//! - host metrics: a changed `[sources.host]` restarts the collector;
//! - detectors: a signal whose effective settings are unchanged keeps its detector and all
//!   it learned; a changed one gets a fresh detector; a disabled one resolves its alert;
//! - alerting parameters and the logging level apply at once (the level after the summary).
//!
//! Settings that cannot change while running ([`RESTART_ONLY`]) keep their running value and
//! are reported as needing a restart. Each reload logs one summary line and counts in
//! `Stats::reloads_ok` / `reloads_refused`.
//!
//! # How a component joins the reload
//!
//! 1. Diff: in [`plan`], compare its section of the running and the new configuration and
//!    record what changed in [`Plan`] (and in [`Plan::summary`]). A setting it cannot take
//!    while running goes into [`RESTART_ONLY`] and the `keep_running_value` list of [`plan`].
//! 2. Prepare: whatever can fail (files, credentials, sockets, parsing) is done in
//!    [`Running::prepare`], its result kept in [`Prepared`].
//! 3. Apply: in [`Running::apply`], either restart the component's task (a child
//!    `CancellationToken` and its `JoinHandle`, as `HostTask` and `RunningSinks` do; an
//!    outbox-backed sink is one more name in `RunningSinks`), or, for state the pipeline
//!    owns, run a closure in the pipeline's task with `PipelineHandle::apply`.
//! 4. Test: a case in this module's tests for the diff; end to end in `tests/tests/reload.rs`.

use std::path::PathBuf;

use seismo_config::{Config, FileSourceConfig};

use crate::daemon::Running;
use crate::logs::{open_lines_sink, PreparedSource, SourceSettings};
use crate::pipeline::DetectorsReloaded;
use crate::sinks::lines::LinesSink;
use crate::sinks::running::PreparedSink;
use crate::sources::host::{HostCollector, HostTask};
use crate::stats::Stats;

/// Settings that only take effect at start-up: a reload keeps their running value.
pub const RESTART_ONLY: [&str; 12] = [
    "agent.state_dir",
    "agent.host_name",
    "logging.format",
    "sources.host.queue",
    "sinks.mqtt.outbox_max_bytes",
    "sinks.otlp.outbox_max_bytes",
    "sinks.otlp.metrics",
    "sinks.otlp.metrics_max_signals",
    "http",
    "silences",
    "hooks",
    "sinks.webhook",
];

/// How a named component (file source or sink) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    /// Still there with other settings. For a file source, `tailer`: the settings of its
    /// tailer (paths, excludes, line rules) changed, not only those of the log stage.
    Changed {
        tailer: bool,
    },
}

impl Change {
    fn mark(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Changed { .. } => '~',
        }
    }
}

/// What a reload changes: the configuration to run and the components to reconcile.
#[derive(Debug)]
pub struct Plan {
    /// The new configuration, with the [`RESTART_ONLY`] settings kept at their running value.
    pub config: Config,
    /// [`RESTART_ONLY`] settings the file changed (not applied).
    pub needs_restart: Vec<&'static str>,
    /// File sources by name.
    pub sources: Vec<(String, Change)>,
    pub lines_sink: bool,
    /// `[sources.journal]` changed (started, stopped or reconfigured).
    pub journal: bool,
    /// Sinks by name (`stdout`, `mqtt`, `otlp`).
    pub sinks: Vec<(&'static str, Change)>,
    pub host: bool,
    /// `[[sources.processes]]` / `[[sources.scrape]]` changed: their tasks are reconciled.
    pub processes: bool,
    pub scrapes: bool,
    pub detectors: bool,
    pub alerting: bool,
    pub logging_level: bool,
}

impl Plan {
    /// True when nothing is to be done (restart-only changes aside).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
            && !self.lines_sink
            && !self.journal
            && self.sinks.is_empty()
            && !self.host
            && !self.processes
            && !self.scrapes
            && !self.detectors
            && !self.alerting
            && !self.logging_level
    }

    /// One line for the log: what changed, and what needs a restart.
    pub fn summary(&self, detectors: Option<DetectorsReloaded>) -> String {
        let mut parts = Vec::new();
        let list = |items: Vec<String>| items.join(" ");
        if !self.sources.is_empty() {
            parts.push(format!(
                "file sources {}",
                list(
                    self.sources
                        .iter()
                        .map(|(n, c)| format!("{}{n}", c.mark()))
                        .collect()
                )
            ));
        }
        if self.lines_sink {
            parts.push("lines sink".to_owned());
        }
        if self.journal {
            parts.push("journal".to_owned());
        }
        if !self.sinks.is_empty() {
            parts.push(format!(
                "sinks {}",
                list(
                    self.sinks
                        .iter()
                        .map(|(n, c)| format!("{}{n}", c.mark()))
                        .collect()
                )
            ));
        }
        if self.host {
            parts.push("host metrics".to_owned());
        }
        if self.processes {
            parts.push("process groups".to_owned());
        }
        if self.scrapes {
            parts.push("scrape targets".to_owned());
        }
        if self.detectors {
            parts.push(match detectors {
                Some(d) => format!(
                    "detectors ({} signals kept, {} reset, {} disabled)",
                    d.kept, d.reset, d.disabled
                ),
                None => "detectors".to_owned(),
            });
        }
        if self.alerting {
            parts.push("alerting".to_owned());
        }
        if self.logging_level {
            parts.push("logging level".to_owned());
        }
        let mut line = if parts.is_empty() {
            "nothing changed".to_owned()
        } else {
            format!("changed: {}", parts.join("; "))
        };
        if !self.needs_restart.is_empty() {
            line.push_str(&format!(
                "; needs a restart (running value kept): {}",
                self.needs_restart.join(", ")
            ));
        }
        line
    }
}

/// Compares the running configuration with a new, valid one.
pub fn plan(old: &Config, mut new: Config) -> Plan {
    let mut needs_restart = Vec::new();
    macro_rules! keep_running_value {
        ($name:literal, $($field:ident).+) => {
            if old.$($field).+ != new.$($field).+ {
                needs_restart.push($name);
                new.$($field).+ = old.$($field).+.clone();
            }
        };
    }
    keep_running_value!("agent.state_dir", agent.state_dir);
    keep_running_value!("agent.host_name", agent.host_name);
    keep_running_value!("logging.format", logging.format);
    keep_running_value!("sources.host.queue", sources.host.queue);
    keep_running_value!("sinks.mqtt.outbox_max_bytes", sinks.mqtt.outbox_max_bytes);
    keep_running_value!("sinks.otlp.outbox_max_bytes", sinks.otlp.outbox_max_bytes);
    keep_running_value!("sinks.otlp.metrics", sinks.otlp.metrics);
    keep_running_value!(
        "sinks.otlp.metrics_max_signals",
        sinks.otlp.metrics_max_signals
    );
    // The endpoint, the silences of the file (those made through the API are live anyway) and
    // the hooks are set up once; a change to them is reported, not applied.
    keep_running_value!("http", http);
    keep_running_value!("silences", silences);
    keep_running_value!("hooks", hooks);
    keep_running_value!("sinks.webhook", sinks.webhook);

    let find = |list: &[FileSourceConfig], name: &str| list.iter().position(|s| s.name == name);
    let mut sources = Vec::new();
    for o in &old.sources.files {
        match find(&new.sources.files, &o.name).map(|i| &new.sources.files[i]) {
            None => sources.push((o.name.clone(), Change::Removed)),
            Some(n) if n != o => sources.push((
                o.name.clone(),
                Change::Changed {
                    tailer: tailer_changed(o, n),
                },
            )),
            Some(_) => {}
        }
    }
    for n in &new.sources.files {
        if find(&old.sources.files, &n.name).is_none() {
            sources.push((n.name.clone(), Change::Added));
        }
    }

    let mut sinks = Vec::new();
    let (o, n) = (&old.sinks, &new.sinks);
    for (name, was, is, same) in [
        (
            "stdout",
            o.stdout.enabled,
            n.stdout.enabled,
            o.stdout == n.stdout,
        ),
        ("mqtt", o.mqtt.enabled, n.mqtt.enabled, o.mqtt == n.mqtt),
        ("otlp", o.otlp.enabled, n.otlp.enabled, o.otlp == n.otlp),
    ] {
        let change = match (was, is) {
            (false, true) => Some(Change::Added),
            (true, false) => Some(Change::Removed),
            (true, true) if !same => Some(Change::Changed { tailer: false }),
            _ => None,
        };
        sinks.extend(change.map(|c| (name, c)));
    }

    Plan {
        needs_restart,
        sources,
        lines_sink: old.sinks.lines != new.sinks.lines,
        journal: old.sources.journal != new.sources.journal,
        sinks,
        host: old.sources.host != new.sources.host,
        processes: old.sources.processes != new.sources.processes,
        scrapes: old.sources.scrape != new.sources.scrape,
        detectors: old.detectors != new.detectors,
        alerting: old.alerting != new.alerting,
        logging_level: old.logging.level != new.logging.level,
        config: new,
    }
}

/// Whether the settings the tailer thread uses differ (the others are the log stage's).
/// `start_at` only matters the first time a source is watched, so it is not one of them.
fn tailer_changed(a: &FileSourceConfig, b: &FileSourceConfig) -> bool {
    a.paths != b.paths
        || a.exclude != b.exclude
        || a.multiline_start != b.multiline_start
        || a.max_line_bytes != b.max_line_bytes
        || a.max_open_files != b.max_open_files
}

/// A changed file source, set up.
enum PreparedFiles {
    Added(FileSourceConfig, PreparedSource),
    Changed(FileSourceConfig, SourceSettings, bool),
    Removed(String),
}

/// Everything a plan needs that could fail, done before anything is applied.
pub(crate) struct Prepared {
    sinks: Vec<(&'static str, Change, Option<PreparedSink>)>,
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
        let mut sinks = Vec::new();
        for (name, change) in &plan.sinks {
            let prepared = match change {
                Change::Removed => None,
                _ => self.sinks.prepare(name, config)?,
            };
            sinks.push((*name, *change, prepared));
        }
        let mut sources = Vec::new();
        for (name, change) in &plan.sources {
            let cfg = config.sources.files.iter().find(|s| &s.name == name);
            sources.push(match (change, cfg) {
                (Change::Added, Some(cfg)) => PreparedFiles::Added(
                    cfg.clone(),
                    PreparedSource::new(cfg, self.logs.logs_dir())?,
                ),
                (Change::Changed { tailer }, Some(cfg)) => {
                    PreparedFiles::Changed(cfg.clone(), SourceSettings::new(cfg)?, *tailer)
                }
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
                (Change::Added, Some(sink)) => self.attach_sink(name, sink).await,
                (Change::Changed { .. }, Some(PreparedSink::Stdout)) => {
                    self.detach_sink(name).await;
                    self.attach_sink(name, PreparedSink::Stdout).await;
                }
                (Change::Changed { .. }, Some(sink)) => self.sinks.restart(name, sink).await,
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
                    self.logs.change(&cfg, settings, tailer).await
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

    async fn attach_sink(&mut self, name: &'static str, sink: PreparedSink) {
        let handle = self.sinks.start(name, sink);
        self.pipeline
            .apply(move |_, sinks| {
                sinks.attach(handle);
                ((), Vec::new())
            })
            .await;
    }

    /// The pipeline lets go of the sink first, so its task sees no more events, then it stops.
    async fn detach_sink(&mut self, name: &'static str) {
        self.pipeline
            .apply(move |_, sinks| {
                sinks.remove(name);
                ((), Vec::new())
            })
            .await;
        self.sinks.stop(name).await;
    }
}

/// Re-reads the configuration file on SIGHUP and reconciles the running agent with it.
pub(crate) struct Reloader {
    /// `None`: the embedded default, nothing to re-read.
    path: Option<PathBuf>,
    /// The configuration running now.
    current: Config,
}

impl Reloader {
    pub(crate) fn new(path: Option<PathBuf>, current: Config) -> Self {
        Self { path, current }
    }

    pub(crate) async fn reload(&mut self, running: &mut Running) {
        let Some(path) = self.path.clone() else {
            tracing::info!("SIGHUP received: seismo runs on its embedded default configuration, there is nothing to re-read (start it with --config PATH to reload a file)");
            return;
        };
        tracing::info!(config = %path.display(), "SIGHUP received: reloading the configuration");
        // The `SEISMO_*` overrides the agent started with still apply (read again: the
        // environment of a running process does not change).
        let new = match seismo_config::Overrides::from_env()
            .and_then(|o| seismo_config::load_with(&path, &o))
        {
            Ok(mut c) => {
                crate::sources::journal::probe::resolve(&mut c);
                c
            }
            Err(e) => return refuse(&running.stats, &format!("invalid configuration: {e}")),
        };
        let plan = plan(&self.current, new);
        let prepared = match running.prepare(&plan) {
            Ok(p) => p,
            Err(e) => return refuse(&running.stats, &format!("{e:#}")),
        };
        let applied = running.apply(&plan, prepared).await;
        for e in &applied.errors {
            tracing::error!(error = %e, "configuration reload: a component could not be reconciled");
        }
        Stats::add(&running.stats.reloads_ok, 1);
        tracing::info!(
            "configuration reloaded: {}",
            plan.summary(applied.detectors)
        );
        if !plan.needs_restart.is_empty() {
            tracing::warn!(
                settings = %plan.needs_restart.join(", "),
                "these settings changed but only take effect after a restart; their running value is kept"
            );
        }
        // Last, so that the summary above is logged even when the new level hides it.
        if plan.logging_level {
            if let Err(e) = crate::logging::set_level(plan.config.logging.level) {
                tracing::error!(error = %e, "cannot change the logging level");
            }
        }
        self.current = plan.config;
    }
}

fn refuse(stats: &Stats, why: &str) {
    Stats::add(&stats.reloads_refused, 1);
    tracing::error!("configuration reload refused, the running configuration is kept: {why}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[agent]
state_dir = "/var/lib/a"
[sources.host]
interval = "10s"
[[sources.files]]
name = "app"
paths = ["/var/log/app/*.log"]
[[sources.files]]
name = "web"
paths = ["/var/log/web/*.log"]
[[sources.files]]
name = "old"
paths = ["/var/log/old/*.log"]
[detectors.defaults]
kind = "ewma"
[sinks.mqtt]
enabled = true
host = "127.0.0.1"
port = 1883
"#;

    fn config(text: &str) -> Config {
        seismo_config::parse(text, "test").unwrap()
    }

    fn edit(pairs: &[(&str, &str)]) -> Config {
        let mut text = BASE.to_owned();
        for (from, to) in pairs {
            assert!(text.contains(from), "{from}");
            text = text.replacen(from, to, 1);
        }
        config(&text)
    }

    #[test]
    fn the_same_configuration_changes_nothing() {
        let p = plan(&config(BASE), config(BASE));
        assert!(p.is_empty());
        assert!(p.needs_restart.is_empty());
        assert_eq!(p.summary(None), "nothing changed");
    }

    #[test]
    fn file_sources_are_added_removed_and_changed_by_name() {
        let new = edit(&[
            // `app`: a stage setting only; `web`: its paths (the tailer restarts).
            (
                "paths = [\"/var/log/app/*.log\"]",
                "paths = [\"/var/log/app/*.log\"]\ninterval = \"5s\"",
            ),
            ("/var/log/web/*.log", "/srv/web/*.log"),
            (
                "[[sources.files]]\nname = \"old\"\npaths = [\"/var/log/old/*.log\"]",
                "[[sources.files]]\nname = \"new\"\npaths = [\"/var/log/new/*.log\"]",
            ),
        ]);
        let p = plan(&config(BASE), new);
        assert_eq!(
            p.sources,
            [
                ("app".to_owned(), Change::Changed { tailer: false }),
                ("web".to_owned(), Change::Changed { tailer: true }),
                ("old".to_owned(), Change::Removed),
                ("new".to_owned(), Change::Added),
            ]
        );
        assert!(p.sinks.is_empty() && !p.host && !p.detectors && !p.alerting);
        assert_eq!(p.summary(None), "changed: file sources ~app ~web -old +new");
    }

    #[test]
    fn sinks_are_added_removed_changed_or_left_alone() {
        let base = config(BASE);
        let p = plan(&base, edit(&[("port = 1883", "port = 1884")]));
        assert_eq!(p.sinks, [("mqtt", Change::Changed { tailer: false })]);
        let p = plan(
            &base,
            edit(&[(
                "[sinks.mqtt]\nenabled = true",
                "[sinks.mqtt]\nenabled = false",
            )]),
        );
        assert_eq!(p.sinks, [("mqtt", Change::Removed)]);
        let p = plan(
            &base,
            edit(&[(
                "[sinks.mqtt]",
                "[sinks.stdout]\nenabled = false\n[sinks.otlp]\nenabled = true\n[sinks.mqtt]",
            )]),
        );
        assert_eq!(
            p.sinks,
            [("stdout", Change::Removed), ("otlp", Change::Added)]
        );
        // A disabled sink's settings do not matter.
        let off = edit(&[(
            "[sinks.mqtt]\nenabled = true",
            "[sinks.mqtt]\nenabled = false",
        )]);
        let mut off2 = off.clone();
        off2.sinks.mqtt.port = Some(9999);
        assert!(plan(&off, off2).is_empty());
    }

    #[test]
    fn host_detectors_alerting_and_logging_level_are_seen() {
        let p = plan(
            &config(BASE),
            edit(&[
                (
                    "interval = \"10s\"",
                    "interval = \"2s\"\nexclude_disks = [\"sd*\"]",
                ),
                ("kind = \"ewma\"", "kind = \"mad\""),
                (
                    "[agent]",
                    "[alerting]\nresolve_after = 5\n[logging]\nlevel = \"debug\"\n[agent]",
                ),
            ]),
        );
        assert!(p.host && p.detectors && p.alerting && p.logging_level);
        assert!(p.sources.is_empty() && p.sinks.is_empty());
        let summary = p.summary(Some(DetectorsReloaded {
            kept: 3,
            reset: 2,
            disabled: 0,
        }));
        assert_eq!(
            summary,
            "changed: host metrics; detectors (3 signals kept, 2 reset, 0 disabled); alerting; logging level"
        );
    }

    #[test]
    fn restart_only_settings_keep_their_running_value_and_are_reported() {
        let old = config(BASE);
        let new = edit(&[
            (
                "state_dir = \"/var/lib/a\"",
                "state_dir = \"/var/lib/b\"\nhost_name = \"x\"",
            ),
            ("interval = \"10s\"", "interval = \"10s\"\nqueue = 8"),
            ("port = 1883", "port = 1883\noutbox_max_bytes = 100000"),
        ]);
        let p = plan(&old, new);
        assert_eq!(
            p.needs_restart,
            [
                "agent.state_dir",
                "agent.host_name",
                "sources.host.queue",
                "sinks.mqtt.outbox_max_bytes"
            ]
        );
        // Kept at their running value, so nothing else is seen as changed.
        assert_eq!(p.config, old);
        assert!(p.is_empty());
        assert!(p.summary(None).ends_with(
            "needs a restart (running value kept): agent.state_dir, agent.host_name, sources.host.queue, sinks.mqtt.outbox_max_bytes"
        ));
        for name in &p.needs_restart {
            assert!(RESTART_ONLY.contains(name));
        }
    }

    #[test]
    fn process_groups_and_scrape_targets_are_reconciled_not_restart_only() {
        let group = "[[sources.processes]]\nname = \"web\"\nprocess_name = \"nginx\"\n";
        let target =
            "[[sources.scrape]]\nname = \"app\"\nurl = \"http://127.0.0.1:8080/metrics\"\n";
        let base = config(&format!("{BASE}{group}{target}"));
        assert!(plan(&base, base.clone()).is_empty());
        let p = plan(
            &base,
            config(&format!(
                "{BASE}{}{target}",
                group.replace("nginx", "nginx*")
            )),
        );
        assert!(p.processes && !p.scrapes && p.needs_restart.is_empty());
        assert_eq!(p.summary(None), "changed: process groups");
        let p = plan(&base, config(&format!("{BASE}{group}")));
        assert!(p.scrapes && !p.processes);
        assert_eq!(p.summary(None), "changed: scrape targets");
    }

    #[test]
    fn every_sink_has_a_name_the_plan_uses() {
        let p = plan(
            &config("[sinks.stdout]\nenabled = false\n"),
            config("[sinks.otlp]\nenabled = true\n[sinks.mqtt]\nenabled = true\nhost = \"h\"\n"),
        );
        let names: Vec<&str> = p.sinks.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["stdout", "mqtt", "otlp"]);
        assert!(names
            .iter()
            .all(|n| crate::sinks::running::SINK_NAMES.contains(n)));
    }
}
