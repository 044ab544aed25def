//! Where a tailer resumes: per file, the offset up to which its lines were processed, and the
//! ends of truncated or finished files their copies may need. The log stage checkpoints them
//! (see `crate::logs::checkpoints`); the tailer only reads them back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::identity::{FileId, Head};

/// Where to resume in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct ReadPos {
    /// Byte offset after the last processed line (or the start of an unfinished event).
    pub offset: u64,
    /// Inside a line longer than `max_line_bytes` whose head was already processed: the rest
    /// up to the next newline is skipped.
    pub skipping: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Where the file was last seen (for people; identity is `id` + `head`).
    pub path: String,
    pub id: FileId,
    pub head: Head,
    pub pos: ReadPos,
}

/// How long the end of a truncated or finished file is kept for its copy to appear.
pub(crate) const KEEP_ENDS: Duration = Duration::from_secs(600);
/// Ends kept per source (the oldest are forgotten first).
pub(crate) const MAX_ENDS: usize = 256;

/// Where reading of a file stopped when it was truncated, rewritten or finished: its copy
/// (copytruncate) is read from there (see `copies`). Checkpointed, so that a reload or a
/// restart between the truncation and the copy's discovery does not read the copy again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct End {
    pub head: Head,
    pub offset: u64,
    /// Seconds since the Unix epoch when it was recorded.
    pub at: u64,
}

impl End {
    pub fn now(head: Head, offset: u64) -> End {
        End {
            head,
            offset,
            at: unix_secs(),
        }
    }

    pub fn expired(&self) -> bool {
        unix_secs().saturating_sub(self.at) > KEEP_ENDS.as_secs()
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a tailer resumes from: its files' positions, and the ends their copies may need.
#[derive(Debug, Clone, Default)]
pub(crate) struct Saved {
    pub files: Vec<Entry>,
    pub ends: Vec<End>,
}
