//! `seismo run`: wires sources → pipeline → sinks, runs until SIGINT/SIGTERM, then stops in
//! data-flow order so whatever is in flight reaches the sinks. SIGHUP reloads the configuration
//! file into the running components (see `crate::daemon::reload`).

pub mod logging;
pub mod memory;
pub mod reload;
pub(crate) mod running;
pub mod sd_notify;
pub mod state_dir;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use seismo_config::Config;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alerting::hooks::Hooks;
use crate::alerting::silences::Silences;
use crate::daemon::reload::Reloader;
use crate::http::HttpState;
use crate::pipeline::{Pipeline, PipelineHandle};
use crate::sinks::otlp::metrics::{GaugeExport, SignalGauges};
use crate::sinks::running::{configured as configured_sinks, RunningSinks};
use crate::sinks::Sinks;
use crate::sources::host::HostTask;
use crate::sources::tasks::SourceTasks;
use crate::telemetry::stats::Stats;
use running::Running;
use sd_notify::ServiceManager;
use state_dir::StateDir;

/// Everything in flight must be flushed within this after a stop signal (systemd's default
/// stop timeout is far longer; operators expect a prompt exit).
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(4500);

/// Runs the agent on `config`, read from `path` (`None`: the embedded default) so that
/// SIGHUP can read it again.
pub async fn run(mut config: Config, path: Option<PathBuf>) -> anyhow::Result<()> {
    // `[sources.journal] enabled = "auto"`: the journal if readable, else the fallback file.
    crate::sources::journal::probe::resolve(&mut config);
    let host: Arc<str> = match &config.agent.host_name {
        Some(h) => h.as_str().into(),
        None => sysinfo::System::host_name()
            .unwrap_or_else(|_| "unknown".to_owned())
            .into(),
    };
    let state = StateDir::open(&state_dir::resolve(config.agent.state_dir.as_deref()))?;
    let stats = Arc::new(Stats::default());
    let cancel = CancellationToken::new();
    // Register signal handlers before anything starts, so an early SIGTERM is not fatal.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let mut manager = ServiceManager::from_env();

    // The HTTP endpoint binds first, so a taken port stops the start-up (exit 2) before
    // anything runs; it answers /readyz with 503 until sources and sinks are started.
    let silences = Arc::new(Silences::open(
        &config.silences,
        state.path(),
        crate::clock::now_ms(),
    ));
    // Reading a large saved file (kept only up to the budgets) leaves freed heap behind.
    memory::release_free();
    let ready = Arc::new(AtomicBool::new(false));
    // Hook decisions (approval mode, requests) from the HTTP API and MQTT, to the hooks.
    let decisions = Hooks::need_decisions(&config.hooks)
        .then(|| mpsc::channel(crate::alerting::hooks::decisions::QUEUE));
    let decision_key = match &config.remediation.key_file {
        Some(path) => Some(
            crate::alerting::hooks::signature::DecisionKey::load(path)
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    // The status page's state: kept only while the endpoint that shows it is on.
    let status = config
        .http
        .enabled
        .then(|| Arc::new(crate::http::status::Status::new(Arc::clone(&host))));
    let http_task = if config.http.enabled {
        let token = crate::http::Token::load(&config.http, state.path())?;
        let endpoint = crate::http::bind(&config.http)?;
        let guard = crate::http::Guard::new(&config.http, endpoint.local_addr(), Some(token));
        let state = HttpState::new(
            Arc::clone(&stats),
            Arc::clone(&silences),
            Arc::clone(&ready),
            config.http.scores,
        )
        .with_guard(guard);
        let state = match &status {
            Some(s) => state.with_status(Arc::clone(s)),
            None => state,
        };
        let state = match &decisions {
            Some((tx, _)) => state.with_decisions(tx.clone()),
            None => state,
        };
        Some(
            endpoint
                .serve(state, config.http.idle_timeout)
                .context("cannot serve the HTTP endpoint")?,
        )
    } else {
        None
    };

    // Every sink starts here and stops through `RunningSinks::join` after the pipeline, so
    // outbox-backed ones still see its last events.
    let mut sinks = Sinks::default();
    let mut running_sinks = RunningSinks::new(
        state.path().to_owned(),
        Arc::clone(&host),
        Arc::clone(&stats),
    );
    for (name, sink) in configured_sinks(&config) {
        let prepared = running_sinks.prepare(&name, &sink)?;
        sinks.attach(running_sinks.start(name, prepared));
    }
    if sinks.is_empty() {
        tracing::warn!("no sink is enabled: anomalies are detected but alerts go nowhere");
    }

    let host_cfg = &config.sources.host;
    let (samples_tx, samples_rx) =
        crate::sources::queue::channel(host_cfg.queue, host_cfg.queue_samples, Arc::clone(&stats));
    // What was learned before the restart: read before any sample arrives.
    let learned = crate::pipeline::snapshot::load(state.path());
    let mut pipeline = Pipeline::new(Arc::clone(&host), &config, Arc::clone(&stats))
        .with_silences(Arc::clone(&silences))
        .with_snapshots(state.path(), config.agent.snapshot_interval, learned);
    let start_state = crate::pipeline::warmup::StartState {
        restored: pipeline.restored_signals(),
    };
    if let Some(s) = status {
        pipeline = pipeline.with_observer(s);
    }
    if config.http.enabled && config.http.scores {
        pipeline = pipeline.with_observer(Arc::new(crate::http::ScoreExport(Arc::clone(&stats))));
    }
    let mut decisions_task = None;
    if !config.hooks.is_empty() {
        let mut hooks = Hooks::new(&config.hooks, Arc::clone(&stats));
        if let Some((tx, rx)) = decisions {
            let mqtt = &config.sinks.mqtt;
            match (&decision_key, mqtt.enabled) {
                (Some(_), true) => {
                    let settings = crate::sinks::mqtt::MqttSettings::resolve(mqtt, &host)
                        .context("cannot set up the MQTT decisions subscription")?;
                    decisions_task = Some(crate::sinks::mqtt_decisions::spawn(
                        settings,
                        tx,
                        cancel.clone(),
                    ));
                }
                (Some(_), false) => tracing::warn!(
                    "[remediation] key_file is set but [sinks.mqtt] is not enabled: decisions come through the HTTP API only"
                ),
                (None, true) => tracing::info!(
                    "hook decisions over MQTT are off: set [remediation] key_file to accept signed ones"
                ),
                (None, false) => {}
            }
            let deliverable = config.http.enabled || (decision_key.is_some() && mqtt.enabled);
            if !deliverable {
                tracing::warn!(
                    "hooks wait for decisions, but neither the HTTP API ([http] enabled) nor signed MQTT decisions ([remediation] key_file with [sinks.mqtt]) can deliver one: their proposals will expire"
                );
            }
            hooks = hooks.with_decisions(
                rx,
                crate::alerting::hooks::approval::Ledger::open(state.path()),
                decision_key.clone(),
                config.remediation.replay_window,
            );
        }
        pipeline = pipeline.with_hooks(hooks);
    }
    // Signals as OTLP gauges: current state read at the sampling interval, not via the outbox.
    let mut gauge_export = None;
    if config.sinks.otlp.enabled && config.sinks.otlp.metrics {
        let cfg = &config.sinks.otlp;
        let gauges = Arc::new(SignalGauges::new(
            cfg.metrics_max_signals,
            Arc::clone(&stats),
        ));
        gauge_export = Some(
            GaugeExport::start(
                cfg,
                &host,
                host_cfg.interval,
                Arc::clone(&gauges),
                Arc::clone(&stats),
            )
            .context("cannot set up the OTLP gauges")?,
        );
        pipeline = pipeline.with_observer(gauges);
    }
    let (logs_tx, logs_rx) = mpsc::channel(crate::logs::LOG_QUEUE);
    let (pipeline_handle, commands) = PipelineHandle::channel();
    let pipeline_task = tokio::spawn(pipeline.run(samples_rx, logs_rx, commands, sinks));
    let logs = crate::logs::start(
        &config,
        state.path(),
        logs_tx,
        Arc::clone(&stats),
        cancel.clone(),
    )?;
    let host_task = HostTask::prepare(host_cfg)?
        .map(|c| HostTask::start(c, samples_tx.clone(), Arc::clone(&stats), &cancel));
    let mut processes = SourceTasks::default();
    crate::sources::process::reconcile(
        &mut processes,
        &config.sources.processes,
        &samples_tx,
        &stats,
        &cancel,
    );
    let mut scrapes = SourceTasks::default();
    crate::sources::scrape::reconcile(
        &mut scrapes,
        &config.sources.scrape,
        &samples_tx,
        &stats,
        &cancel,
    );

    // Ready before the start line, so whoever waits for that line finds /readyz answering 200.
    ready.store(true, Ordering::Relaxed);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        host = %host,
        state_dir = %state.path().display(),
        host_metrics = host_cfg.enabled,
        log_sources = config.sources.files.len(),
        journal = config.sources.journal.enabled == seismo_config::JournalEnabled::On,
        process_groups = config.sources.processes.len(),
        scrape_targets = config.sources.scrape.len(),
        hooks = config.hooks.len(),
        interval = %humantime::format_duration(host_cfg.interval),
        "seismo started"
    );
    // What resumes with learned state and what learns for how long.
    tracing::info!(
        restored_signals = start_state.restored,
        "detectors: {}",
        crate::pipeline::warmup::describe(&config.detectors, host_cfg.interval, start_state)
    );
    // Sources and sinks run: systemd may now order dependent units after us.
    manager.ready("running");
    // The keep-alive comes from this loop: if it wedges, systemd restarts the agent.
    let mut watchdog = sd_notify::interval(&manager);

    let mut running = Running {
        stats: Arc::clone(&stats),
        cancel: cancel.clone(),
        sinks: running_sinks,
        pipeline: pipeline_handle,
        host: host_task,
        processes,
        scrapes,
        samples: samples_tx,
        logs,
    };
    let mut reloader = Reloader::new(path, config);
    let mut release = tokio::time::interval(crate::daemon::memory::RELEASE_EVERY);
    release.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM received, stopping"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT received, stopping"); break; }
            // Signals that arrive during a reload are coalesced into one more reload after it
            // (a stop signal waits for the reload, which is bounded by a few seconds).
            _ = sighup.recv() => {
                manager.reloading();
                reloader.reload(&mut running).await;
                manager.ready("running");
                // The tailers and sinks it replaced have stopped (apply awaits them).
                crate::daemon::memory::release_free();
            }
            _ = sd_notify::tick(&mut watchdog) => manager.watchdog(),
            _ = release.tick() => crate::daemon::memory::release_free(),
        }
    }
    manager.stopping();

    // Stop order follows the data: sources, then the pipeline drains, then the sinks drain.
    let Running {
        sinks,
        pipeline,
        host,
        processes,
        scrapes,
        samples,
        logs,
        ..
    } = running;
    cancel.cancel();
    drop(samples);
    drop(pipeline);
    let drain = async {
        if let Some(h) = host {
            h.stop().await;
        }
        processes.stop().await;
        scrapes.stop().await;
        logs.join().await;
        let _ = pipeline_task.await;
        if let Some(g) = gauge_export {
            // A last export of the final values; not worth holding up the stop for long.
            let last = tokio::task::spawn_blocking(move || g.shutdown());
            let _ = tokio::time::timeout(Duration::from_secs(1), last).await;
        }
        sinks.join().await;
    };
    let clean = tokio::select! {
        _ = drain => true,
        _ = tokio::time::sleep(SHUTDOWN_BUDGET) => false,
        _ = sigterm.recv() => false,
        _ = sigint.recv() => false,
    };
    if let Some(t) = http_task {
        t.abort();
    }
    if let Some(t) = decisions_task {
        t.abort();
    }
    if clean {
        tracing::info!(summary = %stats.summary(), "seismo stopped");
        Ok(())
    } else {
        tracing::error!(summary = %stats.summary(), "shutdown did not finish in time; pending alerts may be lost");
        anyhow::bail!("shutdown did not finish in time")
    }
}
