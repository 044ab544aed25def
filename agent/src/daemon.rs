//! `seismo run`: wires sources → pipeline → sinks, runs until SIGINT/SIGTERM, then stops in
//! data-flow order so whatever is in flight reaches the sinks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use seismo_config::Config;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::outbox::Outbox;
use crate::pipeline::Pipeline;
use crate::sd_notify::{self, ServiceManager};
use crate::sinks::deliver::{self, Backoff};
use crate::sinks::mqtt::{MqttSettings, MqttSink};
use crate::sinks::{self, Sinks, SINK_QUEUE};
use crate::sources::host::{self, HostCollector};
use crate::state_dir::{self, StateDir};
use crate::stats::Stats;

/// Everything in flight must be flushed within this after a stop signal (systemd's default
/// stop timeout is far longer; operators expect a prompt exit).
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(4500);

pub async fn run(config: Config) -> anyhow::Result<()> {
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

    let mut sinks = Sinks::default();
    let mut sink_tasks: Vec<JoinHandle<()>> = Vec::new();
    if config.sinks.stdout.enabled {
        let (tx, rx) = mpsc::channel(SINK_QUEUE);
        sinks.add("stdout", tx);
        sink_tasks.push(tokio::spawn(sinks::stdout::run(
            rx,
            tokio::io::stdout(),
            Arc::clone(&stats),
        )));
    }
    // Outbox-backed sinks stop after the pipeline, so they still see its last events.
    let sinks_stop = CancellationToken::new();
    if config.sinks.mqtt.enabled {
        let cfg = &config.sinks.mqtt;
        let settings = MqttSettings::resolve(cfg, &host).context("cannot set up the MQTT sink")?;
        let outbox = Outbox::open(
            state.path(),
            "mqtt",
            cfg.outbox_max_bytes,
            stats.sink("mqtt"),
        )
        .context("cannot open the MQTT sink's outbox")?;
        sinks.add_outbox(Arc::clone(&outbox));
        sink_tasks.push(tokio::spawn(deliver::run(
            outbox,
            MqttSink::new(settings),
            Backoff::new(cfg.retry_initial, cfg.retry_max),
            sinks_stop.clone(),
        )));
    }
    if config.sinks.otlp.enabled {
        let cfg = &config.sinks.otlp;
        let transport = crate::sinks::otlp::transport::LogsTransport::new(cfg, &host)
            .context("cannot set up the OTLP sink")?;
        let outbox = Outbox::open(
            state.path(),
            "otlp",
            cfg.outbox_max_bytes,
            stats.sink("otlp"),
        )
        .context("cannot open the OTLP sink's outbox")?;
        sinks.add_outbox(Arc::clone(&outbox));
        tracing::info!(endpoint = transport.endpoint(), protocol = ?cfg.protocol, "OTLP sink enabled");
        sink_tasks.push(tokio::spawn(deliver::run(
            outbox,
            crate::sinks::otlp::OtlpSink::new(transport),
            Backoff::new(cfg.retry_initial, cfg.retry_max),
            sinks_stop.clone(),
        )));
    }
    if sinks.is_empty() {
        tracing::warn!("no sink is enabled: anomalies are detected but alerts go nowhere");
    }

    let host_cfg = &config.sources.host;
    let (samples_tx, samples_rx) = broadcast::channel(host_cfg.queue);
    let pipeline = Pipeline::new(Arc::clone(&host), &config, Arc::clone(&stats));
    let (logs_tx, logs_rx) = mpsc::channel(crate::logs::LOG_QUEUE);
    let pipeline_task = tokio::spawn(pipeline.run(samples_rx, logs_rx, sinks));
    let log_threads = crate::logs::start(
        &config,
        state.path(),
        logs_tx,
        Arc::clone(&stats),
        cancel.clone(),
    )?;

    let mut source_tasks = Vec::new();
    if host_cfg.enabled {
        let collector = HostCollector::new(host_cfg.clone())?;
        source_tasks.push(tokio::spawn(host::run(
            collector,
            host_cfg.interval,
            samples_tx.clone(),
            Arc::clone(&stats),
            cancel.clone(),
        )));
    }

    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        host = %host,
        state_dir = %state.path().display(),
        host_metrics = host_cfg.enabled,
        log_sources = config.sources.files.len(),
        interval = %humantime::format_duration(host_cfg.interval),
        "seismo started"
    );
    // Sources and sinks run: systemd may now order dependent units after us.
    manager.ready("running");
    // The keep-alive comes from this loop: if it wedges, systemd restarts the agent.
    let mut watchdog = sd_notify::interval(&manager);

    loop {
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM received, stopping"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT received, stopping"); break; }
            _ = sighup.recv() => {
                manager.reloading();
                tracing::warn!("SIGHUP received: live reload is not available in this version; restart seismo to apply a changed configuration");
                manager.ready("running");
            }
            _ = sd_notify::tick(&mut watchdog) => manager.watchdog(),
        }
    }
    manager.stopping();

    // Stop order follows the data: sources, then the pipeline drains, then the sinks drain.
    cancel.cancel();
    drop(samples_tx);
    let drain = async {
        for t in source_tasks {
            let _ = t.await;
        }
        log_threads.join().await;
        let _ = pipeline_task.await;
        sinks_stop.cancel();
        for t in sink_tasks {
            let _ = t.await;
        }
    };
    let clean = tokio::select! {
        _ = drain => true,
        _ = tokio::time::sleep(SHUTDOWN_BUDGET) => false,
        _ = sigterm.recv() => false,
        _ = sigint.recv() => false,
    };
    if clean {
        tracing::info!(summary = %stats.summary(), "seismo stopped");
        Ok(())
    } else {
        tracing::error!(summary = %stats.summary(), "shutdown did not finish in time; pending alerts may be lost");
        anyhow::bail!("shutdown did not finish in time")
    }
}
