//! Change notification through inotify (the `notify` crate), for low latency. Everything it
//! reports is only a hint: the tailer also sweeps on a timer, which is all it has when inotify
//! is unavailable (network file systems, exhausted watch limits).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use notify::event::ModifyKind;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use seismo_config::PathGlob;

/// Changed paths remembered between two turns; past this a full sweep is asked for instead.
const MAX_PATHS: usize = 8192;

#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Files appeared, disappeared or were renamed: run discovery now.
    pub rediscover: bool,
    /// Events were lost: look at every file.
    pub overflow: bool,
    /// Files whose content changed.
    pub paths: HashSet<PathBuf>,
}

pub(crate) struct Watch {
    /// The globs it was made for: a tailer restarted with the same ones keeps it.
    paths: Vec<PathGlob>,
    watcher: Option<RecommendedWatcher>,
    watched: HashSet<PathBuf>,
    changes: Arc<Mutex<Changes>>,
    wake: Receiver<()>,
    /// Some directory could not be watched: rely on the sweep for it.
    degraded: bool,
    source: String,
}

impl Watch {
    pub fn new(paths: &[PathGlob], source: &str) -> Watch {
        let changes = Arc::new(Mutex::new(Changes::default()));
        let (wake_tx, wake) = sync_channel(1);
        let shared = Arc::clone(&changes);
        let watcher = notify::recommended_watcher(move |event| record(&shared, &wake_tx, event));
        let watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(source, error = %e, "inotify is unavailable: files are polled instead (every 250 ms)");
                let mut w = Watch::polling(source, changes, wake);
                w.paths = paths.to_vec();
                return w;
            }
        };
        let mut w = Watch::polling(source, changes, wake);
        w.paths = paths.to_vec();
        w.watcher = Some(watcher);
        w.refresh(paths);
        w
    }

    /// No notifications: the tailer polls (what happens when inotify cannot be used).
    pub fn polling(source: &str, changes: Arc<Mutex<Changes>>, wake: Receiver<()>) -> Watch {
        Watch {
            paths: Vec::new(),
            watcher: None,
            watched: HashSet::new(),
            changes,
            wake,
            degraded: false,
            source: source.to_owned(),
        }
    }

    /// The globs it watches for.
    pub fn paths(&self) -> &[PathGlob] {
        &self.paths
    }

    /// True when every glob's base directory is watched.
    pub fn is_live(&self) -> bool {
        self.watcher.is_some() && !self.degraded
    }

    /// Watches the base directories not watched yet (they may have been created since).
    pub fn refresh(&mut self, paths: &[PathGlob]) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let mut degraded = false;
        for glob in paths {
            let base = glob.base_dir().to_owned();
            if self.watched.contains(&base) {
                continue;
            }
            let mode = if glob.max_depth() == Some(1) {
                RecursiveMode::NonRecursive
            } else {
                RecursiveMode::Recursive
            };
            match watcher.watch(&base, mode) {
                Ok(()) => {
                    self.watched.insert(base);
                }
                Err(e) => {
                    if !self.degraded && base.exists() {
                        tracing::warn!(source = %self.source, dir = %base.display(), error = %e, "cannot watch this directory with inotify: polling it instead");
                    }
                    degraded = true;
                }
            }
        }
        self.degraded = degraded;
    }

    /// What changed since the last call.
    pub fn take(&self) -> Changes {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Sleeps until something changes or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        // Without a watcher nothing can wake us (the sender is gone): just sleep.
        if let Err(RecvTimeoutError::Disconnected) = self.wake.recv_timeout(timeout) {
            std::thread::sleep(timeout);
        }
    }
}

fn record(changes: &Mutex<Changes>, wake: &SyncSender<()>, event: notify::Result<notify::Event>) {
    {
        let mut c = changes.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Ok(event) => {
                if event.need_rescan() {
                    c.overflow = true;
                    c.rediscover = true;
                }
                match event.kind {
                    EventKind::Create(_)
                    | EventKind::Remove(_)
                    | EventKind::Modify(ModifyKind::Name(_)) => {
                        c.rediscover = true;
                    }
                    EventKind::Access(_) => return,
                    _ => {}
                }
                for p in event.paths {
                    if c.paths.len() >= MAX_PATHS {
                        c.overflow = true;
                        break;
                    }
                    c.paths.insert(p);
                }
            }
            Err(_) => c.overflow = true,
        }
    }
    let _ = wake.try_send(());
}
