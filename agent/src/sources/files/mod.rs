//! The file source: tails the files a `[[sources.files]]` glob matches and hands their lines,
//! in order and with the offset after each batch, to the log stage.
//!
//! One thread per source does blocking reads. It learns of changes from inotify (through
//! `notify`) and, as a fallback that also covers network file systems and exhausted inotify
//! limits, from a periodic sweep. Files are identified by device + inode, checked against a
//! checksum of their first bytes (see `identity`), so a renamed file is followed, a reused inode
//! is a new file, and a file rewritten in place (copytruncate) is read again from 0.
//!
//! Checkpoints are NOT written here: the log stage writes them after it has processed the lines
//! (see `crate::logs`), so a crash replays whatever was read but not processed.

pub(crate) mod container;
mod copies;
mod discovery;
mod history;
pub(crate) mod identity;
mod k8s;
pub(crate) mod position;
pub(crate) mod tail;
mod watch;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_config::{FileSourceConfig, StartAt};
use tokio_util::sync::CancellationToken;

use super::tail_event::{LineBatch, TailEvent};
use crate::telemetry::stats::{LogLimiter, Stats};
use copies::Ends;
use discovery::{Found, Skip, WalkProblem};
use history::HistoryBudget;
pub(crate) use identity::{FileId, Head};
use position::{End, Entry, ReadPos, Saved};
pub(crate) use tail::Lines;
use tail::{LineRules, ReadOutcome, TailFile};
use watch::Watch;

/// Bytes read from one file before the others get a turn.
const READ_BUDGET: u64 = 1 << 20;
/// A file deleted or rotated away is read until it has been idle this long, then closed.
const GONE_GRACE: Duration = Duration::from_secs(2);
/// A multiline event with no continuation for this long is complete.
const MULTILINE_FLUSH: Duration = Duration::from_secs(1);
/// Distinct problem paths remembered so each is counted and logged once.
const MAX_REMEMBERED: usize = 10_000;

/// The thread that tails one source. It outlives a reload that restarts its tailer (new paths
/// or line rules): the next run starts on the same thread and, when the globs are unchanged,
/// with the same inotify watch, so a reload costs no thread, stack or inotify instance.
pub(crate) struct TailerThread {
    runs: mpsc::Sender<Run>,
    /// One message each time a run ends.
    ended: mpsc::Receiver<()>,
    /// Cancels the current run.
    cancel: CancellationToken,
    thread: std::thread::JoinHandle<()>,
}

/// One run of a tailer: its settings, where to resume, and what stops it.
struct Run {
    config: FileSourceConfig,
    saved: Option<Saved>,
    /// Read the history of the files found first (see `history`).
    history: bool,
    cancel: CancellationToken,
}

impl TailerThread {
    /// Starts the tailer of source `index` on its own thread. `saved` are its checkpoint
    /// entries; `None` when this source was never watched (then `start_at` applies to the files
    /// found first). With `history` (and `start_at = "end"`, no `saved`), the last part of
    /// those files is read first as history. The run stops when `parent` is cancelled, or at
    /// [`TailerThread::stop`].
    pub(crate) fn spawn<C: Send + 'static>(
        index: usize,
        config: FileSourceConfig,
        saved: Option<Saved>,
        history: bool,
        tx: SyncSender<TailEvent<C>>,
        stats: Arc<Stats>,
        parent: &CancellationToken,
    ) -> io::Result<TailerThread> {
        let (runs, next) = mpsc::channel::<Run>();
        let (ended_tx, ended) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("tail-{}", config.name))
            .spawn(move || {
                let mut kept: Option<Watch> = None;
                // Ends when the sender is dropped (the source removed, or the agent stopping).
                while let Ok(run) = next.recv() {
                    let watch = match kept.take() {
                        Some(w) if w.paths() == run.config.paths.as_slice() => w,
                        _ => Watch::new(&run.config.paths, &run.config.name),
                    };
                    let (config, saved) = (run.config, run.saved);
                    let (tx, stats) = (tx.clone(), Arc::clone(&stats));
                    let mut t = Tailer::new(index, config, saved, tx, stats, run.cancel, watch);
                    if run.history {
                        t.want_history();
                    }
                    t.run();
                    kept = Some(t.watch);
                    let _ = ended_tx.send(());
                }
            })?;
        let mut t = TailerThread {
            runs,
            ended,
            cancel: CancellationToken::new(),
            thread,
        };
        t.start_run(config, saved, history, parent);
        Ok(t)
    }

    /// Starts a run (after [`TailerThread::stop`]).
    pub(crate) fn start(
        &mut self,
        config: FileSourceConfig,
        saved: Option<Saved>,
        parent: &CancellationToken,
    ) {
        self.start_run(config, saved, false, parent);
    }

    fn start_run(
        &mut self,
        config: FileSourceConfig,
        saved: Option<Saved>,
        history: bool,
        parent: &CancellationToken,
    ) {
        self.cancel = parent.child_token();
        let cancel = self.cancel.clone();
        // Fails only if the thread is gone (it panicked): the source then reads nothing, as a
        // dead thread did before.
        let _ = self.runs.send(Run {
            config,
            saved,
            history,
            cancel,
        });
    }

    /// Stops the current run and waits until it has ended: everything it read is sent. Blocks.
    pub(crate) fn stop(&self) {
        self.cancel.cancel();
        let _ = self.ended.recv();
    }

    /// Ends the thread (after its run was cancelled) and waits for it. Blocks.
    pub(crate) fn join(self) {
        self.cancel.cancel();
        drop(self.runs);
        let _ = self.thread.join();
    }
}

struct Tailer<C> {
    index: usize,
    cfg: FileSourceConfig,
    rules: LineRules,
    files: HashMap<FileId, TailFile>,
    by_path: HashMap<PathBuf, FileId>,
    /// Checkpoint entries not yet matched to a file.
    saved: HashMap<FileId, Entry>,
    /// Files found by the first discovery of a never-watched source start at `start_at`;
    /// every other new file is read from its beginning.
    first_sight: bool,
    /// Files with more to read than one turn allowed.
    busy: HashSet<FileId>,
    ignored: HashSet<FileId>,
    /// Copies of a followed file (see `copies`), left alone while the original is followed.
    copies: HashSet<FileId>,
    /// Where truncated, rewritten and finished files stopped, for their copies.
    ends: Ends,
    ignored_paths: HashSet<PathBuf>,
    denied: HashSet<PathBuf>,
    problems: HashSet<PathBuf>,
    open: usize,
    clock: u64,
    tx: SyncSender<TailEvent<C>>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    watch: Watch,
    error_log: LogLimiter,
    stopped: bool,
    watched_reported: u64,
    /// While the first discovery reads history (see `history`).
    history: Option<HistoryBudget>,
}

