//! Fields the sinks share: the retry back-off and outbox bound of every outbox sink (MQTT,
//! OTLP, webhooks), and the URL, header and file checks of the HTTP ones (which the scrape
//! source uses too).
//!
//! The shared fields are declared in each sink's table, not in a `#[serde(flatten)]` struct:
//! flatten would disable `deny_unknown_fields` and lose the error spans. What they share is
//! here: their checks, defaults and cross-key rule.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer};

use crate::values;

/// Default first retry delay after a failed delivery.
pub(crate) const RETRY_INITIAL: Duration = Duration::from_millis(500);
/// Default longest retry delay.
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(30);
/// Default outbox bound: 64 MiB.
pub(crate) const OUTBOX_MAX_BYTES: u64 = 64 << 20;

/// Retry back-off bounds: 10 ms to 1 h.
pub(crate) fn retry<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    values::duration_in(d, Duration::from_millis(10), Duration::from_secs(3600))
}

/// The cross-key rule of the retry fields; `table` names the table in the error.
pub(crate) fn check_retry(table: &str, initial: Duration, max: Duration) -> Result<(), String> {
    if initial > max {
        return Err(format!(
            "in {table}, `retry_initial` is longer than `retry_max`: make it shorter"
        ));
    }
    Ok(())
}

/// An outbox bound of at least 16 KiB.
pub(crate) fn outbox_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    outbox_bytes_from(d, 16 << 10)
}

/// An outbox bound of at least `min` bytes.
pub(crate) fn outbox_bytes_from<'de, D: Deserializer<'de>>(
    d: D,
    min: i64,
) -> Result<u64, D::Error> {
    let n = i64::deserialize(d)?;
    if n < min {
        return Err(de::Error::custom(format!(
            "{n} is too small: write at least {min} bytes (the default is {OUTBOX_MAX_BYTES}, 64 MiB)"
        )));
    }
    Ok(n as u64)
}

/// An absolute file path (TLS files, secrets).
pub(crate) fn absolute_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    values::absolute_path(d, "/etc/seismo/ca.pem").map(Some)
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

/// What one kind of request accepts as extra headers.
pub(crate) struct HeaderRules {
    /// A header name the error for an invalid name suggests.
    pub example: &'static str,
    /// Whether a (lower-cased) name is one the requester sets itself.
    pub reserved: fn(&str) -> bool,
    /// Who sets the reserved headers, for the error ("the sink").
    pub setter: &'static str,
}

/// A header name: an HTTP token that is not reserved; returned lower-cased.
pub(crate) fn header_name<E: de::Error>(name: &str, rules: &HeaderRules) -> Result<String, E> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(E::custom(format!(
            "`{name}` is not a valid header name: use letters, digits and - (such as \"{}\")",
            rules.example
        )));
    }
    let lower = name.to_ascii_lowercase();
    if (rules.reserved)(&lower) {
        return Err(E::custom(format!(
            "header `{name}` is set by {} itself: remove it",
            rules.setter
        )));
    }
    Ok(lower)
}

/// Headers with their values: names checked by [`header_name`] (kept lower-cased), values
/// printable ASCII.
pub(crate) fn headers<'de, D: Deserializer<'de>>(
    d: D,
    rules: &HeaderRules,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, String>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (name, value) in raw {
        let lower = header_name(&name, rules)?;
        if !value
            .chars()
            .all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic())
        {
            return Err(de::Error::custom(format!(
                "the value of header `{name}` has characters that cannot be sent: use printable ASCII"
            )));
        }
        out.insert(lower, value);
    }
    Ok(out)
}
