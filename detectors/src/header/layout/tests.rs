use super::super::{recognise, split_header, Lexer};
use super::*;
use crate::byte_scan::ONES;

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
/// keeps that digit, so another first digit is recognised afresh.
#[test]
fn an_epoch_length_number_keeps_its_first_digit() {
    let first = "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD";
    after(
        first,
        "- 1077804742 2005.11.10 dn731 Nov 9 12:01:01 dn731/dn731 crond[2917]: (root) CMD",
        true,
    );
    after(
        first,
        "- 2131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD",
        false,
    );
    // Milliseconds (13 digits), and two epochs in one header.
    after(
        "1131566461123 INFO db.Pool: opened",
        "1999999999999 INFO db.Pool: opened",
        true,
    );
    after(
        "1131566461123 INFO db.Pool: opened",
        "2131566461123 INFO db.Pool: opened",
        false,
    );
    after(
        "1131566461 1131566462 INFO db.Pool: opened",
        "1131566461 9131566462 INFO db.Pool: opened",
        false,
    );
    // An HPC-like header: the epoch after three words.
    after(
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: x",
        "350766 node-109 unix.hw state_change.unavailable 1084680778 1 Component State Change: y",
        true,
    );
    after(
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: x",
        "350766 node-109 unix.hw state_change.unavailable 2084680778 1 Component State Change: y",
        false,
    );
    let at = |runs: &[(u32, u32)]| {
        runs.iter()
            .fold(0u128, |d, &(s, n)| d | ((1u128 << n) - 1) << s)
    };
    let b = [b'7'; 128];
    assert_eq!(
        epoch_pins(at(&[(3, 10)]), &b),
        Some([(3, b'7'), (NO_PIN, 0)])
    );
    assert_eq!(
        epoch_pins(at(&[(0, 13)]), &b),
        Some([(0, b'7'), (NO_PIN, 0)])
    );
    assert_eq!(
        epoch_pins(at(&[(0, 11), (20, 9)]), &b),
        Some([(NO_PIN, 0); 2])
    );
    assert_eq!(epoch_pins(u128::MAX, &b), Some([(NO_PIN, 0); 2]));
    assert_eq!(
        epoch_pins(at(&[(1, 10), (100, 10)]), &b),
        Some([(1, b'7'), (100, b'7')])
    );
    // More runs than pins: not kept.
    assert_eq!(epoch_pins(at(&[(1, 10), (20, 13), (40, 10)]), &b), None);
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
    // A key sets exactly the digits to `0xff`.
    let x = u64::from_le_bytes(*b"a1/9:0Z\xff");
    assert_eq!(key(x).to_le_bytes(), *b"a\xff/\xff:\xffZ\xff");
}

/// Two keys at a time are the keys one at a time, for every byte at every position of either
/// chunk, with the other bytes digits or letters.
#[test]
fn key_pairs_equal_single_keys() {
    for v in 0..=255u8 {
        for j in 0..16 {
            for fill in [b'a', b'7'] {
                let mut b = [fill; 16];
                b[j] = v;
                let (lo, hi) = b.split_at(8);
                let (lo, hi) = (
                    u64::from_le_bytes(lo.try_into().unwrap()),
                    u64::from_le_bytes(hi.try_into().unwrap()),
                );
                assert_eq!(key_pair(lo, hi), (key(lo), key(hi)), "{v:#x} at {j}");
            }
        }
    }
    // And random chunks, and random digits among random bytes.
    let mut next = crate::test_rng::xorshift(22);
    for _ in 0..100_000 {
        let (x, y) = (next(), next());
        let digits = (next() & 0x0707_0707_0707_0707) | 0x3030_3030_3030_3030;
        let z = (x & 0x8080_8080_8080_8080) | digits & !(next() & 0x0f0f_0f0f_0f0f_0f0f);
        for (a, b) in [(x, y), (z, x), (y, z)] {
            assert_eq!(key_pair(a, b), (key(a), key(b)), "{a:#x} {b:#x}");
        }
    }
}

