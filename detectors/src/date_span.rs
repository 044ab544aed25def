//! Dates and times written over several tokens inside a message: one variable, not five.
//!
//! Masking looks at one token at a time, so `at Wed Jul 27 10:59:53 2005` would read
//! `at <*> <*> <*> <*> <*>`: five variables for one value (a moment), and a line whose date
//! has one token more or less (`Sep 27 22:15:07 EDT 2004`) would have another length and so
//! another template. [`date_end`] finds such a run where it starts, and the miner masks the
//! whole run as one `<*>` (as Loghub-2.0's corrected ground truth has it: `at <*>`). The forms,
//! each seen in unrelated logs:
//!
//! - ctime and syslog dates, `[Wed] Jul 27 [2005] 10:59:53 [EDT] [2005]`: an FTP server's
//!   `connection from … at Wed Jul 27 10:59:53 2005`, a kernel's `(Release Date: Mon Sep 27
//!   22:15:07 EDT 2004)`, a mail queue's `expires Jun 18 02:23:10`;
//! - RFC 2822 and HTTP dates, `[Wed,] 27 Jul 2005 [10:59:53] [+0000|GMT]`: a mail server's
//!   `Date:`, a web server's `Last-Modified`;
//! - ISO 8601 and SQL timestamps with a space, `2017-05-16 05:00:00[.123] [+00:00|UTC]`: a cloud
//!   controller's `usage audit from … to …`, a database's `checkpoint complete at …`;
//! - a clock time with its zone or half-day, `10:59:53 PM`, `22:15:07 UTC`: a backup tool's
//!   schedule, a Windows service's event text;
//! - the Common Log Format's `[27/Jul/2005:10:59:53 -0700]`, one token or two (any web server's
//!   access log).
//!
//! A run needs a month name with its day and a time or year, a date with a time, or a time with
//! a zone (the CLF date alone suffices): two numbers in a row or a lone month name are left to
//! per-token masking. Words are matched exactly (`Jul`, `July`, `Wed`, `PM`, `UTC`), numbers by
//! range (day 1..=31, year 1900..=2099). Only candidate first tokens (a capital letter or a digit
//! first, short) are looked at further, so a line without dates costs a byte test per token.

use crate::byte_scan::{digit_lanes, word_at};
use crate::header::{has_clock, time_shape};

/// What one token of a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Weekday,
    Month,
    /// 1 or 2 digits, 1..=31.
    Day,
    /// 4 digits, 1900..=2099.
    Year,
    /// A clock time, maybe with a date in the same token (`2024-05-01T10:00:00`).
    Time,
    /// A date without a time (`2017-05-16`, `05/16/2017`).
    Date,
    /// `UTC`, `GMT`, `Z`, `EDT`, `+0000`, `-07:00`.
    Zone,
    AmPm,
    /// The Common Log Format's `27/Jul/2005:10:59:53`.
    Clf,
}

/// Tokens looked at for one run: the longest form has six (`Wed Jul 27 10:59:53 EDT 2005`).
const MAX_RUN: usize = 7;

/// Leading characters a date may be wrapped in (only on its first token).
fn is_opener(c: u8) -> bool {
    matches!(c, b'(' | b'[' | b'{' | b'"' | b'\'' | b'<')
}

/// Trailing characters that end a date's last token; a `,` alone lets the run go on (`Jun 17,
/// 2005`, `Wed, 27 Jul`).
fn is_closer(c: u8) -> bool {
    matches!(
        c,
        b',' | b'.' | b';' | b':' | b')' | b']' | b'}' | b'"' | b'\'' | b'>' | b'!' | b'?'
    )
}

