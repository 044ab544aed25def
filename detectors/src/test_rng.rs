//! The randomised tests' generator: xorshift64, seeded, so every run draws the same cases.

/// The values xorshift64 draws from `seed` (not 0), one a call.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
