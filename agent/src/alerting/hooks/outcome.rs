//! What a hook run came to: logged, counted, and exported to the sinks as an event (outbox
//! records of kind `Hook`; MQTT publishes them on `{prefix}/{host}/hooks`).

use crate::event::OUTPUT_LIMIT;

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
