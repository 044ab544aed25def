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

/// Characters of a source line shown at most: a 200 KB line is shown around the error only.
const SHOWN_CHARS: usize = 120;
/// Characters of quoted input (between backticks) repeated in a message at most.
const QUOTED_CHARS: usize = 64;

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        let (shown, column, width) = window(&self.source_line, self.column, self.width);
        writeln!(f, "{} | {shown}", self.line)?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(column.saturating_sub(1)),
            "^".repeat(width.max(1))
        )
    }
}

/// At most [`SHOWN_CHARS`] of `line` around `column` (1-based), with `…` where it is cut, and
/// the column and width of the underline in what is shown.
fn window(line: &str, column: usize, width: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= SHOWN_CHARS {
        return (line.to_owned(), column, width);
    }
    let at = column.saturating_sub(1).min(chars.len());
    let start = at.saturating_sub(20);
    let end = (start + SHOWN_CHARS).min(chars.len());
    let mut shown: String = chars[start..end].iter().collect();
    let lead = usize::from(start > 0);
    if lead == 1 {
        shown.insert(0, '…');
    }
    if end < chars.len() {
        shown.push('…');
    }
    let room = (end - at).max(1);
    (shown, at - start + lead + 1, width.clamp(1, room))
}

/// Cuts every backticked quote of input in `message` longer than [`QUOTED_CHARS`].
fn cut_quotes(message: &str) -> String {
    let parts: Vec<&str> = message.split('`').collect();
    let mut out = String::with_capacity(message.len().min(1024));
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('`');
        }
        // Odd parts are inside backticks (when they are closed).
        match part.char_indices().nth(QUOTED_CHARS) {
            Some((at, _)) if i % 2 == 1 && i + 1 < parts.len() => {
                out.push_str(&part[..at]);
                out.push('…');
            }
            _ => out.push_str(part),
        }
    }
    out
}

/// Serde's Rust type names in words: `expected u16` is `expected a whole number from 0 to
/// 65535`; `integer `…` as i128` is the integer.
fn humanize(message: &str) -> String {
    let mut m = message.replace(" as i128", "").replace(" as u128", "");
    for (ty, words) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number from 0 to 18446744073709551615"),
        ("usize", "a whole number from 0 to 18446744073709551615"),
        ("i8", "a whole number"),
        ("i16", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("isize", "a whole number"),
        ("f32", "a number"),
        ("f64", "a number"),
    ] {
        let from = format!("expected {ty}");
        let mut at = 0;
        while let Some(i) = m[at..].find(&from).map(|i| i + at) {
            let end = i + from.len();
            let whole_word = m[end..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if whole_word {
                let to = format!("expected {words}");
                m.replace_range(i..end, &to);
                at = i + to.len();
            } else {
                at = end;
            }
        }
    }
    m
}

impl ConfigError {
    /// Builds a located error from a TOML/serde error over `text`.
    pub(crate) fn from_toml(origin: &str, text: &str, err: &toml::de::Error) -> Self {
        let span = err.span().unwrap_or(0..0);
        let message = explain(
            &humanize(&cut_quotes(err.message().trim())),
            text,
            span.start,
        );
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
    fn rust_type_names_become_words() {
        let e = crate::tests::refusal("[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nmax_line_bytes = 99999999999999999999999\n");
        assert!(
            !e.contains("i128") && !e.contains("u64") && !e.contains("usize"),
            "{e}"
        );
        assert!(
            e.contains("integer `99999999999999999999999`, expected a whole number from 0 to"),
            "{e}"
        );
        let e = crate::tests::refusal(
            "[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nmax_open_files = -1\n",
        );
        assert!(e.contains("`-1`, expected a whole number from 0 to"), "{e}");
        assert_eq!(
            humanize("invalid type: string \"x\", expected u16"),
            "invalid type: string \"x\", expected a whole number from 0 to 65535"
        );
        assert_eq!(humanize("expected u64s"), "expected u64s");
    }

    #[test]
    fn a_200_kb_value_is_not_echoed_whole() {
        let long = "a".repeat(200_000);
        let text = format!("[[sources.files]]\nname = \"{long}\"\npaths = [\"/x\"]\n");
        let e = crate::tests::refusal(&text);
        assert!(e.len() < 2_000, "{} bytes: {}", e.len(), &e[..500]);
        assert!(e.contains("is not a valid source name"), "{e}");
        assert!(e.contains('…'), "{e}");
        let text = format!("[[sources.files]]\nname = \"a\"\npaths = [\"/x\"]\nformat = {long}\n");
        let e = crate::tests::refusal(&text);
        assert!(e.len() < 2_000, "{} bytes", e.len());
    }

    #[test]
    fn a_long_line_is_shown_around_the_error() {
        let line = format!("{}é{}", "a".repeat(1000), "b".repeat(1000));
        let (shown, column, width) = window(&line, 1001, 5000);
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 2);
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        // The caret still points at the `é`.
        assert_eq!(shown.chars().nth(column - 1), Some('é'));
        assert_eq!(width, SHOWN_CHARS - 20);
        let (shown, column, width) = window(&line, 5, 3);
        assert!(!shown.starts_with('…'));
        assert_eq!((column, width), (5, 3));
        assert_eq!(window("short", 2, 1), ("short".to_owned(), 2, 1));
    }

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
