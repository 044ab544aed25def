//! An index of one leaf's templates by their tokens, so that a line's candidates among thousands
//! of templates of one length and first tokens are found with a few look-ups instead of a scan
//! of the leaf (lines that start with a variable, or with the same few words, share a leaf).
//!
//! Templates are identified by their slot (`u32`) and described by their tokens' 64-bit hashes;
//! a hash whose lowest bit is set is a capitalised word (the miner's `word_tag`).
//!
//! # Exactness
//!
//! The miner's search keeps, among a leaf's templates, those that (1) hold, at every position
//! where the line has a capitalised word, that word or a token that is no capitalised word, and
//! (2) equal the line at `needed` positions or more; it takes the best of them by a total order
//! (equal tokens, then parameters, then the older id), so the order in which they are scored
//! does not matter. [`LeafIndex::candidates`] returns a superset of those templates, the smaller
//! of two:
//!
//! - Pigeonhole: a template equal to the line at `needed` of its `len` positions equals it at
//!   one at least of any `len - needed + 1` positions, so the union of the postings (position,
//!   the line's token there) of the `len - needed + 1` smallest ones holds every template of (2).
//! - At one position where the line has a capitalised word, every template of (1) holds that
//!   word or no capitalised word there: that word's posting plus the position's `plain` list.
//!
//! A template may come twice out of the union; scoring it twice changes nothing. The miner's
//! other conditions (punctuation and lower-case words, see `differ`) only remove templates from
//! those kept, and its search for a third word (`value_position`) keeps templates of (1) and
//! (2) too, so the same superset serves both.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NIL: u32 = u32::MAX;

/// A leaf's templates by (position, token hash), and by position for the tokens that are no
/// capitalised word. Every operation costs a look-up per position of the template, whatever the
/// number of templates.
#[derive(Debug)]
pub(super) struct LeafIndex {
    /// (position, token hash) → the slots of the templates with that token at that position.
    postings: HashMap<(u32, u64), Vec<u32>, BuildHasherDefault<KeyHasher>>,
    /// Per position: the slots of the templates whose token there is no capitalised word.
    plain: Vec<Vec<u32>>,
    /// Per slot: its place in its posting at each position, then its place in each position's
    /// `plain` list (`NIL` where its token is a capitalised word), so that removal is O(1).
    at: HashMap<u32, Box<[u32]>, BuildHasherDefault<KeyHasher>>,
}

impl LeafIndex {
    /// An empty index for templates of `len` tokens.
    pub(super) fn new(len: usize) -> Self {
        Self {
            postings: HashMap::default(),
            plain: vec![Vec::new(); len],
            at: HashMap::default(),
        }
    }

    fn len(&self) -> usize {
        self.plain.len()
    }

    pub(super) fn insert(&mut self, slot: u32, hashes: &[u64]) {
        debug_assert_eq!(hashes.len(), self.len());
        let len = self.len();
        let mut at = vec![NIL; 2 * len].into_boxed_slice();
        for (pos, &h) in hashes.iter().enumerate() {
            at[pos] = push(self.postings.entry((pos as u32, h)).or_default(), slot);
            if !is_capitalised(h) {
                at[len + pos] = push(&mut self.plain[pos], slot);
            }
        }
        self.at.insert(slot, at);
    }

    /// Removes the template `slot`, whose tokens hash to `hashes` (as when last inserted or
    /// replaced).
    pub(super) fn remove(&mut self, slot: u32, hashes: &[u64]) {
        let Some(at) = self.at.remove(&slot) else {
            debug_assert!(false, "slot {slot} is not in the index");
            return;
        };
        let len = self.len();
        for (pos, &h) in hashes.iter().enumerate() {
            self.take_posting(pos, h, at[pos]);
            if at[len + pos] != NIL {
                self.take_plain(pos, at[len + pos]);
            }
        }
    }