/// Whether a token can start a date: after any opening brackets, a month or weekday name (its
/// first three letters tell), a number of at most 2 digits (a day, `27,`), or a short token of
/// digits with `:`, `-` or `/` (a time, a date). Every token of a line is tested, so this is a
/// few byte tests.
#[inline(always)]
pub(crate) fn may_start(tok: &[u8]) -> bool {
    let Some(&first) = tok.first() else {
        return false;
    };
    if first.is_ascii_lowercase() {
        return false; // most tokens
    }
    let s = tok.iter().take_while(|&&c| is_opener(c)).count();
    let t = &tok[s..];
    match t.first() {
        Some(c) if c.is_ascii_uppercase() => t.len() >= 3 && t.len() <= 10 && names_month_or_day(t),
        Some(c) if c.is_ascii_digit() => {
            t.len() <= 2
                || (t.len() == 3 && t[2] == b',')
                || (t.len() <= 24 && t.iter().any(|&x| matches!(x, b':' | b'-' | b'/')))
        }
        _ => false,
    }
}

/// Whether `w` begins with an English month or weekday abbreviation (`Jan`, `sep`, `Monday`),
/// in any case: the first three bytes are compared, so the caller bounds the length.
pub(crate) fn names_month_or_day(w: &[u8]) -> bool {
    let [a, b, c, ..] = *w else {
        return false;
    };
    // `| 0x20` lower-cases ASCII letters and leaves digits as they are.
    matches!(
        &[a | 0x20, b | 0x20, c | 0x20],
        b"jan"
            | b"feb"
            | b"mar"
            | b"apr"
            | b"may"
            | b"jun"
            | b"jul"
            | b"aug"
            | b"sep"
            | b"oct"
            | b"nov"
            | b"dec"
            | b"mon"
            | b"tue"
            | b"wed"
            | b"thu"
            | b"fri"
            | b"sat"
            | b"sun"
    )
}

/// If a date of several tokens (or a CLF date) starts at the token `content[s..e]`: the end of
/// its last token, and the bounds of the variable inside the run: `(end, open, close)` where
/// `content[s..open]` are the first token's opening brackets and `content[close..end]` the last
/// token's trailing punctuation, both kept around the `<*>`.
#[inline(never)]
pub(crate) fn date_end(content: &str, s: usize, e: usize) -> Option<(usize, usize, usize)> {
    let b = content.as_bytes();
    if let Some(clf) = bracketed_clf(b, s, e) {
        return Some(clf);
    }
    date_general(b, s, e)
}

/// Whether the token after `b[..e]` can go on with a date or time that starts with a number:
/// it starts with a digit, a capital (a month, a zone), `+` or `-` (an offset). Without such a
/// next token, a token that starts with a digit is a date only as a CLF date, which holds a
/// slash and letters (see [`date_run`]): masking skips [`date_end`] at the others.
#[inline]
pub(crate) fn goes_on(b: &[u8], e: usize) -> bool {
    let next = b[e..].iter().find(|c| !c.is_ascii_whitespace());
    next.is_some_and(|&c| c.is_ascii_digit() || c.is_ascii_uppercase() || matches!(c, b'+' | b'-'))
}

/// [`date_end`] without its shortcut for the bracketed CLF date.
#[inline(never)]
fn date_general(b: &[u8], s: usize, e: usize) -> Option<(usize, usize, usize)> {
    let open = s + b[s..e].iter().take_while(|&&c| is_opener(c)).count();
    if b.get(open).is_some_and(u8::is_ascii_digit) {
        if let Some(clf) = clf_end(b, open, e) {
            return Some(clf);
        }
    }
    date_run(b, open, e)
}

/// [`date_end`] by its general loop over the tokens, `open` being where the first one's core
/// starts.
fn date_run(b: &[u8], open: usize, e: usize) -> Option<(usize, usize, usize)> {
    // A date or time first (most such tokens are numbers, addresses or versions) needs a next
    // token that can go on with it: a time, a month, a zone, a year. Only a CLF date stands
    // alone.
    if b.get(open).is_some_and(u8::is_ascii_digit) {
        let clf = b[open..e].contains(&b'/') && b[open..e].iter().any(u8::is_ascii_alphabetic);
        if !(goes_on(b, e) || clf) {
            return None;
        }
    }
    let mut pieces = [Piece::Day; MAX_RUN];
    let mut ends = [(0usize, 0usize); MAX_RUN]; // (token end, core end)
    let mut n = 0;
    let (mut ts, mut te) = (open, e);
    loop {
        // The core: no opener after the first token; trailing punctuation stripped.
        let ce = core_end(b, ts, te);
        let Some(p) = piece(&b[ts..ce]) else { break };
        pieces[n] = p;
        ends[n] = (te, ce);
        n += 1;
        let trailing = &b[ce..te];
        if n == MAX_RUN || !(trailing.is_empty() || trailing == b",") {
            break;
        }
        // The next token.
        let mut i = te;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        ts = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        te = i;
    }
    let used = accept(&pieces[..n]);
    if used == 0 {
        return None;
    }
    let (end, close) = ends[used - 1];
    Some((end, open, close))
}

