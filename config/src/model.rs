//! The typed configuration. Every table refuses unknown keys; every key has a default except
//! the ones marked required.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::alerting::AlertingConfig;
use crate::detectors::DetectorsConfig;
use crate::sinks::SinksConfig;
use crate::sources::SourcesConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub agent: AgentConfig,
    pub logging: LoggingConfig,
    pub sources: SourcesConfig,
    pub detectors: DetectorsConfig,
    #[serde(deserialize_with = "crate::alerting::checked")]
    pub alerting: AlertingConfig,
    pub sinks: SinksConfig,
    /// `[[hooks]]`: remediation commands run on alerts or incidents.
    #[serde(deserialize_with = "crate::hooks::unique_hooks")]
    pub hooks: Vec<crate::hooks::HookConfig>,
    /// `[remediation]`: who may decide on hooks over the network.
    pub remediation: crate::remediation::RemediationConfig,
    #[serde(deserialize_with = "crate::http::checked")]
    pub http: crate::http::HttpConfig,
    pub silences: Vec<crate::silences::SilenceConfig>,
}

/// `[agent]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The host name put on every alert; the system's host name when absent.
    #[serde(deserialize_with = "non_empty_opt")]
    pub host_name: Option<String>,
    /// Where durable state lives. When absent: `$STATE_DIRECTORY` (set by systemd), else
    /// `/var/lib/seismo` when running as root, else `$XDG_STATE_HOME/seismo`.
    #[serde(deserialize_with = "crate::values::absolute_path_opt")]
    pub state_dir: Option<PathBuf>,
    /// How often the learned state (detectors, alerts, incidents) is snapshotted to the state
    /// directory, besides at a clean stop: 1 s to 1 h.
    #[serde(deserialize_with = "crate::values::snapshot_interval")]
    pub snapshot_interval: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            host_name: None,
            state_dir: None,
            snapshot_interval: Duration::from_secs(60),
        }
    }
}

/// `[logging]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LoggingFormat,
    pub level: LogLevel,
}

/// `[logging] format`: how the agent's own log lines are written (`"human"` or `"json"`).
/// Not to be confused with `seismo_detectors::LogFormat`, the header layout of a watched log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoggingFormat {
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

fn non_empty_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "the value is empty: remove the key to use the default, or write a name",
        ));
    }
    Ok(Some(s))
}
