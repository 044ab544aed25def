//! Log line header formats in Loghub's placeholder syntax, e.g.
//! `<Date> <Time> <Level> <Component>: <Content>`.
//!
//! Semantics follow LogPAI's `generate_logformat_regex`: each `<Name>` matches as few characters
//! as possible (`.*?`), a run of spaces matches a run of white space, everything else is a
//! regular expression (so `\[`, `\|` and optional groups like `(\[<PID>\])?` work), and the whole
//! line must match. `<Content>` is required: it is the message handed to the template miner.

use regex::Regex;

/// A parsed header format: splits lines into named fields and the message.
#[derive(Debug, Clone)]
pub struct LogFormat {
    source: String,
    regex: Regex,
    names: Vec<String>,
    /// Capture group index of each name (the format's own groups shift the numbering).
    groups: Vec<usize>,
    content: usize,
    level: Option<usize>,
}

/// Why a format string was refused. Positions are byte offsets into the format, from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("`<` at byte {0} is not closed by `>`")]
    Unclosed(usize),
    #[error("empty field name `<>` at byte {0}")]
    EmptyName(usize),
    #[error("field name `{name}` at byte {at} may only contain letters, digits and `_`")]
    BadName { name: String, at: usize },
    #[error("field `<{0}>` appears twice")]
    Duplicate(String),
    #[error("the format has no `<Content>` field (the message)")]
    NoContent,
    #[error("the format's text between fields is not a valid regular expression: {0}")]
    Regex(String),
}

/// The fields of one line, borrowed from the line.
#[derive(Debug)]
pub struct Fields<'a> {
    format: &'a LogFormat,
    caps: regex::Captures<'a>,
}

impl LogFormat {
    pub fn parse(format: &str) -> Result<Self, FormatError> {
        // The group keeps both anchors on the whole format when its regex text holds a `|`
        // (`^a|b$` would anchor only `a` at the start and only `b` at the end).
        let mut pattern = String::from("^(?:");
        let mut names: Vec<String> = Vec::new();
        let mut rest = format;
        let mut offset = 0;
        while let Some(open) = rest.find('<') {
            push_literal(&mut pattern, &rest[..open]);
            let at = offset + open;
            let after = &rest[open + 1..];
            let close = after.find('>').ok_or(FormatError::Unclosed(at))?;
            let name = &after[..close];
            if name.is_empty() {
                return Err(FormatError::EmptyName(at));
            }
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(FormatError::BadName {
                    name: name.to_string(),
                    at,
                });
            }
            if names.iter().any(|n| n == name) {
                return Err(FormatError::Duplicate(name.to_string()));
            }
            pattern.push_str("(?P<");
            pattern.push_str(name);
            pattern.push_str(">.*?)");
            names.push(name.to_string());
            let consumed = open + 1 + close + 1;
            rest = &rest[consumed..];
            offset += consumed;
        }
        push_literal(&mut pattern, rest);
        pattern.push_str(")$");
        let content = names
            .iter()
            .position(|n| n == "Content")
            .ok_or(FormatError::NoContent)?;
        let regex = Regex::new(&pattern).map_err(|e| FormatError::Regex(first_line(&e)))?;
        let level = names.iter().position(|n| n.eq_ignore_ascii_case("level"));
        let groups = names
            .iter()
            .map(|n| {
                regex
                    .capture_names()
                    .position(|g| g == Some(n.as_str()))
                    .ok_or_else(|| FormatError::Regex(format!("field `<{n}>` is not a group")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            source: format.to_string(),
            regex,
            names,
            groups,
            content,
            level,
        })
    }

    /// The format string as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Field names in order of appearance.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Splits a line (without its line terminator) into fields; `None` when it does not match,
    /// or matches without its `<Content>` (a format whose regex text makes it optional).
    pub fn split<'a>(&'a self, line: &'a str) -> Option<Fields<'a>> {
        let caps = self.regex.captures(line)?;
        caps.get(self.groups[self.content])?;
        Some(Fields { format: self, caps })
    }
}

impl<'a> Fields<'a> {
    /// The message: the `<Content>` field (always matched, see [`LogFormat::split`]).
    pub fn content(&self) -> &'a str {
        self.nth(self.format.content).unwrap_or("")
    }

    /// The field named `Level` (any case), if the format has one.
    pub fn level(&self) -> Option<&'a str> {
        self.nth(self.format.level?)
    }

    /// A field by its exact name; `None` when the format has no such field or an optional
    /// group did not match.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let i = self.format.names.iter().position(|n| n == name)?;
        self.nth(i)
    }

    /// `(name, value)` for every field that matched, in format order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        let format: &'a LogFormat = self.format;
        format
            .names
            .iter()
            .enumerate()
            .filter_map(move |(i, n)| Some((n.as_str(), self.nth(i)?)))
    }

    fn nth(&self, i: usize) -> Option<&'a str> {
        self.caps.get(self.format.groups[i]).map(|m| m.as_str())
    }
}

