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
//! - sinks (stdout, MQTT, OTLP, each webhook by its name): added ones start, removed ones stop
//!   (what their outbox holds stays on disk for when they come back), changed ones reconnect
//!   with the new settings on the same outbox, so pending alerts are delivered with the new
//!   settings; unchanged ones are not touched;
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

mod apply;
mod plan;

use std::path::PathBuf;

use seismo_config::Config;

pub use plan::{plan, Change, Plan, RESTART_ONLY};

use crate::daemon::running::Running;
use crate::telemetry::stats::Stats;

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
            if let Err(e) = crate::daemon::logging::set_level(plan.config.logging.level) {
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