impl<C: Send> Tailer<C> {
    fn new(
        index: usize,
        cfg: FileSourceConfig,
        saved: Option<Saved>,
        tx: SyncSender<TailEvent<C>>,
        stats: Arc<Stats>,
        cancel: CancellationToken,
        watch: Watch,
    ) -> Tailer<C> {
        let multiline_start = cfg
            .multiline_start
            .as_ref()
            .and_then(|p| regex::bytes::Regex::new(p.regex().as_str()).ok());
        let rules = LineRules {
            max_line_bytes: cfg.max_line_bytes,
            multiline_start,
            container: tail::ContainerRule::of(cfg.container()),
        };
        let first_sight = saved.is_none();
        let saved = saved.unwrap_or_default();
        let mut ends = Ends::default();
        for e in saved.ends.iter().filter(|e| !e.expired()) {
            ends.record(e.head, e.offset);
        }
        let saved = saved.files.into_iter().map(|e| (e.id, e)).collect();
        Tailer {
            index,
            cfg,
            rules,
            files: HashMap::new(),
            by_path: HashMap::new(),
            saved,
            first_sight,
            busy: HashSet::new(),
            ignored: HashSet::new(),
            copies: HashSet::new(),
            ends,
            ignored_paths: HashSet::new(),
            denied: HashSet::new(),
            problems: HashSet::new(),
            open: 0,
            clock: 0,
            tx,
            stats,
            cancel,
            watch,
            error_log: LogLimiter::new(Duration::from_secs(300)),
            stopped: false,
            watched_reported: 0,
            history: None,
        }
    }

    /// Reads the history of the files the first discovery finds, when they start at their end.
    fn want_history(&mut self) {
        if self.first_sight && self.cfg.start_at == StartAt::End && self.cfg.history_bytes > 0 {
            self.history = Some(HistoryBudget::new(
                self.cfg.history_bytes,
                self.cfg.history_timeout,
            ));
        }
    }

