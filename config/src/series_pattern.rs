//! Patterns over scraped series (`include` / `exclude` of `[[sources.scrape]]`): a glob on the
//! metric family name, optionally followed by label matchers in braces:
//!
//! ```text
//! go_*                          every series of the families go_…
//! http_requests_total{code=5*}  the series of that family whose `code` starts with 5
//! *{le=*}                       any series with a non-empty `le` label
//! *{job!=batch,env=""}          `job` absent or not `batch`, and no `env` label
//! x{path="/a,b"}                a quoted value may hold `,` `}` and `\"`
//! ```
//!
//! `label=glob` needs the label present (non-empty) with a matching value; `label!=glob` holds
//! when it is absent or does not match; `label=""` holds when it is absent, `label!=""` when
//! it is present. Globs are [`NameGlob`]s (`*`, `?`, `[abc]`, `{a,b}`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::values::NameGlob;

/// Patterns per list, so a mistaken generated list cannot cost every scrape a long walk.
pub const MAX_PATTERNS: usize = 1000;

/// One `include` / `exclude` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPattern {
    name: NameGlob,
    labels: Vec<LabelMatcher>,
}

#[derive(Debug, Clone, PartialEq)]
struct LabelMatcher {
    label: String,
    negate: bool,
    /// `None`: the empty value, i.e. the label is absent.
    value: Option<NameGlob>,
}

impl SeriesPattern {
    pub fn new(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err(
                "an empty pattern matches nothing: write a glob over metric names such as \"go_*\""
                    .into(),
            );
        }
        let (name, rest) = match matcher_start(text) {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!(
                "`{text}` has no metric name glob before its labels: start it with a name or `*`, such as \"*{{le=*}}\""
            ));
        }
        if name.contains('.') {
            return Err(format!(
                "`{text}` holds a `.`: patterns match the target's own metric names (such as \"go_*\"), not signal names (scrape.{{target}}.…)"
            ));
        }
        if let Some(c) = name.chars().find(|c| {
            !(c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '_' | ':' | '*' | '?' | '[' | ']' | '{' | '}' | ',' | '!' | '-' | '^'
                ))
        }) {
            return Err(format!(
                "`{text}`: `{c}` cannot be part of a metric name; write a glob over metric names, optionally followed by label matchers such as {{code=5*}}"
            ));
        }
        let name = NameGlob::new(name).map_err(|e| format!("in `{text}`: {e}"))?;
        let labels = match rest {
            Some(rest) => matchers(text, rest)?,
            None => Vec::new(),
        };
        Ok(Self { name, labels })
    }

    /// Whether a series of family `name` matches; `label` gives a label's value (`None` or
    /// empty when absent).
    pub fn is_match<S: AsRef<str>>(&self, name: &str, label: impl Fn(&str) -> Option<S>) -> bool {
        self.name.is_match(name)
            && self.labels.iter().all(|m| {
                let value = label(&m.label);
                let value = value.as_ref().map(AsRef::as_ref).filter(|v| !v.is_empty());
                let hit = match (&m.value, value) {
                    (None, v) => v.is_none(),
                    (Some(g), Some(v)) => g.is_match(v),
                    (Some(_), None) => false,
                };
                hit != m.negate
            })
    }
}

/// Where the label matchers start: the first `{` followed by a label name and `=` or `!=`
/// (a `{a,b}` alternation of the name glob never has one).
fn matcher_start(text: &str) -> Option<usize> {
    text.match_indices('{').map(|(i, _)| i).find(|&i| {
        let rest = text[i + 1..].trim_start();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        end > 0 && {
            let after = rest[end..].trim_start();
            after.starts_with('=') || after.starts_with("!=")
        }
    })
}

/// The matchers after the opening `{`, up to the closing `}` that must end the pattern.
fn matchers(text: &str, rest: &str) -> Result<Vec<LabelMatcher>, String> {
    let bad = |what: &str| {
        format!("`{text}`: {what}; write label matchers as {{label=glob, label!=glob}}, such as http_requests_total{{code=5*}}")
    };
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut label = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
            label.push(c);
        }
        if label.is_empty() || label.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad("a label name is missing or starts with a digit"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let negate = chars.next_if_eq(&'!').is_some();
        if chars.next() != Some('=') {
            return Err(bad(&format!("`{label}` is not followed by `=` or `!=`")));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad("a quoted value is not closed")),
                    },
                    Some(c) => value.push(c),
                    None => return Err(bad("a quoted value is not closed")),
                }
            }
        } else {
            // Unquoted: up to `,` or `}` outside a `{a,b}` alternation.
            let mut depth = 0usize;
            while let Some(&c) = chars.peek() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => break,
                    '"' => return Err(bad("a value has a `\"` inside: quote the whole value")),
                    _ => {}
                }
                value.push(c);
                chars.next();
            }
            value.truncate(value.trim_end().len());
        }
        let value = if value.is_empty() {
            None
        } else {
            Some(NameGlob::new(&value).map_err(|e| format!("in `{text}`, label `{label}`: {e}"))?)
        };
        if out.iter().any(|m: &LabelMatcher| m.label == label) {
            return Err(bad(&format!("`{label}` is matched twice")));
        }
        out.push(LabelMatcher {
            label,
            negate,
            value,
        });
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            Some(',') => {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                if chars.next_if_eq(&'}').is_some() {
                    break;
                }
            }
            Some('}') => break,
            _ => return Err(bad("the label matchers are not closed with `}`")),
        }
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err(bad("text follows the closing `}`"));
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for SeriesPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PatternVisitor;
        impl Visitor<'_> for PatternVisitor {
            type Value = SeriesPattern;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a series pattern such as \"go_*\" or \"http_requests_total{code=5*}\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SeriesPattern, E> {
                SeriesPattern::new(v).map_err(E::custom)
            }
        }
        d.deserialize_str(PatternVisitor)
    }
}

