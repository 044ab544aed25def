//! `[sources.journal]`: the systemd journal, followed through `journalctl -o json --follow`
//! and mined per unit into log signals (`log.journal.{unit}.*`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::files::{self, FileSourceConfig, PathGlob, Pattern, StartAt};
use crate::values;

/// `[sources.journal]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSourceConfig {
    /// `true`, `false` or `"auto"`: the journal when journalctl can read it, else `fallback`.
    pub enabled: JournalEnabled,
    /// Units to follow (`journalctl -u`: exact names such as `nginx.service`, or globs such as
    /// `docker*`); empty follows every unit.
    #[serde(deserialize_with = "units")]
    pub units: Vec<String>,
    /// The least urgent priority followed (`journalctl -p`): a name (`"warning"`) or 0..7.
    #[serde(deserialize_with = "priority_opt")]
    pub priority: Option<u8>,
    /// Where to start when there is no saved cursor yet.
    pub start_at: StartAt,
    /// The journalctl executable: a name looked up in PATH, or an absolute path.
    #[serde(deserialize_with = "executable")]
    pub journalctl: PathBuf,
    /// With `enabled = "auto"` and no readable journal: this file is tailed instead, as the
    /// file source `syslog`. `""` for none.
    #[serde(deserialize_with = "fallback")]
    pub fallback: Option<PathGlob>,
    /// Interval of the log signals.
    #[serde(deserialize_with = "values::sample_interval")]
    pub interval: Duration,
    /// Templates per unit with a count signal of their own.
    #[serde(deserialize_with = "files::top_templates")]
    pub top_templates: usize,
    /// Templates per unit that may have signals of their own, as for file sources; 0: no limit.
    #[serde(deserialize_with = "crate::template_pattern::max_templates")]
    pub max_templates: usize,
    /// As for file sources: only matching templates have signals of their own.
    #[serde(deserialize_with = "crate::template_pattern::pattern_list")]
    pub include_templates: Vec<crate::TemplatePattern>,
    /// As for file sources: matching templates never have signals of their own.
    #[serde(deserialize_with = "crate::template_pattern::pattern_list")]
    pub exclude_templates: Vec<crate::TemplatePattern>,
    /// Intervals after which a template never seen before raises an alert of its own.
    #[serde(deserialize_with = "values::positive_count")]
    pub new_template_warmup: u32,
    /// Records without a PRIORITY count as errors when their message matches this.
    #[serde(deserialize_with = "files::pattern")]
    pub error_pattern: Pattern,
    /// Units mined separately; records of further units are mined together as the unit
    /// `_overflow` (and counted).
    #[serde(deserialize_with = "max_units")]
    pub max_units: usize,
    /// At the first start (no saved cursor nor learned template state of its units,
    /// `start_at = "end"`): how far back the journal's
    /// history is read to learn templates and rates before following it live (not exported,
    /// never alerted on). `"0"` or `"off"` turns it off.
    #[serde(deserialize_with = "history_span")]
    pub history: Duration,
    /// The most history records read (the most recent ones).
    #[serde(deserialize_with = "history_lines")]
    pub history_lines: usize,
    /// The most bytes of journalctl output kept for history (the most recent records).
    #[serde(deserialize_with = "history_bytes")]
    pub history_bytes: u64,
    /// The most time that reading history may take; then the journal is followed live from
    /// its end, with what was read learned.
    #[serde(deserialize_with = "files::history_timeout")]
    pub history_timeout: Duration,
    /// As for file sources: the whole token or only its varying parts.
    pub template_variables: files::TemplateVariables,
}

impl Default for JournalSourceConfig {
    fn default() -> Self {
        Self {
            enabled: JournalEnabled::Off,
            units: Vec::new(),
            priority: None,
            start_at: StartAt::End,
            journalctl: PathBuf::from("journalctl"),
            fallback: PathGlob::new(DEFAULT_FALLBACK).ok(),
            interval: Duration::from_secs(10),
            top_templates: 20,
            max_templates: crate::template_pattern::default_max_templates(),
            include_templates: Vec::new(),
            exclude_templates: Vec::new(),
            new_template_warmup: 12,
            error_pattern: files::default_error_pattern(),
            max_units: 200,
            history: Duration::from_secs(24 * 3600),
            history_lines: 100_000,
            history_bytes: 64 << 20,
            history_timeout: Duration::from_secs(30),
            template_variables: files::TemplateVariables::Token,
        }
    }
}

/// The file tailed when `enabled = "auto"` finds no readable journal.
pub const DEFAULT_FALLBACK: &str = "/var/log/syslog";

/// The name of the file source that stands in for an unreadable journal.
pub const FALLBACK_SOURCE: &str = "syslog";

