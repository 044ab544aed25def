//! The checkpoint commit: the lines sink fsynced, template state saved, then the file offsets
//! written atomically, so a crash loses only what the next start reads again.

use std::time::Instant;

use super::LogStage;
use crate::atomic_file::atomic_write;
use crate::logs::checkpoints::Checkpoints;
use crate::logs::templates;
use crate::telemetry::stats::Stats;

impl LogStage {
    /// Makes what was processed durable: lines sink, template state, then offsets.
    pub(super) fn commit(&mut self) {
        self.last_commit = Instant::now();
        if !self.dirty && !self.sources.values().any(|s| s.miner_dirty) && self.blocked.is_none() {
            return;
        }
        // The checkpoint never passes what the lines sink fsynced: while it cannot, none is
        // written (and the stage takes no more lines, see `blocked.rs`).
        let mark = match self.sink.as_mut().map(|s| s.commit()) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => return self.block(&e),
            None => None,
        };
        self.unblock();
        let result = (|| -> std::io::Result<()> {
            for s in self.sources.values_mut() {
                if s.miner_dirty {
                    let tmp = s.miner_path.with_extension("tmp");
                    let bytes = templates::save(&s.miner, &s.rank, &s.resolving);
                    atomic_write(&s.miner_path, &tmp, &bytes)?;
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
