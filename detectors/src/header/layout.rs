//! Header layouts remembered from earlier lines, so that a line laid out as one of them is
//! split without being recognised again: a log repeats a few layouts (`Jun 14 15:16:01 combo
//! sshd[19939]: `, `2024-05-01T10:00:00.123Z INFO  [main] db.Pool - `) on most of its lines,
//! with other digits.
//!
//! A layout is the bytes the recognition read (the header, the white space after it, and
//! whether a byte follows), with each digit position marked "any digit": the recognition's
//! decisions depend on a digit only by its being a digit, except the epoch rule (a 10- or
//! 13-digit number starting with `1`), so the first digit of each run of that length is kept
//! as it was (`1131566461` fits `1077804742`, not `2131566461`). Every other byte must be
//! equal, letters included (`Jun` and `June`, `INFO` and `INFX` are other layouts). A line
//! matches a layout when its bytes there are the same, its digits at the same places, and a
//! byte follows (or not) as it did; it then gets the layout's split.
//!
//! Eight bytes are compared at a time, as keys: a `u64` of the line's bytes with each digit
//! set to `0xff` by byte-wise arithmetic (no UTF-8 text holds that byte, so a key's `0xff` is
//! a digit and nothing else, and equal keys are equal bytes but for digits). A line's keys
//! are made two at a time, in one SSE2 register where there is one.
//!
//! Layouts are kept per thread (the miner of a log runs on one), in a table of four-way sets
//! found by hashing the keys of a layout's first `8 * k` bytes (its length rounded down). A
//! line is hashed chunk by chunk, and probed only at the lengths that layouts starting with
//! its first chunk have (a bit set per first chunk's hash): most lines are probed once or
//! twice, and a line that no layout starts like stops after its first chunk.

use std::cell::RefCell;

use super::lexer::{BYTE, B_SPACE};
use crate::byte_scan::{digit_lanes, TOPS as HIGH};

/// Where a line's message starts and its level's byte range, as the header recognition found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Split<'a> {
    pub(super) content_start: usize,
    pub(super) level: Option<&'a str>,
}

/// Bytes of a layout at most: longer headers are recognised on every line.
const MAX_LEN: usize = 128;
const CHUNKS: usize = MAX_LEN / 8;
// Digit positions are the bits of a `u128`, layout lengths the bits of a `u32`.
const _: () = assert!(MAX_LEN <= 128 && MAX_LEN.is_multiple_of(8) && CHUNKS < 32);
/// Sets of the table (a power of two), each of [`WAYS`] layouts: room for the few hundred
/// layouts of a busy mixed log (hosts × programs × pid widths). Layouts alike in their first
/// multiple of eight bytes share a set (`"GET ` and `"POST ` after the same date): a few ways.
const SETS: usize = 512;
const WAYS: usize = 4;
/// Slots of the lengths per first chunk (a power of two; a collision costs probes only).
const STARTS: usize = 1024;
/// Epoch-length runs a layout may hold (see [`epoch_pins`]); a layout with more is not kept.
const MAX_PINS: usize = 2;
const NO_PIN: u8 = u8::MAX;

/// Per byte of `x`, its high bit set when the byte is no ASCII digit (see [`digit_lanes`]).
fn non_digits(x: u64) -> u64 {
    !digit_lanes(x) & HIGH
}

/// `0xff` in each byte whose high bit is set in `high`.
fn bytes_of(high: u64) -> u64 {
    (high >> 7) * 0xff
}

/// Chunk `x`'s key: its digits set to `0xff` (see the module documentation).
#[inline]
fn key(x: u64) -> u64 {
    x | bytes_of(!non_digits(x) & HIGH)
}