/// `enabled`: on, off, or decided at start-up by whether the journal is readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalEnabled {
    On,
    Off,
    Auto,
}

impl<'de> Deserialize<'de> for JournalEnabled {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JournalEnabled;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or \"auto\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<JournalEnabled, E> {
                Ok(if v {
                    JournalEnabled::On
                } else {
                    JournalEnabled::Off
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JournalEnabled, E> {
                match v {
                    "auto" => Ok(JournalEnabled::Auto),
                    _ => Err(E::custom(format!(
                        "`{v}` is not a valid value: write true, false or \"auto\" (the journal when it is readable, else `fallback`)"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JournalSourceConfig {
    /// The `include_templates` and `exclude_templates` of every unit.
    pub fn template_filter(&self) -> crate::TemplateFilter {
        crate::TemplateFilter {
            include: self.include_templates.clone(),
            exclude: self.exclude_templates.clone(),
        }
    }

    /// The file source that stands in for the journal (see `fallback`).
    pub fn fallback_source(&self) -> Option<FileSourceConfig> {
        let glob = self.fallback.clone()?;
        Some(FileSourceConfig {
            name: FALLBACK_SOURCE.to_owned(),
            paths: vec![glob],
            exclude: Vec::new(),
            start_at: self.start_at,
            format: None,
            container_format: None,
            multiline_start: None,
            max_line_bytes: 1 << 20,
            error_pattern: self.error_pattern.clone(),
            interval: self.interval,
            top_templates: self.top_templates,
            max_templates: self.max_templates,
            include_templates: self.include_templates.clone(),
            exclude_templates: self.exclude_templates.clone(),
            new_template_warmup: self.new_template_warmup,
            template_variables: self.template_variables,
            max_open_files: 256,
            history_bytes: self.history_bytes.min(4 << 20),
            history_timeout: self.history_timeout,
        })
    }
}

/// Syslog priority names, by value (journalctl accepts the same).
pub const PRIORITY_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

fn priority_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u8;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a priority name such as \"warning\", or a number from 0 to 7")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u8, E> {
            match u8::try_from(v) {
                Ok(p) if p <= 7 => Ok(p),
                _ => Err(E::custom(format!(
                    "{v} is out of range: write a priority from 0 (emerg) to 7 (debug), or a name such as \"warning\""
                ))),
            }
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u8, E> {
            self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u8, E> {
            let alias = match v {
                "error" => "err",
                "warn" => "warning",
                "emergency" => "emerg",
                "critical" => "crit",
                other => other,
            };
            match PRIORITY_NAMES.iter().position(|n| *n == alias) {
                Some(p) => Ok(p as u8),
                None => Err(E::custom(format!(
                    "`{v}` is not a priority: write one of {} (or 0 to 7); records up to it are followed",
                    PRIORITY_NAMES.join(", ")
                ))),
            }
        }
    }
    d.deserialize_any(V).map(Some)
}

fn units<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    for u in &list {
        let ok = !u.is_empty()
            && u.len() <= 256
            && !u.starts_with('-')
            && !u.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(de::Error::custom(format!(
                "`{u}` is not a unit name: write a unit such as \"nginx.service\" or a glob such as \"docker*\" (no spaces, not starting with -)"
            )));
        }
    }
    Ok(list)
}

fn executable<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let s = String::deserialize(d)?;
    let bare = !s.is_empty() && !s.contains('/');
    if !(bare || s.starts_with('/')) || s.chars().any(char::is_control) {
        return Err(de::Error::custom(format!(
            "`{s}` is not an executable: write a name looked up in PATH, such as \"journalctl\", or an absolute path such as \"/usr/bin/journalctl\""
        )));
    }
    Ok(PathBuf::from(s))
}

fn fallback<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathGlob>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    if !s.starts_with('/') {
        return Err(de::Error::custom(format!(
            "`{s}` is a relative path: write an absolute glob such as \"/var/log/syslog\", or \"\" for none"
        )));
    }
    PathGlob::new(&s).map(Some).map_err(de::Error::custom)
}

fn history_span<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    match s.trim() {
        "0" | "off" => Ok(Duration::ZERO),
        t => values::parse_duration(
            t,
            Duration::from_secs(60),
            Duration::from_secs(31 * 24 * 3600),
        )
        .map_err(|e| de::Error::custom(format!("{e}; \"0\" or \"off\" reads no history"))),
    }
}

fn history_lines<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    files::bounded_usize(d, 1, 10_000_000, "100000")
}

fn history_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    files::byte_size(d, 1 << 30, "\"64MiB\"")
}

