//! `[sinks]`: where alert events go.

use serde::Deserialize;

/// `[sinks]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    pub stdout: StdoutSinkConfig,
    pub lines: LinesSinkConfig,
    #[serde(deserialize_with = "crate::mqtt::checked")]
    pub mqtt: crate::mqtt::MqttSinkConfig,
    #[serde(deserialize_with = "crate::otlp::checked")]
    pub otlp: crate::otlp::OtlpSinkConfig,
    /// `[[sinks.webhook]]`: any number, each with a unique name.
    #[serde(deserialize_with = "crate::webhook::checked_list")]
    pub webhook: Vec<crate::webhook::WebhookSinkConfig>,
}

/// `[sinks.lines]`: every processed log line appended, exactly once, to a JSON-lines file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinesSinkConfig {
    /// The file; the sink is off when absent.
    #[serde(deserialize_with = "crate::values::absolute_path_opt")]
    pub path: Option<std::path::PathBuf>,
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
