//! Alerting: anomalies become alert events (lifecycle), alerts group into incidents, silences
//! hold back what people muted, and hooks act on what is left.

pub mod hooks;
pub mod incidents;
pub mod lifecycle;
pub mod significance;
pub mod silences;
pub mod summary;
