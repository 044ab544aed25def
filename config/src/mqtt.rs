//! `[sinks.mqtt]`: alerts published to an MQTT broker, through a durable outbox.

use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::sink_fields::{self, check_retry, retry, OUTBOX_MAX_BYTES, RETRY_INITIAL, RETRY_MAX};
use crate::values::{self, duration_in};

/// `[sinks.mqtt]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSinkConfig {
    pub enabled: bool,
    /// Broker host name or IP address.
    #[serde(deserialize_with = "non_empty")]
    pub host: String,
    /// Broker port; 1883 without TLS, 8883 with TLS when absent.
    pub port: Option<u16>,
    pub version: MqttVersion,
    /// Client identifier; `seismo-{host name}` when absent.
    #[serde(deserialize_with = "client_id_opt")]
    pub client_id: Option<String>,
    pub username: Option<String>,
    /// The password, written here (discouraged), or read from a file, or from an environment
    /// variable: at most one of the three.
    pub password: Option<String>,
    #[serde(deserialize_with = "absolute_path_opt")]
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    /// 0, 1 or 2.
    #[serde(deserialize_with = "qos")]
    pub qos: u8,
    /// Topics are `{topic_prefix}/{host}/alerts|incidents|hooks|status`.
    #[serde(deserialize_with = "topic_prefix")]
    pub topic_prefix: String,
    #[serde(deserialize_with = "keep_alive")]
    pub keep_alive: Duration,
    /// Time allowed for the TCP/TLS connection and the broker's CONNACK.
    #[serde(deserialize_with = "timeout")]
    pub connect_timeout: Duration,
    /// Time allowed for the broker to acknowledge a batch (PUBACK/PUBCOMP).
    #[serde(deserialize_with = "timeout")]
    pub ack_timeout: Duration,
    /// Reconnect/retry backoff: starts at `retry_initial`, doubles up to `retry_max`, with jitter.
    #[serde(deserialize_with = "retry")]
    pub retry_initial: Duration,
    #[serde(deserialize_with = "retry")]
    pub retry_max: Duration,
    /// Bound of this sink's outbox on disk, in bytes; past it the oldest alerts are dropped
    /// and counted.
    #[serde(deserialize_with = "outbox_bytes")]
    pub outbox_max_bytes: u64,
    pub tls: MqttTlsConfig,
}

impl Default for MqttSinkConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            host: "localhost".into(),
            port: None,
            version: MqttVersion::V311,
            client_id: None,
            username: None,
            password: None,
            password_file: None,
            password_env: None,
            qos: 1,
            topic_prefix: "seismo".into(),
            keep_alive: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(30),
            retry_initial: RETRY_INITIAL,
            retry_max: RETRY_MAX,
            outbox_max_bytes: OUTBOX_MAX_BYTES,
            tls: MqttTlsConfig::default(),
        }
    }
}

impl MqttSinkConfig {
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.tls.enabled { 8883 } else { 1883 })
    }
}

/// The MQTT protocol version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum MqttVersion {
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    #[serde(rename = "5")]
    V5,
}

/// `[sinks.mqtt.tls]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttTlsConfig {
    pub enabled: bool,
    /// PEM file of the certificate authorities that sign the broker's certificate (for a
    /// public CA: /etc/ssl/certs/ca-certificates.crt). Required when `enabled`.
    #[serde(deserialize_with = "absolute_path_opt")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and private key, for brokers that require client
    /// certificates. Both or neither.
    #[serde(deserialize_with = "absolute_path_opt")]
    pub cert_file: Option<PathBuf>,
    #[serde(deserialize_with = "absolute_path_opt")]
    pub key_file: Option<PathBuf>,
}

/// Deserializes `[sinks.mqtt]` and runs the cross-key checks, so their errors point at the table.
pub(crate) fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<MqttSinkConfig, D::Error> {
    let c = MqttSinkConfig::deserialize(d)?;
    check(&c).map_err(de::Error::custom)?;
    Ok(c)
}

