//! Score calibration shared by all detectors.
//!
//! A z-score is turned into the two-sided normal tail probability `p = erfc(|z| / sqrt(2))` and
//! then log-scaled, in the spirit of Numenta's log-likelihood: `score = -log10(p) / 10`, clamped
//! to `[0, 1]`. So `p = 1e-5` gives 0.5 and `p <= 1e-10` gives 1. The log scale spreads the
//! interesting tail (p from 1e-3 down to 1e-10) over most of the range, which makes thresholds
//! readable: each 0.1 of score is one decade of rarity.

use std::f64::consts::SQRT_2;

/// Decades of tail probability that map onto the full score range.
const DECADES: f64 = 10.0;

/// The calibrated score in `[0, 1]` of a (signed) z-score.
///
/// NaN gives 0 (nothing can be said about it); `±inf`, and any `|z|` so large that the tail
/// probability underflows to 0, give 1.
pub fn score_from_z(z: f64) -> f64 {
    if z.is_nan() {
        return 0.0;
    }
    let p = libm::erfc(z.abs() / SQRT_2);
    if p <= 0.0 {
        return 1.0;
    }
    // `+ 0.0` turns the -0.0 of p == 1 into 0.0.
    (-p.log10() / DECADES).clamp(0.0, 1.0) + 0.0
}

/// The smallest `|z|` at which `score` is reached: the inverse of [`score_from_z`].
///
/// Accurate to 1e-9 for `score` in `(0, 1)`. At the ends: `score <= 0` gives 0 (every point
/// scores at least 0); `score >= 1` gives the `|z|` where the score first reaches 1, about
/// 6.4670 (`p = 1e-10`); NaN gives NaN.
pub fn z_for_score(score: f64) -> f64 {
    if score.is_nan() {
        return f64::NAN;
    }
    if score <= 0.0 {
        return 0.0;
    }
    let score = score.min(1.0);
    // The score is non-decreasing in |z| (strictly below 1), so bisection is safe. Testing with
    // score_from_z itself keeps the inverse exact to the ulp: score_from_z(z_for_score(s)) >= s.
    // p = 1e-10 is at z ~ 6.47, well inside the bracket.
    let (mut lo, mut hi) = (0.0_f64, 8.0_f64);
    // 64 halvings of a width-8 bracket reach f64 resolution long before the loop ends.
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if score_from_z(mid) >= score {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_points() {
        assert_eq!(score_from_z(0.0), 0.0);
        assert!(score_from_z(0.0).is_sign_positive());
        // p(|Z| >= 4.4172) = 1e-5 -> 0.5.
        assert!((score_from_z(4.417_173_4) - 0.5).abs() < 1e-6);
        assert!((score_from_z(-4.417_173_4) - 0.5).abs() < 1e-6);
        // p(|Z| >= 1.959964) = 0.05 -> -log10(0.05)/10.
        let s = score_from_z(1.959_963_985);
        assert!((s - 0.05_f64.log10().abs() / 10.0).abs() < 1e-9, "{s}");
        assert_eq!(score_from_z(6.5), 1.0);
        assert_eq!(score_from_z(40.0), 1.0); // erfc underflows to 0 here
        assert_eq!(score_from_z(f64::INFINITY), 1.0);
        assert_eq!(score_from_z(f64::NEG_INFINITY), 1.0);
        assert_eq!(score_from_z(f64::NAN), 0.0);
    }

    #[test]
    fn score_is_monotone_in_abs_z() {
        let mut prev = 0.0;
        for i in 0..=800 {
            let s = score_from_z(f64::from(i) * 0.01);
            assert!((0.0..=1.0).contains(&s));
            assert!(s >= prev, "not monotone at z = {}", f64::from(i) * 0.01);
            prev = s;
        }
    }

    #[test]
    fn z_for_score_known_points() {
        assert!((z_for_score(0.5) - 4.417_173_4).abs() < 1e-6);
        assert!((z_for_score(0.5) - 4.417).abs() < 1e-3);
        assert_eq!(z_for_score(0.0), 0.0);
        assert_eq!(z_for_score(-1.0), 0.0);
        let top = z_for_score(1.0);
        assert!((top - 6.466_951).abs() < 1e-5, "{top}");
        assert_eq!(z_for_score(2.0), top);
        assert!(z_for_score(f64::NAN).is_nan());
    }

    #[test]
    fn round_trip() {
        for i in 1..1000 {
            let s = f64::from(i) / 1000.0;
            let z = z_for_score(s);
            assert!((score_from_z(z) - s).abs() < 1e-9, "score {s}");
            // |z| accurate to 1e-9: just below it the score is not reached, at it, it is.
            assert!(score_from_z(z - 1e-9) < s, "score {s}");
            assert!(score_from_z(z) >= s, "score {s}");
        }
        for i in 1..700 {
            let z = f64::from(i) * 0.01;
            let s = score_from_z(z);
            if s < 1.0 {
                assert!((z_for_score(s) - z).abs() < 1e-9, "z {z}");
            }
        }
    }
}
