//! Masking of variable tokens, before template mining.
//!
//! A log message is split on ASCII white space into tokens, and each token is rewritten so that
//! the parts that vary between occurrences of one message become the parameter marker `<*>`:
//!
//! - Whole tokens (after stripping surrounding brackets, quotes and trailing punctuation) that
//!   are a number, an IPv4/IPv6 address (with or without port), a UUID, a date or time, or any
//!   other run of digits and punctuation without letters; file system paths (`/a/b`, `./a`,
//!   `~/a`, `C:\a`) and URLs (`scheme://…`). See [`MaskClass`].
//! - Inside other tokens: every alphanumeric run that contains a digit (hex ids such as
//!   `a64f992`, `0x1f`, durations such as `12ms`, counters such as `node-246`), together with a
//!   minus sign in front of it, except in a device's name (`eth0`, see [`is_device_name`]);
//!   every UUID; the booleans `true`/`false` (any case) and capitalised month and weekday
//!   abbreviations (`Jul`, `Sun`: dates written out).
//! - Tokens longer than [`MAX_TOKEN_BYTES`] (blobs, base64) are masked whole.
//!
//! The classifiers are hand-written byte scanners (no regular expression per token): one pass
//! over the token, no allocation; the result is appended to a caller-owned buffer.

use crate::byte_scan::{below_bang, hex_lanes, scan_token, token_end, word_at, ONES, TOPS};
use crate::variable_form::{collapse, VariableForm, MAX_MASKED, SHORT_MASKED};

/// Parameter marker, as in Drain and Loghub templates.
pub const PARAM: &str = "<*>";

/// Tokens longer than this are masked whole: they are data, not words.
pub const MAX_TOKEN_BYTES: usize = 128;

/// Where the masked text of a token goes: a `String`, or a hash of its bytes fed piece by piece
/// (the template miner compares tokens by hash and need not build the text).
pub trait Sink {
    fn push(&mut self, s: &str);
    /// `push(PARAM)`, which a hash can take in one step.
    fn push_param(&mut self) {
        self.push(PARAM);
    }
}

impl Sink for String {
    fn push(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// What a whole token was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskClass {
    /// Integer or decimal, signed, with exponent, or `0x` hex.
    Number,
    /// IPv4 with optional port, or IPv6.
    Ip,
    /// `8-4-4-4-12` hex digits.
    Uuid,
    /// A number with a time unit: `12ms`, `1.5s`, `1m30s`.
    Duration,
    /// Hex string of 8 or more digits that contains a decimal digit.
    HexId,
    /// Any other run of digits and punctuation, without letters (dates, times, versions).
    Numeric,
    /// Absolute or relative file path, or URL.
    Path,
    /// A host name: an FQDN (`api.example.com`, `node7.cluster.local`), with an optional port,
    /// or a single name with a digit or hyphen before a port or an address (`db-1:5432`,
    /// `msra-sa-41/10.190.173.170:8030`).
    Host,
    /// An e-mail address, `alice@example.com` (a mail server's recipients, an identity
    /// provider's users).
    Email,
    /// A MAC address, `00:1a:2b:3c:4d:5e`, `AA-BB-CC-DD-EE-FF`, `0011.2233.4455` (a DHCP
    /// server's leases, a wireless driver's peers).
    Mac,
    /// Longer than [`MAX_TOKEN_BYTES`].
    Blob,
}

/// Classifies a whole token (brackets, quotes and trailing punctuation included: they are
/// stripped first). `None` when the token is not variable as a whole; parts of it may still be
/// masked by [`mask_token`].
pub fn classify(token: &str) -> Option<MaskClass> {
    if token.len() > MAX_TOKEN_BYTES {
        return Some(MaskClass::Blob);
    }
    let (s, e) = core_bounds(token.as_bytes());
    classify_core(&token.as_bytes()[s..e])
}

/// Masks one token (no white space in it), appending the result to `out`.
///
/// One pass over the token with the [`CLASS`] table tells its shape; only the tokens that hold
/// both digits and letters (or non-ASCII bytes) need the full classification. The shortcuts give
/// the same result as the full path (the tests compare the two), they only skip work:
/// the bytes stripped by [`core_bounds`] are brackets, quotes and punctuation, so the core has
/// the same digits and letters as the token.
pub fn mask_token(token: &str, out: &mut String) {
    let shape = token
        .bytes()
        .fold(0u8, |acc, c| acc | CLASS[usize::from(c)]);
    if !mask_parts(token, Shape(shape), out) {
        out.push_str(token);
    }
}

/// Masks a token whose shape (the union of its bytes' [`CLASS`]es) is known, in the given
/// [`VariableForm`]. When masking changes the token, appends the masked token to `out` and
/// returns true; otherwise leaves `out` as it is and returns false, so that unchanged tokens
/// (most of them) are never copied.
pub(crate) fn mask_shaped<S: Sink>(
    token: &str,
    shape: Shape,
    form: VariableForm,
    out: &mut S,
) -> bool {
    let b = token.as_bytes();
    // Blobs and plain words (most tokens) become `<*>` or stay, in either form: no buffer.
    if b.len() > MAX_TOKEN_BYTES || shape.0 == ALPHA {
        return mask_parts(token, shape, out);
    }
    // Digits alone (a count, a port, a status code) are a whole core that is a number (see
    // `whole_core`): `<*>` in either form.
    if shape.0 == DIGIT {
        out.push_param();
        return true;
    }
    // The tokens that vary on most lines (ids, `key=value`, a process id) are decided in one
    // short pass when they have one of the frequent forms.
    match frequent(b, shape.0, form) {
        Some(Frequent::Kept) => return false,
        Some(Frequent::Masked { open, close }) => {
            if open > 0 {
                out.push(&token[..open]);
            }
            out.push_param();
            if close < b.len() {
                out.push(&token[close..]);
            }
            return true;
        }
        None => {}
    }
    // The core is classified once, here: the finer form and the buffer below reuse it.
    let core = whole_core(b, shape.0);
    if form == VariableForm::Parts {
        return mask_classified(token, shape, core, out);
    }
    // A whole variable between brackets and punctuation (`<*>,`, `(<*>)`, `[<*>]:`), most
    // masked tokens, is its own whole-token form: no buffer, no second pass. Not so around
    // `<`, `>` or a backquote (no delimiters), nor alone in quotes (bare).
    if let Some((s, e)) = core {
        let plain = |x: &[u8]| !x.iter().any(|c| matches!(c, b'<' | b'>' | b'`'));
        let quoted = s == 1 && e + 1 == b.len() && matches!(b[0], b'"' | b'\'') && b[0] == b[e];
        if plain(&b[..s]) && plain(&b[e..]) && !quoted {
            out.push(&token[..s]);
            out.push_param();
            out.push(&token[e..]);
            return true;
        }
    }
    // A masked token is at most 3 bytes per byte of the token: most fit the short buffer.
    if 3 * b.len() <= SHORT_MASKED {
        mask_buffered::<SHORT_MASKED, S>(token, shape, core, out)
    } else {
        mask_buffered::<MAX_MASKED, S>(token, shape, core, out)
    }
}

/// The end of [`mask_shaped`] in the whole-token form: the finer form in a [`TokenBuf`] of `N`
/// bytes, collapsed.
fn mask_buffered<const N: usize, S: Sink>(
    token: &str,
    shape: Shape,
    core: Option<(usize, usize)>,
    out: &mut S,
) -> bool {
    let mut buf = TokenBuf::<N>::new();
    if !mask_classified(token, shape, core, &mut buf) {
        return false;
    }
    match buf.as_str() {
        // The commonest result (numbers, ids, addresses) is whole already.
        PARAM => out.push_param(),
        masked => collapse(masked, |t| out.push(t)),
    }
    true
}

/// Where the value starts (after `=`) when `b` is a key of lower-case words joined by `_` and a
/// number of digits joined by single dots: `rows=53354` in a database's log, `total=96.14` in a
/// shop's, `ver=1.2.3` in a deployment's. Masking keeps the key (no digit in it, no value word
/// such as `true`), masks the number's digit runs (its value is no path, host or address, see
/// `value_at`, but for a MAC address's `dddd.dddd.dddd`, masked whole) and `collapse` joins
/// them over their dots: `key=<*>` in the whole-token form, whatever the number (a blob's
/// length aside, which `mask_shaped` settles first). [`frequent`] takes it so.
#[cfg(test)]
fn key_number(b: &[u8]) -> Option<usize> {
    pair_key(b).filter(|&from| is_dotted_number(&b[from..]))
}

/// [`mask_shaped`] in the finer form ([`VariableForm::Parts`]).
fn mask_parts<S: Sink>(token: &str, Shape(shape): Shape, out: &mut S) -> bool {
    let b = token.as_bytes();
    if b.len() > MAX_TOKEN_BYTES {
        out.push_param();
        return true;
    }
    // The most common token, a plain word: only the value words apply.
    if shape == ALPHA {
        if is_variable_word(b) {
            out.push_param();
            return true;
        }
        return false;
    }
    mask_classified(token, Shape(shape), whole_core(b, shape), out)
}

/// [`mask_parts`] of a token that is neither a blob nor a plain word, whose core's
/// [`whole_core`] is `core`.
fn mask_classified<S: Sink>(
    token: &str,
    Shape(shape): Shape,
    core: Option<(usize, usize)>,
    out: &mut S,
) -> bool {
    let b = token.as_bytes();
    if let Some((s, e)) = core {
        out.push(&token[..s]);
        out.push_param();
        out.push(&token[e..]);
        return true;
    }
    if is_device_name(b) {
        return false;
    }
    // A class name starts with a lower-case package and has dots (and no slash, which no
    // bracket around it holds either).
    if shape & (DIGIT | OTHER | SLASH) == DIGIT | OTHER
        && b[0].is_ascii_lowercase()
        && b.contains(&b'.')
        && is_java_name_token(b)
    {
        return false;
    }
    mask_runs(token, out)
}

/// A device's name: lower-case letters and one digit, bare (no bracket or quote before it),
/// perhaps followed by punctuation: a network interface (`eth0`, `wlan1`, `ee0` and `alt0` in a
/// cluster's network monitor), a disk or partition (`sda1`, `md0` in a kernel's or a RAID
/// tool's log), a terminal (`tty2` in a login daemon's). A machine has a few of them, fixed,
/// each named like a word: the name is text, and two of them at one position are two messages
/// (`via interface ee0` / `via interface alt0`), as two capitalised words are (see the miner's
/// `word_tag`). Counters run to more digits (`node-246`, `an14`) and stay values, and so does a
/// name in brackets (`(eadmin1)`: a host shown as a value).
pub(crate) fn is_device_name(b: &[u8]) -> bool {
    let letters = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
    letters > 0
        && b.get(letters).is_some_and(u8::is_ascii_digit)
        && b[letters + 1..]
            .iter()
            .all(|c| matches!(c, b'.' | b',' | b';' | b':' | b'!' | b'?'))
}

/// [`is_java_name`] on the token's core.
fn is_java_name_token(b: &[u8]) -> bool {
    let (s, e) = core_bounds(b);
    is_java_name(&b[s..e])
}

/// A fully qualified Java (or Kotlin, Scala, C#) class name: three or more dot-separated
/// identifiers, lower-case packages, a capitalised class last, optionally with `$Inner`
/// classes. It names code, not a value, so digits in it (`mapreduce.v2.app.MRAppMaster` in a
/// Hadoop job's log, `sns.v4.SnsService$Inner2` in an Android app's) are no variables.
fn is_java_name(c: &[u8]) -> bool {
    let mut segments = 0;
    let mut last_upper = false;
    for seg in c.split(|&b| b == b'.') {
        let Some(&first) = seg.first() else {
            return false;
        };
        if !(first.is_ascii_alphabetic() || first == b'_')
            || !seg
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        {
            return false;
        }
        if last_upper {
            return false; // a capitalised segment is the class: it comes last
        }
        last_upper = first.is_ascii_uppercase();
        segments += 1;
    }
    segments >= 3 && last_upper
}

/// The bounds of the token's core when the core is variable as a whole (not for blobs and
/// plain words, which [`mask_parts`] settles first).
fn whole_core(b: &[u8], shape: u8) -> Option<(usize, usize)> {
    let (s, e) = core_bounds(b);
    let whole = s < e
        && if shape & DIGIT == 0 {
            // No digit: only a path, URL, host name, e-mail or MAC address is variable as a
            // whole; the last three then have letters (`-`, `"-"`, `*` are no such name).
            let c = &b[s..e];
            (may_be_path_core(c, shape) && is_path(c))
                || (shape & SLASH != 0 && is_relative_path(c))
                || (shape & OTHER != 0
                    && shape & HIGH == 0
                    && shape & ALPHA != 0
                    && (is_host(c) || is_email(c) || (matches!(c.len(), 14 | 17) && is_mac(c))))
        } else if shape & (ALPHA | HIGH) == 0 {
            // Digits without letters: a Number, Ip or Numeric (or a Path).
            true
        } else {
            whole_variable(&b[s..e])
        };
    whole.then_some((s, e))
}

// A token masked into a `TokenBuf` (at most 3 bytes per input byte) fits.
const _: () = assert!(MAX_MASKED >= 3 * MAX_TOKEN_BYTES + 8);

/// A masked token on the stack, so that the whole-token form costs no allocation: `N` bytes,
/// [`SHORT_MASKED`] for most tokens (cleared in a few stores), [`MAX_MASKED`] for the longest.
struct TokenBuf<const N: usize> {
    b: [u8; N],
    len: usize,
}

impl<const N: usize> TokenBuf<N> {
    fn new() -> Self {
        Self { b: [0; N], len: 0 }
    }

