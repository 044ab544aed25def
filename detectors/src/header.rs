//! Recognition of a log line's header (timestamp, level, pid, thread, host, logger) without a
//! configured format, so that raw lines are mined on their message alone.
//!
//! A header is a run of tokens at the start of the line, recognised by token class rather than by
//! position, so that one set of rules covers syslog, ISO 8601, Log4j/Logback, Python logging,
//! Android logcat, glog-like and column-aligned layouts:
//!
//! - Date and time tokens (`2024-05-01`, `10:00:00,123`, `2024-05-01T10:00:00Z`, `17/06/09`,
//!   `1131566461` as epoch seconds), month and weekday names, time zones, plain numbers (pids,
//!   record ids) and `-` (an empty field) while no unknown word is pending.
//! - Levels (`INFO`, `warning`, `[ERROR]`, `<err>`; a single `V D I W E F` letter between header
//!   fields as in logcat).
//! - Bracketed fields (`[main]`, `[19939]`, `[req-… - - -]` after a logger, `[Sun Dec 04
//!   04:47:44 2005]`).
//! - Up to three words (host, logger, node, thread name) between such fields: `combo` in
//!   `Jun 14 15:16:01 combo sshd[1]:`, `node-246 unix.hw state.x 1077804742` before an epoch time.
//! - A program or logger name ending in `:` (`sshd(pam_unix)[19939]:`,
//!   `org.apache.hadoop.Foo:`, `kernel:`) ends the header, as does a bracketed context after a
//!   logger (`nova.compute [req-1 - -]`), a column followed by two or more spaces (`Info     CBS
//!   message`), or pipe-separated fields (`time|component|pid|message`).
//!
//! A line with no date, time or level at its start has no header: it is mined whole. The header
//! never swallows the whole line: the last token stays the message.

use crate::byte_scan::scan_token;

/// A line split into its recognised header and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    line: &'a str,
    content_start: usize,
    level: Option<&'a str>,
}

impl<'a> Header<'a> {
    /// The message: the line after its header (the whole line when no header was recognised).
    pub fn content(&self) -> &'a str {
        &self.line[self.content_start..]
    }

    /// The header as written, up to the message (empty when none was recognised).
    pub fn header(&self) -> &'a str {
        self.line[..self.content_start].trim_end()
    }

    /// The level field, without brackets or punctuation (`INFO`, `warning`, `E`), if any.
    pub fn level(&self) -> Option<&'a str> {
        self.level
    }
}

/// Most words a header holds between its date/time or level fields.
const MAX_PENDING: usize = 3;
/// Tokens looked at: a header longer than this is not recognised past it.
const MAX_HEADER_TOKENS: usize = 24;

