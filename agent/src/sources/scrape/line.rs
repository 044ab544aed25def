//! One line of a text exposition, cut without allocating: a sample line into its series text
//! (`name{labels}`, what identifies the series and is looked up as it is), its value, and the
//! rest (a timestamp, an OpenMetrics exemplar: not used, since a sample is stamped with its
//! scrape's time); a `# TYPE` line into its metric and type.
//!
//! The label set is only delimited here (quote-aware, so `{v="}"}` holds): its grammar is
//! read in `labels` when the series is new.

/// How a sample line is malformed (what the log says about it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    NoName,
    BadName,
    UnclosedLabels,
    NoValue,
    BadValue,
}

impl LineError {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            LineError::NoName => "it does not start with a metric name",
            LineError::BadName => {
                "the metric name holds characters other than letters, digits, `_` and `:`"
            }
            LineError::UnclosedLabels => "its label set is not closed by `}`",
            LineError::NoValue => "no value after the series",
            LineError::BadValue => "its value is not a number",
        }
    }
}

/// A sample line, cut.
#[derive(Debug, PartialEq)]
pub(crate) struct SampleLine<'a> {
    /// `name{labels}` as written: the key a known series is found by.
    pub series: &'a [u8],
    pub name: &'a [u8],
    /// Between the braces (absent without braces).
    pub labels: Option<&'a [u8]>,
    pub value: f64,
}

/// What a line of the body is.
#[derive(Debug, PartialEq)]
pub(crate) enum Line<'a> {
    /// Empty, `# HELP`, any other comment.
    Skip,
    /// `# TYPE name type`.
    Type {
        name: &'a [u8],
        kind: &'a [u8],
    },
    /// OpenMetrics' end of the exposition: what follows is not read.
    Eof,
    Sample(SampleLine<'a>),
}

/// Letters, digits, `_` and `:` (the exposition's name characters), and any byte of a
/// non-ASCII character (names read by a Unicode `\w` are kept, as before).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':' || b >= 0x80
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The line (without its line feed) read.
pub(crate) fn read(line: &[u8]) -> Result<Line<'_>, LineError> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(Line::Skip);
    }
    if line[0] == b'#' {
        return Ok(comment(&line[1..]));
    }
    sample(line).map(Line::Sample)
}

/// `# TYPE name type`, `# EOF`; other comments are skipped.
fn comment(rest: &[u8]) -> Line<'_> {
    let mut words = rest
        .split(|&b| is_blank(b))
        .filter(|w| !w.is_empty())
        .fuse();
    match (words.next(), words.next(), words.next()) {
        (Some(b"EOF"), None, None) => Line::Eof,
        (Some(b"TYPE"), Some(name), Some(kind)) => Line::Type { name, kind },
        _ => Line::Skip,
    }
}

fn sample(line: &[u8]) -> Result<SampleLine<'_>, LineError> {
    let name_len = line
        .iter()
        .position(|&b| !is_name_byte(b))
        .unwrap_or(line.len());
    if name_len == 0 {
        return Err(LineError::NoName);
    }
    let mut end = name_len;
    let mut labels = None;
    if line.get(end) == Some(&b'{') {
        let close = closing_brace(&line[end + 1..]).ok_or(LineError::UnclosedLabels)?;
        labels = Some(&line[end + 1..end + 1 + close]);
        end += close + 2;
    }
    let rest = &line[end..];
    match rest.first() {
        None => return Err(LineError::NoValue),
        Some(&b) if !is_blank(b) => {
            return Err(if labels.is_none() {
                LineError::BadName
            } else {
                LineError::NoValue
            })
        }
        Some(_) => {}
    }
    let rest = rest.trim_ascii_start();
    let len = rest.iter().position(|&b| is_blank(b)).unwrap_or(rest.len());
    if len == 0 {
        return Err(LineError::NoValue);
    }
    let value = number(&rest[..len]).ok_or(LineError::BadValue)?;
    Ok(SampleLine {
        series: &line[..end],
        name: &line[..name_len],
        labels,
        value,
    })
}

