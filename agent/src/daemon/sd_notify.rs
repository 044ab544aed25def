//! Notifications to the service manager (systemd's `Type=notify`): READY once sources and
//! sinks run, WATCHDOG keep-alives from the main loop, RELOADING/READY around SIGHUP, STOPPING on
//! shutdown. Without `$NOTIFY_SOCKET` (a terminal, a container) every call does nothing.

use std::time::Duration;

use ::sd_notify::NotifyState;

use crate::telemetry::stats::LogLimiter;

/// The service manager as seen from the agent.
#[derive(Debug)]
pub struct ServiceManager {
    /// Whether `$NOTIFY_SOCKET` was set at start-up.
    enabled: bool,
    /// How often to send WATCHDOG=1: half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3)
    /// recommends, so one late tick does not get the agent killed.
    watchdog_every: Option<Duration>,
    failures: LogLimiter,
}

impl ServiceManager {
    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID` (the watchdog is ours only
    /// when WATCHDOG_PID is absent or our pid).
    pub fn from_env() -> Self {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty());
        let watchdog_every = ::sd_notify::watchdog_enabled()
            .filter(|d| !d.is_zero())
            .map(|d| d / 2);
        Self {
            enabled,
            watchdog_every,
            failures: LogLimiter::new(Duration::from_secs(60)),
        }
    }

    /// The keep-alive period the main loop must keep, when systemd's watchdog is on.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog_every
    }

    /// Start-up (or a reload) is complete.
    pub fn ready(&mut self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// A reload starts. systemd 253+ requires MONOTONIC_USEC with RELOADING=1.
    pub fn reloading(&mut self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    /// The agent is still alive.
    pub fn watchdog(&mut self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// Shutdown has begun.
    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    fn send(&mut self, states: &[NotifyState]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = ::sd_notify::notify(states) {
            // A lost READY or WATCHDOG makes systemd restart us; say why, but not every tick.
            if let Some(n) = self.failures.hit() {
                tracing::warn!(error = %e, failures = n, "cannot notify the service manager ($NOTIFY_SOCKET)");
            }
        }
    }
}

/// Waits for the next watchdog tick, or forever when the watchdog is off (for `select!`).
pub async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// A ticker at the manager's keep-alive period, if any. Missed ticks are not bunched up: a
/// stalled loop must not look alive by sending a burst afterwards.
pub fn interval(manager: &ServiceManager) -> Option<tokio::time::Interval> {
    manager.watchdog_every().map(|every| {
        let mut i = tokio::time::interval(every);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    /// Environment variables are process-wide: one test covers every case in sequence.
    #[test]
    fn notifies_a_real_socket_and_computes_the_watchdog_period() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // No other test in this crate reads or writes these variables.
        std::env::set_var("NOTIFY_SOCKET", &path);
        std::env::set_var("WATCHDOG_USEC", "20000000");
        std::env::remove_var("WATCHDOG_PID");
        let mut m = ServiceManager::from_env();
        assert_eq!(m.watchdog_every(), Some(Duration::from_secs(10)));
        let mut buf = [0u8; 512];
        let mut recv = || {
            let n = socket.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        m.ready("running");
        assert_eq!(recv(), "READY=1\nSTATUS=running\n");
        m.watchdog();
        assert_eq!(recv(), "WATCHDOG=1\n");
        m.reloading();
        let msg = recv();
        assert!(msg.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{msg}");
        m.stopping();
        assert_eq!(recv(), "STOPPING=1\nSTATUS=stopping\n");

        // Another process's watchdog is not ours.
        std::env::set_var("WATCHDOG_PID", "1");
        assert_eq!(ServiceManager::from_env().watchdog_every(), None);
        // A socket that went away is logged, not fatal.
        drop(socket);
        std::env::remove_var("WATCHDOG_PID");
        let mut m = ServiceManager::from_env();
        m.watchdog();
        std::env::remove_var("NOTIFY_SOCKET");
        std::env::remove_var("WATCHDOG_USEC");
        let mut off = ServiceManager::from_env();
        assert_eq!(off.watchdog_every(), None);
        off.ready("running");
    }
}
