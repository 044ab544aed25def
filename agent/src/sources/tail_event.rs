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
    /// Old lines of a file with `start_at = "end"`, read at the source's first start for its
    /// baselines: learned, never exported nor alerted on (see `crate::logs::history`).
    History {
        source: usize,
        lines: Lines,
    },
    /// The journal's recent history, read before following it: learned, never exported.
    JournalHistory(JournalBatch),
    /// Reading a source's history is over (`source`: the file source's slot, `None`: the
    /// journal): its baselines can be handed to the pipeline.
    HistoryEnd {
        source: Option<usize>,
        read: HistoryRead,
    },
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

/// How reading a source's history went.
#[derive(Debug, Default, Clone)]
pub(crate) struct HistoryRead {
    /// Bytes read (file content, or journalctl's output).
    pub bytes: u64,
    /// Why less than the configured history was read, if it was (a timeout, a failure).
    pub problem: Option<String>,
    /// The journal: the cursor to follow on from (`None`: the history was cut short, the
    /// journal is followed from its end).
    pub resume_after: Option<String>,
}
