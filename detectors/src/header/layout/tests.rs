use super::super::{recognise, split_header, HeaderSplitter, Lexer, SPLITTER};
use super::*;

/// Forgets the layouts [`split_header`] remembered on this thread.
fn forget() {
    SPLITTER.with(|s| *s.borrow_mut() = HeaderSplitter::default());
}

/// The look-up alone among the layouts [`split_header`] remembered on this thread.
fn recall(line: &str) -> Option<Split> {
    SPLITTER.with(|s| s.borrow().layouts.recall(line))
}

/// The split of `line` recognised afresh, remembering nothing.
fn afresh(line: &str) -> (&str, Option<&str>) {
    let h = recognise(line, &mut Lexer::new(line));
    (h.content(), h.level())
}

/// Remembers `first`'s layout, then splits `second`: it must be split as it would be afresh,
/// and taken from the layout exactly when `fits` says so.
fn after(first: &str, second: &str, fits: bool) {
    forget();
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

/// A layout is found at every length it may have (an odd and an even number of chunks keyed,
/// the first two keyed as a pair), with other layouts of the same first chunk remembered, at
/// lengths below and above it. (Their names start with other letters: layouts alike in their
/// first multiple of eight bytes share a set of four.)
#[test]
fn layouts_of_every_length_are_found() {
    forget();
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
    forget();
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

/// The look-up hashes a line only where a layout can end (white space before, or the line's
/// end) and sixteen bytes at a time: layouts ending at every byte of a block, at the line's
/// end, in a tab, before a control byte, and lines shorter than a block are all found, and a
/// line one byte longer or shorter than a layout that ends with the line is not.
#[test]
fn layouts_ending_anywhere_in_a_block_are_found() {
    forget();
    for k in 1..=100 {
        // The header takes all but the last token, which ends the line: the layout ends
        // with the line (`more` false).
        let first = format!("2024-05-01 10:00:00 INFO {}", "4".repeat(k));
        let second = first.replace("2024-05-01 10:00:00", "1999-12-31 23:59:58");
        after(&first, &second, true);
        after(&first, &format!("{second}7"), false);
        after(&first, &second[..second.len() - 1], false);
        after(&first, &format!("{second}x"), false);
    }
    for (first, second) in [
        // Shorter than a block: the message word is read, so it is the layout's.
        ("10:00:00 INFO x", "11:22:33 INFO x"),
        ("10:00 E xy", "11:22 E xy"),
        (
            "Jun  7 21:17:44 web-4 sshd[57085]:\tFailed password",
            "Jun  8 02:03:59 web-9 sshd[41913]:\tAccepted key",
        ),
        (
            "2024-05-01 10:00:00 INFO db.Pool: \u{1}opened",
            "2024-05-02 11:00:00 INFO db.Pool: \u{1}closed",
        ),
    ] {
        after(first, second, true);
    }
    after("10:00:00 INFO x", "11:22:33 INFO y", false);
    after("10:00 E xy", "11:22 E xz", false);
}

/// A splitter remembers the layouts of the lines it split, and only those: another splitter,
/// or the thread's, has not seen them; its splits are the fresh ones either way.
#[test]
fn a_splitter_keeps_its_own_layouts() {
    let first = "Jun  7 21:17:44 web-4 sshd[57085]: Failed password for root";
    let second = "Jun  8 02:03:59 web-9 sshd[41913]: Accepted publickey for git";
    forget();
    let mut mine = HeaderSplitter::new();
    assert_eq!(mine.layouts.recall(second), None);
    let h = mine.split(first);
    assert_eq!((h.content(), h.level()), afresh(first));
    assert!(mine.layouts.recall(second).is_some());
    assert_eq!(HeaderSplitter::new().layouts.recall(second), None);
    assert_eq!(recall(second), None, "the thread's layouts are apart");
    let h = mine.split(second);
    assert_eq!((h.content(), h.level()), afresh(second));
    assert_eq!(h, split_header(second));
    assert!(recall(second).is_some());
}
