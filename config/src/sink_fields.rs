//! Field checks shared by the HTTP-based sinks (OTLP, webhooks).

use std::path::PathBuf;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer};

use crate::values;

/// Retry back-off bounds: 10 ms to 1 h.
pub(crate) fn retry<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    values::parse_duration(&s, Duration::from_millis(10), Duration::from_secs(3600))
        .map_err(de::Error::custom)
}

/// An outbox bound of at least 16 KiB.
pub(crate) fn outbox_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = i64::deserialize(d)?;
    const MIN: i64 = 16 << 10;
    if n < MIN {
        return Err(de::Error::custom(format!(
            "{n} is too small: write at least {MIN} bytes (the default is 67108864, 64 MiB)"
        )));
    }
    Ok(n as u64)
}

/// An absolute file path (TLS files, secrets).
pub(crate) fn absolute_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let p = PathBuf::from(String::deserialize(d)?);
    if !p.is_absolute() {
        return Err(de::Error::custom(format!(
            "`{}` is a relative path: write an absolute path such as \"/etc/seismo/ca.pem\"",
            p.display()
        )));
    }
    Ok(Some(p))
}

/// An http:// or https:// URL with a host, without its trailing slashes. `example` and
/// `host_example` are URLs the error messages suggest.
pub(crate) fn http_url<E: de::Error>(
    s: &str,
    example: &str,
    host_example: &str,
) -> Result<String, E> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| {
            E::custom(format!(
                "`{s}` is not an http:// or https:// URL: write one such as \"{example}\""
            ))
        })?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || rest.contains(char::is_whitespace) {
        return Err(E::custom(format!(
            "`{s}` has no host: write a URL such as \"{host_example}\""
        )));
    }
    Ok(s.trim_end_matches('/').to_owned())
}
