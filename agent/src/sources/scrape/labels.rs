//! Label sets read by the exposition grammar before `prometheus-parse` sees them.
//!
//! That crate splits a label set at every `,` and `=` and ends it at the first `}`, quotes or
//! not, so `{path="/a,b",q="x=1"}` would lose values and `{v="}"}` the whole line. Each sample
//! line's label set is therefore parsed here (quoted values, `\\`, `\"` and `\n` escapes) and
//! written back with every value percent-encoded over the characters the crate cannot take;
//! [`decode`] gives the value back when the signal name is made.

use std::borrow::Cow;

/// Characters a value may not hold when it reaches the crate, and `%` itself.
fn needs_encoding(c: char) -> bool {
    matches!(c, '%' | ',' | '=' | '}' | '{' | '"' | '\\' | '\n' | '\r')
}

/// The line with its label set rewritten; `None` when the label set is malformed (an
/// unterminated value, a missing `=`, a bad name): such a line is not a sample.
pub(crate) fn normalize(line: &str) -> Option<Cow<'_, str>> {
    let Some(open) = line.find('{') else {
        return Some(Cow::Borrowed(line));
    };
    let (name, rest) = line.split_at(open);
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let mut out = String::with_capacity(line.len() + 16);
    out.push_str(name);
    let mut chars = rest[1..].char_indices().peekable();
    let mut pairs = 0;
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    let end = loop {
        skip_ws(&mut chars);
        match chars.next()? {
            (i, '}') => break i,
            (_, c) if c.is_ascii_alphabetic() || c == '_' => {
                out.push(if pairs == 0 { '{' } else { ',' });
                pairs += 1;
                out.push(c);
                while let Some((_, c)) =
                    chars.next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
                {
                    out.push(c);
                }
            }
            _ => return None,
        }
        skip_ws(&mut chars);
        if chars.next()?.1 != '=' {
            return None;
        }
        skip_ws(&mut chars);
        if chars.next()?.1 != '"' {
            return None;
        }
        out.push_str("=\"");
        loop {
            let c = match chars.next()?.1 {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => '\n',
                    other => other,
                },
                c => c,
            };
            if needs_encoding(c) {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
        out.push('"');
        skip_ws(&mut chars);
        match chars.next()? {
            (_, ',') => {}
            (i, '}') => break i,
            _ => return None,
        }
    };
    if pairs > 0 {
        out.push('}');
    }
    out.push_str(&rest[1 + end + 1..]);
    Some(Cow::Owned(out))
}

/// A value as [`normalize`] encoded it, decoded.
pub(crate) fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| value.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(line: &str) -> Vec<(String, String)> {
        let normalized = normalize(line).unwrap();
        let scrape =
            prometheus_parse::Scrape::parse(std::iter::once(Ok(normalized.into_owned()))).unwrap();
        let mut labels: Vec<(String, String)> = scrape.samples[0]
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), decode(v).into_owned()))
            .collect();
        labels.sort();
        labels
    }

    #[test]
    fn values_with_separators_and_escapes_survive_the_crate() {
        assert_eq!(
            roundtrip(r#"req{path="/a,b",q="x=1", brace="}{" ,quote="say \"hi\"\n\\"} 1"#),
            [
                ("brace".into(), "}{".into()),
                ("path".into(), "/a,b".into()),
                ("q".into(), "x=1".into()),
                ("quote".into(), "say \"hi\"\n\\".into()),
            ]
        );
        assert_eq!(roundtrip("x{p=\"100%\"} 1"), [("p".into(), "100%".into())]);
    }

    #[test]
    fn plain_lines_pass_and_malformed_label_sets_are_refused() {
        assert_eq!(normalize("up 1").unwrap(), "up 1");
        assert_eq!(normalize("up{} 1").unwrap(), "up 1");
        assert_eq!(
            normalize("up{a=\"1\",} 1 1700000000000").unwrap(),
            "up{a=\"1\"} 1 1700000000000"
        );
        for bad in [
            "up{a=\"1} 1",
            "up{a 1",
            "up{a=1} 1",
            "up{=\"1\"} 1",
            "up{a=\"1\" b=\"2\"} 1",
            "{a=\"1\"} 1",
            "up{9a=\"1\"} 1",
            "up{ü=\"1\"} 1",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        assert_eq!(decode("a%2Cb%25"), "a,b%");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
