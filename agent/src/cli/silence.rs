//! `seismo silence add | list | expire`: the local agent's silences API, from the shell. The
//! commands read the configuration (`--config`, else `$SEISMO_CONFIG`, else the embedded
//! default) for the listen address and the token file, and speak HTTP/1.1 over a plain socket.
//! Exit 0 when the agent did it, 1 when it refused or cannot be reached (with its sentence),
//! 2 for a bad configuration or usage.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use seismo_config::Config;

use super::exit::EXIT_CONFIG;

/// Bodies read back at most (a listing of every silence fits easily).
const MAX_ANSWER: u64 = 64 << 20;

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence the signals matching the globs for a while.
    Add {
        /// A signal glob, e.g. "host.cpu.*"; repeat for more.
        #[arg(long = "signal", value_name = "GLOB", required = true)]
        signals: Vec<String>,
        /// How long, e.g. "2h" or "30m" (at most 366 days).
        #[arg(long = "for", value_name = "DURATION")]
        for_: String,
        /// Why (shown in the listing and the status page).
        #[arg(long, default_value = "")]
        comment: String,
        /// Who; default: $USER.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// List the active silences.
    List,
    /// End a silence now.
    Expire {
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// Runs one `seismo silence` command against the agent configured by `config`.
pub fn main(config: &Config, command: SilenceCommand) -> ExitCode {
    if !config.http.enabled {
        eprintln!("error: the configuration turns the HTTP endpoint off ([http] enabled = false): there is no API to talk to");
        return ExitCode::from(EXIT_CONFIG);
    }
    let addr = match target(config.http.listen) {
        Some(a) => a,
        None => {
            eprintln!("error: the configuration listens on port 0 (a free port picked at start): give `seismo silence` the config with the port the agent logged, or set [http] listen to a fixed port");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let state_dir = crate::daemon::state_dir::resolve(config.agent.state_dir.as_deref());
    let token_file = crate::http::token_path(&config.http, &state_dir);
    let result = match command {
        SilenceCommand::Add {
            signals,
            for_,
            comment,
            by,
        } => {
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "cli".to_owned());
            let body = serde_json::json!({
                "signals": signals, "for": for_, "comment": comment, "created_by": by,
            })
            .to_string();
            write(addr, &token_file, "POST", "/api/v1/silences", Some(&body)).map(|v| {
                format!(
                    "silence {} created: {} until {}",
                    text(&v["id"]),
                    list_of(&v["signals"]),
                    text(&v["ends_at"])
                )
            })
        }
        SilenceCommand::List => call(addr, "GET", "/api/v1/silences", None, None).map(listing),
        SilenceCommand::Expire { id } => {
            let path = format!("/api/v1/silences/{}", encode(&id));
            write(addr, &token_file, "DELETE", &path, None).map(|_| format!("silence {id} expired"))
        }
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where to connect: the listen address, or loopback when it listens on every interface.
pub(super) fn target(listen: SocketAddr) -> Option<SocketAddr> {
    if listen.port() == 0 {
        return None;
    }
    Some(match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(v6) if v6.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    })
}

fn write(
    addr: SocketAddr,
    token_file: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<serde_json::Value, String> {
    let token = std::fs::read_to_string(token_file).map_err(|e| {
        format!(
            "cannot read the API token from {}: {e} (run as the agent's user, e.g. with sudo, or set [http] token_file)",
            token_file.display()
        )
    })?;
    call(addr, method, path, Some(token.trim()), body)
}

/// One request; the answer's JSON when it is a 2xx, else the agent's sentence.
pub(super) fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<serde_json::Value, String> {
    let unreachable = |e: std::io::Error| {
        format!("cannot reach the agent's HTTP API at {addr}: {e} (is `seismo run` running with this configuration?)")
    };
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(unreachable)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(unreachable)?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).map_err(unreachable)?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut raw)
        .map_err(unreachable)?;
    let bad = || format!("the answer from {addr} is not HTTP: is another program on that port?");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let status: u16 = std::str::from_utf8(&raw[..end])
        .ok()
        .and_then(|h| h.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let value: serde_json::Value = serde_json::from_slice(&raw[end + 4..]).unwrap_or_default();
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        let said = value["error"]
            .as_str()
            .map_or_else(|| format!("HTTP {status}"), str::to_owned);
        Err(format!("the agent refused ({status}): {said}"))
    }
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn list_of(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn listing(v: serde_json::Value) -> String {
    let silences = v["silences"].as_array().cloned().unwrap_or_default();
    if silences.is_empty() {
        return "no active silences".to_owned();
    }
    let mut out = format!(
        "{:<18} {:<26} {:<7} {:<10} SIGNALS (COMMENT)",
        "ID", "ENDS AT", "ORIGIN", "BY"
    );
    for s in &silences {
        out.push_str(&format!(
            "\n{:<18} {:<26} {:<7} {:<10} {} ({})",
            text(&s["id"]),
            text(&s["ends_at"]),
            text(&s["origin"]),
            text(&s["created_by"]),
            list_of(&s["signals"]),
            text(&s["comment"])
        ));
    }
    out
}

/// Percent-encodes everything but unreserved characters, for an id in a path.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_encoding() {
        assert_eq!(
            target("0.0.0.0:9464".parse().unwrap()),
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert_eq!(
            target("[::]:9464".parse().unwrap()),
            Some("[::1]:9464".parse().unwrap())
        );
        assert_eq!(target("127.0.0.1:0".parse().unwrap()), None);
        assert_eq!(encode("ab/c d"), "ab%2Fc%20d");
    }
}
