//! What a difference between a line and a template at one position means: a value (the
//! position becomes `<*>`), or another message (the template is no candidate for the line).
//! The token's class travels in the low bits of its 64-bit hash (set by the miner's
//! `word_tag`), so the decision needs no text and costs a few bit operations. Pure functions of
//! hashes and bytes: the miner imports this module, never the reverse.
//!
//! - Two different capitalised words: another message (see `is_word` in the miner).
//! - Punctuation against anything else: another message. A token of punctuation only is part
//!   of the message's layout, never a value: `****` for a sensor that gave no reading in a
//!   cluster's hardware log (`Fan speeds ( 3552 3534 **** 3515 )` is not the message `Fan
//!   speeds ( 3552 3534 3375 3515 )`), `*` for a lost probe in a traceroute-like prober's,
//!   `->` and `=>` in a kernel's or a build tool's. Not layout: what stands for an empty value,
//!   a lone `-` (a web server's access log writes it for a response without a body or a
//!   request without a referer, `"-"`) and an empty pair of brackets or quotes (`()` for a
//!   peer without a name in an FTP daemon's `connection from 10.0.0.1 () at …`, `""` for an
//!   empty field in a CSV-like line): those merge with the values they stand for.

/// Tag bits in the low bits of a token's hash. A tag is a function of the token's text alone,
/// so a line's token and a template's equal token carry the same tag.
pub(super) const CAPITAL: u64 = 1;
pub(super) const SYMBOLS: u64 = 4;
pub(super) const TAGS: u64 = 7;

/// Whether two different tokens, by their hashes, are two messages rather than one position
/// that holds a value (see the module documentation).
#[inline(always)]
pub(super) fn apart(h: u64, lh: u64) -> bool {
    h & lh & CAPITAL != 0 || (h | lh) & SYMBOLS != 0
}

/// Punctuation only, and neither a template variable (`<*>`, `(<*>)`) nor a placeholder of an
/// empty value: a lone `-`, an empty pair of brackets or quotes, or a `-` inside a pair (`"-"`,
/// `[-]`).
pub(super) fn is_symbols(b: &[u8]) -> bool {
    if !b.iter().all(u8::is_ascii_punctuation) || b.windows(3).any(|w| w == b"<*>") {
        return false;
    }
    // Peel matching pairs of brackets or quotes; what is left must not be empty or a `-`.
    let (mut s, mut e) = (0, b.len());
    while e - s >= 2 && is_pair(b[s], b[e - 1]) {
        s += 1;
        e -= 1;
    }
    !matches!(&b[s..e], b"" | b"-") && !b.windows(2).any(|w| is_pair(w[0], w[1]))
}

/// An opening bracket or quote and its closing one.
fn is_pair(open: u8, close: u8) -> bool {
    matches!(
        (open, close),
        (b'(', b')') | (b'[', b']') | (b'{', b'}') | (b'"', b'"') | (b'\'', b'\'') | (b'<', b'>')
    )
}