/// A layout is found at every length it may have (an odd and an even number of chunks keyed,
/// the first two keyed as a pair), with other layouts of the same first chunk remembered, at
/// lengths below and above it. (Their names start with other letters: layouts alike in their
/// first multiple of eight bytes share a set of four.)
#[test]
fn layouts_of_every_length_are_found() {
    TABLE.with(|t| *t.borrow_mut() = None);
    let lines: Vec<String> = (1..60)
        .map(|n| {
            let name = format!("{}{}", char::from(b'a' + (n % 26) as u8), "w".repeat(n));
            format!("2024-05-01 10:00:00 INFO {name}: message {n}")
        })
        .collect();
    for line in &lines {
        split_header(line);
        assert!(recall(line).is_some(), "at once: {line:?}");
    }
    for (n, line) in (1..).zip(&lines) {
        let other = line.replace("2024-05-01 10:00:00", "1999-12-31 23:59:58");
        assert!(recall(&other).is_some(), "{other:?}");
        let h = split_header(&other);
        assert_eq!((h.content(), h.level()), afresh(&other), "{other:?}");
        assert_eq!(h.content(), format!("message {n}"));
    }
}

/// Lines laid out as common headers, and near misses of them: each line is split with the
/// layouts of the lines before it remembered, and must be split exactly as recognised afresh.
#[test]
fn remembered_splits_equal_fresh_ones_on_near_misses() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let seeds = [
        "Jun  7 21:17:44 web-4 sshd[57085]: Failed password for root",
        "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking failed",
        "2026-11-02T21:14:49.296Z INFO  [worker-13] order.Service - processed order 7",
        "2015-10-18 18:01:47,978 INFO [main] org.apache.Foo: Created MRAppMaster",
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 done",
        "17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn",
        "10.116.25.103 - - [17/Nov/2026:07:28:16 +0000] \"GET /api HTTP/1.1\" 500 51861",
        "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2915]: session closed",
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: x",
        "1131566461123 INFO db.Pool: opened",
        "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs",
        "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1",
        "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
        "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi \
         [req-38101a0b-2096 113d3a99 - - -] 10.11.10.1 \"GET /v2 HTTP/1.1\" status: 200",
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        "2024-05-01 10:00:00 INFO 42",
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick",
    ];
    // Bytes that change a header's class or its shape: digits, letters of level and month
    // names, separators, brackets, white space, and a two-byte character.
    let alphabet: Vec<char> = "0123456789119INFOWARNJunTZ:.-/,[]()<>|: \t\té_x"
        .chars()
        .collect();
    let mut rng = StdRng::seed_from_u64(22);
    TABLE.with(|t| *t.borrow_mut() = None);
    let (mut fitted, mut lines) = (0, 0);
    for _ in 0..20_000 {
        let mut line: Vec<char> = seeds[rng.random_range(0..seeds.len())].chars().collect();
        // Mostly other digits (lines that fit), else a few edits of any kind.
        for c in line.iter_mut() {
            if c.is_ascii_digit() && rng.random_bool(0.5) {
                *c = char::from(b'0' + rng.random_range(0..10u8));
            }
        }
        let edits = if rng.random_bool(0.4) {
            0
        } else {
            rng.random_range(1..3)
        };
        for _ in 0..edits {
            let at = rng.random_range(0..line.len());
            let c = alphabet[rng.random_range(0..alphabet.len())];
            match rng.random_range(0..3) {
                0 => line[at] = c,
                1 => line.insert(at, c),
                _ => {
                    line.remove(at);
                }
            }
            if line.is_empty() {
                line.push('x');
            }
        }
        // Now and then cut short, through the header.
        if rng.random_bool(0.05) {
            line.truncate(rng.random_range(1..=line.len()));
        }
        let line: String = line.into_iter().collect();
        fitted += usize::from(recall(&line).is_some());
        lines += 1;
        let h = split_header(&line);
        assert_eq!((h.content(), h.level()), afresh(&line), "{line:?}");
    }
    // Both paths were taken, many times.
    assert!(
        fitted > lines / 4 && fitted < lines * 9 / 10,
        "{fitted} of {lines}"
    );
}
