//! The delivery loop every outbox-backed sink shares: read the oldest batch from the sink's
//! outbox, hand it to the sink, acknowledge what the peer acknowledged, and retry failures with
//! capped exponential backoff and jitter. One loop per sink, each in its own task, so a dead
//! peer only ever delays its own sink.
//!
//! A sink implements [`Delivery`]; the daemon spawns [`run`] with it:
//! ```ignore
//! tokio::spawn(deliver::run(outbox, MySink::new(cfg), Backoff::default(), stop.clone()));
//! ```

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::sinks::outbox::{Outbox, OutboxError, Record};
use crate::telemetry::stats::{LogLimiter, SinkStats};

/// Records handed to a sink per attempt.
pub const BATCH: usize = 64;

/// After a stop request, how long a sink may keep delivering what is queued. What is left stays
/// in the outbox for the next start.
pub const DRAIN: Duration = Duration::from_secs(3);

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (peer unreachable, timeout, overloaded): the same records are offered
    /// again after a backoff.
    #[error("{0}")]
    Transient(String),
    /// The peer refused the first `count` records for good (it will never take them): they
    /// are acknowledged in the outbox and counted as dropped, so they cannot block the queue.
    #[error("{message}")]
    Rejected { count: usize, message: String },
}

/// A sink the delivery loop can drive.
pub trait Delivery: Send {
    /// Delivers `batch` (oldest first, not empty) to the peer. `Ok(n)`: the first `n` records
    /// are acknowledged by the peer (`n < batch.len()` is a partial success; the rest is
    /// offered again at once).
    fn deliver(
        &mut self,
        batch: &[Record],
    ) -> impl Future<Output = Result<usize, DeliveryError>> + Send;

