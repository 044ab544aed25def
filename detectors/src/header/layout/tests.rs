use super::super::{recognise, split_header, Lexer};
use super::*;

/// The split of `line` recognised afresh, remembering nothing.
fn afresh(line: &str) -> (&str, Option<&str>) {
    let h = recognise(line, &mut Lexer::new(line));
    (h.content(), h.level())
}

/// Remembers `first`'s layout, then splits `second`: it must be split as it would be afresh,
/// and taken from the layout exactly when `fits` says so.
fn after(first: &str, second: &str, fits: bool) {
    TABLE.with(|t| *t.borrow_mut() = None);
    let h = split_header(first);
    assert_eq!((h.content(), h.level()), afresh(first), "{first:?}");
    assert_eq!(recall(second).is_some(), fits, "{first:?} then {second:?}");
    let h = split_header(second);
    assert_eq!((h.content(), h.level()), afresh(second), "{second:?}");
}

#[test]
fn a_layout_fits_lines_that_differ_only_in_digits() {
    after(
        "Jun  7 21:17:44 web-4 sshd[57085]: Failed password for root",
        "Jun  8 02:03:59 web-9 sshd[41913]: Accepted publickey for git",
        true,
    );
    after(
        "2026-11-02T21:14:49.296Z INFO  [worker-13] order.Service - processed order 7",
        "2026-12-31T00:00:00.000Z INFO  [worker-99] order.Service - scheduled job",
        true,
    );
    let h = split_header("2026-12-31T00:00:00.000Z INFO  [worker-99] order.Service - done");
    assert_eq!((h.content(), h.level()), ("done", Some("INFO")));
}

#[test]
fn a_layout_never_fits_a_line_whose_header_differs() {
    let first = "Jun  7 21:17:44 web-4 sshd[57085]: Failed password for root";
    for second in [
        // Another month name's length, another day's width.
        "June 7 21:17:44 web-4 sshd[57085]: Failed password for root",
        "Jun 17 21:17:44 web-4 sshd[57085]: Failed password for root",
        // No pid, a pid one digit shorter, no colon after the program.
        "Jun  7 21:17:44 web-4 sshd: Failed password for root now",
        "Jun  7 21:17:44 web-4 sshd[5708]: Failed password for root",
        "Jun  7 21:17:44 web-4 sshd[57085] Failed password for root",
        // A letter where a digit was, and the reverse.
        "Jun  7 21:17:44 web-x sshd[57085]: Failed password for root",
        "Jun  7 21:17:44 web4- sshd[57085]: Failed password for root",
        // Alike in its first bytes only.
        "Jun  7 21:17:44 web-4 sshd[57085]:: Failed password for root",
        "Jun  7 21:17:44 web-4 INFO sshd[57085]: Failed password root",
        // A tab for a space, a second space before the message.
        "Jun  7 21:17:44\tweb-4 sshd[57085]: Failed password for root",
        "Jun  7 21:17:44 web-4 sshd[57085]:  Failed password for root",
    ] {
        after(first, second, false);
    }
    // A letter where a digit was, past the bytes the layout is found by (its first multiple
    // of eight).
    after(
        "Jun  7 21:17:44 web-4 sshd[5708512]: Failed password for root",
        "Jun  7 21:17:44 web-4 sshd[57085x2]: Failed password for root",
        false,
    );
    // The message must follow as it did: here the header took all but the last token.
    after(
        "2024-05-01 10:00:00 INFO 42",
        "2024-05-01 10:00:00 INFO 42 x",
        false,
    );
    after(
        "2024-05-01 10:00:00 INFO 42",
        "2024-05-01 10:00:00 INFO 42 ",
        false,
    );
}

/// A line without a header leaves no layout: its first words are message words, as varied as
/// the messages.
#[test]
fn lines_without_a_header_are_not_remembered() {
    after(
        "xgh xhi request 12 from 10.0.1.2 finished in 7 ms",
        "xgh xhi request 34 from 10.0.3.4 finished in 9 ms",
        false,
    );
}

/// An epoch time is a date by its first digit (`1…`): a layout holding a number of its length
/// is not remembered, so another first digit is recognised afresh.
#[test]
fn layouts_with_an_epoch_length_number_are_not_remembered() {
    after(
        "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD",
        "- 2131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD",
        false,
    );
    assert!(has_epoch_length_run(0b11_1111_1111 << 3));
    assert!(has_epoch_length_run((1 << 13) - 1));
    assert!(!has_epoch_length_run((1 << 11) - 1));
    assert!(!has_epoch_length_run(u128::MAX));
    assert!(has_epoch_length_run(((1 << 10) - 1) << 100));
}

/// The byte-wise digit test agrees with `is_ascii_digit` for every byte at every position,
/// and `SPREAD` marks the bytes of its bits.
#[test]
fn digits_are_found_eight_bytes_at_a_time() {
    for v in 0..=255u8 {
        for j in 0..8 {
            let x = ((v as u64) << (8 * j)) | ((b'a' as u64 * ONES) & !(0xff << (8 * j)));
            let nd = non_digits(x);
            for k in 0..8 {
                let byte = (x >> (8 * k)) as u8;
                assert_eq!(
                    nd >> (8 * k + 7) & 1 == 0,
                    byte.is_ascii_digit(),
                    "{x:#x} {k}"
                );
            }
            assert_eq!(bytes_of(nd) & 0x7f7f_7f7f_7f7f_7f7f, (nd >> 7) * 0x7f);
        }
    }
    assert_eq!(SPREAD[0b1000_0001], 0x8000_0000_0000_0080);
}