    /// The template `slot`'s token at `pos` changed from hash `old` to `new`.
    pub(super) fn replace(&mut self, slot: u32, pos: usize, old: u64, new: u64) {
        let len = self.len();
        let Some((was, was_plain)) = self.at.get(&slot).map(|a| (a[pos], a[len + pos])) else {
            debug_assert!(false, "slot {slot} is not in the index");
            return;
        };
        self.take_posting(pos, old, was);
        let now = push(self.postings.entry((pos as u32, new)).or_default(), slot);
        let now_plain = match (was_plain != NIL, !is_capitalised(new)) {
            (true, false) => {
                self.take_plain(pos, was_plain);
                NIL
            }
            (false, true) => push(&mut self.plain[pos], slot),
            _ => was_plain,
        };
        if let Some(a) = self.at.get_mut(&slot) {
            a[pos] = now;
            a[len + pos] = now_plain;
        }
    }

    fn take_posting(&mut self, pos: usize, h: u64, i: u32) {
        let key = (pos as u32, h);
        let Some(list) = self.postings.get_mut(&key) else {
            debug_assert!(false, "no posting for position {pos}");
            return;
        };
        if let Some(moved) = swap_remove(list, i) {
            if let Some(a) = self.at.get_mut(&moved) {
                a[pos] = i;
            }
        }
        if list.is_empty() {
            // Keys come and go with the templates: memory follows the live ones.
            self.postings.remove(&key);
        }
    }

    fn take_plain(&mut self, pos: usize, i: u32) {
        let len = self.len();
        if let Some(moved) = swap_remove(&mut self.plain[pos], i) {
            if let Some(a) = self.at.get_mut(&moved) {
                a[len + pos] = i;
            }
        }
    }

    /// Appends to `out` a superset of the templates that a line hashing to `line` can join with
    /// `needed` equal tokens (see the module documentation), and returns true; or returns false,
    /// leaving `out` as it is, when no such set smaller than `limit` is known (scan the leaf).
    pub(super) fn candidates(
        &self,
        line: &[u64],
        needed: usize,
        limit: usize,
        sizes: &mut Vec<(usize, usize)>,
        out: &mut Vec<u32>,
    ) -> bool {
        let len = self.len();
        if line.len() != len {
            return false;
        }
        let posting = |pos: usize, h: u64| -> &[u32] {
            self.postings
                .get(&(pos as u32, h))
                .map_or(&[][..], Vec::as_slice)
        };
        sizes.clear();
        let mut word: Option<(usize, usize)> = None; // the smallest capitalised-word set: size, position
        for (pos, &h) in line.iter().enumerate() {
            let n = posting(pos, h).len();
            sizes.push((n, pos));
            if is_capitalised(h) {
                let n = n + self.plain[pos].len();
                if word.is_none_or(|(m, _)| n < m) {
                    word = Some((n, pos));
                }
            }
        }
        // Pigeonhole over the `len - needed + 1` smallest postings (none when every template
        // reaches `needed`, i.e. `needed` is 0).
        let k = (len + 1).saturating_sub(needed);
        let union = if needed > 0 && k <= len {
            sizes.select_nth_unstable(k - 1);
            Some(sizes[..k].iter().map(|&(n, _)| n).sum::<usize>())
        } else {
            None
        };
        match (union, word) {
            (Some(u), w) if u < limit && w.is_none_or(|(n, _)| u <= n) => {
                for &(_, pos) in &sizes[..k] {
                    out.extend_from_slice(posting(pos, line[pos]));
                }
                true
            }
            (_, Some((n, pos))) if n < limit => {
                out.extend_from_slice(posting(pos, line[pos]));
                out.extend_from_slice(&self.plain[pos]);
                true
            }
            _ => false,
        }
    }
}

fn is_capitalised(h: u64) -> bool {
    h & 1 == 1
}

/// Pushes `slot`, returning its place.
fn push(list: &mut Vec<u32>, slot: u32) -> u32 {
    list.push(slot);
    (list.len() - 1) as u32
}

/// Removes the entry at `i` by moving the last one there; returns the moved slot, if any.
fn swap_remove(list: &mut Vec<u32>, i: u32) -> Option<u32> {
    let i = i as usize;
    if i >= list.len() {
        debug_assert!(false, "index entry {i} out of range");
        return None;
    }
    list.swap_remove(i);
    list.get(i).copied()
}

/// Hashes the index's keys: token hashes are well mixed already (splitmix64 or FxHash), so a
/// key is its hash combined with the position; slots are mixed by one multiply. The keys come
/// from the miner's own hashing, bounded per leaf by its templates.
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
