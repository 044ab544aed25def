//! The masked forms of the tokens that vary on almost every line, decided in one short pass
//! over the token instead of the full classification ([`super::whole_core`], then
//! [`super::mask_runs`] and [`crate::variable_form::collapse`] in a buffer), which reads such
//! a token four or five times. Each form is the one the full path gives (a randomised test
//! compares the two, near misses included); a token that only looks like one is left to the
//! full path.

use super::{
    is_close, is_unix_path, is_variable_word, uuid_at, ALPHA, COLON, DIGIT, HIGH, OTHER, QUOTE,
};
use crate::variable_form::VariableForm;

/// What masking makes of a token, when [`frequent`] can tell without classifying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Frequent {
    /// The token stays as it is.
    Kept,
    /// `token[..open]`, `<*>`, `token[close..]`.
    Masked { open: usize, close: usize },
}

/// The masked form of a token (not a blob, neither a plain word nor digits alone, see
/// `mask_shaped`) whose shape (the union of its bytes' classes) is `shape`, in the given form,
/// when it is one of the frequent variable forms:
///
/// - letters and digits (`alice42`, a user's name with a counter in an authentication log; a
///   16-digit hex id, `9f3a0c…`, in a tracing service's): `<*>`, but for a device's name
///   (`eth0`, see `is_device_name`);
/// - a UUID alone (a request's id in a web application's log, a block's in a storage node's):
///   `<*>`;
/// - `key=value` with a value that is a variable as a whole (see [`pair`]): `key=<*>`;
/// - a program's name and its process id, `sshd[4242]:` (syslog's tag), `CRON[77]`:
///   `sshd[<*>]:`;
/// - in the whole-token form, runs of letters and digits joined by `:`, each with a digit
///   (`SHA256:Xb3…`, a key's fingerprint in an SSH daemon's log; `r3:c12`, a rack and a
///   chassis in a cluster's): `<*>`, one variable.
pub(super) fn frequent(b: &[u8], shape: u8, form: VariableForm) -> Option<Frequent> {
    let whole = Some(Frequent::Masked {
        open: 0,
        close: b.len(),
    });
    if shape == ALPHA | DIGIT {
        // Letters and digits are one run, masked whole (as a hex id or a number if the core
        // classifies as one) unless it is a device's name: lower-case letters and one digit,
        // not all of them hex digits when there are eight or more (then a hex id).
        let letters = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
        let device = letters > 0
            && letters + 1 == b.len()
            && !(b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit));
        return if device { Some(Frequent::Kept) } else { whole };
    }
    // Quotes open values over several tokens, and non-ASCII bytes make words: the full path.
    if shape & OTHER == 0 || shape & (HIGH | QUOTE) != 0 {
        return None;
    }
    let c0 = b[0];
    if c0.is_ascii_lowercase() && shape & COLON == 0 {
        if let Some(masked) = pair(b, form) {
            return Some(masked);
        }
    }
    // Letters, digits and punctuation, perhaps a colon (`sshd[4242]:`).
    if shape & !COLON == ALPHA | DIGIT | OTHER {
        if shape & COLON == 0 && b.len() == 36 && uuid_at(b, 0) {
            return whole;
        }
        if c0.is_ascii_alphabetic() {
            if let Some(masked) = tagged_pid(b) {
                return Some(masked);
            }
        }
        if shape & COLON != 0 && form == VariableForm::Token && colon_runs(b) {
            return whole;
        }
    }
    None
}

/// Where the value starts (after `=`) when `b` starts with a key of lower-case words joined by
/// `_`, none of them a value word (`true`): masking keeps such a key as it is.
pub(super) fn pair_key(b: &[u8]) -> Option<usize> {
    let eq = b
        .iter()
        .position(|&c| !(c.is_ascii_lowercase() || c == b'_'))?;
    let key_ok = eq > 0 && b[eq] == b'=' && !b[..eq].split(|&c| c == b'_').any(is_variable_word);
    key_ok.then_some(eq + 1)
}

