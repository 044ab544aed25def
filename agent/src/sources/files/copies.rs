//! Copies of followed files. copytruncate rotation copies a file (`app.log` → `app.log.1`) and
//! then truncates it; when the glob also matches the copy, reading the copy from its start would
//! repeat every line already read from the original. A copy is recognised by its fingerprint:
//! its first [`HEAD_BYTES`](super::identity::HEAD_BYTES) bytes equal those of a file followed
//! before, under another inode.
//!
//! - While the original is still followed with that content, the copy holds nothing new: it
//!   is left alone.
//! - Once the original is truncated, rewritten or finished, the copy is read from where reading
//!   of the original stopped: the lines written just before the truncation, which only the copy
//!   still has, are read once.
//!
//! Ends are also sent to the log stage, which checkpoints them: a tailer started again (a
//! reload, a restart) gets them back, and takes the end of a checkpointed file that it finds
//! truncated or gone as well.
//!
//! Only complete fingerprints count (files of at least 1 KiB): a shorter common prefix could
//! be two distinct files starting alike, and skipping a distinct file would lose its lines.

use std::collections::VecDeque;
use std::time::Instant;

use super::identity::Head;
use super::position::{KEEP_ENDS, MAX_ENDS};

/// Where reading of files with a complete fingerprint stopped when they were truncated,
/// rewritten or finished.
#[derive(Default)]
pub(super) struct Ends {
    ends: VecDeque<(Head, u64, Instant)>,
}

impl Ends {
    /// Reading of the file fingerprinted `head` stopped at byte `offset` of its old content.
    pub fn record(&mut self, head: Head, offset: u64) {
        if !head.is_complete() {
            return;
        }
        self.expire();
        if self.ends.len() >= MAX_ENDS {
            self.ends.pop_front();
        }
        self.ends.push_back((head, offset, Instant::now()));
    }

    /// The offset to start a new file fingerprinted `head` at, when it is a copy of a file
    /// whose end was recorded (each end serves one copy).
    pub fn take(&mut self, head: Head) -> Option<u64> {
        if !head.is_complete() {
            return None;
        }
        self.expire();
        let at = self.ends.iter().rposition(|(h, _, _)| *h == head)?;
        self.ends.remove(at).map(|(_, offset, _)| offset)
    }

    fn expire(&mut self) {
        while self
            .ends
            .front()
            .is_some_and(|(_, _, at)| at.elapsed() > KEEP_ENDS)
        {
            self.ends.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::files::identity::HEAD_BYTES;

    #[test]
    fn an_end_serves_one_copy_with_the_same_complete_fingerprint() {
        let full = Head::of(&[b'a'; HEAD_BYTES]);
        let other = Head::of(&[b'b'; HEAD_BYTES]);
        let short = Head::of(b"short");
        let mut ends = Ends::default();
        ends.record(full, 5000);
        ends.record(short, 3);
        assert_eq!(ends.take(other), None);
        assert_eq!(
            ends.take(short),
            None,
            "incomplete fingerprints never match"
        );
        assert_eq!(ends.take(full), Some(5000));
        assert_eq!(ends.take(full), None, "used once");
    }

    #[test]
    fn the_number_of_ends_is_bounded() {
        let mut ends = Ends::default();
        for i in 0..(MAX_ENDS as u64 + 10) {
            let mut bytes = [0u8; HEAD_BYTES];
            bytes[..8].copy_from_slice(&i.to_le_bytes());
            ends.record(Head::of(&bytes), i);
        }
        assert_eq!(ends.ends.len(), MAX_ENDS);
        assert_eq!(
            ends.take(Head::of(&[0u8; HEAD_BYTES])),
            None,
            "oldest forgotten"
        );
    }
}
