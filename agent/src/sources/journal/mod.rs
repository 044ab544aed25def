//! The journal source: `journalctl -o json --follow` as a supervised child process. Its lines
//! are parsed into records (see `record`) and handed, in batches and in order, to the log
//! stage, which mines them per unit and saves the cursor of the last record it processed with
//! the log checkpoints (see `crate::logs`). A restart (of the child or of the agent) resumes
//! after the cursor of the last record read or processed: nothing is lost or repeated.
//!
//! At the first start (no cursor yet, `start_at = "end"`, and no learned template state of its
//! units restored), the journal's recent history is read first and learned, not exported (see
//! `history`); following goes on after its last record.
//!
//! The child is restarted when it exits, with capped exponential backoff and jitter (reset
//! once it delivered records); its stderr is logged, rate-limited. It is killed when the
//! source stops (shutdown, or a reload that removes or changes the source).

mod history;
pub(crate) mod probe;
pub(crate) mod record;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seismo_config::{JournalSourceConfig, StartAt};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::sources::tail_event::{JournalBatch, TailEvent};
use crate::telemetry::stats::{LogLimiter, Stats};
use record::Malformed;

/// Records handed to the log stage at most per batch.
const BATCH: usize = 512;
/// A journal line longer than this is skipped and counted as malformed.
const MAX_RECORD_BYTES: usize = 8 << 20;
/// Restart delays of the child: from this, doubling up to `RESTART_MAX`, with jitter.
const RESTART_INITIAL: Duration = Duration::from_millis(500);
const RESTART_MAX: Duration = Duration::from_secs(60);
/// How often the child's stderr and its restarts are logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The arguments of journalctl: resume after `cursor`, else start at `start_at`.
pub(crate) fn arguments(cfg: &JournalSourceConfig, cursor: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = ["-o", "json", "--follow", "--no-pager", "--all", "-q"]
        .map(str::to_owned)
        .to_vec();
    match (cursor, cfg.start_at) {
        (Some(c), _) => {
            args.push(format!("--after-cursor={c}"));
            args.push("--no-tail".to_owned());
        }
        (None, StartAt::Beginning) => args.push("--no-tail".to_owned()),
        (None, StartAt::End) => args.push("--lines=0".to_owned()),
    }
    args.extend(filters(cfg));
    args
}

/// The source's filters (priority and units), the same for the live read and for history.
pub(crate) fn filters(cfg: &JournalSourceConfig) -> impl Iterator<Item = String> + '_ {
    cfg.priority
        .map(|p| format!("--priority={p}"))
        .into_iter()
        .chain(cfg.units.iter().map(|u| format!("--unit={u}")))
}

/// The running reader task.
pub(crate) struct JournalTask {
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl JournalTask {
    /// Starts following the journal after `cursor` (none: `start_at` applies). `restored`
    /// names a unit whose learned template state was restored: the journal has learned
    /// before, so its history is not read again even without a cursor.
    pub(crate) fn start<C: Send + 'static>(
        cfg: JournalSourceConfig,
        cursor: Option<String>,
        restored: Option<String>,
        tx: SyncSender<TailEvent<C>>,
        stats: Arc<Stats>,
        parent: &CancellationToken,
    ) -> JournalTask {
        let cancel = parent.child_token();
        let reader = Reader {
            cfg,
            cursor,
            restored,
            tx,
            stats,
            cancel: cancel.clone(),
            stderr_log: Arc::new(Mutex::new(LogLimiter::new(LOG_EVERY))),
        };
        let handle = tokio::spawn(reader.run());
        JournalTask { cancel, handle }
    }

    /// Kills the child and waits for the task: every batch it sent is queued for the stage.
    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        let _ = self.handle.await;
    }

    /// Waits for the task after the agent-wide cancel.
    pub(crate) async fn join(self) {
        let _ = self.handle.await;
    }
}

struct Reader<C> {
    cfg: JournalSourceConfig,
    /// The last record read (and handed to the stage).
    cursor: Option<String>,
    /// A unit whose learned template state was restored (see [`JournalTask::start`]).
    restored: Option<String>,
    tx: SyncSender<TailEvent<C>>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    /// Shared by the stderr readers of successive runs: a crash loop is logged once a minute.
    stderr_log: Arc<Mutex<LogLimiter>>,
}

/// How one run of the child ended.
enum Ended {
    /// The agent stops, or the stage is gone.
    Stop,
    /// The child exited or could not be read: restart it.
    Exited { delivered: bool, why: String },
}

