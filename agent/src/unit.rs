//! Numbers for people: the unit of a signal, judged from its name, and values rendered in it
//! (ratios as percentages, bytes as KiB/MiB/GiB, rates with `/s`, near-zero as 0). Used by
//! summaries, the status page and plots; JSON fields keep the exact values. A leaf: imports
//! nothing of the agent.

/// What a signal's values measure (see docs/sources.md for the names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 0..1, shown as a percentage (`*.utilization`, `*_ratio`).
    Ratio,
    /// Already in percent (`process.{group}.cpu.utilization`: percent of one core).
    Percent,
    /// Bytes (`*.memory.rss`, `*_bytes`).
    Bytes,
    /// Bytes per second (`*bytes_per_s`).
    BytesPerSecond,
    /// Events per second (`*_per_s`, `*.per_s`).
    PerSecond,
    /// Seconds (`*_seconds`, and their `.p50`/`.p99`).
    Seconds,
    /// Anything else: counts, load averages, scraped gauges.
    Plain,
}

impl Unit {
    /// The unit of `signal`, judged from its name.
    pub fn of(signal: &str) -> Unit {
        let name = signal
            .strip_suffix(".p50")
            .or_else(|| signal.strip_suffix(".p99"))
            .unwrap_or(signal);
        let rate = name.ends_with("_per_s") || name.ends_with(".per_s");
        let bytes = name.contains("bytes") || name.ends_with(".memory.rss");
        if bytes && rate {
            Unit::BytesPerSecond
        } else if bytes {
            Unit::Bytes
        } else if rate {
            Unit::PerSecond
        } else if name.starts_with("process.") && name.ends_with(".cpu.utilization") {
            Unit::Percent
        } else if name.ends_with(".utilization")
            || name.ends_with("_ratio")
            || name.ends_with(".ratio")
        {
            Unit::Ratio
        } else if name.ends_with("_seconds") || name.ends_with(".seconds") {
            Unit::Seconds
        } else {
            Unit::Plain
        }
    }

    /// Whether values below 0 cannot occur (a range's low end is shown as 0 then).
    fn non_negative(self) -> bool {
        !matches!(self, Unit::Plain)
    }

    /// `v` for people, with about three significant digits.
    pub fn format(self, v: f64) -> String {
        self.format_digits(v, 3)
    }

    /// `v` with about `digits` significant digits (at least 1).
    fn format_digits(self, v: f64, digits: usize) -> String {
        if v.is_nan() {
            return "n/a".to_owned();
        }
        if v.is_infinite() {
            return if v > 0.0 { "∞" } else { "-∞" }.to_owned();
        }
        match self {
            Unit::Ratio => format!("{}%", number(v * 100.0, digits, 5e-3)),
            Unit::Percent => format!("{}%", number(v, digits, 5e-3)),
            Unit::Bytes => binary(v, digits, ""),
            Unit::BytesPerSecond => binary(v, digits, "/s"),
            Unit::PerSecond => format!("{}/s", number(v, digits, 5e-4)),
            Unit::Seconds => seconds(v, digits),
            Unit::Plain => number(v, digits, 1e-9),
        }
    }

    /// `a` and `b` rendered so that they read differently when they differ (more digits
    /// when three are not enough, up to 15).
    pub fn format_apart(self, a: f64, b: f64) -> (String, String) {
        let mut digits = 3;
        loop {
            let (x, y) = (self.format_digits(a, digits), self.format_digits(b, digits));
            if x != y || a == b || digits >= 15 {
                return (x, y);
            }
            digits += 1;
        }
    }

    /// A range `low..high` for people: a low end below 0 shown as 0 where values cannot be
    /// negative, a ratio's high end above 1 as 100% (a band widened past what can occur).
    pub fn range(self, low: f64, high: f64) -> String {
        let low = if self.non_negative() && low < 0.0 && high >= 0.0 {
            0.0
        } else {
            low
        };
        let high = if self == Unit::Ratio && high > 1.0 && low <= 1.0 {
            1.0
        } else {
            high
        };
        let (l, h) = self.format_apart(low, high);
        format!("{l}..{h}")
    }

    /// A difference between two values of this unit, signed (`+1.2 MiB`, `-5%`): ratios in
    /// percentage points.
    pub fn delta(self, d: f64) -> String {
        let sign = if d > 0.0 { "+" } else { "" };
        match self {
            Unit::Ratio => format!("{sign}{} points", number(d * 100.0, 3, 5e-3)),
            _ => format!("{sign}{}", self.format(d)),
        }
    }
}

