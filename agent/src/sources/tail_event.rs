//! What the tailers (files and journal) hand to the log stage, on one bounded channel.

use std::sync::Arc;

use super::files::identity::{FileId, Head};
use super::files::position::{End, ReadPos};
use super::files::tail::Lines;
use super::journal::record::{JournalRecord, Malformed};

/// Batches queued between all tailers and the log stage; a full queue blocks the readers.
pub(crate) const TAIL_QUEUE: usize = 16;

/// What the tailers send to the log stage.
pub(crate) enum TailEvent<C> {
    Lines(LineBatch),
    /// The file is finished (deleted or rotated away, and read to its end) or no longer
    /// exists: forget its checkpoint.
    Gone {
        source: usize,
        id: FileId,
    },
    /// Reading of a file stopped here when it was truncated, rewritten or finished (sent after
    /// its last lines): checkpointed for its copy (see `copies`).
    Ended {
        source: usize,
        end: End,
    },
    /// Records read from the journal (see `crate::sources::journal`).
    Journal(JournalBatch),
    /// Not from a tailer: a command of the stage that reads the channel, sent by its owner on
    /// the same channel so that it comes after every batch a stopped tailer sent.
    Stage(C),
}

/// Lines of one file, and where to resume once they are processed.
pub(crate) struct LineBatch {
    pub source: usize,
    pub id: FileId,
    pub head: Head,
    pub path: Arc<str>,
    pub lines: Lines,
    pub pos: ReadPos,
    /// Pod, namespace and container, for container logs named as kubelet names them.
    pub k8s: Option<Arc<crate::event::K8sPod>>,
}

/// Records read from journalctl, in journal order.
pub(crate) struct JournalBatch {
    pub records: Vec<JournalRecord>,
    /// Lines that were not journal records: skipped.
    pub malformed: u64,
    pub malformed_reason: Option<Malformed>,
}
