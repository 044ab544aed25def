//! The time axis of a chart: tick instants on round UTC boundaries (seconds to years, chosen
//! from the span) and their labels.
//!
//! A label names the date where it matters: with steps shorter than a day, the first tick and
//! the first tick of each new day read `YYYY-MM-DD HH:MM`, the others `HH:MM` (or `HH:MM:SS`
//! with steps under a minute); with steps of a day or more every label is a date.

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A distance between ticks: a fixed number of milliseconds, or calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Millis(i64),
    Months(i64),
}

/// Candidate steps, shortest first.
const STEPS: [Step; 30] = [
    Step::Millis(SECOND),
    Step::Millis(2 * SECOND),
    Step::Millis(5 * SECOND),
    Step::Millis(10 * SECOND),
    Step::Millis(15 * SECOND),
    Step::Millis(30 * SECOND),
    Step::Millis(MINUTE),
    Step::Millis(2 * MINUTE),
    Step::Millis(5 * MINUTE),
    Step::Millis(10 * MINUTE),
    Step::Millis(15 * MINUTE),
    Step::Millis(30 * MINUTE),
    Step::Millis(HOUR),
    Step::Millis(2 * HOUR),
    Step::Millis(3 * HOUR),
    Step::Millis(6 * HOUR),
    Step::Millis(12 * HOUR),
    Step::Millis(DAY),
    Step::Millis(2 * DAY),
    Step::Millis(7 * DAY),
    Step::Millis(14 * DAY),
    Step::Months(1),
    Step::Months(2),
    Step::Months(3),
    Step::Months(6),
    Step::Months(12),
    Step::Months(24),
    Step::Months(60),
    Step::Months(120),
    Step::Months(1200),
];

/// Tick instants (unix ms, ascending) and their labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ticks {
    pub at: Vec<i64>,
    pub labels: Vec<String>,
}

impl Ticks {
    /// The label of the tick at `ts`, if it is one.
    pub fn label(&self, ts: i64) -> Option<&str> {
        let i = self.at.binary_search(&ts).ok()?;
        self.labels.get(i).map(String::as_str)
    }
}

/// At most `max` (at least 1) ticks between `t0` and `t1` (unix ms, inclusive), with the
/// shortest step that fits. A span too short for any round tick gets one tick at `t0`.
pub(crate) fn ticks(t0: i64, t1: i64, max: usize) -> Ticks {
    let (t0, t1) = (t0.min(t1), t0.max(t1));
    let max = max.max(1);
    for step in STEPS {
        let at = instants(t0, t1, step, max + 1);
        if at.len() <= max {
            if at.is_empty() {
                break;
            }
            let labels = labels(&at, step);
            return Ticks { at, labels };
        }
    }
    // Under a second, or so long that even a century step is too dense: one labelled tick.
    Ticks {
        at: vec![t0],
        labels: vec![format!("{} {}", date(t0), clock(t0, true))],
    }
}

/// The instants of `step` within `t0..=t1`, stopping after `limit` of them.
fn instants(t0: i64, t1: i64, step: Step, limit: usize) -> Vec<i64> {
    let mut at = Vec::new();
    match step {
        Step::Millis(ms) => {
            let mut t = t0.div_euclid(ms) * ms;
            if t < t0 {
                t += ms;
            }
            while t <= t1 && at.len() < limit {
                at.push(t);
                let Some(next) = t.checked_add(ms) else { break };
                t = next;
            }
        }
        Step::Months(n) => {
            let (y, m, _) = civil(t0.div_euclid(DAY));
            // Months counted from year 0, rounded up to a multiple of the step.
            let mut index = (y * 12 + (m - 1)).div_euclid(n) * n;
            while at.len() < limit {
                let t = days_from_civil(index.div_euclid(12), index.rem_euclid(12) + 1, 1) * DAY;
                if t > t1 {
                    break;
                }
                if t >= t0 {
                    at.push(t);
                }
                index += n;
            }
        }
    }
    at
}

