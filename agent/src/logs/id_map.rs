//! Maps keyed by template id, hashed with one multiply instead of SipHash: a line's template is
//! looked up in them for every line mined. Ids are the miner's own sequence numbers, not input,
//! so there is nothing to flood.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map from template id to `V`.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing spreads sequential ids over the high bits the table probes with.
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_the_high_bits() {
        let top = |id: u64| {
            let mut h = IdHasher::default();
            h.write_u64(id);
            h.finish() >> 57
        };
        let buckets: std::collections::HashSet<u64> = (1..=64).map(top).collect();
        assert!(
            buckets.len() > 32,
            "{} of 128 top-bit buckets",
            buckets.len()
        );
        let mut m: IdMap<u32> = IdMap::default();
        for id in 0..1000 {
            *m.entry(id).or_default() += 1;
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get(&999), Some(&1));
    }
}
