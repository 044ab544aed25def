//! Whether a template's token already says what a line's token says, so that the line can join
//! without changing it, and a memo of the pairs found so.
//!
//! A template's token that holds a variable but is not a bare `<*>` (`rhost=<*>`, `"curl/<*>"`,
//! `blk_<*>` in the finer form) is true of a line's token only if the token fits it, each `<*>`
//! standing for any text: `rhost=<*>` covers `rhost=host.example`, `"curl/<*>"` does not cover
//! `"kube-probe/<*>"`. A line whose token it does not cover must change it (see the miner's
//! `merge_token`), or the template would name what some of its lines do not say.
//!
//! Whether a token covers another is a function of their texts, which their hashes identify
//! (as everywhere in the miner): a pair once found covered is covered for good, whatever
//! templates come and go, so the memo is never invalidated. A pair it does not hold costs the
//! line a masking and a look at its text; the same pair on a later line costs a look-up.

use crate::masking::PARAM;

/// Whether the template's token `template` covers the line's token `token`: `token` is
/// `template` with each `<*>` replaced by some text, possibly empty (a `<*>` of the line's
/// token is text like any other).
pub(super) fn covers(template: &str, token: &str) -> bool {
    let Some((first, rest)) = template.split_once(PARAM) else {
        return template == token;
    };
    let Some(text) = token.strip_prefix(first) else {
        return false;
    };
    let (middle, last) = rest.rsplit_once(PARAM).unwrap_or(("", rest));
    let Some(mut text) = text.strip_suffix(last) else {
        return false;
    };
    // The pieces between variables, each at its first place after the previous one: taking the
    // first place leaves the most room for the rest, so no other choice fits where this fails.
    for piece in middle.split(PARAM) {
        match text.find(piece) {
            Some(k) => text = &text[k + piece.len()..],
            None => return false,
        }
    }
    true
}

/// Slots of [`Covered`]: the recurring pairs of a few log kinds' variables (16 bytes each).
const SLOTS: usize = 512;

/// Direct-mapped memo of the pairs (template token's hash, line token's hash) found covered.
/// A slot holds the last pair stored there. Only pairs of different tokens are asked for, so
/// the empty slot `(0, 0)` answers none.
pub(super) struct Covered {
    slots: Box<[(u64, u64); SLOTS]>,
}

impl Default for Covered {
    fn default() -> Self {
        Self {
            slots: Box::new([(0, 0); SLOTS]),
        }
    }
}

impl std::fmt::Debug for Covered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Covered").field("slots", &SLOTS).finish()
    }
}

impl Covered {
    /// The pair's slot: token hashes are well mixed, but a template token meets many line
    /// tokens, so both are mixed in (not symmetrically: `a` covering `b` says nothing of `b`
    /// covering `a`).
    fn slot(template: u64, token: u64) -> usize {
        let k = (template ^ token.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (k >> (64 - SLOTS.trailing_zeros())) as usize
    }

    pub(super) fn get(&self, template: u64, token: u64) -> bool {
        self.slots[Self::slot(template, token)] == (template, token)
    }

    pub(super) fn put(&mut self, template: u64, token: u64) {
        self.slots[Self::slot(template, token)] = (template, token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_covers_what_fits_its_variables() {
        assert!(covers("rhost=<*>", "rhost=host.example"));
        assert!(covers("rhost=<*>", "rhost="));
        assert!(covers("<*>", "anything"));
        assert!(covers("(<*>)", "(<*>:<*>)"));
        assert!(covers("<*>)", "<*>)-\")"));
        assert!(covers("a<*>b<*>c", "aXbYbZc"));
        assert!(covers("a<*>b<*>c", "abc"));
        assert!(covers("word", "word"));
        assert!(!covers("word", "words"));
        assert!(!covers("\"curl/<*>\"", "\"kube-probe/<*>\""));
        assert!(!covers("rhost=<*>", "ruser=x"));
        assert!(!covers("<*>.dll", "<*>.dll.bak"));
        // The prefix and the suffix may not overlap.
        assert!(!covers("ab<*>bc", "abc"));
        assert!(!covers("a<*>b<*>c", "acb"));
    }

    #[test]
    fn the_memo_answers_only_the_pairs_it_was_given() {
        let mut m = Covered::default();
        assert!(!m.get(1, 2));
        m.put(1, 2);
        assert!(m.get(1, 2));
        assert!(!m.get(2, 1), "covering is not symmetric");
        assert!(!m.get(1, 3));
        assert!(!m.get(0, 1));
    }
}