/// [`date_end`] when the token `b[..e]`, whose core starts at `open`, is a CLF date (an access
/// log's `[27/Jul/2005:10:59:53`, on every line): the one piece that can follow it is its zone
/// (see [`accept`]), so the run is settled without the general loop. `None` for any other token.
fn clf_end(b: &[u8], open: usize, e: usize) -> Option<(usize, usize, usize)> {
    let ce = core_end(b, open, e);
    if !is_clf(&b[open..ce]) {
        return None;
    }
    let trailing = &b[ce..e];
    if !(trailing.is_empty() || trailing == b",") {
        return Some((e, open, ce));
    }
    let ts = e + b[e..]
        .iter()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    let te = ts
        + b[ts..]
            .iter()
            .take_while(|c| !c.is_ascii_whitespace())
            .count();
    let zone_end = core_end(b, ts, te);
    if ts < te && piece(&b[ts..zone_end]) == Some(Piece::Zone) {
        Some((te, open, zone_end))
    } else {
        Some((e, open, ce))
    }
}

/// [`bracketed_clf`] alone, for masking to ask first (not inlined into its term loop).
#[inline(never)]
pub(crate) fn clf_date(b: &[u8], s: usize, e: usize) -> Option<(usize, usize, usize)> {
    bracketed_clf(b, s, e)
}

/// [`clf_date`] of the token at `s`, before its end is known: the date's shape puts a space
/// 21 bytes on and none before it, so a token that fits ends there.
#[inline(never)]
pub(crate) fn clf_date_at(b: &[u8], s: usize) -> Option<(usize, usize, usize)> {
    bracketed_clf(b, s, s + 21)
}

/// The CLF date as access logs write it, `[27/Jul/2005:10:59:53 +0000]` (two of every such
/// line's tokens), told from its fixed shape in a few word tests: what [`clf_end`] yields for it.
/// `None` for anything else (another day's length, a zone name, two spaces, no zone), which
/// the general path then reads. Masking asks it first at such a token (see [`clf_date`]).
#[inline(always)]
fn bracketed_clf(b: &[u8], s: usize, e: usize) -> Option<(usize, usize, usize)> {
    if e != s + 21 {
        return None;
    }
    // The token and the zone after one space, ` +0000`, in four words.
    let t: &[u8; 27] = b.get(s..s + 27)?.try_into().ok()?;
    if !CLF_SHAPE.fits(t) || !t[4].is_ascii_uppercase() || !matches!(t[22], b'+' | b'-') {
        return None;
    }
    if month_or_day3(t[4], t[5], t[6]) != Some(Piece::Month) {
        return None;
    }
    // Then only closing punctuation to the token's end.
    let mut end = e + 6;
    while end < b.len() && is_closer(b[end]) {
        end += 1;
    }
    if end < b.len() && !b[end].is_ascii_whitespace() {
        return None;
    }
    Some((end, s + 1, e + 6))
}

/// A token of fixed length `N` whose bytes are given digits (`0`), given literal bytes, or any
/// byte (`?`), tested eight bytes at a time: a word at each of its offsets (they cover the
/// token, overlapping), each by a masked comparison of the literal bytes and the digit lanes
/// of [`digit_lanes`].
struct Shape<const N: usize, const W: usize> {
    offsets: [usize; W],
    /// Per word: the literal bits, their values, the top bits of the digits' lanes.
    words: [(u64, u64, u64); W],
}

/// `[27/Jul/2005:10:59:53 +0000`, the month's letters and the zone's sign tested apart.
const CLF_SHAPE: Shape<27, 4> = Shape::new(b"[00/???/0000:00:00:00 ?0000", [0, 8, 16, 19]);

