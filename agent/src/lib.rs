//! seismo, the agent: sources → logs → pipeline → alerting → sinks, laid out by stage (see
//! docs/architecture.md). The library exists so the pieces can be tested; the binary is `seismo`.

// No unwrap()/expect() outside tests: input, I/O and the network must not crash the agent.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerting;
mod atomic_file;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod daemon;
pub mod event;
pub mod excerpt;
/// Entry points of the fuzz targets (`fuzz/`); not part of the agent's API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod logs;
pub mod pipeline;
pub mod polarity;
pub mod sinks;
pub mod sources;
pub mod telemetry;
pub mod unit;
