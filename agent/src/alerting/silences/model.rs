//! A silence: which signals it mutes and until when; what the API takes and shows.

use seismo_config::NameGlob;
use serde::{Deserialize, Serialize};

use crate::clock::format_ts;

/// Active API silences kept at most: more is a runaway script, not an operator.
pub const MAX_API_SILENCES: usize = 1000;
/// Globs per silence, and characters of its comment and author, at most.
pub const MAX_GLOBS: usize = 32;
pub(crate) const MAX_TEXT: usize = 1024;
/// Globs across all active API silences at most: with [`MAX_PATTERN_CHARS`] and
/// [`MAX_PATTERN_COMPLEXITY`] this bounds what the silences can cost in memory (each glob is a
/// compiled matcher; docs/http.md states the measured figure).
pub const MAX_API_GLOBS: usize = 1024;
/// Characters of one glob at most.
pub const MAX_PATTERN_CHARS: usize = 128;
/// Wildcards (`*`, `?`, `[…]`) plus brace alternatives (`{a,b}` counts 2) in one glob at most;
/// brace groups do not nest.
pub const MAX_PATTERN_COMPLEXITY: usize = 16;

/// Whether `pattern` is within the per-glob budget; the sentence says what is over.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    let shown = || crate::excerpt::excerpt(pattern);
    let chars = pattern.chars().count();
    if chars > MAX_PATTERN_CHARS {
        return Err(format!(
            "`{}` has {chars} characters: a glob has at most {MAX_PATTERN_CHARS}",
            shown()
        ));
    }
    let (mut complexity, mut depth, mut escaped, mut in_class) = (0usize, 0usize, false, false);
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ']' if in_class => in_class = false,
            _ if in_class => {}
            '[' => {
                in_class = true;
                complexity += 1;
            }
            '*' | '?' => complexity += 1,
            '{' => {
                depth += 1;
                if depth > 1 {
                    return Err(format!(
                        "`{}` nests brace groups: write the alternatives in one group, such as {{a,b,c}}",
                        shown()
                    ));
                }
                complexity += 1;
            }
            ',' if depth == 1 => complexity += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if complexity > MAX_PATTERN_COMPLEXITY {
        return Err(format!(
            "`{}` has {complexity} wildcards and brace alternatives: a glob has at most {MAX_PATTERN_COMPLEXITY}; split it over several globs or silences",
            shown()
        ));
    }
    Ok(())
}

/// Where a silence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Config,
    Api,
}

#[derive(Debug, Clone)]
pub struct Silence {
    pub id: String,
    pub signals: Vec<NameGlob>,
    pub created_at_ms: i64,
    pub ends_at_ms: i64,
    pub comment: String,
    pub created_by: String,
    pub origin: Origin,
}

impl Silence {
    pub fn covers(&self, signal: &str, now_ms: i64) -> bool {
        now_ms < self.ends_at_ms && self.signals.iter().any(|g| g.is_match(signal))
    }

    /// The silence as the API shows it.
    pub fn view(&self) -> SilenceView {
        SilenceView {
            id: self.id.clone(),
            signals: self
                .signals
                .iter()
                .map(|g| g.pattern().to_owned())
                .collect(),
            created_at: format_ts(self.created_at_ms),
            ends_at: format_ts(self.ends_at_ms),
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
            origin: self.origin,
        }
    }
}

/// A silence in API answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceView {
    pub id: String,
    pub signals: Vec<String>,
    pub created_at: String,
    pub ends_at: String,
    pub comment: String,
    pub created_by: String,
    pub origin: Origin,
}

/// The body of `POST /api/v1/silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub signals: Vec<String>,
    #[serde(rename = "for", default)]
    pub for_: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub created_by: String,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// The request is wrong; the sentence says how.
    #[error("{0}")]
    Invalid(String),
    #[error("no active silence has the id `{0}`")]
    NotFound(String),
    #[error("silence `{0}` comes from the configuration file: remove it there and restart")]
    FromConfig(String),
    #[error("cannot save the silences to {path}: {source}")]
    Storage {
        path: String,
        source: std::io::Error,
    },
}
