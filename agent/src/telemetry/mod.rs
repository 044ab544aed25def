//! The agent's own metrics: counters every stage updates, read by /metrics, the OTLP gauges
//! and the summary logged at stop.

pub mod stats;