/// The keys of chunks `a` and `b`: [`key`] of each, 16 bytes at a time where SSE2 is (the
/// digits found by `byte - b'0'` being at most 9, unsigned).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn key_pair(a: u64, b: u64) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_min_epu8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x, _mm_sub_epi8, _mm_unpackhi_epi64,
    };
    // SAFETY: register arithmetic only, and the `cfg` above makes SSE2 present.
    unsafe {
        let v = _mm_set_epi64x(b as i64, a as i64);
        let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let digits = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
        let k = _mm_or_si128(v, digits);
        (
            _mm_cvtsi128_si64(k) as u64,
            _mm_cvtsi128_si64(_mm_unpackhi_epi64(k, k)) as u64,
        )
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
fn key_pair(a: u64, b: u64) -> (u64, u64) {
    (key(a), key(b))
}

/// Sets `keys[from..to]` to the keys of `chunks[from..to]`, two at a time.
#[inline]
fn fill_keys(keys: &mut [u64; CHUNKS], chunks: &[[u8; 8]], from: usize, to: usize) {
    let mut i = from;
    while i + 1 < to {
        let (x, y) = key_pair(
            u64::from_le_bytes(chunks[i]),
            u64::from_le_bytes(chunks[i + 1]),
        );
        keys[i] = x;
        keys[i + 1] = y;
        i += 2;
    }
    if i < to {
        keys[i] = key(u64::from_le_bytes(chunks[i]));
    }
}

/// Bytes `8k..` of `b`, up to eight, zero past its end.
fn partial_chunk(b: &[u8], k: usize) -> u64 {
    let r = &b[(8 * k).min(b.len())..];
    let n = r.len().min(8);
    let mut w = [0; 8];
    w[..n].copy_from_slice(&r[..n]);
    u64::from_le_bytes(w)
}

#[derive(Clone, Copy)]
struct Layout {
    /// The keys of the bytes read (0 past `len`).
    bytes: [u64; CHUNKS],
    /// Bytes read; whether a byte follows them.
    len: u8,
    more: bool,
    content_start: u8,
    /// The level's byte range.
    level: Option<(u8, u8)>,
    /// The position and byte of each epoch-length run's first digit ([`NO_PIN`]: none).
    pins: [(u8, u8); MAX_PINS],
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            bytes: [0; CHUNKS],
            len: 0,
            more: false,
            content_start: 0,
            level: None,
            pins: [(NO_PIN, 0); MAX_PINS],
        }
    }
}

struct Table {
    /// Per set, its layouts' tags (the hash of their first `8 * k` bytes' keys, and `k`; 0: an
    /// empty way), apart from the layouts so that a probe reads one cache line.
    tags: Box<[[u64; WAYS]]>,
    sets: Box<[[Layout; WAYS]]>,
    /// Per hash of a first chunk's key, bit `k` set when a layout starting so is keyed by its
    /// first `8 * k` bytes: the probes worth making.
    starts: Box<[u32]>,
}

thread_local! {
    static TABLE: RefCell<Option<Table>> = const { RefCell::new(None) };
}

/// Mixes chunk `x` into the hash `h`.
#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31)
}

/// The slot in [`Table::starts`] of a line whose first chunk's hash is `h`.
#[inline]
fn start_slot(h: u64) -> usize {
    (h >> 44) as usize & (STARTS - 1)
}

/// The tag of a layout keyed by `keyed` chunks whose hash is `h` (never 0), and its set.
#[inline]
fn tag_and_set(h: u64, keyed: usize) -> (u64, usize) {
    let tag = mix(h, keyed as u64) | 1;
    (tag, (tag >> 40) as usize & (SETS - 1))
}

