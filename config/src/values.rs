//! Validated scalar values. Each one checks its range while deserializing, so a bad value is
//! reported by the TOML parser with the exact line and column of the offending text.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Declares an `f64` newtype that only deserializes when `$check` holds.
macro_rules! bounded_f64 {
    ($(#[$doc:meta])* $name:ident, $check:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
        pub struct $name(f64);

        impl $name {
            /// Wraps `value`, or says what range it must be in.
            pub fn new(value: f64) -> Result<Self, String> {
                let check: fn(f64) -> bool = $check;
                if check(value) {
                    Ok(Self(value))
                } else {
                    Err(format!("{value} is out of range: write {}", $what))
                }
            }

            /// For defaults written in code; the caller vouches for the range.
            pub(crate) const fn fixed(value: f64) -> Self {
                Self(value)
            }

            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // TOML integers are accepted too: `min_scale = 0` should not need `0.0`.
                let value = d.deserialize_any(NumberVisitor($what))?;
                $name::new(value).map_err(de::Error::custom)
            }
        }
    };
}

bounded_f64!(
    /// An anomaly score strictly between 0 and 1.
    Score,
    |v| v > 0.0 && v < 1.0,
    "a number strictly between 0 and 1, such as 0.5"
);
bounded_f64!(
    /// A share of a whole, from 0 to 1.
    Share,
    |v| (0.0..=1.0).contains(&v),
    "a number from 0 to 1, such as 0.1"
);
bounded_f64!(
    /// A smoothing factor in (0, 1].
    Smoothing,
    |v| v > 0.0 && v <= 1.0,
    "a number greater than 0 and at most 1, such as 0.05"
);
bounded_f64!(
    /// A finite number that is zero or more.
    NonNegative,
    |v| v.is_finite() && v >= 0.0,
    "a finite number that is 0 or more"
);
bounded_f64!(
    /// A finite number that is more than zero.
    Positive,
    |v| v.is_finite() && v > 0.0,
    "a finite number greater than 0, such as 3.0"
);

struct NumberVisitor(&'static str);

impl Visitor<'_> for NumberVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

/// A `[[...]]` list of named tables: each table passes `check`, then no two share a name
/// (names key signals, outboxes and logs). `repeated` words the error for a name used twice.
pub(crate) fn named_list<'de, D, T>(
    d: D,
    name: impl Fn(&T) -> &str,
    check: impl Fn(&T) -> Result<(), String>,
    repeated: impl FnOnce(&str) -> String,
) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list = Vec::<T>::deserialize(d)?;
    for item in &list {
        check(item).map_err(de::Error::custom)?;
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(n) = list.iter().map(&name).find(|n| !seen.insert(*n)) {
        return Err(de::Error::custom(repeated(n)));
    }
    Ok(list)
}

/// An absolute path; `example` is the path the error suggests.
pub(crate) fn absolute_path<'de, D: Deserializer<'de>>(
    d: D,
    example: &str,
) -> Result<PathBuf, D::Error> {
    let p = PathBuf::from(String::deserialize(d)?);
    if !p.is_absolute() {
        return Err(de::Error::custom(format!(
            "`{}` is a relative path: write an absolute path such as \"{example}\"",
            p.display()
        )));
    }
    Ok(p)
}

/// A duration written the human way ("10s", "1m30s", "500ms"), within bounds.
pub(crate) fn parse_duration(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let value = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}): write a number with a unit, such as \"10s\", \"1m30s\" or \"500ms\"")
    })?;
    if value < min || value > max {
        return Err(format!(
            "{} is out of range: write a duration from {} to {}",
            humantime::format_duration(value),
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(value)
}

/// A duration string within bounds, for the fields that take their bounds as arguments.
pub(crate) fn duration_in<'de, D: Deserializer<'de>>(
    d: D,
    min: Duration,
    max: Duration,
) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s, min, max).map_err(de::Error::custom)
}

struct DurationVisitor {
    min: Duration,
    max: Duration,
}

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration string with a unit, such as \"10s\", \"1m30s\" or \"500ms\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v, self.min, self.max).map_err(E::custom)
    }
}

macro_rules! duration_field {
    ($(#[$doc:meta])* $fn_name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        pub(crate) fn $fn_name<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
            d.deserialize_str(DurationVisitor { min: $min, max: $max })
        }
    };
}

