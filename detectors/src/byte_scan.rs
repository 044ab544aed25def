//! The tokenisers' inner loop, shared by masking and header recognition: a token runs to the
//! next white-space byte, and the union of its bytes' classes (from the caller's table) is
//! collected on the way, so later tests can skip what the token cannot be. And the tests of
//! eight bytes at a time that masking, dates, the miner's hashing and header layouts share: a
//! word read from the bytes, and the lanes of a word that hold a byte below `!`, a digit or a
//! hex digit. A leaf.

/// `1` in each of a word's eight byte lanes.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The top bit of each of a word's eight byte lanes.
pub(crate) const TOPS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes of `b` from `at` as a word, the first in the low byte (`b` holds them).
#[inline(always)]
pub(crate) fn word_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Scans `b` from `i` to the first byte whose class in `table` is `space` (each byte has one
/// class): the end, and the union of the classes seen before it. Four bytes at a time while
/// none of them is white space.
#[inline]
pub(crate) fn scan_token(b: &[u8], mut i: usize, table: &[u8; 256], space: u8) -> (usize, u8) {
    let mut seen = 0;
    while let Some(w) = b.get(i..i + 4) {
        let t = table[usize::from(w[0])]
            | table[usize::from(w[1])]
            | table[usize::from(w[2])]
            | table[usize::from(w[3])];
        if t & space != 0 {
            break;
        }
        seen |= t;
        i += 4;
    }
    while i < b.len() {
        let class = table[usize::from(b[i])];
        if class == space {
            break;
        }
        seen |= class;
        i += 1;
    }
    (i, seen)
}

/// The end of the token at `i`: the first ASCII white-space byte at or after `i` (as
/// `u8::is_ascii_whitespace` has it), or the end of `b`. Eight bytes at a time with no table:
/// a byte below `!` sets its lane's top bit in `x - 0x21…` (the lowest such lane is exact; a
/// borrow can only mark lanes above it), then that byte alone is checked, since control
/// bytes other than white space are part of a token.
#[inline]
pub(crate) fn token_end(b: &[u8], mut i: usize) -> usize {
    while i + 8 <= b.len() {
        let low = below_bang(word_at(b, i));
        if low == 0 {
            i += 8;
            continue;
        }
        let j = i + (low.trailing_zeros() / 8) as usize;
        if b[j].is_ascii_whitespace() {
            return j;
        }
        i = j + 1;
    }
    while i < b.len() && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The lanes of `x` (eight bytes, the first in the low byte) that may hold a byte below `!`,
/// as their top bits: the lowest one set is exact (see [`token_end`]), 0 if there is none.
#[inline]
pub(crate) fn below_bang(x: u64) -> u64 {
    x.wrapping_sub(ONES * u64::from(b'!')) & !x & TOPS
}

/// The top bit of each byte of `x` that is an ASCII digit. The byte minus `0` is below 10 for
/// a digit only; adding `0x76` to its low seven bits sets the top bit from 10 up, and no sum
/// carries into the next byte.
#[inline]
pub(crate) fn digit_lanes(x: u64) -> u64 {
    let y = x ^ (ONES * u64::from(b'0'));
    !(((y & (0x7f * ONES)) + (0x76 * ONES)) | y) & TOPS
}

/// The top bit of each byte of `x` that is an ASCII hex digit. Each test adds to the byte's
/// low seven bits (no carry leaves a lane): `y + 0x80 - lo` has its top bit set when `y >= lo`,
/// `y + 0x7f - hi` when `y > hi`; `| 0x20` lower-cases `A`-`F` and moves no other byte into
/// `a`-`f`.
#[inline]
pub(crate) fn hex_lanes(x: u64) -> u64 {
    let y = x & !TOPS;
    let within = |y: u64, lo: u8, hi: u8| {
        (y + ONES * u64::from(0x80 - lo)) & !(y + ONES * u64::from(0x7f - hi))
    };
    let hex = within(y, b'0', b'9') | within(y | (ONES * 0x20), b'a', b'f');
    hex & !x & TOPS
}

/// The lanes of `x` that may hold the byte `c`, as their top bits: 0 exactly when no lane holds
/// it, and the lowest one set is exact (the classic "has a zero byte" test on `x ^ c…`; a
/// borrow can only mark lanes above a true one).
#[inline]
pub(crate) fn byte_lanes(x: u64, c: u8) -> u64 {
    let y = x ^ (ONES * u64::from(c));
    y.wrapping_sub(ONES) & !y & TOPS
}

/// Whether `c`, a byte below `!` (as the lowest lane [`below_bang`] finds is), is ASCII white
/// space as `u8::is_ascii_whitespace` has it: one bit test. Wrong for bytes from 64 up.
#[inline(always)]
pub(crate) fn is_space_below_bang(c: u8) -> bool {
    // Tab, line feed, form feed, carriage return (bits 9, 10, 12, 13) and space (bit 32).
    (0x1_0000_3600u64 >> (c & 63)) & 1 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `byte_lanes` flags a word exactly when one of its bytes is the byte sought, and its
    /// lowest flagged lane is the first such byte, whatever the bytes around it (0, `0x80`,
    /// the byte plus or minus one, borrows from the lanes below).
    #[test]
    fn byte_lanes_find_a_byte() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        for _ in 0..50_000 {
            let c = [b'<', b'>', b'`', 0, 0x80, 0xff, b'a'][(next() % 7) as usize];
            let pick = [
                c,
                c.wrapping_add(1),
                c.wrapping_sub(1),
                0,
                1,
                0x80,
                0xff,
                b' ',
            ];
            let bytes: [u8; 8] = std::array::from_fn(|_| pick[(next() % 8) as usize]);
            let lanes = byte_lanes(u64::from_le_bytes(bytes), c);
            let first = bytes.iter().position(|&x| x == c);
            assert_eq!(lanes != 0, first.is_some(), "{bytes:?} {c}");
            if let Some(k) = first {
                assert_eq!(lanes.trailing_zeros() as usize, 8 * k + 7, "{bytes:?} {c}");
            }
        }
    }

    /// `is_space_below_bang` is `is_ascii_whitespace` for every byte below `!`.
    #[test]
    fn white_space_below_bang_is_ascii_white_space() {
        for c in 0..b'!' {
            assert_eq!(is_space_below_bang(c), c.is_ascii_whitespace(), "{c}");
        }
    }

    /// `token_end` agrees with a byte-by-byte scan, whatever the bytes (white space, control
    /// bytes, `!`, non-ASCII) and wherever the token starts.
    #[test]
    fn token_end_is_the_first_white_space() {
        let alphabet = [
            b' ', b'\t', b'\n', 0x0b, 0x0c, b'\r', 0, 0x1f, b'!', b'a', 0x80, 0xff, 0x21, 0xa0,
        ];
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let b: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for i in 0..=len {
                let want = i + b[i..]
                    .iter()
                    .take_while(|c| !c.is_ascii_whitespace())
                    .count();
                assert_eq!(token_end(&b, i), want, "{b:?} from {i}");
            }
        }
    }
}
