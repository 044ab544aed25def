//! The commands a reload sends to the log stage.

use seismo_config::JournalSourceConfig;
use tokio::sync::oneshot;

use crate::logs::lines_sink::LinesSink;
use crate::logs::mining::{PreparedSource, SourceSettings};
use crate::sources::files::position::Saved;

/// What the reload asks of the log stage. Sent on the tailers' own channel, so a command comes
/// after every batch a stopped tailer sent: positions it answers are final.
pub(crate) enum StageCommand {
    /// A new source; its tailer starts after this.
    Add { slot: usize, source: PreparedSource },
    /// New settings for a source; answers its file positions (for a restarted tailer).
    Update {
        slot: usize,
        settings: SourceSettings,
        done: oneshot::Sender<Saved>,
    },
    /// The source's tailer has stopped: checkpoint what it read, then forget the source.
    Remove {
        slot: usize,
        done: oneshot::Sender<()>,
    },
    /// The lines sink moved (or was switched on or off).
    LinesSink {
        sink: Option<LinesSink>,
        done: oneshot::Sender<()>,
    },
    /// `alerting.resolve_after`, which resolves novel-template alerts.
    ResolveAfter(u32),
    /// The journal source's settings (`None`: it stops; its units are checkpointed, then
    /// forgotten; its cursor is kept). Sent after its reader stopped; answers the cursor of
    /// the last record processed, where a new reader resumes.
    Journal {
        cfg: Option<Box<JournalSourceConfig>>,
        done: oneshot::Sender<Option<String>>,
    },
}
