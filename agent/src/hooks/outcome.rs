//! What a hook run came to: logged, counted, and exported to the sinks as an event (outbox
//! records of kind `Hook`; MQTT publishes them on `{prefix}/{host}/hooks`).

use serde::Serialize;

use crate::event::format_ts;

/// Bytes of each of stdout and stderr kept in an outcome.
pub const OUTPUT_LIMIT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookResult {
    /// Exited with status 0.
    Ok,
    /// Exited with another status, was killed by a signal, or could not be started.
    Failed,
    /// Still running at its timeout; its process group was stopped.
    TimedOut,
    /// Still running when the agent stopped; its process group was stopped.
    Interrupted,
    /// `dry_run = true`: nothing was run.
    DryRun,
}

impl HookResult {
    /// As serialized.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Interrupted => "interrupted",
            Self::DryRun => "dry_run",
        }
    }
}

/// One run of one hook, as the sinks receive it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookOutcome {
    /// When the run ended (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub time: i64,
    pub hook: String,
    /// `"alert"` or `"incident"`: what ran the hook.
    pub event: &'static str,
    /// The alert or incident id.
    pub event_id: String,
    /// `"firing"` or `"resolved"`: the state of the event that ran the hook.
    pub state: &'static str,
    pub host: String,
    pub result: HookResult,
    /// The argv as configured (never holds alert data).
    pub command: Vec<String>,
    pub exit_code: Option<i32>,
    /// The signal that ended the hook's main process, e.g. `"SIGKILL"`.
    pub exit_signal: Option<String>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// The first [`OUTPUT_LIMIT`] bytes (invalid UTF-8 replaced).
    pub stdout: String,
    pub stdout_truncated: bool,
    pub stderr: String,
    pub stderr_truncated: bool,
    /// Why the command could not be started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn rfc3339<S: serde::Serializer>(ts_ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ts(*ts_ms))
}

/// The head of an output stream: the first [`OUTPUT_LIMIT`] bytes kept, the rest counted.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub head: Vec<u8>,
    pub total: u64,
}

impl Capture {
    pub fn push(&mut self, bytes: &[u8]) {
        let room = OUTPUT_LIMIT.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.total += bytes.len() as u64;
    }

    pub fn truncated(&self) -> bool {
        self.total > self.head.len() as u64
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.head).into_owned()
    }
}

/// `SIGKILL` for 9, and so on; `signal N` for the rare ones.
pub(crate) fn signal_name(n: i32) -> String {
    let name = match n {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {n}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_head_and_counts_the_rest() {
        let mut c = Capture::default();
        c.push(&[b'a'; 3000]);
        assert!(!c.truncated());
        c.push(&[b'b'; 3000]);
        assert_eq!((c.head.len(), c.total), (OUTPUT_LIMIT, 6000));
        assert!(c.truncated());
        assert!(c.text().ends_with('b'));
    }

    #[test]
    fn signals_have_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(40), "signal 40");
    }
}
