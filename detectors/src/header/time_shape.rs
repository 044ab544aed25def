//! Whether a token is a date or a time: the test the header asks of every token with a digit,
//! and that masking and the date finder share. Dates and clocks are a few digit runs joined by
//! one separator each, so one pass over the token reads each run once and tests it, when it
//! ends, as the last run of a clock (`h:mm`) and of a date (`y-m-d`).

/// A token that is certainly a date or time (not any number): `10:00`, `10:00:00.123`,
/// `2024-05-01`, `17/06/09`, `2005.11.09`, `2024-05-01T10:00:00Z`, `20171223-22:15:29`, or
/// 10/13-digit epoch seconds/milliseconds.
pub(crate) fn is_datetime(c: &str) -> bool {
    let b = c.as_bytes();
    time_shape(b).is_some_and(|shape| shape.is_datetime(b))
}

/// Digits and date/time punctuation only (numbers, dates, times, versions, `-`).
pub(crate) fn is_timeish(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().enumerate().all(|(i, &x)| {
            x.is_ascii_digit()
                || is_time_separator(x)
                || (x == b'T' && i > 0 && b[i - 1].is_ascii_digit())
                || (x == b'Z' && i + 1 == b.len() && i > 0)
        })
}

/// The punctuation of dates, times and numbers: `-:./,_+`.
fn is_time_separator(x: u8) -> bool {
    matches!(x, b'-' | b':' | b'.' | b'/' | b',' | b'_' | b'+')
}

/// The bytes that [`is_timeish`] allows (`T` and `Z` only in some places), for the lexer's
/// byte classes; a test checks that it covers `is_timeish`.
pub(super) const fn is_time_byte(x: u8) -> bool {
    x.is_ascii_digit()
        || matches!(
            x,
            b'-' | b':' | b'.' | b'/' | b',' | b'_' | b'+' | b'T' | b'Z'
        )
}

/// What a time-ish token holds (see [`time_shape`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeShape {
    /// [`has_clock`].
    pub(crate) clock: bool,
    /// `has_date` (test-only, the definition this computes).
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

/// [`is_timeish`], [`has_clock`] and `has_date` in one pass over the token: `None` when it is
/// not time-ish, else what it holds. Only the two runs before the current one matter, and of
/// them only their lengths, whether exactly one byte joins each to the next (and which), and
/// whether the last one follows a `.`; so the pass keeps those, in registers. The header and
/// the date finder ask this of every token with a digit; a test compares it with the three
/// tests.
pub(crate) fn time_shape(b: &[u8]) -> Option<TimeShape> {
    let n = b.len();
    let mut shape = TimeShape {
        clock: false,
        date: false,
        digits_only: true,
    };
    // The previous run's length and the one's before it (0: none).
    let (mut len1, mut len2) = (0usize, 0usize);
    // The one byte joining the previous run to the one before it (0 when not exactly one),
    // and the one joining that run to the one before it, whose length is `len3`.
    let (mut sep1, mut sep2, mut len3) = (0u8, 0u8, 0usize);
    // The previous run follows a `.` (no clock's hour does: `10.0.0.1:8080`).
    let mut dot1 = false;
    // Non-digit bytes since the last run ended (2 before the first: not exactly one).
    let mut gap = 2usize;
    let mut i = 0;
    while i < n {
        let x = b[i];
        if x.is_ascii_digit() {
            let s = i;
            i += 1;
            while i < n && b[i].is_ascii_digit() {
                i += 1;
            }
            let len = i - s;
            let sep = if gap == 1 { b[s - 1] } else { 0 };
            let after = b.get(i).copied();
            // The clock `h:mm` with the previous run as its hour.
            if len == 2
                && sep == b':'
                && matches!(len1, 1 | 2)
                && !dot1
                && matches!(after, None | Some(b':' | b'.' | b','))
            {
                shape.clock = true;
            }
            // The date `a sep m sep d` with the two previous runs as `a` and `m`, unless the
            // four last runs are an IPv4 address (`10.4.57.20`: no `d.mm.yy` in it).
            if matches!(sep, b'-' | b'/' | b'.')
                && sep1 == sep
                && !(sep == b'.' && sep2 == b'.' && len3 <= 3 && len2 <= 3 && len <= 3)
                && matches!(len1, 1 | 2)
                && matches!(len2, 1..=4)
                && matches!(len, 1..=4)
                && (len2 == 4 || len == 4 || len == 2)
                && after != Some(sep)
            {
                shape.date = true;
            }
            if shape.clock && shape.date {
                // Nothing more to find: the rest needs only be time-ish.
                return rest_is_timeish(b, i).then_some(shape);
            }
            (len3, len2, len1, sep2, sep1) = (len2, len1, len, sep1, sep);
            dot1 = s > 0 && b[s - 1] == b'.';
            gap = 0;
            continue;
        }
        // `T` between digits (`2024-05-01T10:00`), `Z` last (`10:00:00Z`).
        let ok =
            is_time_separator(x) || (x == b'T' && gap == 0) || (x == b'Z' && i + 1 == n && i > 0);
        if !ok {
            return None;
        }
        shape.digits_only = false;
        gap += 1;
        i += 1;
    }
    // No run: no digit.
    (len1 > 0).then_some(shape)
}

/// The bytes of `b` from `i` (a byte after a digit, or the end) are those of [`is_timeish`].
fn rest_is_timeish(b: &[u8], i: usize) -> bool {
    let n = b.len();
    (i..n).all(|k| {
        let x = b[k];
        x.is_ascii_digit()
            || is_time_separator(x)
            || (x == b'T' && b[k - 1].is_ascii_digit())
            || (x == b'Z' && k + 1 == n)
    })
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
/// repeated separator, not followed by a fourth group (one before it is fine:
/// `2005-06-03-15.42.50` holds `06-03-15`), and no part of an IPv4 address (four groups of 1
/// to 3 digits joined by `.`: `10.4.57.20` holds no `4.57.20`). The definition that
/// [`time_shape`] computes (and the tests compare it with).
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
        let ipv4 = |d: usize| {
            sep == b'.' && i >= 2 && b[i - 1] == b'.' && {
                let run = (0..i - 1)
                    .rev()
                    .take_while(|&k| b[k].is_ascii_digit())
                    .count();
                (1..=3).contains(&run) && a <= 3 && d <= 3
            }
        };
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
            && !ipv4(d)
    })
}

fn digits(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
}