impl Layout {
    /// Whether `b` (at least 8 bytes) is laid out as this layout, given the keys of its first
    /// chunks (those it holds whole).
    #[inline]
    fn fits(&self, b: &[u8], keys: &[u64]) -> bool {
        let len = usize::from(self.len);
        let follows = if self.more {
            b.len() > len && BYTE[usize::from(b[len])] != B_SPACE
        } else {
            b.len() == len
        };
        let (full, rest) = (len / 8, len % 8);
        if full > keys.len() {
            return false;
        }
        let (keys, keys_after) = keys.split_at(full);
        if !follows {
            return false;
        }
        // The partial chunk first: layouts sharing a set differ there. Its bytes are the last
        // ones of the eight that end at it or at the line's end, whichever comes first (one
        // load, no copy).
        if rest != 0 {
            let tail = match keys_after.first() {
                Some(&k) => k,
                None => {
                    let at = (8 * full).min(b.len() - 8);
                    let w = u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
                    key(w >> (8 * (8 * full - at)))
                }
            };
            if tail & ((1 << (8 * rest)) - 1) != self.bytes[full] {
                return false;
            }
        }
        let diff = keys
            .iter()
            .zip(&self.bytes)
            .fold(0, |d, (k, x)| d | (k ^ x));
        diff == 0
            && self
                .pins
                .iter()
                .all(|&(p, v)| p == NO_PIN || b[usize::from(p)] == v)
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
    let (chunks, _) = b.as_chunks::<8>();
    let chunks = &chunks[..chunks.len().min(CHUNKS)];
    if chunks.is_empty() {
        return None;
    }
    TABLE.with(|t| {
        let t = t.borrow();
        let t = t.as_ref()?;
        let mut keys = [0; CHUNKS];
        // The first two chunks at once: most lines are probed at a length past them.
        let mut loaded = chunks.len().min(2);
        fill_keys(&mut keys, chunks, 0, loaded);
        let mut h = mix(0, keys[0]);
        // The lengths of layouts starting as this line, that it is long enough for.
        let mut lengths = t.starts[start_slot(h)] & ((2 << chunks.len()) - 1);
        // Chunks keyed (`loaded`), and hashed into `h`.
        let mut hashed = 1;
        while lengths != 0 {
            let keyed = lengths.trailing_zeros() as usize;
            lengths &= lengths - 1;
            // With the chunk after, which most layouts end in.
            let ahead = (keyed + 1).min(chunks.len());
            if ahead > loaded {
                fill_keys(&mut keys, chunks, loaded, ahead);
                loaded = ahead;
            }
            for &x in &keys[hashed.min(keyed)..keyed] {
                h = mix(h, x);
            }
            hashed = keyed.max(hashed);
            let (tag, set) = tag_and_set(h, keyed);
            for (l, &way_tag) in t.sets[set].iter().zip(&t.tags[set]) {
                if way_tag == tag && l.fits(b, &keys[..loaded]) {
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
    let read = &b[..len];
    let mut bytes = [0; CHUNKS];
    let mut digits = 0u128;
    for (k, x) in bytes.iter_mut().enumerate().take(len.div_ceil(8)) {
        let chunk = partial_chunk(read, k);
        *x = key(chunk);
        let mut d = !non_digits(chunk) & HIGH;
        while d != 0 {
            digits |= 1 << (8 * k + d.trailing_zeros() as usize / 8);
            d &= d - 1;
        }
    }
    let Some(pins) = epoch_pins(digits, b) else {
        return;
    };
    let level = match split.level {
        Some(l) => {
            let s = l.as_ptr() as usize - line.as_ptr() as usize;
            Some((s as u8, (s + l.len()) as u8))
        }
        None => None,
    };
    let layout = Layout {
        bytes,
        len: len as u8,
        more: len < b.len(),
        content_start: split.content_start as u8,
        level,
        pins,
    };
    let keyed = len / 8;
    let h = (0..keyed).fold(0, |h, k| mix(h, bytes[k]));
    let (tag, set) = tag_and_set(h, keyed);
    let start = start_slot(mix(0, bytes[0]));
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let t = t.get_or_insert_with(|| Table {
            tags: vec![[0; WAYS]; SETS].into_boxed_slice(),
            sets: vec![[Layout::default(); WAYS]; SETS].into_boxed_slice(),
            starts: vec![0; STARTS].into_boxed_slice(),
        });
        t.starts[start] |= 1 << keyed;
        // The newest layout first; the oldest of the set goes.
        t.tags[set].copy_within(..WAYS - 1, 1);
        t.tags[set][0] = tag;
        let ways = &mut t.sets[set];
        ways.copy_within(..WAYS - 1, 1);
        ways[0] = layout;
    });
}

/// The first digit of each run of exactly 10 or 13 digits (an epoch time's length, whose first
/// digit decides) among the digit positions `digits` of `b`, with its byte; `None` when there
/// are more than [`MAX_PINS`].
fn epoch_pins(mut digits: u128, b: &[u8]) -> Option<[(u8, u8); MAX_PINS]> {
    let mut pins = [(NO_PIN, 0); MAX_PINS];
    let (mut n, mut at) = (0, 0);
    while digits != 0 {
        let skip = digits.trailing_zeros();
        digits >>= skip;
        at += skip;
        let run = digits.trailing_ones();
        if run == 10 || run == 13 {
            *pins.get_mut(n)? = (at as u8, b[at as usize]);
            n += 1;
        }
        digits = digits.checked_shr(run).unwrap_or(0);
        at += run;
    }
    Some(pins)
}

#[cfg(test)]
mod tests;
