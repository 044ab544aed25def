//! The log stage's loop: consumes the tailers' lines and journal records, mines them through
//! their sources, writes the lines sink, hands each interval's signals to the pipeline, and runs
//! the reload's commands in order with the lines.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::logs::checkpoints::Store;
use crate::logs::command::StageCommand;
use crate::logs::journal_units::JournalUnits;
use crate::logs::lines_sink::LinesSink;
use crate::logs::mining::{clean_text, LogUpdate, Origin, Source, SourceSettings};
use crate::sources::files::identity::FileId;
use crate::sources::files::position::{self, End, Entry, Saved};
use crate::sources::tail_event::{JournalBatch, LineBatch, TailEvent};
use crate::telemetry::stats::{LogLimiter, Stats};

mod blocked;
mod commit;
mod history;

/// How often processed lines are checkpointed.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct LogStage {
    /// By slot: the tailer's index, never reused within a run.
    pub(crate) sources: BTreeMap<usize, Source>,
    pub(crate) files: HashMap<(usize, FileId), Entry>,
    /// By slot: ends of truncated or finished files whose copy has not been read yet.
    pub(crate) ends: HashMap<usize, Vec<End>>,
    pub(crate) store: Store,
    pub(crate) sink: Option<LinesSink>,
    pub(crate) out: mpsc::Sender<LogUpdate>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) resolve_after: u32,
    pub(crate) dirty: bool,
    pub(crate) last_commit: Instant,
    pub(crate) error_log: LogLimiter,
    pub(crate) malformed_log: LogLimiter,
    /// The journal's units, while the journal source runs.
    pub(crate) journal: Option<JournalUnits>,
    /// The cursor of the last journal record processed.
    pub(crate) journal_cursor: Option<String>,
    pub(crate) logs_dir: PathBuf,
    /// While the lines sink cannot write: batches are not taken (see `blocked.rs`).
    pub(crate) blocked: Option<blocked::Blocked>,
    /// The agent's stop, which a blocked stage watches (it takes no batch to see the end).
    pub(crate) cancel: CancellationToken,
}

