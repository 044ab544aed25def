//! The log stage: consumes the tailers' lines, mines their templates, counts them into log
//! signals per interval, writes the lines sink, and takes the checkpoints.
//!
//! Checkpoints are taken here, by the consumer, and only for lines already processed: every
//! second (and at shutdown) the lines sink is fsynced, the template state saved, then the file
//! offsets written atomically. A crash (even SIGKILL) loses only what came after the last
//! checkpoint, and that is read again from the files on restart: each line counts once.
//!
//! Signals per source, every `interval`: `log.{source}.lines_per_s`, `log.{source}.errors_per_s`,
//! `log.{source}.template.{id}.count` for the `top_templates` most frequent templates (ranked by
//! an exponentially decayed count, so the set is stable) and `log.{source}.template.other.count`
//! for the rest. A template first seen after `new_template_warmup` intervals raises an alert of
//! its own on `log.{source}.template.{id}.new`, resolved after `alerting.resolve_after` intervals.

pub(crate) mod checkpoints;
pub(crate) mod lines_sink;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_config::{Config, FileSourceConfig, JournalEnabled, JournalSourceConfig};
use seismo_detectors::{LogFormat, MinerConfig, TemplateMiner};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::alerting::lifecycle::Normal;
use crate::atomic_file::atomic_write;
use crate::clock::now_ms;
use crate::event::{Anomaly, K8sPod, LogEvidence, Range, Sample};
use crate::logs::lines_sink::LinesSink;
use crate::sources::files::identity::FileId;
use crate::sources::files::position::{self, End, Entry, Saved};
use crate::sources::files::TailerThread;
use crate::sources::journal::{record, JournalTask};
use crate::sources::tail_event::{JournalBatch, LineBatch, TailEvent, TAIL_QUEUE};
use crate::telemetry::stats::{LogLimiter, Stats};
use checkpoints::{Checkpoints, Store};

/// How often processed lines are checkpointed.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Per interval, a template's ranking weight decays by this factor before its count is added.
const RANK_DECAY: f64 = 0.9;
/// Ranking weights below this are forgotten (bounded memory).
const RANK_FLOOR: f64 = 0.01;
/// Updates queued for the pipeline; a full queue blocks the log stage (and so the tailers).
pub const LOG_QUEUE: usize = 64;
/// Slots of journal units start here (file sources count up from 0).
const JOURNAL_SLOTS: usize = usize::MAX / 2;
/// The unit that collects the records of units beyond `max_units`.
const OVERFLOW_UNIT: &str = "_overflow";

/// One source's signals for one interval, for the pipeline.
#[derive(Debug)]
pub struct LogUpdate {
    pub source: String,
    pub samples: Vec<Sample>,
    /// Evidence to attach to alerts on these signals.
    pub evidence: HashMap<Arc<str>, Arc<LogEvidence>>,
    /// Templates first seen after warm-up: anomalies of their own.
    pub novel: Vec<(Anomaly, Arc<LogEvidence>)>,
    /// Later intervals of those templates: normal points that resolve their alerts.
    pub normals: Vec<(Arc<str>, Normal, Arc<LogEvidence>)>,
}

/// Per template, within one interval.
#[derive(Default, Clone)]
struct Tally {
    count: u64,
    samples: Vec<String>,
    /// Per sample: its container stream, `-` when its record said none.
    streams: Vec<&'static str>,
    /// The Kubernetes pod of the first sample.
    k8s: Option<Arc<K8sPod>>,
}

/// Where a line comes from, besides its source: its container stream and pod, if known.
#[derive(Clone, Copy, Default)]
struct Origin<'a> {
    stream: Option<&'static str>,
    k8s: Option<&'a Arc<K8sPod>>,
}

impl Tally {
    fn add(&mut self, line: &str, origin: Origin) {
        self.count += 1;
        if self.samples.len() < LogEvidence::MAX_SAMPLES {
            if self.samples.is_empty() {
                self.k8s = origin.k8s.cloned();
            }
            self.samples.push(LogEvidence::sample(line));
            self.streams.push(origin.stream.unwrap_or("-"));
        }
    }
}