/// Splits `line` into its header and message (see the module documentation).
pub fn split_header(line: &str) -> Header<'_> {
    let none = Header {
        line,
        content_start: 0,
        level: None,
    };
    let mut lex = Lexer::new(line);
    if lex.get(0).is_none() {
        return none;
    }
    let mut end = 0; // tokens committed to the header
    let mut level: Option<&str> = None;
    let mut weak_level: Option<&str> = None;
    let mut pending = 0; // words seen since the last committed field
    let mut pending_letter: Option<&str> = None;
    let mut content_at: Option<usize> = None; // a byte offset set by a pipe header
    let mut anchored = false; // a date, time or level was seen: this is a header
    let mut i = 0;
    while i < MAX_HEADER_TOKENS {
        let Some((s, e)) = lex.get(i) else { break };
        let tok = &line[s..e];
        let committed = end > 0;
        // Pipe-separated fields: `time|component|pid|message`.
        if let Some(p) = lex.has_pipe(i).then(|| tok.rfind('|')).flatten() {
            let first = &tok[..tok.find('|').unwrap_or(p)];
            if (committed || i == 0) && pending == 0 && is_timeish(core(first)) {
                content_at = Some(s + p + 1);
                end = i + 1;
                anchored = true;
            }
            break;
        }
        let k = match kind(tok, lex.seen(i)) {
            Kind::Bracket { last: 0, .. } => Kind::Bracket {
                last: i,
                time: false,
            },
            Kind::Bracket { .. } => match bracket_end(line, &mut lex, i) {
                Some((last, time)) => Kind::Bracket { last, time },
                None => Kind::Other,
            },
            k => k,
        };
        match k {
            Kind::DateTime => {
                if pending > MAX_PENDING || (!committed && i > 1) {
                    break;
                }
                end = i + 1;
                pending = 0;
                anchored = true;
                if pending_letter.take().is_some() {
                    weak_level = None;
                }
            }
            // A second level, or a lower-case one after words, is message text (`error`).
            Kind::Level(l)
                if level.is_none()
                    && (pending == 0 || !l.bytes().any(|c| c.is_ascii_lowercase())) =>
            {
                if pending > MAX_PENDING || (!committed && i > 0) {
                    break;
                }
                end = i + 1;
                pending = 0;
                anchored = true;
                level.get_or_insert(l);
            }
            Kind::Weak => {
                if pending == 0 && (committed || i == 0) {
                    end = i + 1;
                } else if tok == "-" && pending == 1 && committed {
                    // `program - message`
                    end = i + 1;
                    break;
                }
            }
            Kind::Letter(l) => {
                if !committed {
                    break;
                }
                pending += 1;
                if pending == 1 && weak_level.is_none() {
                    weak_level = Some(l);
                    pending_letter = Some(l);
                }
            }
            Kind::Bracket { last, time } => {
                if time && pending == 0 && (committed || i == 0) {
                    end = last + 1;
                    anchored = true;
                    i = last + 1;
                    continue;
                }
                if pending == 0 && (committed || (i == 0 && last == i)) {
                    // `[main]`, `[19939]` or `[IPC Server listener]` after a level or time: a
                    // thread or pid field.
                    end = last + 1;
                    i = last + 1;
                    continue;
                }
                if committed && pending > 0 && pending <= MAX_PENDING {
                    // A context after a logger: `nova.compute [req-1 - - -]`.
                    end = last + 1;
                }
                break;
            }
            Kind::Component => {
                if committed && pending <= 1 {
                    end = i + 1;
                    if pending_letter.is_some() {
                        level = level.or(weak_level);
                    }
                }
                break;
            }
            Kind::Word | Kind::Level(_) => {
                if !committed && i > 0 {
                    break;
                }
                pending += 1;
                if pending > MAX_PENDING {
                    break;
                }
                // A column between two or more spaces: `Info     CBS    message`.
                // Aligned columns have wide gaps on both sides, and end the header.
                if committed && pending == 1 && end == i && gap_after(line, e) >= 2 && s >= 2 {
                    let before = &line.as_bytes()[s - 2..s];
                    if before.iter().all(|&c| c == b' ' || c == b'\t') {
                        end = i + 1;
                        break;
                    }
                }
            }
            Kind::Other => break,
        }
        i += 1;
    }
    if end == 0 || !anchored {
        return none;
    }
    let content_start = match content_at {
        Some(at) => at,
        None => {
            // Keep at least the last token as the message.
            let (s, _) = match lex.get(end) {
                Some(t) => t,
                // The header reached the last token: that one stays the message.
                None if end > 1 => lex.toks[lex.n - 1],
                None => return none,
            };
            s
        }
    };
    Header {
        line,
        content_start,
        level,
    }
}

/// Tokens [`split_header`] reads at most: the header's, and a bracket group's end past them.
const TOKENS: usize = MAX_HEADER_TOKENS + 8;

/// The tokens of a line (split on ASCII white space), found as far as they are asked for: most
/// headers end within a few tokens, and this runs for every line. On the stack.
struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    toks: [(usize, usize); TOKENS],
    n: usize,
    /// Per token found: the union of its bytes' [`BYTE`] classes, so that [`kind`] runs only
    /// the tests that its bytes allow.
    seen: [u8; TOKENS],
}

const B_SPACE: u8 = 1;
const B_DIGIT: u8 = 2;
const B_PIPE: u8 = 4;
/// A byte that no date, time or number holds (see [`is_time_byte`]), nor the brackets and
/// punctuation that [`core`] strips (`(`, `)`, `;`).
const B_UNTIMELY: u8 = 8;
/// A byte that no name holds (see [`is_name_byte`]).
const B_UNNAMELY: u8 = 16;
/// An ASCII letter: a component's name needs one.
const B_ALPHA: u8 = 32;

