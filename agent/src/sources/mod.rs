//! Sources: where samples come from.

pub mod batch;
pub mod files;
pub mod host;
pub(crate) mod journal;
pub mod process;
pub mod queue;
mod rate;
pub mod scrape;
pub(crate) mod tail_event;
pub mod tasks;
