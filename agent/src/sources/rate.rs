//! Turns monotonically increasing counters into per-second rates.

use std::collections::HashMap;
use std::sync::Arc;

/// Remembers the last reading of each counter. The first reading of a counter yields no rate;
/// neither does a counter that went backwards (reset, wrap, device replaced), which restarts it.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    /// Last (ts_ms, counter) of each counter, and the sweep it was read in.
    last: HashMap<Arc<str>, (i64, u64, u64)>,
    sweep: u64,
}

impl Rates {
    /// The rate of `counter` per second since its previous reading, if there is one.
    pub(crate) fn rate(&mut self, signal: &Arc<str>, ts_ms: i64, counter: u64) -> Option<f64> {
        let previous = self
            .last
            .insert(Arc::clone(signal), (ts_ms, counter, self.sweep));
        let (prev_ts, prev, _) = previous?;
        let elapsed_ms = ts_ms.checked_sub(prev_ts).filter(|ms| *ms > 0)?;
        let delta = counter.checked_sub(prev)?;
        Some(delta as f64 * 1000.0 / elapsed_ms as f64)
    }

    /// Ends a collection step: counters not read during it (vanished devices) are forgotten.
    pub(crate) fn end_sweep(&mut self) {
        let current = self.sweep;
        self.last.retain(|_, (_, _, sweep)| *sweep == current);
        self.sweep += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reading_yields_nothing_then_rates() {
        let mut r = Rates::default();
        let s: Arc<str> = "c".into();
        assert_eq!(r.rate(&s, 1_000, 100), None);
        assert_eq!(r.rate(&s, 2_000, 300), Some(200.0));
        assert_eq!(r.rate(&s, 2_500, 400), Some(200.0));
    }

    #[test]
    fn resets_and_clock_steps_restart_the_counter() {
        let mut r = Rates::default();
        let s: Arc<str> = "c".into();
        r.rate(&s, 1_000, 100);
        assert_eq!(r.rate(&s, 2_000, 50), None, "counter went backwards");
        assert_eq!(r.rate(&s, 3_000, 150), Some(100.0));
        assert_eq!(r.rate(&s, 3_000, 250), None, "no time elapsed");
        assert_eq!(r.rate(&s, 2_000, 350), None, "clock stepped back");
        assert_eq!(r.rate(&s, 4_000, 550), Some(100.0));
    }

    #[test]
    fn sweeps_forget_vanished_counters() {
        let mut r = Rates::default();
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        r.rate(&a, 0, 1);
        r.rate(&b, 0, 1);
        r.end_sweep();
        assert!(r.rate(&a, 1_000, 2).is_some());
        r.end_sweep();
        assert!(r.rate(&a, 2_000, 3).is_some());
        assert!(r.rate(&b, 1_000, 2).is_none());
    }
}
