//! A sample line's value, read as `prometheus-parse` reads it but without its regex.
//!
//! Each body line is checked before the crate parses the kept lines again (`parse` in
//! `mod.rs`): a line the crate would take as a sample whose value is not a number is counted
//! as invalid instead of silently dropped. The crate matches every line against
//! `^(\w+)(\{[^}]+\})?\s+(\S+)(\s+(\S+))?`; running that regex (with its captures) twice per
//! line was about half of a scrape's parsing. For an ASCII line the same grammar is read here
//! byte by byte; a line with other characters (where `\w` and `\s` are Unicode classes) still
//! goes through the crate's own `LineInfo::parse`, so the answer is the crate's in every case.

use prometheus_parse::LineInfo;

/// `\s` on ASCII: tab, line feed, vertical tab, form feed, carriage return, space.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// `\w` on ASCII.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The value field of `line` when the crate reads it as a sample; `None` for any other line
/// (a comment, an empty line, one that is not a sample).
pub(crate) fn sample_value(line: &str) -> Option<&str> {
    let line = line.trim();
    if !line.is_ascii() {
        return match LineInfo::parse(line) {
            LineInfo::Sample { value, .. } => Some(value),
            _ => None,
        };
    }
    let b = line.as_bytes();
    // The name: at least one word byte (HELP and TYPE lines start with `#`, never a sample).
    let mut i = b.iter().position(|&c| !is_word(c)).unwrap_or(b.len());
    if i == 0 {
        return None;
    }
    // An optional `{…}` of at least one byte, up to the first `}`; an opened set that does
    // not close that way leaves no sample (what follows the name must then be a space).
    if b.get(i) == Some(&b'{') {
        let close = b[i + 1..].iter().position(|&c| c == b'}')?;
        if close == 0 {
            return None;
        }
        i += close + 2;
    }
    let spaces = b[i..].iter().take_while(|&&c| is_space(c)).count();
    if spaces == 0 {
        return None;
    }
    i += spaces;
    let len = b[i..].iter().take_while(|&&c| !is_space(c)).count();
    if len == 0 {
        return None;
    }
    Some(&line[i..i + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the crate's regex takes as the value.
    fn crate_value(line: &str) -> Option<&str> {
        match LineInfo::parse(line) {
            LineInfo::Sample { value, .. } => Some(value),
            _ => None,
        }
    }

    #[test]
    fn reads_every_line_as_the_crate_does() {
        let lines = [
            "foo 1",
            "foo 2 1543182234",
            "foo wtf -1",
            "foo{bar=\"baz\"} 2",
            "foo{bar=\"baz\",q=\"x\"} 2 1543182234 trailing words",
            "foo{} 1",
            "foo{bar=\"baz\" 1",
            "foo{a=\"b\"}1",
            "foo{a=\"b\"}  \t 3.5e-3",
            "foo\u{b}7",
            "foo\u{c}7",
            "foo\u{1c}7",
            "foo 1\u{1c}",
            "foo=2",
            "foo",
            "foo ",
            "{a=\"b\"} 1",
            " foo 1 ",
            "foo:bar 1",
            "foo-bar 1",
            "_ 1",
            "9lives NaN",
            "foo +Inf",
            "# HELP foo some text",
            "# TYPE foo gauge",
            "#foo 1",
            "",
            "   ",
            "foo{a=\"}\"} 1",
            "foo{a=\"b\"}{c=\"d\"} 1",
            "foo\t1",
            "foo\r\n",
            // Non-ASCII: the crate's own reading (Unicode `\w` and `\s`).
            "größe 1",
            "foo\u{a0}1",
            "foo\u{2003}1",
            "foo{a=\"é\"} 1",
            "foo 1\u{2003}2",
            "µs 4",
        ];
        for line in lines {
            assert_eq!(sample_value(line), crate_value(line), "{line:?}");
        }
        // Every short line over a small alphabet of the grammar's characters.
        let alphabet = [
            b'a', b'_', b'1', b'{', b'}', b' ', b'\t', b'=', b'"', b'#', b'.',
        ];
        let mut line = Vec::new();
        for n in 0..=5u32 {
            for mut k in 0..alphabet.len().pow(n) {
                line.clear();
                for _ in 0..n {
                    line.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                let text = std::str::from_utf8(&line).unwrap();
                assert_eq!(sample_value(text), crate_value(text), "{text:?}");
            }
        }
    }
}