impl Unit {
    /// A tick label of a value axis spanning `span`: as many decimals as the span needs, in
    /// one scale for the whole axis (the span's), with the unit.
    pub fn axis(self, v: f64, span: f64) -> String {
        // A tick a millionth of the span from 0 is 0 (rounding of the axis arithmetic).
        let v = if v.abs() < span.abs() * 1e-6 { 0.0 } else { v };
        let magnitude = v.abs().max(span.abs());
        let scaled = |factor: f64, suffix: &str| {
            format!("{}{suffix}", axis_number(v / factor, span / factor))
        };
        match self {
            Unit::Plain => axis_number(v, span),
            Unit::Ratio => scaled(0.01, "%"),
            Unit::Percent => scaled(1.0, "%"),
            Unit::PerSecond => scaled(1.0, "/s"),
            Unit::Bytes | Unit::BytesPerSecond => {
                let per = if self == Unit::Bytes { "" } else { "/s" };
                let mut factor = 1.0;
                let mut i = 0;
                let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
                while magnitude / factor >= 1024.0 && i + 1 < units.len() {
                    factor *= 1024.0;
                    i += 1;
                }
                scaled(factor, &format!(" {}{per}", units[i]))
            }
            Unit::Seconds => {
                if magnitude < 1e-3 {
                    scaled(1e-6, " µs")
                } else if magnitude < 1.0 {
                    scaled(1e-3, " ms")
                } else {
                    scaled(1.0, " s")
                }
            }
        }
    }
}

