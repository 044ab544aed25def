//! The header's tokens (split on ASCII white space), found as far as they are asked for: most
//! headers end within a few tokens, and this runs for every line. Each byte is read once,
//! through a table that also tells which tests its token can pass.

use super::time_shape::is_time_byte;
use crate::byte_scan::scan_token;

/// Most tokens the header reads: its own (24 at most) and a bracket group's end past them.
pub(super) const TOKENS: usize = 32;

pub(super) const B_SPACE: u8 = 1;
pub(super) const B_DIGIT: u8 = 2;
pub(super) const B_PIPE: u8 = 4;
/// A byte that no date, time or number holds (see [`is_time_byte`]), nor the brackets and
/// punctuation that `core` strips (`(`, `)`, `;`).
pub(super) const B_UNTIMELY: u8 = 8;
/// A byte that no name holds (see [`is_name_byte`]).
pub(super) const B_UNNAMELY: u8 = 16;
/// An ASCII letter: a component's name needs one.
pub(super) const B_ALPHA: u8 = 32;

/// Byte classes: ASCII white space (as `u8::is_ascii_whitespace`) alone, else digits, `|`,
/// and the bytes that rule a token out of a date or a name.
pub(super) static BYTE: [u8; 256] = {
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

/// A line's tokens, on the stack.
pub(super) struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    toks: [(usize, usize); TOKENS],
    n: usize,
    /// Per token found: the union of its bytes' [`BYTE`] classes, so that the header's token
    /// classifier runs only the tests that its bytes allow.
    seen: [u8; TOKENS],
}

impl<'a> Lexer<'a> {
    pub(super) fn new(line: &'a str) -> Self {
        Self {
            b: line.as_bytes(),
            pos: 0,
            toks: [(0, 0); TOKENS],
            n: 0,
            seen: [0; TOKENS],
        }
    }

    /// Token `i`'s byte range, `None` past the line's last token (or past [`TOKENS`]). Inline:
    /// the header asks for most tokens more than once, and a token found costs no call.
    #[inline]
    pub(super) fn get(&mut self, i: usize) -> Option<(usize, usize)> {
        if i < self.n {
            return Some(self.toks[i]);
        }
        self.find(i)
    }

    /// Finds tokens up to token `i` (see [`Lexer::get`]).
    fn find(&mut self, i: usize) -> Option<(usize, usize)> {
        let b = self.b;
        let (mut p, mut n) = (self.pos, self.n);
        while n <= i && n < TOKENS {
            while p < b.len() && BYTE[usize::from(b[p])] == B_SPACE {
                p += 1;
            }
            if p == b.len() {
                break;
            }
            // One table lookup per byte: white space ends the token, the rest is collected.
            let (e, seen) = scan_token(b, p, &BYTE, B_SPACE);
            self.toks[n] = (p, e);
            self.seen[n] = seen;
            p = e;
            n += 1;
        }
        (self.pos, self.n) = (p, n);
        (i < n).then(|| self.toks[i])
    }

    /// Where token `i` starts, `None` past the line's last token (or past [`TOKENS`]): as
    /// [`Lexer::get`], but the token after those found is not read to its end (the message
    /// after a header is not the header's business).
    pub(super) fn start(&mut self, i: usize) -> Option<usize> {
        if i == self.n && i < TOKENS {
            let p = self.read_to();
            return (p < self.b.len()).then_some(p);
        }
        self.get(i).map(|(s, _)| s)
    }

    /// Where the bytes read so far end: past the last token found and the white space after
    /// it (the byte there, if any, is no white space). Nothing past it was looked at.
    pub(super) fn read_to(&self) -> usize {
        let b = self.b;
        let mut p = self.pos;
        while p < b.len() && BYTE[usize::from(b[p])] == B_SPACE {
            p += 1;
        }
        p
    }

    /// Tokens found so far.
    pub(super) fn found(&self) -> usize {
        self.n
    }

    /// The last token found (the line's last when [`Lexer::get`] returned `None`).
    pub(super) fn last_found(&self) -> Option<(usize, usize)> {
        self.n.checked_sub(1).map(|k| self.toks[k])
    }

    /// Token `i`'s byte classes (0 past the tokens found).
    pub(super) fn seen(&self, i: usize) -> u8 {
        self.seen.get(i).copied().unwrap_or(0)
    }

    pub(super) fn has_pipe(&self, i: usize) -> bool {
        self.seen(i) & B_PIPE != 0
    }
}

/// The bytes of a name, as hosts, programs, loggers and threads have (the header's `is_name`):
/// [`B_UNNAMELY`] marks the others.
pub(super) const fn is_name_byte(c: u8) -> bool {
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
