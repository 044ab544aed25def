//! The running file sources and the log stage: one tailer thread per source, and the stage.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_config::{Config, FileSourceConfig, JournalEnabled, JournalSourceConfig, StartAt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::logs::checkpoints;
use crate::logs::checkpoints::Store;
use crate::logs::command::StageCommand;
use crate::logs::history;
use crate::logs::journal_units::JournalUnits;
use crate::logs::lines_sink::LinesSink;
use crate::logs::mining::{LogUpdate, PreparedSource, Source, SourceSettings};
use crate::logs::stage::LogStage;
use crate::sources::files::position::Saved;
use crate::sources::files::TailerThread;
use crate::sources::journal::JournalTask;
use crate::sources::tail_event::{TailEvent, TAIL_QUEUE};
use crate::telemetry::stats::{LogLimiter, Stats};

/// Updates queued for the pipeline; a full queue blocks the log stage (and so the tailers).
pub const LOG_QUEUE: usize = 64;

/// One running tailer.
struct Tailer {
    slot: usize,
    thread: TailerThread,
}

/// The running file sources and the log stage: one tailer thread per source, and the stage.
/// A reload adds, changes and removes sources here (see `crate::daemon::reload`).
pub struct LogSources {
    /// The tailers' channel to the stage; this copy carries the reload's commands. The stage
    /// ends when it and every tailer's are gone.
    tx: Option<SyncSender<TailEvent<Box<StageCommand>>>>,
    stage: Option<std::thread::JoinHandle<()>>,
    tailers: HashMap<String, Tailer>,
    next_slot: usize,
    logs_dir: PathBuf,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    /// The journal reader, while `[sources.journal]` is on.
    journal: Option<JournalTask>,
}

impl LogSources {
    /// Where template state lives (for [`PreparedSource::new`]).
    pub(crate) fn logs_dir(&self) -> &Path {
        &self.logs_dir
    }

    fn spawn_tailer(
        &mut self,
        slot: usize,
        cfg: &FileSourceConfig,
        saved: Option<Saved>,
        history: bool,
    ) -> anyhow::Result<()> {
        let Some(tx) = self.tx.clone() else {
            anyhow::bail!("the log stage has stopped");
        };
        let stats = Arc::clone(&self.stats);
        let thread =
            TailerThread::spawn(slot, cfg.clone(), saved, history, tx, stats, &self.cancel)
                .map_err(|e| anyhow::anyhow!("cannot start the tailer of {}: {e}", cfg.name))?;
        self.tailers
            .insert(cfg.name.clone(), Tailer { slot, thread });
        Ok(())
    }

    /// Hands `command` to the stage, behind every batch already queued.
    async fn command(&self, command: StageCommand) {
        let Some(tx) = self.tx.clone() else { return };
        // A send fails only when the stage has stopped (shutdown): nothing left to change.
        let send = move || {
            let _ = tx.send(TailEvent::Stage(Box::new(command)));
        };
        let _ = tokio::task::spawn_blocking(send).await;
    }

    /// Stops the tailer of source `name` and waits until everything it read is sent; hands
    /// it back (its thread idle) to be started again or joined.
    async fn stop_tailer(&mut self, name: &str) -> Option<Tailer> {
        let t = self.tailers.remove(name)?;
        let stop = move || {
            t.thread.stop();
            t
        };
        tokio::task::spawn_blocking(stop).await.ok()
    }

    /// Starts a source that was not running. Files it finds first start at its `start_at`.
    pub(crate) async fn add(
        &mut self,
        cfg: &FileSourceConfig,
        source: PreparedSource,
    ) -> anyhow::Result<()> {
        let slot = self.next_slot;
        self.next_slot += 1;
        let history = wants_history(cfg, None, source.0.restored);
        self.command(StageCommand::Add { slot, source }).await;
        self.spawn_tailer(slot, cfg, None, history)
    }

    /// Stops a source: its tailer ends, the lines it read are processed and checkpointed,
    /// then it is forgotten (as a source removed from the file is at start-up).
    pub(crate) async fn remove(&mut self, name: &str) {
        if let Some(t) = self.stop_tailer(name).await {
            let (done, wait) = oneshot::channel();
            let slot = t.slot;
            self.command(StageCommand::Remove { slot, done }).await;
            let _ = wait.await;
            let _ = tokio::task::spawn_blocking(move || t.thread.join()).await;
        }
    }

