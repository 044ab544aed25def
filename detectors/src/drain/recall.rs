//! A memo of the miner's search: a line whose tokens (their hashes, in order) match a line seen
//! since the templates last changed finds the template that line found, without the tree walk
//! and the scoring of the leaf's templates.
//!
//! The search is a function of the line's token hashes and of the templates (their tokens and
//! variables, their leaves; not their counts or recency), so its answer holds until a template
//! is created, merged or evicted. The miner calls [`Recall::forget`] on each of those; an entry
//! remembered under an older epoch is no answer. Only answers that leave the template as it is
//! are remembered (a line that changes its template changes the epoch anyway).
//!
//! Most lines of a log repeat a masked form seen a moment ago (the same message with other
//! values, masked to the same `<*>`s), so most lines are answered here.

/// The memo's size follows the templates: at least [`MIN_ENTRIES`], about [`PER_TEMPLATE`]
/// entries a template (a template's lines come in a few masked forms), at most [`MAX_ENTRIES`]
/// (16 bytes each: 1 MiB).
const MIN_ENTRIES: usize = 1 << 10;
const MAX_ENTRIES: usize = 1 << 16;
const PER_TEMPLATE: usize = 8;

#[derive(Clone, Copy, Default)]
struct Entry {
    key: u64,
    slot: u32,
    /// The epoch the answer was found in; 0 is never current.
    epoch: u32,
}

/// Direct-mapped: a line's key picks one entry (by its high bits), which holds the last answer
/// stored there.
pub(super) struct Recall {
    entries: Box<[Entry]>,
    /// `entries.len()` is `1 << bits`.
    bits: u32,
    epoch: u32,
}

impl Default for Recall {
    fn default() -> Self {
        Self::with_entries(MIN_ENTRIES)
    }
}

impl std::fmt::Debug for Recall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recall")
            .field("entries", &self.entries.len())
            .field("epoch", &self.epoch)
            .finish()
    }
}

impl Recall {
    fn with_entries(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        Self {
            entries: vec![Entry::default(); n].into_boxed_slice(),
            bits: n.trailing_zeros(),
            epoch: 1,
        }
    }

    /// The key of a line's token hashes. Sequences that differ at one position always differ
    /// in key (each step is a bijection of the state); others collide with a chance of about
    /// 2^-64, as two tokens' hashes do (see the miner's `token_hash`).
    pub(super) fn key(hashes: &[u64]) -> u64 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        hashes
            .iter()
            .fold(hashes.len() as u64, |k, &h| (k ^ h).wrapping_mul(K))
    }

    fn at(&self, key: u64) -> usize {
        // The high bits: the last multiply mixed every input bit into them.
        (key >> (64 - self.bits)) as usize
    }

    /// The template slot the search found for `key` in this epoch.
    #[inline]
    pub(super) fn get(&self, key: u64) -> Option<u32> {
        let e = self.entries[self.at(key)];
        (e.epoch == self.epoch && e.key == key).then_some(e.slot)
    }

    /// Remembers the search's answer for `key` (one that left the template unchanged).
    #[inline]
    pub(super) fn put(&mut self, key: u64, slot: u32) {
        let at = self.at(key);
        self.entries[at] = Entry {
            key,
            slot,
            epoch: self.epoch,
        };
    }

    /// The templates changed: every answer so far may be wrong. `templates` is how many there
    /// are now, which the memo grows with.
    pub(super) fn forget(&mut self, templates: usize) {
        let wanted = templates
            .saturating_mul(PER_TEMPLATE)
            .min(MAX_ENTRIES)
            .next_power_of_two()
            .max(MIN_ENTRIES);
        if wanted > self.entries.len() {
            *self = Self::with_entries(wanted);
        } else if self.epoch == u32::MAX {
            // Entries of an old epoch would pass for the current one once the epoch wraps.
            self.entries.fill(Entry::default());
            self.epoch = 1;
        } else {
            self.epoch += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_holds_until_the_templates_change() {
        let mut r = Recall::default();
        let k = Recall::key(&[1, 2, 3]);
        assert_eq!(r.get(k), None);
        r.put(k, 7);
        assert_eq!(r.get(k), Some(7));
        r.forget(1);
        assert_eq!(r.get(k), None, "an answer of an older epoch");
        r.put(k, 8);
        assert_eq!(r.get(k), Some(8));
    }

    #[test]
    fn another_key_in_the_same_entry_is_no_answer() {
        let mut r = Recall::default();
        let a = Recall::key(&[1, 2, 3]);
        // The same entry (high bits), another key.
        let b = a ^ 1;
        assert_eq!(r.at(a), r.at(b));
        r.put(a, 7);
        assert_eq!(r.get(b), None);
        r.put(b, 9);
        assert_eq!((r.get(a), r.get(b)), (None, Some(9)));
    }

    #[test]
    fn keys_tell_order_length_and_every_single_change_apart() {
        let line = [11u64, 22, 33, 44];
        let k = Recall::key(&line);
        assert_ne!(k, Recall::key(&[22, 11, 33, 44]), "order");
        assert_ne!(k, Recall::key(&line[..3]), "a token less");
        assert_ne!(
            Recall::key(&[]),
            Recall::key(&[0]),
            "an empty line and a zero hash"
        );
        for i in 0..line.len() {
            for bit in 0..64 {
                let mut other = line;
                other[i] ^= 1 << bit;
                assert_ne!(k, Recall::key(&other), "token {i}, bit {bit}");
            }
        }
    }

    #[test]
    fn the_epoch_wrapping_around_forgets_every_answer() {
        let mut r = Recall::default();
        let k = Recall::key(&[5]);
        r.put(k, 3);
        // Just before the wrap: the entry's epoch (1) comes back as current after it.
        r.epoch = u32::MAX;
        r.forget(1);
        assert_eq!(r.epoch, 1);
        assert_eq!(r.get(k), None);
    }

    #[test]
    fn the_memo_grows_with_the_templates_and_starts_empty() {
        let mut r = Recall::default();
        let k = Recall::key(&[5]);
        r.put(k, 3);
        r.forget(MIN_ENTRIES);
        assert_eq!(
            r.entries.len(),
            (MIN_ENTRIES * PER_TEMPLATE).next_power_of_two()
        );
        assert_eq!(r.get(k), None);
        r.forget(usize::MAX / PER_TEMPLATE / 2);
        assert_eq!(r.entries.len(), MAX_ENTRIES);
        r.forget(1);
        assert_eq!(r.entries.len(), MAX_ENTRIES, "it does not shrink");
    }
}
