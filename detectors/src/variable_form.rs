//! How much of a token a variable takes: the whole token (the default) or only its varying
//! parts.
//!
//! Masking finds the parts of a token that vary (`blk_<*>`, `appattempt_<*>_<*>_<*>`,
//! `worker-<*>`). Loghub-2.0's corrected ground truth, following the accuracy guidelines of Khan
//! et al. (ICSE 2022), treats a token glued to a variable as one variable (`<*>`), while a
//! variable set off by punctuation keeps its constant neighbours (`uid=<*>`, `[worker-<*>]`,
//! `<*>.dll`). [`collapse`] applies those rules to one masked token, so that the miner's
//! templates read like that ground truth; [`VariableForm::Parts`] keeps the finer form for users
//! who want to see the constant part of an id.

/// The parameter marker (`masking::PARAM`; this file imports nothing of masking, which uses it).
const PARAM: &str = "<*>";

/// How much of a token a variable takes; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VariableForm {
    /// A variable is the whole run of characters between delimiters (white space and
    /// `, ! ; : = | " ' [ ] ( ) { } . - + @ # $ % &`) that holds it: `blk_<*>` → `<*>`, while
    /// `uid=<*>` and `worker-<*>` stay. Adjacent variables joined by `.`, `:`, `#`, `/` or `@`
    /// are one (`<*>.<*>` → `<*>`: versions, host:port), and a variable alone in quotes or
    /// after `#` is bare (`"<*>"` → `<*>`).
    #[default]
    Token,
    /// Only the varying parts: `blk_<*>`, `appattempt_<*>_<*>_<*>`.
    Parts,
}

/// A masked token is at most 3 times its input (every masked byte becomes `<*>`), and tokens
/// longer than `masking::MAX_TOKEN_BYTES` (128) are masked whole; masking checks the bound.
pub(crate) const MAX_MASKED: usize = 3 * 128 + 8;

/// The delimiters of Loghub-2.0's template normalisation: a variable spreads over the run of
/// other characters around it.
const fn is_delimiter(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b',' | b'!'
                | b';'
                | b':'
                | b'='
                | b'|'
                | b'"'
                | b'\''
                | b'['
                | b']'
                | b'('
                | b')'
                | b'{'
                | b'}'
                | b'.'
                | b'-'
                | b'+'
                | b'@'
                | b'#'
                | b'$'
                | b'%'
                | b'&'
        )
}

/// [`is_delimiter`] of every byte.
static DELIMITER: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = is_delimiter(i as u8);
        i += 1;
    }
    t
};

/// Classes of a run's bytes (a run has no delimiter): its union tells digits only, and whether
/// it can hold a `<*>` (a `<`) that stays apart from path segments (a `/`).
const R_DIGIT: u8 = 1;
const R_OPEN: u8 = 2;
const R_SLASH: u8 = 4;
const R_OTHER: u8 = 8;

static RUN_CLASS: [u8; 256] = {
    let mut t = [R_OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if c.is_ascii_digit() {
            t[i] = R_DIGIT;
        } else if c == b'<' {
            t[i] = R_OPEN | R_OTHER;
        } else if c == b'/' {
            t[i] = R_SLASH | R_OTHER;
        }
        i += 1;
    }
    t
};

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

/// The whole-token form of a masked token (see [`VariableForm::Token`]), handed to `out`.
/// Idempotent: a template's token collapses to itself, so saved templates of the finer form
/// can be brought to this one.
pub(crate) fn collapse(masked: &str, out: impl FnOnce(&str)) {
    // The first pass writes at most 3 bytes per input byte (a one-byte run becomes `<*>`): most
    // tokens are short, and a short buffer costs a few stores to clear where the longest costs
    // a call to memset for every token.
    if 3 * masked.len() <= SHORT_MASKED {
        collapse_in::<SHORT_MASKED>(masked, out);
    } else {
        collapse_in::<MAX_MASKED>(masked, out);
    }
}

