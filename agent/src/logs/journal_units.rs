//! The journal's units in the log stage: each unit a source of its own (`journal.{unit}`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use seismo_config::JournalSourceConfig;

use crate::logs::mining::{Source, SourceSettings};
use crate::sources::journal::record;
use crate::telemetry::stats::{LogLimiter, Stats};

/// Slots of journal units start here (file sources count up from 0).
const JOURNAL_SLOTS: usize = usize::MAX / 2;
/// The unit that collects the records of units beyond `max_units`.
const OVERFLOW_UNIT: &str = "_overflow";

/// The journal's units in the log stage: each one a source of its own (`journal.{unit}`),
/// created when its first record arrives.
pub(crate) struct JournalUnits {
    pub(crate) cfg: JournalSourceConfig,
    /// Signal-safe unit name → slot in `LogStage::sources`.
    pub(crate) slots: HashMap<String, usize>,
    pub(crate) next_slot: usize,
    /// Intervals completed per source name, from the checkpoint (warm-up survives restarts).
    pub(crate) saved_intervals: BTreeMap<String, u64>,
    pub(crate) overflow_log: LogLimiter,
}

impl JournalUnits {
    pub(crate) fn new(
        cfg: JournalSourceConfig,
        saved_intervals: BTreeMap<String, u64>,
    ) -> JournalUnits {
        JournalUnits {
            cfg,
            slots: HashMap::new(),
            next_slot: JOURNAL_SLOTS,
            saved_intervals,
            overflow_log: LogLimiter::new(Duration::from_secs(300)),
        }
    }

    /// The slot of `unit`'s source, creating it (bounded by `max_units`).
    pub(crate) fn slot(
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