/// A target's `include` and `exclude`: a series is kept when it matches some include (or
/// there is none) and no exclude.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesFilter {
    pub include: Vec<SeriesPattern>,
    pub exclude: Vec<SeriesPattern>,
}

impl SeriesFilter {
    /// True when nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    pub fn keeps<S: AsRef<str>>(
        &self,
        name: &str,
        label: impl Fn(&str) -> Option<S> + Copy,
    ) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.is_match(name, label)))
            && !self.exclude.iter().any(|p| p.is_match(name, label))
    }
}

/// A bounded list of patterns.
pub(crate) fn pattern_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<SeriesPattern>, D::Error> {
    bounded_patterns(d, SeriesPattern::new, "\"go_*\"")
}

/// A list of at most [`MAX_PATTERNS`] patterns, each parsed by `parse`; past the bound, the
/// error suggests broader globs such as `example`.
pub(crate) fn bounded_patterns<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl Fn(&str) -> Result<T, String>,
    example: &str,
) -> Result<Vec<T>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    if texts.len() > MAX_PATTERNS {
        return Err(de::Error::custom(format!(
            "{} patterns, more than the {MAX_PATTERNS} a list may hold: use broader globs such as {example}",
            texts.len()
        )));
    }
    texts
        .iter()
        .map(|t| parse(t).map_err(de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn matches(pattern: &str, name: &str, labels: &[(&str, &str)]) -> bool {
        let labels: HashMap<&str, &str> = labels.iter().copied().collect();
        SeriesPattern::new(pattern)
            .unwrap()
            .is_match(name, |l| labels.get(l).copied())
    }

    #[test]
    fn names_and_labels_match_as_documented() {
        assert!(matches("go_*", "go_goroutines", &[]));
        assert!(!matches("go_*", "process_cpu", &[]));
        assert!(matches("{go,process}_*", "process_cpu", &[]));
        assert!(matches(
            "http_requests_total{code=5*}",
            "http_requests_total",
            &[("code", "503")]
        ));
        assert!(!matches(
            "http_requests_total{code=5*}",
            "http_requests_total",
            &[("code", "200")]
        ));
        assert!(!matches(
            "http_requests_total{code=5*}",
            "http_requests_total",
            &[]
        ));
        assert!(matches("*{le=*}", "x_bucket", &[("le", "0.5")]));
        assert!(!matches("*{le=*}", "x_bucket", &[]));
        assert!(
            !matches("*{le=*}", "x_bucket", &[("le", "")]),
            "empty is absent"
        );
        assert!(matches("*{job!=batch}", "x", &[]));
        assert!(matches("*{job!=batch}", "x", &[("job", "web")]));
        assert!(!matches("*{job!=batch}", "x", &[("job", "batch")]));
        assert!(matches("*{env=\"\"}", "x", &[]));
        assert!(!matches("*{env=\"\"}", "x", &[("env", "prod")]));
        assert!(matches("*{env!=}", "x", &[("env", "prod")]));
        assert!(matches(
            "x{code={500,503}, m = get}",
            "x",
            &[("code", "503"), ("m", "get")]
        ));
        assert!(!matches(
            "x{code={500,503},m=get}",
            "x",
            &[("code", "504"), ("m", "get")]
        ));
        assert!(matches("x{p=\"/a,b[}]\\\"\"}", "x", &[("p", "/a,b}\"")]));
        assert!(matches("x{p=*/api/*,}", "x", &[("p", "/v1/api/users")]));
    }

    #[test]
    fn bad_patterns_are_explained() {
        for (bad, says) in [
            ("", "matches nothing"),
            ("{code=5*}", "no metric name glob"),
            ("scrape.app.go_*", "not signal names"),
            ("go_*{code=5*", "not closed with `}`"),
            ("go_*{a=1,code}", "not followed by `=` or `!=`"),
            ("go_*{code 5}", "cannot be part of a metric name"),
            ("go_*{code=5*} x", "text follows"),
            ("go_*{code=\"5*}", "quoted value is not closed"),
            ("go_*{9a=1}", "missing or starts with a digit"),
            ("go_*{a=1,a=2}", "matched twice"),
            ("go_*{a=[1}", "not a valid glob"),
            ("[go_*", "not a valid glob"),
            ("go /x", "cannot be part of a metric name"),
            ("x{a=b\"c}", "quote the whole value"),
        ] {
            let e = SeriesPattern::new(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_series_is_kept_when_included_and_not_excluded() {
        let list = |p: &[&str]| p.iter().map(|t| SeriesPattern::new(t).unwrap()).collect();
        let f = SeriesFilter {
            include: list(&["app_*", "http_requests_total{code=5*}"]),
            exclude: list(&["app_debug_*"]),
        };
        let none = |_: &str| None::<&str>;
        assert!(f.keeps("app_queue", none));
        assert!(!f.keeps("app_debug_x", none));
        assert!(!f.keeps("go_goroutines", none));
        assert!(f.keeps("http_requests_total", |_| Some("500")));
        assert!(!f.keeps("http_requests_total", |_| Some("200")));
        let f = SeriesFilter {
            include: vec![],
            exclude: list(&["go_*"]),
        };
        assert!(f.keeps("app_queue", none) && !f.keeps("go_gc", none));
        assert!(SeriesFilter::default().keeps("anything", none));
    }
}
