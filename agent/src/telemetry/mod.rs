//! The agent's own metrics: counters every stage updates (`stats`), described once (`catalog`)
//! for /metrics and the summary logged at stop.

pub mod catalog;
pub mod history;
pub mod stats;
