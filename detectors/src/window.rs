//! A fixed-capacity ring of the most recent values, oldest first.
//!
//! Every value is written twice, `cap` apart, so the current contents are always one contiguous
//! slice ([`Ring::as_slice`]): detectors scan windows of it without a modulo per element. That
//! doubles the memory, which is cheaper than the time saved on every point for the detector
//! that scans it (the nearest-neighbour one); the default detector's windows are the compact
//! [`crate::history::History`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

// Snapshots carry only the contents (see the `Serialize` impl below), not the doubled buffer.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    /// Position of the oldest value in `buf`.
    head: usize,
    len: usize,
    cap: usize,
}

impl Ring {
    pub(crate) fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            buf: vec![0.0; 2 * cap],
            head: 0,
            len: 0,
            cap,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `v`; returns the value it pushed out when full.
    pub(crate) fn push(&mut self, v: f64) -> Option<f64> {
        if self.len < self.cap {
            let at = (self.head + self.len) % self.cap;
            self.buf[at] = v;
            self.buf[at + self.cap] = v;
            self.len += 1;
            None
        } else {
            let old = self.buf[self.head];
            self.buf[self.head] = v;
            self.buf[self.head + self.cap] = v;
            self.head = (self.head + 1) % self.cap;
            Some(old)
        }
    }

    /// The contents, oldest first.
    pub(crate) fn as_slice(&self) -> &[f64] {
        &self.buf[self.head..self.head + self.len]
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.capacity() * std::mem::size_of::<f64>()
    }
}

/// A ring is saved as its capacity and its contents, oldest first: half the buffer's size,
/// and only what was learned while it fills.
impl Serialize for Ring {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.cap, self.as_slice()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (cap, values): (usize, Vec<f64>) = Deserialize::deserialize(d)?;
        // A capacity from the detector's own (validated) parameters is far below this bound;
        // a larger one means a damaged snapshot, not a reason to allocate without limit.
        if cap == 0 || cap > MAX_SAVED_CAP || values.len() > cap {
            return Err(serde::de::Error::custom(format!(
                "ring of capacity {cap} holding {} values",
                values.len()
            )));
        }
        let mut ring = Ring::new(cap);
        for v in values {
            ring.push(v);
        }
        Ok(ring)
    }
}

/// The largest ring capacity a snapshot may ask for (the detectors' windows stay far below).
const MAX_SAVED_CAP: usize = 1 << 24;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_in_order() {
        let mut r = Ring::new(3);
        assert_eq!(r.push(1.0), None);
        assert_eq!(r.push(2.0), None);
        assert_eq!(r.as_slice(), [1.0, 2.0]);
        assert_eq!(r.push(3.0), None);
        assert_eq!(r.push(4.0), Some(1.0));
        assert_eq!(r.as_slice(), [2.0, 3.0, 4.0]);
        for v in 5..=9 {
            r.push(f64::from(v));
        }
        assert_eq!(r.as_slice(), [7.0, 8.0, 9.0]);
        assert_eq!(r.len(), 3);
    }
}
