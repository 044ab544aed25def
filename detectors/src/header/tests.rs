use super::lexer::{BYTE, B_UNNAMELY, B_UNTIMELY};
use super::time_shape::has_date;
use super::*;

fn content(line: &str) -> &str {
    split_header(line).content()
}

#[test]
fn syslog_and_its_relatives() {
    // RFC 3164 syslog: month, day, time, host, program[pid]:
    assert_eq!(
        content("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown"),
        "check pass; user unknown"
    );
    assert_eq!(
        content("Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)"),
        "IOThunderboltSwitch<0>(0x0)"
    );
    assert_eq!(
        content("Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking failed"),
        "reverse mapping checking failed"
    );
    // A cluster's collected syslog: label, epoch, date, host, then syslog.
    assert_eq!(
        content(
            "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD (x)"
        ),
        "(root) CMD (x)"
    );
    // Epoch, date, node, time, node, type, component, level (a supercomputer's RAS log).
    assert_eq!(
        content(
            "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 \
             R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected"
        ),
        "instruction cache parity error corrected"
    );
}

#[test]
fn application_loggers() {
    // Log4j with a thread in brackets (a name with spaces too) and a logger.
    assert_eq!(
        content("2015-10-18 18:01:47,978 INFO [main] org.apache.Foo: Created MRAppMaster"),
        "Created MRAppMaster"
    );
    assert_eq!(
        content("2015-10-18 18:01:51,806 INFO [IPC Server Responder] o.a.Server: starting"),
        "starting"
    );
    // Short dates and compact ones, pid before the level.
    assert_eq!(
        content("17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn"),
        "Changing view acls to: yarn"
    );
    assert_eq!(
        content("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 done"),
        "PacketResponder 1 done"
    );
    // ISO 8601 with a zone, Python's `level:logger:` style and a bracketed level.
    assert_eq!(
        content("2024-05-01T10:00:00.123Z WARN db.pool: pool exhausted"),
        "pool exhausted"
    );
    assert_eq!(
        content("2024-05-01 10:00:00+0200 [ERROR] payment failed for order 12"),
        "payment failed for order 12"
    );
    // Apache's bracketed date and level.
    assert_eq!(
        content("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/x"),
        "workerEnv.init() ok /etc/httpd/x"
    );
    // Android logcat: pid, tid and a one-letter level.
    let h = split_header("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezing x");
    assert_eq!((h.content(), h.level()), ("printFreezing x", Some("D")));
}

#[test]
fn loggers_with_a_context_columns_and_pipes() {
    // OpenStack: source file, timestamp, pid, level, logger and a request context.
    assert_eq!(
        content(
            "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO \
             nova.osapi_compute.wsgi.server [req-3810 113d 54fa - - -] \"GET /v2\" status: 200"
        ),
        "\"GET /v2\" status: 200"
    );
    // Aligned columns (Windows CBS): the component column ends the header.
    assert_eq!(
        content("2016-09-28 04:30:31, Info                  CBS    SQM: Initializing online"),
        "SQM: Initializing online"
    );
    // Pipe-separated fields.
    assert_eq!(
        content("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579"),
        "onStandStepChanged 3579"
    );
    // Record id, node, component and state before an epoch time and a flag.
    assert_eq!(
        content("2568643 node-70 action start 1074119817 1 clusterAddMember  (command 1902)"),
        "clusterAddMember  (command 1902)"
    );
    // A level alone opens a header too.
    let h = split_header("ERROR: connection refused");
    assert_eq!(
        (h.content(), h.level()),
        ("connection refused", Some("ERROR"))
    );
    let h = split_header("2024-05-01 10:00:00 ERROR [main] Foo: bar");
    assert_eq!(
        (h.header(), h.level()),
        ("2024-05-01 10:00:00 ERROR [main] Foo:", Some("ERROR"))
    );
}

#[test]
fn messages_without_a_header_are_kept_whole() {
    for line in [
        "api.example.com:443 closed after 3 s, 512 bytes sent",
        "GET /index.html 200 12ms",
        "Connection from 10.0.0.1 port 22 at 12:00:05",
        "42 items processed",
        "[instance: 1234] VM Started",
        "",
        "   ",
        "2024-05-01",
        "ü 10:00:00",
    ] {
        let h = split_header(line);
        assert_eq!(h.content(), line, "{line:?}");
        assert_eq!(h.header(), "");
    }
}

