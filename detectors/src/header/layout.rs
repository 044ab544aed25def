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
//! Sixteen bytes are compared at a time, as keys: the bytes with each digit set to `0xff`
//! (no UTF-8 text holds that byte, so a key's `0xff` is a digit and nothing else, and equal
//! keys are equal bytes but for digits), in one SSE2 register where there is one (`block`).
//!
//! Layouts are kept by whoever splits a log's lines (a `HeaderSplitter`; `split_header` keeps
//! one per thread), in a table of four-way sets found by hashing a layout's keys and its
//! length. A line is hashed only at a length that a layout starting with its first eight bytes
//! has (a bit per length, per first eight bytes' key) and where the line's white space ends a
//! token (a layout's last byte read is white space, the byte after it is not, unless the line
//! ends there): most lines are hashed once, and a line that no layout starts like stops after
//! its first eight bytes. The line's keys up to the last block holding such a length are made
//! in one pass before the lengths are tried (most lines fit a layout in that block).

use super::lexer::{BYTE, B_SPACE};

mod block;
use block::Block;

/// Where a line's message starts and its level's byte range, as the header recognition found
/// them within the layout's bytes (so each fits a byte).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Split {
    pub(super) content_start: u8,
    pub(super) level: Option<(u8, u8)>,
}

/// Bytes of a layout at most: longer headers are recognised on every line.
const MAX_LEN: usize = 128;
/// Sixteen-byte blocks of a layout at most: a bit each in a `u8`.
const BLOCKS: usize = MAX_LEN / 16;
const _: () = assert!(MAX_LEN.is_multiple_of(16) && BLOCKS <= 8);
/// Sets of the table (a power of two), each of [`WAYS`] layouts: room for the few hundred
/// layouts of a busy mixed log (hosts × programs × pid widths).
const SETS: usize = 512;
const WAYS: usize = 4;
/// Slots of the lengths per first eight bytes (a power of two; a collision costs hashes only).
const STARTS: usize = 1024;
/// Epoch-length runs a layout may hold (see [`epoch_pins`]); a layout with more is not kept.
const MAX_PINS: usize = 2;
const NO_PIN: u8 = u8::MAX;

#[derive(Clone, Copy)]
struct Layout {
    /// The keys of the bytes read (0 past `len`), sixteen at a time.
    bytes: [[u8; 16]; BLOCKS],
    /// Bytes read; whether a byte follows them.
    len: u8,
    more: bool,
    split: Split,
    /// The position and byte of each epoch-length run's first digit ([`NO_PIN`]: none).
    pins: [(u8, u8); MAX_PINS],
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            bytes: [[0; 16]; BLOCKS],
            len: 0,
            more: false,
            split: Split::default(),
            pins: [(NO_PIN, 0); MAX_PINS],
        }
    }
}

/// The lengths of the layouts that start with the same eight bytes (as far as their slot
/// tells): bit `i` of `lens[j]` for a layout `16 * j + i + 1` bytes long, and bit `j` of
/// `blocks` when `lens[j]` has one.
#[derive(Clone, Copy, Default)]
struct Starts {
    blocks: u8,
    lens: [u16; BLOCKS],
}

struct Table {
    /// Per set, its layouts' tags (the hash of their keys and length; 0: an empty way), apart
    /// from the layouts so that a probe reads one cache line.
    tags: Box<[[u64; WAYS]; SETS]>,
    sets: Box<[[Layout; WAYS]; SETS]>,
    /// Per hash of a first eight bytes' key, the lengths worth hashing a line at.
    starts: Box<[Starts; STARTS]>,
}

/// A boxed array of `N` copies of `x`, built on the heap.
fn boxed<T: Clone, const N: usize>(x: T) -> Box<[T; N]> {
    match vec![x; N].into_boxed_slice().try_into() {
        Ok(a) => a,
        Err(_) => unreachable!("a vector of N items"),
    }
}

/// Mixes `x` into the hash `h`.
#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31)
}

