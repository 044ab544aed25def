//! `[[sources.files]]`: log files tailed by glob, turned into log signals.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::values;

/// One `[[sources.files]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Names the source in signals (`log.{name}.lines_per_s`) and checkpoints.
    #[serde(deserialize_with = "source_name")]
    pub name: String,
    /// Absolute path globs of the files to tail.
    #[serde(deserialize_with = "non_empty_path_globs")]
    pub paths: Vec<PathGlob>,
    /// Globs of files not to tail: a glob with a `/` matches the whole path, one without
    /// matches the file name. Compressed files are never read, whatever this says.
    #[serde(default, deserialize_with = "exclude_globs")]
    pub exclude: Vec<PathGlob>,
    /// Where to start in files present the first time this source is watched.
    #[serde(default)]
    pub start_at: StartAt,
    /// Header layout in Loghub's placeholder syntax, e.g. `<Date> <Time> <Level> <Component>: <Content>`,
    /// or `"cri"` / `"docker"`: container runtime records whose message has no known header.
    #[serde(default, deserialize_with = "log_format_opt")]
    pub format: Option<String>,
    /// Container runtime wrapper around each line when `format` holds a header layout for the
    /// message inside; `auto` detects it per file. See [`FileSourceConfig::container`].
    #[serde(default)]
    pub container_format: Option<ContainerFormat>,
    /// A line matching this starts a new event; other lines continue the previous one.
    #[serde(default, deserialize_with = "pattern_opt")]
    pub multiline_start: Option<Pattern>,
    /// Lines longer than this are cut to it and counted.
    #[serde(
        default = "default_max_line_bytes",
        deserialize_with = "max_line_bytes"
    )]
    pub max_line_bytes: usize,
    /// Lines matching this count as errors when `format` gives no level.
    #[serde(default = "default_error_pattern", deserialize_with = "pattern")]
    pub error_pattern: Pattern,
    /// Interval of the log signals (lines/s, errors/s, template counts).
    #[serde(
        default = "default_interval",
        deserialize_with = "values::sample_interval"
    )]
    pub interval: Duration,
    /// Templates with a count signal of their own; the rest are summed into `other`.
    #[serde(default = "default_top_templates", deserialize_with = "top_templates")]
    pub top_templates: usize,
    /// Templates that may have signals of their own (`template.{id}.count` and `.new`), at
    /// most; further templates count in the source's totals only, and are counted as refused.
    /// 0: no limit.
    #[serde(
        default = "crate::template_pattern::default_max_templates",
        deserialize_with = "crate::template_pattern::max_templates"
    )]
    pub max_templates: usize,
    /// Template patterns (see [`crate::TemplatePattern`]): when any is given, only matching
    /// templates have signals of their own.
    #[serde(default, deserialize_with = "crate::template_pattern::pattern_list")]
    pub include_templates: Vec<crate::TemplatePattern>,
    /// Template patterns: matching templates never have signals of their own (nor take a
    /// place in `max_templates`).
    #[serde(default, deserialize_with = "crate::template_pattern::pattern_list")]
    pub exclude_templates: Vec<crate::TemplatePattern>,
    /// Intervals after which a template never seen before raises an alert of its own.
    #[serde(
        default = "default_warmup",
        deserialize_with = "values::positive_count"
    )]
    pub new_template_warmup: u32,
    /// How much of a token a template variable takes: the whole token (`blk_<*>` → `<*>`) or
    /// only its varying parts.
    #[serde(default)]
    pub template_variables: TemplateVariables,
    /// Files kept open at once; the others are reopened when they grow.
    #[serde(
        default = "default_max_open_files",
        deserialize_with = "max_open_files"
    )]
    pub max_open_files: usize,
    /// With `start_at = "end"`: how much of each file's existing content (its last part) is
    /// read at the source's first start, for template and rate baselines only (not exported).
    /// `0` turns it off.
    #[serde(default = "default_history_bytes", deserialize_with = "history_bytes")]
    pub history_bytes: u64,
    /// The most time that reading history may take per source; what was read by then is learned.
    #[serde(
        default = "default_history_timeout",
        deserialize_with = "history_timeout"
    )]
    pub history_timeout: Duration,
}