/// A short buffer: room for 32 bytes at 3 bytes each (a masked token of a token of up to 32
/// bytes, a collapsed token of a masked one of up to 32).
pub(crate) const SHORT_MASKED: usize = 96;

/// [`collapse`] in a buffer of `N` bytes.
fn collapse_in<const N: usize>(masked: &str, out: impl FnOnce(&str)) {
    let m = masked.as_bytes();
    let mut buf = [0u8; N];
    let mut n = 0;
    let put = |buf: &mut [u8; N], n: &mut usize, s: &[u8]| {
        let k = s.len().min(N - *n);
        buf[*n..*n + k].copy_from_slice(&s[..k]);
        *n += k;
    };
    // Most tokens come out as they went in (`uid=<*>`, `path=<*>`): while nothing has changed
    // (and the token fits the buffer, so nothing can be cut), nothing is copied, and the token
    // itself is handed on, with no check of its UTF-8.
    let mut same = m.len() <= N;
    // A run between delimiters that holds a variable (and no `/`: path segments stay apart),
    // or only digits, is one variable.
    // The runs' bytes are classed on the way (one table lookup each), and `<` counted: with
    // fewer than two `<*>` the second pass has nothing to join.
    let mut opens = 0;
    let mut i = 0;
    while i < m.len() {
        if DELIMITER[usize::from(m[i])] {
            if !same && n < N {
                buf[n] = m[i];
                n += 1;
            }
            i += 1;
            continue;
        }
        let s = i;
        let mut seen = 0;
        while i < m.len() && !DELIMITER[usize::from(m[i])] {
            seen |= RUN_CLASS[usize::from(m[i])];
            i += 1;
        }
        let run = &m[s..i];
        let variable = seen == R_DIGIT
            || (seen & R_OPEN != 0 && seen & R_SLASH == 0 && contains(run, PARAM.as_bytes()));
        if variable {
            if same && run != PARAM.as_bytes() {
                // The first change: what came before is the token's own.
                same = false;
                buf[..s].copy_from_slice(&m[..s]);
                n = s;
            }
            if !same {
                put(&mut buf, &mut n, PARAM.as_bytes());
            }
            opens += 1;
        } else {
            if !same {
                // Most runs are a few bytes: a byte loop costs less than a call to copy them.
                for &c in run {
                    if n == N {
                        break;
                    }
                    buf[n] = c;
                    n += 1;
                }
            }
            if seen & R_OPEN != 0 {
                opens += run.iter().filter(|&&c| c == b'<').count();
            }
        }
    }
    if same {
        if opens < 2 {
            return match finish_bare(m) {
                Some(bare) => out(bare),
                None => out(masked),
            };
        }
        buf[..m.len()].copy_from_slice(m);
        n = m.len();
    }
    if opens < 2 {
        return finish(&buf[..n], out);
    }
    let w = join_variables(&mut buf, n);
    finish(&buf[..w], out);
}

/// `<*>` if the collapsed token `t` is a variable alone in quotes or after `#`.
fn finish_bare(t: &[u8]) -> Option<&'static str> {
    matches!(t, b"#<*>#" | b"#<*>" | b"\"<*>\"" | b"'<*>'").then_some(PARAM)
}

/// The collapsed token `t` to `out`: bare when a variable stands alone in quotes or after `#`.
fn finish(t: &[u8], out: impl FnOnce(&str)) {
    let t = finish_bare(t).map_or(t, str::as_bytes);
    // Only ASCII delimiters and `<*>` were inserted around unchanged runs of a valid string.
    match std::str::from_utf8(t) {
        Ok(s) => out(s),
        Err(_) => out(PARAM),
    }
}

