//! The log stage: consumes the tailers' lines, mines their templates, counts them into log
//! signals per interval, writes the lines sink, and takes the checkpoints.
//!
//! Checkpoints are taken here, by the consumer, and only for lines already processed: every
//! second (and at shutdown) the lines sink is fsynced, the template state saved, then the file
//! offsets written atomically. A crash (even SIGKILL) loses only what came after the last
//! checkpoint, and that is read again from the files on restart: each line counts once.
//!
//! Signals per source, every `interval`: `log.{source}.lines_per_s`, `log.{source}.errors_per_s`,
//! `log.{source}.template.{id}.count` for the `top_templates` most frequent templates (ranked by
//! an exponentially decayed count, so the set is stable) and `log.{source}.template.other.count`
//! for the rest. A template first seen after `new_template_warmup` intervals raises an alert of
//! its own on `log.{source}.template.{id}.new`, resolved after `alerting.resolve_after` intervals.
//! Only templates its `include_templates` / `exclude_templates` keep, at most `max_templates`,
//! get those per-template signals (`template_budget`).

pub(crate) mod checkpoints;
mod command;
mod controller;
mod history;
mod history_tally;
mod id_map;
mod journal_units;
mod line_time;
pub(crate) mod lines_sink;
mod mining;
mod stage;
mod template_budget;
mod templates;

pub(crate) use controller::open_lines_sink;
pub use controller::{start, LogSources, LOG_QUEUE};
pub use mining::LogUpdate;
pub(crate) use mining::{PreparedSource, SourceSettings};