struct Source {
    name: String,
    format: Option<LogFormat>,
    error_pattern: regex::Regex,
    interval: Duration,
    top: usize,
    warmup: u64,
    miner: TemplateMiner,
    miner_dirty: bool,
    miner_path: PathBuf,
    intervals: u64,
    next_emit: Instant,
    /// A reloaded `interval`, applied once the current interval closes.
    next_interval: Option<Duration>,
    // This interval:
    lines: u64,
    errors: u64,
    templates: HashMap<u64, Tally>,
    error_templates: HashMap<u64, Tally>,
    new_templates: Vec<u64>,
    // Across intervals:
    rank: HashMap<u64, f64>,
    /// Novel templates whose alert still needs normal intervals to resolve.
    resolving: HashMap<u64, u32>,
}

/// A source's settings that the log stage applies (the tailer's are its own), built before
/// a reload applies anything so that nothing fails half-way.
#[derive(Clone)]
pub(crate) struct SourceSettings {
    format: Option<LogFormat>,
    error_pattern: regex::Regex,
    interval: Duration,
    top: usize,
    warmup: u64,
}

impl SourceSettings {
    pub(crate) fn new(cfg: &FileSourceConfig) -> anyhow::Result<SourceSettings> {
        let format = match cfg.header_format() {
            Some(f) => Some(
                LogFormat::parse(f)
                    .map_err(|e| anyhow::anyhow!("source {}: invalid format: {e}", cfg.name))?,
            ),
            None => None,
        };
        Ok(SourceSettings {
            format,
            error_pattern: cfg.error_pattern.regex().clone(),
            interval: cfg.interval,
            top: cfg.top_templates,
            warmup: u64::from(cfg.new_template_warmup),
        })
    }

    /// The settings of every journal unit: messages have no header to split.
    fn journal(cfg: &JournalSourceConfig) -> SourceSettings {
        SourceSettings {
            format: None,
            error_pattern: cfg.error_pattern.regex().clone(),
            interval: cfg.interval,
            top: cfg.top_templates,
            warmup: u64::from(cfg.new_template_warmup),
        }
    }
}

/// The journal's units in the log stage: each one a source of its own (`journal.{unit}`),
/// created when its first record arrives.
struct JournalUnits {
    cfg: JournalSourceConfig,
    /// Signal-safe unit name → slot in `LogStage::sources`.
    slots: HashMap<String, usize>,
    next_slot: usize,
    /// Intervals completed per source name, from the checkpoint (warm-up survives restarts).
    saved_intervals: BTreeMap<String, u64>,
    overflow_log: LogLimiter,
}

impl JournalUnits {
    fn new(cfg: JournalSourceConfig, saved_intervals: BTreeMap<String, u64>) -> JournalUnits {
        JournalUnits {
            cfg,
            slots: HashMap::new(),
            next_slot: JOURNAL_SLOTS,
            saved_intervals,
            overflow_log: LogLimiter::new(Duration::from_secs(300)),
        }
    }

    /// The slot of `unit`'s source, creating it (bounded by `max_units`).
    fn slot(
        &mut self,
        unit: &str,
        sources: &mut BTreeMap<usize, Source>,
        logs_dir: &Path,
        stats: &Stats,
    ) -> usize {
        let mut name = record::signal_name(unit);
        if !self.slots.contains_key(&name) && self.slots.len() >= self.cfg.max_units {
            Stats::add(&stats.journal_records_unit_overflow, 1);
            if let Some(n) = self.overflow_log.hit() {
                tracing::warn!(unit, max_units = self.cfg.max_units, records = n, "more journal units than max_units: their records are mined together as the unit _overflow (logged at most every 5 minutes)");
            }
            name = OVERFLOW_UNIT.to_owned();
        }
        if let Some(slot) = self.slots.get(&name) {
            return *slot;
        }
        let source_name = format!("journal.{name}");
        let intervals = self.saved_intervals.get(&source_name).copied().unwrap_or(0);
        let slot = self.next_slot;
        self.next_slot += 1;
        sources.insert(
            slot,
            Source::with(
                source_name,
                SourceSettings::journal(&self.cfg),
                logs_dir,
                intervals,
            ),
        );
        self.slots.insert(name, slot);
        let own = self.slots.keys().filter(|k| *k != OVERFLOW_UNIT).count();
        stats
            .journal_units
            .store(own as u64, std::sync::atomic::Ordering::Relaxed);
        slot
    }
}

/// A source ready to join the running log stage (its template state loaded).
pub(crate) struct PreparedSource(Box<Source>);