impl<const N: usize, const W: usize> Shape<N, W> {
    const fn new(pattern: &[u8; N], offsets: [usize; W]) -> Self {
        let mut words = [(0, 0, 0); W];
        let mut w = 0;
        while w < W {
            let (mut mask, mut value, mut digits) = (0u64, 0u64, 0u64);
            let mut i = 0;
            while i < 8 {
                let shift = 8 * i;
                match pattern[offsets[w] + i] {
                    b'?' => {}
                    b'0' => digits |= 0x80 << shift,
                    c => {
                        mask |= 0xff << shift;
                        value |= (c as u64) << shift;
                    }
                }
                i += 1;
            }
            words[w] = (mask, value, digits);
            w += 1;
        }
        Shape { offsets, words }
    }

    #[inline(always)]
    fn fits(&self, t: &[u8; N]) -> bool {
        let mut ok = true;
        for (&at, &(mask, value, digits)) in self.offsets.iter().zip(&self.words) {
            let x = word_at(t, at);
            ok &= x & mask == value && digit_lanes(x) & digits == digits;
        }
        ok
    }
}

/// The end of the core of the token `b[ts..te]`: before its trailing punctuation.
fn core_end(b: &[u8], ts: usize, mut te: usize) -> usize {
    while te > ts && is_closer(b[te - 1]) {
        te -= 1;
    }
    te
}

/// The number of pieces that form the longest date at the start of `p`; 0 when none does.
fn accept(p: &[Piece]) -> usize {
    use Piece::*;
    let at = |i: usize| p.get(i).copied();
    let mut i = usize::from(at(0) == Some(Weekday));
    let used = match at(i) {
        Some(Month) => {
            if at(i + 1) != Some(Day) {
                return 0;
            }
            i += 2;
            let mut year = false;
            if at(i) == Some(Year) {
                i += 1;
                year = true;
            }
            if at(i) == Some(Time) {
                i += 1;
                if matches!(at(i), Some(AmPm)) {
                    i += 1;
                }
                if at(i) == Some(Zone) {
                    i += 1;
                }
                if !year && at(i) == Some(Year) {
                    i += 1;
                }
            } else if !year {
                return 0;
            }
            i
        }
        Some(Day) => {
            if at(i + 1) != Some(Month) || at(i + 2) != Some(Year) {
                return 0;
            }
            i += 3;
            if at(i) == Some(Time) {
                i += 1;
                if at(i) == Some(Zone) {
                    i += 1;
                }
            }
            i
        }
        Some(Date) => {
            if at(i + 1) != Some(Time) {
                return 0;
            }
            i += 2;
            if at(i) == Some(AmPm) {
                i += 1;
            }
            if at(i) == Some(Zone) {
                i += 1;
            }
            i
        }
        Some(Time) if i == 0 => {
            if !matches!(at(1), Some(Zone | AmPm)) {
                return 0;
            }
            i = 2;
            if at(i - 1) == Some(AmPm) && at(i) == Some(Zone) {
                i += 1;
            }
            i
        }
        Some(Clf) if i == 0 => 1 + usize::from(at(1) == Some(Zone)),
        _ => 0,
    };
    // A weekday with nothing after it is no date.
    if used < 2 && at(0) != Some(Clf) {
        0
    } else {
        used
    }
}

/// The piece a token's core is, if any.
fn piece(c: &[u8]) -> Option<Piece> {
    let first = *c.first()?;
    if first.is_ascii_alphabetic() {
        return word(c);
    }
    if matches!(first, b'+' | b'-') {
        return is_offset(c).then_some(Piece::Zone);
    }
    if !first.is_ascii_digit() {
        return None;
    }
    if c.iter().all(u8::is_ascii_digit) {
        let v = c.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
        return match c.len() {
            1 | 2 if (1..=31).contains(&v) => Some(Piece::Day),
            4 if (1900..=2099).contains(&v) => Some(Piece::Year),
            _ => None,
        };
    }
    if is_clf(c) {
        return Some(Piece::Clf);
    }
    // One pass for the three tests (time-ish, clock, date); time-ish bytes are ASCII.
    let shape = time_shape(c)?;
    if shape.clock {
        Some(Piece::Time)
    } else if shape.date {
        Some(Piece::Date)
    } else {
        None
    }
}

