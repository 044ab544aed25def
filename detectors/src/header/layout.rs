//! Header layouts remembered from earlier lines, so that a line laid out as one of them is
//! split without being recognised again: a log repeats a few layouts (`Jun 14 15:16:01 combo
//! sshd[19939]: `, `2024-05-01T10:00:00.123Z INFO  [main] db.Pool - `) on most of its lines,
//! with other digits.
//!
//! A layout is the bytes the recognition read (the header, the white space after it, and
//! whether a byte follows), with each digit position marked "any digit": the recognition's
//! decisions depend on a digit only by its being a digit, except the epoch rule (a 10- or
//! 13-digit number starting with `1`), so layouts holding a run of that length are not
//! remembered. Every other byte must be equal, letters included (`Jun` and `June`, `INFO` and
//! `INFX` are other layouts). A line matches a layout when its bytes there are the same, its
//! digits at the same places, and a byte follows (or not) as it did; it then gets the
//! layout's split. Eight bytes are compared at a time (digits found with byte-wise
//! arithmetic on a `u64`).
//!
//! Layouts are kept per thread (the miner of a log runs on one), in a table of four-way sets
//! found by hashing the line's first bytes with digits zeroed: for each multiple of eight
//! bytes that a remembered layout covered in full, one probe.

use std::cell::RefCell;

use super::lexer::{BYTE, B_SPACE};

/// Where a line's message starts and its level's byte range, as the header recognition found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Split<'a> {
    pub(super) content_start: usize,
    pub(super) level: Option<&'a str>,
}

/// Bytes of a layout at most: longer headers are recognised on every line.
const MAX_LEN: usize = 96;
const CHUNKS: usize = MAX_LEN / 8;
// Digit positions are the bits of a `u128`.
const _: () = assert!(MAX_LEN <= 128 && MAX_LEN.is_multiple_of(8));
/// Sets of the table (a power of two), each of [`WAYS`] layouts: room for the few hundred
/// layouts of a busy mixed log (hosts × programs × pid widths). Layouts alike in their first
/// multiple of eight bytes share a set (`"GET ` and `"POST ` after the same date): a few ways.
const SETS: usize = 512;
const WAYS: usize = 4;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Per byte of `x`, its high bit set when the byte is no ASCII digit. The byte minus `0` is
/// below 10 for a digit only; adding `0x76` to its low seven bits sets the high bit from 10
/// up, and no sum carries into the next byte.
fn non_digits(x: u64) -> u64 {
    let y = x ^ (b'0' as u64 * ONES);
    (((y & (0x7f * ONES)) + (0x76 * ONES)) | y) & HIGH
}

/// `0xff` in each byte whose high bit is set in `high`.
fn bytes_of(high: u64) -> u64 {
    (high >> 7) * 0xff
}

/// For each 8-bit pattern, the `u64` with the high bit set in the bytes of its set bits.
static SPREAD: [u64; 256] = {
    let mut t = [0; 256];
    let mut i = 0;
    while i < 256 {
        let mut j = 0;
        while j < 8 {
            if i >> j & 1 == 1 {
                t[i] |= 0x80 << (8 * j);
            }
            j += 1;
        }
        i += 1;
    }
    t
};

#[derive(Clone, Copy, Default)]
struct Layout {
    /// The hash of the first `8 * keyed` bytes, digits zeroed, and `keyed`; 0: an empty slot.
    tag: u64,
    /// The bytes read, digits zeroed (and 0 past `len`).
    bytes: [u64; CHUNKS],
    /// Per chunk, bit `j` set when its byte `j` is a digit.
    digits: [u8; CHUNKS],
    /// Bytes read; whether a byte follows them.
    len: u8,
    more: bool,
    content_start: u8,
    /// The level's byte range.
    level: Option<(u8, u8)>,
}

struct Table {
    sets: Box<[[Layout; WAYS]]>,
    /// Bit `k` set when a layout is keyed by its first `8 * k` bytes: the probes worth making.
    keyed: u16,
}

thread_local! {
    static TABLE: RefCell<Option<Table>> = const { RefCell::new(None) };
}

/// A line's first bytes as `u64`s (zero past its end), with their non-digit bytes marked.
struct Chunks {
    x: [u64; CHUNKS],
    non_digit: [u64; CHUNKS],
    /// Chunks loaded (those holding a byte of the line, at most [`CHUNKS`]).
    n: usize,
}

impl Chunks {
    /// The first `most` chunks of `b` (at most [`CHUNKS`]).
    fn of(b: &[u8], most: usize) -> Self {
        let mut c = Chunks {
            x: [0; CHUNKS],
            non_digit: [0; CHUNKS],
            n: 0,
        };
        let most = most.min(CHUNKS);
        let full = (b.len() / 8).min(most);
        for (x, w) in c.x.iter_mut().zip(b.chunks_exact(8)).take(full) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(w);
            *x = u64::from_le_bytes(bytes);
        }
        c.n = full;
        if full < most && b.len() > 8 * full {
            let mut w = [0; 8];
            w[..b.len() - 8 * full].copy_from_slice(&b[8 * full..]);
            c.x[full] = u64::from_le_bytes(w);
            c.n += 1;
        }
        for k in 0..c.n {
            c.non_digit[k] = non_digits(c.x[k]);
        }
        c
    }

    /// Chunk `k` with its digits zeroed.
    fn key(&self, k: usize) -> u64 {
        self.x[k] & bytes_of(self.non_digit[k])
    }
}

