//! Sixteen bytes of a line as header layouts compare them: loaded with the bytes past a length
//! zeroed, keyed (each ASCII digit set to `0xff`, see the layout module), compared, hashed, and
//! tested for white space. In one SSE2 register where there is one, else as two words: both
//! give the same results (the tests compare them).

/// Per count `k` of bytes kept, `0xff` in the first `k` lanes and 0 in the others.
static KEEP: [[u8; 16]; 17] = {
    let mut t = [[0; 16]; 17];
    let mut k = 0;
    while k <= 16 {
        let mut i = 0;
        while i < k {
            t[k][i] = 0xff;
            i += 1;
        }
        k += 1;
    }
    t
};

/// Bytes `at..` of `b` (`at < b.len()`), sixteen of them, zero past `b`'s end: one load when
/// they are all in `b`, else the line's last sixteen bytes shifted (or, in a line shorter than
/// that, a copy).
#[inline]
fn bytes(b: &[u8], at: usize) -> [u8; 16] {
    match b.get(at..at + 16) {
        Some(w) => w.try_into().unwrap_or([0; 16]),
        None => past_end(b, at),
    }
}

fn past_end(b: &[u8], at: usize) -> [u8; 16] {
    let n = b.len();
    match n.checked_sub(16) {
        Some(from) => {
            let w: [u8; 16] = b[from..].try_into().unwrap_or([0; 16]);
            (u128::from_le_bytes(w) >> (8 * (at - from))).to_le_bytes()
        }
        None => {
            let mut w = [0; 16];
            w[..n - at].copy_from_slice(&b[at..]);
            w
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use std::arch::x86_64::{
    __m128i, _mm_add_epi64, _mm_and_si128, _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128,
    _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_setzero_si128,
    _mm_shuffle_epi32, _mm_sub_epi8, _mm_unpackhi_epi64, _mm_xor_si128,
};

// SAFETY (every `unsafe` below): register arithmetic, and loads of 16-byte arrays; the
// `cfg` above makes SSE2 present.

/// Sixteen bytes, the first in the lowest lane.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[derive(Clone, Copy)]
pub(super) struct Block(__m128i);

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
impl Block {
    pub(super) fn zero() -> Block {
        Block(unsafe { _mm_setzero_si128() })
    }

    #[inline]
    pub(super) fn of(w: &[u8; 16]) -> Block {
        Block(unsafe { _mm_loadu_si128(w.as_ptr().cast()) })
    }

    /// Bytes `at..at + 16` of `b` (`at < b.len()`), zero past its end.
    #[inline]
    pub(super) fn line(b: &[u8], at: usize) -> Block {
        Block::of(&bytes(b, at))
    }

    /// The first `k` bytes (`1..=16`), the others zero.
    #[inline]
    pub(super) fn keep(self, k: usize) -> Block {
        Block(unsafe { _mm_and_si128(self.0, Block::of(&KEEP[k]).0) })
    }

    /// Each ASCII digit set to `0xff` (a digit's `byte - b'0'` is at most 9, unsigned).
    #[inline]
    pub(super) fn key(self) -> Block {
        unsafe {
            let d = _mm_sub_epi8(self.0, _mm_set1_epi8(b'0' as i8));
            let digits = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
            Block(_mm_or_si128(self.0, digits))
        }
    }

    /// Per byte, a bit: set for the bytes up to `b' '` (white space among them).
    #[inline]
    pub(super) fn white(self) -> u32 {
        unsafe {
            let low = _mm_cmpeq_epi8(_mm_min_epu8(self.0, _mm_set1_epi8(b' ' as i8)), self.0);
            _mm_movemask_epi8(low) as u32
        }
    }

    /// The bits that differ from `other`'s, gathered into `self`.
    #[inline]
    pub(super) fn or_diff(self, a: Block, b: Block) -> Block {
        Block(unsafe { _mm_or_si128(self.0, _mm_xor_si128(a.0, b.0)) })
    }

    #[inline]
    pub(super) fn is_zero(self) -> bool {
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, _mm_setzero_si128())) == 0xffff }
    }

    /// The hash so far (`self`) with `k` folded in: its two words swapped, then added to
    /// `k`'s (each step is one-to-one, so one block's change always changes the hash).
    #[inline]
    pub(super) fn fold(self, k: Block) -> Block {
        Block(unsafe { _mm_add_epi64(_mm_shuffle_epi32(self.0, 0b01_00_11_10), k.0) })
    }

    #[inline]
    pub(super) fn words(self) -> [u64; 2] {
        unsafe {
            [
                _mm_cvtsi128_si64(self.0) as u64,
                _mm_cvtsi128_si64(_mm_unpackhi_epi64(self.0, self.0)) as u64,
            ]
        }
    }

    pub(super) fn to_bytes(self) -> [u8; 16] {
        let [lo, hi] = self.words();
        (u128::from(lo) | u128::from(hi) << 64).to_le_bytes()
    }
}

#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
use crate::byte_scan::{digit_lanes, ONES, TOPS};

/// The same operations on two words, where there is no SSE2 (and in the tests, to check the
/// SSE2 ones against).
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Words([u64; 2]);

/// `0xff` in each byte whose top bit is set in `tops`.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn lanes(tops: u64) -> u64 {
    (tops >> 7) * 0xff
}

