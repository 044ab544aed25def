//! Which signals `/api/v1/signals` and the status page list: `?offset=&limit=` pages through
//! the signals sorted by name (a stable order: a score changes between two requests, a name
//! does not), `?prefix=` and `?stage=` narrow them. Parsed from the raw query string so that
//! every bad parameter gets a sentence of its own.

use std::fmt::Write;

/// Signals on one page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 500;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 5000;
/// The stage names `?stage=` accepts.
const STAGES: [&str; 3] = ["learning", "early", "full"];

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalQuery {
    pub offset: usize,
    pub limit: usize,
    /// Only signals whose name starts with this.
    pub prefix: Option<String>,
    /// Only signals at this stage (`learning`, `early` or `full`).
    pub stage: Option<&'static str>,
}

impl Default for SignalQuery {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: DEFAULT_LIMIT,
            prefix: None,
            stage: None,
        }
    }
}

impl SignalQuery {
    /// Parses `offset`, `limit`, `prefix` and `stage` from a query string (without the `?`);
    /// an unknown parameter, a repeated one or a bad value is an error that says what to send.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut q = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key)?;
            let value = decode(value)?;
            if seen.contains(&key) {
                return Err(format!("`{}` is given twice; give it once", short(&key)));
            }
            match key.as_str() {
                "offset" => q.offset = number("offset", &value)?,
                "limit" => {
                    q.limit = number("limit", &value)?;
                    if q.limit == 0 || q.limit > MAX_LIMIT {
                        return Err(format!(
                            "limit must be 1 to {MAX_LIMIT} signals a page, not {}",
                            short(&value)
                        ));
                    }
                }
                "prefix" => q.prefix = Some(value).filter(|p| !p.is_empty()),
                "stage" => {
                    q.stage = Some(STAGES.into_iter().find(|s| *s == value).ok_or_else(|| {
                        format!(
                            "stage must be learning, early or full, not `{}`",
                            short(&value)
                        )
                    })?)
                }
                _ => {
                    return Err(format!(
                    "unknown parameter `{}`: the signals accept offset, limit, prefix and stage",
                    short(&key)
                ))
                }
            }
            seen.push(key);
        }
        Ok(q)
    }

    /// Whether `name` at `stage` is one of the signals asked for.
    pub fn matches(&self, name: &str, stage: &str) -> bool {
        self.prefix.as_deref().is_none_or(|p| name.starts_with(p))
            && self.stage.is_none_or(|s| s == stage)
    }

    /// The query string (with its `?`, empty for the defaults) of the same filters at `offset`.
    pub fn at(&self, offset: usize) -> String {
        let mut s = String::new();
        let sep = |s: &mut String| s.push(if s.is_empty() { '?' } else { '&' });
        if offset > 0 {
            sep(&mut s);
            let _ = write!(s, "offset={offset}");
        }
        if self.limit != DEFAULT_LIMIT {
            sep(&mut s);
            let _ = write!(s, "limit={}", self.limit);
        }
        if let Some(p) = &self.prefix {
            sep(&mut s);
            s.push_str("prefix=");
            encode(&mut s, p);
        }
        if let Some(st) = self.stage {
            sep(&mut s);
            let _ = write!(s, "stage={st}");
        }
        s
    }
}

fn number(key: &str, value: &str) -> Result<usize, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{key} must be a whole number of signals (0 or more), not `{}`",
            short(value)
        ));
    }
    value
        .parse()
        .map_err(|_| format!("{key} `{}` is too large", short(value)))
}

/// At most 40 characters of what the client sent.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Percent-decoding, `+` as a space (HTML forms send it so).
fn decode(s: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [it.next(), it.next()];
                let digit = |d: Option<u8>| d.and_then(|d| (d as char).to_digit(16));
                match (digit(hex[0]), digit(hex[1])) {
                    (Some(h), Some(l)) => bytes.push((h * 16 + l) as u8),
                    _ => return Err(format!("`{}` has a bad %-escape", short(s))),
                }
            }
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("`{}` is not UTF-8 once decoded", short(s)))
}

/// Percent-encodes all but the unreserved characters.
fn encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_parameter() {
        assert_eq!(SignalQuery::parse(None), Ok(SignalQuery::default()));
        assert_eq!(SignalQuery::parse(Some("")), Ok(SignalQuery::default()));
        let q =
            SignalQuery::parse(Some("offset=20&limit=10&prefix=log.a%20b+c&stage=early")).unwrap();
        assert_eq!(
            q,
            SignalQuery {
                offset: 20,
                limit: 10,
                prefix: Some("log.a b c".into()),
                stage: Some("early"),
            }
        );
        assert!(q.matches("log.a b c.x", "early"));
        assert!(!q.matches("log.a b c.x", "full"));
        assert!(!q.matches("host.cpu", "early"));
        // The link to another page keeps the filters and parses back to them.
        assert_eq!(
            q.at(30),
            "?offset=30&limit=10&prefix=log.a%20b%20c&stage=early"
        );
        let back = SignalQuery::parse(Some(&q.at(30)[1..])).unwrap();
        assert_eq!(back, SignalQuery { offset: 30, ..q });
        assert_eq!(SignalQuery::default().at(0), "");
    }

    #[test]
    fn bad_parameters_say_what_to_send() {
        for (query, says) in [
            (
                "offset=-1",
                "offset must be a whole number of signals (0 or more), not `-1`",
            ),
            ("limit=abc", "limit must be a whole number"),
            ("limit=", "limit must be a whole number"),
            ("limit=0", "limit must be 1 to 5000 signals a page, not 0"),
            (
                "limit=5001",
                "limit must be 1 to 5000 signals a page, not 5001",
            ),
            (
                "offset=99999999999999999999999",
                "offset `99999999999999999999999` is too large",
            ),
            (
                "stage=warm",
                "stage must be learning, early or full, not `warm`",
            ),
            ("page=2", "unknown parameter `page`"),
            ("limit=1&limit=2", "`limit` is given twice"),
            ("prefix=%zz", "has a bad %-escape"),
            ("prefix=%ff", "is not UTF-8 once decoded"),
        ] {
            let e = SignalQuery::parse(Some(query)).unwrap_err();
            assert!(e.contains(says), "{query}: {e}");
        }
        let long = format!("stage={}", "x".repeat(500));
        assert!(SignalQuery::parse(Some(&long)).unwrap_err().len() < 120);
    }
}
