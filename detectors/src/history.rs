//! A compact ring of a signal's most recent values, oldest first: the storage of the default
//! detector's windows, sized for tens of thousands of signals per agent.
//!
//! Three things keep it small, none of them changing what it holds:
//! - one copy of each value (unlike [`crate::window::Ring`], which doubles its buffer so that
//!   its contents are one slice);
//! - the buffer is allocated once, at its capacity, when the first value that differs from the
//!   others comes: a buffer grown by doubling leaves each smaller one behind as a hole in the
//!   allocator's heap, which the interleaved buffers of thousands of other signals keep from
//!   being returned or coalesced (the probe `cargo bench -p seismo-detectors --bench
//!   fleet_memory` measures both);
//! - while every value held is the same (a constant signal, or one that has sat still for a
//!   whole window) there is no buffer at all, only that value and the count.
//!
//! The element type is the caller's choice: `f32` for the windows the detectors compare with a
//! spread floored at a thousandth of the level (its 7 significant digits are far finer than
//! that floor), `f64` where evidence must repeat the values exactly. [`narrow`] brings an `f64`
//! into `f32`'s range.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `v` as an `f32`, saturated at `f32`'s largest magnitude (a finite value stays finite).
pub(crate) fn narrow(v: f64) -> f32 {
    v.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
}

/// A value a [`History`] can hold.
pub(crate) trait Value: Copy + PartialEq + Default + Into<f64> {}
impl Value for f32 {}
impl Value for f64 {}

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct History<T: Value> {
    /// The values in slot order; empty while they are all equal to `same`.
    buf: Vec<T>,
    /// Slot of the oldest value once the ring is full (0 before). (Counts as `u32`: a
    /// capacity is at most [`MAX_SAVED_CAP`].)
    head: u32,
    len: u32,
    cap: u32,
    /// The newest value, and how many of the newest values in a row equal it (saturating).
    same: T,
    run: u32,
}

impl<T: Value> History<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            head: 0,
            len: 0,
            cap: u32::try_from(cap.clamp(1, MAX_SAVED_CAP)).unwrap_or(1),
            same: T::default(),
            run: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// How many values it holds when full.
    pub(crate) fn cap(&self) -> usize {
        self.cap as usize
    }

    /// Every value held is the same (so there is no buffer); true when empty.
    pub(crate) fn is_uniform(&self) -> bool {
        self.buf.is_empty()
    }

    /// The value every held value equals, when [`History::is_uniform`].
    pub(crate) fn uniform_value(&self) -> T {
        self.same
    }

    /// Appends `v`; returns the value it pushed out when full.
    pub(crate) fn push(&mut self, v: T) -> Option<T> {
        self.run = if self.len > 0 && v == self.same {
            self.run.saturating_add(1)
        } else {
            1
        };
        let previous = self.same;
        self.same = v;
        let (len, cap) = (self.len(), self.cap());
        if self.buf.is_empty() && (len == 0 || v == previous) {
            let out = (self.len == self.cap).then_some(v);
            self.len = (self.len + 1).min(self.cap);
            return out;
        }
        if self.buf.is_empty() {
            // The first value that differs: the whole buffer at once, the equal ones before it
            // taking their slots.
            self.buf.reserve_exact(cap);
            self.buf.resize(len, previous);
            self.head = 0;
        }
        let out = if len < cap {
            self.buf.push(v);
            self.len += 1;
            None
        } else {
            let old = std::mem::replace(&mut self.buf[self.head as usize], v);
            self.head = (self.head + 1) % self.cap;
            Some(old)
        };
        if self.run >= self.cap {
            // A whole window of one value: no buffer needed any more.
            self.buf = Vec::new();
            self.head = 0;
        }
        out
    }

    /// The `i`-th value, 0 being the oldest.
    pub(crate) fn get(&self, i: usize) -> T {
        if self.buf.is_empty() {
            return self.same;
        }
        let at = self.head as usize + i;
        let cap = self.cap();
        self.buf[if at >= cap { at - cap } else { at }]
    }

    /// The `i`-th most recent value, 0 being the newest.
    pub(crate) fn back(&self, i: usize) -> T {
        self.get(self.len() - 1 - i)
    }

    /// The values, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.capacity() * std::mem::size_of::<T>()
    }
}

/// Saved as it is held, slots included (callers keep slot numbers, see [`History::push`]):
/// only the values held, one and a count while they are all equal.
impl<T: Value + Serialize> Serialize for History<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (
            self.cap, self.len, self.head, self.same, self.run, &self.buf,
        )
            .serialize(s)
    }
}

