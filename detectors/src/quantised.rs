//! Values held as 12-bit codes on a grid that follows their range, two codes in three bytes:
//! three eighths of the bytes of `f32`, for buffers whose values are only ever compared with a
//! spread of many of them (the k-means training window, the period finder's entries), never
//! shown to a person.
//!
//! The grid spans `lo ..= lo + 4095 * step`. A value off the grid widens it (to at least twice
//! its width, so widening is rare and the roundings of the re-encoded codes sum to at most one
//! and a half steps of the final grid) and every code is re-encoded; [`Quantised::tighten`]
//! fits the grid to the values held again once their range has shrunk. A value is therefore
//! held within `3 * range / 4095` of itself: for any set of `n` values of range `R` the
//! spread is at least `R / sqrt(2n)`, so over 512 values the error is at most a fortieth of
//! their spread, whatever the values (16-bit codes scored NAB 76.11, these 76.19: a spike's
//! rounding of a spiky signal's baseline does not matter at this width, and 8-bit codes cost
//! a false positive). Values are brought into `f32`'s range first
//! ([`crate::history::narrow`]), so the grid's arithmetic never overflows.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::history::narrow;

/// Codes of the grid: `0..=TOP`, 12 bits.
const TOP: f64 = 4095.0;

/// See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Grid {
    lo: f64,
    step: f64,
}

impl Grid {
    /// A grid over `lo..=hi`, no wider than needed.
    fn spanning(lo: f64, hi: f64) -> Self {
        Self {
            lo,
            step: (hi - lo).max(0.0) / TOP,
        }
    }

    fn hi(&self) -> f64 {
        self.lo + TOP * self.step
    }

    fn encode(&self, v: f64) -> Option<u16> {
        if self.step == 0.0 {
            return (v == self.lo).then_some(0);
        }
        let x = ((v - self.lo) / self.step).round();
        (0.0..=TOP).contains(&x).then_some(x as u16)
    }

    /// The nearest code, for a value known to lie on the grid up to rounding.
    fn nearest(&self, v: f64) -> u16 {
        if self.step == 0.0 {
            return 0;
        }
        ((v - self.lo) / self.step).round().clamp(0.0, TOP) as u16
    }

    fn decode(&self, code: u16) -> f64 {
        self.lo + f64::from(code) * self.step
    }

    /// A grid covering this one and `v`, at least twice as wide.
    fn widened(&self, v: f64) -> Self {
        let (lo, hi) = (self.lo.min(v), self.hi().max(v));
        let width = (hi - lo).max(2.0 * (self.hi() - self.lo));
        if v < self.lo {
            Self::spanning(hi - width, hi)
        } else {
            Self::spanning(lo, lo + width)
        }
    }
}

/// A growable sequence of values on a [`Grid`]; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantised {
    grid: Grid,
    /// The codes, two in three bytes (the first in the low 12 bits); an odd count leaves the
    /// last byte's high half zero. The count follows from the length: see [`count`].
    bytes: Vec<u8>,
}

/// Bytes holding `n` codes.
fn bytes_for(n: usize) -> usize {
    (3 * n).div_ceil(2)
}

/// Codes held in `b` bytes (a length [`bytes_for`] gives; never `3k + 1`).
fn count(b: usize) -> usize {
    2 * b / 3
}

impl Default for Quantised {
    fn default() -> Self {
        Self::new()
    }
}

impl Quantised {
    pub(crate) fn new() -> Self {
        Self {
            grid: Grid { lo: 0.0, step: 0.0 },
            bytes: Vec::new(),
        }
    }

    /// `values` (oldest first) on the tightest grid, with room for `capacity` values in all
    /// (allocated once: see [`crate::history`] on buffers grown by steps).
    pub(crate) fn from_values(values: &[f64], capacity: usize) -> Self {
        let mut q = Self::new();
        q.bytes.reserve_exact(bytes_for(values.len().max(capacity)));
        let (lo, hi) = values
            .iter()
            .map(|&v| f64::from(narrow(v)))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo <= hi {
            q.grid = Grid::spanning(lo, hi);
        }
        for &v in values {
            let code = q.grid.nearest(f64::from(narrow(v)));
            q.append(code);
        }
        q
    }