impl<C: Send + 'static> Reader<C> {
    async fn run(mut self) {
        // History is read only by a journal that has learned nothing: no cursor, no state.
        let wanted = self.cfg.start_at == StartAt::End && !self.cfg.history.is_zero();
        let learned_nothing = self.cursor.is_none() && self.restored.is_none();
        if wanted && learned_nothing && self.read_history().await.is_err() {
            return;
        }
        match (&self.cursor, &self.restored) {
            (Some(_), _) if wanted => {
                tracing::info!("journal history not read: resuming after the saved cursor (what was learned is restored)");
            }
            (None, Some(unit)) if wanted => {
                tracing::info!(restored = %unit, "journal history not read: no saved cursor, but the learned template state of its units was restored; following from the end");
            }
            _ => {}
        }
        let mut backoff = Backoff::new(RESTART_INITIAL, RESTART_MAX);
        let mut restart_log = LogLimiter::new(LOG_EVERY);
        let mut first = true;
        loop {
            let ended = match self.spawn() {
                Ok(child) => {
                    if first {
                        tracing::info!(journalctl = %self.cfg.journalctl.display(), resume = self.cursor.is_some(), units = ?self.cfg.units, "following the journal");
                    }
                    self.follow(child).await
                }
                Err(e) => Ended::Exited {
                    delivered: false,
                    why: format!("cannot start {}: {e}", self.cfg.journalctl.display()),
                },
            };
            first = false;
            let (delivered, why) = match ended {
                Ended::Stop => return,
                Ended::Exited { delivered, why } => (delivered, why),
            };
            if delivered {
                backoff.reset();
            }
            let delay = backoff.next_delay();
            Stats::add(&self.stats.journal_restarts, 1);
            if let Some(n) = restart_log.hit() {
                tracing::warn!(journalctl = %self.cfg.journalctl.display(), reason = %why, restarts = n, retry_in = %humantime::format_duration(Duration::from_millis(delay.as_millis() as u64)), "journalctl stopped; restarting it with backoff (logged at most every minute)");
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Reads the history and hands it to the stage; Err when the source stops meanwhile.
    async fn read_history(&mut self) -> Result<(), ()> {
        tracing::info!(journalctl = %self.cfg.journalctl.display(), history = %humantime::format_duration(self.cfg.history), "reading the journal's history to learn its baselines");
        let mut read = tokio::select! {
            _ = self.cancel.cancelled() => return Err(()),
            r = history::read(&self.cfg) => r,
        };
        if read.malformed > 0 {
            Stats::add(&self.stats.journal_records_malformed, read.malformed);
        }
        for batch in read.batches(BATCH) {
            self.send_event(TailEvent::JournalHistory(batch)).await?;
        }
        let end = read.read;
        if let Some(c) = &end.resume_after {
            self.cursor = Some(c.clone());
        }
        self.send_event(TailEvent::HistoryEnd {
            source: None,
            read: end,
        })
        .await
    }

    /// Hands one event to the stage (blocking on a full queue off the runtime).
    async fn send_event(&self, event: TailEvent<C>) -> Result<(), ()> {
        let tx = self.tx.clone();
        let sent = tokio::task::spawn_blocking(move || tx.send(event).is_ok())
            .await
            .unwrap_or(false);
        if sent {
            Ok(())
        } else {
            Err(())
        }
    }

    fn spawn(&self) -> std::io::Result<Child> {
        let mut cmd = Command::new(&self.cfg.journalctl);
        cmd.args(arguments(&self.cfg, self.cursor.as_deref()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; it only sets a flag of the child process. It
        // makes the kernel end the child when the agent dies without cleaning up (SIGKILL),
        // so no orphaned journalctl is left following the journal.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        cmd.spawn()
    }

    /// Reads the child's records until it exits or the source stops.
    async fn follow(&mut self, mut child: Child) -> Ended {
        let Some(stdout) = child.stdout.take() else {
            return Ended::Exited {
                delivered: false,
                why: "no standard output".into(),
            };
        };
        let stderr = child.stderr.take().map(|e| {
            let journalctl: PathBuf = self.cfg.journalctl.clone();
            let stats = Arc::clone(&self.stats);
            let log = Arc::clone(&self.stderr_log);
            tokio::spawn(log_stderr(e, journalctl, stats, log))
        });
        let mut out = BufReader::with_capacity(64 * 1024, stdout);
        let mut delivered = false;
        let mut batch = new_batch();
        let mut line = Vec::new();
        let why = loop {
            let read = tokio::select! {
                _ = self.cancel.cancelled() => {
                    let _ = child.kill().await;
                    if let Some(h) = stderr { h.abort(); }
                    return Ended::Stop;
                }
                r = read_line(&mut out, &mut line) => r,
            };
            match read {
                Ok(Line::Complete) => {
                    match record::parse(&line) {
                        Ok(r) => batch.records.push(r),
                        Err(e) => {
                            batch.malformed += 1;
                            batch.malformed_reason = Some(e);
                        }
                    }
                    line.clear();
                }
                Ok(Line::TooLong) => {
                    batch.malformed += 1;
                    batch.malformed_reason = Some(Malformed::TooLong);
                    line.clear();
                }
                // A last line without its newline is dropped: the next run reads it again.
                Ok(Line::Eof) => break "exited".to_owned(),
                Err(e) => break format!("cannot read its output: {e}"),
            }
            let full = batch.records.len() + batch.malformed as usize >= BATCH;
            if full || out.buffer().is_empty() {
                let b = std::mem::replace(&mut batch, new_batch());
                match self.send(b).await {
                    Ok(any) => delivered |= any,
                    Err(()) => {
                        let _ = child.kill().await;
                        return Ended::Stop;
                    }
                }
            }
        };
        // Whatever was parsed before the end is complete: hand it out.
        match self.send(batch).await {
            Ok(any) => delivered |= any,
            Err(()) => return Ended::Stop,
        }
        let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(Ok(s)) => s.to_string(),
            _ => {
                let _ = child.kill().await;
                "killed (output closed)".to_owned()
            }
        };
        if let Some(h) = stderr {
            // Its last words belong with this run.
            let _ = tokio::time::timeout(Duration::from_secs(1), h).await;
        }
        Ended::Exited {
            delivered,
            why: format!("{why}: {status}"),
        }
    }

    /// Hands a batch to the stage; Ok(true) when it held records. Err when the stage is gone.
    async fn send(&mut self, batch: JournalBatch) -> Result<bool, ()> {
        if batch.records.is_empty() && batch.malformed == 0 {
            return Ok(false);
        }
        let last = batch.records.last().map(|r| r.cursor.clone());
        let tx = self.tx.clone();
        let sent = tokio::task::spawn_blocking(move || tx.send(TailEvent::Journal(batch)).is_ok())
            .await
            .unwrap_or(false);
        if !sent {
            return Err(());
        }
        let any = last.is_some();
        if last.is_some() {
            self.cursor = last;
        }
        Ok(any)
    }
}

fn new_batch() -> JournalBatch {
    JournalBatch {
        records: Vec::new(),
        malformed: 0,
        malformed_reason: None,
    }
}

enum Line {
    Complete,
    TooLong,
    Eof,
}

/// Reads one line into `line` (without its newline), at most `MAX_RECORD_BYTES`; a longer
/// line is skipped to its end.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Line> {
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long && line.len() + chunk.len() <= MAX_RECORD_BYTES {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let used = done.unwrap_or(buf.len());
        r.consume(used);
        if done.is_some() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

/// Logs the child's stderr lines, at most one a minute (with the count of the others).
async fn log_stderr(
    stderr: tokio::process::ChildStderr,
    journalctl: PathBuf,
    stats: Arc<Stats>,
    limiter: Arc<Mutex<LogLimiter>>,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        Stats::add(&stats.journal_stderr_lines, 1);
        let hit = limiter.lock().unwrap_or_else(|p| p.into_inner()).hit();
        if let Some(n) = hit {
            tracing::warn!(journalctl = %journalctl.display(), lines = n, "journalctl: {}", line.chars().take(512).collect::<String>());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_resume_or_start() {
        let mut cfg = JournalSourceConfig::default();
        let a = arguments(&cfg, None);
        assert!(a.contains(&"--lines=0".to_owned()) && a.contains(&"--follow".to_owned()));
        cfg.start_at = StartAt::Beginning;
        cfg.priority = Some(4);
        cfg.units = vec!["nginx.service".into()];
        let a = arguments(&cfg, Some("s=1;i=2"));
        assert!(a.contains(&"--after-cursor=s=1;i=2".to_owned()));
        assert!(a.contains(&"--no-tail".to_owned()));
        assert!(!a.iter().any(|x| x.starts_with("--lines")));
        assert!(a.contains(&"--priority=4".to_owned()));
        assert!(a.contains(&"--unit=nginx.service".to_owned()));
    }

    #[tokio::test]
    async fn long_lines_are_skipped_whole() {
        let mut data = vec![b'x'; MAX_RECORD_BYTES + 10];
        data.extend_from_slice(b"\nshort\ntail");
        let mut r = BufReader::with_capacity(4096, &data[..]);
        let mut line = Vec::new();
        assert!(matches!(
            read_line(&mut r, &mut line).await.unwrap(),
            Line::TooLong
        ));
        line.clear();
        assert!(matches!(
            read_line(&mut r, &mut line).await.unwrap(),
            Line::Complete
        ));
        assert_eq!(line, b"short");
        line.clear();
        assert!(matches!(
            read_line(&mut r, &mut line).await.unwrap(),
            Line::Eof
        ));
    }
}