fn labels(at: &[i64], step: Step) -> Vec<String> {
    let sub_day = matches!(step, Step::Millis(ms) if ms < DAY);
    let seconds = matches!(step, Step::Millis(ms) if ms < MINUTE);
    let mut previous_day = None;
    at.iter()
        .map(|&t| {
            if !sub_day {
                return date(t);
            }
            let day = t.div_euclid(DAY);
            let new_day = previous_day != Some(day);
            previous_day = Some(day);
            if new_day {
                format!("{} {}", date(t), clock(t, seconds))
            } else {
                clock(t, seconds)
            }
        })
        .collect()
}

/// `YYYY-MM-DD` of unix ms `t`, UTC.
pub(crate) fn date(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM` (or `HH:MM:SS`) of unix ms `t`, UTC.
fn clock(t: i64, seconds: bool) -> String {
    let s = t.rem_euclid(DAY) / SECOND;
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    if seconds {
        format!("{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}")
    }
}

/// `YYYY-MM-DD HH:MM:SS` of unix ms `t`, UTC.
pub(crate) fn date_time(t: i64) -> String {
    format!("{} {}", date(t), clock(t, true))
}

/// Year, month (1..=12) and day (1..=31) of a count of days since 1970-01-01 (proleptic
/// Gregorian; Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        crate::cli::csv_series::parse_timestamp(text).unwrap()
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1, 0, 59, 60, 365, 11_016, 18_262, 19_782, 2_932_896] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(date(ms("2020-02-29 23:59:59")), "2020-02-29");
        assert_eq!(date(ms("2015-09-01 11:25:00")), "2015-09-01");
        assert_eq!(date_time(ms("2014-04-10 07:05:09")), "2014-04-10 07:05:09");
    }

    #[test]
    fn a_day_and_a_half_gets_round_hours_with_the_date_at_each_new_day() {
        let t = ticks(ms("2020-01-01 00:00:00"), ms("2020-01-02 09:15:00"), 8);
        assert_eq!(
            t.labels,
            [
                "2020-01-01 00:00",
                "06:00",
                "12:00",
                "18:00",
                "2020-01-02 00:00",
                "06:00"
            ]
        );
        assert_eq!(t.label(ms("2020-01-01 12:00:00")), Some("12:00"));
        assert_eq!(t.label(ms("2020-01-01 12:00:01")), None);
    }

    #[test]
    fn the_format_follows_the_span() {
        let short = ticks(ms("2020-01-01 10:00:07"), ms("2020-01-01 10:01:00"), 6);
        assert_eq!(
            short.labels,
            [
                "2020-01-01 10:00:10",
                "10:00:20",
                "10:00:30",
                "10:00:40",
                "10:00:50",
                "10:01:00"
            ]
        );
        let weeks = ticks(ms("2014-02-14 14:30:00"), ms("2014-04-10 07:05:00"), 8);
        assert_eq!(
            weeks.labels,
            [
                "2014-02-20",
                "2014-02-27",
                "2014-03-06",
                "2014-03-13",
                "2014-03-20",
                "2014-03-27",
                "2014-04-03",
                "2014-04-10"
            ]
        );
        let years = ticks(ms("2013-07-04 00:00:00"), ms("2015-09-17 00:00:00"), 8);
        assert_eq!(
            years.labels,
            [
                "2013-10-01",
                "2014-01-01",
                "2014-04-01",
                "2014-07-01",
                "2014-10-01",
                "2015-01-01",
                "2015-04-01",
                "2015-07-01"
            ]
        );
    }

    #[test]
    fn degenerate_spans_still_get_a_label() {
        let t0 = ms("2020-01-01 00:00:00") + 250;
        let one = ticks(t0, t0 + 100, 5);
        assert_eq!(one.at, vec![t0]);
        assert_eq!(one.labels, vec!["2020-01-01 00:00:00"]);
        // Bounds given in either order.
        assert_eq!(ticks(t0 + 100, t0, 5), one);
        assert!(ticks(0, i64::MAX / 2, 0).at.len() == 1);
    }
}
