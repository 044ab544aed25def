//! The typed configuration. Every table refuses unknown keys; every key has a default except
//! the ones marked required.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::detectors::DetectorsConfig;
use crate::values::{self, NameGlob, Score};

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub agent: AgentConfig,
    pub logging: LoggingConfig,
    pub sources: SourcesConfig,
    pub detectors: DetectorsConfig,
    pub alerting: AlertingConfig,
    pub sinks: SinksConfig,
}

/// `[agent]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The host name put on every alert; the system's host name when absent.
    #[serde(deserialize_with = "non_empty_opt")]
    pub host_name: Option<String>,
    /// Where durable state lives. When absent: `$STATE_DIRECTORY` (set by systemd), else
    /// `/var/lib/seismo` when running as root, else `$XDG_STATE_HOME/seismo`.
    #[serde(deserialize_with = "absolute_path_opt")]
    pub state_dir: Option<PathBuf>,
}

/// `[logging]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LogFormat,
    pub level: LogLevel,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

/// `[sources]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    pub host: HostSourceConfig,
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
        }
    }
}

/// `[alerting]`: how anomalies become alerts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Anomalies scoring at or above this are `critical`; below it, `warning`.
    pub critical_score: Score,
    /// A firing alert resolves after this many consecutive normal points of its signal.
    #[serde(deserialize_with = "values::positive_count")]
    pub resolve_after: u32,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        Self {
            critical_score: Score::fixed(0.8),
            resolve_after: 3,
        }
    }
}

/// `[sinks]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    pub stdout: StdoutSinkConfig,
}

/// `[sinks.stdout]`: one JSON object per alert event on standard output.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutSinkConfig {
    pub enabled: bool,
}

impl Default for StdoutSinkConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

fn non_empty_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "the value is empty: remove the key to use the default, or write a name",
        ));
    }
    Ok(Some(s))
}

fn absolute_path_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let p = PathBuf::from(String::deserialize(d)?);
    if !p.is_absolute() {
        return Err(serde::de::Error::custom(format!(
            "`{}` is a relative path: write an absolute path such as \"/var/lib/seismo\"",
            p.display()
        )));
    }
    Ok(Some(p))
}
