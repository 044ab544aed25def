//! What the handlers read: shared state the agent updates and the endpoint only reads.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::guard::Guard;
use crate::alerting::hooks::decisions::DecisionSender;
use crate::alerting::silences::Silences;
use crate::http::status::Status;
use crate::telemetry::stats::{LogLimiter, Stats};

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub stats: Arc<Stats>,
    pub silences: Arc<Silences>,
    /// Set once sources and sinks are started.
    pub ready: Arc<AtomicBool>,
    /// Export per-signal scores on /metrics.
    pub scores: bool,
    /// Refused API requests are logged at most once a minute.
    pub(super) rejected_log: Arc<Mutex<LogLimiter>>,
    /// What the status page and its API show (see [`HttpState::with_status`]).
    pub status: Option<Arc<Status>>,
    /// Host, Origin, token and content-type checks (see [`HttpState::with_guard`]).
    pub(super) guard: Arc<Guard>,
    /// Where `POST /api/v1/hooks/decisions` sends decisions (see [`HttpState::with_decisions`]).
    pub(super) decisions: Option<DecisionSender>,
}

impl HttpState {
    pub fn new(
        stats: Arc<Stats>,
        silences: Arc<Silences>,
        ready: Arc<AtomicBool>,
        scores: bool,
    ) -> Self {
        Self {
            stats,
            silences,
            ready,
            scores,
            rejected_log: Arc::new(Mutex::new(LogLimiter::new(Duration::from_secs(60)))),
            status: None,
            guard: Arc::new(Guard::read_only(seismo_config::DEFAULT_LISTEN)),
            decisions: None,
        }
    }

    /// Checks requests with `guard` (the default refuses every write and accepts only the
    /// default listen address as Host).
    pub fn with_guard(mut self, guard: Guard) -> Self {
        self.guard = Arc::new(guard);
        self
    }

    /// Takes hook decisions and sends them to `tx` (the hooks answer each).
    pub fn with_decisions(mut self, tx: DecisionSender) -> Self {
        self.decisions = Some(tx);
        self
    }

    /// Serves the status page (`/`) and its API from `status`, which the pipeline updates.
    pub fn with_status(mut self, status: Arc<Status>) -> Self {
        self.status = Some(status);
        self
    }
}
