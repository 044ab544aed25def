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
//! other condition (punctuation that differs, see `differ`) only removes templates from those
//! kept, so the same superset serves.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NIL: u32 = u32::MAX;

/// Where a template sits in the index: per position, its place in the posting of its token
/// there, then its place in the position's `plain` list (`NIL` where its token is a capitalised
/// word), so that removal is O(1). Kept by the miner with the template (a slot-keyed map here
/// cost about 60 bytes a template more).
pub(super) type Places = Box<[u32]>;

/// A place of another template that an operation moved: (slot, index in its [`Places`], new
/// place). The miner writes it into that template's places.
pub(super) type Moved = (u32, u32, u32);

/// The templates with one token at one position. Most postings of a leaf with many templates
/// hold one (the values that have not merged yet): those live in the table, without a vector.
#[derive(Debug)]
enum Posting {
    One(u32),
    Many(Vec<u32>),
}

impl Posting {
    fn as_slice(&self) -> &[u32] {
        match self {
            Posting::One(s) => std::slice::from_ref(s),
            Posting::Many(v) => v,
        }
    }
}

/// A leaf's templates by (position, token hash), and by position for the tokens that are no
/// capitalised word. Every operation costs a look-up per position of the template, whatever the
/// number of templates.
#[derive(Debug)]
pub(super) struct LeafIndex {
    /// (position, token hash) → the slots of the templates with that token at that position.
    postings: HashMap<(u32, u64), Posting, BuildHasherDefault<KeyHasher>>,
    /// Per position: the slots of the templates whose token there is no capitalised word.
    plain: Vec<Vec<u32>>,
}

impl LeafIndex {
    /// An empty index for templates of `len` tokens.
    pub(super) fn new(len: usize) -> Self {
        Self {
            postings: HashMap::default(),
            plain: vec![Vec::new(); len],
        }
    }

    fn len(&self) -> usize {
        self.plain.len()
    }

    /// Adds the template `slot`, whose tokens hash to `hashes`; returns its places.
    pub(super) fn insert(&mut self, slot: u32, hashes: &[u64]) -> Places {
        debug_assert_eq!(hashes.len(), self.len());
        let len = self.len();
        let mut at = vec![NIL; 2 * len].into_boxed_slice();
        for (pos, &h) in hashes.iter().enumerate() {
            at[pos] = self.push_posting(pos, h, slot);
            if !is_capitalised(h) {
                at[len + pos] = push(&mut self.plain[pos], slot);
            }
        }
        at
    }

    /// Removes the template `slot`, whose tokens hash to `hashes` (as when last inserted or
    /// replaced) and whose places are `at`; the places of the templates moved are appended to
    /// `moved`.
    pub(super) fn remove(&mut self, hashes: &[u64], at: &[u32], moved: &mut Vec<Moved>) {
        let len = self.len();
        if at.len() != 2 * len {
            debug_assert!(false, "a template of the leaf without its places");
            return;
        }
        for (pos, &h) in hashes.iter().enumerate() {
            self.take_posting(pos, h, at[pos], moved);
            if at[len + pos] != NIL {
                self.take_plain(pos, at[len + pos], moved);
            }
        }
    }

    /// The template `slot`'s token at `pos` changed from hash `old` to `new`: its places `at`
    /// are updated, those of the templates moved appended to `moved`.
    pub(super) fn replace(
        &mut self,
        slot: u32,
        pos: usize,
        (old, new): (u64, u64),
        at: &mut [u32],
        moved: &mut Vec<Moved>,
    ) {
        let len = self.len();
        if at.len() != 2 * len {
            debug_assert!(false, "slot {slot} is not in the index");
            return;
        }
        let was_plain = at[len + pos];
        self.take_posting(pos, old, at[pos], moved);
        at[pos] = self.push_posting(pos, new, slot);
        at[len + pos] = match (was_plain != NIL, !is_capitalised(new)) {
            (true, false) => {
                self.take_plain(pos, was_plain, moved);
                NIL
            }
            (false, true) => push(&mut self.plain[pos], slot),
            _ => was_plain,
        };
    }

    /// Adds `slot` to the posting of `h` at `pos`, returning its place.
    fn push_posting(&mut self, pos: usize, h: u64, slot: u32) -> u32 {
        match self.postings.entry((pos as u32, h)) {
            Entry::Vacant(e) => {
                e.insert(Posting::One(slot));
                0
            }
            Entry::Occupied(mut e) => {
                let p = e.get_mut();
                match p {
                    Posting::One(first) => {
                        *p = Posting::Many(vec![*first, slot]);
                        1
                    }
                    Posting::Many(v) => push(v, slot),
                }
            }
        }
    }

    fn take_posting(&mut self, pos: usize, h: u64, i: u32, moved: &mut Vec<Moved>) {
        let key = (pos as u32, h);
        let Some(p) = self.postings.get_mut(&key) else {
            debug_assert!(false, "no posting for position {pos}");
            return;
        };
        match p {
            // Keys come and go with the templates: memory follows the live ones.
            Posting::One(_) => {
                debug_assert_eq!(i, 0, "posting place out of range");
                self.postings.remove(&key);
            }
            Posting::Many(v) => {
                if let Some(m) = swap_remove(v, i) {
                    moved.push((m, pos as u32, i));
                }
                if let [last] = v[..] {
                    // Back to one: the vector goes, and the last one's place is 0.
                    *p = Posting::One(last);
                }
            }
        }
    }

    fn take_plain(&mut self, pos: usize, i: u32, moved: &mut Vec<Moved>) {
        let len = self.len();
        if let Some(m) = swap_remove(&mut self.plain[pos], i) {
            moved.push((m, (len + pos) as u32, i));
        }
    }

    /// Whether `at` are the places of `slot` with tokens `hashes` (for tests).
    #[cfg(test)]
    pub(super) fn holds(&self, slot: u32, hashes: &[u64], at: &[u32]) -> bool {
        let len = self.len();
        at.len() == 2 * len
            && hashes.iter().enumerate().all(|(pos, &h)| {
                let posting = self.postings.get(&(pos as u32, h));
                let in_posting =
                    posting.is_some_and(|p| p.as_slice().get(at[pos] as usize) == Some(&slot));
                let in_plain = if is_capitalised(h) {
                    at[len + pos] == NIL
                } else {
                    self.plain[pos].get(at[len + pos] as usize) == Some(&slot)
                };
                in_posting && in_plain
            })
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
                .map_or(&[][..], Posting::as_slice)
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
/// key is its hash combined with the position. The keys come
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