/// Digits joined by single dots, a digit first and last (`53354`, `96.14`, `1.2.3`): a
/// value whose digit runs are masked and joined into one variable in the whole-token form.
pub(super) fn is_dotted_number(v: &[u8]) -> bool {
    v.first().is_some_and(u8::is_ascii_digit)
        && v.last().is_some_and(u8::is_ascii_digit)
        && v.iter().all(|&c| c.is_ascii_digit() || c == b'.')
        && !v.windows(2).any(|w| w == b"..")
}

/// `key=value` (see [`pair_key`]) whose value, to the token's end, is one variable: letters
/// and digits with a digit (`user=alice42`, `trace=9f3a0c…`: one run, masked), a UUID
/// (`id=<uuid>`), an absolute path (`path=/var/data/x.json`: a name, see `value_at`), or, in
/// the whole-token form, a number (`rows=53354`, `total=96.14`, `ver=1.2.3`: its runs joined).
/// The token has no colon (no URL, no `"key":value`), quote or non-ASCII byte.
fn pair(b: &[u8], form: VariableForm) -> Option<Frequent> {
    let from = pair_key(b)?;
    let v = &b[from..];
    let masked = Some(Frequent::Masked {
        open: from,
        close: b.len(),
    });
    if let [b'/', .., last] | [last @ b'/'] = v {
        // As `value_at` takes it: no `,` or `;` ends it early, no punctuation is stripped from
        // its end, and, without a colon, a path is a Unix path.
        let path = !is_close(*last) && !v.iter().any(|&c| matches!(c, b',' | b';'));
        return (path && is_unix_path(v)).then_some(Frequent::Masked {
            open: from,
            close: b.len(),
        });
    }
    // Letters and digits to the end (most such values stop at their first byte that is not).
    if !v.iter().any(|c| !c.is_ascii_alphanumeric()) {
        return v
            .iter()
            .any(u8::is_ascii_digit)
            .then_some(Frequent::Masked {
                open: from,
                close: b.len(),
            });
    }
    if v.len() == 36 && uuid_at(v, 0) {
        return masked;
    }
    if form == VariableForm::Token && is_dotted_number(v) {
        return masked;
    }
    None
}