/// Mixes chunk `x` into the hash `h`.
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31)
}

/// The tag of a layout keyed by `keyed` chunks whose hash is `h` (never 0), and its set.
fn tag_and_set(h: u64, keyed: usize) -> (u64, usize) {
    let tag = mix(h, keyed as u64) | 1;
    (tag, (tag >> 40) as usize & (SETS - 1))
}

impl Layout {
    /// Whether `line` (`b`, its [`Chunks`] `c`) is laid out as this layout.
    fn fits(&self, b: &[u8], c: &Chunks) -> bool {
        let len = usize::from(self.len);
        let follows = if self.more {
            b.len() > len && BYTE[usize::from(b[len])] != B_SPACE
        } else {
            b.len() == len
        };
        if !follows {
            return false;
        }
        // Chunk `k`'s bytes in `in_range` are equal but for digits, its digits are digits.
        let fits_chunk = |k: usize, in_range: u64| {
            let digits = SPREAD[usize::from(self.digits[k])];
            c.x[k] & in_range & !bytes_of(digits) == self.bytes[k] && c.non_digit[k] & digits == 0
        };
        // The partial chunk first: layouts sharing a set differ there.
        let (full, rest) = (len / 8, len % 8);
        (rest == 0 || fits_chunk(full, (1 << (8 * rest)) - 1))
            && (0..full).rev().all(|k| fits_chunk(k, !0))
    }

    fn split<'a>(&self, line: &'a str) -> Option<Split<'a>> {
        let level = match self.level {
            Some((s, e)) => Some(line.get(usize::from(s)..usize::from(e))?),
            None => None,
        };
        line.is_char_boundary(usize::from(self.content_start))
            .then_some(Split {
                content_start: usize::from(self.content_start),
                level,
            })
    }
}

/// The split of a line laid out as a remembered layout, if it is.
pub(super) fn recall(line: &str) -> Option<Split<'_>> {
    let b = line.as_bytes();
    if b.len() < 8 {
        return None;
    }
    TABLE.with(|t| {
        let t = t.borrow();
        let t = t.as_ref()?;
        // Chunks as far as the longest key, and the partial chunk after it.
        let c = Chunks::of(b, 17 - t.keyed.leading_zeros() as usize);
        let mut h = 0;
        for k in 0..c.n {
            h = mix(h, c.key(k));
            let keyed = k + 1;
            if t.keyed & (1 << keyed) == 0 || 8 * keyed > b.len() {
                continue;
            }
            let (tag, set) = tag_and_set(h, keyed);
            for l in &t.sets[set] {
                if l.tag == tag && l.fits(b, &c) {
                    return l.split(line);
                }
            }
        }
        None
    })
}

/// Remembers the layout of `line`, whose recognition read its first `len` bytes (`tokens`
/// tokens) and gave `split` (see the module documentation for what is not remembered).
pub(super) fn remember(line: &str, len: usize, tokens: usize, split: &Split<'_>) {
    let b = line.as_bytes();
    // A line whose first two words ruled a header out was cheap to recognise, and its layout
    // is message words, as varied as the messages: not worth a place.
    let cheap = split.content_start == 0 && tokens <= 2;
    if cheap || !(8..=MAX_LEN).contains(&len) || len > b.len() {
        return;
    }
    let c = Chunks::of(&b[..len], CHUNKS);
    let mut digits = [0u8; CHUNKS];
    let mut all_digits = 0u128;
    for (k, &nd) in c.non_digit.iter().enumerate().take(c.n) {
        for j in 0..8 {
            if 8 * k + j < len && nd >> (8 * j + 7) & 1 == 0 {
                digits[k] |= 1 << j;
                all_digits |= 1 << (8 * k + j);
            }
        }
    }
    if has_epoch_length_run(all_digits) {
        return;
    }
    let level = match split.level {
        Some(l) => {
            let s = l.as_ptr() as usize - line.as_ptr() as usize;
            Some((s as u8, (s + l.len()) as u8))
        }
        None => None,
    };
    let mut layout = Layout {
        tag: 0,
        bytes: [0; CHUNKS],
        digits,
        len: len as u8,
        more: len < b.len(),
        content_start: split.content_start as u8,
        level,
    };
    // `c` holds the first `len` bytes only: zero past them.
    for k in 0..c.n {
        layout.bytes[k] = c.key(k);
    }
    let keyed = len / 8;
    let h = (0..keyed).fold(0, |h, k| mix(h, layout.bytes[k]));
    let set;
    (layout.tag, set) = tag_and_set(h, keyed);
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let t = t.get_or_insert_with(|| Table {
            sets: vec![[Layout::default(); WAYS]; SETS].into_boxed_slice(),
            keyed: 0,
        });
        t.keyed |= 1 << keyed;
        // The newest layout first; the oldest of the set goes.
        let ways = &mut t.sets[set];
        ways.copy_within(..WAYS - 1, 1);
        ways[0] = layout;
    });
}

/// Whether the digit positions `digits` hold a run of exactly 10 or 13 (an epoch time's
/// length, whose first digit decides).
fn has_epoch_length_run(mut digits: u128) -> bool {
    while digits != 0 {
        digits >>= digits.trailing_zeros();
        let run = digits.trailing_ones();
        if run == 10 || run == 13 {
            return true;
        }
        digits = digits.checked_shr(run).unwrap_or(0);
    }
    false
}

#[cfg(test)]
mod tests;