fn max_units<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    files::bounded_usize(d, 1, 10_000, "200")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::tests::located as err;

    #[test]
    fn a_journal_source_with_defaults_and_values() {
        let c = parse("[sources.journal]\nenabled = true\n", "t").unwrap();
        let j = &c.sources.journal;
        assert_eq!(j.enabled, JournalEnabled::On);
        assert_eq!(j.journalctl, PathBuf::from("journalctl"));
        assert_eq!(j.priority, None);
        assert_eq!(j.max_units, 200);
        assert_eq!(j.history, Duration::from_secs(24 * 3600));
        assert_eq!(j.history_bytes, 64 << 20);
        for (text, span) in [("\"off\"", 0), ("\"0\"", 0), ("\"2h\"", 7200)] {
            let c = parse(&format!("[sources.journal]\nhistory = {text}\n"), "t").unwrap();
            assert_eq!(
                c.sources.journal.history,
                Duration::from_secs(span),
                "{text}"
            );
        }
        let c = parse(
            "[sources.journal]\nenabled = \"auto\"\nunits = [\"nginx.service\", \"docker*\"]\npriority = \"warning\"\nstart_at = \"beginning\"\njournalctl = \"/opt/bin/journalctl\"\nfallback = \"\"\n",
            "t",
        )
        .unwrap();
        let j = &c.sources.journal;
        assert_eq!(j.enabled, JournalEnabled::Auto);
        assert_eq!(j.priority, Some(4));
        assert_eq!(j.units, ["nginx.service", "docker*"]);
        assert_eq!(j.fallback, None);
        assert!(j.fallback_source().is_none());
        let c = parse("[sources.journal]\npriority = 3\n", "t").unwrap();
        assert_eq!(c.sources.journal.priority, Some(3));
        let f = JournalSourceConfig::default().fallback_source().unwrap();
        assert_eq!(f.name, FALLBACK_SOURCE);
        assert_eq!(f.paths[0].pattern(), DEFAULT_FALLBACK);
    }

    #[test]
    fn units_have_a_template_budget_and_filters_as_file_sources() {
        let j = parse("[sources.journal]\nenabled = true\n", "t").unwrap();
        assert_eq!(j.sources.journal.max_templates, 1000);
        let c = parse(
            "[sources.journal]\nenabled = true\nmax_templates = 50\nexclude_templates = [\"*session opened*\"]\n",
            "t",
        )
        .unwrap();
        let j = &c.sources.journal;
        assert_eq!(j.max_templates, 50);
        assert!(!j
            .template_filter()
            .keeps("pam_unix: session opened for user <*>"));
        let f = j.fallback_source().unwrap();
        assert_eq!((f.max_templates, f.exclude_templates.len()), (50, 1));
        let e = err("[sources.journal]\nmax_templates = 100001\n");
        assert!(e.line == 2 && e.to_string().contains("out of range"), "{e}");
        let e = err("[sources.journal]\ninclude_templates = [\"{a\"]\n");
        assert!(
            e.line == 2 && e.to_string().contains("not a valid glob"),
            "{e}"
        );
    }

    #[test]
    fn bad_journal_sources_are_located() {
        for (text, line, needle) in [
            (
                "[sources.journal]\nenabled = \"yes\"\n",
                2,
                "true, false or \"auto\"",
            ),
            (
                "[sources.journal]\npriority = \"loud\"\n",
                2,
                "is not a priority",
            ),
            (
                "[sources.journal]\npriority = 9\n",
                2,
                "from 0 (emerg) to 7",
            ),
            ("[sources.journal]\nunits = [\"\"]\n", 2, "not a unit name"),
            (
                "[sources.journal]\nunits = [\"a b\"]\n",
                2,
                "not a unit name",
            ),
            (
                "[sources.journal]\njournalctl = \"bin/journalctl\"\n",
                2,
                "not an executable",
            ),
            (
                "[sources.journal]\nfallback = \"syslog\"\n",
                2,
                "relative path",
            ),
            ("[sources.journal]\nmax_units = 0\n", 2, "from 1 to"),
            (
                "[sources.journal]\nhistory = \"yes\"\n",
                2,
                "\"off\" reads no history",
            ),
            ("[sources.journal]\nhistory = \"10s\"\n", 2, "out of range"),
            ("[sources.journal]\nhistory_lines = 0\n", 2, "from 1 to"),
            (
                "[sources.journal]\nhistory_bytes = \"1TiB\"\n",
                2,
                "unknown unit",
            ),
            ("[sources.journal]\nstart_at = \"now\"\n", 2, "start_at"),
            (
                "[sources.journal]\nunit = [\"x\"]\n",
                2,
                "Did you mean `units`?",
            ),
        ] {
            let e = err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(
                e.message.contains(needle) || e.to_string().contains(needle),
                "{text}: {}",
                e.message
            );
        }
    }
}
