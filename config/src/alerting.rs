//! `[alerting]`: how anomalies become alerts (the lifecycle of one signal's alert) and how
//! alerts on several signals become one incident.

use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::values::{self, duration_in, Count, Score, Share};

/// `[alerting]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// An alert fires when `fire_after` of the last `fire_window` points are anomalous.
    pub fire_after: Count<1, 64>,
    pub fire_window: Count<1, 64>,
    /// A firing alert resolves after this many consecutive normal points of its signal.
    #[serde(deserialize_with = "values::positive_count")]
    pub resolve_after: u32,
    /// Severity bands: anomalies scoring at or above `critical_score` are `critical`; below
    /// it, `warning`. Anomalies scoring below `warning_score` (when set) do not count at all.
    pub critical_score: Score,
    pub warning_score: Option<Score>,
    /// After an alert resolves, its signal may not fire again for this long.
    #[serde(deserialize_with = "cooldown")]
    pub cooldown: Duration,
    /// A signal with `flap_transitions` fire/resolve transitions within `flap_window` is
    /// flapping: its alert is held open until the signal has been normal for a whole
    /// `flap_window`.
    #[serde(deserialize_with = "window")]
    pub flap_window: Duration,
    pub flap_transitions: Count<2, 1000>,
    /// Alerts starting within this of the last alert of an open incident join that incident.
    #[serde(deserialize_with = "correlation_window")]
    pub correlation_window: Duration,
    /// Practical significance (docs/alerts.md): an anomaly pages only when its move reaches
    /// `min_move` of the signal's own range over its long horizon (and, for a ratio,
    /// `min_ratio_move` of 0..1), and leads to a level the signal held for less than
    /// `usual_share` of that horizon.
    pub significance: bool,
    pub min_move: Share,
    pub min_ratio_move: Share,
    pub usual_share: Share,
    /// Whether a move in the better direction of a signal where higher is worse (the CPU
    /// falling to idle, an error rate falling) may page; off by default: relief is not a page.
    pub page_relief: bool,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        Self {
            fire_after: Count::fixed(1),
            fire_window: Count::fixed(1),
            resolve_after: 3,
            critical_score: Score::fixed(0.8),
            warning_score: None,
            cooldown: Duration::from_secs(60),
            flap_window: Duration::from_secs(600),
            flap_transitions: Count::fixed(6),
            correlation_window: Duration::from_secs(300),
            significance: true,
            min_move: Share::fixed(0.1),
            min_ratio_move: Share::fixed(0.05),
            usual_share: Share::fixed(0.1),
            page_relief: false,
        }
    }
}

/// Deserializes `[alerting]` and runs the cross-key checks, so their errors point at the table.
pub(crate) fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<AlertingConfig, D::Error> {
    let c = AlertingConfig::deserialize(d)?;
    check(&c).map_err(de::Error::custom)?;
    Ok(c)
}

fn check(c: &AlertingConfig) -> Result<(), String> {
    if c.fire_after.get() > c.fire_window.get() {
        return Err(format!(
            "in [alerting], `fire_after` ({}) is larger than `fire_window` ({}): an alert could never fire; make `fire_window` at least `fire_after`",
            c.fire_after.get(),
            c.fire_window.get()
        ));
    }
    if let Some(w) = c.warning_score {
        if w >= c.critical_score {
            return Err(format!(
                "in [alerting], `warning_score` ({}) is not below `critical_score` ({}): lower it, or remove it so every anomaly counts",
                w.get(),
                c.critical_score.get()
            ));
        }
    }
    Ok(())
}

fn cooldown<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_in(d, Duration::ZERO, Duration::from_secs(24 * 3600))
}

fn window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_in(d, Duration::from_secs(1), Duration::from_secs(24 * 3600))
}

fn correlation_window<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_in(d, Duration::ZERO, Duration::from_secs(24 * 3600))
}

#[cfg(test)]
mod tests {
    use crate::parse;
    use crate::tests::refusal as err;