    /// The token; empty if (impossibly) a push cut a character in two.
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.b[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> Sink for TokenBuf<N> {
    fn push(&mut self, s: &str) {
        // Cannot overflow for tokens within MAX_TOKEN_BYTES (see MAX_MASKED) nor for the short
        // buffer's tokens; the guard keeps a wrong caller from panicking: the excess is dropped.
        let n = s.len().min(N - self.len);
        self.b[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }
}

/// Byte classes for the shape of a token (one table lookup per byte).
const ALPHA: u8 = 1;
const DIGIT: u8 = 2;
const HIGH: u8 = 4; // non-ASCII: part of a word
const OTHER: u8 = 8; // punctuation and control bytes
/// ASCII white space as `str::split_ascii_whitespace` has it: separates tokens.
const SPACE: u8 = 16;
/// Punctuation that paths and URLs need (with `OTHER`): a token without both a colon and a
/// slash is a path only when its core starts like one.
const COLON: u8 = 32;
const SLASH: u8 = 64; // `/` or `\`
/// A quote, `"` or `'` (with `OTHER`): a quoted value of several words needs one (see
/// [`quoted_words`]).
const QUOTE: u8 = 128;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
};

/// A byte's [`CLASS`].
const fn class_of(c: u8) -> u8 {
    if c.is_ascii_whitespace() {
        SPACE
    } else if c.is_ascii_alphabetic() {
        ALPHA
    } else if c.is_ascii_digit() {
        DIGIT
    } else if c >= 0x80 {
        HIGH
    } else if c == b':' {
        OTHER | COLON
    } else if c == b'/' || c == b'\\' {
        OTHER | SLASH
    } else if c == b'"' || c == b'\'' {
        OTHER | QUOTE
    } else {
        OTHER
    }
}

/// [`CLASS`] for a token that starts with `/` (a path, mostly a request target), with `SLASH`
/// marking instead a byte that no Unix path holds (see [`PATH_BYTE`]): the scan that finds the
/// token's end tells whether its bytes can be a path too, so that the target is read once.
/// The token's first byte puts `SLASH` in its shape.
static PATH_CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let c = class_of(i as u8);
        t[i] = if c == SPACE {
            SPACE
        } else if path_byte(i as u8) {
            c & !SLASH
        } else {
            c | SLASH
        };
        i += 1;
    }
    t
};

/// Splits `content` on ASCII white space and masks each token into `out` (cleared first),
/// recording each token's byte range in `out` in `spans` (cleared first). A date written over
/// several tokens, or a request target with its protocol, is one token `<*>` (see [`Term`]). At
/// most `max_tokens` tokens are kept; when there are more, the rest is replaced by one final
/// `<*>` token.
pub fn mask_line(
    content: &str,
    max_tokens: usize,
    form: VariableForm,
    out: &mut String,
    spans: &mut Vec<(u32, u32)>,
) {
    out.clear();
    spans.clear();
    for_each_term(content, |s, e, term| {
        let start = out.len();
        if spans.len() >= max_tokens {
            out.push_str(PARAM);
            spans.push((start as u32, out.len() as u32));
            return false;
        }
        let token = &content[s..e];
        match term {
            Term::Token(shape) => {
                if !mask_shaped(token, shape, form, out) {
                    out.push_str(token);
                }
            }
            Term::Variable { open, close } => {
                push_variable(&content[s..open], &content[close..e], form, out);
            }
        }
        spans.push((start as u32, out.len() as u32));
        // Cannot happen with sane line limits; keeps the u32 spans exact.
        out.len() <= u32::MAX as usize / 2
    });
}

/// One term of a message: a token, or a run of tokens that is one variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Term {
    /// One token, with its [`Shape`].
    Token(Shape),
    /// A variable over one or more tokens (a date such as `Wed Jul 27 10:59:53 2005`, see
    /// [`crate::date_span`]; a request target with its protocol, `/index.html HTTP/1.1"`; a
    /// number alone, `0.860`, and a verb's object, whole tokens with nothing kept): it is masked
    /// as `content[start..open]`, `<*>`, `content[close..end]`, so that the
    /// brackets and punctuation around it stay.
    Variable { open: usize, close: usize },
}

/// The text of a [`Term::Variable`] with the `prefix` and `suffix` it keeps, in the given form.
/// In the whole-token form the rules of [`collapse`] apply (a variable alone in quotes is bare).
pub(crate) fn push_variable<S: Sink>(prefix: &str, suffix: &str, form: VariableForm, out: &mut S) {
    // As in `mask_shaped`: brackets and punctuation around a variable are its whole-token form
    // already, unless they hold `<`, `>` or a backquote, or a lone pair of quotes (bare).
    let plain = |x: &str| !x.bytes().any(|c| matches!(c, b'<' | b'>' | b'`'));
    let quoted = prefix.len() == 1 && prefix == suffix && matches!(prefix, "\"" | "'");
    if form == VariableForm::Parts || (plain(prefix) && plain(suffix) && !quoted) {
        out.push(prefix);
        out.push_param();
        out.push(suffix);
        return;
    }
    if prefix.len() + suffix.len() + 3 <= SHORT_MASKED {
        push_variable_in::<SHORT_MASKED, S>(prefix, suffix, out);
    } else {
        push_variable_in::<MAX_MASKED, S>(prefix, suffix, out);
    }
}

/// The whole-token form of `prefix<*>suffix`, built in a [`TokenBuf`] of `N` bytes.
fn push_variable_in<const N: usize, S: Sink>(prefix: &str, suffix: &str, out: &mut S) {
    let mut buf = TokenBuf::<N>::new();
    buf.push(prefix);
    buf.push_param();
    buf.push(suffix);
    match buf.as_str() {
        PARAM => out.push_param(),
        masked => collapse(masked, |t| out.push(t)),
    }
}

/// Calls `f(start, end, term)` for each [`Term`] of `content` in order, until `f` returns false:
/// the tokens (split on ASCII white space, like `str::split_ascii_whitespace`), with the runs that are one variable joined.
pub(crate) fn for_each_term(content: &str, f: impl FnMut(usize, usize, Term) -> bool) {
    terms::<false, true, _>(content, &mut Terms(f));
}

/// What [`for_each_term_memo`] hands its terms to.
pub(crate) trait TermSink {
    /// The token at `s`, before its shape is scanned: its end if the sink has taken it whole,
    /// as a token it remembers as plain (see [`TermSink::term`]). The sink finds the end (see
    /// [`token_end`]) so that it can read the token once, for its end and its key together.
    /// Only asked about a token that does not start with a digit or `/`.
    fn known(&mut self, s: usize) -> Option<usize>;
    /// A term, as [`for_each_term`]'s `f`; `plain` tells that a [`Term::Token`] is one whatever
    /// the tokens after it (it can start no variable over several tokens), so that a sink that
    /// remembers it may take it back through `known` next time, unscanned.
    fn term(&mut self, s: usize, e: usize, term: Term, plain: bool) -> bool;
}

/// [`for_each_term`]'s callback as a [`TermSink`] that remembers nothing.
struct Terms<F>(F);

impl<F: FnMut(usize, usize, Term) -> bool> TermSink for Terms<F> {
    fn known(&mut self, _: usize) -> Option<usize> {
        None
    }

    fn term(&mut self, s: usize, e: usize, term: Term, _: bool) -> bool {
        (self.0)(s, e, term)
    }
}

/// [`for_each_term`] for a sink that remembers tokens: a token is first offered to
/// [`TermSink::known`], which reads it only to its end (eight bytes at a time); only when the sink does not know
/// it is its shape scanned and are the tests for a variable over several tokens run. A token
/// is offered only if it was plain when the sink took it, so every such test that could pass at
/// it still runs (they look at the token alone to decide whether to look further).
///
/// A verb's object (see [`verb_object`]) is a matter of position, not of the token, so the
/// sink may have taken it from its memo: it is told once the line has ended, as the second of
/// two terms, which spares the test on every other line (a line of two terms is rare).
pub(crate) fn for_each_term_memo(content: &str, sink: &mut impl MemoSink) {
    terms::<true, true, _>(content, sink);
    if sink.taken() == 2 && verb_object(content.as_bytes()) != usize::MAX {
        sink.last_is_variable();
    }
}

/// A [`TermSink`] that remembers tokens (see [`for_each_term_memo`]).
pub(crate) trait MemoSink: TermSink {
    /// How many terms it has taken from the line.
    fn taken(&self) -> usize;
    /// Makes the last term it took a variable whole, `<*>` in either form.
    fn last_is_variable(&mut self);
}

/// The terms of `content` to `sink`; `FAST` takes the shortcuts that spare a token's second
/// reading (the tests compare the terms with and without them).
#[inline(always)]
fn terms<const MEMO: bool, const FAST: bool, S: TermSink>(content: &str, sink: &mut S) {
    let b = content.as_bytes();
    // The token after the current one when a test has scanned it already.
    let mut pending = None;
    // With a memo, the object is told after the line (see `for_each_term_memo`).
    let object = if MEMO { usize::MAX } else { verb_object(b) };
    let mut pos = 0;
    loop {
        let (s, e, shape) = match pending.take() {
            Some(t) => t,
            None => {
                let mut s = pos;
                while s < b.len() && CLASS[usize::from(b[s])] == SPACE {
                    s += 1;
                }
                // `pos` may be one past the end (after a token that ends the line).
                if s >= b.len() {
                    return;
                }
                // Numbers seldom recur, and a path is mostly a request target (never plain):
                // no look-up for them. Nor for a bracket before a digit, which opens a number
                // or a date that varies from line to line (a kernel's uptime,
                // `[32098.234053]`; an access log's `[23/Nov/2026:20:03:14`; a counter, `[12]`):
                // no log's memo holds one when it comes again.
                let asked = match b[s] {
                    b'0'..=b'9' | b'/' => false,
                    b'[' => !b.get(s + 1).is_some_and(u8::is_ascii_digit),
                    _ => true,
                };
                if MEMO && asked {
                    if let Some(e) = sink.known(s) {
                        // A token's end is a white-space byte or the line's end: the
                        // search for the next one need not test it.
                        pos = e + 1;
                        continue;
                    }
                }
                if FAST && b[s].is_ascii_digit() {
                    // A number of digits and dots, three bytes or more and a digit last
                    // (`17668`, `0.860`, `10.1.2.3`, a third of a web server's tokens), is
                    // `<*>` whatever comes after it: its core is the token, and it can start no
                    // variable over several tokens (a day, `27 Jul`, has two digits at most).
                    // It is read once; any other token's scan goes on where the digits end.
                    let (i, dots) = digits_and_dots(b, s);
                    let bare = i == b.len() || CLASS[usize::from(b[i])] == SPACE;
                    // So is a duration, a number with one dot at most and a unit (`72ms`,
                    // `26.7s`: see `is_duration`).
                    let whole = if bare {
                        i
                    } else if dots <= 1 && b[i - 1].is_ascii_digit() {
                        unit_end(b, i)
                    } else {
                        0
                    };
                    if whole >= s + 3 && b[i - 1].is_ascii_digit() {
                        if !sink.term(
                            s,
                            whole,
                            Term::Variable {
                                open: s,
                                close: whole,
                            },
                            false,
                        ) {
                            return;
                        }
                        pos = whole + 1; // as after a known token
                        continue;
                    }
                    let (e, shape) = scan_token(b, i, &CLASS, SPACE);
                    (s, e, shape | DIGIT | if dots > 0 { OTHER } else { 0 })
                } else if FAST && b[s] == b'/' {
                    // A path, mostly a request target with its protocol, `/index.html
                    // HTTP/1.1"`: the usual one is settled as it is read (see
                    // `path_token`); any other goes through the tests below.
                    let (e, shape, request) = path_token(b, s);
                    if let Some((end, close)) = request {
                        let term = Term::Variable { open: s, close };
                        if !sink.term(s, end, term, false) {
                            return;
                        }
                        pos = end;
                        continue;
                    }
                    (s, e, shape)
                } else {
                    // An access log's date, `[23/Nov/2026:20:03:14 +0000]` (on each of its
                    // lines), is told by its fixed shape before the token is scanned: the shape
                    // puts the token's end (a space) 21 bytes on (see `clf_date_at`).
                    let clf = if FAST && b[s] == b'[' && b.get(s + 3) == Some(&b'/') {
                        crate::date_span::clf_date_at(b, s)
                    } else {
                        None
                    };
                    if let Some((end, open, close)) = clf {
                        if !sink.term(s, end, Term::Variable { open, close }, false) {
                            return;
                        }
                        pos = end;
                        continue;
                    }
                    let (e, shape) = scan_token(b, s, &CLASS, SPACE);
                    (s, e, shape)
                }
            }
        };
        let token = &b[s..e];
        let (mut end, mut term) = (e, Term::Token(Shape(shape)));
        // Whether the tokens after this one can change its term: false once a test below
        // looks further.
        let mut plain = false;
        // Most tokens start with a lower-case letter, and most numbers are long or hold no
        // `:`, `/` or `-`: no date, no call.
        let c0 = token[0];
        let candidate = if c0.is_ascii_digit() {
            token.len() <= 3
                || shape & (COLON | SLASH) != 0
                || (shape & OTHER != 0 && token.contains(&b'-'))
        } else {
            !c0.is_ascii_lowercase()
        };
        // An access log's date, `[23/Nov/2026:20:03:14 +0000]` (on each of its lines), is told
        // by its shape before the general tests, which would find it the same (see `date_end`).
        let clf = if FAST && c0 == b'[' && token.len() == 21 {
            crate::date_span::clf_date(b, s, e)
        } else {
            None
        };
        if let Some((date_end, open, close)) = clf {
            (end, term) = (date_end, Term::Variable { open, close });
        } else if candidate && crate::date_span::may_start(token) {
            // A date over several tokens (a capital letter or a digit first: most tokens fail
            // the first-byte test). A number first (`3/5)`, `10.0.0.1:5432`) is one only if
            // the next token goes on with it or it is a CLF date (a slash and letters).
            let hopeless = FAST
                && c0.is_ascii_digit()
                && shape & (SLASH | ALPHA) != SLASH | ALPHA
                && !crate::date_span::goes_on(b, e);
            let date = if hopeless {
                None
            } else {
                crate::date_span::date_end(content, s, e)
            };
            if let Some((date_end, open, close)) = date {
                (end, term) = (date_end, Term::Variable { open, close });
            }
        } else if shape == ALPHA | DIGIT {
            // A list of numbered names, `an14 an15 an16` (letters-and-digits tokens only: most
            // tokens fail the shape test). Its next item starts with the same letter: the next
            // token is scanned only then.
            if !FAST || next_starts_with(b, e, c0) {
                pending = next_token(b, e);
            }
            if let Some((s2, e2, _)) = pending {
                if let Some((list_end, close)) = numbered_list(b, s, e, s2, e2) {
                    (end, term) = (list_end, Term::Variable { open: s, close });
                    pending = None;
                }
            }
        } else if shape & (OTHER | SLASH) == OTHER && token[token.len() - 1].is_ascii_alphanumeric()
        {
            // A quoted value of several words, `tag="View Lock",` (a token with a quote that
            // ends inside a word: most tokens hold no quote, and most `key=value,` tokens end
            // with punctuation).
            let quoted = if shape & QUOTE != 0 {
                quoted_words(b, s, e)
            } else {
                None
            };
            if let Some((q_end, open, close)) = quoted {
                (end, term) = (q_end, Term::Variable { open, close });
            } else if token[token.len() - 1].is_ascii_digit() {
                // A list of numbered ids, `blk_-51 blk_76` (the next one starts with the same
                // letter).
                if !FAST || next_starts_with(b, e, c0) {
                    pending = next_token(b, e);
                }
                if let Some((list_end, close)) = pending.and_then(|n| numbered_ids(b, s, e, n)) {
                    (end, term) = (list_end, Term::Variable { open: s, close });
                    pending = None;
                }
            } else {
                // Without a quote left open, the tokens after it did not matter.
                plain = shape & QUOTE == 0 || quote_opened(b, s, e).is_none();
            }
        } else if shape & SLASH != 0 && (shape & COLON != 0 || starts_like_path(token)) {
            // A request target and its protocol, `/index.html HTTP/1.1"` (a web server's
            // request line): the protocol's version goes with the client, so it belongs to the
            // variable. The target is a path or a URL (see `is_path`): after its brackets it
            // starts with `/`, `.` or `~`, or it holds a colon (`https://…`, `C:\…`), so most
            // tokens with a slash (`HTTP/1.1"`, `Chrome/120.0`) are no target.
            pending = next_token(b, e);
            if let Some((s2, e2, _)) = pending {
                let colon = shape & COLON != 0;
                if let Some((open, close)) = request_target(token, &b[s2..e2], colon) {
                    let (open, close) = (s + open, s2 + close);
                    (end, term) = (e2, Term::Variable { open, close });
                    pending = None;
                }
            }
        } else {
            plain = true;
            if s == object {
                // The last of two words, the object of a verb, `removing chargen`.
                term = Term::Variable { open: s, close: e };
            }
        }
        if !sink.term(s, end, term, plain) {
            return;
        }
        pos = end;
    }
}

