//! The words a header holds by name: levels, month and weekday names, time zones. Each is
//! matched by its length and first letter first: most header tokens (hosts, programs,
//! loggers) are none of them, and this settles it before any comparison.

/// The level names of common logging libraries (syslog, Log4j, Python, Go, Windows), any case:
/// `TRACE DEBUG DBG INFO INFORMATION NOTICE WARN WARNING ERROR ERR SEVERE FATAL CRITICAL CRIT
/// ALERT EMERG EMERGENCY FINE FINER FINEST`, listed here by length and first letter.
pub(super) fn level_word(t: &str) -> Option<&str> {
    let first = t.as_bytes().first()?.to_ascii_uppercase();
    let candidates: &[&str] = match (t.len(), first) {
        (3, b'D') => &["DBG"],
        (3, b'E') => &["ERR"],
        (4, b'I') => &["INFO"],
        (4, b'W') => &["WARN"],
        (4, b'C') => &["CRIT"],
        (4, b'F') => &["FINE"],
        (5, b'T') => &["TRACE"],
        (5, b'D') => &["DEBUG"],
        (5, b'E') => &["ERROR", "EMERG"],
        (5, b'F') => &["FATAL", "FINER"],
        (5, b'A') => &["ALERT"],
        (6, b'N') => &["NOTICE"],
        (6, b'S') => &["SEVERE"],
        (6, b'F') => &["FINEST"],
        (7, b'W') => &["WARNING"],
        (8, b'C') => &["CRITICAL"],
        (9, b'E') => &["EMERGENCY"],
        (11, b'I') => &["INFORMATION"],
        _ => return None,
    };
    candidates
        .iter()
        .any(|l| l.eq_ignore_ascii_case(t))
        .then_some(t)
}

/// Month and weekday abbreviations, `AM` and `PM` (matched on bytes: one decision tree, where
/// a list of strings costs a comparison each).
pub(super) fn is_date_word(t: &str) -> bool {
    match *t.as_bytes() {
        [a, b, c] => matches!(
            [a, b, c],
            [b'J', b'a', b'n']
                | [b'F', b'e', b'b']
                | [b'M', b'a', b'r']
                | [b'A', b'p', b'r']
                | [b'M', b'a', b'y']
                | [b'J', b'u', b'n']
                | [b'J', b'u', b'l']
                | [b'A', b'u', b'g']
                | [b'S', b'e', b'p']
                | [b'O', b'c', b't']
                | [b'N', b'o', b'v']
                | [b'D', b'e', b'c']
                | [b'M', b'o', b'n']
                | [b'T', b'u', b'e']
                | [b'W', b'e', b'd']
                | [b'T', b'h', b'u']
                | [b'F', b'r', b'i']
                | [b'S', b'a', b't']
                | [b'S', b'u', b'n']
        ),
        [a, b'M'] => a == b'A' || a == b'P',
        _ => false,
    }
}

/// `UTC`, `GMT` and `Z`.
pub(super) fn is_zone(t: &str) -> bool {
    matches!(
        *t.as_bytes(),
        [b'U', b'T', b'C'] | [b'G', b'M', b'T'] | [b'Z']
    )
}