impl LogStage {
    /// Runs until every tailer is gone, then takes a last checkpoint.
    pub fn run(mut self, rx: Receiver<TailEvent<Box<StageCommand>>>) {
        loop {
            if self.blocked.is_some() && !self.wait_unblocked() {
                return self.abandon(rx);
            }
            let now = Instant::now();
            let next = self
                .sources
                .values()
                .map(|s| s.next_emit)
                .chain([self.last_commit + COMMIT_EVERY])
                .min()
                .unwrap_or(now + COMMIT_EVERY);
            match rx.recv_timeout(next.saturating_duration_since(now)) {
                Ok(TailEvent::Lines(batch)) => self.process(batch),
                Ok(TailEvent::Gone { source, id }) => {
                    if self.files.remove(&(source, id)).is_some() {
                        self.dirty = true;
                    }
                }
                Ok(TailEvent::Ended { source, end }) => {
                    let ends = self.ends.entry(source).or_default();
                    if ends.len() >= position::MAX_ENDS {
                        ends.remove(0);
                    }
                    ends.push(end);
                    self.dirty = true;
                }
                Ok(TailEvent::Stage(command)) => self.command(*command),
                Ok(TailEvent::Journal(batch)) => self.process_journal(batch),
                Ok(TailEvent::History { source, lines }) => self.learn_lines(source, lines),
                Ok(TailEvent::JournalHistory(batch)) => self.learn_journal(batch),
                Ok(TailEvent::HistoryEnd { source, read }) => self.finish_history(source, read),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            if now >= self.last_commit + COMMIT_EVERY {
                self.commit();
            }
            self.emit_due(now);
        }
        self.commit();
        if self.blocked.is_some() && !self.wait_unblocked() {
            self.abandon(rx);
        }
    }

    /// Hands the pipeline the signals of every source whose interval ended by `now`.
    fn emit_due(&mut self, now: Instant) {
        let updates: Vec<LogUpdate> = self
            .sources
            .values_mut()
            .filter(|s| now >= s.next_emit)
            .map(|s| s.emit(now, self.resolve_after, &self.stats))
            .collect();
        for update in updates {
            if self.out.blocking_send(update).is_err() {
                // The pipeline is gone (shutdown): keep checkpointing what was read.
            }
        }
    }

    fn command(&mut self, command: StageCommand) {
        match command {
            StageCommand::Add { slot, source } => {
                self.sources.insert(slot, *source.0);
                self.dirty = true;
            }
            StageCommand::Update {
                slot,
                settings,
                done,
            } => {
                if let Some(s) = self.sources.get_mut(&slot) {
                    s.set(settings);
                }
                let files = self
                    .files
                    .iter()
                    .filter(|((s, _), _)| *s == slot)
                    .map(|(_, e)| e.clone())
                    .collect();
                let ends = self.ends.get(&slot).cloned().unwrap_or_default();
                let _ = done.send(Saved { files, ends });
            }
            StageCommand::Remove { slot, done } => {
                // Everything its tailer read is processed: make it durable, then let go.
                self.commit();
                if let Some(s) = self.sources.remove(&slot) {
                    self.stats.log_templates_refused.set(&s.name, 0);
                }
                self.files.retain(|(s, _), _| *s != slot);
                self.ends.remove(&slot);
                self.dirty = true;
                let _ = done.send(());
            }
            StageCommand::LinesSink { sink, done } => {
                self.commit();
                // What the old sink has not fsynced would go with it: wait until it has. If the
                // agent stops first, the old sink stays and the stage gives up on it (the lines
                // are read again at the next start).
                if self.blocked.is_some() && !self.wait_unblocked() {
                    let _ = done.send(());
                    return;
                }
                self.sink = sink;
                self.dirty = true;
                let _ = done.send(());
            }
            StageCommand::ResolveAfter(n) => self.resolve_after = n,
            StageCommand::Journal { cfg, done } => {
                match (cfg, &mut self.journal) {
                    (Some(cfg), Some(j)) => {
                        for slot in j.slots.values() {
                            if let Some(s) = self.sources.get_mut(slot) {
                                s.set(SourceSettings::journal(&cfg));
                            }
                        }
                        j.cfg = *cfg;
                    }
                    (Some(cfg), None) => {
                        self.journal = Some(JournalUnits::new(*cfg, BTreeMap::new()));
                    }
                    (None, _) => {
                        self.commit();
                        if let Some(j) = self.journal.take() {
                            for slot in j.slots.values() {
                                if let Some(s) = self.sources.remove(slot) {
                                    self.stats.log_templates_refused.set(&s.name, 0);
                                }
                            }
                        }
                        // The cursor stays: turned on again, the journal resumes after it.
                        self.stats
                            .journal_units
                            .store(0, std::sync::atomic::Ordering::Relaxed);
                        self.dirty = true;
                    }
                }
                let _ = done.send(self.journal_cursor.clone());
            }
        }
    }

    /// Journal records: each mined by its unit's source; priority 0..3 is an error.
    fn process_journal(&mut self, batch: JournalBatch) {
        if batch.malformed > 0 {
            Stats::add(&self.stats.journal_records_malformed, batch.malformed);
            if let (Some(_), Some(why)) = (self.malformed_log.hit(), batch.malformed_reason) {
                let total = Stats::get(&self.stats.journal_records_malformed);
                tracing::warn!(reason = %why, total, "skipped journalctl output lines that are not journal records (logged at most every 5 minutes)");
            }
        }
        let Some(units) = &mut self.journal else {
            return;
        };
        let mut sink_failed = None;
        let mut cleaned = Vec::new();
        let n = batch.records.len() as u64;
        let mut last = None;
        for r in batch.records {
            let slot = units.slot(&r.unit, &mut self.sources, &self.logs_dir, &self.stats);
            let Some(src) = self.sources.get_mut(&slot) else {
                continue;
            };
            let text = clean_text(&r.message, &mut cleaned, &self.stats);
            src.observe_as(&text, r.priority.map(|p| p <= 3), &self.stats);
            if let Some(sink) = &mut self.sink {
                if let Err(e) = sink.write(&src.name, "journal", &text) {
                    sink_failed.get_or_insert(e);
                }
            }
            last = Some(r.cursor);
        }
        Stats::add(&self.stats.journal_records, n);
        if let Some(e) = sink_failed {
            self.block(&e);
        }
        if last.is_some() {
            self.journal_cursor = last;
            self.dirty = true;
        }
    }

    fn process(&mut self, batch: LineBatch) {
        let LineBatch {
            source,
            id,
            head,
            path,
            lines,
            pos,
            k8s,
        } = batch;
        let Some(src) = self.sources.get_mut(&source) else {
            return;
        };
        if lines.malformed > 0 {
            Stats::add(&self.stats.log_records_malformed, lines.malformed);
            if let (Some(_), Some(why)) = (self.malformed_log.hit(), lines.malformed_reason) {
                let total = Stats::get(&self.stats.log_records_malformed);
                tracing::warn!(path = %path, reason = %why, total, "skipped container log records that could not be decoded (logged at most every 5 minutes)");
            }
        }
        let mut sink_failed = None;
        let mut cleaned = Vec::new();
        for (i, raw) in lines.iter().enumerate() {
            let text = clean_text(raw, &mut cleaned, &self.stats);
            let origin = Origin {
                stream: lines.stream(i),
                k8s: k8s.as_ref(),
            };
            src.observe_from(&text, None, origin, &self.stats);
            if let Some(sink) = &mut self.sink {
                if let Err(e) = sink.write(&src.name, &path, &text) {
                    sink_failed.get_or_insert(e);
                }
            }
        }
        Stats::add(&self.stats.log_lines, lines.len() as u64);
        if let Some(e) = sink_failed {
            self.block(&e);
        }
        self.files.insert(
            (source, id),
            Entry {
                path: path.to_string(),
                id,
                head,
                pos,
            },
        );
        // A copy taken up where its original stopped: its own position replaces the end.
        if let Some(ends) = self.ends.get_mut(&source) {
            if let Some(at) = ends.iter().rposition(|e| e.head == head) {
                ends.remove(at);
            }
        }
        self.dirty = true;
    }
}