    pub(crate) fn len(&self) -> usize {
        count(self.bytes.len())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends `v` (its capacity grown by `grow` values when full, so the caller bounds it).
    pub(crate) fn push(&mut self, v: f64, grow: usize) {
        let v = f64::from(narrow(v));
        if self.is_empty() {
            self.grid = Grid { lo: v, step: 0.0 };
        }
        let code = match self.grid.encode(v) {
            Some(code) => code,
            None => {
                let wider = self.grid.widened(v);
                self.recode(wider);
                wider.nearest(v)
            }
        };
        let len = self.len();
        if bytes_for(len + 1) > self.bytes.capacity() {
            let more = bytes_for(len + grow.max(1)) - self.bytes.len();
            self.bytes.reserve_exact(more);
        }
        self.append(code);
    }

    /// Appends a code, within the capacity when there is room.
    fn append(&mut self, code: u16) {
        if self.len().is_multiple_of(2) {
            self.bytes
                .extend_from_slice(&[code as u8, (code >> 8) as u8]);
        } else {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= ((code & 0xF) << 4) as u8;
            self.bytes.push((code >> 4) as u8);
        }
    }

    fn code(&self, i: usize) -> u16 {
        let at = 3 * (i / 2);
        if i.is_multiple_of(2) {
            u16::from(self.bytes[at]) | (u16::from(self.bytes[at + 1] & 0xF) << 8)
        } else {
            u16::from(self.bytes[at + 1] >> 4) | (u16::from(self.bytes[at + 2]) << 4)
        }
    }

    fn set(&mut self, i: usize, code: u16) {
        let at = 3 * (i / 2);
        if i.is_multiple_of(2) {
            self.bytes[at] = code as u8;
            self.bytes[at + 1] = (self.bytes[at + 1] & 0xF0) | (code >> 8) as u8;
        } else {
            self.bytes[at + 1] = (self.bytes[at + 1] & 0x0F) | ((code & 0xF) << 4) as u8;
            self.bytes[at + 2] = (code >> 4) as u8;
        }
    }

    fn codes(&self) -> impl Iterator<Item = u16> + '_ {
        (0..self.len()).map(|i| self.code(i))
    }

    /// The `i`-th value, 0 being the oldest.
    pub(crate) fn get(&self, i: usize) -> f64 {
        assert!(i < self.len(), "value {i} of {}", self.len());
        self.grid.decode(self.code(i))
    }

    /// The values, oldest first.
    pub(crate) fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.codes().map(|c| self.grid.decode(c))
    }

    /// Forgets the `n` oldest values.
    pub(crate) fn drop_oldest(&mut self, n: usize) {
        let len = self.len();
        let n = n.min(len);
        if n.is_multiple_of(2) {
            self.bytes.drain(..3 * n / 2);
            return;
        }
        // An odd count shifts every code by half a pair.
        for i in 0..len - n {
            let code = self.code(i + n);
            self.set(i, code);
        }
        self.bytes.truncate(bytes_for(len - n));
        if (len - n) % 2 == 1 {
            let last = self.bytes.len() - 1;
            self.bytes[last] &= 0x0F;
        }
    }

    /// Fits the grid to the values held when their range is under a quarter of its width
    /// (the values that widened it are gone): their precision follows their own range again.
    pub(crate) fn tighten(&mut self) {
        let (lo, hi) = self
            .codes()
            .fold((u16::MAX, 0), |(a, b), c| (a.min(c), b.max(c)));
        if lo <= hi && f64::from(hi - lo) < TOP / 4.0 {
            let tight = Grid::spanning(self.grid.decode(lo), self.grid.decode(hi));
            self.recode(tight);
        }
    }

    fn recode(&mut self, to: Grid) {
        let from = self.grid;
        for i in 0..self.len() {
            let code = to.nearest(from.decode(self.code(i)));
            self.set(i, code);
        }
        self.grid = to;
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }
}

