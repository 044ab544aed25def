//! Sources: where samples come from.

pub mod host;
mod rate;