fn word(c: &[u8]) -> Option<Piece> {
    const MONTHS: [&[u8]; 12] = [
        b"january",
        b"february",
        b"march",
        b"april",
        b"may",
        b"june",
        b"july",
        b"august",
        b"september",
        b"october",
        b"november",
        b"december",
    ];
    const DAYS: [&[u8]; 7] = [
        b"monday",
        b"tuesday",
        b"wednesday",
        b"thursday",
        b"friday",
        b"saturday",
        b"sunday",
    ];
    // Names are capitalised (`Jul`, `July`) or upper case (`JUL`); zones and AM/PM upper case.
    // Empty between two slashes of a CLF-like token (`12//x`): no name.
    if c.is_empty()
        || c.len() > 9
        || !c[0].is_ascii_uppercase()
        || !c.iter().all(u8::is_ascii_alphabetic)
    {
        return None;
    }
    // Three letters, the most common length (`Jul`, `Wed`, `UTC`): one match on the lower-cased
    // bytes (ASCII letters: `| 0x20` lower-cases them) instead of the scans below.
    if let [a, b, c3] = *c {
        return month_or_day3(a, b, c3).or_else(|| is_zone_name(c).then_some(Piece::Zone));
    }
    let mut low = [0u8; 9];
    for (l, &x) in low.iter_mut().zip(c) {
        *l = x.to_ascii_lowercase();
    }
    let low = &low[..c.len()];
    let named = |names: &[&[u8]]| {
        names
            .iter()
            .any(|n| low == *n || (low.len() == 3 && n.starts_with(low)))
    };
    if named(&MONTHS) {
        return Some(Piece::Month);
    }
    if named(&DAYS) {
        return Some(Piece::Weekday);
    }
    if c == b"AM" || c == b"PM" {
        return Some(Piece::AmPm);
    }
    is_zone_name(c).then_some(Piece::Zone)
}

/// The month or weekday that three ASCII letters name, in any case (`Jul`, `WED`). The letters
/// lower-cased (`| 0x20`) are packed into one word, which a `match` on constants tests in a few
/// comparisons.
fn month_or_day3(a: u8, b: u8, c: u8) -> Option<Piece> {
    const fn w(s: &[u8; 3]) -> u32 {
        u32::from_le_bytes([s[0], s[1], s[2], 0])
    }
    const JAN: u32 = w(b"jan");
    const FEB: u32 = w(b"feb");
    const MAR: u32 = w(b"mar");
    const APR: u32 = w(b"apr");
    const MAY: u32 = w(b"may");
    const JUN: u32 = w(b"jun");
    const JUL: u32 = w(b"jul");
    const AUG: u32 = w(b"aug");
    const SEP: u32 = w(b"sep");
    const OCT: u32 = w(b"oct");
    const NOV: u32 = w(b"nov");
    const DEC: u32 = w(b"dec");
    const MON: u32 = w(b"mon");
    const TUE: u32 = w(b"tue");
    const WED: u32 = w(b"wed");
    const THU: u32 = w(b"thu");
    const FRI: u32 = w(b"fri");
    const SAT: u32 = w(b"sat");
    const SUN: u32 = w(b"sun");
    match w(&[a | 0x20, b | 0x20, c | 0x20]) {
        JAN | FEB | MAR | APR | MAY | JUN | JUL | AUG | SEP | OCT | NOV | DEC => Some(Piece::Month),
        MON | TUE | WED | THU | FRI | SAT | SUN => Some(Piece::Weekday),
        _ => None,
    }
}

/// Time-zone abbreviations that follow a clock time (`22:15:07 EDT`): a list, so that a method
/// or a word after a time (`GET`, `NOT`) is not taken for one.
fn is_zone_name(c: &[u8]) -> bool {
    const ZONES: [&[u8]; 27] = [
        b"UTC", b"GMT", b"Z", b"EST", b"EDT", b"CST", b"CDT", b"MST", b"MDT", b"PST", b"PDT",
        b"AKST", b"HST", b"CET", b"CEST", b"EET", b"EEST", b"WET", b"WEST", b"BST", b"IST", b"JST",
        b"KST", b"HKT", b"SGT", b"AEST", b"MSK",
    ];
    ZONES.contains(&c)
}

