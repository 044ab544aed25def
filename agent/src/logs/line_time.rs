//! A log line's own time, read from the header the miner recognises (`split_header`), for
//! history: rate baselines need to know in which interval each old line was written.
//!
//! Understood: ISO 8601 dates with a time (`2024-05-01T10:00:00.123Z`, `2024-05-01 10:00:00,123`,
//! `2024/05/01 10:00:00 +0200`), syslog's `Jun 14 15:16:01` (the year is this year's, or last
//! year's when that would be in the future), and 10/13-digit epoch seconds/milliseconds. A time
//! without a zone is local time, as syslog and most applications write it.

use seismo_detectors::split_header;

/// The line's time in Unix milliseconds, if its header holds one.
pub(crate) fn line_time_ms(line: &str, now_ms: i64) -> Option<i64> {
    let header = split_header(line).header();
    if header.is_empty() {
        return None;
    }
    let tokens: Vec<&str> = header
        .split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | '|'))
        .filter(|t| !t.is_empty())
        .collect();
    for (i, tok) in tokens.iter().enumerate() {
        let t = tok.trim_end_matches([':', ';']);
        if t.len() == 10 || t.len() == 13 {
            if let (true, Ok(n)) = (t.starts_with('1'), t.parse::<i64>()) {
                return Some(if t.len() == 10 { n * 1000 } else { n });
            }
        }
        if let Some((date, rest)) = iso_date(t) {
            // The time is attached (`T10:00:00Z`) or the next token; a zone may follow it.
            let (clock, zone_tok) = match rest.strip_prefix('T') {
                Some(c) => (c, tokens.get(i + 1).copied()),
                None => (
                    tokens.get(i + 1).copied().unwrap_or(""),
                    tokens.get(i + 2).copied(),
                ),
            };
            let (hms, ms, zone) = clock_of(clock)?;
            let zone = zone.or_else(|| zone_tok.and_then(offset_of));
            return Some(to_ms(date, hms, ms, zone));
        }
        if let Some(month) = month_of(t) {
            let day: u32 = tokens.get(i + 1)?.parse().ok()?;
            let (hms, ms, zone) = clock_of(tokens.get(i + 2)?)?;
            let this_year = year_of(now_ms);
            let at = to_ms((this_year, month, day), hms, ms, zone);
            // Logs from late December read in January belong to last year.
            if at > now_ms + 86_400_000 {
                return Some(to_ms((this_year - 1, month, day), hms, ms, zone));
            }
            return Some(at);
        }
    }
    None
}

type Date = (i64, u32, u32);
type Hms = (u32, u32, u32);

/// `YYYY-MM-DD` (or with `/` or `.`) at the start of `t`, and what follows it.
fn iso_date(t: &str) -> Option<(Date, &str)> {
    let b = t.as_bytes();
    if b.len() < 10 || !matches!(b[4], b'-' | b'/' | b'.') || b[7] != b[4] {
        return None;
    }
    let y = t.get(0..4)?.parse().ok()?;
    let m = t.get(5..7)?.parse().ok()?;
    let d = t.get(8..10)?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some(((y, m, d), &t[10..]))
}

/// `HH:MM:SS[.frac][Z|±HH:MM]`: the time, its milliseconds, and its zone offset in seconds.
fn clock_of(t: &str) -> Option<(Hms, u32, Option<i64>)> {
    let b = t.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let h = t.get(0..2)?.parse().ok()?;
    let mi = t.get(3..5)?.parse().ok()?;
    let s = t.get(6..8)?.parse().ok()?;
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[8..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let f = &frac[..digits];
        ms = format!("{:0<3}", &f[..f.len().min(3)]).parse().unwrap_or(0);
        rest = &frac[digits..];
    }
    Some(((h, mi, s), ms, offset_of(rest)))
}

/// `Z`, `UTC`, `+02:00`, `-0500`: the offset from UTC in seconds.
fn offset_of(t: &str) -> Option<i64> {
    if matches!(t, "Z" | "UTC" | "GMT") {
        return Some(0);
    }
    let sign = match t.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = t[1..].chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 || t.len() > 6 {
        return None;
    }
    let h: i64 = digits[0..2].parse().ok()?;
    let m: i64 = digits[2..4].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

fn month_of(t: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    if t.len() < 3 {
        return None;
    }
    let p = t.get(0..3)?.to_ascii_lowercase();
    let i = MONTHS.iter().position(|m| *m == p)?;
    let full_ok = t.len() == 3 || t.chars().all(|c| c.is_ascii_alphabetic());
    full_ok.then_some(i as u32 + 1)
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil((y, m, d): Date) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn year_of(ms: i64) -> i64 {
    let days = ms.div_euclid(86_400_000);
    // Inverse of `days_from_civil`, year only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let y = yoe + era * 400;
    if mp >= 10 {
        y + 1
    } else {
        y
    }
}

fn to_ms(date: Date, (h, mi, s): Hms, ms: u32, zone: Option<i64>) -> i64 {
    let secs = match zone {
        Some(offset) => days_from_civil(date) * 86_400 + i64::from(h * 3600 + mi * 60 + s) - offset,
        None => local_secs(date, (h, mi, s)),
    };
    secs * 1000 + i64::from(ms)
}

/// A local wall-clock time in Unix seconds (the zone and daylight saving time of this host).
fn local_secs((y, m, d): Date, (h, mi, s): Hms) -> i64 {
    // SAFETY: `tm` is a plain C struct, zeroed then filled; mktime reads and normalises it
    // and touches nothing else (it may read the zone database, as localtime does).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = i32::try_from(y - 1900).unwrap_or(0);
    tm.tm_mon = m as i32 - 1;
    tm.tm_mday = d as i32;
    tm.tm_hour = h as i32;
    tm.tm_min = mi as i32;
    tm.tm_sec = s as i32;
    tm.tm_isdst = -1;
    // SAFETY: see above; `&mut tm` is valid for the call.
    let t = unsafe { libc::mktime(&mut tm) };
    if t == -1 {
        // Out of the host's range: as UTC rather than not at all.
        days_from_civil((y, m, d)) * 86_400 + i64::from(h * 3600 + mi * 60 + s)
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000; // 2026-05-28T20:26:40Z

    #[test]
    fn iso_epoch_and_zoned_times() {
        let t = |l: &str| line_time_ms(l, NOW);
        assert_eq!(
            t("2026-05-01T10:00:00.123Z INFO served"),
            Some(1_777_629_600_123)
        );
        assert_eq!(
            t("2026-05-01 12:00:00,5 +02:00 INFO served"),
            Some(1_777_629_600_500)
        );
        assert_eq!(
            t("2026-05-01T12:00:00+0200 WARN slow"),
            Some(1_777_629_600_000)
        );
        assert_eq!(t("1777629600 node-1 state ok"), Some(1_777_629_600_000));
        assert_eq!(t("just a message with 2026-05-01"), None);
        assert_eq!(t("INFO no time here"), None);
    }

    #[test]
    fn syslog_times_take_this_year_or_the_last() {
        let t = |l: &str| line_time_ms(l, NOW);
        assert_eq!(
            t("May  1 10:00:00 host sshd[1]: session opened"),
            Some(local_secs((2026, 5, 1), (10, 0, 0)) * 1000)
        );
        // December, read in May: last December.
        let dec = t("Dec 31 23:00:00 host cron[2]: job done").unwrap();
        assert!(dec < NOW && NOW - dec < 200 * 86_400_000, "{dec}");
        assert_eq!(year_of(NOW), 2026);
        assert_eq!(days_from_civil((1970, 1, 1)), 0);
    }
}