/// A program's name and its process id, `sshd[4242]` with `:`, `,`, `;` or `.` after it (the
/// tag of a syslog line, `CRON[77]:`, `kube-proxy[12]:`): the name is letters, `-` and `_`,
/// none of its words a value word, and the id digits.
fn tagged_pid(b: &[u8]) -> Option<Frequent> {
    let open = b
        .iter()
        .position(|&c| !(c.is_ascii_alphabetic() || matches!(c, b'-' | b'_')))?;
    if b[open] != b'[' {
        return None;
    }
    let digits = b[open + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let close = open + 1 + digits;
    let tail_ok = digits > 0
        && b.get(close) == Some(&b']')
        && b[close + 1..]
            .iter()
            .all(|c| matches!(c, b':' | b',' | b';' | b'.'));
    let name_ok = !b[..open]
        .split(|&c| matches!(c, b'-' | b'_'))
        .any(is_variable_word);
    (tail_ok && name_ok).then_some(Frequent::Masked {
        open: open + 1,
        close,
    })
}

/// Runs of ASCII letters and digits joined by single colons, each run with a digit: every run
/// is masked, and the whole-token form joins them over their colons into one `<*>` (so does
/// the classification, when the token is a host and port or an IPv6 address).
fn colon_runs(b: &[u8]) -> bool {
    let mut digit = false;
    for &c in b {
        if c == b':' {
            if !digit {
                return false; // a run without a digit, or an empty one
            }
            digit = false;
        } else if c.is_ascii_digit() {
            digit = true;
        } else if !c.is_ascii_alphabetic() {
            return false;
        }
    }
    digit
}

#[cfg(test)]
mod tests {
    use super::super::{collapse, mask_parts, mask_shaped, Shape};
    use super::*;

    const UUID: &str = "38101a0b-2096-447d-96ea-a692162415ae";

    /// What the full path makes of `token` in `form`: the finer form of `mask_parts`, collapsed
    /// for the whole-token form.
    fn full(token: &str, form: VariableForm) -> String {
        let mut fine = String::new();
        if !mask_parts(token, Shape::of(token.as_bytes()), &mut fine) {
            return token.to_string();
        }
        match form {
            VariableForm::Parts => fine,
            VariableForm::Token => {
                let mut whole = String::new();
                collapse(&fine, |x| whole.push_str(x));
                whole
            }
        }
    }

    /// The frequent form of `token`, as text, if it has one.
    fn quick(token: &str, form: VariableForm) -> Option<String> {
        let b = token.as_bytes();
        Some(match frequent(b, Shape::of(b).0, form)? {
            Frequent::Kept => token.to_string(),
            Frequent::Masked { open, close } => {
                format!("{}<*>{}", &token[..open], &token[close..])
            }
        })
    }

    /// Tokens drawn from the grammar of each frequent form, then mutated (a part replaced by a
    /// near miss, or one inserted): wherever a token gets a frequent form, it is what the full
    /// path gives, in both forms, and `mask_shaped` agrees with the full path on every token.
    #[test]
    fn the_frequent_forms_agree_with_the_full_path() {
        const ALNUM: &[&str] = &["a", "eth", "deadbee", "F", "0", "7", "42", "abcdef", "z"];
        const KEYS: &[&str] = &[
            "id", "max_rows", "true", "x_false", "Key", "a_", "_k", "", "j",
        ];
        const EQ: &[&str] = &["=", "=", "=", "==", ":", "\"=", ""];
        const VALUES: &[&str] = &[
            UUID,
            "alice42",
            "alice",
            "53354",
            "96.14",
            "1..2",
            "1.",
            "/var/data/x.json",
            "/var/log.",
            "/var/",
            "//x",
            "/a,b",
            "/a<b",
            "/a:b",
            "null",
            "00-11-22-33-44-55",
            "0011.2233.4455",
            "abcdefab-abcd-abcd-abcd-abcdefabcdef",
            "\"x1\"",
            "",
        ];
        const NAMES: &[&str] = &[
            "sshd",
            "CRON",
            "kube-proxy",
            "Jul",
            "a_b",
            "x1",
            "",
            "-",
            "e",
        ];
        const PIDS: &[&str] = &["57085", "1", "", "1a", "0x1"];
        const TAILS: &[&str] = &["", ":", ",", "::", ":x", "\"", ".", ";", "]", ")"];
        const RUNS: &[&str] = &["SHA256", "bd4755", "abc", "12", "", "x1", "fe80", "1"];
        const PIECES: &[&str] = &[
            "a", "Q", "_", "-", "=", "[", "]", ":", ",", ";", ".", "/", "\\", "(", ")", "{", "}",
            "<", ">", "\"", "'", "@", "#", "%", "\u{e9}", "0", "7", "true", "Jul", "null", "com",
            "x.com", "10.0.0.1", "ms", "::", "://", UUID,
        ];
        fn pick(next: &mut impl FnMut() -> u64, from: &[&'static str]) -> &'static str {
            from[(next() % from.len() as u64) as usize]
        }
        let mut next = crate::test_rng::xorshift(0x5851_f42d_4c95_7f2d_u64);
        let (mut taken, mut left) = (0, 0);
        for _ in 0..200_000 {
            let mut parts: Vec<&str> =
                match pick(&mut next, &["alnum", "pair", "pid", "runs", "uuid"]) {
                    "alnum" => (0..3).map(|_| pick(&mut next, ALNUM)).collect(),
                    "pair" => vec![
                        pick(&mut next, KEYS),
                        pick(&mut next, EQ),
                        pick(&mut next, VALUES),
                    ],
                    "pid" => vec![
                        pick(&mut next, NAMES),
                        "[",
                        pick(&mut next, PIDS),
                        "]",
                        pick(&mut next, TAILS),
                    ],
                    "runs" => vec![
                        pick(&mut next, RUNS),
                        ":",
                        pick(&mut next, RUNS),
                        pick(&mut next, &[":", "", "::", "."]),
                        pick(&mut next, RUNS),
                    ],
                    _ => vec![
                        pick(&mut next, &["", "(", "x", "\""]),
                        UUID,
                        pick(&mut next, &["", ")", ",", "0"]),
                    ],
                };
            match pick(&mut next, &["keep", "keep", "replace", "insert"]) {
                "replace" => {
                    let k = (next() % parts.len() as u64) as usize;
                    parts[k] = pick(&mut next, PIECES);
                }
                "insert" => {
                    let k = (next() % (parts.len() as u64 + 1)) as usize;
                    parts.insert(k, pick(&mut next, PIECES));
                }
                _ => {}
            }
            let token = parts.concat();
            let shape = Shape::of(token.as_bytes());
            if token.is_empty()
                || token.len() > crate::masking::MAX_TOKEN_BYTES
                || shape.0 == ALPHA
                || shape.0 == DIGIT
            {
                continue; // settled before the frequent forms
            }
            for form in [VariableForm::Token, VariableForm::Parts] {
                let want = full(&token, form);
                if let Some(got) = quick(&token, form) {
                    taken += 1;
                    assert_eq!(got, want, "{token:?} {form:?}");
                } else {
                    left += 1;
                }
                let mut got = String::new();
                if !mask_shaped(&token, shape, form, &mut got) {
                    got.push_str(&token);
                }
                assert_eq!(got, want, "{token:?} {form:?}: mask_shaped");
            }
        }
        // Both kinds of token were drawn often enough to mean something.
        assert!(
            taken > 50_000 && left > 50_000,
            "{taken} taken, {left} left"
        );
    }

    /// Each frequent form is taken on the tokens it names, and not on their near misses.
    #[test]
    fn the_frequent_forms_are_taken_where_they_apply() {
        let t = VariableForm::Token;
        let masked = |s: &str| Some(s.to_string());
        for (token, want) in [
            ("alice42", masked("<*>")),
            ("681d06bd2aa399da", masked("<*>")),
            ("eth0", masked("eth0")),
            ("deadbee1", masked("<*>")), // a hex id, though named like a device
            (UUID, masked("<*>")),
            ("id=38101a0b-2096-447d-96ea-a692162415ae", masked("id=<*>")),
            ("user=alice42", masked("user=<*>")),
            ("max_rows=53354", masked("max_rows=<*>")),
            ("total=96.14", masked("total=<*>")),
            ("path=/var/data/git/46dc59c0.json", masked("path=<*>")),
            ("sshd[57085]:", masked("sshd[<*>]:")),
            ("kube-proxy[12]", masked("kube-proxy[<*>]")),
            ("SHA256:bd4755d05ad7853c1f76eb", masked("<*>")),
            // Near misses: left to the full path.
            ("user=alice", None),
            ("true=1", None),
            ("Key=1", None),
            ("id=38101a0b-2096-447d-96ea-a692162415ae,", None),
            ("path=/var/log.", None),
            ("path=/var/log,x", None),
            ("path=//x", None),
            ("total=1..2", None),
            ("sshd[57085]x", None),
            ("sshd[]:", None),
            ("Jul[12]:", None),
            ("sshd[12]:\"", None),
            ("SHA:bd4755d0", None),
            ("a1::b2", None),
            ("a1:b2:", None),
            ("(38101a0b-2096-447d-96ea-a692162415ae)", None),
            ("\u{e9}t\u{e9}42", None),
        ] {
            assert_eq!(quick(token, t), want, "{token}");
            if want.is_some() {
                assert_eq!(full(token, t), want.unwrap_or_default(), "{token}: full");
            }
        }
        // The finer form keeps the parts of a number and of joined runs.
        let p = VariableForm::Parts;
        assert_eq!(quick("total=96.14", p), None);
        assert_eq!(quick("SHA256:bd4755d0", p), None);
        assert_eq!(quick("sshd[57085]:", p), masked("sshd[<*>]:"));
    }
}
