//! Sources: where samples come from.

pub mod files;
pub mod host;
pub(crate) mod journal;
pub mod process;
mod rate;
pub mod scrape;
pub mod tasks;
