//! The running set: the components `seismo run` started, as a reload reconciles them.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::logs::LogSources;
use crate::pipeline::PipelineHandle;
use crate::sinks::running::RunningSinks;
use crate::sinks::Sinks;
use crate::sources::host::HostTask;
use crate::sources::queue::SampleSender;
use crate::sources::tasks::SourceTasks;
use crate::telemetry::stats::Stats;

/// The running components, as a reload reconciles them (see `crate::daemon::reload`).
pub(crate) struct Running {
    pub(crate) stats: Arc<Stats>,
    /// Cancelled at shutdown; every source's token is a child of it.
    pub(crate) cancel: CancellationToken,
    pub(crate) sinks: RunningSinks,
    pub(crate) pipeline: PipelineHandle<Sinks>,
    pub(crate) host: Option<HostTask>,
    /// `[[sources.processes]]` and `[[sources.scrape]]`: one task per table.
    pub(crate) processes: SourceTasks<seismo_config::ProcessSourceConfig>,
    pub(crate) scrapes: SourceTasks<seismo_config::ScrapeSourceConfig>,
    pub(crate) samples: SampleSender,
    pub(crate) logs: LogSources,
}
