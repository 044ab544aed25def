//! The log stage paused on a lines sink that cannot write (a full disk, an I/O error, a
//! read-only remount): it stops taking batches, so the tailers block and the lines wait in
//! their files; the checkpoint stays at what the sink fsynced. The sink is retried with
//! bounded backoff and the stage resumes by itself once it writes again. One ERROR when it
//! blocks, one INFO when it resumes; /readyz and the self-metrics show it meanwhile.

use std::io;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use super::LogStage;
use crate::backoff::Backoff;
use crate::clock::now_ms;
use crate::logs::command::StageCommand;
use crate::sources::tail_event::TailEvent;
use crate::telemetry::stats::Stats;

/// Retries of a blocked sink: from this delay, doubling, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// While blocked, how often the stage looks at the agent's stop.
const STOP_POLL: Duration = Duration::from_millis(200);

pub(crate) struct Blocked {
    since: Instant,
    next_try: Instant,
    backoff: Backoff,
}

fn unix_ms() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

impl LogStage {
    /// The sink failed with `e`: pause reading (once; later failures only count).
    pub(super) fn block(&mut self, e: &io::Error) {
        Stats::add(&self.stats.log_state_errors, 1);
        if self.blocked.is_some() {
            return;
        }
        let path = self
            .sink
            .as_ref()
            .map(|s| s.path().display().to_string())
            .unwrap_or_default();
        tracing::error!(
            error = %e, path = %path,
            "the lines sink cannot write: reading is paused (lines wait in their files, none is dropped) and the sink is retried until it writes again"
        );
        self.stats.lines_sink_block(
            unix_ms(),
            format!("the lines sink {path} cannot write: {e}"),
        );
        let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
        let now = Instant::now();
        self.blocked = Some(Blocked {
            since: now,
            next_try: now + backoff.next_delay(),
            backoff,
        });
    }

    /// The sink took everything again.
    pub(super) fn unblock(&mut self) {
        if let Some(b) = self.blocked.take() {
            tracing::info!(
                blocked_s = b.since.elapsed().as_secs(),
                "the lines sink writes again: reading resumed"
            );
            self.stats.lines_sink_unblock(unix_ms());
        }
    }

    /// Waits, emitting the sources' intervals, until the sink writes again (true) or the agent
    /// stops while it still cannot (false).
    pub(super) fn wait_unblocked(&mut self) -> bool {
        loop {
            let Some(b) = &mut self.blocked else {
                return true;
            };
            let now = Instant::now();
            if now >= b.next_try {
                b.next_try = now + b.backoff.next_delay();
                self.commit();
                continue;
            }
            if self.cancel.is_cancelled() {
                // A last try: the space may have come back.
                self.commit();
                return self.blocked.is_none();
            }
            let next = self
                .sources
                .values()
                .map(|s| s.next_emit)
                .chain([b.next_try, now + STOP_POLL])
                .min()
                .unwrap_or(now);
            std::thread::sleep(next.saturating_duration_since(now));
            self.emit_due(Instant::now());
        }
    }

    /// The agent stops while the sink cannot write: what the tailers still send is dropped
    /// and no checkpoint is written, so the next start reads it all again from the last
    /// checkpoint (and cuts the sink back to it).
    pub(super) fn abandon(self, rx: Receiver<TailEvent<Box<StageCommand>>>) {
        let (reason, _) = self
            .stats
            .lines_sink_blocked_now(unix_ms())
            .unwrap_or_default();
        tracing::warn!(
            reason = %reason,
            "stopping while the lines sink cannot write: the lines read since the last checkpoint are read again at the next start"
        );
        while rx.recv().is_ok() {}
    }
}
