//! The journal's recent history, read once before it is followed at its first start (no saved
//! cursor, no learned template state of its units restored, `start_at = "end"`):
//! `journalctl -o json --since=@T --lines=N` without `--follow`, bounded by `history_lines`
//! (journalctl keeps the most recent), `history_bytes` (the oldest records read are let go
//! first) and `history_timeout`. The records go to the log stage as
//! history (learned, not exported); the journal is then followed after the last of them, so no
//! record is learned twice, skipped, or exported as new. A history read that fails or times out
//! is logged with its reason and the journal is followed from its end.

use std::collections::VecDeque;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use seismo_config::JournalSourceConfig;
use tokio::io::{AsyncReadExt, BufReader};
use tokio::process::Command;

use super::record::{self, JournalRecord};
use super::{read_line, Line};
use crate::sources::tail_event::{HistoryRead, JournalBatch};

/// The arguments of the history read: the records from `since` to `until` (Unix seconds: the
/// start; later records are new, they come live after the last record of history), at most
/// `history_lines` of them (the most recent), with the live source's filters.
pub(crate) fn arguments(cfg: &JournalSourceConfig, since: u64, until: u64) -> Vec<String> {
    let mut args: Vec<String> = ["-o", "json", "--no-pager", "--all", "-q"]
        .map(str::to_owned)
        .to_vec();
    args.push(format!("--since=@{since}"));
    args.push(format!("--until=@{until}"));
    args.push(format!("--lines={}", cfg.history_lines));
    args.extend(super::filters(cfg));
    args
}

/// What the history read produced: the records to learn, oldest first, and how it went.
pub(crate) struct Read {
    pub records: Vec<JournalRecord>,
    pub malformed: u64,
    pub read: HistoryRead,
}

/// Reads the history (see the module documentation).
pub(crate) async fn read(cfg: &JournalSourceConfig) -> Read {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let since = now.saturating_sub(cfg.history.as_secs());
    let mut cmd = Command::new(&cfg.journalctl);
    cmd.args(arguments(cfg, since, now))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: as for the follower (see `Reader::spawn`): prctl only sets a flag of the child,
    // so that it ends with the agent even after a SIGKILL.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut kept = Kept::new(cfg.history_bytes);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return kept.into_read(Some(format!(
                "cannot start {}: {e}",
                cfg.journalctl.display()
            )))
        }
    };
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return kept.into_read(Some("journalctl has no output".into()));
    };
    let reading = async {
        let mut out = BufReader::with_capacity(64 * 1024, stdout);
        let mut line = Vec::new();
        loop {
            match read_line(&mut out, &mut line).await {
                Ok(Line::Complete) => {
                    kept.bytes += line.len() as u64 + 1;
                    match record::parse(&line) {
                        Ok(r) => kept.push(r),
                        Err(_) => kept.malformed += 1,
                    }
                    line.clear();
                }
                Ok(Line::TooLong) => {
                    kept.malformed += 1;
                    line.clear();
                }
                Ok(Line::Eof) => return Ok(()),
                Err(e) => return Err(format!("cannot read its output: {e}")),
            }
        }
    };
    let outcome = match tokio::time::timeout(cfg.history_timeout, reading).await {
        Ok(Ok(())) => None,
        Ok(Err(why)) => Some(why),
        Err(_) => Some(format!(
            "history_timeout ({}) reached",
            humantime::format_duration(cfg.history_timeout)
        )),
    };
    if outcome.is_some() {
        let _ = child.kill().await;
        return kept.into_read(outcome);
    }
    let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(Ok(s)) => s,
        _ => {
            let _ = child.kill().await;
            return kept.into_read(Some(
                "journalctl did not exit after its output ended".into(),
            ));
        }
    };
    if !status.success() {
        let mut said = Vec::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            (&mut stderr).take(512).read_to_end(&mut said),
        )
        .await;
        let said = String::from_utf8_lossy(&said).trim().to_owned();
        return kept.into_read(Some(format!(
            "{} exited with {status}: {said}",
            cfg.journalctl.display()
        )));
    }
    let mut read = kept.into_read(None);
    read.read.resume_after = read.records.last().map(|r| r.cursor.clone());
    read
}

/// The most recent records read, within the byte budget.
struct Kept {
    records: VecDeque<(JournalRecord, u64)>,
    held: u64,
    budget: u64,
    bytes: u64,
    malformed: u64,
}

impl Kept {
    fn new(budget: u64) -> Kept {
        Kept {
            records: VecDeque::new(),
            held: 0,
            budget,
            bytes: 0,
            malformed: 0,
        }
    }

    fn push(&mut self, r: JournalRecord) {
        let size = r.message.len() as u64 + r.cursor.len() as u64 + r.unit.len() as u64 + 64;
        self.records.push_back((r, size));
        self.held += size;
        while self.held > self.budget {
            match self.records.pop_front() {
                Some((_, s)) => self.held -= s,
                None => break,
            }
        }
    }

    fn into_read(self, problem: Option<String>) -> Read {
        Read {
            records: self.records.into_iter().map(|(r, _)| r).collect(),
            malformed: self.malformed,
            read: HistoryRead {
                bytes: self.bytes,
                problem,
                resume_after: None,
            },
        }
    }
}

impl Read {
    /// The records in batches for the log stage.
    pub(crate) fn batches(&mut self, size: usize) -> Vec<JournalBatch> {
        let mut out = Vec::new();
        let mut records = std::mem::take(&mut self.records).into_iter().peekable();
        while records.peek().is_some() {
            out.push(JournalBatch {
                records: records.by_ref().take(size).collect(),
                malformed: 0,
                malformed_reason: None,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_arguments_bound_time_and_lines_and_keep_the_filters() {
        let cfg = JournalSourceConfig {
            priority: Some(3),
            units: vec!["nginx.service".into()],
            history_lines: 500,
            ..JournalSourceConfig::default()
        };
        let a = arguments(&cfg, 1_700_000_000, 1_700_086_400);
        assert!(a.contains(&"--since=@1700000000".to_owned()), "{a:?}");
        assert!(a.contains(&"--until=@1700086400".to_owned()), "{a:?}");
        assert!(a.contains(&"--lines=500".to_owned()));
        assert!(a.contains(&"--priority=3".to_owned()));
        assert!(a.contains(&"--unit=nginx.service".to_owned()));
        assert!(!a.contains(&"--follow".to_owned()));
    }

    #[test]
    fn the_byte_budget_keeps_the_most_recent_records() {
        let mut k = Kept::new(360);
        for i in 0..10 {
            k.push(JournalRecord {
                cursor: format!("c{i}"),
                unit: "u".into(),
                priority: None,
                message: vec![b'x'; 50],
                realtime_us: None,
            });
        }
        let r = k.into_read(None);
        let cursors: Vec<&str> = r.records.iter().map(|r| r.cursor.as_str()).collect();
        assert_eq!(cursors, ["c7", "c8", "c9"]);
    }
}
