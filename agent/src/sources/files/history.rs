//! History of a file source with `start_at = "end"`: at its first start, the last part of each
//! file it finds (at most `history_bytes` in all, within `history_timeout`) is read with the
//! same line rules as live lines (containers, multiline) and handed to the log stage as
//! history, which learns it and exports nothing. Live reading then starts at each file's end
//! as before: a line is either history or live, never both.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::identity::{FileId, Head};
use super::position::ReadPos;
use super::tail::{LineRules, Lines, TailFile};
use crate::sources::tail_event::HistoryRead;

/// What is left of a source's history budget while its first discovery runs.
pub(super) struct HistoryBudget {
    bytes_left: u64,
    deadline: Instant,
    timeout: Duration,
    pub(super) read: HistoryRead,
}

impl HistoryBudget {
    pub(super) fn new(bytes: u64, timeout: Duration) -> HistoryBudget {
        HistoryBudget {
            bytes_left: bytes,
            deadline: Instant::now() + timeout,
            timeout,
            read: HistoryRead::default(),
        }
    }

    /// Reads the last part of `file` (`size` bytes long, live reading starts at `size`),
    /// handing its lines to `send` in batches. Stops at the byte budget or the deadline.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn read(
        &mut self,
        path: &Path,
        id: FileId,
        head: Head,
        file: &File,
        size: u64,
        rules: &LineRules,
        mut send: impl FnMut(Lines) -> bool,
    ) {
        if self.bytes_left == 0 || size == 0 || self.read.problem.is_some() {
            return;
        }
        let start = size.saturating_sub(self.bytes_left);
        // Starting inside a line: skip to the next one (a line starting exactly at `start`
        // is whole).
        let mut before = [0u8; 1];
        let skipping = start > 0
            && !(file.read_at(&mut before, start - 1).is_ok_and(|n| n == 1) && before[0] == b'\n');
        let clone = match file.try_clone() {
            Ok(f) => f,
            Err(e) => {
                self.read.problem = Some(format!("cannot read {}: {e}", path.display()));
                return;
            }
        };
        let mut t = TailFile::new(
            path.to_owned(),
            id,
            head,
            ReadPos {
                offset: start,
                skipping,
            },
        );
        t.file = Some(clone);
        loop {
            let left = size - t.read_pos();
            if left == 0 {
                break;
            }
            if Instant::now() >= self.deadline {
                self.read.problem = Some(format!(
                    "history_timeout ({}) reached while reading {}",
                    humantime::format_duration(self.timeout),
                    path.display()
                ));
                break;
            }
            let mut lines = Lines::default();
            match t.read(rules, &mut lines, left) {
                Ok(o) => {
                    self.read.bytes += o.bytes;
                    self.bytes_left = self.bytes_left.saturating_sub(o.bytes);
                    if o.bytes == 0 {
                        break;
                    }
                }
                Err(e) => {
                    self.read.problem = Some(format!("cannot read {}: {e}", path.display()));
                    break;
                }
            }
            if !lines.is_empty() && !send(lines) {
                return;
            }
        }
        // An event under assembly at the end is complete as far as history goes.
        let mut last = Lines::default();
        t.flush_pending(&mut last);
        if !last.is_empty() {
            send(last);
        }
    }
}
