//! seismo, the agent: sources → pipeline → detectors → alerting → sinks (see DESIGN.md).
//! The library exists so the pieces can be tested; the binary is `seismo`.

pub mod alerting;
pub mod cli;
pub mod daemon;
pub mod event;
pub mod logging;
pub mod outbox;
pub mod pipeline;
pub mod sinks;
pub mod sources;
pub mod state_dir;
pub mod stats;
