//! `[sources]`: where samples come from.

use std::time::Duration;

use serde::Deserialize;

use crate::files::FileSourceConfig;
use crate::values::{self, NameGlob};

/// `[sources]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    pub host: HostSourceConfig,
    /// `[[sources.files]]`: log files, each table one named source.
    #[serde(deserialize_with = "crate::files::unique_sources")]
    pub files: Vec<FileSourceConfig>,
    /// `[sources.journal]`: the systemd journal (off when the table is absent).
    pub journal: crate::journal::JournalSourceConfig,
    /// `[[sources.processes]]`: per-process metrics of named process groups.
    #[serde(deserialize_with = "crate::process::checked_list")]
    pub processes: Vec<crate::process::ProcessSourceConfig>,
    /// `[[sources.scrape]]`: Prometheus endpoints scraped at an interval.
    #[serde(deserialize_with = "crate::scrape::checked_list")]
    pub scrape: Vec<crate::scrape::ScrapeSourceConfig>,
}

/// `[sources.host]`: host metrics sampled with sysinfo.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostSourceConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "values::sample_interval")]
    pub interval: Duration,
    /// Emit `host.cpu.core.{n}.utilization` besides the total.
    pub per_core: bool,
    /// Mount points whose file system usage is not watched (globs).
    pub exclude_mounts: Vec<NameGlob>,
    /// File system types not watched (globs), on top of the pseudo file systems sysinfo skips.
    pub exclude_fs_types: Vec<NameGlob>,
    /// Block devices whose I/O is not watched (globs over names such as `loop*`).
    pub exclude_disks: Vec<NameGlob>,
    /// Network interfaces not watched (globs).
    pub exclude_interfaces: Vec<NameGlob>,
    /// Sample batches buffered for the pipeline; past this the oldest are dropped and counted.
    #[serde(deserialize_with = "values::positive_count")]
    pub queue: usize,
    /// The same bound in samples (a scrape of a large target is one batch of many): past it
    /// the oldest batches are dropped and counted; a larger batch is still taken alone.
    #[serde(deserialize_with = "values::positive_count")]
    pub queue_samples: usize,
}

impl Default for HostSourceConfig {
    fn default() -> Self {
        let globs = |list: &[&str]| {
            list.iter()
                .filter_map(|p| NameGlob::new(p).ok())
                .collect::<Vec<_>>()
        };
        Self {
            enabled: true,
            interval: Duration::from_secs(10),
            per_core: true,
            exclude_mounts: globs(&[
                "/snap/*",
                "/var/lib/docker/*",
                "/var/lib/containers/*",
                "/var/lib/kubelet/*",
            ]),
            exclude_fs_types: globs(&["tmpfs", "overlay", "squashfs", "nsfs", "fuse.*"]),
            exclude_disks: globs(&["loop*", "ram*", "zram*"]),
            exclude_interfaces: globs(&["lo", "veth*", "docker*", "br-*", "cali*", "flannel*"]),
            queue: 64,
            queue_samples: 200_000,
        }
    }
}