/// How a file source's records are wrapped by a container runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerFormat {
    /// Plain lines.
    None,
    /// CRI: `<RFC3339Nano time> <stdout|stderr> <P|F> <log>` (kubelet, containerd, CRI-O).
    Cri,
    /// Docker json-file: `{"log":"...\n","stream":"stdout","time":"..."}` per line.
    Docker,
    /// Each file's first record decides (CRI, Docker or plain).
    Auto,
}

impl FileSourceConfig {
    /// The container wrapper: `container_format` when set, else `format = "cri"|"docker"`,
    /// else `auto` for sources under /var/log/containers or /var/log/pods, else none.
    pub fn container(&self) -> ContainerFormat {
        if let Some(c) = self.container_format {
            return c;
        }
        match self.format.as_deref() {
            Some("cri") => return ContainerFormat::Cri,
            Some("docker") => return ContainerFormat::Docker,
            _ => {}
        }
        let k8s = self.paths.iter().any(|p| {
            p.pattern().starts_with("/var/log/containers/")
                || p.pattern().starts_with("/var/log/pods/")
        });
        if k8s {
            ContainerFormat::Auto
        } else {
            ContainerFormat::None
        }
    }

    /// The source's `include_templates` and `exclude_templates` together.
    pub fn template_filter(&self) -> crate::TemplateFilter {
        crate::TemplateFilter {
            include: self.include_templates.clone(),
            exclude: self.exclude_templates.clone(),
        }
    }

    /// The header layout of each (decoded) line, if any.
    pub fn header_format(&self) -> Option<&str> {
        self.format
            .as_deref()
            .filter(|f| !matches!(*f, "cri" | "docker"))
    }
}

/// The error pattern used when the configuration gives none.
pub const DEFAULT_ERROR_PATTERN: &str =
    r"(?i)\b(err|error|errors|fatal|crit|critical|panic|emerg|emergency|alert|severe)\b";

fn default_max_line_bytes() -> usize {
    1 << 20
}
pub(crate) fn default_error_pattern() -> Pattern {
    Pattern::fixed(DEFAULT_ERROR_PATTERN)
}
fn default_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_top_templates() -> usize {
    20
}
/// Two minutes at the default 10 s interval: a new error template is news within the first
/// five minutes of a fresh start.
fn default_warmup() -> u32 {
    12
}
fn default_history_bytes() -> u64 {
    4 << 20
}
pub(crate) fn default_history_timeout() -> Duration {
    Duration::from_secs(10)
}
fn history_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    byte_size(d, 1 << 30, "\"4MiB\"")
}
pub(crate) fn history_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    values::duration_in(d, Duration::from_millis(100), Duration::from_secs(600))
}

/// A size in bytes: a whole number, or a string with a unit (`"512KiB"`, `"4MiB"`, `"1GiB"`,
/// `"0"`), at most `max`.
pub(crate) fn byte_size<'de, D: Deserializer<'de>>(
    d: D,
    max: u64,
    example: &str,
) -> Result<u64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Result<u64, String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a size: a number of bytes, or a string such as \"4MiB\"")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).map_err(|_| format!("{v} is negative")))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Ok(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let mult: u64 = match unit.trim() {
                "" | "B" => 1,
                "KiB" | "K" | "KB" | "k" | "kB" => 1 << 10,
                "MiB" | "M" | "MB" => 1 << 20,
                "GiB" | "G" | "GB" => 1 << 30,
                _ => return Ok(Err(format!("`{v}` has an unknown unit"))),
            };
            Ok(num
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(mult))
                .ok_or_else(|| format!("`{v}` is not a size")))
        }
    }
    match d.deserialize_any(V)? {
        Ok(n) if n <= max => Ok(n),
        Ok(n) => Err(de::Error::custom(format!(
            "{n} bytes is too large: write at most {max} bytes, such as {example} (0 turns it off)"
        ))),
        Err(why) => Err(de::Error::custom(format!(
            "{why}: write a number of bytes or a string with a unit (B, KiB, MiB, GiB), such as {example} (0 turns it off)"
        ))),
    }
}

fn default_max_open_files() -> usize {
    256
}