/// Byte classes for [`Lexer`]: ASCII white space (as `u8::is_ascii_whitespace`) alone, else
/// digits, `|`, and the bytes that rule a token out of a date or a name.
static BYTE: [u8; 256] = {
    let mut t = [0; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if c.is_ascii_whitespace() {
            B_SPACE
        } else {
            let mut k = 0;
            if c.is_ascii_digit() {
                k |= B_DIGIT;
            }
            if c == b'|' {
                k |= B_PIPE;
            }
            if !(is_time_byte(c) || matches!(c, b'(' | b')' | b';')) {
                k |= B_UNTIMELY;
            }
            if !is_name_byte(c) {
                k |= B_UNNAMELY;
            }
            if c.is_ascii_alphabetic() {
                k |= B_ALPHA;
            }
            k
        };
        i += 1;
    }
    t
};

impl<'a> Lexer<'a> {
    fn new(line: &'a str) -> Self {
        Self {
            b: line.as_bytes(),
            pos: 0,
            toks: [(0, 0); TOKENS],
            n: 0,
            seen: [0; TOKENS],
        }
    }

    /// Token `i`'s byte range, `None` past the line's last token (or past [`TOKENS`]). Inline:
    /// [`split_header`] asks for most tokens more than once, and a token found costs no call.
    #[inline]
    fn get(&mut self, i: usize) -> Option<(usize, usize)> {
        if i < self.n {
            return Some(self.toks[i]);
        }
        self.find(i)
    }

    /// Finds tokens up to token `i` (see [`Lexer::get`]).
    fn find(&mut self, i: usize) -> Option<(usize, usize)> {
        while self.n <= i && self.n < TOKENS {
            let b = self.b;
            let mut p = self.pos;
            while p < b.len() && b[p].is_ascii_whitespace() {
                p += 1;
            }
            if p == b.len() {
                self.pos = p;
                break;
            }
            let s = p;
            // One table lookup per byte: white space ends the token, the rest is collected.
            let (p, seen) = scan_token(b, p, &BYTE, B_SPACE);
            self.pos = p;
            self.toks[self.n] = (s, p);
            self.seen[self.n] = seen;
            self.n += 1;
        }
        (i < self.n).then(|| self.toks[i])
    }

    /// Token `i`'s byte classes (0 past the tokens found).
    fn seen(&self, i: usize) -> u8 {
        self.seen.get(i).copied().unwrap_or(0)
    }

    fn has_pipe(&self, i: usize) -> bool {
        self.seen(i) & B_PIPE != 0
    }
}