impl<'de, T: Value + Deserialize<'de>> Deserialize<'de> for History<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (cap, len, head, same, run, buf): (u32, u32, u32, T, u32, Vec<T>) =
            Deserialize::deserialize(d)?;
        // A capacity from the detector's own (validated) parameters is far below this bound;
        // a larger one means a damaged snapshot, not a reason to allocate without limit.
        let fits = cap > 0
            && cap as usize <= MAX_SAVED_CAP
            && len <= cap
            && (buf.is_empty() || buf.len() == len as usize)
            && (head == 0 || (head < cap && len == cap && !buf.is_empty()));
        if !fits {
            return Err(serde::de::Error::custom(format!(
                "history of capacity {cap} holding {len} values ({} saved, oldest at {head})",
                buf.len()
            )));
        }
        Ok(History {
            buf,
            head,
            len,
            cap,
            same,
            run,
        })
    }
}

/// The largest capacity a snapshot may ask for (the detectors' windows stay far below).
const MAX_SAVED_CAP: usize = 1 << 24;

#[cfg(test)]
mod tests {
    use super::*;

    fn contents<T: Value>(h: &History<T>) -> Vec<f64> {
        h.iter().map(Into::into).collect()
    }

    #[test]
    fn keeps_the_most_recent_in_order() {
        let mut r = History::<f64>::new(3);
        assert_eq!(r.push(1.0), None);
        assert_eq!(r.push(2.0), None);
        assert_eq!(contents(&r), [1.0, 2.0]);
        assert_eq!(r.push(3.0), None);
        assert_eq!(r.push(4.0), Some(1.0));
        assert_eq!(
            (r.get(0), r.get(2), r.back(0), r.back(2)),
            (2.0, 4.0, 4.0, 2.0)
        );
        for v in 5..=9 {
            r.push(f64::from(v));
        }
        assert_eq!(contents(&r), [7.0, 8.0, 9.0]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn equal_values_hold_no_buffer_and_the_first_different_one_restores_them() {
        let mut h = History::<f32>::new(128);
        for _ in 0..1000 {
            h.push(5.0);
        }
        assert_eq!((h.len(), h.heap_bytes(), h.is_uniform()), (128, 0, true));
        assert_eq!(h.push(5.0), Some(5.0));
        assert_eq!(h.push(7.0), Some(5.0));
        assert_eq!(h.back(0), 7.0);
        assert!(!h.is_uniform());
        let mut expected = vec![5.0; 127];
        expected.push(7.0);
        assert_eq!(contents(&h), expected);
        // A whole window of one value again frees the buffer.
        for _ in 0..126 {
            h.push(7.0);
        }
        assert!(!h.is_uniform());
        h.push(7.0);
        assert_eq!((h.is_uniform(), h.heap_bytes()), (true, 0));
        assert_eq!(contents(&h), vec![7.0; 128]);
    }

    #[test]
    fn the_buffer_is_allocated_once_at_its_capacity() {
        let mut h = History::<f32>::new(512);
        h.push(0.0);
        assert_eq!(h.heap_bytes(), 0);
        h.push(1.0);
        assert_eq!(h.heap_bytes(), 512 * 4);
        let buffer = h.buf.as_ptr();
        for i in 2..2000 {
            h.push(i as f32);
            assert_eq!(h.buf.as_ptr(), buffer, "moved at value {i}");
        }
        assert_eq!(h.heap_bytes(), 512 * 4);
        assert_eq!(h.back(0), 1999.0);
        assert_eq!(h.get(0), 1488.0);
    }

    #[test]
    fn round_trips_through_its_saved_form() {
        for values in [
            vec![],
            vec![3.0; 40],
            (0..40).map(f64::from).collect::<Vec<_>>(),
        ] {
            for cap in [1, 16, 64] {
                let mut h = History::<f64>::new(cap);
                for &v in &values {
                    h.push(v);
                }
                let bytes = postcard::to_allocvec(&h).unwrap();
                let mut back: History<f64> = postcard::from_bytes(&bytes).unwrap();
                assert_eq!(contents(&back), contents(&h));
                assert_eq!(back.is_uniform(), h.is_uniform());
                assert_eq!(back.push(99.0), h.push(99.0));
                assert_eq!(contents(&back), contents(&h));
            }
        }
        for bad in [
            (4u32, 9u32, 0u32, 1.0f64, 1u32, Vec::<f64>::new()),
            (4, 3, 0, 1.0, 1, vec![1.0, 2.0]),
            (4, 4, 5, 1.0, 1, vec![1.0, 2.0, 3.0, 4.0]),
            (0, 0, 0, 1.0, 0, vec![]),
        ] {
            let bytes = postcard::to_allocvec(&bad).unwrap();
            assert!(
                postcard::from_bytes::<History<f64>>(&bytes).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn narrow_keeps_finite_values_finite() {
        assert_eq!(narrow(1e300), f32::MAX);
        assert_eq!(narrow(-1e300), -f32::MAX);
        assert_eq!(narrow(0.5), 0.5);
    }
}
