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
//!   [`TemplateMiner::value_position`]). After a bare variable (`<*>`, not `<*>]` or `<*>,`) a
//!   word is its unit or qualifier (`12 ms` / `3 s`, `5 retries`), which varies with it, and
//!   after `user`, `account` or `host` it is a name: a value at once (see `names_a_value`).

use super::{param_hash, token_hash, Cluster, TemplateMiner};

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

/// The meaning of the template `c`'s token hash `h` differing from the line's `lh` at `i`.
#[inline(always)]
pub(super) fn differ(c: &Cluster, i: usize, h: u64, lh: u64) -> Differ {
    if h & lh & CAPITAL != 0 || (h | lh) & SYMBOLS != 0 {
        Differ::Apart
    } else if h & lh & LOWER != 0 && !(i > 0 && names_a_value(c.hashes[i - 1])) {
        Differ::Word
    } else {
        Differ::Value
    }
}

/// Whether a word after the token hashing to `h` is a value: after a bare variable, its unit
/// (`12 ms` / `3 s`); after a noun that names an account or a host (`user`, `account`,
/// `host`), the name (`session opened for user cyrus` / `… user news` in an authentication
/// log, `login failed for account backup` / `… account deploy` in a directory server's).
fn names_a_value(h: u64) -> bool {
    static NOUNS: std::sync::OnceLock<[u64; 3]> = std::sync::OnceLock::new();
    h == param_hash()
        || NOUNS
            .get_or_init(|| ["user", "account", "host"].map(token_hash))
            .contains(&h)
}

/// A template that the line would join but for one lower-case word.
#[derive(Debug, Clone, Copy)]
struct Near {
    slot: u32,
    /// The position of the word.
    at: usize,
    /// The template's word there.
    word: u64,
    /// The order of the search: equal tokens, parameters, then the older.
    key: (usize, usize, std::cmp::Reverse<u64>),
}

impl TemplateMiner {
    /// When the line matches no template: two templates among `slots` that it would join but
    /// for one lower-case word, at the same position, holding two other words there. That
    /// position has now shown three words: it holds a value, so the line joins the better
    /// (the search's order), which absorbs the other. Returns (joined, absorbed). Runs only for
    /// a line that would otherwise start a template.
    pub(super) fn value_position(
        &self,
        slots: &[u32],
        hashes: &[u64],
        needed: usize,
    ) -> Option<(u32, u32)> {
        let mut near: Vec<Near> = Vec::new();
        'candidates: for &slot in slots {
            let Some(c) = self.cluster(slot) else {
                continue;
            };
            if near.iter().any(|n| n.slot == slot) {
                continue; // an index may give a slot twice
            }
            let (mut equal, mut params, mut at) = (0, 0, None);
            for (i, (&h, &lh)) in c.hashes.iter().zip(hashes).enumerate() {
                if h == lh {
                    equal += 1;
                    continue;
                }
                match differ(c, i, h, lh) {
                    Differ::Value => params += usize::from(c.vars[i]),
                    Differ::Word if at.is_none() => at = Some(i),
                    _ => continue 'candidates,
                }
            }
            if let Some(at) = at.filter(|_| equal >= needed) {
                near.push(Near {
                    slot,
                    at,
                    word: c.hashes[at],
                    key: (equal, params, std::cmp::Reverse(c.id)),
                });
            }
        }
        let mut best: Option<(Near, Near)> = None;
        for a in &near {
            for b in &near {
                let pair = a.at == b.at && a.word != b.word && a.key > b.key;
                let better = best.is_none_or(|(x, y)| (a.key, b.key) > (x.key, y.key));
                if pair && better {
                    best = Some((*a, *b));
                }
            }
        }
        best.map(|(a, b)| (a.slot, b.slot))
    }
}
