//! The gate: silences applied where alert events leave alerting for the sinks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::store::*;
use crate::event::{AlertEvent, AlertState};
use crate::telemetry::stats::Stats;

/// Applies the silences to alert events on their way to the sinks (one per pipeline).
pub struct SilenceGate {
    store: Arc<Silences>,
    stats: Arc<Stats>,
    /// Firing alerts held back by a silence, by alert id: the latest event of each.
    held: HashMap<String, AlertEvent>,
    /// Alerts whose firing event reached the sinks and that have not resolved: their
    /// resolution is sent even when a silence started meanwhile, so no sink is left with an
    /// alert that never resolves.
    delivered: HashSet<String>,
}

impl SilenceGate {
    pub fn new(store: Arc<Silences>, stats: Arc<Stats>) -> Self {
        Self {
            store,
            stats,
            held: HashMap::new(),
            delivered: HashSet::new(),
        }
    }

    pub fn store(&self) -> &Arc<Silences> {
        &self.store
    }

    /// The event if it goes to the sinks; `None` when a silence keeps it back (counted).
    pub fn admit(&mut self, event: AlertEvent, now_ms: i64) -> Option<AlertEvent> {
        match event.state {
            AlertState::Firing => match self.store.covering(&event.signal, now_ms) {
                Some(silence) => {
                    self.suppressed(&event, &silence);
                    self.held.insert(event.alert_id.clone(), event);
                    None
                }
                None => {
                    self.held.remove(&event.alert_id);
                    self.delivered.insert(event.alert_id.clone());
                    Some(event)
                }
            },
            AlertState::Resolved => {
                let was_held = self.held.remove(&event.alert_id).is_some();
                if self.delivered.remove(&event.alert_id) || !was_held {
                    Some(event)
                } else {
                    // Its firing never left: neither does its resolution.
                    self.suppressed(&event, "(held)");
                    None
                }
            }
        }
    }

    /// Held alerts whose silences have ended (expired or deleted): they are still firing, so
    /// they go to the sinks now (through `admit`).
    pub fn release(&mut self, now_ms: i64) -> Vec<AlertEvent> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let free: Vec<String> = self
            .held
            .iter()
            .filter(|(_, e)| self.store.covering(&e.signal, now_ms).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        free.iter().filter_map(|id| self.held.remove(id)).collect()
    }

    fn suppressed(&self, event: &AlertEvent, silence: &str) {
        Stats::add(&self.stats.alerts_silenced, 1);
        tracing::debug!(alert_id = %event.alert_id, state = ?event.state, silence,
            "alert silenced: not sent to the sinks");
    }
}