    fn run(&mut self) {
        let mut next_discovery = Instant::now();
        let mut next_sweep = Instant::now();
        while !self.cancel.is_cancelled() && !self.stopped {
            let now = Instant::now();
            let (discovery_every, sweep_every) = if self.watch.is_live() {
                (Duration::from_secs(5), Duration::from_secs(1))
            } else {
                (Duration::from_secs(1), Duration::from_millis(250))
            };
            let changes = self.watch.take();
            if changes.rediscover || now >= next_discovery {
                self.discover();
                next_discovery = now + discovery_every;
            }
            let mut work: Vec<FileId> = if changes.overflow || now >= next_sweep {
                next_sweep = now + sweep_every;
                self.files.keys().copied().collect()
            } else {
                changes
                    .paths
                    .iter()
                    .filter_map(|p| self.by_path.get(p).copied())
                    .collect()
            };
            work.extend(self.busy.drain());
            work.sort_unstable();
            work.dedup();
            for id in work {
                if self.cancel.is_cancelled() || self.stopped {
                    break;
                }
                self.read_file(id);
            }
            self.finish_gone();
            if self.busy.is_empty() {
                let until = next_sweep.min(next_discovery);
                let wait = until
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(250));
                self.watch.wait(wait);
            }
        }
        // Stopped (shutdown, or its source removed or changed by a reload): nothing is watched.
        self.files.clear();
        self.report_watched();
    }

    /// Keeps the shared gauge equal to the sum of every tailer's file count.
    fn report_watched(&mut self) {
        let now = self.files.len() as u64;
        let g = &self.stats.log_files_watched;
        if now > self.watched_reported {
            Stats::add(g, now - self.watched_reported);
        } else {
            g.fetch_sub(
                self.watched_reported - now,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        self.watched_reported = now;
    }

    fn send(&mut self, event: TailEvent<C>) {
        if self.tx.send(event).is_err() {
            self.stopped = true;
        }
    }

    /// Counts a problem path once, logging it once.
    fn problem_once(&mut self, path: &Path) -> bool {
        if self.problems.len() >= MAX_REMEMBERED {
            return false;
        }
        self.problems.insert(path.to_owned())
    }

    fn discover(&mut self) {
        let mut problems = Vec::new();
        let found = discovery::discover(&self.cfg.paths, &self.cfg.exclude, &mut problems);
        for p in problems {
            match p {
                WalkProblem::SymlinkLoop(path) => {
                    if self.problem_once(&path) {
                        Stats::add(&self.stats.log_symlink_loops, 1);
                        tracing::warn!(source = %self.cfg.name, path = %path.display(), "symbolic link loop: not followed");
                    }
                }
                WalkProblem::Unreadable(path, e) => {
                    if self.problem_once(&path) {
                        Stats::add(&self.stats.log_walk_errors, 1);
                        if e.kind() == io::ErrorKind::PermissionDenied {
                            Stats::add(&self.stats.log_permission_denied, 1);
                        }
                        tracing::warn!(source = %self.cfg.name, path = %path.display(), error = %e, "cannot list this path; retrying on every discovery");
                    }
                }
            }
        }
        // Every file listed, readable or not: a checkpoint of a file that exists but cannot be
        // opened right now (permission) is kept for when it can.
        let listed: HashSet<FileId> = found
            .values()
            .filter_map(|what| match what {
                Found::File(m) => Some(FileId::of(m)),
                Found::Skipped(_) => None,
            })
            .collect();
        // Checkpointed files renamed, while the agent was away, to a name the globs do not
        // match: read to their end once, then let go.
        let renamed_away = self.find_renamed_away(&listed);
        // Checkpoints of files that no longer exist: forget them, keeping where they stopped
        // for a copy of them.
        let stale: Vec<FileId> = self
            .saved
            .keys()
            .filter(|id| !listed.contains(id) && !renamed_away.iter().any(|(_, r)| r == *id))
            .copied()
            .collect();
        for id in stale {
            if let Some(e) = self.saved.remove(&id) {
                self.record_end(e.head, e.pos.offset);
            }
            self.send(TailEvent::Gone {
                source: self.index,
                id,
            });
        }
        self.settle_mismatched(&found);
        // Checkpointed files first: an original resumes, or is found truncated, before a copy
        // of it is judged.
        let mut found: Vec<(PathBuf, Found)> = found.into_iter().collect();
        found.sort_by_key(
            |(_, what)| !matches!(what, Found::File(m) if self.saved.contains_key(&FileId::of(m))),
        );
        let mut seen: HashSet<FileId> = HashSet::new();
        self.by_path.clear();
        for (path, what) in found {
            let meta = match what {
                Found::Skipped(kind) => {
                    self.skip_path(&path, kind);
                    continue;
                }
                Found::File(m) => m,
            };
            let id = FileId::of(&meta);
            if self.ignored.contains(&id) {
                continue;
            }
            if let Some(t) = self.files.get_mut(&id) {
                if t.path != path {
                    Stats::add(&self.stats.log_files_renamed, 1);
                    t.path = path.clone();
                }
                t.gone_since = None;
                seen.insert(id);
                self.by_path.insert(path, id);
                continue;
            }
            if self.track(&path, id) {
                seen.insert(id);
                self.by_path.insert(path, id);
            }
        }
        let now = Instant::now();
        for (path, id) in renamed_away {
            if self.track(&path, id) {
                Stats::add(&self.stats.log_files_renamed_away, 1);
                tracing::warn!(source = %self.cfg.name, path = %path.display(), "a file being read was renamed to a name outside the globs while the agent was away: reading it to its end once, then letting it go");
                if let Some(t) = self.files.get_mut(&id) {
                    t.gone_since = Some(now);
                }
            }
        }
        // Files no longer at any matching path: finish those still open, forget the others.
        let mut forget = Vec::new();
        for (id, t) in &mut self.files {
            if seen.contains(id) {
                continue;
            }
            if t.file.is_some() {
                t.gone_since.get_or_insert(now);
            } else {
                forget.push(*id);
            }
        }
        for id in forget {
            self.drop_file(id, false);
        }
        self.first_sight = false;
        if let Some(h) = self.history.take() {
            self.send(TailEvent::HistoryEnd {
                source: Some(self.index),
                read: h.read,
            });
        }
        self.report_watched();
        self.watch.refresh(&self.cfg.paths);
    }

    /// Checkpoints whose file no longer has the fingerprint read before: its inode reused by
    /// another file (copytruncate's copy made while the agent was away can take the inode of
    /// a deleted file), or the file truncated and rewritten. Settled before any file is judged,
    /// so that where reading stopped is known to a copy whichever is listed first; each such
    /// file is then judged as a new one (a copy of a followed or truncated file, or new lines).
    fn settle_mismatched(&mut self, found: &BTreeMap<PathBuf, Found>) {
        for (path, what) in found {
            let Found::File(meta) = what else { continue };
            let id = FileId::of(meta);
            let Some(e) = self.saved.get(&id) else {
                continue;
            };
            let matches = File::open(path).and_then(|f| e.head.matches(&f, meta.len()));
            if !matches!(matches, Ok(false)) {
                // It matches (checked again by `track`), or cannot be read now: kept.
                continue;
            }
            let Some(e) = self.saved.remove(&id) else {
                continue;
            };
            Stats::add(&self.stats.log_checkpoints_mismatched, 1);
            tracing::warn!(source = %self.cfg.name, path = %path.display(), offset = e.pos.offset, size = meta.len(), "checkpointed file's fingerprint does not match (rewritten in place, or its inode reused): judged as a new file (a copy of a rotated file goes on from where its original stopped, anything else is read from its start)");
            self.record_end(e.head, e.pos.offset);
        }
    }

    /// Checkpointed files (not yet matched) that the globs no longer list, found renamed in
    /// the directory they were last seen in: same device and inode, and the same fingerprint
    /// (checked by `track`). Bounded: only those directories, each listed once.
    fn find_renamed_away(&self, listed: &HashSet<FileId>) -> Vec<(PathBuf, FileId)> {
        let mut wanted: HashMap<PathBuf, HashSet<FileId>> = HashMap::new();
        for (id, e) in &self.saved {
            if listed.contains(id) {
                continue;
            }
            if let Some(dir) = Path::new(&e.path).parent() {
                wanted.entry(dir.to_owned()).or_default().insert(*id);
            }
        }
        let mut out = Vec::new();
        for (dir, ids) in wanted {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten().take(MAX_REMEMBERED) {
                let path = entry.path();
                // Not following links: the file itself, under its new name.
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                let id = FileId::of(&meta);
                if !meta.is_file() || !ids.contains(&id) || out.iter().any(|(_, o)| *o == id) {
                    continue;
                }
                // The same content as read before, not a reused inode.
                let same = self.saved.get(&id).is_some_and(|e| {
                    e.pos.offset <= meta.len()
                        && File::open(&path)
                            .and_then(|f| e.head.matches(&f, meta.len()))
                            .unwrap_or(false)
                });
                if same {
                    out.push((path, id));
                }
            }
        }
        out
    }

    fn skip_path(&mut self, path: &Path, kind: Skip) {
        if self.ignored_paths.len() >= MAX_REMEMBERED || !self.ignored_paths.insert(path.to_owned())
        {
            return;
        }
        match kind {
            Skip::Compressed => {
                Stats::add(&self.stats.log_files_compressed, 1);
                tracing::info!(source = %self.cfg.name, path = %path.display(), "compressed file matched: not read as text");
            }
            Skip::NotRegular => {
                Stats::add(&self.stats.log_files_not_regular, 1);
                tracing::warn!(source = %self.cfg.name, path = %path.display(), "matched a path that is not a regular file (directory, FIFO, socket or device): not read");
            }
        }
    }

    /// Starts tracking a file never seen in this run. False when it cannot be read (yet).
    fn track(&mut self, path: &Path, id: FileId) -> bool {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.open_failed(path, &e);
                return false;
            }
        };
        if self.denied.remove(path) {
            tracing::info!(source = %self.cfg.name, path = %path.display(), "file is readable now");
        }
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                self.open_failed(path, &e);
                return false;
            }
        };
        if FileId::of(&meta) != id {
            // Replaced between listing and opening: the next discovery sees the new one.
            return false;
        }
        let size = meta.len();
        let mut magic = [0u8; 8];
        let n = file.read_at(&mut magic, 0).unwrap_or(0);
        if identity::is_compressed(&magic[..n]) {
            self.ignored.insert(id);
            self.skip_path(path, Skip::Compressed);
            return false;
        }
        let head = match Head::read(&file, size) {
            Ok(h) => h,
            Err(e) => {
                self.open_failed(path, &e);
                return false;
            }
        };
        // A checkpoint is checked against the file before it is trusted.
        let mut distrusted = false;
        let resumed = match self.saved.remove(&id) {
            Some(e) => match (
                e.head.matches(&file, size).unwrap_or(false),
                e.pos.offset <= size,
            ) {
                (true, true) => Some(e),
                (head_ok, _) => {
                    distrusted = true;
                    if head_ok {
                        Stats::add(&self.stats.log_checkpoints_beyond_size, 1);
                        tracing::warn!(source = %self.cfg.name, path = %path.display(), offset = e.pos.offset, size, "checkpoint offset beyond the file's size (truncated while the agent was away, or a damaged checkpoint): reading the file again from its start");
                    } else {
                        Stats::add(&self.stats.log_checkpoints_mismatched, 1);
                        tracing::warn!(source = %self.cfg.name, path = %path.display(), offset = e.pos.offset, size, "checkpointed file's fingerprint does not match (rewritten in place, or its inode reused): reading it from its start");
                    }
                    if !head_ok {
                        // A copy of the old content elsewhere goes on from where reading
                        // stopped; this file itself is not that copy.
                        self.record_end(e.head, e.pos.offset);
                    }
                    None
                }
            },
            None => None,
        };
        if resumed.is_none() && !distrusted && self.is_copy_of_a_followed_file(path, id, head) {
            return false;
        }
        let copy_from = match resumed {
            Some(_) => None,
            None if distrusted => None,
            None => self.take_end(path, id, head),
        };
        let resumed_here = resumed.is_some();
        let pos = match (resumed, copy_from) {
            (Some(e), _) => e.pos,
            (None, Some(offset)) => ReadPos {
                offset: offset.min(size),
                skipping: false,
            },
            (None, None) if self.first_sight && self.cfg.start_at == StartAt::End => {
                // Start after the last complete line; a partial one is skipped, not cut.
                let mut last = [0u8; 1];
                let ends_with_newline = size == 0
                    || (file.read_at(&mut last, size - 1).unwrap_or(0) == 1 && last[0] == b'\n');
                if let Some(mut h) = self.history.take() {
                    let (index, tx) = (self.index, self.tx.clone());
                    h.read(path, id, head, &file, size, &self.rules, |lines| {
                        tx.send(TailEvent::History {
                            source: index,
                            lines,
                        })
                        .is_ok()
                    });
                    self.history = Some(h);
                }
                ReadPos {
                    offset: size,
                    skipping: !ends_with_newline,
                }
            }
            (None, None) => ReadPos::default(),
        };
        let mut t = TailFile::new(path.to_owned(), id, head, pos);
        self.make_room();
        t.file = Some(file);
        self.open += 1;
        self.clock += 1;
        t.last_used = self.clock;
        self.files.insert(id, t);
        self.busy.insert(id);
        if !resumed_here && pos.offset > 0 {
            // Not read from its start, and not resumed from a checkpoint (a copy taken up where
            // its original stopped, or `start_at = "end"`): checkpoint the position now, not
            // with the first line, which may never come; else a restart reads it all again.
            self.mark_position(id);
        }
        true
    }

    /// Reading of the file fingerprinted `head` stopped at `offset` (it was truncated, rewritten
    /// or finished): kept for its copy, here and in the checkpoints. Sent after its last lines.
    fn record_end(&mut self, head: Head, offset: u64) {
        if head.is_complete() {
            self.ends.record(head, offset);
            self.send(TailEvent::Ended {
                source: self.index,
                end: End::now(head, offset),
            });
        }
    }

    /// Hands the log stage file `id`'s position with no lines, so that it is checkpointed even
    /// when no line follows. A copy read from where its original stopped often holds nothing
    /// more: without its own checkpoint, a restarted tailer (a reload, an agent restart) would
    /// take it for a new file and read every line of it again.
    fn mark_position(&mut self, id: FileId) {
        if self.files.contains_key(&id) {
            let batch = self.batch_of(id, Lines::default());
            self.send(batch);
        }
    }

    /// A file with the same complete fingerprint as a file followed under another inode is a
    /// copy (copytruncate's rotated copy, a backup): it holds nothing the original does not.
    fn is_copy_of_a_followed_file(&mut self, path: &Path, id: FileId, head: Head) -> bool {
        let copy = head.is_complete()
            && self
                .files
                .values()
                .any(|t| t.id != id && t.head == head && !t.deleted);
        if copy && self.copies.len() < MAX_REMEMBERED && self.copies.insert(id) {
            Stats::add(&self.stats.log_files_copies, 1);
            tracing::info!(source = %self.cfg.name, path = %path.display(), "a copy of a followed file: not read while the original is followed");
        }
        copy
    }

    /// A file found without a complete fingerprint and not read from yet has one now. It may
    /// be copytruncate's copy: the copy is created empty and then written, and discovery can
    /// meet it in between, before anything tells it from a new file. Decided now as `track`
    /// decides for a file found whole; false when it is a copy of a followed file and no
    /// longer tracked (discovery tracks it again, from where the original stopped, once the
    /// original is truncated or finished).
    fn settle_fresh(&mut self, id: FileId, size: u64) -> bool {
        let Some((path, head)) = self.files.get(&id).map(|t| (t.path.clone(), t.head)) else {
            return false;
        };
        if self.is_copy_of_a_followed_file(&path, id, head) {
            self.drop_file(id, false);
            return false;
        }
        if let Some(offset) = self.take_end(&path, id, head) {
            if let Some(t) = self.files.get_mut(&id) {
                t.start_at(ReadPos {
                    offset: offset.min(size),
                    skipping: false,
                });
            }
            self.mark_position(id);
        }
        true
    }

    /// Where to start file `id`, fingerprinted `head`, when it is the copy of a file that was
    /// truncated or finished: where reading of that file stopped (counted and logged).
    fn take_end(&mut self, path: &Path, id: FileId, head: Head) -> Option<u64> {
        let offset = self.ends.take(head)?;
        if !self.copies.remove(&id) {
            Stats::add(&self.stats.log_files_copies, 1);
        }
        tracing::info!(source = %self.cfg.name, path = %path.display(), offset, "a copy of a file that was truncated or finished (copytruncate rotation): reading it from where the original stopped");
        Some(offset)
    }

    fn open_failed(&mut self, path: &Path, e: &io::Error) {
        match e.kind() {
            io::ErrorKind::NotFound => Stats::add(&self.stats.log_files_vanished, 1),
            io::ErrorKind::PermissionDenied => {
                if self.denied.len() < MAX_REMEMBERED && self.denied.insert(path.to_owned()) {
                    Stats::add(&self.stats.log_permission_denied, 1);
                    tracing::warn!(source = %self.cfg.name, path = %path.display(), "permission denied: not read; retrying on every discovery (logged once per file)");
                }
            }
            _ => {
                Stats::add(&self.stats.log_read_errors, 1);
                if let Some(n) = self.error_log.hit() {
                    tracing::warn!(source = %self.cfg.name, path = %path.display(), error = %e, errors = n, "cannot open a log file (logged at most every 5 minutes)");
                }
            }
        }
    }

    /// Closes the least recently used handle when `max_open_files` are open.
    fn make_room(&mut self) {
        while self.open >= self.cfg.max_open_files {
            let victim = self
                .files
                .values()
                .filter(|t| t.file.is_some() && t.gone_since.is_none())
                .min_by_key(|t| t.last_used)
                .map(|t| t.id);
            let Some(id) = victim else { return };
            if let Some(t) = self.files.get_mut(&id) {
                t.close();
                self.open -= 1;
            }
        }
    }

    /// Reopens a closed file by its path, if the path still names it.
    fn reopen(&mut self, id: FileId) -> bool {
        let Some(path) = self.files.get(&id).map(|t| t.path.clone()) else {
            return false;
        };
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                self.open_failed(&path, &e);
                return false;
            }
        };
        match file.metadata() {
            Ok(m) if FileId::of(&m) == id => {}
            _ => return false,
        }
        self.make_room();
        if let Some(t) = self.files.get_mut(&id) {
            t.file = Some(file);
            self.open += 1;
        }
        true
    }

    fn read_file(&mut self, id: FileId) {
        let Some(t) = self.files.get(&id) else { return };
        if t.file.is_none() {
            if t.gone_since.is_some() {
                return;
            }
            // A closed file is only worth reopening when it grew (or shrank).
            match std::fs::metadata(&t.path) {
                Ok(m) if FileId::of(&m) == id && m.len() != t.read_pos() => {}
                _ => return,
            }
            if !self.reopen(id) {
                return;
            }
        }
        self.clock += 1;
        let clock = self.clock;
        let Some(t) = self.files.get_mut(&id) else {
            return;
        };
        t.last_used = clock;
        let Some(file) = t.file.as_ref() else { return };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                Stats::add(&self.stats.log_read_errors, 1);
                if let Some(n) = self.error_log.hit() {
                    tracing::warn!(path = %t.path.display(), error = %e, errors = n, "cannot stat a log file (logged at most every 5 minutes)");
                }
                return;
            }
        };
        if meta.nlink() == 0 && !t.deleted {
            t.deleted = true;
            Stats::add(&self.stats.log_files_deleted, 1);
            t.gone_since.get_or_insert_with(Instant::now);
        }
        let size = meta.len();
        let mut lines = Lines::default();
        let rewritten = size < t.read_pos() || !t.head.matches(file, size).unwrap_or(true);
        if rewritten {
            Stats::add(&self.stats.log_files_truncated, 1);
            tracing::info!(path = %t.path.display(), "file truncated or rewritten in place (copytruncate): reading it again from the start");
            let (head, end) = (t.head, t.handed_out());
            t.restart(&mut lines);
            if !lines.is_empty() {
                // An event assembled from the old content: hand it out with the old position.
                let batch = self.batch_of(id, lines);
                self.send(batch);
            }
            self.record_end(head, end);
        }
        self.read_up_to(id, size);
    }

    /// Reads file `id`, which `stat` said holds `size` bytes, from where reading stopped.
    fn read_up_to(&mut self, id: FileId, size: u64) {
        let Some(t) = self.files.get_mut(&id) else {
            return;
        };
        let Some(file) = t.file.as_ref() else { return };
        // Found too short for a fingerprint and not read yet: it may be copytruncate's copy,
        // created empty and written afterwards. Decide that before reading it, and read no
        // further than the `size` judged: the copy may be written between the stat and the read.
        let fresh = t.read_pos() == 0 && !t.head.is_complete();
        if fresh && size > u64::from(t.head.len) {
            if let Ok(h) = Head::read(file, size) {
                t.head = h;
                if h.is_complete() && !self.settle_fresh(id, size) {
                    return;
                }
            }
        }
        let Some(t) = self.files.get_mut(&id) else {
            return;
        };
        let budget = if fresh {
            size.min(READ_BUDGET)
        } else {
            READ_BUDGET
        };
        let mut lines = Lines::default();
        let outcome = match t.read(&self.rules, &mut lines, budget) {
            // All of what the stat saw is read: the rest waits for the next change.
            Ok(o) if fresh && o.bytes == size => ReadOutcome { eof: true, ..o },
            Ok(o) => o,
            Err(e) => {
                Stats::add(&self.stats.log_read_errors, 1);
                if let Some(n) = self.error_log.hit() {
                    tracing::warn!(path = %t.path.display(), error = %e, errors = n, "cannot read a log file (logged at most every 5 minutes)");
                }
                return;
            }
        };
        // Fingerprint up to what was read, not to the size seen before reading: a file that
        // grew past 1 KiB during this read has a complete head before its lines are handed
        // out, so a copytruncate copy made after they were processed is recognised.
        if !t.head.is_complete() && t.read_pos() > u64::from(t.head.len) {
            if let Some(h) = t
                .file
                .as_ref()
                .and_then(|f| Head::read(f, t.read_pos()).ok())
            {
                t.head = h;
            }
        }
        Stats::add(&self.stats.log_bytes_read, outcome.bytes);
        if !outcome.eof {
            self.busy.insert(id);
        } else if t.has_pending() && t.last_growth.elapsed() >= MULTILINE_FLUSH {
            t.flush_pending(&mut lines);
        } else if t.has_pending() {
            // Come back to close the event once the flush delay has passed.
            self.busy.insert(id);
        }
        if !lines.is_empty() {
            let batch = self.batch_of(id, lines);
            self.send(batch);
        }
    }

    /// A batch of `lines` from file `id`, resuming at the file's current checkpoint.
    fn batch_of(&self, id: FileId, lines: Lines) -> TailEvent<C> {
        let t = &self.files[&id];
        Stats::add(&self.stats.log_lines_truncated, lines.truncated);
        let k8s = match self.rules.container {
            tail::ContainerRule::Plain => None,
            _ => k8s::from_path(&t.path).map(Arc::new),
        };
        TailEvent::Lines(LineBatch {
            source: self.index,
            id,
            head: t.head,
            path: t.path.to_string_lossy().into(),
            lines,
            pos: t.checkpoint(),
            k8s,
        })
    }

    /// Files deleted or rotated away: once read to their end and idle, hand out what is left
    /// and forget them.
    fn finish_gone(&mut self) {
        let done: Vec<FileId> = self
            .files
            .values()
            .filter(|t| {
                t.gone_since.is_some_and(|g| g.elapsed() >= GONE_GRACE)
                    && t.last_growth.elapsed() >= GONE_GRACE
                    && !self.busy.contains(&t.id)
            })
            .map(|t| t.id)
            .collect();
        for id in done {
            // One last read: the grace period may have brought a few more lines.
            self.read_file(id);
            if self.busy.contains(&id) {
                continue;
            }
            self.drop_file(id, true);
        }
    }

    fn drop_file(&mut self, id: FileId, finished: bool) {
        let Some(mut t) = self.files.remove(&id) else {
            return;
        };
        let mut lines = Lines::default();
        t.finish(&self.rules, &mut lines);
        // Copied, then deleted (a move across file systems): its copy goes on from here.
        let end = finished.then(|| (t.head, t.handed_out()));
        if t.file.take().is_some() {
            self.open -= 1;
        }
        if finished {
            Stats::add(&self.stats.log_files_finished, 1);
        }
        if !lines.is_empty() {
            self.files.insert(id, t);
            let batch = self.batch_of(id, lines);
            self.files.remove(&id);
            self.send(batch);
        }
        if let Some((head, offset)) = end {
            self.record_end(head, offset);
        }
        self.busy.remove(&id);
        self.send(TailEvent::Gone {
            source: self.index,
            id,
        });
        self.report_watched();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::mpsc::{sync_channel, Receiver};
    use std::sync::Mutex;

    /// Collects what the tailer sends until `want` lines arrived (bounded wait).
    fn collect(rx: &Receiver<TailEvent<()>>, want: usize, got: &mut Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < want && Instant::now() < deadline {
            if let Ok(TailEvent::Lines(b)) = rx.recv_timeout(Duration::from_millis(100)) {
                got.extend(
                    b.lines
                        .iter()
                        .map(|l| String::from_utf8_lossy(l).into_owned()),
                );
            }
        }
    }

    /// Collects whatever else arrives within `wait`: a line read twice shows up here.
    fn collect_more(rx: &Receiver<TailEvent<()>>, wait: Duration, got: &mut Vec<String>) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(TailEvent::Lines(b)) = rx.recv_timeout(Duration::from_millis(100)) {
                got.extend(
                    b.lines
                        .iter()
                        .map(|l| String::from_utf8_lossy(l).into_owned()),
                );
            }
        }
    }

    /// Waits a little for anything read twice (it would arrive after the last expected
    /// line), stops the tailer, and checks that `got` holds exactly the lines `written`.
    fn every_line_once(
        rx: Receiver<TailEvent<()>>,
        cancel: CancellationToken,
        thread: std::thread::JoinHandle<()>,
        mut got: Vec<String>,
        mut written: Vec<String>,
    ) {
        collect_more(&rx, Duration::from_secs(3), &mut got);
        cancel.cancel();
        drop(rx);
        thread.join().unwrap();
        got.sort();
        written.sort();
        assert_eq!(got, written);
    }

    /// A tailer on `app.log*` in `dir` that only polls (as when notify cannot start: nothing
    /// ever wakes it), on its own thread.
    fn polling_tailer(
        dir: &Path,
    ) -> (
        Receiver<TailEvent<()>>,
        CancellationToken,
        Arc<Stats>,
        std::thread::JoinHandle<()>,
    ) {
        let (mut t, rx) = manual_tailer(dir, None);
        let (cancel, stats) = (t.cancel.clone(), Arc::clone(&t.stats));
        let thread = std::thread::spawn(move || t.run());
        (rx, cancel, stats, thread)
    }

    /// copytruncate with a glob that also matches the rotated copy: the copy is not read
    /// again, and the lines written just before the truncation, which only the copy still has,
    /// are read once: every line exactly once, whatever the tailer saw in between.
    #[test]
    fn copytruncate_with_the_copy_matched_reads_every_line_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let log = dir.join("app.log");
        let line = |i: usize| format!("line {i:04} of the application log, padded to some length");
        let mut written: Vec<String> = (0..50).map(line).collect();
        std::fs::write(
            &log,
            written.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        let (rx, cancel, stats, thread) = polling_tailer(dir);
        let mut got = Vec::new();
        collect(&rx, 50, &mut got);
        for round in 0..3 {
            // Lines the tailer may or may not read before the rotation.
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            for i in 0..20 {
                let l = line(1000 * (round + 1) + i);
                writeln!(f, "{l}").unwrap();
                written.push(l);
            }
            drop(f);
            // logrotate's copytruncate: copy, then truncate in place, then the app writes on.
            let copy = dir.join(format!("app.log.{round}"));
            std::fs::copy(&log, &copy).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&log)
                .unwrap()
                .set_len(0)
                .unwrap();
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            for i in 0..30 {
                let l = line(1000 * (round + 1) + 100 + i);
                writeln!(f, "{l}").unwrap();
                written.push(l);
            }
            drop(f);
            collect(&rx, written.len(), &mut got);
        }
        every_line_once(rx, cancel, thread, got, written);
        assert!(Stats::get(&stats.log_files_copies) >= 1);
    }

    /// A copy with nothing left to read (the original was read to its end before it was
    /// truncated) is handed to the log stage at once with its position, so it is checkpointed
    /// there and not read again from its start after a restart.
    #[test]
    fn a_copy_taken_up_at_its_end_is_handed_out_with_its_position() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let log = dir.join("app.log");
        let text: String = (0..40)
            .map(|i| format!("line {i:04} of the application log, padded to some length\n"))
            .collect();
        std::fs::write(&log, &text).unwrap();
        let (rx, cancel, _stats, thread) = polling_tailer(dir);
        let mut got = Vec::new();
        collect(&rx, 40, &mut got);
        assert_eq!(got.len(), 40);
        // copytruncate, the copy appearing whole.
        std::fs::write(dir.join("copy.tmp"), &text).unwrap();
        std::fs::rename(dir.join("copy.tmp"), dir.join("app.log.1")).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut taken = None;
        while taken.is_none() && Instant::now() < deadline {
            if let Ok(TailEvent::Lines(b)) = rx.recv_timeout(Duration::from_millis(100)) {
                assert!(b.lines.is_empty(), "nothing is read twice");
                if b.path.ends_with("app.log.1") {
                    taken = Some(b.pos);
                }
            }
        }
        cancel.cancel();
        drop(rx);
        thread.join().unwrap();
        assert_eq!(
            taken,
            Some(ReadPos {
                offset: text.len() as u64,
                skipping: false
            })
        );
    }

    /// copytruncate's copy is created empty and written afterwards; a tailer that finds it
    /// empty must not take it for a new file once its content arrives (it would read every
    /// line of the original again). Found by the soak benchmark (tests/benches/soak). The
    /// tailer is driven by hand so that it meets the copy exactly while it is empty.
    #[test]
    fn a_copy_found_while_empty_is_still_recognised() {
        copy_met_empty(false);
    }

    /// The race a loaded machine hit in the soak (7,500 lines read twice): the tailer's stat
    /// of the copy found it empty, and it was written before the read that followed.
    #[test]
    fn a_copy_written_between_the_stat_and_the_read_is_still_recognised() {
        copy_met_empty(true);
    }

    /// copytruncate as logrotate does it, with the copy found while still empty; when
    /// `written_after_stat`, the copy is filled between a stat that saw it empty and the read.
    fn copy_met_empty(written_after_stat: bool) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let log = dir.join("app.log");
        let line = |i: usize| format!("line {i:04} of the application log, padded to some length");
        let mut written: Vec<String> = (0..50).map(line).collect();
        let text = |ls: &[String]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
        std::fs::write(&log, text(&written)).unwrap();
        let (mut t, rx) = manual_tailer(dir, None);
        let (cancel, stats) = (t.cancel.clone(), Arc::clone(&t.stats));
        read_all(&mut t);
        let mut got = Vec::new();
        collect(&rx, 50, &mut got);

        // Lines only the copy will hold: written, then rotated before the tailer reads them.
        let tail: Vec<String> = (100..120).map(line).collect();
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(text(&tail).as_bytes()).unwrap();
        written.extend(tail);
        // Create the copy, which the tailer finds empty...
        let copy = dir.join("app.log.1");
        let mut c = std::fs::File::create(&copy).unwrap();
        read_all(&mut t);
        let copy_id = FileId::of(&std::fs::metadata(&copy).unwrap());
        assert!(t.files.contains_key(&copy_id));
        // ...then fill it, and truncate the original.
        c.write_all(&std::fs::read(&log).unwrap()).unwrap();
        drop(c);
        if written_after_stat {
            t.read_up_to(copy_id, 0);
        }
        f.set_len(0).unwrap();
        let after: Vec<String> = (200..230).map(line).collect();
        f.write_all(text(&after).as_bytes()).unwrap();
        written.extend(after);

        let thread = std::thread::spawn(move || t.run());
        collect(&rx, written.len(), &mut got);
        every_line_once(rx, cancel, thread, got, written);
        assert!(Stats::get(&stats.log_files_copies) >= 1);
    }

    /// A tailer driven by hand (polling only) on `app.log*` in `dir`, resuming from `saved`.
    fn manual_tailer(dir: &Path, saved: Option<Saved>) -> (Tailer<()>, Receiver<TailEvent<()>>) {
        let config = seismo_config::parse(
            &format!(
                "[[sources.files]]\nname = \"t\"\npaths = [\"{}/app.log*\"]\nstart_at = \"beginning\"\n",
                dir.display()
            ),
            "t",
        )
        .unwrap()
        .sources
        .files
        .remove(0);
        let (wake_tx, wake) = sync_channel(1);
        drop(wake_tx);
        let watch = Watch::polling("t", Arc::new(Mutex::new(watch::Changes::default())), wake);
        assert!(!watch.is_live());
        let (tx, rx) = sync_channel(64);
        let stats = Arc::new(Stats::default());
        let t = Tailer::new(0, config, saved, tx, stats, CancellationToken::new(), watch);
        (t, rx)
    }

    /// Discovers and reads until nothing is left to read.
    fn read_all(t: &mut Tailer<()>) {
        for _ in 0..100 {
            t.discover();
            let ids: Vec<FileId> = t.files.keys().copied().collect();
            for id in ids {
                t.read_file(id);
            }
            if t.busy.is_empty() {
                break;
            }
        }
    }

    /// What the log stage keeps of a tailer's events: positions, ends, and the lines.
    #[derive(Default)]
    struct Kept {
        files: BTreeMap<FileId, Entry>,
        ends: Vec<End>,
        lines: Vec<String>,
    }

    impl Kept {
        fn take(&mut self, rx: &Receiver<TailEvent<()>>) -> &mut Self {
            while let Ok(ev) = rx.try_recv() {
                match ev {
                    TailEvent::Lines(b) => {
                        let text = b.lines.iter().map(|l| String::from_utf8_lossy(l));
                        self.lines.extend(text.map(|l| l.into_owned()));
                        self.ends.retain(|e| e.head != b.head);
                        let e = Entry {
                            path: b.path.to_string(),
                            id: b.id,
                            head: b.head,
                            pos: b.pos,
                        };
                        self.files.insert(b.id, e);
                    }
                    TailEvent::Ended { end, .. } => self.ends.push(end),
                    TailEvent::Gone { id, .. } => {
                        self.files.remove(&id);
                    }
                    _ => {}
                }
            }
            self
        }

        fn saved(&self) -> Option<Saved> {
            Some(Saved {
                files: self.files.values().cloned().collect(),
                ends: self.ends.clone(),
            })
        }
    }

    fn numbered(range: std::ops::Range<usize>) -> Vec<String> {
        range
            .map(|i| format!("line {i:04} of the application log, padded to some length"))
            .collect()
    }

    fn text_of(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// Issue 25: a file renamed outside the globs while the tailer was away (a crash) is found
    /// in its directory by inode and fingerprint, read from its checkpoint to its end once and
    /// let go; a checkpoint with an offset beyond its file's size is not trusted.
    #[test]
    fn checkpoints_are_checked_and_a_file_renamed_away_is_read_to_its_end() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let log = dir.join("app.log");
        std::fs::write(&log, text_of(&numbered(0..40))).unwrap();
        let mut kept = Kept::default();
        let (mut t, rx) = manual_tailer(dir, None);
        read_all(&mut t);
        assert_eq!(kept.take(&rx).lines.len(), 40);
        drop(t);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(text_of(&numbered(40..60)).as_bytes()).unwrap();
        let away = dir.join("rotated-app");
        std::fs::rename(&log, &away).unwrap();
        let (mut t, rx) = manual_tailer(dir, kept.saved());
        read_all(&mut t);
        assert_eq!(kept.take(&rx).lines, numbered(0..60));
        assert_eq!(Stats::get(&t.stats.log_files_renamed_away), 1);
        assert!(t.files.values().all(|f| f.gone_since.is_some()), "let go");
        drop(t);

        // Back under the glob, with a checkpoint past its end: read again from its start.
        std::fs::rename(&away, &log).unwrap();
        let mut saved = kept.saved().unwrap();
        saved.files[0].pos.offset = 99_999_999_999;
        let (mut t, rx) = manual_tailer(dir, Some(saved));
        read_all(&mut t);
        assert_eq!(kept.take(&rx).lines.len(), 120, "nothing skipped");
        assert_eq!(Stats::get(&t.stats.log_checkpoints_beyond_size), 1);
    }

    /// A copy read from where its original stopped, with nothing after that point (the
    /// original was read to its end before the truncation), is checkpointed all the same: a
    /// tailer restarted from the checkpoints (a reload, an agent restart) reads nothing of it
    /// again. Found by the soak benchmark: each reload read every such copy from its start.
    #[test]
    fn a_copy_with_nothing_new_is_checkpointed_and_not_read_again_after_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let log = dir.join("app.log");
        let text = text_of(&numbered(0..50));
        std::fs::write(&log, &text).unwrap();
        let mut kept = Kept::default();
        let (mut t, rx) = manual_tailer(dir, None);
        read_all(&mut t);
        assert_eq!(kept.take(&rx).lines.len(), 50);
        // copytruncate after every line was read: the copy holds nothing new.
        std::fs::copy(&log, dir.join("app.log.1")).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
        // The truncation is seen, then the copy is tracked from where the original stopped.
        read_all(&mut t);
        read_all(&mut t);
        assert_eq!(kept.take(&rx).lines.len(), 50);
        let copy_id = FileId::of(&std::fs::metadata(dir.join("app.log.1")).unwrap());
        assert_eq!(
            kept.files.get(&copy_id).map(|e| e.pos.offset),
            Some(text.len() as u64),
            "the copy has no checkpoint: {:?}",
            kept.files
        );
        drop(t);
        // A tailer restarted from those checkpoints reads nothing again.
        let (mut t, rx) = manual_tailer(dir, kept.saved());
        read_all(&mut t);
        assert_eq!(kept.take(&rx).lines.len(), 50);
    }

    /// `app.log` in `dir` with 50 lines, read by a tailer (returned, with its receiver and what
    /// it handed out); then lines only the copy will hold, the copy (`copy.tmp`, outside the
    /// glob for now) and the truncation. Also returns every line written and the original,
    /// open for appending.
    #[allow(clippy::type_complexity)]
    fn read_then_copy_truncated(
        dir: &Path,
    ) -> (
        Tailer<()>,
        Receiver<TailEvent<()>>,
        Kept,
        Vec<String>,
        std::fs::File,
    ) {
        let log = dir.join("app.log");
        let mut written = numbered(0..50);
        std::fs::write(&log, text_of(&written)).unwrap();
        let mut kept = Kept::default();
        let (mut t, rx) = manual_tailer(dir, None);
        read_all(&mut t);
        assert_eq!(kept.take(&rx).lines.len(), 50);
        let only_in_copy = numbered(100..120);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(text_of(&only_in_copy).as_bytes()).unwrap();
        written.extend(only_in_copy);
        std::fs::copy(&log, dir.join("copy.tmp")).unwrap();
        f.set_len(0).unwrap();
        (t, rx, kept, written, f)
    }

    /// copytruncate with lines only the copy holds, and a tailer stopped (a reload, an agent
    /// restart) before it found the copy: either after it saw the truncation (where the
    /// original stopped is then checkpointed as an end) or before (the original's checkpoint
    /// no longer matches it). The restarted tailer reads the copy from where the original
    /// stopped: every line once. Found by the soak benchmark (a SIGHUP just after a rotation).
    #[test]
    fn a_copy_found_only_after_a_restart_is_read_from_where_its_original_stopped() {
        for truncation_seen in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let (mut t, rx, mut kept, mut written, mut f) = read_then_copy_truncated(dir);
            // Then new lines in the original.
            let after = numbered(200..230);
            f.write_all(text_of(&after).as_bytes()).unwrap();
            written.extend(after);
            if truncation_seen {
                read_all(&mut t);
                kept.take(&rx);
                assert_eq!(kept.ends.len(), 1, "the end is handed to the log stage");
            }
            drop(t);
            std::fs::rename(dir.join("copy.tmp"), dir.join("app.log.1")).unwrap();
            let (mut t, rx) = manual_tailer(dir, kept.saved());
            read_all(&mut t);
            kept.take(&rx);
            let mut got = kept.lines.clone();
            got.sort();
            written.sort();
            assert_eq!(
                got, written,
                "truncation seen before the restart: {truncation_seen}"
            );
            assert!(kept.ends.is_empty(), "the copy took the end up");
        }
    }

    /// copytruncate while the agent is down, with the copy on the inode of a file deleted
    /// before (freed when the agent died; its checkpoint still names that inode): the copy's
    /// fingerprint does not match that checkpoint, and it is still the copy, read from where
    /// its original stopped. Found by the rotation property test (delete, SIGKILL,
    /// copytruncate while down).
    #[test]
    fn a_copy_on_a_reused_inode_is_read_from_where_its_original_stopped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (t, _, mut kept, mut written, _) = read_then_copy_truncated(dir);
        drop(t);
        let copy = dir.join("app.log.1");
        std::fs::rename(dir.join("copy.tmp"), &copy).unwrap();
        // The deleted file's checkpoint, on the inode the copy now has.
        let copy_id = FileId::of(&std::fs::metadata(&copy).unwrap());
        let mut saved = kept.saved().unwrap();
        saved.files.push(Entry {
            path: dir.join("app.log").display().to_string(),
            id: copy_id,
            head: Head::of(b"a deleted file's first line\n"),
            pos: ReadPos {
                offset: 28,
                skipping: false,
            },
        });
        let (mut t, rx) = manual_tailer(dir, Some(saved));
        read_all(&mut t);
        kept.take(&rx);
        let mut got = kept.lines.clone();
        got.sort();
        written.sort();
        assert_eq!(got, written);
        assert!(Stats::get(&t.stats.log_checkpoints_mismatched) >= 1);
    }

    /// Without inotify (network file systems, exhausted watches) the tailer still follows
    /// appends, rename rotation and new files, by polling.
    #[test]
    fn polling_alone_follows_appends_rotation_and_new_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("app.log"), b"one\n").unwrap();
        // As when notify cannot start: nothing will ever wake the tailer.
        let (rx, cancel, stats, thread) = polling_tailer(dir);

        let mut got = Vec::new();
        collect(&rx, 1, &mut got);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("app.log"))
            .unwrap();
        f.write_all(b"two\n").unwrap();
        collect(&rx, 2, &mut got);
        std::fs::rename(dir.join("app.log"), dir.join("app.log.1")).unwrap();
        f.write_all(b"three\n").unwrap();
        std::fs::write(dir.join("app.log"), b"four\n").unwrap();
        collect(&rx, 4, &mut got);
        cancel.cancel();
        drop(rx);
        thread.join().unwrap();
        got.sort();
        assert_eq!(got, ["four", "one", "three", "two"]);
        assert_eq!(Stats::get(&stats.log_files_renamed), 1);
    }
}