/// How much of a token a template variable takes (the miner's `VariableForm`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateVariables {
    /// The whole token: `blk_1234` and `appattempt_1_2_3` are `<*>`.
    #[default]
    Token,
    /// Only the varying parts: `blk_<*>`, `appattempt_<*>_<*>_<*>`.
    Parts,
}

impl TemplateVariables {
    /// The miner's setting.
    pub fn form(self) -> seismo_detectors::VariableForm {
        match self {
            TemplateVariables::Token => seismo_detectors::VariableForm::Token,
            TemplateVariables::Parts => seismo_detectors::VariableForm::Parts,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Only lines appended after the agent first saw the file.
    #[default]
    End,
    /// The whole file.
    Beginning,
}

/// A glob over absolute file paths. `*` and `?` stay within one path component; `**` crosses
/// directories.
#[derive(Debug, Clone)]
pub struct PathGlob {
    pattern: String,
    matcher: GlobMatcher,
}

impl PathGlob {
    pub fn new(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err(
                "an empty pattern matches nothing: write a glob such as \"/var/log/app/*.log\""
                    .into(),
            );
        }
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                format!("`{pattern}` is not a valid glob ({}): use * ? ** [abc] {{a,b}} and escape literal brackets as [[]", e.kind())
            })?;
        Ok(Self {
            pattern: pattern.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn is_match(&self, path: &Path) -> bool {
        self.matcher.is_match(path)
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The longest leading directory without glob characters: where discovery starts walking.
    pub fn base_dir(&self) -> &Path {
        let meta = |c: char| matches!(c, '*' | '?' | '[' | '{' | '\\');
        let cut = self.pattern.find(meta).unwrap_or(self.pattern.len());
        let literal = &self.pattern[..cut];
        match literal.rfind('/') {
            Some(0) | None => Path::new("/"),
            Some(i) if cut == self.pattern.len() => Path::new(&self.pattern[..i]),
            Some(i) => Path::new(&literal[..i]),
        }
    }

    /// How many directory levels below `base_dir` a match can be; `None` with `**`.
    pub fn max_depth(&self) -> Option<usize> {
        if self.pattern.contains("**") {
            return None;
        }
        let base = self.base_dir().components().count();
        Some(
            Path::new(&self.pattern)
                .components()
                .count()
                .saturating_sub(base),
        )
    }
}

impl PartialEq for PathGlob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PathGlob;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path glob such as \"/var/log/app/*.log\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PathGlob, E> {
                PathGlob::new(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A regular expression, compiled once at load time.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    pub fn new(text: &str) -> Result<Self, String> {
        regex::RegexBuilder::new(text)
            .size_limit(1 << 20)
            .build()
            .map(Self)
            .map_err(|e| {
                let first = e.to_string();
                let first = first.lines().last().unwrap_or("invalid").trim().to_owned();
                format!("`{text}` is not a valid regular expression ({first}): see https://docs.rs/regex for the syntax")
            })
    }

    /// For defaults written in code; the caller vouches that it compiles.
    fn fixed(text: &str) -> Self {
        Self(regex::Regex::new(text).unwrap_or_else(|_| unreachable!("built-in pattern compiles")))
    }

    pub fn regex(&self) -> &regex::Regex {
        &self.0
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

pub(crate) fn pattern<'de, D: Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
    Pattern::new(&String::deserialize(d)?).map_err(de::Error::custom)
}

fn pattern_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Pattern>, D::Error> {
    pattern(d).map(Some)
}

pub(crate) fn source_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(de::Error::custom(format!(
            "`{s}` is not a valid source name: use 1 to 64 letters, digits, `_` or `-` (it becomes part of signal names such as log.{{name}}.lines_per_s)"
        )));
    }
    Ok(s)
}

/// Globs per source, in `paths` and in `exclude` each: each is compiled and walked on its own,
/// so their number is bounded (a long list of single files belongs under one glob).
pub const MAX_GLOBS_PER_SOURCE: usize = 1_000;
/// Globs of all file sources together (`paths` and `exclude`).
pub const MAX_GLOBS_TOTAL: usize = 10_000;

/// The globs of `key`, counted before any is compiled (so a huge list costs only its parsing).
fn bounded_globs<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Vec<PathGlob>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    if texts.len() > MAX_GLOBS_PER_SOURCE {
        return Err(de::Error::custom(format!(
            "{} globs, more than the {MAX_GLOBS_PER_SOURCE} a source may have in `{key}`: match the files with fewer, broader globs (such as \"/var/log/app/*.log\") or split them over several sources",
            texts.len()
        )));
    }
    texts
        .iter()
        .map(|t| PathGlob::new(t).map_err(de::Error::custom))
        .collect()
}

fn exclude_globs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathGlob>, D::Error> {
    bounded_globs(d, "exclude")
}

fn non_empty_path_globs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathGlob>, D::Error> {
    let globs = bounded_globs(d, "paths")?;
    if globs.is_empty() {
        return Err(de::Error::custom(
            "`paths` is empty: list at least one glob, such as [\"/var/log/app/*.log\"]",
        ));
    }
    if let Some(rel) = globs.iter().find(|g| !g.pattern.starts_with('/')) {
        return Err(de::Error::custom(format!(
            "`{}` is a relative path: write an absolute glob such as \"/var/log/app/*.log\"",
            rel.pattern
        )));
    }
    Ok(globs)
}

fn log_format_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if matches!(s.as_str(), "cri" | "docker") {
        return Ok(Some(s));
    }
    seismo_detectors::LogFormat::parse(&s).map_err(|e| {
        de::Error::custom(format!(
            "`{s}` is not a header format ({e}): write placeholders in angle brackets with a <Content>, such as \"<Date> <Time> <Level> <Component>: <Content>\""
        ))
    })?;
    Ok(Some(s))
}