/// Runs of spaces match runs of white space; the rest is regex text, as in LogPAI.
fn push_literal(pattern: &mut String, text: &str) {
    let mut in_space = false;
    for ch in text.chars() {
        if ch == ' ' {
            if !in_space {
                pattern.push_str(r"\s+");
            }
            in_space = true;
        } else {
            pattern.push(ch);
            in_space = false;
        }
    }
}

fn first_line(e: &regex::Error) -> String {
    let s = e.to_string();
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_loghub_headers() {
        let f = LogFormat::parse("<Date> <Time> <Level> <Component>: <Content>").unwrap();
        let x = f
            .split("17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn,curi")
            .unwrap();
        assert_eq!(x.get("Date"), Some("17/06/09"));
        assert_eq!(x.get("Time"), Some("20:10:40"));
        assert_eq!(x.level(), Some("INFO"));
        assert_eq!(x.get("Component"), Some("spark.SecurityManager"));
        assert_eq!(x.content(), "Changing view acls to: yarn,curi");
        assert_eq!(x.iter().count(), 5);
        assert!(f.split("no header here").is_none());
    }

    #[test]
    fn regex_text_optional_groups_and_white_space_runs() {
        let f =
            LogFormat::parse(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
                .unwrap();
        let x = f
            .split("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
            .unwrap();
        assert_eq!(x.get("Component"), Some("sshd(pam_unix)"));
        assert_eq!(x.get("PID"), Some("19939"));
        assert_eq!(x.content(), "check pass; user unknown");
        let x = f
            .split("Jun  9 06:06:20 combo syslogd 1.4.1: restart.")
            .unwrap();
        assert_eq!(x.get("PID"), None);
        assert_eq!(x.get("Component"), Some("syslogd 1.4.1"));
        assert_eq!(x.content(), "restart.");

        let f = LogFormat::parse(r"<Time>\|<Component>\|<Pid>\|<Content>").unwrap();
        let x = f
            .split("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579")
            .unwrap();
        assert_eq!(x.content(), "onStandStepChanged 3579");
        assert_eq!(x.level(), None);

        let f =
            LogFormat::parse("<Date> <Time>, <Level>                  <Component>    <Content>")
                .unwrap();
        let x = f
            .split("2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack")
            .unwrap();
        assert_eq!((x.level(), x.get("Component")), (Some("Info"), Some("CBS")));
        assert_eq!(x.content(), "Loaded Servicing Stack");
    }

    /// Found by fuzzing (fuzz/regressions/log_format/): a `|` in the format's regex text made
    /// the anchors apply to one alternative each, so a line matched on a prefix, without its
    /// `<Content>`, and every such line was mined as the empty message.
    #[test]
    fn alternatives_are_anchored_and_a_line_without_content_does_not_match() {
        let f = LogFormat::parse("<Date> |<Time> <Content>").unwrap();
        let x = f.split("x y z").unwrap();
        assert_eq!((x.get("Date"), x.get("Time")), (None, Some("x")));
        assert_eq!(x.content(), "y z");
        // Only the first alternative matches, and it has no <Content>: not a match.
        assert!(f.split("x ").is_none());
        let f = LogFormat::parse("<Date> |Time> <Level> <Component>: <Content>").unwrap();
        assert!(f
            .split("17/06/09 20:10:40 INFO spark.SecurityManager: hello")
            .is_none());
        let f = LogFormat::parse(r"<Level>(: <Content>)?").unwrap();
        assert!(f.split("INFO").is_none());
        assert_eq!(f.split("INFO: up").unwrap().content(), "up");
    }

    #[test]
    fn bad_formats_are_refused_precisely() {
        assert_eq!(
            LogFormat::parse("<Date> <Time").unwrap_err(),
            FormatError::Unclosed(7)
        );
        assert_eq!(
            LogFormat::parse("<> <Content>").unwrap_err(),
            FormatError::EmptyName(0)
        );
        assert_eq!(
            LogFormat::parse("<Da te> <Content>").unwrap_err(),
            FormatError::BadName {
                name: "Da te".into(),
                at: 0
            }
        );
        assert_eq!(
            LogFormat::parse("<A> <A> <Content>").unwrap_err(),
            FormatError::Duplicate("A".into())
        );
        assert_eq!(
            LogFormat::parse("<Date> <Time>").unwrap_err(),
            FormatError::NoContent
        );
        assert!(matches!(
            LogFormat::parse("<Date> (<Time> <Content>").unwrap_err(),
            FormatError::Regex(_)
        ));
        let msg = LogFormat::parse("<Date> <Time").unwrap_err().to_string();
        assert_eq!(msg, "`<` at byte 7 is not closed by `>`");
    }
}
