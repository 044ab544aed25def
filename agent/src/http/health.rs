//! `/healthz` (the process is alive and its pipeline ticks; degraded while the lines sink
//! cannot write) and `/readyz` (sources and sinks are started, and the lines sink writes).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;

use super::state::HttpState;
use crate::clock::now_ms;

/// The pipeline ticks every second; this long without a tick means it is stuck (for example
/// blocked on a sink that does not take events).
const STALLED_AFTER_MS: u64 = 30_000;

pub(super) async fn healthz(State(s): State<HttpState>) -> (StatusCode, String) {
    let beat = s.stats.heartbeat_ms.load(Ordering::Relaxed);
    let now = u64::try_from(now_ms()).unwrap_or(0);
    if beat == 0 {
        return (StatusCode::OK, "ok: starting\n".into());
    }
    let age = now.saturating_sub(beat);
    if age > STALLED_AFTER_MS {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "unhealthy: the pipeline has not ticked for {:.0} s\n",
                age as f64 / 1000.0
            ),
        );
    }
    // Alive, and restarting would not help: degraded, not failed.
    if let Some((reason, ms)) = s.stats.lines_sink_blocked_now(now) {
        return (
            StatusCode::OK,
            format!("degraded: {}\n", blocked(&reason, ms)),
        );
    }
    (StatusCode::OK, "ok\n".into())
}

pub(super) async fn readyz(State(s): State<HttpState>) -> (StatusCode, String) {
    if !s.ready.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: sources and sinks are still starting\n".into(),
        );
    }
    let now = u64::try_from(now_ms()).unwrap_or(0);
    if let Some((reason, ms)) = s.stats.lines_sink_blocked_now(now) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", blocked(&reason, ms)),
        );
    }
    (StatusCode::OK, "ready\n".into())
}

fn blocked(reason: &str, ms: u64) -> String {
    format!(
        "{reason}; reading of log files is paused since {} s (nothing is dropped)",
        ms / 1000
    )
}
