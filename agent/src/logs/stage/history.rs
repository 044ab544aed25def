//! The log stage's side of history (see `crate::logs::history`): old lines are learned by their
//! source, never written to the lines sink; at the end of a source's history its intervals go
//! to the pipeline as a learn-only update, and what was learned is logged and reported.

use std::time::Duration;

use super::LogStage;
use crate::clock::{format_ts, now_ms};
use crate::logs::line_time::line_time_ms;
use crate::logs::mining::{clean_text, LogUpdate};
use crate::sources::files::Lines;
use crate::sources::tail_event::{HistoryRead, JournalBatch};
use crate::telemetry::history::HistoryLearned;
use crate::telemetry::stats::Stats;

/// Rate intervals of a file's history reach back at most this far (older lines teach
/// templates only).
const FILE_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl LogStage {
    /// Old lines of file source `slot`.
    pub(super) fn learn_lines(&mut self, slot: usize, lines: Lines) {
        let Some(src) = self.sources.get_mut(&slot) else {
            return;
        };
        let now = now_ms();
        let window = i64::try_from(FILE_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let mut cleaned = Vec::new();
        for raw in lines.iter() {
            let text = clean_text(raw, &mut cleaned, &self.stats);
            let ts = line_time_ms(&text, now);
            src.learn(
                &text,
                raw.len() as u64 + 1,
                ts,
                None,
                now,
                window,
                &self.stats,
            );
        }
    }

    /// Old journal records, each learned by its unit's source at its own time.
    pub(super) fn learn_journal(&mut self, batch: JournalBatch) {
        let Some(units) = &mut self.journal else {
            return;
        };
        let now = now_ms();
        let window = i64::try_from(units.cfg.history.as_millis()).unwrap_or(i64::MAX);
        let mut cleaned = Vec::new();
        for r in batch.records {
            let slot = units.slot(&r.unit, &mut self.sources, &self.logs_dir, &self.stats);
            let Some(src) = self.sources.get_mut(&slot) else {
                continue;
            };
            let text = clean_text(&r.message, &mut cleaned, &self.stats);
            let ts = r.realtime_us.and_then(|us| i64::try_from(us / 1000).ok());
            let error = r.priority.map(|p| p <= 3);
            let bytes = r.message.len() as u64 + 1;
            src.learn(&text, bytes, ts, error, now, window, &self.stats);
        }
    }

    /// A source's history is read: its baselines go to the pipeline, and the log says what
    /// was learned (`None`: the journal, its units summed up).
    pub(super) fn finish_history(&mut self, source: Option<usize>, read: HistoryRead) {
        let now = now_ms();
        let slots: Vec<usize> = match (source, &self.journal) {
            (Some(slot), _) => vec![slot],
            (None, Some(units)) => units.slots.values().copied().collect(),
            (None, None) => Vec::new(),
        };
        let name = match source {
            Some(slot) => match self.sources.get(&slot) {
                Some(s) => s.name.clone(),
                None => return,
            },
            None => "journal".to_owned(),
        };
        let mut total = HistoryLearned::default();
        let mut updates: Vec<LogUpdate> = Vec::new();
        for slot in slots {
            let Some(src) = self.sources.get_mut(&slot) else {
                continue;
            };
            if src.history.is_none() {
                continue;
            }
            let (update, learned) = src.finish_history(now);
            updates.extend(update);
            total.lines += learned.lines;
            total.bytes += learned.bytes;
            total.untimed_lines += learned.untimed_lines;
            total.templates += learned.templates;
            total.intervals = total.intervals.max(learned.intervals);
            total.first = min_some(total.first, learned.first);
            total.last = total.last.max(learned.last);
        }
        if source.is_none() {
            // The journal goes on after the last record learned, or from its end (cut short).
            if let Some(c) = read.resume_after.clone() {
                self.journal_cursor = Some(c);
            }
        }
        total.bytes = total.bytes.max(read.bytes);
        total.note = read.problem.clone();
        self.dirty = true;
        let span = match (total.first, total.last) {
            (Some(a), Some(b)) => format!("{} to {}", format_ts(a), format_ts(b)),
            _ => "no timestamps".to_owned(),
        };
        // Reported before it is logged: whoever reads the log finds it in the API.
        Stats::add(&self.stats.history_lines, total.lines);
        self.stats.history.set(&name, total.clone());
        match &read.problem {
            Some(why) => {
                tracing::warn!(source = %name, lines = total.lines, bytes = total.bytes, templates = total.templates, intervals = total.intervals, span = %span, reason = %why, "history cut short: learned what was read; following live")
            }
            None => {
                tracing::info!(source = %name, lines = total.lines, bytes = total.bytes, templates = total.templates, intervals = total.intervals, span = %span, "history learned: templates and rate baselines (not exported, not alerted on)")
            }
        }
        if total.lines > 0 && total.untimed_lines == total.lines {
            tracing::info!(source = %name, lines = total.lines, "history lines carry no timestamp the agent understands: they taught templates only, rates learn live");
        } else if total.untimed_lines > 0 {
            tracing::info!(source = %name, untimed = total.untimed_lines, "some history lines carry no usable timestamp (none, or older than the window): they taught templates only");
        }
        for update in updates {
            if self.out.blocking_send(update).is_err() {
                // The pipeline is gone (shutdown): nothing left to learn.
            }
        }
    }
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}