/// An axis tick of a plain number with as many decimals as the span needs.
fn axis_number(v: f64, span: f64) -> String {
    let magnitude = v.abs().max(span.abs());
    if magnitude >= 1e6 || (magnitude > 0.0 && magnitude < 1e-3) {
        return format!("{v:.2e}");
    }
    let decimals = if span > 0.0 {
        (2.0 - span.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// `v` to about `digits` significant digits (no exponent below 1e15), trailing zeros cut;
/// `|v| < zero` is 0. Large plain numbers get k/M/G/T suffixes.
fn number(v: f64, digits: usize, zero: f64) -> String {
    if v.abs() < zero {
        return "0".to_owned();
    }
    let a = v.abs();
    if a >= 1e6 {
        for (scale, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M")] {
            if a >= scale {
                if a >= scale * 1e3 && suffix == "T" {
                    return format!("{v:.2e}");
                }
                return format!("{}{suffix}", plain(v / scale, digits));
            }
        }
    }
    plain(v, digits)
}

/// Fixed-point `v` with `digits` significant digits (all integer digits kept).
fn plain(v: f64, digits: usize) -> String {
    let a = v.abs();
    let magnitude = if a > 0.0 { a.log10().floor() as i64 } else { 0 };
    let decimals = (digits as i64 - 1 - magnitude).clamp(0, 15) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" {
        "0".to_owned()
    } else {
        s
    }
}

/// Bytes in B, KiB, MiB, GiB, TiB; below half a byte is 0.
fn binary(v: f64, digits: usize, per: &str) -> String {
    let a = v.abs();
    if a < 0.5 {
        return format!("0 B{per}");
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut scaled = v;
    let mut i = 0;
    while scaled.abs() >= 1024.0 && i + 1 < units.len() {
        scaled /= 1024.0;
        i += 1;
    }
    let n = if i == 0 {
        format!("{scaled:.0}")
    } else {
        plain(scaled, digits)
    };
    format!("{n} {}{per}", units[i])
}

/// Seconds as s, ms or µs; below a nanosecond is 0.
fn seconds(v: f64, digits: usize) -> String {
    let a = v.abs();
    if a < 1e-9 {
        "0 s".to_owned()
    } else if a < 1e-3 {
        format!("{} µs", plain(v * 1e6, digits))
    } else if a < 1.0 {
        format!("{} ms", plain(v * 1e3, digits))
    } else {
        format!("{} s", number(v, digits, 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_judged_from_signal_names() {
        let cases: [(Unit, &[&str]); 7] = [
            (
                Unit::Ratio,
                &[
                    "host.cpu.utilization",
                    "host.cpu.core.1.utilization",
                    "host.memory.used_ratio",
                    "host.filesystem.var_lib.used_ratio",
                ],
            ),
            (Unit::BytesPerSecond, &["host.disk.sda.read_bytes_per_s"]),
            (
                Unit::PerSecond,
                &[
                    "host.network.eth0.rx_errors_per_s",
                    "log.app.errors_per_s",
                    "log.app.lines_per_s",
                    "scrape.app.http_requests_total.per_s",
                ],
            ),
            (
                Unit::Plain,
                &[
                    "log.app.template.7.count",
                    "host.processes.count",
                    "host.load.1m",
                ],
            ),
            (Unit::Percent, &["process.web.cpu.utilization"]),
            (
                Unit::Bytes,
                &[
                    "process.web.memory.rss",
                    "scrape.app.go_memstats_alloc_bytes",
                ],
            ),
            (
                Unit::Seconds,
                &["scrape.app.http_request_duration_seconds.p99"],
            ),
        ];
        for (unit, signals) in cases {
            for signal in signals {
                assert_eq!(Unit::of(signal), unit, "{signal}");
            }
        }
    }

    #[test]
    fn values_read_like_a_person_would_write_them() {
        assert_eq!(Unit::Ratio.format(0.394), "39.4%");
        assert_eq!(Unit::Ratio.format(1.0), "100%");
        assert_eq!(Unit::Ratio.format(0.02), "2%");
        assert_eq!(Unit::Ratio.format(4.417e-12), "0%");
        assert_eq!(Unit::Ratio.format(0.000_123), "0.0123%");
        assert_eq!(Unit::Percent.format(150.0), "150%");
        assert_eq!(Unit::Bytes.format(512.0), "512 B");
        assert_eq!(Unit::Bytes.format(1536.0), "1.5 KiB");
        assert_eq!(
            Unit::Bytes.format(3.5 * 1024.0 * 1024.0 * 1024.0),
            "3.5 GiB"
        );
        assert_eq!(Unit::BytesPerSecond.format(2.0 * 1048576.0), "2 MiB/s");
        assert_eq!(Unit::BytesPerSecond.format(0.2), "0 B/s");
        assert_eq!(Unit::PerSecond.format(-4.417e-12), "0/s");
        assert_eq!(Unit::PerSecond.format(12.5), "12.5/s");
        assert_eq!(Unit::PerSecond.format(0.1234), "0.123/s");
        assert_eq!(Unit::Seconds.format(0.35), "350 ms");
        assert_eq!(Unit::Seconds.format(0.000_012), "12 µs");
        assert_eq!(Unit::Plain.format(63.0), "63");
        assert_eq!(Unit::Plain.format(12345.0), "12345");
        assert_eq!(Unit::Plain.format(2_500_000.0), "2.5M");
        assert_eq!(Unit::Plain.format(1.234_567), "1.23");
        assert_eq!(Unit::Plain.format(-0.0001), "-0.0001");
    }

    #[test]
    fn axis_labels_carry_the_decimals_the_span_needs_in_the_unit() {
        assert_eq!(Unit::Plain.axis(12.0, 100.0), "12");
        assert_eq!(Unit::Plain.axis(0.125, 0.5), "0.125");
        assert_eq!(Unit::Plain.axis(3.0, 5.0), "3.00");
        assert_eq!(Unit::Plain.axis(2.5e7, 1e7), "2.50e7");
        assert_eq!(Unit::Ratio.axis(0.25, 0.5), "25.0%");
        assert_eq!(Unit::Ratio.axis(-4.417e-12, 0.5), "0.0%");
        assert_eq!(
            Unit::Bytes.axis(3.0 * 1048576.0, 4.0 * 1048576.0),
            "3.00 MiB"
        );
        assert_eq!(Unit::PerSecond.axis(2.0, 10.0), "2.0/s");
        assert_eq!(Unit::Seconds.axis(0.25, 0.5), "250 ms");
    }

    #[test]
    fn ranges_and_close_values_stay_readable() {
        assert_eq!(Unit::PerSecond.range(-4.417e-12, 4.417e-12), "0/s..0/s");
        assert_eq!(Unit::Ratio.range(-0.05, 0.2), "0%..20%");
        assert_eq!(Unit::Ratio.range(0.97, 1.02), "97%..100%");
        assert_eq!(Unit::Plain.range(-2.0, 2.0), "-2..2");
        let (a, b) = Unit::Ratio.format_apart(0.3941, 0.394);
        assert_ne!(a, b);
        assert_eq!((a.as_str(), b.as_str()), ("39.41%", "39.4%"));
        assert_eq!(Unit::Ratio.delta(0.37), "+37 points");
        assert_eq!(Unit::Plain.delta(-5.0), "-5");
    }
}
