//! What a difference between a line and a template means: a value (the position becomes
//! `<*>`), or another message (the template is no candidate). The token's class travels in the
//! low bits of its 64-bit hash (see `word_tag` in the miner), so the decision needs no text.
//!
//! - Two different capitalised words: another message (see `is_word` in the miner).
//! - Punctuation against anything else: another message. A token of punctuation only is part
//!   of the message's layout, never a value: `****` for a sensor that gave no reading in a
//!   cluster's hardware log (`Fan speeds ( 3552 3534 **** 3515 )` is not `Fan speeds ( 3552
//!   3534 3375 3515 )`), `->` and `--` in a kernel's or a mail server's, `=` and `-` in an
//!   installer's or a phone's.
//! - Two different lower-case words where the template's previous token is no bare variable: a
//!   constant that names the event (`stored as bytes in memory` / `stored as values in memory`
//!   in a data engine's block manager, `Took 3 seconds to spawn the instance` / `… to destroy
//!   the instance` in a hypervisor's, `link up` / `link down` in a router's), until the
//!   position has shown a third word: then it holds a value (`session opened for user cyrus` /
//!   `news` / `test` in an authentication log, `removing chargen` / `echo` / `time` in an inet
//!   daemon's), and the templates that differ only there become one (see
//!   the miner's `value_position`). After a bare variable (`<*>`, not `<*>]` or `<*>,`) a
//!   word is its unit or qualifier (`12 ms` / `3 s`, `5 retries`), which varies with it, and
//!   after `user`, `account` or `host` it is a name: a value at once (see the miner's
//!   `names_a_value`).

/// Tag bits in the low bits of a token's hash (see `word_tag`).
pub(super) const CAPITAL: u64 = 1;
pub(super) const LOWER: u64 = 2;
pub(super) const SYMBOLS: u64 = 4;
pub(super) const TAGS: u64 = CAPITAL | LOWER | SYMBOLS;

/// A lower-case word of the message's text: ASCII letters only, the first lower-case
/// (`stored`, `spawn`, `bytes`; not `done.`, whose shape the line's tokens do not tell without
/// a scan). Units are words here: after a variable they are values anyway (see [`differ`]).
pub(super) fn is_lower_word(b: &[u8]) -> bool {
    b.first().is_some_and(u8::is_ascii_lowercase) && b.iter().all(u8::is_ascii_alphabetic)
}

/// Punctuation only (`****`, `->`, `--`, `=`), and no template variable (`<*>`, `(<*>)`) nor
/// an empty pair of brackets or quotes: `()` and `""` hold an empty value (a peer without a
/// name in an FTP daemon's `connection from 10.0.0.1 () at …`, an empty field in a CSV-like
/// line), which merges with a filled one.
pub(super) fn is_symbols(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_punctuation)
        && !b.windows(3).any(|w| w == b"<*>")
        && !b
            .windows(2)
            .any(|w| matches!(w, b"()" | b"[]" | b"{}" | b"\"\"" | b"''"))
}

/// How a line's token differs from the template's at one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Differ {
    /// A value: the position is (or becomes) a variable.
    Value,
    /// Two lower-case words: another message unless the position holds a value.
    Word,
    /// Another message.
    Apart,
}

/// The meaning of a template's token hash `h` differing from the line's `lh` at a position;
/// `after_value` tells whether the template's previous token makes a word there a value (see
/// the miner's `names_a_value`), asked only for two lower-case words.
#[inline(always)]
pub(super) fn differ(h: u64, lh: u64, after_value: impl FnOnce() -> bool) -> Differ {
    if h & lh & CAPITAL != 0 || (h | lh) & SYMBOLS != 0 {
        Differ::Apart
    } else if h & lh & LOWER != 0 && !after_value() {
        Differ::Word
    } else {
        Differ::Value
    }
}