pub(crate) fn bounded_usize<'de, D: Deserializer<'de>>(
    d: D,
    min: usize,
    max: usize,
    example: &str,
) -> Result<usize, D::Error> {
    let n = u64::deserialize(d)?;
    match usize::try_from(n) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(de::Error::custom(format!(
            "{n} is out of range: write a whole number from {min} to {max}, such as {example}"
        ))),
    }
}

fn max_line_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    bounded_usize(d, 256, 64 << 20, "1048576")
}

pub(crate) fn top_templates<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    bounded_usize(d, 0, 1000, "20")
}

fn max_open_files<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    bounded_usize(d, 1, 100_000, "256")
}

/// Refuses two sources with the same name (their signals and checkpoints would collide).
pub(crate) fn unique_sources<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<FileSourceConfig>, D::Error> {
    let list = values::named_list(
        d,
        |s: &FileSourceConfig| &s.name,
        |_| Ok(()),
        |n| format!("two [[sources.files]] are named `{n}`: give each source a distinct name"),
    )?;
    let total: usize = list.iter().map(|s| s.paths.len() + s.exclude.len()).sum();
    if total > MAX_GLOBS_TOTAL {
        return Err(de::Error::custom(format!(
            "the [[sources.files]] list {total} globs in all (`paths` and `exclude`), more than the {MAX_GLOBS_TOTAL} allowed: use fewer, broader globs"
        )));
    }
    Ok(list)
}

/// A glob whose directory part does not exist (yet), and the source it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingDir {
    pub source: String,
    pub glob: String,
    pub dir: std::path::PathBuf,
}

impl fmt::Display for MissingDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[[sources.files]] `{}`: the directory {} of `{}` does not exist, so nothing matches now; it is looked for again every few seconds and its files are read once it appears",
            self.source,
            self.dir.display(),
            self.glob
        )
    }
}

