//! Sources: where samples come from.

pub mod files;
pub mod host;
mod rate;
