//! Parameter validation shared by the detectors added after [`crate::RobustEwma`].

/// A detector parameter out of range: names the detector, the parameter, the value and the
/// range to use instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} = {value} is out of range for the {detector} detector: use {expected}")]
pub struct InvalidParam {
    pub detector: &'static str,
    pub name: &'static str,
    pub value: f64,
    pub expected: &'static str,
}

/// Fails with an [`InvalidParam`] unless `ok`.
pub(crate) fn ensure(
    ok: bool,
    detector: &'static str,
    name: &'static str,
    value: f64,
    expected: &'static str,
) -> Result<(), InvalidParam> {
    if ok {
        Ok(())
    } else {
        Err(InvalidParam {
            detector,
            name,
            value,
            expected,
        })
    }
}

/// A score threshold strictly inside (0, 1); NaN fails.
pub(crate) fn threshold(detector: &'static str, value: f64) -> Result<(), InvalidParam> {
    ensure(
        value > 0.0 && value < 1.0,
        detector,
        "threshold",
        value,
        "a score strictly between 0 and 1",
    )
}

/// A count within `lo..=hi`.
pub(crate) fn count(
    detector: &'static str,
    name: &'static str,
    value: usize,
    lo: usize,
    hi: usize,
    expected: &'static str,
) -> Result<(), InvalidParam> {
    ensure(
        (lo..=hi).contains(&value),
        detector,
        name,
        value as f64,
        expected,
    )
}
