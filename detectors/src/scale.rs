//! The spread (a normal sigma) the detectors score against: the constants that turn robust
//! deviations into a sigma, and the floors the parameters put under it.

/// `1.4826 * MAD` estimates the sigma of a normal distribution.
pub(crate) const MAD_TO_SIGMA: f64 = 1.4826;
/// `sqrt(pi / 2)`: for a normal variable, `E|X - mu| * sqrt(pi / 2) = sigma`.
pub(crate) const MEAN_ABS_TO_SIGMA: f64 = 1.253_314_137_315_500_3;
/// Last-resort floor on a spread, so a constant series near zero (where the relative floor
/// vanishes) cannot divide by zero, and a learned spread never decays into denormals. It is
/// tiny for any host or log metric; signals whose real noise is this small want `min_scale`.
pub(crate) const SCALE_EPSILON: f64 = 1e-12;

/// `sigma` raised to the floors, `min_scale` and `min_rel_scale * |level|`, and kept finite so
/// that multiples of it cannot overflow into NaN arithmetic later.
pub(crate) fn floored(sigma: f64, level: f64, min_scale: f64, min_rel_scale: f64) -> f64 {
    sigma
        .max(min_scale)
        .max(min_rel_scale * level.abs())
        .clamp(SCALE_EPSILON, f64::MAX)
}