/// Variables joined by a separator of compound values are one: `<*>.<*>` (versions),
/// `<*>:<*>` (host:port, times), `<*>/<*>`, `<*>@<*>`, `<*>#<*>`, `<*><*>`. One pass over
/// `buf[..n]` in place: each `<*>` absorbs the `<*>`s that follow it, with or without a
/// separator. Returns the new length.
fn join_variables(buf: &mut [u8], n: usize) -> usize {
    let (mut r, mut w) = (0, 0);
    let p = PARAM.as_bytes();
    while r < n {
        if !buf[r..n].starts_with(p) {
            buf[w] = buf[r];
            (r, w) = (r + 1, w + 1);
            continue;
        }
        buf.copy_within(r..r + 3, w);
        (r, w) = (r + 3, w + 3);
        loop {
            if buf[r..n].starts_with(p) {
                r += 3;
            } else if r < n
                && matches!(buf[r], b'.' | b':' | b'#' | b'/' | b'@')
                && buf[r + 1..n].starts_with(p)
            {
                r += 4;
            } else {
                break;
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(masked: &str) -> String {
        let mut s = String::new();
        collapse(masked, |t| s.push_str(t));
        s
    }

    #[test]
    fn a_token_glued_to_a_variable_is_one_variable() {
        assert_eq!(c("blk_<*>"), "<*>");
        assert_eq!(c("appattempt_<*>_<*>_<*>"), "<*>");
        assert_eq!(c("rdd_<*>"), "<*>");
        assert_eq!(c("v<*>"), "<*>");
    }

    #[test]
    fn punctuation_keeps_constant_neighbours() {
        assert_eq!(c("uid=<*>"), "uid=<*>");
        assert_eq!(c("[worker-<*>]"), "[worker-<*>]");
        assert_eq!(c("<*>.dll"), "<*>.dll");
        assert_eq!(c("size:<*>"), "size:<*>");
        assert_eq!(c("(<*>)"), "(<*>)");
        assert_eq!(c("word"), "word");
        assert_eq!(c("a/b<*>"), "a/b<*>");
    }

    #[test]
    fn compound_variables_are_one() {
        assert_eq!(c("<*>.<*>.<*>"), "<*>");
        assert_eq!(c("<*>:<*>"), "<*>");
        assert_eq!(c("<*>@<*>/<*>"), "<*>");
        assert_eq!(c("<*><*>"), "<*>");
        assert_eq!(c("HTTP/<*>.<*>\""), "HTTP/<*>\"");
        assert_eq!(c("(<*>:<*>)"), "(<*>)");
        assert_eq!(c("<*>-<*>"), "<*>-<*>");
    }

    #[test]
    fn quoted_or_numbered_variables_are_bare() {
        assert_eq!(c("\"<*>\""), "<*>");
        assert_eq!(c("'<*>'"), "<*>");
        assert_eq!(c("#<*>"), "<*>");
        assert_eq!(c("'<*>',"), "'<*>',");
    }

    /// The first version of `collapse_in`: two plain passes, the second always.
    fn collapse_reference<const N: usize>(masked: &str, out: impl FnOnce(&str)) {
        let m = masked.as_bytes();
        let mut buf = [0u8; N];
        let mut n = 0;
        let put = |buf: &mut [u8; N], n: &mut usize, s: &[u8]| {
            let k = s.len().min(N - *n);
            buf[*n..*n + k].copy_from_slice(&s[..k]);
            *n += k;
        };
        // A run between delimiters that holds a variable (and no `/`: path segments stay apart),
        // or only digits, is one variable.
        let mut i = 0;
        while i < m.len() {
            if is_delimiter(m[i]) {
                put(&mut buf, &mut n, &m[i..i + 1]);
                i += 1;
                continue;
            }
            let s = i;
            while i < m.len() && !is_delimiter(m[i]) {
                i += 1;
            }
            let run = &m[s..i];
            let variable = run.iter().all(u8::is_ascii_digit)
                || (contains(run, PARAM.as_bytes()) && !run.contains(&b'/'));
            put(
                &mut buf,
                &mut n,
                if variable { PARAM.as_bytes() } else { run },
            );
        }
        let w = join_variables(&mut buf, n);
        let t = &buf[..w];
        let bare = matches!(t, b"#<*>#" | b"#<*>" | b"\"<*>\"" | b"'<*>'");
        let t = if bare { PARAM.as_bytes() } else { t };
        // Only ASCII delimiters and `<*>` were inserted around unchanged runs of a valid string.
        match std::str::from_utf8(t) {
            Ok(s) => out(s),
            Err(_) => out(PARAM),
        }
    }

    #[test]
    fn collapsing_agrees_with_the_plain_two_passes() {
        const PIECES: &[&str] = &[
            "<*>", "<", "*", ">", "a", "Z", "0", "42", ".", ":", "#", "/", "@", "-", "_", "=",
            "\"", "'", "(", ")", "ü", " ", "x/", "<*>.<*>",
        ];
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        for _ in 0..100_000 {
            let n = 1 + next() % 12;
            let t: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let (mut fast, mut short, mut long) = (String::new(), String::new(), String::new());
            collapse(&t, |x| fast.push_str(x));
            if 3 * t.len() <= SHORT_MASKED {
                collapse_reference::<SHORT_MASKED>(&t, |x| short.push_str(x));
                assert_eq!(fast, short, "{t:?}");
            }
            // The long buffer, and a buffer too small for the token: truncated alike.
            collapse_reference::<MAX_MASKED>(&t, |x| long.push_str(x));
            let mut ours = String::new();
            collapse_in::<MAX_MASKED>(&t, |x| ours.push_str(x));
            assert_eq!(ours, long, "{t:?}");
            let (mut small, mut small_ref) = (String::new(), String::new());
            collapse_in::<8>(&t, |x| small.push_str(x));
            collapse_reference::<8>(&t, |x| small_ref.push_str(x));
            assert_eq!(small, small_ref, "{t:?}");
        }
    }

    #[test]
    fn tokens_that_come_out_as_they_went_in_and_near_misses() {
        // Unchanged: handed on as they are; a change after an unchanged start (a run of digits,
        // a glued variable, `<*>` joined to the next) copies that start first.
        let cases = [
            ("uid=<*>", "uid=<*>"),
            ("word", "word"),
            ("a<b=<*>", "a<b=<*>"),
            ("ü=<*>", "ü=<*>"),
            ("uid=<*>,12", "uid=<*>,<*>"),
            ("uid=<*>,x<*>", "uid=<*>,<*>"),
            ("total=<*>.<*>", "total=<*>"),
            ("<*>:<*>", "<*>"),
            ("#<*>", "<*>"),
            ("'<*>'", "<*>"),
            ("'<*>',", "'<*>',"),
            ("12", "<*>"),
        ];
        for (masked, want) in cases {
            assert_eq!(c(masked), want, "{masked}");
            let mut reference = String::new();
            collapse_reference::<SHORT_MASKED>(masked, |x| reference.push_str(x));
            assert_eq!(reference, want, "{masked}: the reference");
        }
        // A token longer than the buffer is cut as before, even when nothing would change.
        let long = format!("{}=<*>", "k".repeat(10));
        let (mut ours, mut reference) = (String::new(), String::new());
        collapse_in::<8>(&long, |x| ours.push_str(x));
        collapse_reference::<8>(&long, |x| reference.push_str(x));
        assert_eq!(ours, reference);
        assert_eq!(ours, "kkkkkkkk");
    }

    #[test]
    fn collapsing_is_idempotent() {
        for t in [
            "blk_<*>",
            "<*>.<*>:<*>",
            "\"<*>\"",
            "uid=<*>",
            "x_<*>-<*>.y",
        ] {
            let once = c(t);
            assert_eq!(c(&once), once, "{t}");
        }
    }
}
