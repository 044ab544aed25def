//! Baselines from history: old lines (a file's last part with `start_at = "end"`, the
//! journal's recent records) are mined into the source's templates, and counted per interval
//! of their own timestamps into the same rate signals live lines make. When the history is
//! read, those intervals go to the pipeline as one learn-only update: the detectors learn
//! them, nothing is scored, alerted on or exported. A template first seen in history is known
//! when it appears live, not news.
//!
//! Lines without a timestamp the header recognition understands teach templates only. Rate
//! intervals cover at most the last `window` before now; the interval under way at the start
//! is left to live counting.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use seismo_config::JournalSourceConfig;
use seismo_detectors::MinerConfig;

use super::history_tally::{Bucket, History};
use super::mining::{LogUpdate, Source};
use super::templates;
use crate::event::Sample;
use crate::telemetry::history::HistoryLearned;
use crate::telemetry::stats::Stats;

impl Source {
    /// Learns one line of history written at `ts_ms` (if known): its template, and its count
    /// in its interval when that lies within `window_ms` before `now_ms`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn learn(
        &mut self,
        line: &str,
        bytes: u64,
        ts_ms: Option<i64>,
        error: Option<bool>,
        now_ms: i64,
        window_ms: i64,
        stats: &Stats,
    ) {
        let templates_before = self.miner.len();
        let h = self.history.get_or_insert_with(|| History {
            templates_before,
            ..History::default()
        });
        h.lines += 1;
        h.bytes += bytes;
        let (id, is_error) = self.mine(line, error, stats, false);
        self.miner_dirty = true;
        let interval_ms = i64::try_from(self.interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let Some(h) = self.history.as_mut() else {
            return;
        };
        match ts_ms.filter(|t| *t <= now_ms && *t > now_ms - window_ms) {
            Some(t) => {
                h.first_ms = Some(h.first_ms.map_or(t, |f| f.min(t)));
                h.last_ms = Some(h.last_ms.map_or(t, |l| l.max(t)));
                let b = h.buckets.entry(t.div_euclid(interval_ms)).or_default();
                b.lines += 1;
                b.errors += u64::from(is_error);
                *b.templates.entry(id).or_insert(0) += 1;
            }
            None => h.untimed += 1,
        }
    }

    /// History is read: its intervals, from the first one with a line up to the one before
    /// `now_ms` (quiet intervals count as zeros), as a learn-only update; and what was learned.
    pub(crate) fn finish_history(&mut self, now_ms: i64) -> (Option<LogUpdate>, HistoryLearned) {
        let h = self.history.take().unwrap_or_default();
        let interval_ms = i64::try_from(self.interval.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let secs = self.interval.as_secs_f64();
        let now_bucket = now_ms.div_euclid(interval_ms);
        let prefix = format!("log.{}", self.name);
        let signal = |rest: &str| -> Arc<str> { format!("{prefix}.{rest}").into() };
        let (lines_s, errors_s, other_s) = (
            signal("lines_per_s"),
            signal("errors_per_s"),
            signal("template.other.count"),
        );
        let mut samples = Vec::new();
        let mut intervals = 0u64;
        let first = h.buckets.keys().next().copied();
        if let Some(first) = first {
            let empty = Bucket::default();
            for b in first..now_bucket {
                let bucket = h.buckets.get(&b).unwrap_or(&empty);
                let ts_ms = (b + 1) * interval_ms;
                let sample = |signal: &Arc<str>, value: f64| Sample {
                    signal: Arc::clone(signal),
                    ts_ms,
                    value,
                };
                samples.push(sample(&lines_s, bucket.lines as f64 / secs));
                samples.push(sample(&errors_s, bucket.errors as f64 / secs));
                let counts: Vec<(u64, u64)> =
                    bucket.templates.iter().map(|(k, v)| (*k, *v)).collect();
                let ranked = self.rank_interval(&counts);
                let mut tracked = 0;
                for (id, _) in &ranked {
                    let n = bucket.templates.get(id).copied().unwrap_or(0);
                    tracked += n;
                    samples.push(sample(&signal(&format!("template.{id}.count")), n as f64));
                }
                if self.top > 0 {
                    samples.push(sample(
                        &other_s,
                        bucket.lines.saturating_sub(tracked) as f64,
                    ));
                }
                intervals += 1;
            }
        }
        // History's intervals count towards the new-template warm-up: its templates are known.
        self.intervals += intervals;
        self.miner_dirty = true;
        let learned = HistoryLearned {
            lines: h.lines,
            bytes: h.bytes,
            untimed_lines: h.untimed,
            first: h.first_ms,
            last: h.last_ms,
            templates: self.miner.len().saturating_sub(h.templates_before),
            intervals,
            note: None,
        };
        let update = (!samples.is_empty()).then(|| LogUpdate {
            source: self.name.clone(),
            samples,
            evidence: HashMap::new(),
            novel: Vec::new(),
            normals: Vec::new(),
            learn_only: true,
        });
        (update, learned)
    }
}

/// The journal source whose learned state a start restores, if any: a unit's template state in
/// `logs_dir` (`journal.{unit}.templates`) that loads. The journal reads its history only when
/// it has learned nothing (no cursor and no such state), as a file source does (`controller`):
/// its units are created as their records come, so their state on disk is what it learned.
pub(crate) fn journal_learned(logs_dir: &Path, cfg: &JournalSourceConfig) -> Option<String> {
    let config = MinerConfig {
        variables: cfg.template_variables.form(),
        ..MinerConfig::default()
    };
    let entries = std::fs::read_dir(logs_dir).ok()?;
    entries.flatten().find_map(|e| {
        let file = e.file_name();
        let name = file.to_str()?.strip_suffix(".templates")?;
        if !name.starts_with("journal.") {
            return None;
        }
        let bytes = std::fs::read(e.path()).ok()?;
        templates::load(config.clone(), &bytes)
            .is_ok()
            .then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn source() -> Source {
        let config = seismo_config::parse(
            "[[sources.files]]\nname = \"app\"\npaths = [\"/x\"]\ninterval = \"10s\"\nnew_template_warmup = 1\n",
            "t",
        )
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        Source::new(&config.sources.files[0], tmp.path(), 0).unwrap()
    }

    #[test]
    fn history_teaches_templates_and_per_interval_rates_without_news() {
        let mut s = source();
        let stats = Stats::default();
        let now = 1_000_000_000;
        let day = 86_400_000;
        // Three intervals of history: 3 lines, none, 1 error; one line with no time.
        for (ts, line) in [
            (now - 35_000, "request 1 served in 3 ms"),
            (now - 34_000, "request 2 served in 4 ms"),
            (now - 33_000, "request 3 served in 5 ms"),
            (now - 12_000, "ERROR disk sda is full"),
        ] {
            s.learn(line, 30, Some(ts), None, now, day, &stats);
        }
        s.learn("no time on this one", 20, None, None, now, day, &stats);
        s.learn(
            "too old to count",
            20,
            Some(now - 2 * day),
            None,
            now,
            day,
            &stats,
        );
        let (update, learned) = s.finish_history(now);
        let update = update.unwrap();
        assert!(update.learn_only && update.novel.is_empty());
        let rates: Vec<f64> = update
            .samples
            .iter()
            .filter(|x| &*x.signal == "log.app.lines_per_s")
            .map(|x| x.value)
            .collect();
        // Intervals [-40,-30) to [-10,0) s; the one under way at `now` is left to live.
        assert_eq!(rates, [0.3, 0.0, 0.1, 0.0]);
        assert!(update.samples.iter().all(|x| x.ts_ms <= now));
        assert_eq!(learned.lines, 6);
        assert_eq!(learned.untimed_lines, 2);
        assert_eq!(learned.templates, 4);
        assert_eq!(learned.intervals, 4);
        assert_eq!(learned.first, Some(now - 35_000));

        // Live: a template learned in history is not news; a new one is.
        s.observe("request 9 served in 7 ms", &stats);
        assert!(s.emit(Instant::now(), 2, &stats).novel.is_empty());
        s.observe("WARN certificate expires in 3 days", &stats);
        assert_eq!(s.emit(Instant::now(), 2, &stats).novel.len(), 1);
    }

    #[test]
    fn the_journal_has_learned_when_a_unit_state_loads() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = JournalSourceConfig::default();
        assert_eq!(journal_learned(dir.path(), &cfg), None, "nothing on disk");
        // A file source's state, and a journal unit's that cannot be read: not learned.
        let state = |m: &seismo_detectors::TemplateMiner| {
            templates::save(m, &HashMap::new(), &HashMap::new())
        };
        let mut miner = seismo_detectors::TemplateMiner::default();
        miner.add("job 1 finished in 3 ms");
        std::fs::write(dir.path().join("app.templates"), state(&miner)).unwrap();
        std::fs::write(dir.path().join("journal.cron.templates"), b"SMTLgarbage").unwrap();
        assert_eq!(journal_learned(dir.path(), &cfg), None);
        std::fs::write(dir.path().join("journal.app.templates"), state(&miner)).unwrap();
        assert_eq!(
            journal_learned(dir.path(), &cfg).as_deref(),
            Some("journal.app")
        );
    }

    #[test]
    fn no_timestamps_means_templates_only() {
        let mut s = source();
        let stats = Stats::default();
        s.learn(
            "plain message one",
            10,
            None,
            None,
            5_000_000,
            86_400_000,
            &stats,
        );
        let (update, learned) = s.finish_history(5_000_000);
        assert!(update.is_none());
        assert_eq!(
            (learned.lines, learned.untimed_lines, learned.templates),
            (1, 1, 1)
        );
    }
}