impl PreparedSource {
    pub(crate) fn new(cfg: &FileSourceConfig, logs_dir: &Path) -> anyhow::Result<Self> {
        Ok(PreparedSource(Box::new(Source::new(cfg, logs_dir, 0)?)))
    }
}

/// What the reload asks of the log stage. Sent on the tailers' own channel, so a command comes
/// after every batch a stopped tailer sent: positions it answers are final.
pub(crate) enum StageCommand {
    /// A new source; its tailer starts after this.
    Add { slot: usize, source: PreparedSource },
    /// New settings for a source; answers its file positions (for a restarted tailer).
    Update {
        slot: usize,
        settings: SourceSettings,
        done: oneshot::Sender<Saved>,
    },
    /// The source's tailer has stopped: checkpoint what it read, then forget the source.
    Remove {
        slot: usize,
        done: oneshot::Sender<()>,
    },
    /// The lines sink moved (or was switched on or off).
    LinesSink {
        sink: Option<LinesSink>,
        done: oneshot::Sender<()>,
    },
    /// `alerting.resolve_after`, which resolves novel-template alerts.
    ResolveAfter(u32),
    /// The journal source's settings (`None`: it stops; its units are checkpointed, then
    /// forgotten; its cursor is kept). Sent after its reader stopped; answers the cursor of
    /// the last record processed, where a new reader resumes.
    Journal {
        cfg: Option<Box<JournalSourceConfig>>,
        done: oneshot::Sender<Option<String>>,
    },
}

struct LogStage {
    /// By slot: the tailer's index, never reused within a run.
    sources: BTreeMap<usize, Source>,
    files: HashMap<(usize, FileId), Entry>,
    /// By slot: ends of truncated or finished files whose copy has not been read yet.
    ends: HashMap<usize, Vec<End>>,
    store: Store,
    sink: Option<LinesSink>,
    out: mpsc::Sender<LogUpdate>,
    stats: Arc<Stats>,
    resolve_after: u32,
    dirty: bool,
    last_commit: Instant,
    error_log: LogLimiter,
    malformed_log: LogLimiter,
    /// The journal's units, while the journal source runs.
    journal: Option<JournalUnits>,
    /// The cursor of the last journal record processed.
    journal_cursor: Option<String>,
    logs_dir: PathBuf,
}

impl LogStage {
    /// Runs until every tailer is gone, then takes a last checkpoint.
    pub fn run(mut self, rx: Receiver<TailEvent<Box<StageCommand>>>) {
        loop {
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
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            if now >= self.last_commit + COMMIT_EVERY {
                self.commit();
            }
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
        self.commit();
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
                self.sources.remove(&slot);
                self.files.retain(|(s, _), _| *s != slot);
                self.ends.remove(&slot);
                self.dirty = true;
                let _ = done.send(());
            }
            StageCommand::LinesSink { sink, done } => {
                self.commit();
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
                                self.sources.remove(slot);
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
                    sink_failed = Some(e);
                }
            }
            last = Some(r.cursor);
        }
        Stats::add(&self.stats.journal_records, n);
        if let Some(e) = sink_failed {
            Stats::add(&self.stats.log_state_errors, 1);
            if let Some(n) = self.error_log.hit() {
                tracing::error!(error = %e, errors = n, "cannot write the lines sink (logged at most every 5 minutes)");
            }
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
                    sink_failed = Some(e);
                }
            }
        }
        Stats::add(&self.stats.log_lines, lines.len() as u64);
        if let Some(e) = sink_failed {
            Stats::add(&self.stats.log_state_errors, 1);
            if let Some(n) = self.error_log.hit() {
                tracing::error!(error = %e, errors = n, "cannot write the lines sink (logged at most every 5 minutes)");
            }
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

    /// Makes what was processed durable: lines sink, template state, then offsets.
    fn commit(&mut self) {
        self.last_commit = Instant::now();
        if !self.dirty && !self.sources.values().any(|s| s.miner_dirty) {
            return;
        }
        let result = (|| -> std::io::Result<()> {
            let mark = match &mut self.sink {
                Some(s) => Some(s.commit()?),
                None => None,
            };
            for s in self.sources.values_mut() {
                if s.miner_dirty {
                    let tmp = s.miner_path.with_extension("tmp");
                    atomic_write(&s.miner_path, &tmp, &s.miner.to_bytes())?;
                    s.miner_dirty = false;
                }
            }
            let mut c = Checkpoints {
                lines_sink: mark,
                journal_cursor: self.journal_cursor.clone(),
                ..Checkpoints::default()
            };
            for s in self.sources.values() {
                c.sources.insert(s.name.clone(), Vec::new());
                c.intervals.insert(s.name.clone(), s.intervals);
            }
            for (i, ends) in &mut self.ends {
                ends.retain(|e| !e.expired());
                if let (Some(s), false) = (self.sources.get(i), ends.is_empty()) {
                    c.ends.insert(s.name.clone(), ends.clone());
                }
            }
            for ((i, _), e) in &self.files {
                if let Some(list) = self.sources.get(i).and_then(|s| c.sources.get_mut(&s.name)) {
                    list.push(e.clone());
                }
            }
            for list in c.sources.values_mut() {
                list.sort_by_key(|e| e.id);
            }
            self.store.save(&c)
        })();
        match result {
            Ok(()) => self.dirty = false,
            Err(e) => {
                Stats::add(&self.stats.log_state_errors, 1);
                if let Some(n) = self.error_log.hit() {
                    tracing::error!(error = %e, dir = %self.store.dir().display(), errors = n, "cannot write log checkpoints; retrying every second (logged at most every 5 minutes)");
                }
            }
        }
    }
}

