//! A set of source tasks, one per configuration table, reconciled by value on reload.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Running tasks with the configuration each was started with.
pub struct SourceTasks<C> {
    tasks: Vec<(C, CancellationToken, JoinHandle<()>)>,
}

impl<C> Default for SourceTasks<C> {
    fn default() -> Self {
        Self { tasks: Vec::new() }
    }
}

impl<C: PartialEq + Clone> SourceTasks<C> {
    /// Stops the tasks whose configuration is not in `configs` and starts one for each new
    /// configuration with `spawn` (given a child of `parent`); unchanged tasks keep running,
    /// with what they hold (rate and restart baselines).
    pub fn reconcile(
        &mut self,
        configs: &[C],
        parent: &CancellationToken,
        mut spawn: impl FnMut(&C, CancellationToken) -> JoinHandle<()>,
    ) {
        let mut kept = Vec::with_capacity(configs.len());
        for (cfg, cancel, handle) in self.tasks.drain(..) {
            if configs.contains(&cfg) {
                kept.push((cfg, cancel, handle));
            } else {
                cancel.cancel();
            }
        }
        for cfg in configs {
            if kept.iter().any(|(c, _, _)| c == cfg) {
                continue;
            }
            let cancel = parent.child_token();
            let handle = spawn(cfg, cancel.clone());
            kept.push((cfg.clone(), cancel, handle));
        }
        self.tasks = kept;
    }

    /// Stops every task and waits for them.
    pub async fn stop(self) {
        for (_, cancel, _) in &self.tasks {
            cancel.cancel();
        }
        for (_, _, handle) in self.tasks {
            let _ = handle.await;
        }
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spawns a task that ends when cancelled, and notes which configuration it was for.
    fn spawn<'a>(
        started: &'a mut Vec<&'static str>,
    ) -> impl FnMut(&&'static str, CancellationToken) -> JoinHandle<()> + 'a {
        move |cfg, cancel| {
            started.push(*cfg);
            tokio::spawn(async move { cancel.cancelled().await })
        }
    }

    #[tokio::test]
    async fn unchanged_tasks_keep_running_and_changed_ones_restart() {
        let root = CancellationToken::new();
        let mut tasks = SourceTasks::default();
        let mut started = Vec::new();
        tasks.reconcile(&["a", "b"], &root, spawn(&mut started));
        assert_eq!(started, ["a", "b"]);
        started.clear();
        // `b` changed into `c`: `b` stops, `c` starts, `a` is left alone.
        tasks.reconcile(&["a", "c"], &root, spawn(&mut started));
        assert_eq!(started, ["c"]);
        assert_eq!(tasks.len(), 2);
        started.clear();
        tasks.reconcile(&[], &root, spawn(&mut started));
        assert!(started.is_empty() && tasks.is_empty());
        tasks.reconcile(&["a"], &root, spawn(&mut started));
        // Stops within the test's time: the tasks end when cancelled.
        tokio::time::timeout(std::time::Duration::from_secs(5), tasks.stop())
            .await
            .unwrap();
    }
}
