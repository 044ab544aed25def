//! Configuration errors that point at the file, line and column and say what to change.

use std::fmt;
use std::path::PathBuf;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Box<Located>),
    /// A `SEISMO_*` environment variable that cannot be used (see `Overrides`).
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

/// An error at a place in a configuration text.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The file name (or `<embedded default>`).
    pub origin: String,
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    /// One or more sentences: what is wrong and what to write instead.
    pub message: String,
    /// The offending source line, for display.
    pub source_line: String,
    /// Width of the offending text on that line (at least 1).
    pub width: usize,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(self.column.saturating_sub(1)),
            "^".repeat(self.width.max(1))
        )
    }
}

impl ConfigError {
    /// Builds a located error from a TOML/serde error over `text`.
    pub(crate) fn from_toml(origin: &str, text: &str, err: &toml::de::Error) -> Self {
        let span = err.span().unwrap_or(0..0);
        let message = explain(err.message().trim(), text, span.start);
        ConfigError::Invalid(Box::new(locate(origin, text, span, message)))
    }
}

/// Turns a byte span into line/column and the source line to show.
pub(crate) fn locate(
    origin: &str,
    text: &str,
    span: std::ops::Range<usize>,
    message: String,
) -> Located {
    let start = floor_char_boundary(text, span.start.min(text.len()));
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let source_line = text[line_start..]
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_owned();
    let end = floor_char_boundary(text, span.end.min(text.len()).max(start));
    // Underline only within the first line of a multi-line span.
    let width = text[start..end]
        .lines()
        .next()
        .map_or(1, |s| s.chars().count());
    Located {
        origin: origin.to_owned(),
        line,
        column,
        message,
        source_line,
        width,
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Rewrites serde's terse messages into sentences that say what to change.
fn explain(message: &str, text: &str, offset: usize) -> String {
    let (table, key) = context(text, offset);
    let place = table.map(|t| format!(" in [{t}]")).unwrap_or_default();
    let ticked = backticked(message);

    if message.starts_with("unknown field") {
        if let Some((bad, valid)) = ticked.split_first() {
            return format!(
                "unknown key `{bad}`{place}. {}",
                suggest(bad, valid, "keys")
            );
        }
    }
    if message.starts_with("unknown variant") {
        if let Some((bad, valid)) = ticked.split_first() {
            return format!(
                "unknown value `{bad}`{place}. {}",
                suggest(bad, valid, "values")
            );
        }
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        let field = field.trim_matches('`');
        return format!("missing required key `{field}`{place}: add `{field} = ...` to this table");
    }
    let subject = key
        .map(|k| format!("`{k}`{place}"))
        .unwrap_or_else(|| place.trim_start().to_owned());
    let message = message.trim_end_matches('.');
    match (message.starts_with("invalid type"), subject.is_empty()) {
        (true, _) => format!("wrong type for {subject}: {message}"),
        (false, true) => message.to_owned(),
        (false, false) => format!("{subject}: {message}"),
    }
}

/// The `[table]` in force at `offset` and the key whose value starts there, if any.
fn context(text: &str, offset: usize) -> (Option<String>, Option<String>) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let key = text[line_start..offset]
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty());
    (enclosing_table(&text[..line_end]), key)
}

fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

fn suggest(bad: &str, valid: &[&str], noun: &str) -> String {
    let nearest = valid
        .iter()
        .map(|v| (strsim::damerau_levenshtein(bad, v), *v))
        .min()
        .filter(|(d, v)| *d <= (v.len() / 3).max(2));
    match nearest {
        Some((_, v)) => format!("Did you mean `{v}`?"),
        None if valid.is_empty() => format!("This table takes no {noun}; remove it."),
        None => format!(
            "Valid {noun} here: {}.",
            valid
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The last `[table]` or `[[array]]` header in `text`, if any.
fn enclosing_table(text: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let line = line.trim();
        let inner = line.strip_prefix("[[").and_then(|l| l.split("]]").next());
        let inner = inner.or_else(|| line.strip_prefix('[').and_then(|l| l.split(']').next()));
        inner.map(|t| t.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        let s = suggest("intervall", &["enabled", "interval"], "keys");
        assert_eq!(s, "Did you mean `interval`?");
        let s = suggest("zzz", &["enabled", "interval"], "keys");
        assert_eq!(s, "Valid keys here: `enabled`, `interval`.");
    }

    #[test]
    fn finds_the_table_header() {
        let text = "[a]\nx = 1\n[[b.c]]\ny = 2\n";
        assert_eq!(context(text, 8), (Some("a".into()), Some("x".into())));
        assert_eq!(context(text, 12), (Some("b.c".into()), None));
        assert_eq!(context(text, text.len()).0.as_deref(), Some("b.c"));
        assert_eq!(context("x = 1", 4), (None, Some("x".into())));
    }

    #[test]
    fn locates_line_and_column() {
        let text = "a = 1\nbb = 2\n";
        let l = locate("f.toml", text, 8..10, "m".into());
        assert_eq!((l.line, l.column, l.width), (2, 3, 2));
        assert_eq!(l.source_line, "bb = 2");
        let shown = l.to_string();
        assert!(shown.starts_with("f.toml:2:3: m\n"), "{shown}");
    }
}
