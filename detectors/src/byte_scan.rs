//! The tokenisers' inner loop, shared by masking and header recognition: a token runs to the
//! next white-space byte, and the union of its bytes' classes (from the caller's table) is
//! collected on the way, so later tests can skip what the token cannot be. A leaf.

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
