//! The one sentence an alert says, built from its evidence: where the value lies against the
//! expected range (only when it lies outside it), what the strongest component saw, with its
//! figures in the signal's unit ([`Unit`]), and the other components by name.

use std::time::Duration;

use seismo_detectors::Finding;

use crate::event::{Anomaly, Evidence, EvidenceComponent, Position, DAY_MS, WEEK_MS};
use crate::unit::Unit;

/// The summary of a firing alert on anomaly `a` with evidence `e` (see [`Evidence::of`]).
pub fn firing(a: &Anomaly, e: &Evidence) -> String {
    let unit = Unit::of(&a.signal);
    let x = a.observed;
    let mut s = format!("{} is {}", a.signal, value_against(unit, x, a, e.position));
    match e.position {
        Position::Above | Position::Below => {
            s.push_str(&format!(
                ", {} the expected range {}",
                e.position.name(),
                unit.range(a.expected_low, a.expected_high)
            ));
        }
        Position::Inside => {}
    }
    let mut parts = e.components.iter();
    match parts.next() {
        Some(primary) => {
            if let Some(what) = phrase(unit, x, primary, a.detector, e.position) {
                s.push_str(": ");
                s.push_str(&what);
            }
            let mut also: Vec<&str> = Vec::new();
            for c in parts {
                let name = name(&c.finding);
                if name != self::name(&primary.finding) && !also.contains(&name) {
                    also.push(name);
                }
            }
            if !also.is_empty() {
                s.push_str("; also ");
                s.push_str(&also.join(" and "));
            }
        }
        None if e.position == Position::Inside => {
            s.push_str(&format!(
                ", which the {} detector scored unusual",
                a.detector
            ));
        }
        None => {}
    }
    s.push_str(&format!(" (score {:.2}, detector {})", a.score, a.detector));
    s
}

/// The observed value, with as many digits as it takes to read differently from the end of
/// the range it is compared with.
fn value_against(unit: Unit, x: f64, a: &Anomaly, position: Position) -> String {
    match position {
        Position::Above => unit.format_apart(x, a.expected_high).0,
        Position::Below => unit.format_apart(x, a.expected_low).0,
        Position::Inside => unit.format(x),
    }
}

/// What a component found, in words.
fn name(f: &Finding) -> &'static str {
    match (f, f.kind()) {
        (Finding::NewExtreme { maximum: false, .. }, _) => "a new minimum",
        (_, "new_extreme") => "a new maximum",
        (_, "level_shift") => "a level shift",
        (_, "spike") => "a spike",
        (_, "seasonal") => "a value unusual for the time",
        (_, "pattern") => "an unusual pattern",
        (_, "early_level") => "an early level change",
        (_, "at_bound") => "a value at its bound",
        _ => "a value outside its band",
    }
}

/// `n` spreads for people: whole above 10, one decimal below; signed when `signed`.
fn spreads(n: f64, signed: bool) -> String {
    let v = if n.abs() >= 10.0 {
        format!("{:.0}", n.abs())
    } else {
        format!("{:.1}", n.abs())
    };
    let sign = if !signed {
        ""
    } else if n < 0.0 {
        "-"
    } else {
        "+"
    };
    format!("{sign}{v} spread{}", if v == "1.0" { "" } else { "s" })
}

/// Whether a distance in spreads says something to a person: finite, and not one measured in
/// the floor of a flat signal's spread (thousands of spreads).
fn readable(n: f64) -> bool {
    n.is_finite() && n.abs() < 1000.0
}

fn side(d: f64) -> &'static str {
    if d < 0.0 {
        "below"
    } else {
        "above"
    }
}

