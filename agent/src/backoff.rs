//! Waiting between retries (sinks reconnecting, the journal reader restarting). A leaf: imports
//! nothing of the agent.

use std::time::Duration;

use rand::Rng;

/// Capped exponential backoff with equal jitter: each delay is drawn from [d/2, d], and d
/// doubles from `initial` up to `max`. A small local implementation: the `backoff` crate is
/// unmaintained and this is ten lines.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Self {
            initial,
            max: max.max(initial),
            current: initial,
        }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = d / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }

    /// Back to `initial` after a success.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}
