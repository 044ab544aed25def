//! Patterns over a log source's template text (`include_templates` / `exclude_templates` of
//! `[[sources.files]]` and `[sources.journal]`): a glob that must match the whole template,
//! ignoring case. `*` is any run of characters, `?` one, `[abc]` one of a set, `{a,b}` either;
//! a template's own variables read as `<*>`, so `"*timed out after <[*]> ms*"` matches the
//! literal `<*>` and `"*timed out*"` any template that says so.

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::series_pattern::bounded_patterns;

/// One `include_templates` / `exclude_templates` entry.
#[derive(Clone)]
pub struct TemplatePattern {
    pattern: String,
    matcher: GlobMatcher,
}

impl TemplatePattern {
    pub fn new(pattern: &str) -> Result<Self, String> {
        if pattern.trim().is_empty() {
            return Err(
                "an empty pattern matches nothing: write a glob over the template's text, such as \"*connection refused*\""
                    .into(),
            );
        }
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .case_insensitive(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| {
                format!(
                    "`{pattern}` is not a valid glob ({}): use * ? [abc] {{a,b}}, and write a literal * ? [ {{ as [*] [?] [[] [{{]",
                    e.kind()
                )
            })?;
        Ok(Self {
            pattern: pattern.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    /// Whether the whole `template` matches (case aside).
    pub fn is_match(&self, template: &str) -> bool {
        self.matcher.is_match(template)
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl fmt::Debug for TemplatePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.pattern)
    }
}

impl PartialEq for TemplatePattern {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// A source's `include_templates` and `exclude_templates`: a template gets signals of its own
/// when it matches some include (or there is none) and no exclude.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateFilter {
    pub include: Vec<TemplatePattern>,
    pub exclude: Vec<TemplatePattern>,
}

impl TemplateFilter {
    /// True when nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    pub fn keeps(&self, template: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.is_match(template)))
            && !self.exclude.iter().any(|p| p.is_match(template))
    }
}

/// A bounded list of template patterns.
pub(crate) fn pattern_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<TemplatePattern>, D::Error> {
    bounded_patterns(d, TemplatePattern::new, "\"*timed out*\"")
}

/// `max_templates`: 0 (no limit) to 100,000.
pub(crate) fn max_templates<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = i64::deserialize(d)?;
    if !(0..=100_000).contains(&n) {
        return Err(de::Error::custom(format!(
            "{n} is out of range: write a whole number of templates from 1 to 100000, such as 1000, or 0 for no limit"
        )));
    }
    usize::try_from(n).map_err(de::Error::custom)
}

/// The default `max_templates`: far above `top_templates`, so a healthy source never meets
/// it, while one that invents a template per line stops at it.
pub(crate) fn default_max_templates() -> usize {
    1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(p: &[&str]) -> Vec<TemplatePattern> {
        p.iter().map(|t| TemplatePattern::new(t).unwrap()).collect()
    }

    #[test]
    fn patterns_match_the_whole_template_ignoring_case() {
        let p = TemplatePattern::new("*connection refused*").unwrap();
        assert!(p.is_match("Connection REFUSED by <*> port <*>"));
        assert!(!p.is_match("connection reset by peer"));
        let exact = TemplatePattern::new("user <*> logged in").unwrap();
        assert!(exact.is_match("User <*> logged in"));
        assert!(
            !exact.is_match("user <*> logged in twice"),
            "the whole text"
        );
        // A literal `<*>` (and `/`, which a path glob would treat apart).
        let literal = TemplatePattern::new("GET /api/<[*]>").unwrap();
        assert!(literal.is_match("GET /api/<*>"));
        assert!(!literal.is_match("GET /api/<x>"));
        assert!(TemplatePattern::new("{disk,fs} * full")
            .unwrap()
            .is_match("fs /dev/sda1 full"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        for (bad, says) in [
            ("", "matches nothing"),
            ("  ", "matches nothing"),
            ("[unclosed", "not a valid glob"),
            ("{a,b", "not a valid glob"),
        ] {
            let e = TemplatePattern::new(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_template_is_kept_when_included_and_not_excluded() {
        let f = TemplateFilter {
            include: list(&["*error*", "*timeout*"]),
            exclude: list(&["*health check*"]),
        };
        assert!(f.keeps("read timeout after <*> ms"));
        assert!(!f.keeps("health check error on <*>"));
        assert!(!f.keeps("request served in <*> ms"));
        let f = TemplateFilter {
            include: vec![],
            exclude: list(&["*debug*"]),
        };
        assert!(f.keeps("anything") && !f.keeps("DEBUG cache hit"));
        assert!(TemplateFilter::default().keeps("anything"));
        assert!(TemplateFilter::default().is_empty());
    }
}