duration_field!(
    /// A sampling interval: 1 s to 1 h.
    sample_interval,
    Duration::from_secs(1),
    Duration::from_secs(3600)
);
duration_field!(
    /// The period of a seasonal pattern: 1 s to 28 days.
    season_period,
    Duration::from_secs(1),
    Duration::from_secs(28 * 24 * 3600)
);
duration_field!(
    /// How often the learned state is snapshotted: 1 s to 1 h.
    snapshot_interval,
    Duration::from_secs(1),
    Duration::from_secs(3600)
);
duration_field!(
    /// How long an unseen signal's state is kept: 1 min to 30 days.
    idle_ttl,
    Duration::from_secs(60),
    Duration::from_secs(30 * 24 * 3600)
);

/// A count that must be at least 1.
pub(crate) fn positive_count<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + From<u8> + fmt::Display,
{
    let n = T::deserialize(d)?;
    if n < T::from(1u8) {
        return Err(de::Error::custom(format!(
            "{n} is out of range: write a whole number of at least 1"
        )));
    }
    Ok(n)
}

/// A whole number from `LO` to `HI`, checked while deserializing (so the error is located).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<const LO: u32, const HI: u32>(u32);

impl<const LO: u32, const HI: u32> Count<LO, HI> {
    /// Wraps `value`, or says what range it must be in.
    pub fn new(value: u32) -> Result<Self, String> {
        if (LO..=HI).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!(
                "{value} is out of range: write a whole number from {LO} to {HI}"
            ))
        }
    }

    /// For defaults written in code; the caller vouches for the range.
    pub(crate) const fn fixed(value: u32) -> Self {
        Self(value)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de, const LO: u32, const HI: u32> Deserialize<'de> for Count<LO, HI> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        let value = u32::try_from(n).map_err(|_| {
            de::Error::custom(format!(
                "{n} is out of range: write a whole number from {LO} to {HI}"
            ))
        })?;
        Self::new(value).map_err(de::Error::custom)
    }
}

/// A glob over signal names (`host.cpu.*`) or other names (`veth*`), compiled once at load time.
#[derive(Debug, Clone)]
pub struct NameGlob {
    pattern: String,
    matcher: GlobMatcher,
}

impl NameGlob {
    pub fn new(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err(
                "an empty pattern matches nothing: write a glob such as \"host.cpu.*\"".into(),
            );
        }
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map_err(|e| {
                format!("`{pattern}` is not a valid glob ({}): use * ? [abc] {{a,b}} and escape literal brackets as [[]", e.kind())
            })?;
        Ok(Self {
            pattern: pattern.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn is_match(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl PartialEq for NameGlob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl<'de> Deserialize<'de> for NameGlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct GlobVisitor;
        impl Visitor<'_> for GlobVisitor {
            type Value = NameGlob;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob string such as \"host.cpu.*\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NameGlob, E> {
                NameGlob::new(v).map_err(E::custom)
            }
        }
        d.deserialize_str(GlobVisitor)
    }
}

/// True when any glob in `globs` matches `name`.
pub fn any_match(globs: &[NameGlob], name: &str) -> bool {
    globs.iter().any(|g| g.is_match(name))
}

/// An optional absolute path (`state_dir`, `token_file`, the lines sink's `path`).
pub(crate) fn absolute_path_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<PathBuf>, D::Error> {
    absolute_path(d, "/var/lib/seismo").map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bound() {
        let min = Duration::from_secs(1);
        let max = Duration::from_secs(3600);
        assert_eq!(parse_duration("10s", min, max), Ok(Duration::from_secs(10)));
        assert_eq!(
            parse_duration("1m 30s", min, max),
            Ok(Duration::from_secs(90))
        );
        assert!(parse_duration("10", min, max)
            .unwrap_err()
            .contains("\"10s\""));
        assert!(parse_duration("500ms", min, max)
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_duration("2h", min, max)
            .unwrap_err()
            .contains("from 1s to 1h"));
    }

    #[test]
    fn globs_match_names_across_dots() {
        let g = NameGlob::new("host.cpu.*").unwrap();
        assert!(g.is_match("host.cpu.core.0.utilization"));
        assert!(!g.is_match("host.memory.used_ratio"));
        assert!(NameGlob::new("host.[cpu")
            .unwrap_err()
            .contains("not a valid glob"));
        assert!(NameGlob::new("").is_err());
    }

    #[test]
    fn bounded_numbers() {
        assert!(Score::new(0.5).is_ok());
        assert!(Score::new(1.0).is_err());
        assert!(Smoothing::new(1.0).is_ok());
        assert!(Smoothing::new(0.0).is_err());
        assert!(NonNegative::new(f64::NAN).is_err());
        assert!(Positive::new(0.0).is_err());
    }
}