fn gap_after(line: &str, e: usize) -> usize {
    line.as_bytes()[e..]
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    /// A date, a time, both, or epoch seconds/milliseconds.
    DateTime,
    Level(&'a str),
    /// A number, month or weekday name, time zone, `-`: a header field only next to others.
    Weak,
    /// One of `V D I W E F`: a logcat level when between header fields.
    Letter(&'a str),
    /// `[...]` ending at token `last`; `time` when it holds only dates and times.
    Bracket {
        last: usize,
        time: bool,
    },
    /// A program or logger name followed by `:`.
    Component,
    /// A host, logger or thread name.
    Word,
    Other,
}

/// Needs the following tokens for bracket groups: classifies `tok` alone, except that a `[`
/// left open is resolved by [`split_header`] through [`bracket_end`].
/// `seen`: the union of the token's [`BYTE`] classes, as the lexer found them (dates and times
/// hold a digit, levels and names may not; a byte of no date or no name rules those tests out).
fn kind(tok: &str, seen: u8) -> Kind<'_> {
    let digit = seen & B_DIGIT != 0;
    let b = tok.as_bytes();
    if tok == "-" {
        return Kind::Weak;
    }
    if b[0] == b'[' || (b[0] == b'<' && b.len() > 2) {
        let close = if b[0] == b'[' { b']' } else { b'>' };
        let inner = tok[1..].trim_end_matches([':', ',']);
        if let Some(inner) = inner.strip_suffix(close as char) {
            if let Some(l) = level_word(inner) {
                return Kind::Level(l);
            }
            if digit && is_datetime(inner) {
                return Kind::DateTime;
            }
            if b[0] == b'<' && !inner.bytes().all(|c| c.is_ascii_digit()) {
                return Kind::Other;
            }
            return Kind::Bracket {
                last: 0,
                time: false,
            };
        }
        if b[0] == b'[' {
            return Kind::Bracket {
                last: usize::MAX,
                time: false,
            };
        }
        return Kind::Other;
    }
    let c = core(tok);
    if c.is_empty() {
        return Kind::Other;
    }
    if digit {
        // A date or time is time-ish, so one pass settles both for most tokens.
        if seen & B_UNTIMELY == 0 {
            if let Some(shape) = time_shape(c.as_bytes()) {
                return if shape.is_datetime(c.as_bytes()) {
                    Kind::DateTime
                } else {
                    Kind::Weak
                };
            }
        }
    } else {
        if let Some(l) = level_word(trim_end_bytes(tok, b":,")) {
            return Kind::Level(l);
        }
        if is_date_word(c) || is_zone(c) {
            return Kind::Weak;
        }
    }
    if c.len() == 1 && matches!(b[0], b'V' | b'D' | b'I' | b'W' | b'E' | b'F') && tok.len() == 1 {
        return Kind::Letter(tok);
    }
    // A byte of no name: neither a component (`:` is a name byte) nor a word. The lexer saw
    // every byte, so a name only needs its first byte tested (as [`is_name`] would).
    let named = seen & B_UNNAMELY == 0;
    if tok.len() > 1 && tok.ends_with(':') && !tok.ends_with("::") {
        // `:` is no letter: the token's letters are the name's.
        if named && starts_name(b[0]) && seen & B_ALPHA != 0 {
            return Kind::Component;
        }
        return Kind::Other;
    }
    if named && starts_name(b[0]) {
        return Kind::Word;
    }
    Kind::Other
}

/// `t` without the trailing bytes in `set` (ASCII, so the cut is at a character boundary).
fn trim_end_bytes<'t>(t: &'t str, set: &[u8]) -> &'t str {
    let b = t.as_bytes();
    let mut n = b.len();
    while n > 0 && set.contains(&b[n - 1]) {
        n -= 1;
    }
    &t[..n]
}

/// The token without trailing `,` `;` and a surrounding pair of brackets.
fn core(tok: &str) -> &str {
    let b = tok.as_bytes();
    // Most tokens have none of these: nothing to cut.
    if !matches!(b.last(), Some(b',' | b';' | b')')) && b.first() != Some(&b'(') {
        return tok;
    }
    let t = trim_end_bytes(tok, b",;");
    let t = t.strip_prefix('(').unwrap_or(t);
    t.strip_suffix(')').unwrap_or(t)
}

/// A name as hosts, programs, loggers and threads have: letters, digits and `._-$/@#~+()[]`,
/// starting with a letter, digit, `/` or `_`.
#[cfg(test)]
fn is_name(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty() && starts_name(b[0]) && b.iter().all(|&c| is_name_byte(c))
}

/// The first byte of a name (see [`is_name`]).
fn starts_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'.' | b'#')
}

/// The bytes of a name (see [`is_name`]; the lexer's [`B_UNNAMELY`] follows it).
const fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || c >= 0x80
        || matches!(
            c,
            b'.' | b'_'
                | b'-'
                | b'$'
                | b'/'
                | b'@'
                | b'#'
                | b'~'
                | b'+'
                | b'('
                | b')'
                | b'['
                | b']'
                | b':'
        )
}

/// Digits and date/time punctuation only (numbers, dates, times, versions, `-`).
pub(crate) fn is_timeish(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().enumerate().all(|(i, &x)| {
            x.is_ascii_digit()
                || matches!(x, b'-' | b':' | b'.' | b'/' | b',' | b'_' | b'+')
                || (x == b'T' && i > 0 && b[i - 1].is_ascii_digit())
                || (x == b'Z' && i + 1 == b.len() && i > 0)
        })
}

/// The bytes that [`is_timeish`] allows (`T` and `Z` only in some places), for the lexer's
/// [`B_UNTIMELY`]; a test checks that it covers `is_timeish`.
const fn is_time_byte(x: u8) -> bool {
    x.is_ascii_digit()
        || matches!(
            x,
            b'-' | b':' | b'.' | b'/' | b',' | b'_' | b'+' | b'T' | b'Z'
        )
}

