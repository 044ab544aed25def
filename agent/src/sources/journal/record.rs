//! One line of `journalctl -o json`: a JSON object of journal fields. A field's value is a
//! string, an array of bytes (not valid UTF-8, or with control characters), `null` (larger
//! than journalctl shows, without `--all`), or an array of those when the field repeats.

use serde::Deserialize;

/// The fields the log stage uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalRecord {
    /// Where the record is in the journal; the next start resumes after it.
    pub cursor: String,
    /// `_SYSTEMD_UNIT`, else `SYSLOG_IDENTIFIER`, else `_COMM`, else `unknown`.
    pub unit: String,
    /// 0 (emerg) .. 7 (debug), when the record has a valid one.
    pub priority: Option<u8>,
    /// The message bytes; empty when the record has none (or it was `null`).
    pub message: Vec<u8>,
    /// `__REALTIME_TIMESTAMP`: microseconds since the epoch.
    pub realtime_us: Option<u64>,
}

/// Why a line is not a journal record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Malformed {
    #[error("the line is not a JSON object of journal fields")]
    Json,
    #[error("the record has no __CURSOR")]
    NoCursor,
    #[error("the record is longer than the agent accepts")]
    TooLong,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Value {
    Text(String),
    Bytes(Vec<u8>),
    Many(Vec<Option<Value>>),
}

impl Value {
    fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Text(s) => Some(s.into_bytes()),
            Value::Bytes(b) => Some(b),
            Value::Many(list) => list.into_iter().flatten().find_map(Value::into_bytes),
        }
    }

    fn into_text(self) -> Option<String> {
        self.into_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "__CURSOR", default)]
    cursor: Option<Value>,
    #[serde(rename = "MESSAGE", default)]
    message: Option<Value>,
    #[serde(rename = "_SYSTEMD_UNIT", default)]
    unit: Option<Value>,
    #[serde(rename = "SYSLOG_IDENTIFIER", default)]
    identifier: Option<Value>,
    #[serde(rename = "_COMM", default)]
    comm: Option<Value>,
    #[serde(rename = "PRIORITY", default)]
    priority: Option<Value>,
    #[serde(rename = "__REALTIME_TIMESTAMP", default)]
    realtime: Option<Value>,
}

/// Parses one line (without its newline).
pub(crate) fn parse(line: &[u8]) -> Result<JournalRecord, Malformed> {
    let raw: Raw = serde_json::from_slice(line).map_err(|_| Malformed::Json)?;
    let cursor = raw
        .cursor
        .and_then(Value::into_text)
        .filter(|c| !c.is_empty())
        .ok_or(Malformed::NoCursor)?;
    let unit = [raw.unit, raw.identifier, raw.comm]
        .into_iter()
        .flatten()
        .find_map(|v| v.into_text().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    let priority = raw
        .priority
        .and_then(Value::into_text)
        .and_then(|p| p.trim().parse::<u8>().ok())
        .filter(|p| *p <= 7);
    let realtime_us = raw
        .realtime
        .and_then(Value::into_text)
        .and_then(|t| t.parse().ok());
    let message = raw.message.and_then(Value::into_bytes).unwrap_or_default();
    Ok(JournalRecord {
        cursor,
        unit,
        priority,
        message,
        realtime_us,
    })
}

/// A unit name as signal-safe text: without `.service`, characters other than ASCII letters,
/// digits, `_` and `-` made `_`, no leading `_` (kept for `_overflow`), at most 64 bytes.
pub(crate) fn signal_name(unit: &str) -> String {
    let base = unit.strip_suffix(".service").unwrap_or(unit);
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = s.trim_start_matches('_').len();
    s.drain(..s.len() - trimmed);
    s.truncate(64);
    if s.is_empty() {
        "unknown".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_record() {
        let r = parse(br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1764118800000000","PRIORITY":"3","_SYSTEMD_UNIT":"nginx.service","SYSLOG_IDENTIFIER":"nginx","MESSAGE":"upstream timed out","_PID":"12"}"#).unwrap();
        assert_eq!(r.cursor, "s=1;i=2");
        assert_eq!(r.unit, "nginx.service");
        assert_eq!(r.priority, Some(3));
        assert_eq!(r.message, b"upstream timed out");
        assert_eq!(r.realtime_us, Some(1_764_118_800_000_000));
    }

    #[test]
    fn byte_arrays_nulls_repeats_and_fallback_units() {
        let r =
            parse(br#"{"__CURSOR":"c","MESSAGE":[104,105,255,10],"SYSLOG_IDENTIFIER":"kernel"}"#)
                .unwrap();
        assert_eq!(r.message, [104, 105, 255, 10]);
        assert_eq!(r.unit, "kernel");
        assert_eq!(r.priority, None);
        let r = parse(br#"{"__CURSOR":"c","MESSAGE":null,"_COMM":"cron"}"#).unwrap();
        assert!(r.message.is_empty());
        assert_eq!(r.unit, "cron");
        let r = parse(br#"{"__CURSOR":"c","MESSAGE":["first","second"],"PRIORITY":"x"}"#).unwrap();
        assert_eq!(r.message, b"first");
        assert_eq!(r.unit, "unknown");
        assert_eq!(r.priority, None);
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(parse(b"{\"MESSAGE\":\"x\"}"), Err(Malformed::NoCursor));
        assert_eq!(parse(b"{\"__CURSOR\":\"c\",\"MESS"), Err(Malformed::Json));
        assert_eq!(parse(b"[1,2]"), Err(Malformed::Json));
        assert_eq!(parse(b""), Err(Malformed::Json));
    }

    #[test]
    fn unit_names_become_signal_safe() {
        assert_eq!(signal_name("nginx.service"), "nginx");
        assert_eq!(signal_name("getty@tty1.service"), "getty_tty1");
        assert_eq!(signal_name("cron.timer"), "cron_timer");
        assert_eq!(signal_name("_overflow"), "overflow");
        assert_eq!(signal_name("..."), "unknown");
        assert_eq!(signal_name(&"x".repeat(100)).len(), 64);
        assert_eq!(
            signal_name("sys-devices-x\\x2d1.device"),
            "sys-devices-x_x2d1_device"
        );
    }
}