/// The `paths` globs whose fixed directory part does not exist: worth a warning, not a refusal
/// (the directory may appear later; discovery looks again every few seconds).
pub fn missing_dirs(sources: &[FileSourceConfig]) -> Vec<MissingDir> {
    sources
        .iter()
        .flat_map(|s| s.paths.iter().map(move |g| (s, g)))
        .filter(|(_, g)| !g.base_dir().exists())
        .map(|(s, g)| MissingDir {
            source: s.name.clone(),
            glob: g.pattern().to_owned(),
            dir: g.base_dir().to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::tests::located as err;

    #[test]
    fn a_file_source_with_defaults() {
        let c = parse(
            "[[sources.files]]\nname = \"app\"\npaths = [\"/var/log/app/*.log\"]\n",
            "t",
        )
        .unwrap();
        let f = &c.sources.files[0];
        assert_eq!(f.start_at, StartAt::End);
        assert_eq!(f.max_line_bytes, 1 << 20);
        assert_eq!(f.history_bytes, 4 << 20);
        assert_eq!(f.history_timeout, Duration::from_secs(10));
        for (text, bytes) in [
            ("\"512KiB\"", 512 << 10),
            ("\"0\"", 0),
            ("1000", 1000),
            ("\"2 MiB\"", 2 << 20),
        ] {
            let c = parse(
                &format!(
                    "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nhistory_bytes = {text}\n"
                ),
                "t",
            )
            .unwrap();
            assert_eq!(c.sources.files[0].history_bytes, bytes, "{text}");
        }
        assert_eq!(f.interval, Duration::from_secs(10));
        assert_eq!(f.error_pattern.regex().as_str(), DEFAULT_ERROR_PATTERN);
        assert!(f.error_pattern.regex().is_match("disk ERROR: full"));
        assert!(!f.error_pattern.regex().is_match("terror in the mirrors"));
    }

    #[test]
    fn the_documented_example_parses() {
        let c = crate::tests::documented_example("[[sources.files]]");
        let f = &c.sources.files[0];
        assert_eq!(f.name, "syslog");
        assert_eq!(f.error_pattern.regex().as_str(), DEFAULT_ERROR_PATTERN);
        assert!(f.format.is_some() && f.multiline_start.is_some());
    }

    #[test]
    fn template_budget_and_filters_parse_and_bad_ones_are_explained_where_they_are() {
        let base = "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\n";
        let c = crate::parse(base, "t").unwrap();
        let f = &c.sources.files[0];
        assert_eq!(f.max_templates, 1000);
        assert!(f.template_filter().is_empty());
        let c = crate::parse(
            &format!("{base}max_templates = 0\ninclude_templates = [\"*error*\", \"*timed out*\"]\nexclude_templates = ['*health <[*]>*']\n"),
            "t",
        )
        .unwrap();
        let f = &c.sources.files[0];
        assert_eq!(f.max_templates, 0);
        let filter = f.template_filter();
        assert!(filter.keeps("Read TIMED OUT after <*> ms"));
        assert!(!filter.keeps("health <*> error"));
        assert!(!filter.keeps("request served"));
        for (text, needle) in [
            (
                "max_templates = -1",
                "from 1 to 100000, such as 1000, or 0 for no limit",
            ),
            ("max_templates = 100001", "out of range"),
            ("max_templates = \"many\"", "expected a whole number"),
            (
                "include_templates = [\"*ok*\", \"[oops\"]",
                "`[oops` is not a valid glob",
            ),
            ("exclude_templates = [\"\"]", "matches nothing"),
            ("exclude_templates = \"*debug*\"", "sequence"),
            (
                "include_template = [\"*\"]",
                "Did you mean `include_templates`?",
            ),
        ] {
            let e = err(&format!("{base}{text}\n"));
            assert_eq!(e.line, 4, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let many: Vec<String> = (0..1001).map(|i| format!("\"t{i}*\"")).collect();
        let e = err(&format!("{base}exclude_templates = [{}]\n", many.join(",")));
        assert!(e.to_string().contains("more than the 1000"), "{e}");
    }

    #[test]
    fn bad_file_sources_are_located() {
        for (text, line, needle) in [
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nhistory_bytes = \"4 lots\"\n",
                4,
                "unknown unit",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nhistory_bytes = \"2GiB\"\n",
                4,
                "too large",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nhistory_bytes = -1\n",
                4,
                "negative",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nhistory_timeout = \"1h\"\n",
                4,
                "out of range",
            ),
            (
                "[[sources.files]]\nname = \"a.b\"\npaths = [\"/x\"]\n",
                2,
                "not a valid source name",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = []\n",
                3,
                "list at least one glob",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"x/*.log\"]\n",
                3,
                "relative path",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x/[a\"]\n",
                3,
                "not a valid glob",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nstart_at = \"end_\"\n",
                4,
                "Did you mean `end`?",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nformat = \"<Date> <Level>\"\n",
                4,
                "no `<Content>`",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nmultiline_start = \"(\"\n",
                4,
                "not a valid regular expression",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nmax_line_bytes = 10\n",
                4,
                "from 256 to",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nmax_open_files = 0\n",
                4,
                "from 1 to",
            ),
            (
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nintervall = \"1s\"\n",
                4,
                "Did you mean `interval`?",
            ),
            (
                "[[sources.files]]\npaths = [\"/x\"]\n",
                1,
                "missing required key `name`",
            ),
            ("[sinks.lines]\npath = \"rel.jsonl\"\n", 2, "relative path"),
        ] {
            let e = err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
        let e = err("[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\n[[sources.files]]\nname = \"a\"\npaths = [\"/y\"]\n");
        assert!(
            e.message.contains("two [[sources.files]] are named `a`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn too_many_globs_are_refused_with_the_count_and_the_limit() {
        let many = |n: usize, key: &str| {
            let globs: Vec<String> = (0..n).map(|i| format!("\"/var/log/f{i}.log\"")).collect();
            format!(
                "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\n{key} = [{}]\n",
                globs.join(",")
            )
            .replacen("paths = [\"/x\"]\npaths", "paths", 1)
        };
        assert!(parse(&many(MAX_GLOBS_PER_SOURCE, "exclude"), "t.toml").is_ok());
        let e = err(&many(MAX_GLOBS_PER_SOURCE + 1, "paths"));
        assert!(
            e.message
                .contains("1001 globs, more than the 1000 a source may have in `paths`"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("the 1000 a source may have"),
            "{}",
            e.message
        );
        let e = err(&many(600_000, "exclude"));
        assert!(
            e.message
                .contains("600000 globs, more than the 1000 a source may have in `exclude`"),
            "{}",
            e.message
        );
        // The total over sources.
        let sources: String = (0..11)
            .map(|s| {
                let globs: Vec<String> = (0..1000)
                    .map(|i| format!("\"/var/log/s{s}/f{i}.log\""))
                    .collect();
                format!(
                    "[[sources.files]]\nname = \"s{s}\"\npaths = [{}]\n",
                    globs.join(",")
                )
            })
            .collect();
        let e = err(&sources);
        assert!(e.message.contains("11000 globs in all"), "{}", e.message);
        assert!(e.message.contains("the 10000 allowed"), "{}", e.message);
    }

    #[test]
    fn globs_under_missing_directories_are_named() {
        let c = parse(
            "[[sources.files]]\nname = \"a\"\npaths = [\"/proc/self/*.log\", \"/nowhere-seismo/nope/*.log\", \"/nowhere-seismo/at/all/**/x.log\"]\n",
            "t.toml",
        )
        .unwrap();
        let missing = missing_dirs(&c.sources.files);
        let dirs: Vec<_> = missing.iter().map(|m| m.dir.clone()).collect();
        assert_eq!(
            dirs,
            vec![
                Path::new("/nowhere-seismo/nope").to_owned(),
                Path::new("/nowhere-seismo/at/all").to_owned()
            ]
        );
        let text = missing[0].to_string();
        assert!(
            text.contains("does not exist") && text.contains("looked for again"),
            "{text}"
        );
        assert!(text.contains("`a`"), "{text}");
    }

    #[test]
    fn base_dir_and_depth() {
        let g = PathGlob::new("/var/log/app/*.log").unwrap();
        assert_eq!(g.base_dir(), Path::new("/var/log/app"));
        assert_eq!(g.max_depth(), Some(1));
        let g = PathGlob::new("/var/log/**/*.log").unwrap();
        assert_eq!(g.base_dir(), Path::new("/var/log"));
        assert_eq!(g.max_depth(), None);
        let g = PathGlob::new("/var/log/syslog").unwrap();
        assert_eq!(g.base_dir(), Path::new("/var/log"));
        assert_eq!(g.max_depth(), Some(1));
        let g = PathGlob::new("/srv/*/logs/x.log").unwrap();
        assert_eq!(g.base_dir(), Path::new("/srv"));
        assert_eq!(g.max_depth(), Some(3));
        assert!(g.is_match(Path::new("/srv/a/logs/x.log")));
        assert!(!g.is_match(Path::new("/srv/a/b/logs/x.log")));
    }
}
