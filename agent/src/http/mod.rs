//! The agent's HTTP endpoint (loopback by default): `/metrics` in Prometheus text format,
//! `/healthz`, `/readyz`, the silences API under `/api/v1/silences`, and the status page `/`
//! with its JSON API (`/api/v1/signals`, `/api/v1/incidents`).

pub mod status;

mod api;
mod health;
mod metrics;
mod process;
mod respond;
mod scores;
mod server;
mod silences_api;
mod state;
mod status_page;

pub use scores::ScoreExport;
pub use server::{bind, BindError, Endpoint};
pub use state::HttpState;