/// `+0000`, `-0700`, `+05:30`.
fn is_offset(c: &[u8]) -> bool {
    let d = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    match c.len() {
        5 => d(&c[1..]),
        6 => c[3] == b':' && d(&c[1..3]) && d(&c[4..]),
        _ => false,
    }
}

/// `27/Jul/2005:10:59:53`: day, month name, year, clock time.
fn is_clf(c: &[u8]) -> bool {
    // The day: one or two digits, then the first `/`.
    let day = c.iter().take_while(|x| x.is_ascii_digit()).count();
    if !(1..=2).contains(&day) || c.get(day) != Some(&b'/') {
        return false;
    }
    let after = &c[day + 1..];
    let Some(slash) = after.iter().position(|&x| x == b'/') else {
        return false;
    };
    let (month, rest) = (&after[..slash], &after[slash + 1..]);
    let month_ok = match *month {
        [a, b, c] => a.is_ascii_uppercase() && month_or_day3(a, b, c) == Some(Piece::Month),
        _ => word(month) == Some(Piece::Month),
    };
    month_ok
        && rest.len() > 5
        && rest[..4].iter().all(u8::is_ascii_digit)
        && rest[4] == b':'
        && (clock_first(&rest[5..]) || has_clock(&rest[5..]))
}

/// Whether `b` starts with `hh:mm` followed by `:`, `.`, `,` or its end (`10:59:53`): then
/// [`has_clock`] holds, found at its first byte without the search.
fn clock_first(b: &[u8]) -> bool {
    let [h, h2, b':', m, m2, rest @ ..] = b else {
        return false;
    };
    [h, h2, m, m2].iter().all(|d| d.is_ascii_digit())
        && rest.first().is_none_or(|c| matches!(c, b':' | b'.' | b','))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The date's text as masking keeps it around the variable: `(prefix, suffix, rest)`.
    fn find(line: &str) -> Option<(&str, &str, &str)> {
        let s = line.find(|c: char| !c.is_ascii_whitespace()).unwrap_or(0);
        let e = line[s..].find(' ').map_or(line.len(), |k| s + k);
        date_end(line, s, e)
            .map(|(end, open, close)| (&line[s..open], &line[close..end], &line[end..]))
    }

    #[test]
    fn runs_of_date_tokens_are_found_with_their_brackets() {
        assert_eq!(find("Wed Jul 27 10:59:53 2005"), Some(("", "", "")));
        assert_eq!(find("[Sun Dec 04 04:47:44 2005] x"), Some(("[", "]", " x")));
        assert_eq!(find("Mon Sep 27 22:15:07 EDT 2004)"), Some(("", ")", "")));
        assert_eq!(find("2017-05-16 05:00:00 to"), Some(("", "", " to")));
        assert_eq!(
            find("2017-05-16 05:00:00.123 +00:00, next"),
            Some(("", ",", " next"))
        );
        assert_eq!(find("Jun 17, 2005 10:00:00 PM UTC."), Some(("", ".", "")));
        assert_eq!(find("Wed, 27 Jul 2005 10:59:53 +0000"), Some(("", "", "")));
        assert_eq!(find("[27/Jul/2005:10:59:53 -0700]"), Some(("[", "]", "")));
        assert_eq!(find("27/Jul/2005:10:59:53"), Some(("", "", "")));
        assert_eq!(find("10:59:53 PM"), Some(("", "", "")));
        assert_eq!(find("Dec 4 04:12:33 host"), Some(("", "", " host")));
    }

    #[test]
    fn lone_pieces_and_numbers_are_no_run() {
        for line in [
            "Jul",
            "May I",
            "Mar 3 items",
            "12 34",
            "10:59:53 done",
            "2017-05-16 is",
            "Wed",
            "Wed 12",
            "42 Jul",
            "ERROR 2005",
            "Jul (27 2005",
            // No month between the slashes (this once panicked).
            "12//x y",
            "1//2005:10:00:00 x",
        ] {
            assert_eq!(find(line), None, "{line}");
        }
    }

    #[test]
    fn a_closing_bracket_ends_the_run() {
        // The year after the `)` is not part of the date.
        assert_eq!(find("Jul 27 10:59:53) 2005"), Some(("", ")", " 2005")));
    }

    /// The CLF date's shortcut ([`clf_end`]) ends the run where the general loop does, on the
    /// date with and without its zone, brackets and punctuation, and on near misses.
    #[test]
    fn the_clf_shortcut_agrees_with_the_general_loop() {
        let firsts = [
            "[27/Jul/2005:10:59:53",
            "27/Jul/2005:10:59:53",
            "[7/jul/2005:1:59:53",
            "[27/JUL/2005:10:59:53.123",
            "[27/July/2005:10:59:53",
            "[27/Jul/2005:10:59:53,",
            "[27/Jul/2005:10:59:53]",
            "(27/Jul/2005:10:59",
            "[27/Jul/2005:1059:53",
            "[27/Jul/2005:x10:59:53",
            "[27/Jul/05:10:59:53",
            "[127/Jul/2005:10:59:53",
            "[27/Jux/2005:10:59:53",
            "[27//2005:10:59:53",
            "27/Jul/2005",
            "3/5)",
        ];
        let rests = [
            "",
            " +0000]",
            " -0700",
            " +0000] x",
            " +05:30",
            "  UTC",
            " GMT]",
            " Jul",
            " x",
            " +00000]",
            " 2005",
            " ]",
        ];
        for first in firsts {
            for rest in rests {
                let line = format!("{first}{rest}");
                let e = first.len();
                let b = line.as_bytes();
                let open = b.iter().take_while(|&&c| is_opener(c)).count();
                assert_eq!(date_end(&line, 0, e), date_run(b, open, e), "{line}");
            }
        }
        assert_eq!(
            find("[27/Jul/2005:10:59:53 +0000] x"),
            Some(("[", "]", " x"))
        );
    }

    /// The shortcut for the bracketed CLF date ([`bracketed_clf`]) yields what the general path
    /// yields, on access-log dates mutated byte by byte (digits, months, separators, brackets,
    /// lengths, zones, what follows): it takes many of them, and passes the others on.
    #[test]
    fn the_bracketed_clf_shortcut_agrees_with_the_general_path() {
        let months = [
            "Nov", "Jul", "jul", "JUL", "July", "Jux", "Wed", "N0v", "Nov/", "No",
        ];
        let zones = [
            " +0000]",
            " -0700]",
            " +0000",
            " +0000] x",
            " +0000]]",
            " +0000],",
            " +0000]\"",
            " +0000]x",
            "  +0000]",
            "\t+0000]",
            " +00:00]",
            " UTC]",
            " +000]",
            " +00000]",
            "",
            " ",
            " +0a00]",
            " 0000]",
            " +0000.",
            " +0000\n",
        ];
        let alphabet: Vec<char> = "0123456789/:[]+- \t\",.xNJov(e\u{e9}".chars().collect();
        let mut next = crate::test_rng::xorshift(0x5851_f42d_4c95_7f2d_u64);
        let pick = |next: &mut dyn FnMut() -> u64, n: usize| (next() % n as u64) as usize;
        let (mut taken, mut passed) = (0, 0);
        for _ in 0..60_000 {
            let month = months[pick(&mut next, months.len())];
            let zone = zones[pick(&mut next, zones.len())];
            let mut line: Vec<char> = format!(
                "[{:02}/{month}/{}:{:02}:{:02}:{:02}{zone} \"GET",
                1 + next() % 31,
                1990 + next() % 50,
                next() % 24,
                next() % 60,
                next() % 60
            )
            .chars()
            .collect();
            // Up to two edits: a byte replaced, inserted or removed, or the line cut short.
            for _ in 0..pick(&mut next, 3) {
                let at = pick(&mut next, line.len());
                let c = alphabet[pick(&mut next, alphabet.len())];
                match next() % 4 {
                    0 => line[at] = c,
                    1 => line.insert(at, c),
                    2 => {
                        line.remove(at);
                    }
                    _ => line.truncate(at + 1),
                }
            }
            let line: String = line.into_iter().collect();
            let b = line.as_bytes();
            let s = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
            if s == b.len() {
                continue;
            }
            let e = s + b[s..]
                .iter()
                .take_while(|c| !c.is_ascii_whitespace())
                .count();
            let fast = bracketed_clf(b, s, e);
            assert_eq!(date_end(&line, s, e), date_general(b, s, e), "{line:?}");
            if fast.is_some() {
                taken += 1;
            } else if date_general(b, s, e).is_some() {
                passed += 1;
            }
        }
        assert!(taken > 2_000 && passed > 5_000, "{taken} {passed}");
    }

    /// [`is_clf`] as it was first written, by `splitn` and [`word`].
    fn is_clf_reference(c: &[u8]) -> bool {
        let mut parts = c.splitn(3, |&x| x == b'/');
        let (Some(day), Some(month), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        (1..=2).contains(&day.len())
            && day.iter().all(u8::is_ascii_digit)
            && word(month) == Some(Piece::Month)
            && rest.len() > 5
            && rest[..4].iter().all(u8::is_ascii_digit)
            && rest[4] == b':'
            && has_clock(&rest[5..])
    }

    #[test]
    fn clf_dates_are_told_as_by_their_definition() {
        let days = ["", "1", "27", "127", "x", "2x"];
        let months = [
            "Jul", "jul", "JUL", "July", "Jux", "", "J1l", "Ju", "Sept", "Wed",
        ];
        let rests = [
            "2005:10:59:53",
            "2005:1:59",
            "05:10:59:53",
            "2005-10:59",
            "2005:x",
            "2005:10:59:53.1",
            "2005:10:5",
            "2005:a 10:59",
            "2005:x10:59",
            "",
        ];
        for d in days {
            for m in months {
                for r in rests {
                    for t in [
                        format!("{d}/{m}/{r}"),
                        format!("{d}/{m}{r}"),
                        format!("{d}{m}/{r}"),
                    ] {
                        let c = t.as_bytes();
                        assert_eq!(is_clf(c), is_clf_reference(c), "{t}");
                    }
                }
            }
        }
    }

    /// Three letters name a month or a weekday by [`month_or_day3`] as by their list.
    #[test]
    fn three_letter_names_are_months_and_weekdays() {
        let letters: Vec<u8> = (b'a'..=b'z')
            .chain(b'A'..=b'Z')
            .chain([b'@', b'[', b'`', b'{'])
            .collect();
        for &a in &letters {
            for &b in &letters {
                for &c in &letters {
                    let w = [a, b, c];
                    let named = month_or_day3(a, b, c);
                    assert_eq!(named.is_some(), names_month_or_day(&w), "{w:?}");
                    let low = [a | 0x20, b | 0x20, c | 0x20];
                    let month = [
                        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep",
                        b"oct", b"nov", b"dec",
                    ]
                    .contains(&&low);
                    assert_eq!(named == Some(Piece::Month), month, "{w:?}");
                }
            }
        }
    }

    /// A clock at the first byte is one that [`has_clock`] finds.
    #[test]
    fn a_clock_first_is_a_clock() {
        for t in ["10:59:53", "10:59", "10:59.5", "10:59,", "23:00:00 x"] {
            assert!(clock_first(t.as_bytes()) && has_clock(t.as_bytes()), "{t}");
        }
        for t in ["1:59", "10:5", "10:599", "105:59", "10-59", "10:59x", ""] {
            assert!(!clock_first(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn candidates_are_told_by_their_first_byte() {
        assert!(may_start(b"Jul"));
        assert!(may_start(b"[27/Jul/2005:10:59:53"));
        assert!(!may_start(b"connection"));
        assert!(!may_start(b"-0700"));
        assert!(!may_start(b"Authentication"));
        assert!(!may_start(b"Failed"));
        assert!(!may_start(b"2005"));
        assert!(may_start(b"2005-07-27"));
        assert!(may_start(b"27,"));
    }
}
