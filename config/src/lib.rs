//! seismo's configuration: typed, parsed from TOML, unknown keys refused, every error located
//! (file, line, column) and worded as what to change.

mod detectors;
mod error;
mod files;
mod model;
mod mqtt;
mod otlp;
mod sinks;
mod sources;
mod values;

use std::path::Path;

pub use detectors::{DetectorKind, DetectorOverride, DetectorSettings, DetectorsConfig};
pub use error::{ConfigError, Located};
pub use files::{
    ContainerFormat, FileSourceConfig, PathGlob, Pattern, StartAt, DEFAULT_ERROR_PATTERN,
};
pub use model::{AgentConfig, AlertingConfig, Config, LogFormat, LogLevel, LoggingConfig};
pub use mqtt::{MqttSinkConfig, MqttTlsConfig, MqttVersion};
pub use otlp::{OtlpCompression, OtlpProtocol, OtlpSinkConfig, OtlpTlsConfig};
pub use sinks::{LinesSinkConfig, SinksConfig, StdoutSinkConfig};
pub use sources::{HostSourceConfig, SourcesConfig};
pub use values::{any_match, Count, NameGlob, NonNegative, Positive, Score, Smoothing};

/// The documented default configuration, embedded in the binary.
pub const DEFAULT_TOML: &str = include_str!("../seismo.toml");

/// The name under which the embedded default is reported in errors.
pub const DEFAULT_ORIGIN: &str = "<embedded default>";

/// Parses and validates a configuration text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::from_toml(origin, text, &e))
}

/// Reads, parses and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// The embedded default configuration.
pub fn embedded_default() -> Result<Config, ConfigError> {
    parse(DEFAULT_TOML, DEFAULT_ORIGIN)
}

#[cfg(test)]
mod tests;
