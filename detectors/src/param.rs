//! Parameter validation shared by every detector: one error type, one check per kind of
//! parameter. Each check is written so that NaN fails it.

use std::borrow::Cow;

/// A detector parameter out of range: names the detector, the parameter, the value and the
/// range to use instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} = {value} is out of range for the {detector} detector: use {expected}")]
pub struct InvalidParam {
    pub detector: &'static str,
    pub name: &'static str,
    pub value: f64,
    pub expected: Cow<'static, str>,
}

/// Fails with an [`InvalidParam`] unless `ok`.
pub(crate) fn ensure(
    ok: bool,
    detector: &'static str,
    name: &'static str,
    value: f64,
    expected: impl Into<Cow<'static, str>>,
) -> Result<(), InvalidParam> {
    if ok {
        Ok(())
    } else {
        Err(InvalidParam {
            detector,
            name,
            value,
            expected: expected.into(),
        })
    }
}

/// A score threshold strictly inside (0, 1).
pub(crate) fn threshold(detector: &'static str, value: f64) -> Result<(), InvalidParam> {
    ensure(
        value > 0.0 && value < 1.0,
        detector,
        "threshold",
        value,
        "a score strictly between 0 and 1",
    )
}

/// A smoothing factor `alpha` in (0, 1].
pub(crate) fn alpha(detector: &'static str, value: f64) -> Result<(), InvalidParam> {
    ensure(
        value > 0.0 && value <= 1.0,
        detector,
        "alpha",
        value,
        "a smoothing factor greater than 0 and at most 1",
    )
}

/// A finite number greater than 0.
pub(crate) fn positive(
    detector: &'static str,
    name: &'static str,
    value: f64,
    expected: &'static str,
) -> Result<(), InvalidParam> {
    ensure(
        value.is_finite() && value > 0.0,
        detector,
        name,
        value,
        expected,
    )
}

/// The floors on the spread, `min_scale` (absolute) and `min_rel_scale` (relative to the
/// level): finite and at least 0.
pub(crate) fn scale_floors(
    detector: &'static str,
    min_scale: f64,
    min_rel_scale: f64,
) -> Result<(), InvalidParam> {
    for (name, value) in [("min_scale", min_scale), ("min_rel_scale", min_rel_scale)] {
        ensure(
            value.is_finite() && value >= 0.0,
            detector,
            name,
            value,
            "a finite number >= 0",
        )?;
    }
    Ok(())
}

/// A warm-up of 2 to [`MAX_WARMUP`] points.
pub(crate) fn warmup(detector: &'static str, value: usize) -> Result<(), InvalidParam> {
    count(
        detector,
        "warmup",
        value,
        2,
        MAX_WARMUP,
        "from 2 to 100000 points",
    )
}

/// The longest warm-up any detector takes, so warm-up buffers stay bounded.
pub(crate) const MAX_WARMUP: usize = 100_000;

/// A count within `lo..=hi`.
pub(crate) fn count(
    detector: &'static str,
    name: &'static str,
    value: usize,
    lo: usize,
    hi: usize,
    expected: impl Into<Cow<'static, str>>,
) -> Result<(), InvalidParam> {
    ensure(
        (lo..=hi).contains(&value),
        detector,
        name,
        value as f64,
        expected,
    )
}
