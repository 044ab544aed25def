//! The frequent forms of a varying token (`frequent` in masking.rs) against the full path.

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
        "a", "Q", "_", "-", "=", "[", "]", ":", ",", ";", ".", "/", "\\", "(", ")", "{", "}", "<",
        ">", "\"", "'", "@", "#", "%", "\u{e9}", "0", "7", "true", "Jul", "null", "com", "x.com",
        "10.0.0.1", "ms", "::", "://", UUID,
    ];
    fn pick(next: &mut impl FnMut() -> u64, from: &[&'static str]) -> &'static str {
        from[(next() % from.len() as u64) as usize]
    }
    let mut next = crate::test_rng::xorshift(0x5851_f42d_4c95_7f2d_u64);
    let (mut taken, mut left) = (0, 0);
    for _ in 0..200_000 {
        let mut parts: Vec<&str> = match pick(&mut next, &["alnum", "pair", "pid", "runs", "uuid"])
        {
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