/// Where the object of a message of two words, a verb's present participle and a lower-case
/// word, starts (`usize::MAX` if the message is not such). The
/// object is a value (`removing chargen` / `removing telnet` from a service supervisor,
/// `starting nginx` / `starting sshd` from an init script). Only the whole message: with more
/// words the object's position says less, and Drain's similarity merges longer lines anyway.
/// Not an object: a past participle (`logging enabled` / `logging disabled` are two messages,
/// see the miner's `differ`), a capitalised word or one with digits (a device name, `resetting
/// eth0`).
#[inline]
fn verb_object(b: &[u8]) -> usize {
    let mut s = 0;
    while s < b.len() && CLASS[usize::from(b[s])] == SPACE {
        s += 1;
    }
    if s == b.len() || !b[s].is_ascii_lowercase() {
        return usize::MAX;
    }
    let e = token_end(b, s);
    let verb = e - s >= 5 && b[e - 3..e] == *b"ing" && b[s..e].iter().all(u8::is_ascii_alphabetic);
    if verb {
        object_after(b, e)
    } else {
        usize::MAX
    }
}

/// [`verb_object`] after the verb, which ends at `from`.
#[cold]
#[inline(never)]
fn object_after(b: &[u8], from: usize) -> usize {
    let Some((s, e, ALPHA)) = next_token(b, from) else {
        return usize::MAX;
    };
    let participle = e - s >= 6 && b[e - 2..e] == *b"ed";
    if !b[s].is_ascii_lowercase() || participle || next_token(b, e).is_some() {
        return usize::MAX;
    }
    s
}

/// A quoted value of a `key=value` pair that spans tokens, as one variable: `tag="View Lock",`
/// in a phone's wake-lock log, `msg='disk almost full' code=7` in an application's
/// structured log. The quotes mark one string, whatever its words (see `value_at` for a value
/// in one token). `b[s..e]` is a token with `="` or `='` whose quote does not close in it;
/// returns the end of the token where it closes (at most eight tokens on), and the bounds of
/// the variable (after the opening quote, at the closing one).
#[inline(never)]
fn quoted_words(b: &[u8], s: usize, e: usize) -> Option<(usize, usize, usize)> {
    let (quote, open) = quote_opened(b, s, e)?;
    let mut at = e;
    for _ in 0..8 {
        let (ts, te, _) = next_token(b, at)?;
        if let Some(q) = b[ts..te].iter().position(|&c| c == quote) {
            return Some((te, open, ts + q));
        }
        at = te;
    }
    None
}

/// The quote that the token `b[s..e]` opens after a `=` and leaves open, and where the value
/// starts: what [`quoted_words`] needs of the token before it looks at the next ones.
fn quote_opened(b: &[u8], s: usize, e: usize) -> Option<(u8, usize)> {
    let t = &b[s..e];
    let p = t
        .windows(2)
        .position(|w| w[0] == b'=' && matches!(w[1], b'"' | b'\''))?;
    let (quote, open) = (t[p + 1], s + p + 2);
    (open != e && !b[open..e].contains(&quote)).then_some((quote, open))
}

/// A [`numbered_list`] of ids that hold punctuation (`blk_-51 blk_76`), from the token
/// `b[s..e]` and the `next` one, which must start with the same letter.
#[inline(never)]
fn numbered_ids(b: &[u8], s: usize, e: usize, next: (usize, usize, u8)) -> Option<(usize, usize)> {
    let (s2, e2, _) = next;
    if b[s] != b[s2] || !b[s].is_ascii_alphabetic() {
        return None;
    }
    numbered_list(b, s, e, s2, e2)
}

/// A list of numbered names written over several tokens, as one variable: two or more tokens
/// of the same letters (perhaps joined by `_` or `-`) followed by a number (perhaps signed), the
/// last perhaps with punctuation after it. A cluster's monitor lists the nodes it cannot resolve
/// (`data source name an14 an15 … an135`, `host name dadmin3 dadmin4`), a kernel the sleep
/// states it supports (`(supports S0 S4 S5)`), a disk tool the partitions (`sda1 sda2 sda3`), a
/// distributed file system the blocks to delete (`blk_-5140 blk_7079`), an orchestrator the
/// pods to evict (`web-1 web-2`): the list's length varies with the
/// machine and the moment, so counted token by token one message would make a template per
/// length. `b[s..e]` is a token of letters and digits, `b[s2..e2]` the next one; returns the
/// list's end and where its trailing punctuation starts. Numbers alone (`IRQs 3 4 5`, a
/// report's `7007 5002 150089 240`) are no such list: their positions are fields.
#[inline(never)]
fn numbered_list(b: &[u8], s: usize, e: usize, s2: usize, e2: usize) -> Option<(usize, usize)> {
    let t = &b[s..e];
    let letters = t.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    // The stem: letters, perhaps joined to the number by `_` or `-` (`blk_`, `node-`).
    let stem = letters + usize::from(letters > 0 && matches!(t.get(letters), Some(b'_' | b'-')));
    // The number after the stem, perhaps signed (`blk_-5140`): its length in `n`, 0 if none.
    let number = |n: &[u8]| {
        let sign = usize::from(n.first() == Some(&b'-'));
        let digits = n[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            sign + digits
        } else {
            0
        }
    };
    if letters == 0 || stem == e - s || number(&t[stem..]) != e - s - stem {
        return None;
    }
    // The numbered name at the start of `b[ts..te]`: the end of its number, if the token is
    // the stem, a number and perhaps closing punctuation.
    let item = |ts: usize, te: usize| {
        let t = &b[ts..te];
        if t.len() <= stem || t[..stem] != b[s..s + stem] {
            return None;
        }
        let digits = number(&t[stem..]);
        let close = ts + stem + digits;
        (digits > 0 && b[close..te].iter().all(|&c| is_close(c))).then_some(close)
    };
    let (mut end, mut close) = (e2, item(s2, e2)?);
    while close == end {
        let Some((ts, te, _)) = next_token(b, end) else {
            break;
        };
        match item(ts, te) {
            Some(c) => (end, close) = (te, c),
            None => break,
        }
    }
    Some((end, close))
}

/// A URL or an absolute path followed by a protocol token (`HTTP/1.1"`, `RTSP/1.0`,
/// `SIP/2.0`): the target's opening brackets and the protocol's trailing punctuation, as
/// offsets in each token. Seen in web servers' access logs (`"GET /a?b=1 HTTP/1.1" 200`) and
/// in API gateways' and proxies' request logs (`"POST https://api/v2/x HTTP/2.0"`).
/// `colon` tells whether the target holds a colon: without one, a path is a Unix path.
#[inline(never)]
fn request_target(target: &[u8], protocol: &[u8], colon: bool) -> Option<(usize, usize)> {
    let close = protocol_core(protocol)?;
    let (s, e) = core_bounds(target);
    // Without a colon, no URL nor drive: `is_path` comes down to `is_unix_path`.
    let path = |c: &[u8]| if colon { is_path(c) } else { is_unix_path(c) };
    (s < e && path(&target[s..e])).then_some((s, close))
}

/// The token at `b[s..]`, which starts with `/`: its end and shape, and if it is the usual
/// request target ([`plain_request`]) the end of its protocol's token and where the protocol's
/// punctuation starts. What the term loop would find for the target: a token that starts with
/// `/` passes none of its tests before the request target's (no date, list or quote starts
/// with `/`). Out of the loop, so that its table and tests take none of the loop's registers.
#[inline(never)]
fn path_token(b: &[u8], s: usize) -> (usize, u8, Option<(usize, usize)>) {
    let (e, seen) = scan_token(b, s, &PATH_CLASS, SPACE);
    // The shape has `SLASH` from the first byte; in `seen` it marks a byte no path holds.
    let request = if seen & (SLASH | COLON) == 0 {
        plain_request(b, s, e)
    } else {
        None
    };
    (e, seen | SLASH, request)
}

/// [`request_target`] for the usual request line, `/api/v1/users/77111 HTTP/1.1"`, without
/// reading the target again: `b[s..e]` is a token that starts with `/` and whose bytes may all
/// be in a path (told by its scan with [`PATH_CLASS`]), so it is a Unix path if its core is
/// more than `/` and does not start with `//`; the protocol, one space on, is `HTTP/1.1` and
/// closing punctuation. The end of the protocol's token and where its punctuation starts; `None`
/// when any of this fails (the general path then decides).
#[inline(always)]
fn plain_request(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    if b.get(e..e + 9)? != b" HTTP/1.1" {
        return None;
    }
    let close = e + 9;
    let mut end = close;
    while end < b.len() && is_close(b[end]) {
        end += 1;
    }
    if end < b.len() && CLASS[usize::from(b[end])] != SPACE {
        return None;
    }
    let mut core = e;
    while core > s && is_close(b[core - 1]) {
        core -= 1;
    }
    (core >= s + 2 && b[s + 1] != b'/').then_some((end, close))
}

/// If `protocol` is a request's protocol, a name of capitals and a version (`HTTP/1.1"`,
/// `SIP/2.0`): where its trailing punctuation starts. The usual one, `HTTP/1.1` and closing
/// punctuation (nearly every access-log line's), is told by one comparison of eight bytes.
#[inline(always)]
fn protocol_core(protocol: &[u8]) -> Option<usize> {
    if let Some((head, rest)) = protocol.split_first_chunk::<8>() {
        if head == b"HTTP/1.1" && rest.iter().all(|&c| is_close(c)) {
            return Some(8);
        }
    }
    protocol_general(protocol)
}

/// [`protocol_core`] without its shortcut.
#[inline(never)]
fn protocol_general(protocol: &[u8]) -> Option<usize> {
    if !protocol.first().is_some_and(u8::is_ascii_uppercase) {
        return None;
    }
    let mut close = protocol.len();
    while close > 0 && is_close(protocol[close - 1]) {
        close -= 1;
    }
    let p = &protocol[..close];
    let slash = p.iter().position(|&c| c == b'/')?;
    let (name, version) = (&p[..slash], &p[slash + 1..]);
    let version_ok = !version.is_empty()
        && version[0].is_ascii_digit()
        && version.iter().all(|&c| c.is_ascii_digit() || c == b'.');
    ((2..=8).contains(&name.len()) && name.iter().all(u8::is_ascii_uppercase) && version_ok)
        .then_some(close)
}

/// Whether `token`, after its opening brackets and quotes, starts like a Unix path (`/`, `.`,
/// `~`): what [`is_path`] needs of a request target's core that holds no colon.
fn starts_like_path(token: &[u8]) -> bool {
    token
        .iter()
        .find(|&&c| !is_open(c))
        .is_some_and(|c| matches!(c, b'/' | b'.' | b'~'))
}