impl Source {
    fn new(cfg: &FileSourceConfig, logs_dir: &Path, intervals: u64) -> anyhow::Result<Source> {
        let settings = SourceSettings::new(cfg)?;
        Ok(Source::with(
            cfg.name.clone(),
            settings,
            logs_dir,
            intervals,
        ))
    }

    /// A source named `name` (signals `log.{name}.*`), its template state loaded.
    fn with(name: String, settings: SourceSettings, logs_dir: &Path, intervals: u64) -> Source {
        let miner_path = logs_dir.join(format!("{name}.templates"));
        let miner = match std::fs::read(&miner_path) {
            Ok(bytes) => match TemplateMiner::from_bytes(MinerConfig::default(), &bytes) {
                Ok(m) => m,
                Err(e) => {
                    let aside = miner_path.with_extension("templates.corrupt");
                    let _ = std::fs::rename(&miner_path, &aside);
                    tracing::error!(source = %name, error = %e, moved_to = %aside.display(), "template state unreadable; starting with no templates");
                    TemplateMiner::default()
                }
            },
            Err(_) => TemplateMiner::default(),
        };
        Source {
            next_emit: Instant::now() + settings.interval,
            name,
            format: settings.format,
            error_pattern: settings.error_pattern,
            interval: settings.interval,
            top: settings.top,
            warmup: settings.warmup,
            miner,
            miner_dirty: false,
            miner_path,
            intervals,
            next_interval: None,
            lines: 0,
            errors: 0,
            templates: HashMap::new(),
            error_templates: HashMap::new(),
            new_templates: Vec::new(),
            rank: HashMap::new(),
            resolving: HashMap::new(),
        }
    }

    /// Reloaded settings; the learned templates and rankings are kept. A new interval applies
    /// from the next one, so the current interval's rates stay right.
    fn set(&mut self, s: SourceSettings) {
        self.format = s.format;
        self.error_pattern = s.error_pattern;
        self.top = s.top;
        self.warmup = s.warmup;
        if s.interval != self.interval {
            self.next_interval = Some(s.interval);
        }
    }

    /// One line: its template, whether it is an error, the interval's counts.
    #[cfg(test)]
    fn observe(&mut self, line: &str, stats: &Stats) {
        self.observe_as(line, None, stats);
    }

    /// One line whose record says whether it is an error (`None`: the level in its header,
    /// else `error_pattern`, decides).
    fn observe_as(&mut self, line: &str, error: Option<bool>, stats: &Stats) {
        self.observe_from(line, error, Origin::default(), stats);
    }

