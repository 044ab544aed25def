//! seismo, the agent: sources → pipeline → detectors → alerting → sinks (see DESIGN.md).
//! The library exists so the pieces can be tested; the binary is `seismo`.

// No unwrap()/expect() outside tests: input, I/O and the network must not crash the agent.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerting;
pub mod backtest;
pub mod cli;
pub mod csv_series;
pub mod daemon;
pub mod event;
/// Entry points of the fuzz targets (`fuzz/`); not part of the agent's API.
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub mod http;
pub mod incidents;
pub mod logging;
pub mod logparse;
pub mod logs;
pub mod memory;
pub mod outbox;
pub mod pipeline;
pub mod plot;
pub mod reload;
pub mod replay;
pub mod sd_notify;
pub mod silences;
pub mod sinks;
pub mod sources;
pub mod state_dir;
pub mod stats;
pub mod status;
