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
//!
//! One part a file: `lexer` (tokens and their bytes' classes), `time_shape` (date and time
//! tokens), `words` (levels, month and weekday names, zones) and `layout` (the layouts of
//! earlier lines, remembered so that a line laid out as one of them is not recognised again).

use std::cell::RefCell;

mod layout;
mod lexer;
mod time_shape;
mod words;

#[cfg(test)]
use lexer::is_name_byte;
use lexer::{Lexer, B_ALPHA, B_DIGIT, B_UNNAMELY, B_UNTIMELY};
pub(crate) use time_shape::{has_clock, is_datetime, is_timeish, time_shape};
use words::{is_date_word, is_zone, level_word};

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
// The lexer keeps the header's tokens and a bracket group's end past them (`bracket_end`).
const _: () = assert!(lexer::TOKENS == MAX_HEADER_TOKENS + 8);

/// Splits `line` into its header and message (see the module documentation), with the
/// layouts this thread's earlier lines left (see [`HeaderSplitter`]).
pub fn split_header(line: &str) -> Header<'_> {
    SPLITTER.with(|s| s.borrow_mut().split(line))
}

thread_local! {
    static SPLITTER: RefCell<HeaderSplitter> = RefCell::new(HeaderSplitter::default());
}

/// Splits the lines of a log as [`split_header`] does, remembering the header layouts of its
/// earlier lines itself: the owner of a log's lines (one thread's) holds one, so that a line
/// costs no thread-local look-up. The split does not depend on which lines went before.
#[derive(Default)]
pub struct HeaderSplitter {
    layouts: layout::Layouts,
}

impl std::fmt::Debug for HeaderSplitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderSplitter").finish_non_exhaustive()
    }
}

impl HeaderSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits `line` into its header and message (see [`split_header`]).
    #[inline]
    pub fn split<'a>(&mut self, line: &'a str) -> Header<'a> {
        match self.layouts.recall(line) {
            Some(split) => Header {
                line,
                content_start: usize::from(split.content_start),
                level: split
                    .level
                    .and_then(|(s, e)| line.get(usize::from(s)..usize::from(e))),
            },
            None => self.recognise_and_remember(line),
        }
    }

    /// [`Self::split`] for a line laid out as no remembered layout: apart, so that the look-up
    /// (most lines) runs without this path's frame.
    #[inline(never)]
    fn recognise_and_remember<'a>(&mut self, line: &'a str) -> Header<'a> {
        let mut lex = Lexer::new(line);
        let header = recognise(line, &mut lex);
        self.layouts.remember(
            line,
            lex.read_to(),
            lex.found(),
            header.content_start,
            header.level,
        );
        header
    }
}

/// [`split_header`] without the remembered layouts: reads `line`'s tokens from `lex` as far
/// as the header's decision needs.
fn recognise<'a>(line: &'a str, lex: &mut Lexer<'a>) -> Header<'a> {
    let none = Header {
        line,
        content_start: 0,
        level: None,
    };
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
            Kind::Bracket { .. } => match bracket_end(line, lex, i) {
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
            match (lex.start(end), lex.last_found()) {
                (Some(s), _) => s,
                // The header reached the last token: that one stays the message.
                (None, Some((s, _))) if end > 1 => s,
                _ => return none,
            }
        }
    };
    Header {
        line,
        content_start,
        level,
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
        let inner = trim_end_bytes(&tok[1..], b":,");
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