#[test]
fn the_header_never_takes_the_whole_line_nor_message_words() {
    // The last token stays the message.
    assert_eq!(content("2024-05-01 10:00:00 INFO 42"), "42");
    assert_eq!(content("2024-05-01 10:00:00 12"), "12");
    // Four words before a time are a message, not a header.
    assert_eq!(
        content("2024-05-01 10:00:00 job one two three at 12:00:01 done"),
        "job one two three at 12:00:01 done"
    );
    // An IPv4 address or a version is no date.
    assert_eq!(
        content("2024-05-01 10:00:00 peer 10.0.0.1:8080 gone"),
        "peer 10.0.0.1:8080 gone"
    );
    assert_eq!(content("10:00:00 v 1.2.3.4 up"), "v 1.2.3.4 up");
}

/// The header of an access log's line does not depend on its client's address: an address
/// whose last three groups look like a date (`10.4.57.20`) once made the address and the
/// bracketed time a header, split from the same lines with other addresses.
#[test]
fn a_client_address_is_never_a_date_whatever_its_digits() {
    let line = |ip: &str| {
        format!(
            "{ip} - - [23/Nov/2026:04:34:02 +0000] \"GET /x HTTP/1.1\" 404 96787 \"-\" \"curl/8.5.0\" 0.430"
        )
    };
    // The message with the address written as `IP`: the same for every address.
    let message = |ip: &str| split_header(&line(ip)).content().replace(ip, "IP");
    let reference = message("10.31.160.15");
    for ip in [
        "10.4.57.20",
        "10.170.68.12",
        "10.237.25.26",
        "10.4.5.20",
        "192.168.1.10",
        "10.4.57.200",
        "1.2.3.4",
    ] {
        assert_eq!(message(ip), reference, "{ip}");
    }
}

#[test]
fn date_and_time_tokens() {
    for t in [
        "10:00",
        "10:00:00,123",
        "2024-05-01",
        "17/06/09",
        "2005.11.09",
        "2024-05-01T10:00:00Z",
        "20171223-22:15:29:606",
        "1131566461",
        "1131566461123",
        "2005-06-03-15.42.50.675872",
    ] {
        assert!(is_datetime(t), "{t}");
    }
    for t in [
        "10.0.0.1",
        "10.0.0.1:8080",
        // An address's last three groups read as `d.mm.yy` (or `yyy.m.dd`) are no date.
        "10.4.57.20",
        "10.170.68.12",
        "192.168.1.10",
        "10.4.57.20:443",
        "1.2.3",
        "12345",
        "0.5",
        "1,024",
        "3:4",
    ] {
        assert!(!is_datetime(t), "{t}");
    }
}

/// The lexer's byte classes rule a token out of a date or a name only where the tests would:
/// every byte of a time-ish token is a time byte (so `B_UNTIMELY` skips no date), every byte of
/// a name a name byte; and a date is time-ish (so `kind` tests `is_timeish` first).
#[test]
fn the_lexer_byte_classes_skip_only_failing_tests() {
    let mut tokens = Vec::new();
    for c in (0u8..128).map(char::from).chain(['é', 'µ', '→']) {
        for t in [
            format!("1{c}2"),
            format!("1{c}"),
            format!("{c}1"),
            format!("12{c}34"),
            format!("2024-05-01{c}10:00:00"),
            format!("a{c}"),
            format!("a{c}b"),
            format!("{c}a"),
        ] {
            tokens.push(t);
        }
    }
    let untimely = |t: &str| t.bytes().any(|b| BYTE[usize::from(b)] & B_UNTIMELY != 0);
    let unnamely = |t: &str| t.bytes().any(|b| BYTE[usize::from(b)] & B_UNNAMELY != 0);
    let mut dates = 0;
    for t in &tokens {
        if is_datetime(t) {
            dates += 1;
            assert!(is_timeish(t), "{t:?}: a date that is not time-ish");
        }
        if is_timeish(t) {
            assert!(!untimely(t), "{t:?}: time-ish, but the lexer rules it out");
        }
        if is_name(t) {
            assert!(!unnamely(t), "{t:?}: a name, but the lexer rules it out");
        }
    }
    assert!(dates > 0);
    // Brackets and punctuation that `core` strips do not rule a token out.
    for t in ["(10:00:00)", "10:00:00;", "2024-05-01,"] {
        assert!(!untimely(t) && is_datetime(core(t)), "{t}");
    }
}

