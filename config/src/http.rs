//! `[http]`: the agent's HTTP endpoint (/metrics, /healthz, /readyz, the status page and the
//! silences API). Reads are open on loopback; writes need the bearer token in `token_file`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// The default listen address: loopback only, Prometheus' port range for exporters.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9464);

/// The token file's name in the state directory when `token_file` is not set.
pub const DEFAULT_TOKEN_FILE: &str = "http.token";

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
    /// The file holding the bearer token that writes (silences) need. Absent:
    /// `{state_dir}/http.token`, created (mode 0600, a random token) on first start. Required
    /// when `listen` is not a loopback address.
    #[serde(deserialize_with = "crate::values::absolute_path_opt")]
    pub token_file: Option<PathBuf>,
    /// Host names or addresses clients may send in the `Host` header besides `localhost`,
    /// `127.0.0.1`, `[::1]` and the listen address (always with the listen port).
    #[serde(deserialize_with = "allowed_hosts")]
    pub allowed_hosts: Vec<String>,
    /// A connection that has not sent a complete request head for this long (idle keep-alive,
    /// or a slow client) is closed.
    #[serde(deserialize_with = "idle_timeout")]
    pub idle_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: DEFAULT_LISTEN,
            scores: false,
            token_file: None,
            allowed_hosts: Vec::new(),
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// Deserializes `[http]` and runs the cross-key checks, so their errors point at the table.
pub(crate) fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<HttpConfig, D::Error> {
    let c = HttpConfig::deserialize(d)?;
    if c.enabled && !c.listen.ip().is_loopback() && c.token_file.is_none() {
        return Err(de::Error::custom(format!(
            "in [http], `listen` ({}) is beyond loopback but `token_file` is not set: anyone who \
             can reach the port could change silences. Write `token_file = \"/etc/seismo/http.token\"` \
             (a file holding a secret of at least 16 characters, readable by the agent only), or \
             listen on \"127.0.0.1:{}\"",
            c.listen,
            c.listen.port()
        )));
    }
    Ok(c)
}

fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse().map_err(|_| {
        de::Error::custom(format!(
            "`{}` is not an IP address and port: write one such as \"127.0.0.1:9464\" or \"[::1]:9464\" (host names are not resolved)",
            short(&text)
        ))
    })
}

fn allowed_hosts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let hosts = Vec::<String>::deserialize(d)?;
    hosts
        .into_iter()
        .map(|h| {
            let t = h.trim().to_ascii_lowercase();
            let ok = !t.is_empty()
                && t.len() <= 253
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if ok {
                Ok(t)
            } else {
                Err(de::Error::custom(format!(
                    "`{}` is not a host name or address: write one such as \"metrics.example.com\" or \"10.0.0.5\" (without a port)",
                    short(&h)
                )))
            }
        })
        .collect()
}

/// At most 64 characters of `text`, for error messages.
fn short(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn idle_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    crate::values::parse_duration(&text, Duration::from_secs(1), Duration::from_secs(600))
        .map_err(de::Error::custom)
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

    #[test]
    fn beyond_loopback_needs_a_token_file() {
        match parse("[agent]\n\n[http]\nlisten = \"0.0.0.0:9464\"\n", "x") {
            Err(ConfigError::Invalid(l)) => {
                assert_eq!(l.line, 3, "{}", l.message);
                assert!(
                    l.message.contains("`token_file` is not set"),
                    "{}",
                    l.message
                );
            }
            other => panic!("{other:?}"),
        }
        let c = parse(
            "[http]\nlisten = \"0.0.0.0:9464\"\ntoken_file = \"/etc/seismo/t\"\nallowed_hosts = [\"Web-1.example.com\"]\nidle_timeout = \"5s\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.http.allowed_hosts, ["web-1.example.com"]);
        assert_eq!(c.http.idle_timeout.as_secs(), 5);
        assert!(parse("[http]\nenabled = false\nlisten = \"0.0.0.0:9464\"\n", "x").is_ok());
        for bad in [
            "token_file = \"t\"",
            "allowed_hosts = [\"a b\"]",
            "idle_timeout = \"0s\"",
        ] {
            assert!(parse(&format!("[http]\n{bad}\n"), "x").is_err(), "{bad}");
        }
    }
}