/// A token that is certainly a date or time (not any number): `10:00`, `10:00:00.123`,
/// `2024-05-01`, `17/06/09`, `2005.11.09`, `2024-05-01T10:00:00Z`, `20171223-22:15:29`, or
/// 10/13-digit epoch seconds/milliseconds.
pub(crate) fn is_datetime(c: &str) -> bool {
    let b = c.as_bytes();
    time_shape(b).is_some_and(|shape| shape.is_datetime(b))
}

/// What a time-ish token holds (see [`time_shape`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeShape {
    /// [`has_clock`].
    pub(crate) clock: bool,
    /// [`has_date`].
    pub(crate) date: bool,
    /// Digits only.
    pub(crate) digits_only: bool,
}

impl TimeShape {
    /// [`is_datetime`] of the token `b` this shape is of.
    pub(crate) fn is_datetime(self, b: &[u8]) -> bool {
        if !b.first().is_some_and(u8::is_ascii_digit) {
            return false;
        }
        if self.digits_only {
            return (b.len() == 10 || b.len() == 13) && b[0] == b'1';
        }
        self.clock || self.date
    }
}

/// [`is_timeish`], [`has_clock`] and [`has_date`] in one pass over the token: `None` when it is
/// not time-ish, else what it holds. Both patterns are a few digit runs joined by one
/// separator each, so each run is read once and tested, when it ends, as the last of a clock
/// (`h:mm`) and of a date (`y-m-d`) with the one or two runs before it. The header and the date
/// finder ask this of every token with a digit; a test compares it with the three tests.
pub(crate) fn time_shape(b: &[u8]) -> Option<TimeShape> {
    let n = b.len();
    let mut shape = TimeShape {
        clock: false,
        date: false,
        digits_only: true,
    };
    let mut digit = false;
    // The two digit runs before the current one, `(start, end)`; `usize::MAX` for none (no
    // run starts right after it).
    let (mut r1, mut r2) = ((usize::MAX, usize::MAX), (usize::MAX, usize::MAX));
    let mut i = 0;
    while i < n {
        let x = b[i];
        if x.is_ascii_digit() {
            let s = i;
            while i < n && b[i].is_ascii_digit() {
                i += 1;
            }
            let (len, after) = (i - s, b.get(i).copied());
            // A run right after the previous run and one separator byte.
            let follows =
                |(ps, pe): (usize, usize), sep: u8| ps != usize::MAX && pe + 1 == s && b[pe] == sep;
            // The clock `h:mm` with the previous run as its hour.
            if !shape.clock
                && len == 2
                && follows(r1, b':')
                && (1..=2).contains(&(r1.1 - r1.0))
                && (r1.0 == 0 || b[r1.0 - 1] != b'.')
                && after.is_none_or(|c| matches!(c, b':' | b'.' | b','))
            {
                shape.clock = true;
            }
            // The date `a sep m sep d` with the two previous runs.
            if !shape.date && (1..=4).contains(&len) && r2.0 != usize::MAX {
                let sep = b[r2.1];
                let (a, m) = (r2.1 - r2.0, r1.1 - r1.0);
                if matches!(sep, b'-' | b'/' | b'.')
                    && follows(r1, sep)
                    && r1.0 == r2.1 + 1
                    && (1..=4).contains(&a)
                    && (1..=2).contains(&m)
                    && (a == 4 || len == 4 || len == 2)
                    && after != Some(sep)
                {
                    shape.date = true;
                }
            }
            (r2, r1) = (r1, (s, i));
            digit = true;
            continue;
        }
        let ok = matches!(x, b'-' | b':' | b'.' | b'/' | b',' | b'_' | b'+')
            || (x == b'T' && i > 0 && b[i - 1].is_ascii_digit())
            || (x == b'Z' && i + 1 == n && i > 0);
        if !ok {
            return None;
        }
        shape.digits_only = false;
        i += 1;
    }
    digit.then_some(shape)
}

/// `h:mm` or `hh:mm` not preceded by a digit or a dot and followed by `:`, `.`, `,` or the end
/// (so `10.0.0.1:8080` is no clock).
pub(crate) fn has_clock(b: &[u8]) -> bool {
    (0..b.len()).any(|i| {
        if i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.') {
            return false;
        }
        let h = digits(b, i);
        if !(1..=2).contains(&h) || b.get(i + h) != Some(&b':') {
            return false;
        }
        let m = digits(b, i + h + 1);
        let after = b.get(i + h + 1 + m);
        m == 2 && after.is_none_or(|c| matches!(c, b':' | b'.' | b','))
    })
}