    #[test]
    fn defaults_fire_on_one_point_and_group_within_five_minutes() {
        let c = parse("", "t").unwrap().alerting;
        assert_eq!((c.fire_after.get(), c.fire_window.get()), (1, 1));
        assert_eq!(c.resolve_after, 3);
        assert_eq!(c.cooldown.as_secs(), 60);
        assert_eq!(
            (c.flap_window.as_secs(), c.flap_transitions.get()),
            (600, 6)
        );
        assert_eq!(c.correlation_window.as_secs(), 300);
        assert!(c.warning_score.is_none());
        assert!(c.significance && !c.page_relief);
        assert_eq!(
            (
                c.min_move.get(),
                c.min_ratio_move.get(),
                c.usual_share.get()
            ),
            (0.1, 0.05, 0.1)
        );
    }

    #[test]
    fn a_full_table_parses() {
        let c = parse(
            "[alerting]\nfire_after = 3\nfire_window = 5\nresolve_after = 4\ncritical_score = 0.9\nwarning_score = 0.6\ncooldown = \"0s\"\nflap_window = \"30m\"\nflap_transitions = 4\ncorrelation_window = \"2m\"\nsignificance = false\nmin_move = 0.2\nmin_ratio_move = 0\nusual_share = 1\npage_relief = true\n",
            "t",
        )
        .unwrap()
        .alerting;
        assert_eq!((c.fire_after.get(), c.fire_window.get()), (3, 5));
        assert_eq!(c.warning_score.map(|s| s.get()), Some(0.6));
        assert!(c.cooldown.is_zero());
        assert_eq!(c.correlation_window.as_secs(), 120);
        assert!(!c.significance && c.min_move.get() == 0.2 && c.usual_share.get() == 1.0);
        assert!(c.page_relief);
    }

    #[test]
    fn bad_values_are_located_and_explained() {
        let e = err("[alerting]\nfire_after = 0\n");
        assert!(
            e.contains("t.toml:2:14") && e.contains("from 1 to 64"),
            "{e}"
        );
        let e = err("[alerting]\nfire_window = 65\n");
        assert!(e.contains("t.toml:2:") && e.contains("from 1 to 64"), "{e}");
        let e = err("[alerting]\nflap_transitions = 1\n");
        assert!(e.contains("from 2 to 1000"), "{e}");
        let e = err("[alerting]\ncooldown = \"5\"\n");
        assert!(
            e.contains("t.toml:2:12") && e.contains("not a duration"),
            "{e}"
        );
        let e = err("[alerting]\nflap_window = \"0s\"\n");
        assert!(e.contains("out of range"), "{e}");
        let e = err("[alerting]\ncorrelation_window = \"2d\"\n");
        assert!(e.contains("out of range"), "{e}");
        let e = err("[alerting]\nmin_move = 1.5\n");
        assert!(
            e.contains("t.toml:2:12") && e.contains("a number from 0 to 1"),
            "{e}"
        );
        let e = err("[alerting]\nsignificance = \"yes\"\n");
        assert!(e.contains("t.toml:2:") && e.contains("boolean"), "{e}");
        let e = err("[alerting]\npage_relief = 1\n");
        assert!(e.contains("t.toml:2:") && e.contains("boolean"), "{e}");
        let e = err("[alerting]\nfire_windw = 3\n");
        assert!(e.contains("Did you mean `fire_window`?"), "{e}");
    }

    #[test]
    fn contradictory_keys_are_refused_with_what_to_change() {
        let e = err("[alerting]\nfire_after = 3\nfire_window = 2\n");
        assert!(e.contains("t.toml:1:") || e.contains("t.toml:2:"), "{e}");
        assert!(
            e.contains("make `fire_window` at least `fire_after`"),
            "{e}"
        );
        let e = err("[alerting]\nwarning_score = 0.9\n");
        assert!(e.contains("not below `critical_score` (0.8)"), "{e}");
    }
}