/// Where the run of digits and dots at `b[s..]` ends, and how many dots it holds.
#[inline(always)]
fn digits_and_dots(b: &[u8], s: usize) -> (usize, usize) {
    let (mut i, mut dots) = (s, 0);
    while let Some(&c) = b.get(i) {
        if c == b'.' {
            dots += 1;
        } else if !c.is_ascii_digit() {
            break;
        }
        i += 1;
    }
    (i, dots)
}

/// The end of the token at `b[i..]` if it is a unit of time ([`DURATION_UNITS`]) and nothing
/// more; 0 otherwise.
#[inline]
fn unit_end(b: &[u8], i: usize) -> usize {
    let mut k = i;
    while k < b.len() && CLASS[usize::from(b[k])] & (ALPHA | HIGH) != 0 {
        k += 1;
    }
    let bare = k == b.len() || CLASS[usize::from(b[k])] == SPACE;
    if bare && DURATION_UNITS.contains(&&b[i..k]) {
        k
    } else {
        0
    }
}

/// Whether the next token at or after `from` starts with the letter `c`, as the next item of a
/// [`numbered_list`] does (see [`numbered_ids`]): false for any other `c`.
#[inline]
fn next_starts_with(b: &[u8], from: usize, c: u8) -> bool {
    let mut i = from;
    while i < b.len() && CLASS[usize::from(b[i])] == SPACE {
        i += 1;
    }
    c.is_ascii_alphabetic() && b.get(i) == Some(&c)
}

/// The next token at or after `from`: `(start, end, shape)`, `shape` being the union of its
/// bytes' [`CLASS`]es. Token bounds are ASCII bytes or the ends, so they are char boundaries.
#[inline]
fn next_token(b: &[u8], from: usize) -> Option<(usize, usize, u8)> {
    let mut i = from;
    while i < b.len() && CLASS[usize::from(b[i])] == SPACE {
        i += 1;
    }
    if i == b.len() {
        return None;
    }
    let (end, shape) = scan_token(b, i, &CLASS, SPACE);
    Some((i, end, shape))
}

/// The shape of a token: the union of its bytes' classes, as [`for_each_term`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape(u8);

impl Shape {
    /// Whether masking the token takes more than a glance: it is neither a plain word nor
    /// digits with punctuation. Such tokens (`[worker-13]`, `HTTP/1.1"`, `order.Service`, and
    /// punctuation alone: an access log's empty fields `-` and `"-"`, which take the full
    /// classification to come out unchanged) are worth remembering when they recur.
    pub(crate) fn is_mixed(self) -> bool {
        self.0 != ALPHA && (self.0 & (ALPHA | HIGH) != 0 || self.0 & DIGIT == 0)
    }

    /// ASCII digits only: a number, `<*>` in either form (see [`mask_shaped`]).
    pub(crate) fn is_digits(self) -> bool {
        self.0 == DIGIT
    }

    /// ASCII letters only.
    pub(crate) fn is_letters(self) -> bool {
        self.0 == ALPHA
    }

    /// Holds a digit or a non-ASCII byte.
    pub(crate) fn has_digit_or_high(self) -> bool {
        self.0 & (DIGIT | HIGH) != 0
    }

    /// The shape of a token (tests).
    #[cfg(test)]
    pub(crate) fn of(token: &[u8]) -> Self {
        Self(token.iter().fold(0, |a, &c| a | CLASS[usize::from(c)]))
    }
}

const fn is_open(c: u8) -> bool {
    matches!(c, b'(' | b'[' | b'{' | b'<' | b'"' | b'\'' | b'`')
}

const fn is_close(c: u8) -> bool {
    matches!(
        c,
        b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b'`' | b',' | b';' | b':' | b'.' | b'!' | b'?'
    )
}

/// The token without its leading brackets/quotes and trailing brackets/quotes/punctuation.
#[inline(always)]
fn core_bounds(b: &[u8]) -> (usize, usize) {
    let mut s = 0;
    while s < b.len() && is_open(b[s]) {
        s += 1;
    }
    let mut e = b.len();
    while e > s && is_close(b[e - 1]) {
        e -= 1;
    }
    // `[::1]:8080`: a bracket closed inside the core is part of the value.
    if s > 0 && b[s - 1] == b'[' && b[s..e].contains(&b']') {
        s -= 1;
    }
    (s, e)
}

/// Byte classes of a token's core (one table lookup per byte): the union over the core tells
/// which class tests can match at all, so that the others are skipped.
const C_DIGIT: u16 = 1;
const C_HEX: u16 = 2; // a-f, A-F
const C_LETTER: u16 = 4; // the other ASCII letters
/// A letter of no duration unit (all but d, n, s, u, m, e, c, i, h), on top of its `C_HEX` or
/// `C_LETTER`.
const C_NONUNIT: u16 = 8;
/// Hex digits, whatever their `C_NONUNIT`.
const C_HEXDIGIT: u16 = C_DIGIT | C_HEX | C_NONUNIT;
const C_HIGH: u16 = 16; // non-ASCII
const C_COLON: u16 = 32;
const C_DOT: u16 = 64;
const C_SLASH: u16 = 128; // `/` or `\\`
const C_PUNCT: u16 = 256; // anything else
const C_AT: u16 = 512; // `@`
/// Punctuation that no name, id or address holds (all but `. _ % + - @ ~ / \ :`), on top of its
/// `C_PUNCT`: `=`, brackets, quotes, `,`, `;`.
const C_ODD: u16 = 1024;

static CORE_CLASS: [u16; 256] = {
    let mut t = [C_PUNCT; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if c.is_ascii_digit() {
            C_DIGIT
        } else if c.is_ascii_alphabetic() {
            let kind = if c.is_ascii_hexdigit() {
                C_HEX
            } else {
                C_LETTER
            };
            let unit = matches!(
                c,
                b'd' | b'n' | b's' | b'u' | b'm' | b'e' | b'c' | b'i' | b'h'
            );
            if unit {
                kind
            } else {
                kind | C_NONUNIT
            }
        } else if c >= 0x80 {
            C_HIGH
        } else if c == b':' {
            C_COLON
        } else if c == b'.' {
            C_DOT
        } else if c == b'/' || c == b'\\' {
            C_SLASH
        } else if c == b'@' {
            C_AT
        } else if matches!(c, b'_' | b'%' | b'+' | b'-' | b'~') {
            C_PUNCT
        } else {
            C_PUNCT | C_ODD
        };
        i += 1;
    }
    t
};

/// The union of the core's byte classes.
fn scan(c: &[u8]) -> u16 {
    c.iter().fold(0, |m, &b| m | CORE_CLASS[usize::from(b)])
}

const fn has(m: u16, bits: u16) -> bool {
    m & bits != 0
}

/// Whether `m` holds no class outside `allowed`.
const fn only(m: u16, allowed: u16) -> bool {
    m & !allowed == 0
}

/// Whether the core can be a path or URL: it starts like a path, or it has a colon and a slash
/// (`scheme://`, `C:\\`).
fn may_be_path(c: &[u8], m: u16) -> bool {
    matches!(c[0], b'/' | b'.' | b'~') || (has(m, C_COLON) && has(m, C_SLASH))
}

/// [`may_be_path`] with the token's shape instead of the core's classes (`c` not empty).
fn may_be_path_core(c: &[u8], shape: u8) -> bool {
    matches!(c[0], b'/' | b'.' | b'~') || shape & (COLON | SLASH) == COLON | SLASH
}

/// Whether the whole core is variable: the same answer as `classify_core(c).is_some()`,
/// cheaper for the common cases.
fn whole_variable(c: &[u8]) -> bool {
    if c.is_empty() {
        return false;
    }
    let m = scan(c);
    // Most mixed tokens (`sshd[57085`, `web-1`, `id=7`) start with a letter and hold no colon:
    // then no path, number, address or duration can match, only a UUID, a hex id or a MAC
    // address (`aa-bb-cc-dd-ee-f1`).
    if c[0].is_ascii_alphabetic()
        && c.len() != 36
        && c.len() != 17
        && !(c.len() >= 8 && only(m, C_HEXDIGIT))
        && !has(m, C_COLON | C_DOT | C_SLASH)
    {
        return false;
    }
    // A letter first, no colon, and a byte that no name, id or address holds (`total=18.61`,
    // `size(1.5)`): no path (it would need a colon, or a relative path's bytes), host name,
    // e-mail or MAC address, no UUID or hex id, no number, duration or date (a digit first).
    if c[0].is_ascii_alphabetic() && !has(m, C_COLON) && has(m, C_ODD | C_HIGH) {
        return false;
    }
    if has(m, C_DIGIT) && !has(m, C_HEX | C_LETTER | C_HIGH) {
        return true; // Number, Ip or Numeric, or a Path
    }
    classify_scanned(c, m).is_some()
}

fn classify_core(c: &[u8]) -> Option<MaskClass> {
    if c.is_empty() {
        return None;
    }
    classify_scanned(c, scan(c))
}

/// Each test runs only where the core's classes `m` allow a match.
fn classify_scanned(c: &[u8], m: u16) -> Option<MaskClass> {
    if may_be_path(c, m) && is_path(c) {
        return Some(MaskClass::Path);
    }
    if has(m, C_SLASH) && is_relative_path(c) {
        return Some(MaskClass::Path);
    }
    if has(m, C_DOT | C_COLON | C_SLASH) && !has(m, C_HIGH) && is_host(c) {
        return Some(MaskClass::Host);
    }
    if has(m, C_AT) && is_email(c) {
        return Some(MaskClass::Email);
    }
    if matches!(c.len(), 14 | 17) && is_mac(c) {
        return Some(MaskClass::Mac);
    }
    if !has(m, C_DIGIT) {
        return None;
    }
    if has(m, C_COLON) && has(m, C_PUNCT) && is_ip_literal(c) {
        return Some(MaskClass::Ip);
    }
    if c.len() == 36 && is_uuid(c) {
        return Some(MaskClass::Uuid);
    }
    let numeric_start = c[0].is_ascii_digit() || matches!(c[0], b'+' | b'-');
    if numeric_start && is_number(c) {
        return Some(MaskClass::Number);
    }
    let ipv4 = only(m, C_DIGIT | C_DOT | C_COLON) && is_ipv4(c);
    if ipv4 || (has(m, C_COLON) && only(m, C_HEXDIGIT | C_COLON) && is_ipv6(c)) {
        return Some(MaskClass::Ip);
    }
    let alpha = has(m, C_HEX | C_LETTER | C_HIGH);
    // A duration is digits, dots, unit letters and `µ` (non-ASCII).
    let units_only = !has(m, C_NONUNIT | C_COLON | C_SLASH | C_PUNCT);
    if alpha && units_only && c[0].is_ascii_digit() && is_duration(c) {
        return Some(MaskClass::Duration);
    }
    if c.len() >= 8 && only(m, C_HEXDIGIT) {
        return Some(MaskClass::HexId);
    }
    // An ISO 8601 time stamp in one token, `2024-05-01T10:00:00Z` (a JSON API's, a Go
    // service's): digits and punctuation apart from its `T` and `Z`.
    if !alpha || (c[0].is_ascii_digit() && is_datetime_str(c)) {
        return Some(MaskClass::Numeric);
    }
    None
}

fn is_datetime_str(c: &[u8]) -> bool {
    std::str::from_utf8(c).is_ok_and(crate::header::is_datetime)
}

/// Top-level and private-network domains that end a host name. A list, so that dotted names
/// of code (`org.apache.hadoop.Foo`, `nova.compute.manager`, `com.tencent.mobileqq`) stay text.
fn is_tld(l: &[u8]) -> bool {
    const TLDS: [&[u8]; 30] = [
        b"com",
        b"net",
        b"org",
        b"edu",
        b"gov",
        b"mil",
        b"int",
        b"io",
        b"co",
        b"info",
        b"biz",
        b"dev",
        b"app",
        b"cloud",
        b"local",
        b"localdomain",
        b"internal",
        b"lan",
        b"intranet",
        b"home",
        b"arpa",
        b"uk",
        b"de",
        b"fr",
        b"jp",
        b"cn",
        b"ru",
        b"us",
        b"eu",
        b"nl",
    ];
    l.len() <= 11 && TLDS.iter().any(|t| l.eq_ignore_ascii_case(t))
}

/// A host name, as in any log that names peers (a web server's upstreams, a cluster's nodes,
/// a database client's server): an FQDN ending in a known domain (`api.example.com`,
/// `MSRA-SA-41.fareast.corp.microsoft.com`) with an optional `:port`, or one name with a digit
/// or hyphen followed by a port or by `/address` (`db-1:5432`, Java's `msra-sa-41/10.1.2.3:8030`).
/// `size:12` and `line:42` (no digit or hyphen in the name) stay key:value text.
fn is_host(c: &[u8]) -> bool {
    let (name, port) = match c.iter().rposition(|&b| b == b':') {
        Some(p) => (&c[..p], Some(&c[p + 1..])),
        None => (c, None),
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
            return false;
        }
    }
    let (name, address) = match name.iter().position(|&b| b == b'/') {
        Some(s) if is_ipv4(&name[s + 1..]) => (&name[..s], true),
        Some(_) => return false,
        None => (name, false),
    };
    if !name.contains(&b'.') {
        return !name.is_empty()
            && name.len() <= 63
            && (port.is_some() || address)
            && name[0].is_ascii_alphabetic()
            && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && name.iter().any(|b| b.is_ascii_digit() || *b == b'-');
    }
    is_fqdn(name)
}

/// Dot-separated labels of letters, digits and `-` (not first), ending in a known domain
/// (see [`is_tld`]).
fn is_fqdn(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let label = |l: &[u8]| {
        !l.is_empty()
            && l.len() <= 63
            && l[0] != b'-'
            && l.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    };
    // The domain first: most dotted tokens (`24.0s`, `order.Service`) fail it at once.
    name.iter()
        .rposition(|&b| b == b'.')
        .is_some_and(|d| is_tld(&name[d + 1..]))
        && name.split(|&b| b == b'.').all(label)
}