/// The top bits of `tops`' bytes as the low eight bits.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn gather(tops: u64) -> u32 {
    ((((tops >> 7) & ONES).wrapping_mul(0x0102_0408_1020_4080)) >> 56) as u32
}

/// The top bit of each byte of `x` that is at most `c` (`c < 0x80`).
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn at_most(x: u64, c: u8) -> u64 {
    let ones = ONES;
    !((((x & !TOPS) + ones * u64::from(0x7f - c)) | x) & TOPS) & TOPS
}

#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
impl Words {
    pub(super) fn zero() -> Words {
        Words([0; 2])
    }

    pub(super) fn of(w: &[u8; 16]) -> Words {
        let x = u128::from_le_bytes(*w);
        Words([x as u64, (x >> 64) as u64])
    }

    pub(super) fn line(b: &[u8], at: usize) -> Words {
        Words::of(&bytes(b, at))
    }

    pub(super) fn keep(self, k: usize) -> Words {
        let keep = Words::of(&KEEP[k]).0;
        Words([self.0[0] & keep[0], self.0[1] & keep[1]])
    }

    pub(super) fn key(self) -> Words {
        Words(self.0.map(|x| x | lanes(digit_lanes(x))))
    }

    pub(super) fn white(self) -> u32 {
        let [lo, hi] = self.0;
        gather(at_most(lo, b' ')) | gather(at_most(hi, b' ')) << 8
    }

    pub(super) fn or_diff(self, a: Words, b: Words) -> Words {
        Words([self.0[0] | (a.0[0] ^ b.0[0]), self.0[1] | (a.0[1] ^ b.0[1])])
    }

    pub(super) fn is_zero(self) -> bool {
        self.0 == [0; 2]
    }

    pub(super) fn fold(self, k: Words) -> Words {
        Words([
            self.0[1].wrapping_add(k.0[0]),
            self.0[0].wrapping_add(k.0[1]),
        ])
    }

    pub(super) fn words(self) -> [u64; 2] {
        self.0
    }

    pub(super) fn to_bytes(self) -> [u8; 16] {
        (u128::from(self.0[0]) | u128::from(self.0[1]) << 64).to_le_bytes()
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
pub(super) type Block = Words;

#[cfg(test)]
mod tests {
    use super::{Block, Words};

    fn same(a: Block, b: Words) -> bool {
        a.words() == b.words()
    }

    /// Every operation on a register equals the one on two words, and keys and white bits are
    /// the digits and the bytes up to a space: for every byte at every lane among digits,
    /// letters or spaces, and for random bytes.
    #[test]
    fn registers_and_words_agree() {
        let mut blocks = vec![];
        for v in 0..=255u8 {
            for j in 0..16 {
                for fill in [b'a', b'7', b' '] {
                    let mut w = [fill; 16];
                    w[j] = v;
                    blocks.push(w);
                }
            }
        }
        let mut next = crate::test_rng::xorshift(22);
        for _ in 0..20_000 {
            let (x, y) = (next(), next());
            blocks.push((u128::from(x) | u128::from(y) << 64).to_le_bytes());
        }
        let mut acc = (Block::zero(), Words::zero());
        for w in &blocks {
            let (r, s) = (Block::of(w), Words::of(w));
            assert!(same(r, s));
            assert!(same(r.key(), s.key()), "{w:?}");
            assert_eq!(r.white(), s.white(), "{w:?}");
            assert_eq!(r.to_bytes(), *w);
            assert_eq!(s.to_bytes(), *w);
            assert_eq!(r.is_zero(), *w == [0; 16]);
            assert_eq!(s.is_zero(), *w == [0; 16]);
            acc = (acc.0.fold(r.key()), acc.1.fold(s.key()));
            assert!(same(acc.0, acc.1));
            let d = (r.or_diff(r, Block::zero()), s.or_diff(s, Words::zero()));
            assert!(same(d.0, d.1));
            let (key, white) = (r.key().to_bytes(), r.white());
            for (j, &c) in w.iter().enumerate() {
                assert_eq!(key[j], if c.is_ascii_digit() { 0xff } else { c });
                assert_eq!(white >> j & 1 == 1, c <= b' ');
            }
            for k in 1..=16 {
                assert!(same(r.keep(k), s.keep(k)));
                assert_eq!(r.keep(k).to_bytes()[..k], w[..k]);
                assert!(r.keep(k).to_bytes()[k..].iter().all(|&c| c == 0));
            }
        }
    }

    /// A key sets exactly the digits to `0xff`; the white bits are the bytes up to a space;
    /// a block read at the end of a line holds its bytes and zeros, however short the line.
    #[test]
    fn blocks_key_digits_and_find_white_space() {
        let w = *b"a1/9:0Z\xff \t\x01!~ 0x";
        let k = Block::of(&w).key().to_bytes();
        assert_eq!(k, *b"a\xff/\xff:\xffZ\xff \t\x01!~ \xffx");
        assert_eq!(Block::of(&w).white(), 0b0010_0111_0000_0000);
        let text = b"2024-05-01 10:00:00.123 INFO x";
        for n in 1..=text.len() {
            let line = &text[..n];
            for at in 0..n {
                let got = Block::line(line, at).to_bytes();
                let end = n.min(at + 16);
                assert_eq!(got[..end - at], line[at..end], "{n} {at}");
                assert!(got[end - at..].iter().all(|&c| c == 0), "{n} {at}");
                assert!(same(Block::line(line, at), Words::line(line, at)));
            }
        }
    }
}