/// Saved as the grid and the packed codes; read back only with a finite grid and a whole
/// number of codes.
impl Serialize for Quantised {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.grid.lo, self.grid.step, &self.bytes).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Quantised {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (lo, step, bytes): (f64, f64, Vec<u8>) = Deserialize::deserialize(d)?;
        let f32_range = f64::from(f32::MAX);
        if !(lo.abs() <= f32_range && (0.0..=2.0 * f32_range / TOP).contains(&step)) {
            return Err(serde::de::Error::custom(format!(
                "quantised values on a grid from {lo} in steps of {step}"
            )));
        }
        let whole = bytes_for(count(bytes.len())) == bytes.len();
        if !whole || (bytes.len() % 3 == 2 && bytes[bytes.len() - 1] > 0xF) {
            return Err(serde::de::Error::custom(format!(
                "{} bytes of 12-bit codes",
                bytes.len()
            )));
        }
        Ok(Self {
            grid: Grid { lo, step },
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::noise;

    fn worst_error(q: &Quantised, truth: &[f64]) -> f64 {
        q.values()
            .zip(truth)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn values_are_held_within_a_few_steps_of_their_range() {
        // Noise, then a spike that widens the grid a thousandfold, then noise again.
        let mut truth = noise(1, 600, 100.0, 2.0);
        truth[300] = 5000.0;
        let mut q = Quantised::new();
        for &v in &truth {
            q.push(v, 64);
        }
        let range = 5000.0 - truth.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(worst_error(&q, &truth) <= 3.0 * range / TOP, "{q:?}");
        assert_eq!(q.len(), 600);
        // Once the spike is gone, tightening fits the grid to the noise again: what the wide
        // grid rounded stays as rounded, the values after it are held finely.
        q.drop_oldest(301);
        q.tighten();
        let later = noise(3, 300, 100.0, 2.0);
        for &v in &later {
            q.push(v, 64);
        }
        let rest: Vec<f64> = truth[301..].iter().chain(&later).copied().collect();
        assert!(worst_error(&q, &rest) <= 3.0 * range / TOP, "{q:?}");
        let fine = q
            .values()
            .skip(299)
            .zip(&later)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(fine <= 3.0 * 20.0 / TOP, "{fine}");
    }

    #[test]
    fn equal_and_extreme_values_stay_exact_or_finite() {
        let mut q = Quantised::new();
        for _ in 0..10 {
            q.push(7.5, 8);
        }
        assert!(q.values().all(|v| v == 7.5));
        q.push(1e300, 8);
        q.push(-1e300, 8);
        assert!(q.values().all(f64::is_finite), "{q:?}");
        assert_eq!(q.get(11), -f64::from(f32::MAX));
        let from = Quantised::from_values(&[3.0, 1.0, 2.0], 0);
        assert_eq!((from.get(0), from.get(1)), (3.0, 1.0));
        assert!((from.get(2) - 2.0).abs() <= 2.0 / TOP, "{from:?}");
        assert_eq!(Quantised::from_values(&[], 0).len(), 0);
    }

    #[test]
    fn three_bytes_two_values_and_a_saved_form_that_is_checked() {
        let mut q = Quantised::new();
        for (i, v) in noise(2, 101, 0.0, 1.0).into_iter().enumerate() {
            q.push(v, if i < 64 { 64 } else { 37 });
        }
        assert_eq!(q.heap_bytes(), 96 + 56);
        let bytes = postcard::to_allocvec(&q).unwrap();
        assert_eq!(postcard::from_bytes::<Quantised>(&bytes).unwrap(), q);
        for bad in [
            (f64::NAN, 1.0),
            (0.0, -1.0),
            (0.0, f64::INFINITY),
            (1e300, 0.0),
        ] {
            let bytes = postcard::to_allocvec(&(bad.0, bad.1, vec![1u8, 0])).unwrap();
            assert!(
                postcard::from_bytes::<Quantised>(&bytes).is_err(),
                "{bad:?}"
            );
        }
        // Only whole codes, and nothing beyond the last one.
        for (codes, ok) in [(vec![1u8, 2, 3, 4], false), (vec![1, 2, 3, 4, 0x10], false)] {
            let bytes = postcard::to_allocvec(&(0.0, 1.0, codes.clone())).unwrap();
            let read = postcard::from_bytes::<Quantised>(&bytes);
            assert_eq!(read.is_ok(), ok, "{codes:?}");
        }
        let bytes = postcard::to_allocvec(&(0.0, 1.0, vec![1u8, 2, 3, 4, 0xF])).unwrap();
        let q = postcard::from_bytes::<Quantised>(&bytes).unwrap();
        assert_eq!(q.values().collect::<Vec<_>>(), [513.0, 48.0, 0xF04 as f64]);
    }

    /// Codes packed two in three bytes read back as written, after dropping an odd or an
    /// even number of the oldest (an odd one shifts every code by half a pair).
    #[test]
    fn packed_codes_survive_dropping_the_oldest() {
        // Integers on a grid of step 1 from 0: held exactly.
        let truth: Vec<f64> = (0..301).map(|i| f64::from((i * 37) % 4096)).collect();
        let mut q = Quantised::from_values(&[0.0, 4095.0], 400);
        for &v in &truth {
            q.push(v, 1);
        }
        q.drop_oldest(2);
        assert_eq!(q.values().collect::<Vec<_>>(), truth);
        let mut held = truth.clone();
        for n in [1, 2, 7, 0, 64, 3] {
            q.drop_oldest(n);
            held.drain(..n);
            assert_eq!(q.values().collect::<Vec<_>>(), held, "dropping {n}");
            q.push(4095.0, 1);
            held.push(4095.0);
            assert_eq!(q.get(q.len() - 1), 4095.0);
        }
        let bytes = postcard::to_allocvec(&q).unwrap();
        assert_eq!(postcard::from_bytes::<Quantised>(&bytes).unwrap(), q);
        q.drop_oldest(q.len() + 5);
        assert!(q.is_empty());
    }
}