    /// Applies changed settings to a running source. With `restart_tailer` (paths, excludes,
    /// line rules changed) its tailer is stopped and started again from the positions the stage
    /// processed, so no line is read twice or skipped; templates and counts are kept.
    pub(crate) async fn change(
        &mut self,
        cfg: &FileSourceConfig,
        settings: SourceSettings,
        restart_tailer: bool,
    ) -> anyhow::Result<()> {
        let stopped = if restart_tailer {
            self.stop_tailer(&cfg.name).await
        } else {
            None
        };
        let slot = match &stopped {
            Some(t) => Some(t.slot),
            None => self.tailers.get(&cfg.name).map(|t| t.slot),
        };
        let Some(slot) = slot else {
            anyhow::bail!("source {} is not running", cfg.name);
        };
        let (done, wait) = oneshot::channel();
        self.command(StageCommand::Update {
            slot,
            settings,
            done,
        })
        .await;
        let saved = wait.await.unwrap_or_default();
        if let Some(mut t) = stopped {
            // The same thread, and its inotify watch when the paths are the same.
            t.thread.start(cfg.clone(), Some(saved), &self.cancel);
            self.tailers.insert(cfg.name.clone(), t);
        }
        Ok(())
    }

    /// Switches the lines sink (after a checkpoint of the old one).
    pub(crate) async fn set_lines_sink(&mut self, sink: Option<LinesSink>) {
        let (done, wait) = oneshot::channel();
        self.command(StageCommand::LinesSink { sink, done }).await;
        let _ = wait.await;
    }

    /// Starts, changes or stops the journal source (`None` or not enabled: stops it). A running
    /// reader is stopped first (its child killed), so the stage has every record it read; a
    /// new one resumes after the last record the stage processed.
    pub(crate) async fn set_journal(&mut self, cfg: &JournalSourceConfig) {
        if let Some(t) = self.journal.take() {
            t.stop().await;
        }
        let on = cfg.enabled == JournalEnabled::On;
        let (done, wait) = oneshot::channel();
        self.command(StageCommand::Journal {
            cfg: on.then(|| Box::new(cfg.clone())),
            done,
        })
        .await;
        let cursor = wait.await.unwrap_or_default();
        if on {
            let restored = cursor
                .is_none()
                .then(|| history::journal_learned(&self.logs_dir, cfg))
                .flatten();
            if let Some(tx) = self.tx.clone() {
                self.journal = Some(JournalTask::start(
                    cfg.clone(),
                    cursor,
                    restored,
                    tx,
                    Arc::clone(&self.stats),
                    &self.cancel,
                ));
            }
        }
    }

    pub(crate) async fn set_resolve_after(&self, n: u32) {
        self.command(StageCommand::ResolveAfter(n)).await;
    }

    /// Waits for the threads (after `cancel`): the tailers stop, the stage takes its last
    /// checkpoint and drops its pipeline sender.
    pub async fn join(mut self) {
        // The journal reader ends on the agent's cancel; the batches it sent are queued.
        if let Some(t) = self.journal.take() {
            t.join().await;
        }
        let tailers: Vec<_> = self.tailers.drain().map(|(_, t)| t.thread).collect();
        self.tx = None;
        let stage = self.stage.take();
        let _ = tokio::task::spawn_blocking(move || {
            for t in tailers {
                t.join();
            }
            if let Some(h) = stage {
                let _ = h.join();
            }
        })
        .await;
    }
}

/// Whether a file source starting now reads its files' history: only with `start_at = "end"`
/// and `history_bytes` above 0, at its first start (no checkpoint), and when no saved template
/// state was restored for it (its baselines are already learned: history is not read twice).
fn wants_history(cfg: &FileSourceConfig, resume: Option<&Saved>, restored: bool) -> bool {
    let eligible = cfg.start_at == StartAt::End && cfg.history_bytes > 0 && resume.is_none();
    if eligible && restored {
        tracing::info!(source = %cfg.name, "history not read: the source's learned state was restored");
    }
    eligible && !restored
}