/// An e-mail address: a local part of letters, digits and `. _ % + -`, `@`, and a domain
/// name that ends in a known domain (see [`is_tld`]): `alice@example.com` in a mail server's
/// log, `svc-backup@corp.example.org` in a directory server's. Java's `Object@1b6d3586` and
/// `user@host` without a domain are no e-mail address.
fn is_email(c: &[u8]) -> bool {
    let Some(at) = c.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&c[..at], &c[at + 1..]);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-'));
    local_ok && domain.contains(&b'.') && is_fqdn(domain)
}

/// A MAC address: six pairs of hex digits joined by one `:` or `-` throughout, or three
/// groups of four joined by `.` (Cisco's form): a DHCP server's `DHCPACK on 10.0.0.7 to
/// 00:1a:2b:3c:4d:5e`, a wireless driver's `associated with AA-BB-CC-DD-EE-FF`.
fn is_mac(c: &[u8]) -> bool {
    let (group, sep) = match c.len() {
        17 => (2, c[2]),
        14 => (4, b'.'),
        _ => return false,
    };
    if !matches!(sep, b':' | b'-' | b'.') || (group == 2 && sep == b'.') {
        return false;
    }
    c.iter().enumerate().all(|(i, &b)| {
        if (i + 1) % (group + 1) == 0 {
            b == sep
        } else {
            b.is_ascii_hexdigit()
        }
    })
}

/// An IPv6 address in the forms that carry more than hex and colons: in brackets with an
/// optional port (`[::1]:8080` in a web server's listen line, `[2001:db8::1]:443` in a proxy's
/// upstream), or with a zone (`fe80::1%eth0` in a router's neighbour table).
fn is_ip_literal(c: &[u8]) -> bool {
    if let Some(rest) = c.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let after = &rest[close + 1..];
        let port_ok = after.is_empty()
            || (after.len() >= 2
                && after.len() <= 6
                && after[0] == b':'
                && after[1..].iter().all(u8::is_ascii_digit));
        return port_ok && is_ipv6_zoned(&rest[..close]);
    }
    is_ipv6_zoned(c)
}

/// [`is_ipv6`], with an optional `%zone` (letters and digits).
fn is_ipv6_zoned(c: &[u8]) -> bool {
    match c.iter().position(|&b| b == b'%') {
        Some(p) => {
            let zone = &c[p + 1..];
            !zone.is_empty()
                && zone.len() <= 15
                && zone.iter().all(u8::is_ascii_alphanumeric)
                && is_ipv6(&c[..p])
        }
        None => is_ipv6(c),
    }
}

/// A relative path without a leading `./`: segments of letters, digits and `. _ - + @ ~`
/// joined by `/` (or `\`), with two separators or more (`var/log/app`) or a last segment with
/// a lower-case extension (`conf/app.yaml` in a service's start-up log, `src/main.rs` in a
/// build's). A MIME type (`application/json`), `TCP/IP`, `I/O` and `HTTP/1.1` stay text.
fn is_relative_path(c: &[u8]) -> bool {
    if !(c[0].is_ascii_alphanumeric() || c[0] == b'_') {
        return false;
    }
    let mut seps = 0;
    let mut last = 0; // start of the last segment
    for (i, &b) in c.iter().enumerate() {
        if b == b'/' || b == b'\\' {
            if i == last {
                return false; // an empty segment: `a//b`
            }
            seps += 1;
            last = i + 1;
        } else if !(b.is_ascii_alphanumeric()
            || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@' | b'~'))
        {
            return false;
        }
    }
    if seps == 0 || last == c.len() {
        return false;
    }
    if seps >= 2 {
        return true;
    }
    let seg = &c[last..];
    match seg.iter().rposition(|&b| b == b'.') {
        Some(d) if d > 0 => {
            let ext = &seg[d + 1..];
            (1..=5).contains(&ext.len())
                && ext.iter().any(u8::is_ascii_lowercase)
                && ext
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }
        _ => false,
    }
}

fn is_path(c: &[u8]) -> bool {
    // URL: scheme "://" rest, the scheme being a letter, then alphanumerics and `+ - . :`
    // (`https`, `git+ssh`, JDBC's `jdbc:postgresql`). When the first "://" is elsewhere, the
    // token is no path (nor URL) at all.
    let scheme = c
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        .unwrap_or(c.len());
    if c[scheme..].starts_with(b"://") {
        return scheme > 0 && c[0].is_ascii_alphabetic();
    }
    if c[scheme..].starts_with(b":") && scheme > 0 && c[0].is_ascii_alphabetic() {
        // A sub-scheme (`jdbc:postgresql://`): the first "://" ends it.
        if let Some(p) = find_scheme_end(c) {
            return c[..p]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b':'));
        }
    }
    // Windows drive path: C:\x
    let windows = c.len() > 3 && c[0].is_ascii_alphabetic() && c[1] == b':' && c[2] == b'\\';
    if !windows && !matches!(c[0], b'/' | b'.' | b'~') {
        return false; // so no need to look for a "://" further on
    }
    if find_scheme_end(c).is_some() {
        return false;
    }
    windows || is_unix_path(c)
}

/// A Unix path: `/`, `./`, `~/` or `../`, then a character that is no separator, and no
/// characters that do not occur in paths ("/" alone, "//" and "/ " are not paths).
fn is_unix_path(c: &[u8]) -> bool {
    let rest = match c {
        [b'/', rest @ ..] => rest,
        [b'.', b'/', rest @ ..] | [b'~', b'/', rest @ ..] => rest,
        [b'.', b'.', b'/', rest @ ..] => rest,
        _ => return false,
    };
    !rest.is_empty() && rest[0] != b'/' && path_bytes(rest)
}

/// Whether every byte of `b` may be in a path ([`PATH_BYTE`]), eight bytes at a time: a word
/// holds a byte below `!` or one of `< > " |` exactly when one of these bit tests flags a lane
/// (the classic "has a byte less than" and "has a zero byte" tests, which never flag a word
/// without one).
fn path_bytes(b: &[u8]) -> bool {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & TOPS;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let x = word_at(c, 0);
        let below = below_bang(x);
        let odd = zero(x ^ (ONES * u64::from(b'<')))
            | zero(x ^ (ONES * u64::from(b'>')))
            | zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'|')));
        if below | odd != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&c| PATH_BYTE[usize::from(c)])
}

/// The bytes a Unix path may hold (one table lookup per byte): all but white space, control
/// bytes and `< > " |`.
static PATH_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = path_byte(i as u8);
        i += 1;
    }
    t
};

