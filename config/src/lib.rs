//! seismo's configuration: typed, parsed from TOML, unknown keys refused, every error located
//! (file, line, column) and worded as what to change.

// No unwrap()/expect() outside tests: input, I/O and the network must not crash the agent.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod alerting;
mod detectors;
mod environment;
mod error;
mod files;
mod hooks;
mod http;
mod journal;
mod model;
mod mqtt;
mod otlp;
mod process;
mod remediation;
mod scrape;
mod series_pattern;
mod silences;
mod sink_fields;
mod sinks;
mod sources;
mod template_pattern;
mod values;
mod webhook;

use std::path::Path;

pub use alerting::AlertingConfig;
pub use detectors::{DetectorKind, DetectorOverride, DetectorSettings, DetectorsConfig};
pub use environment::{EnvOverride, Overrides, CONFIG_VAR, OVERRIDES};
pub use error::{ConfigError, Located};
pub use files::{
    missing_dirs, ContainerFormat, FileSourceConfig, MissingDir, PathGlob, Pattern, StartAt,
    TemplateVariables, DEFAULT_ERROR_PATTERN, MAX_GLOBS_PER_SOURCE, MAX_GLOBS_TOTAL,
};
pub use hooks::{
    HookApproval, HookCommand, HookConfig, HookOn, HookSeverity, HookState, DEFAULT_PATH,
};
pub use http::{HttpConfig, DEFAULT_LISTEN, DEFAULT_TOKEN_FILE};
pub use journal::{
    JournalEnabled, JournalSourceConfig, DEFAULT_FALLBACK, FALLBACK_SOURCE, PRIORITY_NAMES,
};
pub use model::{AgentConfig, Config, LogLevel, LoggingConfig, LoggingFormat};
pub use mqtt::{MqttSinkConfig, MqttTlsConfig, MqttVersion};
pub use otlp::{OtlpCompression, OtlpProtocol, OtlpSinkConfig, OtlpTlsConfig};
pub use process::ProcessSourceConfig;
pub use remediation::RemediationConfig;
pub use scrape::ScrapeSourceConfig;
pub use series_pattern::{SeriesFilter, SeriesPattern, MAX_PATTERNS};
pub use silences::{parse_rfc3339, parse_silence_for, SilenceConfig, SilenceEnd, MAX_SILENCE};
pub use sinks::{LinesSinkConfig, SinksConfig, StdoutSinkConfig};
pub use sources::{HostSourceConfig, SourcesConfig};
pub use template_pattern::{TemplateFilter, TemplatePattern};
pub use values::{any_match, Count, NameGlob, NonNegative, Positive, Score, Smoothing};
pub use webhook::{WebhookFormat, WebhookSinkConfig, PAGERDUTY_EVENTS_URL};

/// The documented default configuration, embedded in the binary.
pub const DEFAULT_TOML: &str = include_str!("../seismo.toml");

/// The name under which the embedded default is reported in errors.
pub const DEFAULT_ORIGIN: &str = "<embedded default>";

/// Parses and validates a configuration text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let mut config: Config =
        toml::from_str(text).map_err(|e| ConfigError::from_toml(origin, text, &e))?;
    // A scrape target's `detector` is a kind for its signals, resolved with the overrides.
    config.detectors.source_kinds = config
        .sources
        .scrape
        .iter()
        .filter_map(|t| Some((t.signals_glob().ok()?, t.detector?)))
        .collect();
    Ok(config)
}

/// Reads, parses and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Reads the file at `path` and applies the `SEISMO_*` environment overrides to it.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    overrides.apply(&text, &path.display().to_string())
}

/// The embedded default configuration.
pub fn embedded_default() -> Result<Config, ConfigError> {
    parse(DEFAULT_TOML, DEFAULT_ORIGIN)
}

#[cfg(test)]
mod tests;