/// `yyyy-mm-dd` (or `/`, `.`), `dd/mm/yy` and the like: three digit groups joined by one
/// repeated separator, not followed by a fourth group (an IPv4 address has four). The
/// definition that [`time_shape`] computes (and the tests compare it with).
#[cfg(test)]
pub(crate) fn has_date(b: &[u8]) -> bool {
    (0..b.len()).any(|i| {
        if i > 0 && b[i - 1].is_ascii_digit() {
            return false;
        }
        let a = digits(b, i);
        if a == 0 || a > 4 {
            return false;
        }
        let Some(&sep) = b.get(i + a) else {
            return false;
        };
        if !matches!(sep, b'-' | b'/' | b'.') {
            return false;
        }
        let j = i + a + 1;
        let m = digits(b, j);
        if !(1..=2).contains(&m) || b.get(j + m) != Some(&sep) {
            return false;
        }
        let k = j + m + 1;
        let d = digits(b, k);
        (1..=4).contains(&d)
            && (a == 4 || d == 4 || d == 2)
            && b.get(k + d).is_none_or(|&c| c != sep)
    })
}

fn digits(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// The level names of common logging libraries (syslog, Log4j, Python, Go, Windows), any case.
fn level_word(t: &str) -> Option<&str> {
    const LEVELS: [&str; 20] = [
        "TRACE",
        "DEBUG",
        "DBG",
        "INFO",
        "INFORMATION",
        "NOTICE",
        "WARN",
        "WARNING",
        "ERROR",
        "ERR",
        "SEVERE",
        "FATAL",
        "CRITICAL",
        "CRIT",
        "ALERT",
        "EMERG",
        "EMERGENCY",
        "FINE",
        "FINER",
        "FINEST",
    ];
    // Most tokens are no level: their length or first letter tells.
    let first = t.as_bytes().first()?.to_ascii_uppercase();
    if !(3..=11).contains(&t.len()) || !b"TDINWESFCA".contains(&first) {
        return None;
    }
    LEVELS
        .iter()
        .any(|l| l.eq_ignore_ascii_case(t))
        .then_some(t)
}

/// Month and weekday abbreviations, `AM` and `PM` (matched on bytes: one decision tree, where
/// a list of strings costs a comparison each).
fn is_date_word(t: &str) -> bool {
    match *t.as_bytes() {
        [a, b, c] => matches!(
            [a, b, c],
            [b'J', b'a', b'n']
                | [b'F', b'e', b'b']
                | [b'M', b'a', b'r']
                | [b'A', b'p', b'r']
                | [b'M', b'a', b'y']
                | [b'J', b'u', b'n']
                | [b'J', b'u', b'l']
                | [b'A', b'u', b'g']
                | [b'S', b'e', b'p']
                | [b'O', b'c', b't']
                | [b'N', b'o', b'v']
                | [b'D', b'e', b'c']
                | [b'M', b'o', b'n']
                | [b'T', b'u', b'e']
                | [b'W', b'e', b'd']
                | [b'T', b'h', b'u']
                | [b'F', b'r', b'i']
                | [b'S', b'a', b't']
                | [b'S', b'u', b'n']
        ),
        [a, b'M'] => a == b'A' || a == b'P',
        _ => false,
    }
}

fn is_zone(t: &str) -> bool {
    matches!(
        *t.as_bytes(),
        [b'U', b'T', b'C'] | [b'G', b'M', b'T'] | [b'Z']
    )
}

/// Where the bracket group opened at token `i` closes, within a few tokens, and whether it holds
/// only dates and times.
fn bracket_end(line: &str, lex: &mut Lexer<'_>, i: usize) -> Option<(usize, bool)> {
    let mut time = true;
    for j in i..i + 10 {
        let (s, e) = lex.get(j)?;
        let t = &line[s..e];
        let inner = t.trim_start_matches('[');
        let closed = inner.trim_end_matches([':', ',']).strip_suffix(']');
        let piece = closed.unwrap_or(inner);
        if !(piece.is_empty() || is_timeish(piece) || is_date_word(piece) || is_zone(piece)) {
            time = false;
        }
        if closed.is_some() {
            return Some((j, time));
        }
    }
    None
}

#[cfg(test)]
mod tests;
