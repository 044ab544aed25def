//! `[remediation]`: who may decide on hooks from the network. Decisions (approvals, rejections
//! and requests, see docs/alerts.md) come through the local HTTP API with its write token, or
//! over MQTT when `key_file` names the HMAC-SHA256 key that signs them.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::values;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    /// The HMAC-SHA256 key (the file's bytes, a trailing newline dropped) that signs decisions
    /// sent over MQTT; without it the agent does not subscribe to decisions.
    #[serde(deserialize_with = "key_file")]
    pub key_file: Option<PathBuf>,
    /// A signed decision whose `time` is further than this from the agent's clock is refused
    /// (a replay, or a sender whose clock is off).
    #[serde(deserialize_with = "replay_window")]
    pub replay_window: Duration,
}

impl Default for RemediationConfig {
    fn default() -> Self {
        Self {
            key_file: None,
            replay_window: Duration::from_secs(300),
        }
    }
}

fn key_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    values::absolute_path(d, "/etc/seismo/decisions.key").map(Some)
}

fn replay_window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    values::duration_in(d, Duration::from_secs(1), Duration::from_secs(24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::tests::located as err;

    #[test]
    fn defaults_values_and_errors() {
        let c = parse("", "t").unwrap();
        assert_eq!(c.remediation, RemediationConfig::default());
        let c = parse(
            "[remediation]\nkey_file = \"/etc/seismo/k\"\nreplay_window = \"30s\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            c.remediation.key_file.as_deref(),
            Some(std::path::Path::new("/etc/seismo/k"))
        );
        assert_eq!(c.remediation.replay_window, Duration::from_secs(30));
        let e = err("[remediation]\nkey_file = \"k\"\n");
        assert!(e.message.contains("relative path"), "{}", e.message);
        let e = err("[remediation]\nreplay_window = \"0s\"\n");
        assert!(e.message.contains("out of range"), "{}", e.message);
    }
}
