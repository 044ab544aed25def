//! `[[silences]]`: time-boxed silences by signal glob, written in the configuration. (The agent
//! also takes silences over its HTTP API; both kinds are applied the same way.)

use std::time::{Duration, SystemTime};

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::values::{parse_duration, NameGlob};

/// The longest a silence may last: long silences are forgotten silences.
pub const MAX_SILENCE: Duration = Duration::from_secs(366 * 24 * 3600);

/// One `[[silences]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawSilence")]
pub struct SilenceConfig {
    /// Alerts on signals matching any of these globs are not sent while the silence lasts.
    pub signals: Vec<NameGlob>,
    pub end: SilenceEnd,
    pub comment: String,
}

/// When a silence ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SilenceEnd {
    /// At this time.
    Until(SystemTime),
    /// This long after the agent started.
    For(Duration),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSilence {
    signals: Vec<NameGlob>,
    #[serde(default, deserialize_with = "until_opt")]
    until: Option<SystemTime>,
    #[serde(rename = "for", default, deserialize_with = "for_opt")]
    for_: Option<Duration>,
    #[serde(default)]
    comment: String,
}

impl TryFrom<RawSilence> for SilenceConfig {
    type Error = String;

    fn try_from(r: RawSilence) -> Result<Self, String> {
        if r.signals.is_empty() {
            return Err(
                "a silence needs at least one signal glob: write `signals = [\"host.cpu.*\"]`"
                    .into(),
            );
        }
        let end = match (r.until, r.for_) {
            (Some(t), None) => SilenceEnd::Until(t),
            (None, Some(d)) => SilenceEnd::For(d),
            (Some(_), Some(_)) => {
                return Err(
                    "a silence has both `until` and `for`: keep one of them".into(),
                )
            }
            (None, None) => return Err(
                "a silence needs an end: add `for = \"2h\"` (from the agent's start) or `until = \"2026-12-01T08:00:00Z\"`"
                    .into(),
            ),
        };
        Ok(Self {
            signals: r.signals,
            end,
            comment: r.comment,
        })
    }
}

/// A silence's length: 1 s to 366 days.
pub fn parse_silence_for(text: &str) -> Result<Duration, String> {
    parse_duration(text, Duration::from_secs(1), MAX_SILENCE)
}

/// An RFC 3339 time with a `Z` or `±HH:MM` offset, e.g. `2026-12-01T08:00:00Z` or
/// `2026-12-01T09:00:00+01:00`.
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    let bad = || {
        format!("`{text}` is not an RFC 3339 time: write one such as \"2026-12-01T08:00:00Z\" or \"2026-12-01T09:00:00+01:00\"")
    };
    let s = text.trim();
    if !s.is_ascii() || s.len() < 20 || !matches!(s.as_bytes()[10], b'T' | b't') {
        return Err(bad());
    }
    let (utc, offset_s) = if let Some(base) = s.strip_suffix(['Z', 'z']) {
        (format!("{}T{}Z", &base[..10], &base[11..]), 0i64)
    } else {
        let (base, offset) = s.split_at(s.len() - 6);
        let o = offset.as_bytes();
        let sign = match o[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(bad()),
        };
        let digits = |a: u8, b: u8| -> Option<i64> {
            Some(i64::from(
                (a as char).to_digit(10)? * 10 + (b as char).to_digit(10)?,
            ))
        };
        let (Some(h), Some(m), b':') = (digits(o[1], o[2]), digits(o[4], o[5]), o[3]) else {
            return Err(bad());
        };
        if h > 23 || m > 59 {
            return Err(bad());
        }
        (
            format!("{}T{}Z", &base[..10], &base[11..]),
            sign * (h * 3600 + m * 60),
        )
    };
    let local = humantime::parse_rfc3339(&utc).map_err(|_| bad())?;
    let shift = Duration::from_secs(offset_s.unsigned_abs());
    // A positive offset means the local time is ahead of UTC.
    let t = if offset_s >= 0 {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    };
    t.ok_or_else(bad)
}

fn until_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    let text = String::deserialize(d)?;
    parse_rfc3339(&text).map(Some).map_err(de::Error::custom)
}

fn for_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    parse_silence_for(&text)
        .map(Some)
        .map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, ConfigError};
    use std::time::UNIX_EPOCH;

    fn secs(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn rfc3339_with_offsets() {
        let z = parse_rfc3339("2026-12-01T08:00:00Z").unwrap();
        assert_eq!(secs(z), 1_796_112_000);
        assert_eq!(parse_rfc3339("2026-12-01T09:00:00+01:00").unwrap(), z);
        assert_eq!(parse_rfc3339("2026-12-01T03:30:00-04:30").unwrap(), z);
        assert_eq!(
            parse_rfc3339("2026-12-01t08:00:00.250z").unwrap(),
            z + Duration::from_millis(250)
        );
        for bad in [
            "2026-12-01 08:00:00",
            "2026-12-01T08:00:00",
            "tomorrow",
            "2026-13-01T08:00:00Z",
            "2026-12-01T08:00:00+1:00",
            "2026-12-01T08:00:00+24:00",
            "2026-12-01T08:00:00€",
        ] {
            assert!(
                parse_rfc3339(bad)
                    .unwrap_err()
                    .contains("not an RFC 3339 time"),
                "{bad}"
            );
        }
    }

    #[test]
    fn silences_from_the_config() {
        let c = parse(
            "[[silences]]\nsignals = [\"host.cpu.*\"]\nfor = \"2h\"\ncomment = \"upgrade\"\n\
             [[silences]]\nsignals = [\"log.app.*\", \"host.load.*\"]\nuntil = \"2026-12-01T08:00:00Z\"\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.silences.len(), 2);
        assert_eq!(
            c.silences[0].end,
            SilenceEnd::For(Duration::from_secs(7200))
        );
        assert_eq!(c.silences[0].comment, "upgrade");
        assert!(c.silences[1].signals[1].is_match("host.load.1m"));
        assert!(matches!(c.silences[1].end, SilenceEnd::Until(_)));
    }

    #[test]
    fn bad_silences_are_refused_with_a_location() {
        let cases = [
            ("[[silences]]\nsignals = [\"a\"]\n", 1, "needs an end"),
            (
                "[[silences]]\nsignals = [\"a\"]\nfor = \"1h\"\nuntil = \"2026-12-01T08:00:00Z\"\n",
                1,
                "both `until` and `for`",
            ),
            (
                "[[silences]]\nsignals = []\nfor = \"1h\"\n",
                1,
                "at least one signal",
            ),
            (
                "[[silences]]\nsignals = [\"a\"]\nfor = \"2y\"\n",
                3,
                "out of range",
            ),
            (
                "[[silences]]\nsignals = [\"a\"]\nuntil = \"soon\"\n",
                3,
                "not an RFC 3339 time",
            ),
            (
                "[[silences]]\nsignals = [\"a[\"]\nfor = \"1h\"\n",
                2,
                "not a valid glob",
            ),
            (
                "[[silences]]\nsignal = [\"a\"]\nfor = \"1h\"\n",
                2,
                "Did you mean `signals`?",
            ),
        ];
        for (text, line, want) in cases {
            match parse(text, "x") {
                Err(ConfigError::Invalid(l)) => {
                    assert!(l.message.contains(want), "{text}: {}", l.message);
                    assert_eq!(l.line, line, "{text}: {}", l.message);
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