    /// One line, with where it comes from (kept with the evidence samples).
    fn observe_from(&mut self, line: &str, error: Option<bool>, origin: Origin, stats: &Stats) {
        let (level, content) = match &self.format {
            Some(f) => match f.split(line) {
                Some(fields) => (fields.level(), fields.content()),
                None => {
                    Stats::add(&stats.log_lines_unparsed, 1);
                    (None, line)
                }
            },
            None => (None, line),
        };
        let m = self.miner.add(content);
        if m.is_new {
            Stats::add(&stats.log_templates_new, 1);
            if self.intervals >= self.warmup {
                self.new_templates.push(m.template_id);
            }
        }
        self.miner_dirty |= m.is_new || m.template_changed;
        if let Some(gone) = m.evicted {
            self.templates.remove(&gone);
            self.error_templates.remove(&gone);
            self.rank.remove(&gone);
            self.resolving.remove(&gone);
        }
        let is_error = match (error, level) {
            (Some(e), _) => e,
            (None, Some(l)) => is_error_level(l),
            (None, None) => self.error_pattern.is_match(line),
        };
        self.lines += 1;
        self.templates
            .entry(m.template_id)
            .or_default()
            .add(line, origin);
        if is_error {
            self.errors += 1;
            self.error_templates
                .entry(m.template_id)
                .or_default()
                .add(line, origin);
        }
    }

    fn evidence(&self, id: Option<u64>, tally: Option<&Tally>) -> Arc<LogEvidence> {
        let empty = Tally::default();
        let t = tally.unwrap_or(&empty);
        let samples = &t.samples;
        let sample_streams = if t.streams.iter().any(|s| *s != "-") {
            t.streams.clone()
        } else {
            Vec::new()
        };
        Arc::new(LogEvidence {
            source: self.name.clone(),
            template_id: id,
            template: id.and_then(|i| self.miner.template(i)).map(str::to_owned),
            sample_lines: samples.to_vec(),
            sample_streams,
            k8s: t.k8s.clone(),
        })
    }

