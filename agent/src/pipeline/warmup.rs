//! What the detectors start from, said once at start-up: how many signals resume with learned
//! state, and how long a new signal learns before the early detectors and then the full
//! detector score it.

use std::time::Duration;

use seismo_config::{DetectorKind, DetectorsConfig};
use seismo_detectors::EnsembleParams;

/// What the daemon knows at start about learned state: signals whose detectors the snapshot
/// restored (they score their next point at once); every other signal starts learning when its
/// first point comes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StartState {
    pub restored: usize,
}

/// The points a new signal under the default settings learns before its early stage (`None`:
/// its detector has none) and before its full detector scores.
pub fn default_stages(config: &DetectorsConfig) -> (Option<u32>, u32) {
    let s = &config.defaults;
    match s.kind {
        DetectorKind::Ensemble => {
            let d = EnsembleParams::default();
            let full = s.warmup.unwrap_or(d.warmup as u32);
            let early = s.early_warmup.unwrap_or(d.early_warmup as u32);
            ((early < full).then_some(early), full)
        }
        // The single detectors score after their own warm-up (30 points unless set).
        _ => (None, s.warmup.unwrap_or(30)),
    }
}

/// The start-up sentence: what was restored and what learns for how long at `interval`.
pub fn describe(config: &DetectorsConfig, interval: Duration, start: StartState) -> String {
    let (early, full) = default_stages(config);
    let at = |points: u32| {
        humantime::format_duration(Duration::from_secs(
            interval.as_secs().saturating_mul(u64::from(points)),
        ))
        .to_string()
    };
    let every = humantime::format_duration(interval);
    let restored = match start.restored {
        0 => "no learned state restored".to_owned(),
        1 => "1 signal resumes with its learned state".to_owned(),
        n => format!("{n} signals resume with their learned state"),
    };
    match early {
        Some(e) => format!(
            "{restored}; new signals learn for {e} points ({} at {every}), are scored by the early detectors from then, and by the full detector after {full} points ({})",
            at(e),
            at(full)
        ),
        None => format!(
            "{restored}; new signals learn for {full} points ({} at {every}) before they are scored",
            at(full)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_line_says_how_long_signals_learn() {
        let c = seismo_config::parse("", "t").unwrap().detectors;
        assert_eq!(default_stages(&c), (Some(12), 300));
        assert_eq!(
            describe(&c, Duration::from_secs(10), StartState::default()),
            "no learned state restored; new signals learn for 12 points (2m at 10s), are scored \
             by the early detectors from then, and by the full detector after 300 points (50m)"
        );
        let c = seismo_config::parse(
            "[detectors.defaults]\nwarmup = 20\nearly_warmup = 20\n",
            "t",
        )
        .unwrap()
        .detectors;
        assert_eq!(default_stages(&c), (None, 20));
        assert_eq!(
            describe(&c, Duration::from_secs(1), StartState { restored: 3 }),
            "3 signals resume with their learned state; new signals learn for 20 points (20s at \
             1s) before they are scored"
        );
        let c = seismo_config::parse("[detectors.defaults]\nkind = \"ewma\"\n", "t")
            .unwrap()
            .detectors;
        assert_eq!(default_stages(&c), (None, 30));
    }
}