/// Opens the lines sink at `path`, cut back to `mark` (see `sinks::lines`).
pub(crate) fn open_lines_sink(
    path: Option<&Path>,
    mark: Option<checkpoints::SinkMark>,
) -> anyhow::Result<Option<LinesSink>> {
    match path {
        Some(p) => Ok(Some(LinesSink::open(p, mark).map_err(|e| {
            anyhow::anyhow!("cannot open the lines sink {}: {e}", p.display())
        })?)),
        None => Ok(None),
    }
}

/// Starts the log stage and one tailer per `[[sources.files]]`. The stage runs even with no
/// source, so a reload can add some.
pub fn start(
    config: &Config,
    state_dir: &std::path::Path,
    out: mpsc::Sender<LogUpdate>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) -> anyhow::Result<LogSources> {
    let journal_on = config.sources.journal.enabled == JournalEnabled::On;
    if config.sources.files.is_empty() && !journal_on && config.sinks.lines.path.is_some() {
        tracing::warn!(
            "[sinks.lines] is set but no [[sources.files]] nor journal is configured: it stays empty"
        );
    }
    let store = Store::new(state_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}/logs: {e}", state_dir.display()))?;
    let saved = store.load()?;
    let sink = open_lines_sink(config.sinks.lines.path.as_deref(), saved.lines_sink)?;
    let mut sources = BTreeMap::new();
    let mut files = HashMap::new();
    let mut ends = HashMap::new();
    for (slot, cfg) in config.sources.files.iter().enumerate() {
        let intervals = saved.intervals.get(&cfg.name).copied().unwrap_or(0);
        sources.insert(slot, Source::new(cfg, store.dir(), intervals)?);
        for e in saved.sources.get(&cfg.name).into_iter().flatten() {
            files.insert((slot, e.id), e.clone());
        }
        if let Some(e) = saved.ends.get(&cfg.name) {
            ends.insert(slot, e.clone());
        }
    }
    let restored: HashMap<usize, bool> = sources.iter().map(|(k, s)| (*k, s.restored)).collect();
    let logs_dir = store.dir().to_owned();
    let journal = journal_on.then(|| {
        let saved_intervals = saved
            .intervals
            .iter()
            .filter(|(name, _)| name.starts_with("journal."))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        JournalUnits::new(config.sources.journal.clone(), saved_intervals)
    });
    // Kept while the journal is off, so that it resumes where it stopped when turned on.
    let journal_cursor = saved.journal_cursor.clone();
    let stage = LogStage {
        sources,
        files,
        ends,
        store,
        sink,
        out,
        stats: Arc::clone(&stats),
        resolve_after: config.alerting.resolve_after,
        // Record every source as watched from the first checkpoint on.
        dirty: true,
        last_commit: Instant::now(),
        error_log: LogLimiter::new(Duration::from_secs(300)),
        malformed_log: LogLimiter::new(Duration::from_secs(300)),
        journal,
        journal_cursor: journal_cursor.clone(),
        logs_dir: logs_dir.clone(),
        blocked: None,
        cancel: cancel.clone(),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(TAIL_QUEUE);
    let h = std::thread::Builder::new()
        .name("log-stage".into())
        .spawn(move || stage.run(rx))
        .map_err(|e| anyhow::anyhow!("cannot start the log stage: {e}"))?;
    let mut running = LogSources {
        tx: Some(tx),
        stage: Some(h),
        tailers: HashMap::new(),
        next_slot: config.sources.files.len(),
        logs_dir,
        stats,
        cancel,
        journal: None,
    };
    for (slot, cfg) in config.sources.files.iter().enumerate() {
        let resume = saved.sources.get(&cfg.name).map(|files| Saved {
            files: files.clone(),
            ends: saved.ends.get(&cfg.name).cloned().unwrap_or_default(),
        });
        let restored = restored.get(&slot).copied().unwrap_or(false);
        let history = wants_history(cfg, resume.as_ref(), restored);
        running.spawn_tailer(slot, cfg, resume, history)?;
    }
    if journal_on {
        let restored = journal_cursor
            .is_none()
            .then(|| history::journal_learned(&running.logs_dir, &config.sources.journal))
            .flatten();
        if let Some(tx) = running.tx.clone() {
            running.journal = Some(JournalTask::start(
                config.sources.journal.clone(),
                journal_cursor,
                restored,
                tx,
                Arc::clone(&running.stats),
                &running.cancel,
            ));
        }
    }
    Ok(running)
}