    /// Closes the interval: samples, evidence, novel templates.
    fn emit(&mut self, now: Instant, resolve_after: u32, stats: &Stats) -> LogUpdate {
        let ts = now_ms();
        let secs = self.interval.as_secs_f64();
        let prefix = format!("log.{}", self.name);
        let signal = |rest: &str| -> Arc<str> { format!("{prefix}.{rest}").into() };
        let mut samples = Vec::new();
        let mut evidence = HashMap::new();
        let sample = |signal: &Arc<str>, value: f64| Sample {
            signal: Arc::clone(signal),
            ts_ms: ts,
            value,
        };

        let busiest = |m: &HashMap<u64, Tally>| {
            m.iter()
                .max_by_key(|(id, t)| (t.count, std::cmp::Reverse(**id)))
                .map(|(id, t)| (*id, t.clone()))
        };
        let lines = signal("lines_per_s");
        samples.push(sample(&lines, self.lines as f64 / secs));
        if let Some((id, t)) = busiest(&self.templates) {
            evidence.insert(Arc::clone(&lines), self.evidence(Some(id), Some(&t)));
        }
        let errors = signal("errors_per_s");
        samples.push(sample(&errors, self.errors as f64 / secs));
        if let Some((id, t)) = busiest(&self.error_templates) {
            evidence.insert(Arc::clone(&errors), self.evidence(Some(id), Some(&t)));
        }

        // Rank templates by a decayed count; the top ones get a signal of their own.
        for w in self.rank.values_mut() {
            *w *= RANK_DECAY;
        }
        for (id, t) in &self.templates {
            *self.rank.entry(*id).or_insert(0.0) += t.count as f64;
        }
        self.rank.retain(|_, w| *w >= RANK_FLOOR);
        let mut ranked: Vec<(u64, f64)> = self.rank.iter().map(|(k, v)| (*k, *v)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(self.top);
        let mut tracked_total = 0;
        for (id, _) in &ranked {
            let t = self.templates.get(id);
            let count = t.map_or(0, |t| t.count);
            tracked_total += count;
            let s = signal(&format!("template.{id}.count"));
            samples.push(sample(&s, count as f64));
            evidence.insert(s, self.evidence(Some(*id), t));
        }
        if self.top > 0 {
            let other = signal("template.other.count");
            samples.push(sample(
                &other,
                self.lines.saturating_sub(tracked_total) as f64,
            ));
            let mut rest = Tally::default();
            for (id, t) in &self.templates {
                if !ranked.iter().any(|(r, _)| r == id) {
                    let take = LogEvidence::MAX_SAMPLES - rest.samples.len();
                    if rest.samples.is_empty() {
                        rest.k8s = t.k8s.clone();
                    }
                    rest.samples.extend(t.samples.iter().take(take).cloned());
                    rest.streams.extend(t.streams.iter().take(take).copied());
                }
                if rest.samples.len() >= LogEvidence::MAX_SAMPLES {
                    break;
                }
            }
            evidence.insert(other, self.evidence(None, Some(&rest)));
        }

        // Novel templates fire now; earlier ones count down to their resolution.
        let mut novel = Vec::new();
        let mut normals = Vec::new();
        let mut ids: Vec<u64> = self.resolving.keys().copied().collect();
        ids.sort_unstable();
        for id in &ids {
            let count = self.templates.get(id).map_or(0, |t| t.count) as f64;
            let s = signal(&format!("template.{id}.new"));
            let point = Normal {
                ts_ms: ts,
                observed: count,
                score: 0.0,
                expected: Range {
                    low: 0.0,
                    high: count,
                },
            };
            normals.push((s, point, self.evidence(Some(*id), self.templates.get(id))));
            if let Some(left) = self.resolving.get_mut(id) {
                *left = left.saturating_sub(1);
            }
        }
        self.resolving.retain(|_, left| *left > 0);
        for id in std::mem::take(&mut self.new_templates) {
            let Some(t) = self.templates.get(&id) else {
                continue;
            };
            let anomaly = Anomaly {
                signal: signal(&format!("template.{id}.new")),
                ts_ms: ts,
                score: 1.0,
                observed: t.count as f64,
                expected_low: 0.0,
                expected_high: 0.0,
                detector: "new_template",
            };
            Stats::add(&stats.anomalies, 1);
            novel.push((anomaly, self.evidence(Some(id), Some(t))));
            self.resolving.insert(id, resolve_after);
        }

        self.intervals += 1;
        self.lines = 0;
        self.errors = 0;
        self.templates.clear();
        self.error_templates.clear();
        self.next_emit += self.interval;
        if let Some(interval) = self.next_interval.take() {
            self.interval = interval;
            self.next_emit = now + interval;
        }
        if self.next_emit <= now {
            self.next_emit = now + self.interval;
        }
        LogUpdate {
            source: self.name.clone(),
            samples,
            evidence,
            novel,
            normals,
        }
    }
}

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
    ) -> anyhow::Result<()> {
        let Some(tx) = self.tx.clone() else {
            anyhow::bail!("the log stage has stopped");
        };
        let stats = Arc::clone(&self.stats);
        let thread = TailerThread::spawn(slot, cfg.clone(), saved, tx, stats, &self.cancel)
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
        self.command(StageCommand::Add { slot, source }).await;
        self.spawn_tailer(slot, cfg, None)
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
            if let Some(tx) = self.tx.clone() {
                self.journal = Some(JournalTask::start(
                    cfg.clone(),
                    cursor,
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
        running.spawn_tailer(slot, cfg, resume)?;
    }
    if journal_on {
        if let Some(tx) = running.tx.clone() {
            running.journal = Some(JournalTask::start(
                config.sources.journal.clone(),
                journal_cursor,
                tx,
                Arc::clone(&running.stats),
                &running.cancel,
            ));
        }
    }
    Ok(running)
}

/// A line's bytes as text for mining: NUL bytes removed, invalid UTF-8 replaced (both counted).
fn clean_text<'a>(raw: &'a [u8], cleaned: &'a mut Vec<u8>, stats: &Stats) -> Cow<'a, str> {
    let raw = if raw.contains(&0) {
        Stats::add(&stats.log_lines_with_nul, 1);
        cleaned.clear();
        cleaned.extend(raw.iter().copied().filter(|&b| b != 0));
        &cleaned[..]
    } else {
        raw
    };
    match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            Stats::add(&stats.log_lines_invalid_utf8, 1);
            String::from_utf8_lossy(raw)
        }
    }
}

