//! The agent's HTTP endpoint (loopback by default): `/metrics` in Prometheus text format,
//! `/healthz`, `/readyz`, the silences API under `/api/v1/silences`, and the status page `/`
//! with its JSON API (`/api/v1/signals`, `/api/v1/incidents`), and hook decisions
//! (`POST /api/v1/hooks/decisions`). Writes need the bearer token
//! (`token`); every request is checked by `guard` first.

pub mod signal_query;
pub mod status;

mod api;
mod decisions_api;
mod guard;
mod health;
mod metrics;
mod process;
mod respond;
mod scores;
mod server;
mod silences_api;
mod state;
mod status_page;
mod token;

pub use guard::Guard;
pub use scores::ScoreExport;
pub use server::{bind, BindError, Endpoint};
pub use state::HttpState;
pub use token::{token_path, Token, TokenError};
