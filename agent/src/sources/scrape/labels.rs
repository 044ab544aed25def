//! A series' label set read by the exposition grammar, once, when the series is new (a known
//! series is found by its text without reading its labels): `name="value"` pairs separated by
//! `,` (a trailing one allowed), blanks around the tokens, values quoted with `\\`, `\"` and
//! `\n` escapes. As Prometheus does, any other escaped character is kept with its backslash
//! (an exporter writing `C:\temp` unescaped still gives its path). A pair that breaks the
//! grammar or a name given twice makes the line malformed: it is skipped and counted.

use std::borrow::Cow;

/// How a label set is malformed (what the log says about it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LabelError {
    BadName,
    NoEquals,
    NotQuoted,
    Unterminated,
    NoSeparator,
    Repeated,
}

impl LabelError {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            LabelError::BadName => "a label name is not letters, digits and `_`",
            LabelError::NoEquals => "a label name is not followed by `=`",
            LabelError::NotQuoted => "a label value is not in double quotes",
            LabelError::Unterminated => "a label value is not closed by `\"`",
            LabelError::NoSeparator => "label pairs are not separated by `,`",
            LabelError::Repeated => "a label name is given twice",
        }
    }
}

/// A label: its name and its value with the escapes undone (borrowed when it has none;
/// bytes that are not UTF-8 are replaced).
pub(crate) type Label<'a> = (&'a str, Cow<'a, str>);

fn skip_blanks(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(|b| matches!(b, b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// Reads `text` (between the braces) into `out` (cleared first).
pub(crate) fn parse<'a>(text: &'a [u8], out: &mut Vec<Label<'a>>) -> Result<(), LabelError> {
    out.clear();
    let mut i = skip_blanks(text, 0);
    while i < text.len() {
        let start = i;
        if !text[i].is_ascii_alphabetic() && text[i] != b'_' {
            return Err(LabelError::BadName);
        }
        while text
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            i += 1;
        }
        // ASCII by the loop above.
        let name = std::str::from_utf8(&text[start..i]).map_err(|_| LabelError::BadName)?;
        i = skip_blanks(text, i);
        if text.get(i) != Some(&b'=') {
            return Err(if i < text.len() && !matches!(text[i], b',' | b'"') {
                LabelError::BadName
            } else {
                LabelError::NoEquals
            });
        }
        i = skip_blanks(text, i + 1);
        if text.get(i) != Some(&b'"') {
            return Err(LabelError::NotQuoted);
        }
        let (value, next) = quoted(text, i + 1)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(LabelError::Repeated);
        }
        out.push((name, value));
        i = skip_blanks(text, next);
        match text.get(i) {
            None => break,
            Some(b',') => i = skip_blanks(text, i + 1),
            Some(_) => return Err(LabelError::NoSeparator),
        }
    }
    Ok(())
}

/// The value that starts at `start` (after its opening quote) and where reading goes on after
/// its closing quote.
fn quoted(text: &[u8], start: usize) -> Result<(Cow<'_, str>, usize), LabelError> {
    let mut i = start;
    let mut escaped = false;
    loop {
        match text.get(i) {
            None => return Err(LabelError::Unterminated),
            Some(b'"') => break,
            Some(b'\\') => {
                escaped = true;
                i += 2;
            }
            Some(_) => i += 1,
        }
    }
    let raw = &text[start..i];
    if !escaped {
        return Ok((String::from_utf8_lossy(raw), i + 1));
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut j = 0;
    while j < raw.len() {
        match (raw[j], raw.get(j + 1)) {
            (b'\\', Some(b'n')) => bytes.push(b'\n'),
            (b'\\', Some(&c @ (b'\\' | b'"'))) => bytes.push(c),
            (b'\\', Some(&c)) => bytes.extend_from_slice(&[b'\\', c]),
            (c, _) => {
                bytes.push(c);
                j += 1;
                continue;
            }
        }
        j += 2;
    }
    let value = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok((Cow::Owned(value), i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text: &str) -> Result<Vec<(String, String)>, LabelError> {
        let mut out = Vec::new();
        parse(text.as_bytes(), &mut out)?;
        Ok(out
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect())
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_with_separators_and_escapes_are_read_whole() {
        assert_eq!(
            labels(r#"path="/a,b",q="x=1", brace="}{" ,quote="say \"hi\"\n\\""#),
            Ok(pairs(&[
                ("path", "/a,b"),
                ("q", "x=1"),
                ("brace", "}{"),
                ("quote", "say \"hi\"\n\\"),
            ]))
        );
        assert_eq!(labels("p=\"100%\""), Ok(pairs(&[("p", "100%")])));
        assert_eq!(labels(""), Ok(vec![]));
        assert_eq!(labels(" a = \"1\" , "), Ok(pairs(&[("a", "1")])));
        // Unknown escapes keep their backslash, as Prometheus reads them.
        // (`\t` is kept, `\n` is a line feed.)
        assert_eq!(
            labels(r#"dir="C:\temp\new""#),
            Ok(pairs(&[("dir", "C:\\temp\new")]))
        );
        assert_eq!(labels("v=\"é\\q\""), Ok(pairs(&[("v", "é\\q")])));
    }

    #[test]
    fn malformed_label_sets_say_what_is_wrong() {
        for (bad, err) in [
            ("a=\"1", LabelError::Unterminated),
            ("a=\"1\\\"", LabelError::Unterminated),
            ("a", LabelError::NoEquals),
            ("a,b=\"1\"", LabelError::NoEquals),
            ("a=1", LabelError::NotQuoted),
            ("=\"1\"", LabelError::BadName),
            ("a=\"1\" b=\"2\"", LabelError::NoSeparator),
            ("9a=\"1\"", LabelError::BadName),
            ("ü=\"1\"", LabelError::BadName),
            ("a-b=\"1\"", LabelError::BadName),
            ("a=\"1\",a=\"2\"", LabelError::Repeated),
            ("a=\"1\",,b=\"2\"", LabelError::BadName),
        ] {
            assert_eq!(labels(bad), Err(err), "{bad}");
        }
    }
}
