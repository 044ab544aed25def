//! What each log source learned from history at its start (see `crate::logs::history`), for
//! the start-up log, `/api/v1/signals` and `seismo status`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// One source's history, as learned.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryLearned {
    pub lines: u64,
    pub bytes: u64,
    /// Lines without a timestamp the agent understands: they taught templates only.
    pub untimed_lines: u64,
    /// The oldest and newest line time that counted into rates (RFC 3339).
    #[serde(serialize_with = "crate::clock::rfc3339_opt")]
    pub first: Option<i64>,
    #[serde(serialize_with = "crate::clock::rfc3339_opt")]
    pub last: Option<i64>,
    /// Templates first seen in history.
    pub templates: usize,
    /// Intervals of rate signals the detectors learned.
    pub intervals: u64,
    /// Why less history was read than configured (a timeout, a failure), if so.
    pub note: Option<String>,
}

/// Per source name (`journal` for the journal's units together).
#[derive(Debug, Default)]
pub struct HistoryBoard(Mutex<BTreeMap<String, HistoryLearned>>);

impl HistoryBoard {
    pub fn set(&self, source: &str, learned: HistoryLearned) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(source.to_owned(), learned);
    }

    pub fn all(&self) -> BTreeMap<String, HistoryLearned> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