    /// Runs while nothing is queued, raced against the next append (and dropped when one
    /// comes): keep a connection alive here. An error means the connection broke: it is
    /// logged, and `idle` is called again after a backoff. The default waits forever.
    fn idle(&mut self) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        std::future::pending()
    }

    /// Called once when the loop ends (agent stopping): close the connection politely.
    /// Bounded by the caller to one second.
    fn shutdown(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

async fn blocking<T: Send + 'static>(
    outbox: &Arc<Outbox>,
    f: impl FnOnce(&Outbox) -> Result<T, OutboxError> + Send + 'static,
) -> Result<T, OutboxError> {
    let ob = Arc::clone(outbox);
    match tokio::task::spawn_blocking(move || f(&ob)).await {
        Ok(r) => r,
        Err(e) => Err(OutboxError::Io {
            path: "<outbox task>".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// Acknowledges the outbox up to `last` and adds `n` to the counter `which` picks, both in one
/// blocking task: a restart may drop the loop while it awaits the task, and records must not
/// end acked but uncounted.
async fn ack_counted(
    outbox: &Arc<Outbox>,
    last: u64,
    which: fn(&SinkStats) -> &AtomicU64,
    n: usize,
) -> Result<(), OutboxError> {
    let stats = Arc::clone(outbox.stats());
    blocking(outbox, move |o| {
        let r = o.ack(last);
        SinkStats::add(which(&stats), n as u64);
        r
    })
    .await
}

/// Drives `sink` from `outbox` until `stop` is cancelled; then keeps delivering what is queued
/// for at most [`DRAIN`], lets the sink shut down (at most one second) and returns.
pub async fn run<D: Delivery>(
    outbox: Arc<Outbox>,
    mut sink: D,
    backoff: Backoff,
    stop: CancellationToken,
) {
    run_until_stopped(&outbox, &mut sink, backoff, &stop).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.shutdown()).await;
}

/// Like [`run`], but cancelling `restart` ends the loop at once, without the drain: what is
/// queued stays in the outbox for the sink that replaces this one (a reload changed its
/// settings, or disabled it). A delivery cut short is offered again then (at least once).
pub async fn run_restartable<D: Delivery>(
    outbox: Arc<Outbox>,
    mut sink: D,
    backoff: Backoff,
    stop: CancellationToken,
    restart: CancellationToken,
) {
    tokio::select! {
        _ = run_until_stopped(&outbox, &mut sink, backoff, &stop) => {}
        _ = restart.cancelled() => {}
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.shutdown()).await;
}

async fn run_until_stopped<D: Delivery>(
    outbox: &Arc<Outbox>,
    sink: &mut D,
    mut backoff: Backoff,
    stop: &CancellationToken,
) {
    let stats = Arc::clone(outbox.stats());
    let name = outbox.name().to_owned();
    let mut fail_log = LogLimiter::new(Duration::from_secs(60));
    let mut disk_log = LogLimiter::new(Duration::from_secs(60));
    let mut reject_log = LogLimiter::new(Duration::from_secs(60));
    let mut failing = false;
    // Set on the first pass after a stop request: the end of the drain period.
    let mut drain_until: Option<Instant> = None;
    loop {
        if stop.is_cancelled() && drain_until.is_none() {
            drain_until = Some(Instant::now() + DRAIN);
        }
        let batch = match blocking(outbox, |o| o.peek(BATCH)).await {
            Ok(b) => b,
            Err(e) => {
                if let Some(n) = disk_log.hit() {
                    tracing::error!(sink = %name, error = %e, failures = n, "cannot read the outbox; retrying");
                }
                if !pause(backoff.next_delay(), stop, drain_until).await {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            if stop.is_cancelled() {
                return;
            }
            let idle_result = tokio::select! {
                _ = outbox.wait() => Ok(()),
                r = sink.idle() => r,
                _ = stop.cancelled() => Ok(()),
            };
            if let Err(e) = idle_result {
                failing = true;
                if let Some(n) = fail_log.hit() {
                    tracing::warn!(sink = %name, error = %e, failures = n, "sink connection failed; retrying with backoff (logged at most once a minute)");
                }
                if !pause(backoff.next_delay(), stop, drain_until).await {
                    return;
                }
            }
            continue;
        }

        let result = {
            let attempt = sink.deliver(&batch);
            let give_up = async {
                stop.cancelled().await;
                tokio::time::sleep_until(drain_until.unwrap_or_else(|| Instant::now() + DRAIN))
                    .await;
            };
            tokio::select! {
                r = attempt => r,
                _ = give_up => return,
            }
        };
        match result {
            Ok(n) if n > 0 => {
                let n = n.min(batch.len());
                let last = batch[n - 1].seq;
                let acked = ack_counted(outbox, last, |s| &s.delivered, n);
                if let Err(e) = acked.await {
                    if let Some(k) = disk_log.hit() {
                        tracing::error!(sink = %name, error = %e, failures = k, "cannot record delivery in the outbox: these records may be sent again");
                    }
                }
                backoff.reset();
                if failing {
                    failing = false;
                    tracing::info!(sink = %name, "sink delivering again");
                }
            }
            Ok(_) | Err(DeliveryError::Transient(_)) => {
                let why = match result {
                    Err(e) => e.to_string(),
                    _ => "the peer acknowledged nothing".to_owned(),
                };
                SinkStats::add(&stats.retried, batch.len() as u64);
                failing = true;
                if let Some(n) = fail_log.hit() {
                    tracing::warn!(
                        sink = %name, error = %why, failures = n, queued = SinkStats::get(&stats.queued),
                        "delivery failed; alerts stay in the outbox and are retried with backoff (logged at most once a minute)"
                    );
                }
                if stop.is_cancelled() || !pause(backoff.next_delay(), stop, drain_until).await {
                    return;
                }
            }
            Err(DeliveryError::Rejected { count, message }) => {
                let count = count.clamp(1, batch.len());
                let last = batch[count - 1].seq;
                let acked = ack_counted(outbox, last, |s| &s.dropped, count);
                if let Err(e) = acked.await {
                    tracing::error!(sink = %name, error = %e, "cannot record a refused record in the outbox");
                }
                if let Some(n) = reject_log.hit() {
                    tracing::error!(sink = %name, error = %message, refused = n, "the peer refused records for good; they are dropped and counted");
                }
            }
        }
    }
}

/// Sleeps `d`; false when the loop should end instead (stopped and past the drain period, or
/// stopped while waiting).
async fn pause(d: Duration, stop: &CancellationToken, drain_until: Option<Instant>) -> bool {
    if stop.is_cancelled() {
        let Some(until) = drain_until else {
            return false;
        };
        if Instant::now() + d >= until {
            return false;
        }
        tokio::time::sleep(d).await;
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.cancelled() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let delays: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        let caps = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (d, cap) in delays.iter().zip(caps) {
            let cap = Duration::from_millis(cap);
            assert!(*d >= cap / 2 && *d <= cap, "{d:?} vs {cap:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    /// Fails the first `fail` attempts, then acknowledges everything; records what it saw.
    struct Flaky {
        fail: usize,
        seen: Arc<Mutex<Vec<u64>>>,
    }

    impl Delivery for Flaky {
        async fn deliver(&mut self, batch: &[Record]) -> Result<usize, DeliveryError> {
            if self.fail > 0 {
                self.fail -= 1;
                return Err(DeliveryError::Transient("down".into()));
            }
            let mut seen = self.seen.lock().unwrap();
            seen.extend(batch.iter().map(|r| r.seq));
            Ok(batch.len())
        }
    }

    #[tokio::test]
    async fn retries_then_delivers_everything_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = Arc::new(SinkStats::new("flaky"));
        let outbox = Outbox::open(tmp.path(), "flaky", 1 << 20, Arc::clone(&stats)).unwrap();
        for i in 0..100u32 {
            outbox.append(1, &i.to_le_bytes()).unwrap();
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(
            Arc::clone(&outbox),
            Flaky {
                fail: 3,
                seen: Arc::clone(&seen),
            },
            Backoff::new(Duration::from_millis(1), Duration::from_millis(5)),
            stop.clone(),
        ));
        for _ in 0..500 {
            if outbox.queued() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<u64>>());
        assert_eq!(SinkStats::get(&stats.delivered), 100);
        assert_eq!(SinkStats::get(&stats.retried), 3 * BATCH as u64);
        assert_eq!(SinkStats::get(&stats.queued), 0);
    }

    /// Delivers every batch, but a reload restarts the sink while the acknowledgement is
    /// being written: the loop is dropped as it awaits the outbox.
    struct RestartedOnAck {
        restart: CancellationToken,
    }

    impl Delivery for RestartedOnAck {
        async fn deliver(&mut self, batch: &[Record]) -> Result<usize, DeliveryError> {
            self.restart.cancel();
            Ok(batch.len())
        }
    }

    #[tokio::test]
    async fn a_restart_during_the_ack_still_counts_what_was_delivered() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = Arc::new(SinkStats::new("restarted"));
        let outbox = Outbox::open(tmp.path(), "restarted", 1 << 20, Arc::clone(&stats)).unwrap();
        for i in 0..10u32 {
            outbox.append(1, &i.to_le_bytes()).unwrap();
        }
        let restart = CancellationToken::new();
        let sink = RestartedOnAck {
            restart: restart.clone(),
        };
        let task = tokio::spawn(run_restartable(
            Arc::clone(&outbox),
            sink,
            Backoff::default(),
            CancellationToken::new(),
            restart,
        ));
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        // The ack's blocking task may finish after the loop was dropped: wait for it, and for
        // the count it takes after the ack (the two are not one atomic step).
        for _ in 0..500 {
            if outbox.queued() == 0 && SinkStats::get(&stats.delivered) >= 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let acked = 10 - outbox.queued() as u64;
        assert_eq!(acked, 10, "the batch was acknowledged in the outbox");
        assert_eq!(SinkStats::get(&stats.delivered), acked);
    }

    struct Refuses;

    impl Delivery for Refuses {
        async fn deliver(&mut self, batch: &[Record]) -> Result<usize, DeliveryError> {
            if batch[0].payload == b"bad" {
                return Err(DeliveryError::Rejected {
                    count: 1,
                    message: "malformed".into(),
                });
            }
            Ok(batch.len())
        }
    }

    #[tokio::test]
    async fn a_refused_record_is_dropped_and_counted_not_retried_forever() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = Arc::new(SinkStats::new("r"));
        let outbox = Outbox::open(tmp.path(), "r", 1 << 20, Arc::clone(&stats)).unwrap();
        outbox.append(1, b"bad").unwrap();
        outbox.append(1, b"good").unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(
            Arc::clone(&outbox),
            Refuses,
            Backoff::default(),
            stop.clone(),
        ));
        for _ in 0..500 {
            if outbox.queued() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(SinkStats::get(&stats.dropped), 1);
        assert_eq!(SinkStats::get(&stats.delivered), 1);
    }
}