/// The slot in [`Table::starts`] of a line whose first eight bytes' key is `k`.
#[inline]
fn start_slot(k: u64) -> usize {
    (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize & (STARTS - 1)
}

/// The tag (never 0) and set of a layout `len` bytes long whose keys' hash is `h`: the
/// [`Block::fold`] of its blocks, the last with the bytes past `len` zeroed.
#[inline]
fn tag_and_set(h: Block, len: usize) -> (u64, usize) {
    let [lo, hi] = h.words();
    let tag = mix(mix(lo, hi), len as u64) | 1;
    (tag, (tag >> 40) as usize & (SETS - 1))
}

impl Layout {
    /// Whether `b` is laid out as this layout, given the keys of its blocks up to block `j`,
    /// the one that holds byte `len - 1`, `len` the length it was found at.
    #[inline]
    fn fits(&self, b: &[u8], keys: &[Block; BLOCKS], j: usize, len: usize) -> bool {
        if usize::from(self.len) != len {
            return false;
        }
        let follows = if self.more {
            b.len() > len && BYTE[usize::from(b[len])] != B_SPACE
        } else {
            b.len() == len
        };
        if !follows {
            return false;
        }
        let mut diff = Block::zero().or_diff(keys[j].keep(len - 16 * j), Block::of(&self.bytes[j]));
        for (k, mine) in keys.iter().zip(&self.bytes).take(j) {
            diff = diff.or_diff(*k, Block::of(mine));
        }
        diff.is_zero()
            && self
                .pins
                .iter()
                .all(|&(p, v)| p == NO_PIN || b[usize::from(p)] == v)
    }

    /// The layout's split, for a line that fits it: before `len` the line's bytes are the
    /// layout's but for ASCII digits, and at `len` follows the white space the layout ends
    /// in, or nothing, so its byte offsets are at the line's character boundaries too.
    #[inline]
    fn split(&self) -> Split {
        self.split
    }
}

/// The layouts remembered from a log's earlier lines. Held by whoever splits the log's lines
/// (one per log or thread), so that a look-up is a plain borrow; the table is made when the
/// first layout is remembered.
#[derive(Default)]
pub(super) struct Layouts {
    table: Option<Table>,
}

impl Layouts {
    /// The split of a line laid out as a remembered layout, if it is.
    pub(super) fn recall(&self, line: &str) -> Option<Split> {
        let t = self.table.as_ref()?;
        let b = line.as_bytes();
        let n = b.len();
        if n < 8 {
            return None;
        }
        let first = Block::line(b, 0).key();
        let starts = &t.starts[start_slot(first.words()[0])];
        // The blocks holding a length of a layout starting as this line, within the line.
        let blocks = u32::from(starts.blocks) & !(u32::MAX << n.div_ceil(16).min(BLOCKS));
        if blocks == 0 {
            return None;
        }
        // The line's keys up to the last such block and the hash of the blocks before each,
        // in one tight pass (a layout is mostly found in that block); then the lengths of
        // those blocks, the shortest first.
        let top = (u32::BITS - 1 - blocks.leading_zeros()) as usize % BLOCKS;
        let mut keys = [first; BLOCKS];
        let mut before = [Block::zero(); BLOCKS];
        let mut j = 1;
        while j <= top {
            before[j] = before[j - 1].fold(keys[j - 1]);
            keys[j] = Block::line(b, 16 * j).key();
            j += 1;
        }
        let mut rest_blocks = blocks;
        while rest_blocks != 0 {
            let j = rest_blocks.trailing_zeros() as usize % BLOCKS;
            rest_blocks &= rest_blocks - 1;
            // A layout's last byte is white space (keys keep it), so the line's must be
            // too; or the line ends there. None past the line's end (a block ending past
            // it reads zeros there, which pass for white space).
            let rest = n - 16 * j;
            let white = keys[j].white();
            let white = if rest > 16 {
                white
            } else {
                (white | 1 << (rest - 1)) & !(u32::MAX << rest)
            };
            let mut ends = u32::from(starts.lens[j]) & white;
            while ends != 0 {
                let i = ends.trailing_zeros() as usize;
                ends &= ends - 1;
                let len = 16 * j + i + 1;
                let (tag, set) = tag_and_set(before[j].fold(keys[j].keep(i + 1)), len);
                if let Some(l) = t.find(set, tag, b, &keys, j, len) {
                    return Some(l.split());
                }
            }
        }
        None
    }

    /// Remembers the layout of `line`, whose recognition read its first `len` bytes (`tokens`
    /// tokens) and found its message at `content_start` and its level `level` (see the module
    /// documentation for what is not remembered).
    pub(super) fn remember(
        &mut self,
        line: &str,
        len: usize,
        tokens: usize,
        content_start: usize,
        level: Option<&str>,
    ) {
        let b = line.as_bytes();
        // A line whose first two words ruled a header out was cheap to recognise, and its
        // layout is message words, as varied as the messages: not worth a place.
        let cheap = content_start == 0 && tokens <= 2;
        if cheap || !(8..=MAX_LEN).contains(&len) || len > b.len() || content_start > len {
            return;
        }
        let level = match level {
            Some(l) => {
                let s = l.as_ptr() as usize - line.as_ptr() as usize;
                if s + l.len() > len {
                    return;
                }
                Some((s as u8, (s + l.len()) as u8))
            }
            None => None,
        };
        let mut bytes = [[0; 16]; BLOCKS];
        let last = (len - 1) / 16;
        let mut h = Block::zero();
        for (j, x) in bytes.iter_mut().enumerate().take(last + 1) {
            let mut k = Block::line(b, 16 * j).key();
            if j == last {
                k = k.keep(len - 16 * j);
            }
            h = h.fold(k);
            *x = k.to_bytes();
        }
        let digits = (0..len)
            .filter(|&p| b[p].is_ascii_digit())
            .fold(0u128, |d, p| d | 1 << p);
        let Some(pins) = epoch_pins(digits, b) else {
            return;
        };
        let layout = Layout {
            bytes,
            len: len as u8,
            more: len < b.len(),
            split: Split {
                content_start: content_start as u8,
                level,
            },
            pins,
        };
        let (tag, set) = tag_and_set(h, len);
        let start = start_slot(Block::line(b, 0).key().words()[0]);
        let t = self.table.get_or_insert_with(|| Table {
            tags: boxed([0; WAYS]),
            sets: boxed([Layout::default(); WAYS]),
            starts: boxed(Starts::default()),
        });
        let s = &mut t.starts[start];
        s.blocks |= 1 << last;
        s.lens[last] |= 1 << (len - 1 - 16 * last);
        // The newest layout first; the oldest of the set goes.
        t.tags[set].copy_within(..WAYS - 1, 1);
        t.tags[set][0] = tag;
        let ways = &mut t.sets[set];
        ways.copy_within(..WAYS - 1, 1);
        ways[0] = layout;
    }
}

impl Table {
    /// The layout of set `set` tagged `tag` that `b` is laid out as (see [`Layout::fits`]),
    /// the newest first.
    #[inline]
    fn find(
        &self,
        set: usize,
        tag: u64,
        b: &[u8],
        keys: &[Block; BLOCKS],
        j: usize,
        len: usize,
    ) -> Option<&Layout> {
        self.sets[set]
            .iter()
            .zip(&self.tags[set])
            .find(|&(l, &way_tag)| way_tag == tag && l.fits(b, keys, j, len))
            .map(|(l, _)| l)
    }
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
