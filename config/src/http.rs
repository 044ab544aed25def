//! `[http]`: the agent's loopback HTTP endpoint (/metrics, /healthz, /readyz, the silences API).

use std::net::{Ipv4Addr, SocketAddr};

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// The default listen address: loopback only, Prometheus' port range for exporters.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9464);

/// `[http]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub enabled: bool,
    /// IP address and port; port 0 picks a free port (logged at start).
    #[serde(deserialize_with = "listen")]
    pub listen: SocketAddr,
    /// Export the current anomaly score of every signal on /metrics (one series per signal).
    pub scores: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: DEFAULT_LISTEN,
            scores: false,
        }
    }
}

fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse().map_err(|_| {
        de::Error::custom(format!(
            "`{text}` is not an IP address and port: write one such as \"127.0.0.1:9464\" or \"[::1]:9464\" (host names are not resolved)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use crate::{parse, ConfigError};

    #[test]
    fn listen_takes_ip_and_port_only() {
        let c = parse("[http]\nlisten = \"[::1]:9000\"\nscores = true\n", "x").unwrap();
        assert_eq!(c.http.listen.port(), 9000);
        assert!(c.http.scores && c.http.enabled);
        match parse("[http]\nlisten = \"localhost:9464\"\n", "x") {
            Err(ConfigError::Invalid(l)) => {
                assert_eq!((l.line, l.column), (2, 10));
                assert!(
                    l.message.contains("not an IP address and port"),
                    "{}",
                    l.message
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
