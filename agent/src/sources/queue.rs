//! The queue from the metric sources (host, processes, scrape targets) to the pipeline,
//! bounded in batches and in samples: one scrape of a large target is a batch of tens of
//! thousands of samples, so a bound in batches alone would let a pipeline that fell behind
//! hold hundreds of megabytes. Past either bound the oldest batches are dropped (metric
//! samples may be; log lines never come this way), counted in
//! `seismo_dropped_total{reason="host_queue_full"}` and logged at most every 5 minutes. A
//! batch larger than the whole sample bound is still taken when it is alone, so a large
//! target is never starved.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::sources::batch::Batch;
use crate::telemetry::stats::{LogLimiter, Stats};

/// The receiver is gone: the source can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

struct Inner {
    batches: VecDeque<Batch>,
    /// Samples in `batches`.
    samples: usize,
    senders: usize,
    receiver: bool,
    drop_log: LogLimiter,
}

struct Shared {
    inner: Mutex<Inner>,
    ready: Notify,
    max_batches: usize,
    max_samples: usize,
    stats: Arc<Stats>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The queue's state stays consistent at every await-free step: a panic elsewhere
        // while it was held leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending half; clone one per source.
pub struct SampleSender(Arc<Shared>);

/// The pipeline's half.
pub struct SampleReceiver(Arc<Shared>);

/// A queue of at most `max_batches` batches and `max_samples` samples (each at least 1).
pub fn channel(
    max_batches: usize,
    max_samples: usize,
    stats: Arc<Stats>,
) -> (SampleSender, SampleReceiver) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            batches: VecDeque::new(),
            samples: 0,
            senders: 1,
            receiver: true,
            drop_log: LogLimiter::new(Duration::from_secs(300)),
        }),
        ready: Notify::new(),
        max_batches: max_batches.max(1),
        max_samples: max_samples.max(1),
        stats,
    });
    (SampleSender(Arc::clone(&shared)), SampleReceiver(shared))
}

impl SampleSender {
    /// Queues `batch`, dropping the oldest batches past the bounds. Never waits.
    pub fn send(&self, batch: Batch) -> Result<(), Closed> {
        let q = &self.0;
        let mut inner = q.lock();
        if !inner.receiver {
            return Err(Closed);
        }
        inner.samples += batch.len();
        inner.batches.push_back(batch);
        let (mut batches, mut samples) = (0u64, 0u64);
        while inner.batches.len() > 1
            && (inner.batches.len() > q.max_batches || inner.samples > q.max_samples)
        {
            if let Some(old) = inner.batches.pop_front() {
                inner.samples -= old.len();
                batches += 1;
                samples += old.len() as u64;
            }
        }
        q.stats
            .queue_samples
            .store(inner.samples as u64, Ordering::Relaxed);
        if batches > 0 {
            Stats::add(&q.stats.queue_samples_dropped, samples);
            if let Some(n) = inner.drop_log.hit() {
                tracing::warn!(
                    dropped_batches = batches,
                    dropped_samples = samples,
                    drops = n,
                    max_batches = q.max_batches,
                    max_samples = q.max_samples,
                    "the pipeline fell behind the metric sources: the oldest samples were dropped (seismo_dropped_total{{reason=\"host_queue_full\"}}; logged at most every 5 minutes)"
                );
            }
        }
        drop(inner);
        q.ready.notify_one();
        Ok(())
    }
}

impl Clone for SampleSender {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        SampleSender(Arc::clone(&self.0))
    }
}

impl Drop for SampleSender {
    fn drop(&mut self) {
        let last = {
            let mut inner = self.0.lock();
            inner.senders -= 1;
            inner.senders == 0
        };
        if last {
            self.0.ready.notify_one();
        }
    }
}

impl SampleReceiver {
    /// The oldest batch queued; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Batch> {
        loop {
            {
                let mut inner = self.0.lock();
                if let Some(batch) = inner.batches.pop_front() {
                    inner.samples -= batch.len();
                    self.0
                        .stats
                        .queue_samples
                        .store(inner.samples as u64, Ordering::Relaxed);
                    return Some(batch);
                }
                if inner.senders == 0 {
                    return None;
                }
            }
            // A notification sent since the lock was released is kept as a permit, so none
            // is missed between the check and the wait.
            self.0.ready.notified().await;
        }
    }
}

impl Drop for SampleReceiver {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.receiver = false;
        inner.batches.clear();
        inner.samples = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Sample;

    fn batch(first: i64, n: usize) -> Batch {
        let name: Arc<str> = "s".into();
        Arc::new(
            (0..n)
                .map(|i| Sample {
                    signal: Arc::clone(&name),
                    ts_ms: first + i as i64,
                    value: 0.0,
                })
                .collect(),
        )
    }

    async fn drain(rx: &mut SampleReceiver) -> Vec<(i64, usize)> {
        let mut got = Vec::new();
        while let Ok(Some(b)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            got.push((b[0].ts_ms, b.len()));
        }
        got
    }

    #[tokio::test]
    async fn past_the_sample_bound_the_oldest_batches_are_dropped_and_counted() {
        let stats = Arc::new(Stats::default());
        let (tx, mut rx) = channel(64, 10_000, Arc::clone(&stats));
        // Four batches of 4,000 samples: 16,000 queued would pass the bound of 10,000.
        for i in 0..4 {
            tx.send(batch(i * 1000, 4000)).unwrap();
        }
        assert_eq!(Stats::get(&stats.queue_samples_dropped), 8000);
        assert_eq!(Stats::get(&stats.queue_samples), 8000);
        assert_eq!(drain(&mut rx).await, [(2000, 4000), (3000, 4000)]);
        assert_eq!(Stats::get(&stats.queue_samples), 0);
        // A batch larger than the whole bound is taken alone, replacing what was queued.
        tx.send(batch(0, 10)).unwrap();
        tx.send(batch(5000, 25_000)).unwrap();
        assert_eq!(Stats::get(&stats.queue_samples_dropped), 8010);
        assert_eq!(drain(&mut rx).await, [(5000, 25_000)]);
    }

    #[tokio::test]
    async fn past_the_batch_bound_too() {
        let stats = Arc::new(Stats::default());
        let (tx, mut rx) = channel(2, 1_000_000, Arc::clone(&stats));
        for i in 0..5 {
            tx.send(batch(i, 3)).unwrap();
        }
        assert_eq!(Stats::get(&stats.queue_samples_dropped), 9);
        assert_eq!(drain(&mut rx).await, [(3, 3), (4, 3)]);
    }

    #[tokio::test]
    async fn the_receiver_ends_when_every_sender_is_gone_and_senders_see_it_go() {
        let stats = Arc::new(Stats::default());
        let (tx, mut rx) = channel(8, 100, stats);
        let other = tx.clone();
        let waiting = tokio::spawn(async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        tx.send(batch(0, 1)).unwrap();
        drop(tx);
        other.send(batch(1, 1)).unwrap();
        drop(other);
        let n = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 2);

        let (tx, rx) = channel(8, 100, Arc::new(Stats::default()));
        drop(rx);
        assert_eq!(tx.send(batch(0, 1)), Err(Closed));
    }
}
