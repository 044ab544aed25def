//! A source's history as counted so far (see `history`): lines, bytes, and per interval of the
//! lines' own time, the counts that become rate samples.

use std::collections::{BTreeMap, HashMap};

/// What a source learned from history so far, by interval of the lines' own time.
#[derive(Default)]
pub(crate) struct History {
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    /// Lines with no usable timestamp (none, or outside the window): templates only.
    pub(crate) untimed: u64,
    pub(crate) first_ms: Option<i64>,
    pub(crate) last_ms: Option<i64>,
    pub(crate) templates_before: usize,
    /// By interval index (time / interval): lines, errors, count per template.
    pub(crate) buckets: BTreeMap<i64, Bucket>,
}

#[derive(Default)]
pub(crate) struct Bucket {
    pub(crate) lines: u64,
    pub(crate) errors: u64,
    pub(crate) templates: HashMap<u64, u64>,
}