fn check(c: &MqttSinkConfig) -> Result<(), String> {
    let passwords = [
        c.password.is_some(),
        c.password_file.is_some(),
        c.password_env.is_some(),
    ];
    if passwords.iter().filter(|&&p| p).count() > 1 {
        return Err(
            "in [sinks.mqtt], set at most one of `password`, `password_file` and `password_env`"
                .into(),
        );
    }
    if passwords.iter().any(|&p| p) && c.username.is_none() {
        return Err(
            "in [sinks.mqtt], a password is set without `username`: add `username = \"...\"`"
                .into(),
        );
    }
    if c.tls.cert_file.is_some() != c.tls.key_file.is_some() {
        return Err("in [sinks.mqtt.tls], `cert_file` and `key_file` go together: set both for a client certificate, or neither".into());
    }
    if c.tls.enabled && c.tls.ca_file.is_none() {
        return Err("[sinks.mqtt.tls] is enabled without `ca_file`: name the PEM file of the broker's certificate authority (for a public CA, \"/etc/ssl/certs/ca-certificates.crt\")".into());
    }
    if !c.tls.enabled && (c.tls.ca_file.is_some() || c.tls.cert_file.is_some()) {
        return Err("[sinks.mqtt.tls] has files but `enabled = false`: set `enabled = true` to use TLS, or remove the files".into());
    }
    check_retry("[sinks.mqtt]", c.retry_initial, c.retry_max)
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(de::Error::custom(
            "the value is empty: write a host name or address such as \"broker.example.com\"",
        ));
    }
    Ok(s)
}

fn client_id_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() || s.len() > 65535 {
        return Err(de::Error::custom(
            "write a non-empty client id such as \"seismo-web-1\", or remove the key for the default",
        ));
    }
    Ok(Some(s))
}

fn absolute_path_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    values::absolute_path(d, "/etc/seismo/mqtt-ca.pem").map(Some)
}

fn qos<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let q = i64::deserialize(d)?;
    match q {
        0..=2 => Ok(q as u8),
        _ => Err(de::Error::custom(format!(
            "{q} is not an MQTT QoS: write 0 (at most once), 1 (at least once) or 2 (exactly once)"
        ))),
    }
}

fn topic_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() || s.contains(['+', '#', '\0']) || s.starts_with('/') || s.ends_with('/') {
        return Err(de::Error::custom(format!(
            "`{s}` cannot prefix a topic: write a non-empty name without `+`, `#` or a leading or trailing `/`, such as \"seismo\""
        )));
    }
    Ok(s)
}

fn keep_alive<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_in(d, Duration::from_secs(5), Duration::from_secs(3600))
}

fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_in(d, Duration::from_secs(1), Duration::from_secs(600))
}

/// MQTT's outbox may be as small as 4 KiB (the other sinks': 16 KiB).
fn outbox_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    sink_fields::outbox_bytes_from(d, 4 << 10)
}

#[cfg(test)]
mod tests {
    use crate::parse;
    use crate::tests::refusal as err;

    #[test]
    fn defaults_are_off_with_qos_1_and_prefix_seismo() {
        let c = parse("", "t").unwrap().sinks.mqtt;
        assert!(!c.enabled);
        assert_eq!(
            (c.qos, c.topic_prefix.as_str(), c.port()),
            (1, "seismo", 1883)
        );
        assert_eq!(c.outbox_max_bytes, 64 << 20);
    }

    #[test]
    fn a_full_table_parses() {
        let c = parse(
            "[sinks.mqtt]\nenabled = true\nhost = \"b\"\nversion = \"5\"\nqos = 2\nusername = \"u\"\npassword_env = \"P\"\n[sinks.mqtt.tls]\nenabled = true\nca_file = \"/ca.pem\"\n",
            "t",
        )
        .unwrap()
        .sinks
        .mqtt;
        assert_eq!(c.version, super::MqttVersion::V5);
        assert_eq!((c.qos, c.port()), (2, 8883));
    }

    #[test]
    fn bad_values_are_located_and_explained() {
        let e = err("[sinks.mqtt]\nqos = 3\n");
        assert!(e.contains("t.toml:2:7") && e.contains("write 0"), "{e}");
        let e = err("[sinks.mqtt]\ntopic_prefix = \"a/#\"\n");
        assert!(e.contains("cannot prefix a topic"), "{e}");
        let e = err("[sinks.mqtt]\nversion = \"4\"\n");
        assert!(e.contains("unknown value `4`"), "{e}");
        let e = err("[sinks.mqtt]\nusername = \"u\"\npassword = \"p\"\npassword_env = \"X\"\n");
        assert!(e.contains("at most one of"), "{e}");
        let e = err("[sinks.mqtt.tls]\nenabled = true\n");
        assert!(e.contains("without `ca_file`"), "{e}");
        let e = err("[sinks.mqtt]\noutbox_max_bytes = 100\n");
        assert!(e.contains("too small"), "{e}");
        let e = err("[sinks.mqtt]\nkeep_alive = \"1s\"\n");
        assert!(e.contains("out of range"), "{e}");
    }
}
