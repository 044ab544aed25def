//! Binding the listener (at start-up, so a taken port stops the agent with a clear sentence)
//! and serving the routes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use seismo_config::HttpConfig;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::state::HttpState;
use super::{api, decisions_api, health, metrics, respond, silences_api, status_page};

/// Request bodies larger than this are refused (413): a silence is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// Connections served at once; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 256;

/// The listen address could not be bound. Said once: what failed and what to do.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for the HTTP endpoint ([http] listen): {reason}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub reason: String,
}

/// A bound, not yet serving, endpoint.
#[derive(Debug)]
pub struct Endpoint {
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

/// Binds `[http] listen`. Beyond loopback the configuration has a token file (checked when it
/// is read); reads are still open to anyone who reaches the port, which is logged.
pub fn bind(config: &HttpConfig) -> Result<Endpoint, BindError> {
    let fail = |e: std::io::Error| {
        let reason = match e.kind() {
            std::io::ErrorKind::AddrInUse => "another program (perhaps another seismo) holds that port: stop it, choose another port in [http] listen, or set [http] enabled = false".to_owned(),
            std::io::ErrorKind::AddrNotAvailable => "no interface of this host has that address: write one it has, such as \"127.0.0.1:9464\"".to_owned(),
            std::io::ErrorKind::PermissionDenied => "ports below 1024 need privileges: choose a port from 1024 up".to_owned(),
            _ => format!("{e}; choose another [http] listen address, or set [http] enabled = false"),
        };
        BindError {
            addr: config.listen,
            reason,
        }
    };
    let listener = std::net::TcpListener::bind(config.listen).map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    let addr = listener.local_addr().map_err(fail)?;
    if !addr.ip().is_loopback() {
        tracing::warn!(addr = %addr, "the HTTP endpoint listens beyond loopback: writes need the token, but /metrics, the status page and the read APIs are open to whoever reaches the port, so firewall it");
    }
    Ok(Endpoint { listener, addr })
}

impl Endpoint {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the task is aborted (the agent's shutdown does so last). A connection that
    /// has not sent a complete request head within `idle` (a slow client, or an idle
    /// keep-alive connection) is closed.
    pub fn serve(self, state: HttpState, idle: Duration) -> std::io::Result<JoinHandle<()>> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let addr = self.addr;
        tracing::info!(addr = %addr, "HTTP endpoint listening (/ status page, /metrics, /healthz, /readyz, /api/v1/silences, /api/v1/signals, /api/v1/incidents, /api/v1/hooks/decisions)");
        let app = router(state);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        Ok(tokio::spawn(async move {
            loop {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, or a connection reset before it was taken.
                        tracing::debug!(addr = %addr, error = %e, "cannot accept an HTTP connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(app.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(idle)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }))
    }
}

/// The middleware: refuses what [`Guard`] refuses, before any handler runs.
async fn guard(State(s): State<HttpState>, req: Request, next: Next) -> Response {
    match s.guard.check(req.method(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err((status, message)) => {
            let mut r = respond::rejected(&s, status, message);
            if status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            r
        }
    }
}

pub(super) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(status_page::page))
        .route("/api/v1/signals", get(api::signals))
        .route("/api/v1/incidents", get(api::incidents))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/api/v1/silences",
            get(silences_api::list).post(silences_api::create),
        )
        .route("/api/v1/silences/{id}", delete(silences_api::expire))
        .route("/api/v1/hooks/decisions", post(decisions_api::decide))
        .fallback(|| async {
            respond::error(
                StatusCode::NOT_FOUND,
                "no such path: the endpoint serves / (the status page), /metrics, /healthz, /readyz, /api/v1/silences, /api/v1/signals, /api/v1/incidents and /api/v1/hooks/decisions"
                    .into(),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::silences::Silences;
    use crate::telemetry::stats::Stats;
    use seismo_e2e::http_client::request;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    async fn get(addr: SocketAddr, path: &'static str) -> (u16, String) {
        let r = tokio::task::spawn_blocking(move || request(addr, "GET", path, None))
            .await
            .unwrap()
            .unwrap();
        (r.status, r.body)
    }

    fn start() -> (SocketAddr, HttpState, JoinHandle<()>) {
        let config = HttpConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..HttpConfig::default()
        };
        let endpoint = bind(&config).unwrap();
        let addr = endpoint.local_addr();
        let state = HttpState::new(
            Arc::new(Stats::default()),
            Arc::new(Silences::from_config(&[], 0)),
            Arc::new(AtomicBool::new(false)),
            false,
        )
        .with_guard(crate::http::Guard::read_only(addr));
        let task = endpoint
            .serve(state.clone(), Duration::from_secs(10))
            .unwrap();
        (addr, state, task)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readyz_is_503_until_started_and_healthz_follows_the_heartbeat() {
        let (addr, state, task) = start();
        let (code, body) = get(addr, "/readyz").await;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("still starting"), "{body}");
        state.ready.store(true, Ordering::Relaxed);
        assert_eq!(get(addr, "/readyz").await.0, 200);

        let now = u64::try_from(crate::clock::now_ms()).unwrap();
        state.stats.heartbeat_ms.store(now, Ordering::Relaxed);
        assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_owned()));
        state
            .stats
            .heartbeat_ms
            .store(now - 60_000, Ordering::Relaxed);
        let (code, body) = get(addr, "/healthz").await;
        assert_eq!(code, 503);
        assert!(body.contains("has not ticked for 60 s"), "{body}");
        task.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocked_lines_sink_is_not_ready_and_degraded_with_its_reason() {
        let (addr, state, task) = start();
        state.ready.store(true, Ordering::Relaxed);
        let now = u64::try_from(crate::clock::now_ms()).unwrap();
        state.stats.heartbeat_ms.store(now, Ordering::Relaxed);
        state.stats.lines_sink_block(
            now - 12_000,
            "the lines sink /x cannot write: No space left on device (os error 28)".into(),
        );
        let (code, body) = get(addr, "/readyz").await;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("No space left on device"), "{body}");
        assert!(body.contains("paused since 12 s"), "{body}");
        let (code, body) = get(addr, "/healthz").await;
        assert_eq!(code, 200, "{body}");
        assert!(body.starts_with("degraded: the lines sink /x"), "{body}");
        let (_, metrics) = get(addr, "/metrics").await;
        assert!(metrics.contains("\nseismo_ready 0\n"), "{metrics}");
        assert!(
            metrics.contains("\nseismo_lines_sink_blocked 1\n"),
            "{metrics}"
        );
        state.stats.lines_sink_unblock(now);
        assert_eq!(get(addr, "/readyz").await, (200, "ready\n".to_owned()));
        assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_owned()));
        let (_, metrics) = get(addr, "/metrics").await;
        assert!(
            metrics.contains("\nseismo_lines_sink_blocked 0\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("\nseismo_lines_sink_blocked_seconds_total 12"),
            "{metrics}"
        );
        task.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_taken_port_is_a_clear_bind_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = HttpConfig {
            listen: taken.local_addr().unwrap(),
            ..HttpConfig::default()
        };
        let e = bind(&config).unwrap_err().to_string();
        assert!(e.contains("cannot listen on 127.0.0.1:"), "{e}");
        assert!(e.contains("holds that port"), "{e}");
        // Said once, in words: no `(os error 98)`.
        assert!(!e.contains("os error"), "{e}");
        // And a running endpoint answers unknown paths with a sentence.
        let (addr, _, task) = start();
        let (code, body) = get(addr, "/nope").await;
        assert_eq!(code, 404);
        assert!(body.contains("/metrics, /healthz"), "{body}");
        task.abort();
    }
}