/// `is_datetime` as written before `time_shape`: the three tests in turn.
fn is_datetime_reference(c: &str) -> bool {
    let b = c.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return (b.len() == 10 || b.len() == 13) && b[0] == b'1';
    }
    is_timeish(c) && (has_clock(b) || has_date(b))
}

/// The one pass of `time_shape` finds what `is_timeish`, `has_clock` and `has_date` find, on
/// random tokens of digit runs and date/time punctuation.
#[test]
fn time_shape_agrees_with_the_three_tests() {
    const PIECES: &[&str] = &[
        "0",
        "1",
        "7",
        "12",
        "59",
        "123",
        "2024",
        "20240",
        "1131566461",
        ":",
        ".",
        "-",
        "/",
        ",",
        "_",
        "+",
        "T",
        "Z",
        "a",
        "é",
        ";",
        "10:",
        "05-",
        "2024-",
        "17/",
        "2005.",
        "09.",
    ];
    let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15_u64);
    let (mut clocks, mut dates) = (0, 0);
    for _ in 0..300_000 {
        let n = 1 + next() % 9;
        let token: String = (0..n)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        let b = token.as_bytes();
        let expected = is_timeish(&token).then(|| (has_clock(b), has_date(b)));
        let got = time_shape(b).map(|s| (s.clock, s.date));
        assert_eq!(got, expected, "{token:?}");
        assert_eq!(
            is_datetime(&token),
            is_datetime_reference(&token),
            "{token:?}"
        );
        if let Some((c, d)) = expected {
            clocks += usize::from(c);
            dates += usize::from(d);
        }
    }
    // The tokens reach both patterns often enough to test them.
    assert!(
        clocks > 500 && dates > 500,
        "{clocks} clocks, {dates} dates"
    );
}

/// The byte patterns of `is_date_word` and `is_zone` accept exactly the words of their lists,
/// and `core` cuts what it did before its fast path.
#[test]
fn date_words_zones_and_cores_match_their_lists() {
    const WORDS: [&str; 21] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Mon",
        "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "AM", "PM",
    ];
    let mut tokens: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    for w in WORDS.iter().chain(&["UTC", "GMT", "Z", "a", ""]) {
        tokens.push(w.to_lowercase());
        tokens.push(w.to_uppercase());
        tokens.push(format!("{w}."));
        tokens.push(format!("x{w}"));
        tokens.push(w.chars().skip(1).collect());
        tokens.push(w.to_string());
    }
    for t in &tokens {
        assert_eq!(is_date_word(t), WORDS.contains(&t.as_str()), "{t:?}");
        assert_eq!(
            is_zone(t),
            ["UTC", "GMT", "Z"].contains(&t.as_str()),
            "{t:?}"
        );
        for wrapped in [
            format!("({t})"),
            format!("{t},"),
            format!("{t};,"),
            format!("({t}"),
            format!("{t})"),
        ] {
            let reference = wrapped.trim_end_matches([',', ';']);
            let reference = reference.strip_prefix('(').unwrap_or(reference);
            let reference = reference.strip_suffix(')').unwrap_or(reference);
            assert_eq!(core(&wrapped), reference, "{wrapped:?}");
        }
        assert_eq!(core(t), t.as_str());
    }
}

/// `level_word`'s table by length and first letter accepts exactly the listed levels, in any
/// case, and nothing near them.
#[test]
fn level_words_match_their_list() {
    const LEVELS: [&str; 20] = [
        "TRACE",
        "DEBUG",
        "DBG",
        "INFO",
        "INFORMATION",
        "NOTICE",
        "WARN",
        "WARNING",
        "ERROR",
        "ERR",
        "SEVERE",
        "FATAL",
        "CRITICAL",
        "CRIT",
        "ALERT",
        "EMERG",
        "EMERGENCY",
        "FINE",
        "FINER",
        "FINEST",
    ];
    let listed = |t: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(t));
    let mut tokens = vec![String::new(), "I".into(), "x".into(), "INFOS".into()];
    for l in LEVELS {
        let lower = l.to_lowercase();
        let capital = format!("{}{}", &l[..1], &lower[1..]);
        for t in [l.to_string(), lower.clone(), capital] {
            tokens.push(format!("{t}x"));
            tokens.push(format!("x{t}"));
            tokens.push(t[1..].to_string());
            tokens.push(t[..t.len() - 1].to_string());
            tokens.push(format!("{}{}", &t[..t.len() - 1], "é"));
            tokens.push(t);
        }
    }
    for t in &tokens {
        assert_eq!(level_word(t), listed(t).then_some(t.as_str()), "{t:?}");
    }
}