/// The strongest component's sentence, or `None` when the position already says it all.
fn phrase(
    unit: Unit,
    x: f64,
    c: &EvidenceComponent,
    detector: &str,
    position: Position,
) -> Option<String> {
    let f = |v: f64| unit.format(v);
    let n = c.spreads;
    Some(match c.finding {
        Finding::NewExtreme { previous, maximum } => {
            let which = if maximum { "maximum" } else { "minimum" };
            let (_, previous) = unit.format_apart(x, previous);
            format!("a new {which} (previous {which} {previous})")
        }
        Finding::LevelShift {
            before,
            after,
            points,
            ..
        } => {
            let (b, a) = unit.format_apart(before, after);
            let by = if readable(n) {
                format!(" ({})", spreads(n, true))
            } else {
                String::new()
            };
            format!("a level shift, from {b} to {a}{by} over the last {points} points")
        }
        Finding::Spike {
            median,
            mad,
            window,
            ..
        } => {
            let far = if readable(n) {
                format!("{} ", spreads(n, false))
            } else if mad == 0.0 {
                // A window of one value: its spread is a floor, any distance is huge.
                "from a flat signal, ".to_owned()
            } else {
                String::new()
            };
            format!(
                "a spike {far}{} the median {} of the last {window} points (MAD {})",
                side(x - median),
                f(median),
                f(mad)
            )
        }
        Finding::Seasonal {
            period_ms,
            slot_start_ms: start,
            slot_ms: width,
            usual,
            ..
        } => {
            let when = slot(period_ms, start, width);
            // Without a rhythm the usual value is the signal's running level.
            let usual_text = if period_ms == 0 {
                format!("its usual level {}", f(usual))
            } else {
                format!("the usual {}", f(usual))
            };
            let ratio = x / usual;
            let how = if usual > 0.0 && x > 0.0 && ratio >= 1.5 {
                format!("{ratio:.1}x {usual_text}")
            } else if readable(n) {
                format!("{} {} {usual_text}", spreads(n, false), side(x - usual))
            } else {
                format!("{} {usual_text}", side(x - usual))
            };
            format!("{how}{when}")
        }
        Finding::Pattern { points, .. } => {
            let far = if readable(n) {
                format!(" ({} from the nearest usual one)", spreads(n, false))
            } else {
                String::new()
            };
            format!("an unusual pattern: the movement of its last {points} points is unlike those learned{far}")
        }
        Finding::EarlyLevel {
            median,
            mean,
            reference,
            points,
            ..
        } => {
            let (m, a) = unit.format_apart(median, mean);
            let far = if readable(n) {
                format!("{} ", spreads(n, false))
            } else {
                String::new()
            };
            format!(
                "early: its last {points} points average {a}, {far}{} the median {m} of the {reference} points before them and beyond every earlier value",
                side(mean - median)
            )
        }
        Finding::AtBound {
            bound,
            points,
            previous,
        } => {
            let (_, p) = unit.format_apart(x, previous);
            format!(
                "early: at its bound {} for the last {points} points (previous maximum {p})",
                f(bound)
            )
        }
        Finding::Filling {
            previous,
            rise,
            points_to_full,
        } => {
            let (_, p) = unit.format_apart(x, previous);
            format!(
                "early: filling: up {} of its capacity in its last point, beyond every earlier value (previous maximum {p}); full in {} points at that rate",
                f(rise),
                points_to_full.ceil().max(0.0) as u64
            )
        }
        Finding::Band => {
            if position != Position::Inside {
                return None;
            }
            format!("the {detector} detector scored it unusual")
        }
    })
}

