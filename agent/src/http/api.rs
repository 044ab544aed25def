//! `/api/v1/signals` and `/api/v1/incidents`: the status page's data as JSON (the README
//! documents the fields). Strings are escaped by serde_json.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::respond::{error, json, rejected};
use super::signal_query::SignalQuery;
use super::state::HttpState;
use crate::clock::now_ms;
use crate::telemetry::stats::Stats;

/// One page of the signals (`?offset=&limit=&prefix=&stage=`, see [`SignalQuery`]); a bad
/// parameter is answered 400 with what to send.
pub(super) async fn signals(State(s): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    let q = match SignalQuery::parse(query.as_deref()) {
        Ok(q) => q,
        Err(e) => return rejected(&s, StatusCode::BAD_REQUEST, e),
    };
    match &s.status {
        Some(status) => {
            let mut view = status.signals(now_ms(), Stats::get(&s.stats.signals_active), &q);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    use seismo_config::HttpConfig;
    use seismo_e2e::http_client::request;

    use crate::alerting::silences::Silences;
    use crate::http::status::Status;
    use crate::http::{bind, HttpState};
    use crate::telemetry::stats::Stats;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signals_are_paged_and_bad_parameters_are_400_with_the_reason() {
        let config = HttpConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..HttpConfig::default()
        };
        let endpoint = bind(&config).unwrap();
        let addr = endpoint.local_addr();
        let status = Arc::new(Status::new("h".into()));
        let now = crate::clock::now_ms();
        for i in 0..1200 {
            let stage = seismo_detectors::Stage::Full;
            status.record(
                &format!("s{i:04}").into(),
                now,
                1.0,
                Some(0.1),
                false,
                stage,
            );
        }
        let state = HttpState::new(
            Arc::new(Stats::default()),
            Arc::new(Silences::from_config(&[], 0)),
            Arc::new(AtomicBool::new(true)),
            false,
        )
        .with_status(status)
        .with_guard(crate::http::Guard::read_only(addr));
        let task = endpoint
            .serve(state.clone(), Duration::from_secs(10))
            .unwrap();
        let get = |path: &str| {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || request(addr, "GET", &path, None).unwrap())
        };
        let r = get("/api/v1/signals").await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(
            (v["total"].as_u64(), v["signals_listed"].as_u64()),
            (Some(1200), Some(500))
        );
        assert_eq!(v["signals"][0]["signal"], "s0000");
        assert_eq!(v["next"], "/api/v1/signals?offset=500");
        let v = get("/api/v1/signals?offset=1000&limit=300")
            .await
            .unwrap()
            .json();
        assert_eq!(v["signals_listed"], 200);
        assert_eq!(v["signals"][199]["signal"], "s1199");
        assert!(v["next"].is_null() && v["next_offset"].is_null(), "{v}");
        for (query, says) in [
            (
                "offset=-1",
                "offset must be a whole number of signals (0 or more), not `-1`",
            ),
            (
                "limit=ten",
                "limit must be a whole number of signals (0 or more), not `ten`",
            ),
            (
                "limit=100000",
                "limit must be 1 to 5000 signals a page, not 100000",
            ),
            ("sort=score", "unknown parameter `sort`"),
        ] {
            for path in ["/api/v1/signals", "/"] {
                let r = get(&format!("{path}?{query}")).await.unwrap();
                assert_eq!(r.status, 400, "{path}?{query}: {}", r.body);
                let error = r.json()["error"].as_str().map(str::to_owned);
                assert!(error.is_some_and(|e| e.contains(says)), "{}", r.body);
            }
        }
        assert_eq!(
            crate::telemetry::stats::Stats::get(&state.stats.api_requests_rejected),
            8
        );
        task.abort();
    }
}