/// Where the label set that starts `text` (after its `{`) is closed: the first `}` outside a
/// quoted value (`\` escapes the next byte inside one).
fn closing_brace(text: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'}' if !quoted => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// A value as Go writes floats: `NaN`, `+Inf`, `-Inf`, `1e-3` (any case, as Go reads them).
pub(crate) fn number(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(line: &str) -> Result<Option<f64>, LineError> {
        read(line.as_bytes()).map(|l| match l {
            Line::Sample(s) => Some(s.value),
            _ => None,
        })
    }

    #[test]
    fn sample_lines_are_cut_into_series_and_value() {
        let Ok(Line::Sample(s)) = read(b"  foo{a=\"}\",b=\"x\\\"}\"} 2.5 1700000000000  ") else {
            panic!()
        };
        assert_eq!(s.series, b"foo{a=\"}\",b=\"x\\\"}\"}");
        assert_eq!(s.name, b"foo");
        assert_eq!(s.labels, Some(&b"a=\"}\",b=\"x\\\"}\""[..]));
        assert_eq!(s.value, 2.5);
        // An OpenMetrics exemplar after the timestamp, names with `:`, tabs.
        assert_eq!(
            value("rpc_total{a=\"b\"} 7 1700000000 # {trace_id=\"abc\"} 1 1700000000"),
            Ok(Some(7.0))
        );
        assert_eq!(value("job:rate5m\t3"), Ok(Some(3.0)));
        assert_eq!(value("foo 2 trailing words"), Ok(Some(2.0)));
        assert_eq!(value("größe 1"), Ok(Some(1.0)));
        for (text, want) in [("NaN", f64::NAN), ("nan", f64::NAN)] {
            assert_eq!(
                value(&format!("x {text}")).unwrap().unwrap().is_nan(),
                want.is_nan()
            );
        }
        assert_eq!(value("x +Inf"), Ok(Some(f64::INFINITY)));
        assert_eq!(value("x -inf"), Ok(Some(f64::NEG_INFINITY)));
        assert_eq!(value("x 1e-3"), Ok(Some(1e-3)));
        assert_eq!(value("x{} 4"), Ok(Some(4.0)));
    }

    #[test]
    fn malformed_sample_lines_say_what_is_wrong() {
        for (line, err) in [
            ("{a=\"b\"} 1", LineError::NoName),
            ("<html><body>Not Found</body></html>", LineError::NoName),
            ("foo-bar 1", LineError::BadName),
            ("foo=2", LineError::BadName),
            ("foo{a=\"b\" 1", LineError::UnclosedLabels),
            ("foo{a=\"}\" 1", LineError::UnclosedLabels),
            ("foo", LineError::NoValue),
            ("foo{a=\"b\"}", LineError::NoValue),
            ("foo{a=\"b\"}1", LineError::NoValue),
            ("this is not a sample", LineError::BadValue),
            ("foo 0x1F", LineError::BadValue),
            ("foo {a=\"b\"} 1", LineError::BadValue),
        ] {
            assert_eq!(read(line.as_bytes()), Err(err), "{line}");
        }
    }

    #[test]
    fn comments_give_types_and_the_end() {
        assert_eq!(
            read(b"# TYPE  lat_seconds\thistogram"),
            Ok(Line::Type {
                name: b"lat_seconds",
                kind: b"histogram"
            })
        );
        assert_eq!(
            read(b"# HELP lat_seconds Latency { of } \"x\""),
            Ok(Line::Skip)
        );
        assert_eq!(read(b"# EOF"), Ok(Line::Eof));
        assert_eq!(read(b"#EOF"), Ok(Line::Eof));
        assert_eq!(read(b"# EOF now"), Ok(Line::Skip));
        assert_eq!(read(b"# TYPE x"), Ok(Line::Skip));
        assert_eq!(read(b"   "), Ok(Line::Skip));
        assert_eq!(read(b"#"), Ok(Line::Skip));
    }
}