/// Whether a Unix path may hold the byte `b` ([`PATH_BYTE`]).
const fn path_byte(b: u8) -> bool {
    b > b' ' && !matches!(b, b'<' | b'>' | b'"' | b'|')
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// `find(c, b"://")`, visiting only the colons.
fn find_scheme_end(c: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = c[from..].iter().position(|&b| b == b':') {
        let p = from + p;
        if c[p + 1..].starts_with(b"//") {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

fn digits_end(c: &[u8], mut i: usize) -> usize {
    while i < c.len() && c[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// `[+-]?digits(.digits)?([eE][+-]?digits)?` or `[+-]?0x hex+`.
fn is_number(c: &[u8]) -> bool {
    let mut i = usize::from(matches!(c[0], b'+' | b'-'));
    if c.len() > i + 2 && c[i] == b'0' && (c[i + 1] | 0x20) == b'x' {
        return c[i + 2..].iter().all(u8::is_ascii_hexdigit);
    }
    let j = digits_end(c, i);
    if j == i {
        return false;
    }
    i = j;
    if i < c.len() && c[i] == b'.' {
        let j = digits_end(c, i + 1);
        if j == i + 1 {
            return false;
        }
        i = j;
    }
    if i < c.len() && (c[i] | 0x20) == b'e' {
        i += 1;
        if i < c.len() && matches!(c[i], b'+' | b'-') {
            i += 1;
        }
        let j = digits_end(c, i);
        if j == i {
            return false;
        }
        i = j;
    }
    i == c.len()
}

/// `a.b.c.d` with each part 0..=255, optionally `:port`.
fn is_ipv4(c: &[u8]) -> bool {
    let mut i = 0;
    for part in 0..4 {
        let j = digits_end(c, i);
        if j == i || j - i > 3 {
            return false;
        }
        let mut v = 0u32;
        for &d in &c[i..j] {
            v = v * 10 + u32::from(d - b'0');
        }
        if v > 255 {
            return false;
        }
        i = j;
        if part < 3 {
            if i >= c.len() || c[i] != b'.' {
                return false;
            }
            i += 1;
        }
    }
    if i == c.len() {
        return true;
    }
    if c[i] != b':' {
        return false;
    }
    let j = digits_end(c, i + 1);
    j > i + 1 && j == c.len() && j - i - 1 <= 5
}

/// Hex groups separated by colons, at least two colons, at most one `::`.
fn is_ipv6(c: &[u8]) -> bool {
    if c.len() < 3 || c.len() > 45 || !c.iter().all(|&b| b == b':' || b.is_ascii_hexdigit()) {
        return false;
    }
    let colons = c.iter().filter(|&&b| b == b':').count();
    if !(2..=7).contains(&colons) || find(c, b":::").is_some() {
        return false;
    }
    let double = c.windows(2).filter(|w| w == b"::").count();
    if double > 1 || (double == 0 && colons != 7) {
        return false;
    }
    c.split(|&b| b == b':')
        .all(|g| g.len() <= 4 && g.iter().all(u8::is_ascii_hexdigit))
}

fn is_uuid(c: &[u8]) -> bool {
    c.len() == 36 && uuid_at(c, 0)
}

/// Whether a UUID starts at `c[i]`: its four dashes, then its 32 hex digits eight at a time, in
/// five overlapping words whose lanes at the dashes (13 in the second; 18 and 23 in the third)
/// are let through.
fn uuid_at(c: &[u8], i: usize) -> bool {
    let Some(u) = c.get(i..i + 36) else {
        return false;
    };
    if !(u[8] == b'-' && u[13] == b'-' && u[18] == b'-' && u[23] == b'-') {
        return false;
    }
    let word = |at: usize| hex_lanes(word_at(u, at));
    let hex = word(0)
        & (word(9) | (0x80 << 32))
        & (word(17) | (0x80 << 8) | (0x80 << 48))
        & word(24)
        & word(28);
    hex == TOPS
}

/// The units of a duration ([`is_duration`]).
const DURATION_UNITS: [&[u8]; 11] = [
    b"d",
    b"ns",
    b"us",
    b"\xc2\xb5s",
    b"ms",
    b"s",
    b"sec",
    b"secs",
    b"m",
    b"min",
    b"h",
];

/// One or more `number unit` pairs: `12ms`, `1.5s`, `1m30s`, `250us`, `2h`.
fn is_duration(c: &[u8]) -> bool {
    let mut i = 0;
    let mut pairs = 0;
    while i < c.len() {
        let j = digits_end(c, i);
        if j == i {
            return false;
        }
        let mut k = j;
        if k < c.len() && c[k] == b'.' {
            let m = digits_end(c, k + 1);
            if m == k + 1 {
                return false;
            }
            k = m;
        }
        let u = k;
        while k < c.len() && !c[k].is_ascii_digit() {
            k += 1;
        }
        if !DURATION_UNITS.iter().any(|unit| &c[u..k] == *unit) {
            return false;
        }
        pairs += 1;
        i = k;
    }
    pairs > 0
}

/// Words that are values, not message text: booleans, and month and weekday names (dates).
fn is_variable_word(w: &[u8]) -> bool {
    match w.len() {
        4 => w.eq_ignore_ascii_case(b"true"),
        5 => w.eq_ignore_ascii_case(b"false"),
        3 if w[0].is_ascii_uppercase() => crate::date_span::names_month_or_day(w),
        _ => false,
    }
}

const fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// The bounds of the value that starts at `b[from]` (up to the next `,` or `;`), without its
/// quotes and brackets, when it is a path, URL, host name, e-mail or MAC address: such a value
/// is one variable even with no digit in it or with digits in some of its parts, as the value
/// of a `key=value` pair (`path=/var/lib/app/data.db` in a database's start-up log,
/// `from=<alice@example.com>` in a mail server's) or of a JSON field (`{"url":"https://…"}`
/// in a web application's structured log). So is a quoted value (`tag="RILJ_ACK_WL"` in a
/// phone's wake-lock log, `user="alice"` in a web application's audit log: the quotes mark a
/// string, which is data), `null` (an absent value in any Java or JSON log), and a dotted name
/// of three parts or more (`name=com.android.phone`, `logger=org.example.Worker`: a package or
/// a component given as a value). Numbers, addresses and ids in values are masked by the digit
/// runs as before; words stay (`user=root`, `tty=NODEVssh`: the miner merges them when they
/// vary; masking every value cost an authentication log's templates, see docs/templates.md).
fn value_at(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut end = from;
    let mut name = false; // a name has one of `. / \ : @`, or is a MAC address's 17 bytes
    while end < b.len() && !matches!(b[end], b',' | b';') {
        name |= matches!(b[end], b'.' | b'/' | b'\\' | b':' | b'@');
        end += 1;
    }
    // In quotes that close before the next `,` or `;` (`"View` opens a value of two words).
    let quoted = end - from >= 2 && matches!(b[from], b'"' | b'\'') && b[end - 1] == b[from];
    // A printed object, `WorkSource{10113}` (Java's `toString`), `Point{x=1}`.
    let object = end - from >= 3 && b[from].is_ascii_uppercase() && b[end - 1] == b'}';
    if end == from || !(name || quoted || object || end - from == 4 || end - from >= 17) {
        return None;
    }
    if object && is_object(&b[from..end]) {
        return Some((from, end));
    }
    let (s, e) = core_bounds(&b[from..end]);
    let c = &b[from + s..from + e];
    let classified = |c: &[u8]| {
        let m = scan(c);
        name_bytes(c, m)
            && matches!(
                classify_scanned(c, m),
                Some(MaskClass::Path | MaskClass::Host | MaskClass::Email | MaskClass::Mac)
            )
    };
    // Without one of `. / \ : @` (a UUID, `id=7f3a…`) a core is no dotted name, and only a
    // MAC address's 17 bytes pass `name_bytes`: most such values need no scan.
    let named = !c.is_empty()
        && (quoted
            || c == b"null"
            || if name {
                is_dotted_name(c) || classified(c)
            } else {
                c.len() == 17 && classified(c)
            });
    named.then_some((from + s, from + e))
}

/// Whether a core whose byte classes are `m` can be a path, host name, e-mail or MAC address at
/// all: a path has a slash (`/a`, `a/b.c`, `C:\a`, `s://a`), a host name a colon or a slash
/// (`db-1:5432`, `db/10.0.0.1`) or a dot and a letter (its domain), an e-mail address `@`, a MAC
/// address 17 bytes or 14 with dots. Values that are none (`18.61`, a UUID) need no classifying.
fn name_bytes(c: &[u8], m: u16) -> bool {
    has(m, C_SLASH | C_COLON | C_AT)
        || (has(m, C_DOT) && (has(m, C_HEX | C_LETTER) || c.len() == 14))
        || c.len() == 17
}

/// A printed object: an identifier and a `{…}` that closes at the end (`WorkSource{10113}`).
fn is_object(v: &[u8]) -> bool {
    let name = v.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    name > 0 && v.get(name) == Some(&b'{')
}

/// Dot-separated identifiers, two dots or more (`com.android.phone`).
fn is_dotted_name(c: &[u8]) -> bool {
    c.iter().filter(|&&x| x == b'.').count() >= 2
        && c.split(|&x| x == b'.').all(|seg| {
            seg.first().is_some_and(u8::is_ascii_alphabetic)
                && seg.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'_')
        })
}

/// Masks, inside a token, each UUID and each alphanumeric run containing a digit (with a
/// directly preceding minus sign when that sign does not follow a word character). Like
/// [`mask_shaped`]: appends to `out` and returns true only when something was masked.
fn mask_runs<S: Sink>(token: &str, out: &mut S) -> bool {
    // Word bytes by table lookup, like `is_word_byte`: this loop sees every byte of most tokens.
    const WORD: u8 = ALPHA | DIGIT | HIGH;
    let class = |c: u8| CLASS[usize::from(c)];
    let b = token.as_bytes();
    let mut i = 0;
    let mut copied = 0; // bytes of `token` already copied to `out`
    while i < b.len() {
        if class(b[i]) & WORD == 0 {
            // The value of a `key=value` pair, or of a quoted key in a JSON fragment
            // (`"key":value`), when it is a name that masking takes whole (see `value_at`).
            let key_end =
                b[i] == b'=' || (b[i] == b':' && i > 0 && matches!(b[i - 1], b'"' | b'\''));
            if key_end && i > 0 {
                if let Some((vs, ve)) = value_at(b, i + 1) {
                    out.push(&token[copied..vs]);
                    out.push_param();
                    copied = ve;
                    i = ve;
                    continue;
                }
            }
            i += 1;
            continue;
        }
        if uuid_at(b, i) && (i + 36 == b.len() || !is_word_byte(b[i + 36])) {
            out.push(&token[copied..i]);
            out.push_param();
            i += 36;
            copied = i;
            continue;
        }
        let start = i;
        let mut run = 0;
        while i < b.len() {
            let k = class(b[i]);
            if k & WORD == 0 {
                break;
            }
            run |= k;
            i += 1;
        }
        if run & DIGIT != 0 || is_variable_word(&b[start..i]) {
            let mut s = start;
            if s > 0 && b[s - 1] == b'-' && (s == 1 || !is_word_byte(b[s - 2])) {
                s -= 1;
            }
            // `s` and `i` are char boundaries: word runs include whole non-ASCII characters.
            out.push(&token[copied..s]);
            out.push_param();
            copied = i;
        }
    }
    // Every masked part moves `copied` past it: nothing was masked while it is 0.
    if copied == 0 {
        return false;
    }
    out.push(&token[copied..]);
    true
}

// The frequent forms of a varying token.
//
// The masked forms of the tokens that vary on almost every line, decided in one short pass
// over the token instead of the full classification ([`whole_core`], then
// [`mask_runs`] and [`crate::variable_form::collapse`] in a buffer), which reads such
// a token four or five times. Each form is the one the full path gives (a randomised test in
// masking/frequent_tests.rs compares the two, near misses included); a token that only looks
// like one is left to the full path.

/// What masking makes of a token, when [`frequent`] can tell without classifying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frequent {
    /// The token stays as it is.
    Kept,
    /// `token[..open]`, `<*>`, `token[close..]`.
    Masked { open: usize, close: usize },
}

/// The masked form of a token (not a blob, neither a plain word nor digits alone, see
/// `mask_shaped`) whose shape (the union of its bytes' classes) is `shape`, in the given form,
/// when it is one of the frequent variable forms:
///
/// - letters and digits (`alice42`, a user's name with a counter in an authentication log; a
///   16-digit hex id, `9f3a0c…`, in a tracing service's): `<*>`, but for a device's name
///   (`eth0`, see `is_device_name`);
/// - a UUID alone (a request's id in a web application's log, a block's in a storage node's):
///   `<*>`;
/// - `key=value` with a value that is a variable as a whole (see [`pair`]): `key=<*>`;
/// - a program's name and its process id, `sshd[4242]:` (syslog's tag), `CRON[77]`:
///   `sshd[<*>]:`;
/// - in the whole-token form, runs of letters and digits joined by `:`, each with a digit
///   (`SHA256:Xb3…`, a key's fingerprint in an SSH daemon's log; `r3:c12`, a rack and a
///   chassis in a cluster's): `<*>`, one variable.
fn frequent(b: &[u8], shape: u8, form: VariableForm) -> Option<Frequent> {
    let whole = Some(Frequent::Masked {
        open: 0,
        close: b.len(),
    });
    if shape == ALPHA | DIGIT {
        // Letters and digits are one run, masked whole (as a hex id or a number if the core
        // classifies as one) unless it is a device's name: lower-case letters and one digit,
        // not all of them hex digits when there are eight or more (then a hex id).
        let letters = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
        let device = letters > 0
            && letters + 1 == b.len()
            && !(b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit));
        return if device { Some(Frequent::Kept) } else { whole };
    }
    // Quotes open values over several tokens, and non-ASCII bytes make words: the full path.
    if shape & OTHER == 0 || shape & (HIGH | QUOTE) != 0 {
        return None;
    }
    let c0 = b[0];
    if c0.is_ascii_lowercase() && shape & COLON == 0 {
        if let Some(masked) = pair(b, form) {
            return Some(masked);
        }
    }
    // Letters, digits and punctuation, perhaps a colon (`sshd[4242]:`).
    if shape & !COLON == ALPHA | DIGIT | OTHER {
        if shape & COLON == 0 && b.len() == 36 && uuid_at(b, 0) {
            return whole;
        }
        if c0.is_ascii_alphabetic() {
            if let Some(masked) = tagged_pid(b) {
                return Some(masked);
            }
        }
        if shape & COLON != 0 && form == VariableForm::Token && colon_runs(b) {
            return whole;
        }
    }
    None
}

/// Where the value starts (after `=`) when `b` starts with a key of lower-case words joined by
/// `_`, none of them a value word (`true`): masking keeps such a key as it is.
fn pair_key(b: &[u8]) -> Option<usize> {
    // One pass: each word is tested as it ends, at `_` or at `=`.
    let mut word = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'a'..=b'z' => {}
            b'_' | b'=' => {
                if is_variable_word(&b[word..i]) {
                    return None;
                }
                if c == b'=' {
                    return (i > 0).then_some(i + 1);
                }
                word = i + 1;
            }
            _ => return None,
        }
    }
    None
}

/// Digits joined by single dots, a digit first and last (`53354`, `96.14`, `1.2.3`): a
/// value whose digit runs are masked and joined into one variable in the whole-token form.
fn is_dotted_number(v: &[u8]) -> bool {
    v.first().is_some_and(u8::is_ascii_digit)
        && v.last().is_some_and(u8::is_ascii_digit)
        && v.iter().all(|&c| c.is_ascii_digit() || c == b'.')
        && !v.windows(2).any(|w| w == b"..")
}

/// `key=value` (see [`pair_key`]) whose value, to the token's end, is one variable: letters
/// and digits with a digit (`user=alice42`, `trace=9f3a0c…`: one run, masked), a UUID
/// (`id=<uuid>`), an absolute path (`path=/var/data/x.json`: a name, see `value_at`), or, in
/// the whole-token form, a number (`rows=53354`, `total=96.14`, `ver=1.2.3`: its runs joined).
/// The token has no colon (no URL, no `"key":value`), quote or non-ASCII byte.
fn pair(b: &[u8], form: VariableForm) -> Option<Frequent> {
    let from = pair_key(b)?;
    let v = &b[from..];
    let masked = Some(Frequent::Masked {
        open: from,
        close: b.len(),
    });
    if let [b'/', .., last] | [last @ b'/'] = v {
        // As `value_at` takes it: no `,` or `;` ends it early, no punctuation is stripped from
        // its end, and, without a colon, a path is a Unix path.
        let path = !is_close(*last) && !v.iter().any(|&c| matches!(c, b',' | b';'));
        return (path && is_unix_path(v)).then_some(Frequent::Masked {
            open: from,
            close: b.len(),
        });
    }
    // Letters and digits to the end (most such values stop at their first byte that is not).
    if !v.iter().any(|c| !c.is_ascii_alphanumeric()) {
        return v
            .iter()
            .any(u8::is_ascii_digit)
            .then_some(Frequent::Masked {
                open: from,
                close: b.len(),
            });
    }
    if v.len() == 36 && uuid_at(v, 0) {
        return masked;
    }
    if form == VariableForm::Token && is_dotted_number(v) {
        return masked;
    }
    None
}

/// A program's name and its process id, `sshd[4242]` with `:`, `,`, `;` or `.` after it (the
/// tag of a syslog line, `CRON[77]:`, `kube-proxy[12]:`): the name is letters, `-` and `_`,
/// none of its words a value word, and the id digits.
fn tagged_pid(b: &[u8]) -> Option<Frequent> {
    let open = b
        .iter()
        .position(|&c| !(c.is_ascii_alphabetic() || matches!(c, b'-' | b'_')))?;
    if b[open] != b'[' {
        return None;
    }
    let digits = b[open + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let close = open + 1 + digits;
    let tail_ok = digits > 0
        && b.get(close) == Some(&b']')
        && b[close + 1..]
            .iter()
            .all(|c| matches!(c, b':' | b',' | b';' | b'.'));
    let name_ok = !b[..open]
        .split(|&c| matches!(c, b'-' | b'_'))
        .any(is_variable_word);
    (tail_ok && name_ok).then_some(Frequent::Masked {
        open: open + 1,
        close,
    })
}

/// Runs of ASCII letters and digits joined by single colons, each run with a digit: every run
/// is masked, and the whole-token form joins them over their colons into one `<*>` (so does
/// the classification, when the token is a host and port or an IPv6 address).
fn colon_runs(b: &[u8]) -> bool {
    let mut digit = false;
    for &c in b {
        match CLASS[usize::from(c)] {
            ALPHA => {}
            DIGIT => digit = true,
            // A colon ends a run, which needs a digit (an empty one has none).
            _ if c == b':' && digit => digit = false,
            _ => return false,
        }
    }
    digit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(token: &str) -> String {
        let mut out = String::new();
        mask_token(token, &mut out);
        out
    }

    #[test]
    fn classes_of_whole_tokens() {
        let cases: &[(&str, Option<MaskClass>)] = &[
            ("42", Some(MaskClass::Number)),
            ("-3.5e-7", Some(MaskClass::Number)),
            ("0x7fed806eb5d", Some(MaskClass::Number)),
            ("10.251.73.220", Some(MaskClass::Ip)),
            ("10.251.73.220:50010", Some(MaskClass::Ip)),
            ("fe80::1ff:fe23:4567:890a", Some(MaskClass::Ip)),
            ("2001:db8:0:0:0:0:2:1", Some(MaskClass::Ip)),
            (
                "38101a0b-2096-447d-96ea-a692162415ae",
                Some(MaskClass::Uuid),
            ),
            ("12ms", Some(MaskClass::Duration)),
            ("1.5s", Some(MaskClass::Duration)),
            ("1m30s", Some(MaskClass::Duration)),
            ("3d", Some(MaskClass::Duration)),
            ("113d3a99c3da401fbd62cc2caa5b96d2", Some(MaskClass::HexId)),
            ("2016/9/27:20:30:31.455", Some(MaskClass::Numeric)),
            ("12:01:01", Some(MaskClass::Numeric)),
            ("/var/log/syslog", Some(MaskClass::Path)),
            ("./run.sh", Some(MaskClass::Path)),
            ("C:\\Windows\\winsxs", Some(MaskClass::Path)),
            ("https://example.com/a?b=1", Some(MaskClass::Path)),
            ("(10.0.0.1),", Some(MaskClass::Ip)),
            ("\"1234\"", Some(MaskClass::Number)),
            ("done", None),
            ("deadbeef", None),
            ("blk_123", None),
            ("uid=0", None),
            ("/", None),
            ("//", None),
            ("1.2.3.256", Some(MaskClass::Numeric)),
            ("e10", None),
        ];
        for (token, class) in cases {
            assert_eq!(classify(token), *class, "{token}");
        }
        assert_eq!(classify(&"a".repeat(200)), Some(MaskClass::Blob));
    }

    /// The original `is_path`: a substring search for "://" first.
    fn is_path_reference(c: &[u8]) -> bool {
        if let Some(p) = find(c, b"://") {
            return p > 0
                && c[0].is_ascii_alphabetic()
                && c[..p]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b':'));
        }
        if c.len() > 3 && c[0].is_ascii_alphabetic() && c[1] == b':' && c[2] == b'\\' {
            return true;
        }
        // The Unix-path tail is shared (its byte test is a table since): the pre-checks are
        // what this tests.
        is_unix_path(c)
    }

    /// The class tests in turn, without the pre-checks on the core's byte classes.
    fn classify_core_reference(c: &[u8]) -> Option<MaskClass> {
        if c.is_empty() {
            return None;
        }
        let digit = c.iter().any(u8::is_ascii_digit);
        let alpha = c.iter().any(|&b| b.is_ascii_alphabetic() || b >= 0x80);
        let colon = c.contains(&b':');
        if (matches!(c[0], b'/' | b'.' | b'~') || colon) && is_path_reference(c) {
            return Some(MaskClass::Path);
        }
        if (c.contains(&b'/') || c.contains(&b'\\')) && is_relative_path(c) {
            return Some(MaskClass::Path);
        }
        if !c.iter().any(|&b| b >= 0x80) && is_host(c) {
            return Some(MaskClass::Host);
        }
        if c.contains(&b'@') && is_email(c) {
            return Some(MaskClass::Email);
        }
        if is_mac(c) {
            return Some(MaskClass::Mac);
        }
        if !digit {
            return None;
        }
        let odd = |b: &u8| {
            !b.is_ascii_alphanumeric()
                && !matches!(b, b':' | b'.' | b'/' | b'\\' | b'@')
                && *b < 0x80
        };
        if colon && c.iter().any(odd) && is_ip_literal(c) {
            return Some(MaskClass::Ip);
        }
        if is_uuid(c) {
            return Some(MaskClass::Uuid);
        }
        if matches!(c[0], b'0'..=b'9' | b'+' | b'-') && is_number(c) {
            return Some(MaskClass::Number);
        }
        if is_ipv4(c) || is_ipv6(c) {
            return Some(MaskClass::Ip);
        }
        if c[0].is_ascii_digit() && is_duration(c) {
            return Some(MaskClass::Duration);
        }
        if c.len() >= 8 && c.iter().all(u8::is_ascii_hexdigit) {
            return Some(MaskClass::HexId);
        }
        (!alpha || (c[0].is_ascii_digit() && is_datetime_str(c))).then_some(MaskClass::Numeric)
    }

    /// `mask_token` without its shortcuts: the full classification of every token.
    fn mask_token_reference(token: &str, out: &mut String) {
        let b = token.as_bytes();
        if b.len() > MAX_TOKEN_BYTES {
            out.push_str(PARAM);
            return;
        }
        let (s, e) = core_bounds(b);
        if s < e && classify_core_reference(&b[s..e]).is_some() {
            out.push_str(&token[..s]);
            out.push_str(PARAM);
            out.push_str(&token[e..]);
            return;
        }
        let digit = b.iter().any(u8::is_ascii_digit);
        if (digit && is_java_name(&b[s..e])) || is_device_name(b) || !mask_runs(token, out) {
            out.push_str(token);
        }
    }

    #[test]
    fn shortcuts_agree_with_the_full_classification() {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "x",
            "e",
            "0",
            "7",
            "12",
            ".",
            ":",
            "/",
            "-",
            "+",
            "~",
            "(",
            ")",
            "[",
            "]",
            "\"",
            ",",
            "=",
            "_",
            "ü",
            "ms",
            "µs",
            "min",
            "h",
            "d",
            "\\",
            "fe80",
            "true",
            "Jul",
            "0x",
            "::",
            "://",
            "http",
            "C:\\",
            "deadbeef",
            "38101a0b-2096-447d-96ea-a692162415ae",
            "abcdefab-abcd-abcd-abcd-abcdefabcdef",
            "@",
            "%",
            "com",
            "aa:",
            "-f1",
            "eth0",
            "HTTP/1.1",
            "conf",
            ".yaml",
            "jdbc:",
        ];
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
        let (mut fast, mut full) = (String::new(), String::new());
        for _ in 0..200_000 {
            let n = 1 + next() % 6;
            let token: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            fast.clear();
            full.clear();
            mask_token(&token, &mut fast);
            mask_token_reference(&token, &mut full);
            assert_eq!(fast, full, "{token:?}");
            let (s, e) = core_bounds(token.as_bytes());
            let core = &token.as_bytes()[s..e];
            assert_eq!(
                classify_core(core),
                classify_core_reference(core),
                "{token:?}"
            );
            // `value_at` classifies only the values whose bytes allow a name.
            let name = matches!(
                classify_core_reference(core),
                Some(MaskClass::Path | MaskClass::Host | MaskClass::Email | MaskClass::Mac)
            );
            assert!(!name || name_bytes(core, scan(core)), "{token:?}");
        }
        for name in [
            "/a",
            "a/b.c",
            "C:\\a",
            "s://a",
            "db-1:5432",
            "db-1/10.0.0.1",
            "1.example.com",
            "a@example.com",
            "00-11-22-33-44-55",
            "0011.2233.4455",
        ] {
            assert!(classify(name).is_some(), "{name}");
            assert!(name_bytes(name.as_bytes(), scan(name.as_bytes())), "{name}");
        }
    }

    #[test]
    fn scheme_ends_are_found_like_a_substring_search() {
        for c in [
            "",
            ":",
            "://",
            "a://b",
            "a:b://c",
            "a:/b",
            "a:",
            "::://",
            "x:y:z",
            "http://a:1//",
        ] {
            assert_eq!(
                find_scheme_end(c.as_bytes()),
                find(c.as_bytes(), b"://"),
                "{c}"
            );
        }
    }

    #[test]
    fn the_whole_token_shortcut_agrees_with_collapsing() {
        for t in [
            "0",
            "123",
            "123,",
            "(10.0.0.1)",
            "[1.2.3]:",
            "\"42\"",
            "'7'",
            "<12>",
            "`3`",
            "#5",
            "blk_-12",
            "x=1,",
            "(api.example.com:443),",
            "/var/log/a.log",
            "node-7",
            "\"a1\"",
            "12ms.",
        ] {
            let shape = t.bytes().fold(0u8, |a, c| a | CLASS[usize::from(c)]);
            let mut fine = String::new();
            let mut expected = String::new();
            if mask_parts(t, Shape(shape), &mut fine) {
                collapse(&fine, |x| expected.push_str(x));
            } else {
                expected.push_str(t);
            }
            let mut got = String::new();
            if !mask_shaped(t, Shape(shape), VariableForm::Token, &mut got) {
                got.push_str(t);
            }
            assert_eq!(got, expected, "{t}");
            // The finer form is `mask_parts`'s, shortcuts included.
            let mut parts = String::new();
            if !mask_shaped(t, Shape(shape), VariableForm::Parts, &mut parts) {
                parts.push_str(t);
            }
            if fine.is_empty() {
                fine.push_str(t);
            }
            assert_eq!(parts, fine, "{t}");
        }
    }

    #[test]
    fn host_names_and_host_port_pairs_are_variables() {
        // A connection log's peers and a cluster's node addresses.
        for host in [
            "api.example.com",
            "api.example.com:443",
            "MSRA-SA-41.fareast.corp.microsoft.com",
            "node7.cluster.local",
            "db-1:5432",
            "msra-sa-41:8030",
            "msra-sa-41/10.190.173.170:8030",
        ] {
            assert_eq!(classify(host), Some(MaskClass::Host), "{host}");
            assert_eq!(m(&format!("({host}),")), "(<*>),", "{host}");
        }
        // Code names, key:value pairs and words stay text.
        for text in [
            "org.apache.hadoop.Foo",
            "nova.compute.manager",
            "com.tencent.mobileqq",
            "size:12",
            "line:42",
            "a..com",
            "-x.com",
            "db-1:123456",
        ] {
            assert_ne!(classify(text), Some(MaskClass::Host), "{text}");
        }
        assert_eq!(m("example.com."), "<*>.");
    }

    #[test]
    fn whole_tokens_keep_their_surrounding_punctuation() {
        assert_eq!(m("42"), "<*>");
        assert_eq!(m("(10.0.0.1),"), "(<*>),");
        assert_eq!(m("[/usr/lib/x.so]"), "[<*>]");
        assert_eq!(m("\"1234\""), "\"<*>\"");
        assert_eq!(m("12:01:01"), "<*>");
    }

    #[test]
    fn parts_with_digits_are_masked_inside_words() {
        assert_eq!(m("blk_-6952295868487656571"), "blk_<*>");
        assert_eq!(m("blk_38865049064139660"), "blk_<*>");
        assert_eq!(m("uid=0"), "uid=<*>");
        assert_eq!(m("rhost=218.188.2.4"), "rhost=<*>.<*>.<*>.<*>");
        assert_eq!(m("(HWID=1973)"), "(HWID=<*>)");
        assert_eq!(
            m("attempt_1445144423722_0020_m_000000_0"),
            "attempt_<*>_<*>_m_<*>_<*>"
        );
        assert_eq!(m("Token{a64f992"), "Token{<*>");
        assert_eq!(m("onExtend:1514038530000"), "onExtend:<*>");
        assert_eq!(m("node-246"), "node-<*>");
        assert_eq!(m("HTTP/1.1\""), "HTTP/<*>.<*>\"");
        assert_eq!(m("[req-38101a0b-2096-447d-abcd-a692162415ae"), "[req-<*>");
        assert_eq!(m("took=12ms"), "took=<*>");
        assert_eq!(m("x-y"), "x-y");
        assert_eq!(m("größe=12"), "größe=<*>");
        assert_eq!(m("ü1ü"), "<*>");
    }

    #[test]
    fn booleans_and_date_words_are_values() {
        assert_eq!(m("isOverlap:false,"), "isOverlap:<*>,");
        assert_eq!(m("True"), "<*>");
        assert_eq!(m("Jul"), "<*>");
        assert_eq!(m("Sun"), "<*>");
        for w in ["may", "sun", "trueness", "July", "Junk"] {
            assert_eq!(m(w), w);
        }
    }

    #[test]
    fn words_without_digits_are_kept() {
        for w in [
            "Receiving",
            "block",
            "size:",
            "(root)",
            "deadbeef",
            "-",
            "<*>",
            "a.b.c",
        ] {
            assert_eq!(m(w), w);
        }
    }

    /// The masked tokens of `line` in the whole-token form, joined by one space.
    fn line(line: &str) -> String {
        let mut out = String::new();
        let mut spans = Vec::new();
        mask_line(line, 256, VariableForm::Token, &mut out, &mut spans);
        let toks: Vec<&str> = spans
            .iter()
            .map(|&(s, e)| &out[s as usize..e as usize])
            .collect();
        toks.join(" ")
    }

    #[test]
    fn the_gates_before_multi_token_terms_let_their_tokens_through() {
        // Request targets: a path after brackets, a relative or home path, a URL or a drive
        // (a colon, whatever the first byte).
        for (l, want) in [
            ("\"GET /a/b.html HTTP/1.1\" 200", "\"GET <*>\" <*>"),
            ("(\"/a/b HTTP/1.0\")", "(\"<*>\")"),
            ("GET ./a/b HTTP/1.0", "GET <*>"),
            ("GET ~/a/b HTTP/1.0", "GET <*>"),
            ("GET ../a/b HTTP/1.0", "GET <*>"),
            ("\"GET http://a.example.com/x HTTP/1.1\"", "\"GET <*>\""),
            ("[jdbc:postgresql://db/x RTSP/1.0]", "[<*>]"),
            // A slash but no path: the protocol stays a token of its own.
            ("run a/b HTTP/1.1", "run a/b HTTP/<*>"),
        ] {
            assert_eq!(line(l), want, "{l}");
        }
        // Quoted values of several words: a quote in the token, a word at its end.
        for (l, want) in [
            ("tag=\"View Lock\" x", "tag=\"<*>\" x"),
            ("(msg='disk almost full')", "(msg='<*>')"),
            ("{\"k=\"a b\"}", "{\"k=\"<*>\"}"),
        ] {
            assert_eq!(line(l), want, "{l}");
        }
    }

    #[test]
    fn lines_split_like_split_ascii_whitespace() {
        let line = " a\tb\x0bc\x0cd\re\nf  ü\u{a0}g ";
        let mut out = String::new();
        let mut spans = Vec::new();
        mask_line(line, 100, VariableForm::Parts, &mut out, &mut spans);
        let mut expected = String::new();
        let mut expected_spans = Vec::new();
        for token in line.split_ascii_whitespace() {
            let start = expected.len() as u32;
            mask_token(token, &mut expected);
            expected_spans.push((start, expected.len() as u32));
        }
        assert_eq!((out, spans), (expected, expected_spans));
    }

    #[test]
    fn lines_split_on_white_space_with_a_token_bound() {
        let mut out = String::new();
        let mut spans = Vec::new();
        mask_line(
            "  a 1\tb  c=2 \r",
            10,
            VariableForm::Parts,
            &mut out,
            &mut spans,
        );
        let toks: Vec<&str> = spans
            .iter()
            .map(|&(s, e)| &out[s as usize..e as usize])
            .collect();
        assert_eq!(toks, ["a", "<*>", "b", "c=<*>"]);
        mask_line("a b c d e", 3, VariableForm::Parts, &mut out, &mut spans);
        let toks: Vec<&str> = spans
            .iter()
            .map(|&(s, e)| &out[s as usize..e as usize])
            .collect();
        assert_eq!(toks, ["a", "b", "c", "<*>"]);
        mask_line("", 3, VariableForm::Parts, &mut out, &mut spans);
        assert!(spans.is_empty());
    }

    /// Values with none of `. / \ : @` skip the core's scan in `value_at`: a MAC address, `null`
    /// deep in brackets and a quoted word are still taken whole, a UUID by its own rule.
    #[test]
    fn values_without_name_bytes_are_still_named() {
        for (t, want) in [
            ("k=00-11-22-33-44-55", "k=<*>"),
            ("mac=AA-BB-CC-DD-EE-FF,", "mac=<*>,"),
            ("k=(((((((((((((null)", "k=(((((((((((((<*>)"),
            ("k=null", "k=<*>"),
            ("k='word'", "k='<*>'"),
            ("id=38101a0b-2096-447d-96ea-a692162415ae", "id=<*>"),
            ("k=00-11-22-33-44-5g", "k=<*>-<*>-<*>-<*>-<*>-<*>"),
            ("k=org.example.Worker", "k=<*>"),
            // A class name, before a colon or a comma, is text (a slash makes it none).
            (
                "mapreduce.v2.app.MRAppMaster:",
                "mapreduce.v2.app.MRAppMaster:",
            ),
            ("sns.v4.SnsService$Inner2,", "sns.v4.SnsService$Inner2,"),
            ("a/mapreduce.v2.app.Main", "a/mapreduce.<*>.app.Main"),
            ("k=word", "k=word"),
        ] {
            assert_eq!(m(t), want, "{t}");
        }
    }

    /// The shortcut for `HTTP/1.1` ([`protocol_core`]) yields what the general test yields, on
    /// protocol tokens mutated byte by byte (near misses: another version or name, a byte too
    /// many or too few, punctuation that is no closer).
    #[test]
    fn the_protocol_shortcut_agrees_with_the_general_test() {
        let seeds = [
            "HTTP/1.1\"",
            "HTTP/1.1",
            "HTTP/1.0\"",
            "HTTP/2.0",
            "RTSP/1.0",
            "HTTP/1.1\")",
        ];
        let alphabet = b"HTP/1.02\")],;:x- ";
        let mut next = crate::test_rng::xorshift(0x2f6b_9d3c_a741_05e9_u64);
        let mut taken = 0;
        for _ in 0..50_000 {
            let mut t = seeds[(next() % seeds.len() as u64) as usize]
                .as_bytes()
                .to_vec();
            for _ in 0..next() % 3 {
                let at = (next() % (t.len() as u64 + 1)) as usize;
                let c = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 3 {
                    0 if at < t.len() => t[at] = c,
                    1 if at < t.len() => {
                        t.remove(at);
                    }
                    _ => t.insert(at, c),
                }
            }
            let want = protocol_general(&t);
            assert_eq!(protocol_core(&t), want, "{:?}", String::from_utf8_lossy(&t));
            taken += usize::from(want == Some(8) && t.starts_with(b"HTTP/1.1"));
        }
        assert!(taken > 5_000, "{taken}");
    }

    /// [`path_bytes`] agrees with [`PATH_BYTE`] byte by byte, whatever the bytes and their lane.
    #[test]
    fn path_bytes_are_tested_eight_at_a_time() {
        let alphabet = [
            b'a', b'/', b'.', b' ', b'!', b'<', b'>', b'"', b'|', 0, 0x1f, 0x7f, 0x80, 0xff, b'=',
            b';', b'{', b'}', b'~',
        ];
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d_u64);
        for _ in 0..50_000 {
            let len = (next() % 24) as usize;
            // Mostly path bytes, so that a lone odd byte is tested in every lane.
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    if next().is_multiple_of(4) {
                        alphabet[(next() % alphabet.len() as u64) as usize]
                    } else {
                        b'a' + (next() % 26) as u8
                    }
                })
                .collect();
            let want = b.iter().all(|&c| PATH_BYTE[usize::from(c)]);
            assert_eq!(path_bytes(&b), want, "{b:?}");
        }
    }

    /// A line's terms as text, in the given form: `(start, end, masked text, plain)` for each,
    /// `plain` only for a one-token term (the memo's key); with or without the shortcuts of
    /// [`terms`].
    fn rendered<const FAST: bool>(
        line: &str,
        form: VariableForm,
    ) -> Vec<(usize, usize, String, Option<bool>)> {
        struct Record<'a>(
            &'a str,
            VariableForm,
            Vec<(usize, usize, String, Option<bool>)>,
        );
        impl TermSink for Record<'_> {
            fn known(&mut self, _: usize) -> Option<usize> {
                None
            }
            fn term(&mut self, s: usize, e: usize, term: Term, plain: bool) -> bool {
                let (c, form) = (self.0, self.1);
                let mut text = String::new();
                let plain = match term {
                    Term::Token(shape) => {
                        assert_eq!(shape, Shape::of(&c.as_bytes()[s..e]), "{c}: shape");
                        if !mask_shaped(&c[s..e], shape, form, &mut text) {
                            text.push_str(&c[s..e]);
                        }
                        Some(plain)
                    }
                    Term::Variable { open, close } => {
                        push_variable(&c[s..open], &c[close..e], form, &mut text);
                        None
                    }
                };
                self.2.push((s, e, text, plain));
                true
            }
        }
        let mut r = Record(line, form, Vec::new());
        terms::<false, FAST, _>(line, &mut r);
        r.2
    }

    /// The shortcuts of [`terms`] (a number read once, a numbered list's next token scanned
    /// only when it starts alike) give the terms of the full path, on lines drawn from numbers,
    /// their near misses (`1.`, `12` before a month, `1..2`, `3/5`, `72ms`) and the starts of
    /// variables over several tokens.
    #[test]
    fn the_shortcuts_of_terms_agree_with_the_full_path() {
        let vocabulary = [
            "17668",
            "201",
            "12",
            "7",
            "0.860",
            "1.5",
            "1.",
            "12.",
            "1.2.",
            "1..2",
            "10.232.186.42",
            "10.0.0.1:8080",
            "3/5)",
            "72ms",
            "26.7s",
            "5m",
            "1m30s",
            "1.2.3ms",
            "1.ms",
            "12\u{b5}s",
            "10msx",
            "7d",
            "365days",
            "1.5s,",
            "250us",
            "3h",
            "30sec",
            "0x1d",
            "12e",
            "99mins",
            "1.2.3-beta",
            "123,",
            "12/05/2020",
            "2005",
            "27",
            "Jul",
            "July",
            "10:59:53",
            "+0000]",
            "[27/Jul/2005:10:59:53",
            "PM",
            "an14",
            "an15",
            "an",
            "a1",
            "b2",
            "blk_-51",
            "blk_76",
            "blk_",
            "x=1",
            "a=1",
            "rows=53354",
            "tag=\"View",
            "Lock\"",
            "/index.html",
            "HTTP/1.1\"",
            "starting",
            "nginx",
            "in",
            "port",
            "\"GET",
            "-",
            "1\u{e9}",
            "9\t",
            "0x1f",
            "2024-05-01T10:00:00Z",
            // Request targets read once, and their near misses.
            "/api/v1/users/77111",
            "/a\u{1}b",
            "/a<b",
            "/a|b",
            "/a\"b",
            "/a\u{b}b",
            "/caf\u{e9}",
            "//x",
            "/",
            "/.",
            "/x:y",
            "/x,",
            "HTTP/1.1",
            "HTTP/1.1\"x",
            "HTTP/1.1\",",
            "HTTP/1.0\"",
            "HTTPS/1.1",
            // Access-log dates and their near misses.
            "[23/Nov/2026:20:03:14",
            "[3/Nov/2026:20:03:14",
            "[23/Nov/2026:20:03:14]",
            "[23/Nox/2026:20:03:14",
            "[23/Nov/2026:20:03:14\u{b}+0000]",
            "[23/Nov/2026:20:03:140",
            "[23/Nov/2026:20:03:14\r",
            "[23/Nov/2026:20:03:14\u{e9}",
            "[2/",
            "[12]",
            "+0000]\"",
            "-0700",
            "+00:00]",
            // Numbers near eight bytes and over two words.
            "1234567",
            "12345678",
            "123456789",
            "1.2.3.4.5",
            "10.112.3.19",
            "1234567.",
            "0.123456789s",
            // Numbers that start no date unless the next token goes on with them.
            "10.0.0.1:5432",
            "3/5",
            "27/Jul/2005:10:59:53",
            "10:59:53",
            "2017-05-16",
            "05:00:00",
            "UTC",
            "Jul",
            "+05:30",
            "-",
            "x",
        ];
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        for _ in 0..20_000 {
            let n = 1 + (next() % 6) as usize;
            let mut line = String::new();
            for _ in 0..n {
                line.push_str([" ", "  ", "\t"][(next() % 3) as usize]);
                line.push_str(vocabulary[(next() % vocabulary.len() as u64) as usize]);
            }
            if next().is_multiple_of(2) {
                line = line.trim_start().to_string();
            }
            for form in [VariableForm::Token, VariableForm::Parts] {
                let (fast, full) = (
                    rendered::<true>(&line, form),
                    rendered::<false>(&line, form),
                );
                // A number is a bare variable on the short path, a token on the full one.
                let fast: Vec<_> = fast.into_iter().map(|(s, e, t, _)| (s, e, t)).collect();
                let full_text: Vec<_> = full
                    .iter()
                    .map(|(s, e, t, _)| (*s, *e, t.clone()))
                    .collect();
                assert_eq!(fast, full_text, "{line:?}");
            }
            // Where both paths give a token, it is as plain on both (what the memo keys on).
            let fast = rendered::<true>(&line, VariableForm::Token);
            let full = rendered::<false>(&line, VariableForm::Token);
            for (f, g) in fast.iter().zip(&full) {
                if f.3.is_some() {
                    assert_eq!(f.3, g.3, "{line:?}: {}", f.2);
                }
            }
        }
    }

    /// `PATH_CLASS` is `CLASS` but for `SLASH`, which it sets on the bytes no path holds.
    #[test]
    fn the_path_class_marks_the_bytes_no_path_holds() {
        for c in 0..=255u8 {
            let (class, path) = (CLASS[usize::from(c)], PATH_CLASS[usize::from(c)]);
            assert_eq!(path & !SLASH, class & !SLASH, "{c}");
            let marked = path & SLASH != 0;
            assert_eq!(marked, class != SPACE && !PATH_BYTE[usize::from(c)], "{c}");
        }
    }

    /// The word-at-a-time UUID test agrees with a byte loop on UUIDs, their near misses (each
    /// byte replaced by a neighbour of the hex digits, a dash, a non-ASCII byte) and offsets.
    #[test]
    fn uuids_are_found_like_a_byte_loop() {
        fn reference(c: &[u8], i: usize) -> bool {
            c.len() >= i + 36
                && c[i..i + 36].iter().enumerate().all(|(k, &b)| {
                    if matches!(k, 8 | 13 | 18 | 23) {
                        b == b'-'
                    } else {
                        b.is_ascii_hexdigit()
                    }
                })
        }
        const BYTES: &[u8] = b"0123456789abcdefABCDEF/:@`Gg-\x00\x10\x80\xb0\xc1\xe6\xff";
        let base = b"x38101a0b-2096-447D-96ea-a692162415aez".to_vec();
        let mut next = crate::test_rng::xorshift(0x2d35_8dcc_aa6c_78a5_u64);
        let mut found = 0;
        for _ in 0..50_000 {
            let mut c = base.clone();
            for _ in 0..next() % 3 {
                let k = (next() % c.len() as u64) as usize;
                c[k] = BYTES[(next() % BYTES.len() as u64) as usize];
            }
            for i in 0..4 {
                assert_eq!(uuid_at(&c, i), reference(&c, i), "{c:?} at {i}");
                found += usize::from(reference(&c, i));
            }
        }
        assert!(found > 5_000, "{found}");
    }

    /// `key=number` in the whole-token form is what collapsing the finer form gives, for keys
    /// and values drawn from letters, `_`, value words, digits, dots and near misses.
    #[test]
    fn a_key_and_a_number_agree_with_collapsing() {
        let keys = [
            "rows",
            "total",
            "max_rows",
            "a",
            "true",
            "x_false",
            "False",
            "Jul",
            "jul",
            "v2",
            "Key",
            "a-b",
            "",
            "_k",
            "k_",
            "ab__c",
            "\u{e9}t\u{e9}",
            "k=",
            "abcdef",
        ];
        let values = [
            "1",
            "53354",
            "96.14",
            "1.2.3",
            "1.",
            ".5",
            "1..2",
            "1234.5678.9012",
            "12a",
            "1,2",
            "1;",
            "0x1f",
            "",
            "-1",
            "1.2.3.4:80",
            "1e5",
            "00000000000000000",
            "(1)",
        ];
        let long = format!("k={}", "1".repeat(MAX_TOKEN_BYTES));
        let mut tokens = vec![long];
        for k in keys {
            for v in values {
                tokens.push(format!("{k}={v}"));
            }
        }
        for t in &tokens {
            let shape = Shape::of(t.as_bytes());
            let mut fine = String::new();
            let mut expected = String::new();
            if mask_parts(t, shape, &mut fine) {
                collapse(&fine, |x| expected.push_str(x));
            } else {
                expected.push_str(t);
            }
            let mut got = String::new();
            if !mask_shaped(t, shape, VariableForm::Token, &mut got) {
                got.push_str(t);
            }
            assert_eq!(got, expected, "{t}");
        }
        // The shortcut is taken where it should be.
        assert_eq!(key_number(b"rows=53354"), Some(5));
        assert_eq!(key_number(b"max_rows=1.2.3"), Some(9));
        for t in ["true=1", "v2=1", "k=1.", "k=1..2", "Key=1", "k=1a", "k="] {
            assert_eq!(key_number(t.as_bytes()), None, "{t}");
        }
    }
}

#[cfg(test)]
mod class_tests;
#[cfg(test)]
mod frequent_tests;
