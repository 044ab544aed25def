//! `/api/v1/signals` and `/api/v1/incidents`: the status page's data as JSON (the README
//! documents the fields). Strings are escaped by serde_json.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::respond::{error, json};
use super::state::HttpState;
use crate::clock::now_ms;
use crate::telemetry::stats::Stats;

pub(super) async fn signals(State(s): State<HttpState>) -> Response {
    match &s.status {
        Some(status) => {
            let mut view = status.signals(now_ms(), Stats::get(&s.stats.signals_active));
            view.history_learned = s.stats.history.all();
            json(StatusCode::OK, &view)
        }
        None => not_set_up(),
    }
}

pub(super) async fn incidents(State(s): State<HttpState>) -> Response {
    match &s.status {
        Some(status) => json(StatusCode::OK, &status.incident_views(now_ms())),
        None => not_set_up(),
    }
}

fn not_set_up() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "the status API is not set up in this process".into(),
    )
}
