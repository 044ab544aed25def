//! Sources: where samples come from.

pub mod files;
pub mod host;
pub(crate) mod journal;
mod rate;
