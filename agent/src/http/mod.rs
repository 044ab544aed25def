//! The agent's HTTP endpoint (loopback by default): `/metrics` in Prometheus text format,
//! `/healthz`, `/readyz`, and the silences API under `/api/v1/silences`.

mod health;
mod metrics;
mod process;
mod server;
mod silences_api;

pub use server::{bind, BindError, Endpoint, HttpState};
