//! Values held as 16-bit codes on a grid that follows their range: half the bytes of `f32`,
//! for buffers whose values are only ever compared with a spread of many of them (the k-means
//! training window, the period finder's entries), never shown to a person.
//!
//! The grid spans `lo ..= lo + 65535 * step`. A value off the grid widens it (to at least twice
//! its width, so widening is rare and the roundings of the re-encoded codes sum to at most one
//! and a half steps of the final grid) and every code is re-encoded; [`Quantised::tighten`]
//! fits the grid to the values held again once their range has shrunk. A value is therefore
//! held within `3 * range / 65535` of itself: for any set of `n` values of range `R` the
//! spread is at least `R / sqrt(2n)`, so over 512 values the error is at most a sixth of a
//! thousandth of their spread, whatever the values. Values are brought into `f32`'s range
//! first ([`crate::history::narrow`]), so the grid's arithmetic never overflows.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::history::narrow;

/// Codes of the grid: `0..=TOP`.
const TOP: f64 = u16::MAX as f64;

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
    codes: Vec<u16>,
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
            codes: Vec::new(),
        }
    }

    /// `values` (oldest first) on the tightest grid, with room for `capacity` values in all
    /// (allocated once: see [`crate::history`] on buffers grown by steps).
    pub(crate) fn from_values(values: &[f64], capacity: usize) -> Self {
        let mut q = Self::new();
        q.codes.reserve_exact(values.len().max(capacity));
        let (lo, hi) = values
            .iter()
            .map(|&v| f64::from(narrow(v)))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo <= hi {
            q.grid = Grid::spanning(lo, hi);
        }
        q.codes
            .extend(values.iter().map(|&v| q.grid.nearest(f64::from(narrow(v)))));
        q
    }

    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Appends `v` (its capacity grown by `grow` when full, so the caller bounds it).
    pub(crate) fn push(&mut self, v: f64, grow: usize) {
        let v = f64::from(narrow(v));
        if self.codes.is_empty() {
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
        if self.codes.len() == self.codes.capacity() {
            self.codes.reserve_exact(grow.max(1));
        }
        self.codes.push(code);
    }

    /// The `i`-th value, 0 being the oldest.
    pub(crate) fn get(&self, i: usize) -> f64 {
        self.grid.decode(self.codes[i])
    }

    /// The values, oldest first.
    pub(crate) fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.codes.iter().map(|&c| self.grid.decode(c))
    }

    /// Forgets the `n` oldest values.
    pub(crate) fn drop_oldest(&mut self, n: usize) {
        self.codes.drain(..n.min(self.codes.len()));
    }

    /// Fits the grid to the values held when their range is under a quarter of its width
    /// (the values that widened it are gone): their precision follows their own range again.
    pub(crate) fn tighten(&mut self) {
        let (lo, hi) = self
            .codes
            .iter()
            .fold((u16::MAX, 0), |(a, b), &c| (a.min(c), b.max(c)));
        if lo <= hi && f64::from(hi - lo) < TOP / 4.0 {
            let tight = Grid::spanning(self.grid.decode(lo), self.grid.decode(hi));
            self.recode(tight);
        }
    }

    fn recode(&mut self, to: Grid) {
        let from = self.grid;
        for c in &mut self.codes {
            *c = to.nearest(from.decode(*c));
        }
        self.grid = to;
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.codes.capacity() * std::mem::size_of::<u16>()
    }
}

/// Saved as the grid and the codes; read back only with a finite grid.
impl Serialize for Quantised {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.grid.lo, self.grid.step, &self.codes).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Quantised {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (lo, step, codes): (f64, f64, Vec<u16>) = Deserialize::deserialize(d)?;
        let f32_range = f64::from(f32::MAX);
        if !(lo.abs() <= f32_range && (0.0..=2.0 * f32_range / TOP).contains(&step)) {
            return Err(serde::de::Error::custom(format!(
                "quantised values on a grid from {lo} in steps of {step}"
            )));
        }
        Ok(Self {
            grid: Grid { lo, step },
            codes,
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
    fn two_bytes_a_value_and_a_saved_form_that_is_checked() {
        let mut q = Quantised::new();
        for (i, v) in noise(2, 100, 0.0, 1.0).into_iter().enumerate() {
            q.push(v, if i < 64 { 64 } else { 36 });
        }
        assert_eq!(q.heap_bytes(), 200);
        let bytes = postcard::to_allocvec(&q).unwrap();
        assert_eq!(postcard::from_bytes::<Quantised>(&bytes).unwrap(), q);
        for bad in [
            (f64::NAN, 1.0),
            (0.0, -1.0),
            (0.0, f64::INFINITY),
            (1e300, 0.0),
        ] {
            let bytes = postcard::to_allocvec(&(bad.0, bad.1, vec![1u16])).unwrap();
            assert!(
                postcard::from_bytes::<Quantised>(&bytes).is_err(),
                "{bad:?}"
            );
        }
    }
}