/// The seasonal slot in words: `at 14:00–14:30 UTC`, `on Tuesdays 14:00–15:00 UTC`, `at this
/// point of its 50m cycle` (each with a leading space), or nothing (no rhythm).
fn slot(period_ms: i64, start_ms: i64, width_ms: i64) -> String {
    let clock = |ms: i64| {
        let m = ms.rem_euclid(DAY_MS) / 60_000;
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    let span = |start: i64| {
        let end = start + width_ms;
        let end = if end % DAY_MS == 0 && end > start {
            "24:00".to_owned()
        } else {
            clock(end)
        };
        format!("{}–{end} UTC", clock(start))
    };
    match period_ms {
        0 => String::new(),
        DAY_MS => format!(" at {}", span(start_ms)),
        WEEK_MS => {
            // The unix epoch was a Thursday.
            const DAYS: [&str; 7] = [
                "Thursdays",
                "Fridays",
                "Saturdays",
                "Sundays",
                "Mondays",
                "Tuesdays",
                "Wednesdays",
            ];
            let day = DAYS[(start_ms.div_euclid(DAY_MS)).rem_euclid(7) as usize];
            format!(" on {day} {}", span(start_ms))
        }
        p => format!(
            " at this point of its {} cycle",
            humantime::format_duration(Duration::from_millis(u64::try_from(p).unwrap_or(0)))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seismo_detectors::{Component, Evidence as Found, Finding as F};

    fn anomaly(signal: &str, observed: f64, components: &[(F, f64, f64)]) -> Anomaly {
        let mut evidence = Found::default();
        for (i, &(finding, low, high)) in components.iter().enumerate() {
            evidence.push(Component {
                finding,
                score: 0.9 - 0.1 * i as f64,
                expected_low: low,
                expected_high: high,
            });
        }
        let (low, high) = components.first().map_or((0.0, 1.0), |c| (c.1, c.2));
        Anomaly {
            signal: signal.into(),
            ts_ms: 0,
            score: 0.9,
            observed,
            expected_low: low,
            expected_high: high,
            detector: "ensemble",
            evidence,
        }
    }

    fn summary(a: &Anomaly) -> String {
        firing(a, &Evidence::of(a))
    }

    #[test]
    fn early_findings_say_what_the_early_stage_saw() {
        let a = anomaly(
            "host.cpu.core.1.utilization",
            1.0,
            &[(
                F::EarlyLevel {
                    median: 0.05,
                    spread: 0.01,
                    reference: 21,
                    mean: 0.98,
                    points: 3,
                },
                0.01,
                0.12,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.cpu.core.1.utilization is 100%, above the expected range 1%..12%: early: its \
             last 3 points average 98%, 93 spreads above the median 5% of the 21 points before \
             them and beyond every earlier value (score 0.90, detector ensemble)"
        );
        let a = anomaly(
            "host.filesystem.root.used_ratio",
            1.0,
            &[(
                F::AtBound {
                    bound: 1.0,
                    points: 6,
                    previous: 0.87,
                },
                0.2,
                0.87,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.filesystem.root.used_ratio is 100%, above the expected range 20%..87%: early: \
             at its bound 100% for the last 6 points (previous maximum 87%) (score 0.90, \
             detector ensemble)"
        );
        let json = serde_json::to_value(Evidence::of(&a)).unwrap();
        assert_eq!(json["components"][0]["kind"], "at_bound");
        assert_eq!(json["components"][0]["previous"], 0.87);
        let a = anomaly(
            "host.filesystem.data.used_ratio",
            0.31,
            &[(
                F::Filling {
                    previous: 0.15,
                    rise: 0.16,
                    points_to_full: 4.3,
                },
                0.05,
                0.15,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.filesystem.data.used_ratio is 31%, above the expected range 5%..15%: early: \
             filling: up 16% of its capacity in its last point, beyond every earlier value \
             (previous maximum 15%); full in 5 points at that rate (score 0.90, detector \
             ensemble)"
        );
        let json = serde_json::to_value(Evidence::of(&a)).unwrap();
        assert_eq!(json["components"][0]["kind"], "filling");
        assert_eq!(json["components"][0]["points_to_full"], 4.3);
    }

    #[test]
    fn a_level_shift_names_its_levels_in_the_signals_unit() {
        let a = anomaly(
            "host.cpu.core.1.utilization",
            0.394,
            &[(
                F::LevelShift {
                    before: 0.02,
                    after: 0.39,
                    spread: 0.0195,
                    points: 16,
                },
                0.01,
                0.035,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.cpu.core.1.utilization is 39.4%, above the expected range 1%..3.5%: a level \
             shift, from 2% to 39% (+19 spreads) over the last 16 points (score 0.90, detector \
             ensemble)"
        );
    }

    #[test]
    fn a_new_maximum_names_the_previous_one() {
        let a = anomaly(
            "host.memory.used_ratio",
            1.0,
            &[(
                F::NewExtreme {
                    previous: 0.71,
                    maximum: true,
                },
                0.1,
                0.71,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.memory.used_ratio is 100%, above the expected range 10%..71%: a new maximum \
             (previous maximum 71%) (score 0.90, detector ensemble)"
        );
    }

    #[test]
    fn inside_every_band_nothing_is_above_or_below() {
        // The third alert of issue 28: 63 inside 63..75 was called "below".
        let a = anomaly(
            "host.processes.count",
            63.0,
            &[
                (F::Pattern { points: 9, z: 2.31 }, 60.0, 75.0),
                (
                    F::Spike {
                        median: 66.0,
                        mad: 2.0,
                        spread: 2.9652,
                        window: 128,
                    },
                    53.0,
                    79.0,
                ),
            ],
        );
        let s = summary(&a);
        assert!(
            !s.contains("above") && !s.contains("below the expected"),
            "{s}"
        );
        assert_eq!(
            s,
            "host.processes.count is 63: an unusual pattern: the movement of its last 9 points \
             is unlike those learned (2.3 spreads from the nearest usual one); also a spike \
             (score 0.90, detector ensemble)"
        );
    }

    #[test]
    fn spikes_and_seasons_read_in_the_signals_unit() {
        let a = anomaly(
            "host.disk.sda.write_bytes_per_s",
            50.0 * 1048576.0,
            &[(
                F::Spike {
                    median: 1048576.0,
                    mad: 524288.0,
                    spread: 777_317.0,
                    window: 128,
                },
                0.0,
                4.5 * 1048576.0,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.disk.sda.write_bytes_per_s is 50 MiB/s, above the expected range 0 B/s..4.5 \
             MiB/s: a spike 66 spreads above the median 1 MiB/s of the last 128 points (MAD 512 \
             KiB/s) (score 0.90, detector ensemble)"
        );
        // Tuesday 14:00-14:30 of a week: day 5 after the epoch's Thursday.
        let a = anomaly(
            "log.app.errors_per_s",
            16.0,
            &[(
                F::Seasonal {
                    period_ms: WEEK_MS,
                    slot_start_ms: 5 * DAY_MS + 14 * 3_600_000,
                    slot_ms: 3_600_000,
                    usual: 5.0,
                    spread: 1.0,
                },
                0.6,
                9.4,
            )],
        );
        assert_eq!(
            summary(&a),
            "log.app.errors_per_s is 16/s, above the expected range 0.6/s..9.4/s: 3.2x the \
             usual 5/s on Tuesdays 14:00–15:00 UTC (score 0.90, detector ensemble)"
        );
        assert_eq!(
            slot(DAY_MS, 23 * 3_600_000 + 1_800_000, 1_800_000),
            " at 23:30–24:00 UTC"
        );
        assert_eq!(
            slot(3_000_000, 0, 60_000),
            " at this point of its 50m cycle"
        );
        // No rhythm: the running level.
        let a = anomaly(
            "host.memory.used_ratio",
            0.0339,
            &[(
                F::Seasonal {
                    period_ms: 0,
                    slot_start_ms: 0,
                    slot_ms: 0,
                    usual: 0.0411,
                    spread: 0.00176,
                },
                0.0333,
                0.0489,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.memory.used_ratio is 3.39%: 4.1 spreads below its usual level 4.11% (score \
             0.90, detector ensemble)"
        );
    }

    #[test]
    fn a_single_band_detector_and_near_zero_ranges() {
        let mut a = anomaly(
            "log.app.errors_per_s",
            3.0,
            &[(F::Band, -4.417e-12, 4.417e-12)],
        );
        a.detector = "ewma";
        assert_eq!(
            summary(&a),
            "log.app.errors_per_s is 3/s, above the expected range 0/s..0/s (score 0.90, \
             detector ewma)"
        );
        let mut a = anomaly("host.load.1m", 2.0, &[(F::Band, 1.0, 3.0)]);
        a.detector = "cusum";
        assert_eq!(
            summary(&a),
            "host.load.1m is 2: the cusum detector scored it unusual (score 0.90, detector cusum)"
        );
        // A spike on a signal that sat at one value: no spreads measured in its floor.
        let a = anomaly(
            "host.network.eth0.rx_bytes_per_s",
            3236.0,
            &[(
                F::Spike {
                    median: 0.0,
                    mad: 0.0,
                    spread: 1e-300,
                    window: 128,
                },
                0.0,
                0.0,
            )],
        );
        assert_eq!(
            summary(&a),
            "host.network.eth0.rx_bytes_per_s is 3.16 KiB/s, above the expected range 0 B/s..0 \
             B/s: a spike from a flat signal, above the median 0 B/s of the last 128 points (MAD \
             0 B/s) (score 0.90, detector ensemble)"
        );
        let mut a = anomaly("log.app.template.7.new", 3.0, &[]);
        (a.expected_low, a.expected_high, a.detector) = (0.0, 0.0, "new_template");
        assert_eq!(
            summary(&a),
            "log.app.template.7.new is 3, above the expected range 0..0 (score 0.90, detector \
             new_template)"
        );
    }
}