/// Level names that mean an error, across syslog, log4j, Python, Go and friends.
fn is_error_level(level: &str) -> bool {
    const ERROR_LEVELS: [&str; 12] = [
        "error",
        "err",
        "fatal",
        "crit",
        "critical",
        "alert",
        "emerg",
        "emergency",
        "panic",
        "severe",
        "e",
        "f",
    ];
    let l = level.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    ERROR_LEVELS.iter().any(|e| l.eq_ignore_ascii_case(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        let config = seismo_config::parse(text, "t").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        Source::new(&config.sources.files[0], tmp.path(), 0).unwrap()
    }

    #[test]
    fn counts_lines_errors_and_top_templates() {
        let mut s = source(
            "[[sources.files]]\nname = \"app\"\npaths = [\"/x\"]\ntop_templates = 1\nnew_template_warmup = 1\nformat = \"<Level> <Content>\"\n",
        );
        let stats = Stats::default();
        for i in 0..6 {
            s.observe(&format!("INFO request {i} served in {i} ms"), &stats);
        }
        s.observe("ERROR disk /dev/sda1 is full", &stats);
        s.observe("garbage", &stats);
        let u = s.emit(Instant::now(), 3, &stats);
        let value = |name: &str| {
            u.samples
                .iter()
                .find(|x| &*x.signal == name)
                .map(|x| x.value)
                .unwrap_or_else(|| panic!("no {name} in {:?}", u.samples))
        };
        assert_eq!(value("log.app.lines_per_s"), 0.8);
        assert_eq!(value("log.app.errors_per_s"), 0.1);
        assert_eq!(value("log.app.template.1.count"), 6.0);
        assert_eq!(value("log.app.template.other.count"), 2.0);
        assert_eq!(Stats::get(&stats.log_lines_unparsed), 1);
        let ev = &u.evidence[&Arc::<str>::from("log.app.errors_per_s")];
        assert_eq!(ev.sample_lines, ["ERROR disk /dev/sda1 is full"]);
        assert!(u.novel.is_empty(), "still warming up");

        // After warm-up, a template never seen before is an anomaly with its evidence.
        s.observe("INFO request 7 served in 3 ms", &stats);
        s.observe("WARN certificate expires in 3 days", &stats);
        let u = s.emit(Instant::now(), 2, &stats);
        assert_eq!(u.novel.len(), 1);
        let (a, ev) = &u.novel[0];
        assert!(a.signal.ends_with(".new"), "{}", a.signal);
        assert_eq!(ev.sample_lines, ["WARN certificate expires in 3 days"]);
        assert!(ev.template.as_deref().unwrap().contains("certificate"));
        assert_eq!(s.emit(Instant::now(), 2, &stats).normals.len(), 1);
        assert_eq!(s.emit(Instant::now(), 2, &stats).normals.len(), 1);
        assert!(s.emit(Instant::now(), 2, &stats).normals.is_empty());
    }

    #[test]
    fn journal_units_are_mined_apart_with_priority_errors_and_a_bounded_count() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = Stats::default();
        let cfg = JournalSourceConfig {
            max_units: 2,
            ..JournalSourceConfig::default()
        };
        let mut units = JournalUnits::new(cfg, BTreeMap::new());
        let mut sources = BTreeMap::new();
        let mut slot = |u: &str| units.slot(u, &mut sources, tmp.path(), &stats);
        let nginx = slot("nginx.service");
        assert_eq!(slot("nginx"), nginx);
        let cron = slot("cron.service");
        let over = slot("sshd.service");
        assert_eq!(slot("getty@tty1.service"), over);
        assert_ne!(nginx, cron);
        assert_eq!(Stats::get(&stats.journal_records_unit_overflow), 2);
        assert_eq!(Stats::get(&stats.journal_units), 2);
        assert_eq!(sources[&over].name, "journal._overflow");
        let s = sources.get_mut(&nginx).unwrap();
        // The priority decides, whatever the text says.
        s.observe_as("upstream timed out after 30 s", Some(true), &stats);
        s.observe_as("error page served to 10.0.0.1", Some(false), &stats);
        s.observe_as("fatal: no priority, the pattern decides", None, &stats);
        let u = s.emit(Instant::now(), 3, &stats);
        let value = |name: &str| {
            u.samples
                .iter()
                .find(|x| &*x.signal == name)
                .map(|x| x.value)
        };
        assert_eq!(value("log.journal.nginx.lines_per_s"), Some(0.3));
        assert_eq!(value("log.journal.nginx.errors_per_s"), Some(0.2));
        assert!(sources[&cron].templates.is_empty(), "units are mined apart");
    }

    #[test]
    fn error_levels() {
        for l in ["ERROR", "err", "[FATAL]", "E", "Critical"] {
            assert!(is_error_level(l), "{l}");
        }
        for l in ["INFO", "WARN", "debug", "notice"] {
            assert!(!is_error_level(l), "{l}");
        }
    }

    #[test]
    fn samples_are_cut() {
        let long = "x".repeat(2000);
        let s = LogEvidence::sample(&long);
        assert_eq!(s.chars().count(), LogEvidence::MAX_SAMPLE_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
