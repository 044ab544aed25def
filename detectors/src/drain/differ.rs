//! What a difference between a line and a template at one position means: a value (the
//! position becomes `<*>`), or another message (the template is no candidate for the line).
//! The token's class travels in the three low bits of its 64-bit hash (set by the miner's
//! `word_tag`), so the decision needs no text: a look-up in a table of class pairs and, for two
//! lower-case words, a look at the template's neighbouring hashes. Pure functions of hashes and
//! bytes: the miner imports this module, never the reverse.
//!
//! - Two different capitalised words, or device names (`eth0` / `eth1`): another message (see
//!   `is_word` in the miner and `is_device_name` in masking).
//! - Punctuation against anything else: another message. A token of punctuation only is part
//!   of the message's layout, never a value: `****` for a sensor that gave no reading in a
//!   cluster's hardware log (`Fan speeds ( 3552 3534 **** 3515 )` is not the message `Fan
//!   speeds ( 3552 3534 3375 3515 )`), `*` for a lost probe in a traceroute-like prober's,
//!   `->` and `=>` in a kernel's or a build tool's. Not layout: what stands for an empty value,
//!   a lone `-` (a web server's access log writes it for a response without a body or a
//!   request without a referer, `"-"`) and an empty pair of brackets or quotes (`()` for a
//!   peer without a name in an FTP daemon's `connection from 10.0.0.1 () at …`, `""` for an
//!   empty field in a CSV-like line): those merge with the values they stand for.
//! - Two different lower-case words: a value (`session opened for alice` / `… for bob` in an
//!   authentication log, `upgraded package curl` / `… vim` in a package manager's: names are
//!   lower-case words as often as not), except where the words' own form or their neighbours
//!   show the grammar of the message, where no name stands; then they are two messages:
//!   - both are past participles (`-ed`, six letters or more, see [`PARTICIPLE`]): verbs that
//!     name the event (`Instance spawned successfully` / `Instance destroyed successfully` in a
//!     hypervisor's log, `port 3 link enabled` / `… disabled` in a switch's, `session opened`
//!     / `session closed` in an authentication log);
//!   - an article follows (`the`, `a`, `an`): the word is a verb or a preposition (`to spawn
//!     the instance` / `to destroy the instance` in a hypervisor's log, `failed to open the
//!     file` / `failed to lock the file` in a package manager's);
//!   - one of them is a unit of measure written out (`bytes`, `seconds`, …) that follows no
//!     number: without a number it names a dimension or a representation, not a measurement
//!     (`stored as bytes` / `stored as values` in a data engine's block manager, `window in
//!     seconds` / `window in requests` in a rate limiter's). After a number (`12 bytes` / `12
//!     blocks`) the word is its unit, which varies with it: a value.

/// A token's class: the three low bits of its hash, a function of the token's text alone (a
/// line's token and a template's equal token carry the same class). A capitalised word is the
/// only odd class (the leaf index tests the lowest bit); 0 is no class.
pub(super) const TAGS: u64 = 7;
/// A capitalised word, or a device name (`eth0`, `sda1`): a name, apart from any other name.
pub(super) const CAPITAL: u64 = 1;
/// A lower-case word: ASCII letters, the first lower-case, and trailing punctuation (`spawn`,
/// `bytes`, `runInThread`, `done.`).
pub(super) const WORD: u64 = 2;
pub(super) const SYMBOLS: u64 = 4;
/// A lower-case word that ends in `ed` and has six letters or more: a past participle
/// (`spawned`, `enabled`, `closed.`; not `fred` nor `ahmed`).
pub(super) const PARTICIPLE: u64 = 6;

/// How two different tokens at one position differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Differ {
    /// A value: the position is (or becomes) a variable.
    Value,
    /// Another message.
    Apart,
    /// Two lower-case words: a value unless their neighbours say otherwise (see
    /// [`words_apart`]).
    Words,
}

const fn is_word_class(c: u64) -> bool {
    c == WORD || c == PARTICIPLE
}

const fn decide(a: u64, b: u64) -> Differ {
    // Punctuation, two capitalised words, two participles.
    let apart = a == SYMBOLS || b == SYMBOLS || (a == b && (a == CAPITAL || a == PARTICIPLE));
    if apart {
        Differ::Apart
    } else if is_word_class(a) && is_word_class(b) {
        Differ::Words
    } else {
        Differ::Value
    }
}

/// [`decide`] for every pair of classes, at `a << 3 | b`.
static DECISIONS: [Differ; 64] = {
    let mut t = [Differ::Value; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = decide((i >> 3) as u64, (i & 7) as u64);
        i += 1;
    }
    t
};

/// What a template's token hash `h` differing from the line's `lh` means, by their classes.
#[inline(always)]
pub(super) fn differ(h: u64, lh: u64) -> Differ {
    DECISIONS[(((h & TAGS) << 3) | (lh & TAGS)) as usize]
}

/// The words [`words_apart`] looks for, lower-case, shorter than eight letters, none ending in
/// `ed` (the miner hashes them as constants; a test checks them against its `token_hash`).
pub(super) const ARTICLES: [&[u8]; 3] = [b"the", b"a", b"an"];
pub(super) const UNITS: [&[u8]; 5] = [b"bytes", b"seconds", b"minutes", b"hours", b"days"];

/// Hashes of the words above, and of `<*>`, from the miner.
pub(super) struct Known {
    pub(super) articles: [u64; ARTICLES.len()],
    pub(super) units: [u64; UNITS.len()],
    pub(super) param: u64,
}

/// For two different lower-case words `h` and `lh` at position `i` of a template whose token
/// hashes are `template` (see [`Differ::Words`]): whether they are two messages, as an article
/// follows or one of them is a unit that follows no number (see the module documentation).
#[inline(never)]
pub(super) fn words_apart(template: &[u64], i: usize, h: u64, lh: u64, known: &Known) -> bool {
    let article = template
        .get(i + 1)
        .is_some_and(|n| known.articles.contains(n));
    let unit = known.units.contains(&h) || known.units.contains(&lh);
    article || (unit && !(i > 0 && template[i - 1] == known.param))
}

/// The class of a token that starts with a lower-case letter: [`WORD`], [`PARTICIPLE`] or 0.
/// `letters` tells that the token is ASCII letters only (its shape says so), sparing the scan.
#[inline]
pub(super) fn lower_class(b: &[u8], letters: bool) -> u64 {
    let mut e = b.len();
    if !letters {
        while e > 0 && matches!(b[e - 1], b'.' | b',' | b';' | b':' | b'!' | b'?') {
            e -= 1;
        }
        if e == 0 || !b[..e].iter().all(u8::is_ascii_alphabetic) {
            return 0;
        }
    }
    if e >= 6 && b[e - 2] == b'e' && b[e - 1] == b'd' {
        PARTICIPLE
    } else {
        WORD
    }
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
