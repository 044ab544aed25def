//! `seismo logparse`, run as a user would, on real files.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn logparse(args: &[&str]) -> Output {
    common::seismo(&[&["logparse"][..], args].concat())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn rows(out: &Output) -> Vec<Vec<String>> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = seismo_detectors::csv_rows(std::str::from_utf8(&out.stdout).expect("CSV is UTF-8"));
    assert_eq!(rows[0], ["line", "template_id", "template"]);
    rows[1..].to_vec()
}

#[test]
fn crlf_missing_final_newline_and_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "app.log",
        b"session opened for alice from 10.0.0.1 port 22\r\nsession opened for bob from 10.0.0.2 port 22\r\ndisk full on /var\r\nsession opened for carol from 10.0.0.3 port 22",
    );
    let out = logparse(&[f.to_str().unwrap()]);
    let r = rows(&out);
    assert_eq!(r.len(), 4);
    let lines: Vec<&str> = r.iter().map(|x| x[0].as_str()).collect();
    assert_eq!(lines, ["1", "2", "3", "4"]);
    assert_eq!(r[0][1], r[1][1]);
    assert_eq!(r[0][1], r[3][1]);
    assert_ne!(r[0][1], r[2][1]);
    assert_eq!(r[3][2], "session opened for <*> from <*> port <*>");
    assert!(
        !r.iter().any(|x| x[2].contains('\r')),
        "no CR left in templates"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("4 lines, 2 templates"), "{err}");
    assert!(
        err.contains("\n3,1,session opened for <*> from <*> port <*>\n"),
        "{err}"
    );
}

/// A regular file is mapped, a pipe is read as a stream: the same bytes give the same output.
#[test]
fn a_pipe_gives_the_rows_and_summary_a_file_gives() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    for i in 0..20_000 {
        writeln!(text, "Dec  7 10:00:{:02} host sshd[{i}]: session opened for user u{} from 10.0.{}.{} port {}", i % 60, i % 7, i % 250, i % 13, 1000 + i).unwrap();
        writeln!(text, "worker {i} finished job in {} ms", i % 900).unwrap();
    }
    text.extend_from_slice(b"last line without its newline 42");
    let f = write(dir.path(), "app.log", &text);
    let file = logparse(&[f.to_str().unwrap()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_seismo"))
        .args(["logparse", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || stdin.write_all(&text).unwrap());
    let pipe = child.wait_with_output().unwrap();
    feed.join().unwrap();
    assert_eq!(rows(&pipe).len(), 40_001);
    assert_eq!(pipe.stdout, file.stdout);
    let summary = |o: &std::process::Output| {
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        // The first line ends with the run's time and rate.
        let (first, rest) = e.split_once('\n').unwrap();
        (
            first.split(';').next().unwrap().to_string(),
            rest.to_string(),
        )
    };
    assert_eq!(summary(&pipe), summary(&file));
}

#[test]
fn a_variable_is_the_whole_token_unless_parts_are_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "hdfs.log",
        b"Verification succeeded for blk_-4231\nVerification succeeded for blk_991\n",
    );
    let whole = rows(&logparse(&[f.to_str().unwrap()]));
    assert_eq!(whole[1][2], "Verification succeeded for <*>");
    let parts = rows(&logparse(&[
        "--template-variables",
        "parts",
        f.to_str().unwrap(),
    ]));
    assert_eq!(parts[1][2], "Verification succeeded for blk_<*>");
    let bad = logparse(&["--template-variables", "half", f.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("half"));
}

#[test]
fn invalid_utf8_is_replaced_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bin.log",
        b"ok line one\n\xff\xfe broken \xc3\n\n",
    );
    let out = logparse(&[f.to_str().unwrap()]);
    let r = rows(&out);
    assert_eq!(r.len(), 3);
    assert_eq!(r[1][2], "\u{fffd}\u{fffd} broken \u{fffd}");
    assert_eq!(r[2][2], "", "an empty line has the empty template");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 lines with invalid UTF-8 (replaced)"),
        "{err}"
    );
}

#[test]
fn log_format_splits_the_header_and_counts_lines_that_do_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "svc.log",
        b"2024-05-01 10:00:00 INFO api: request id=1 served in 5ms\n\
          2024-05-01 10:00:01 WARN api: request id=2 served in 9ms\n\
          a stack trace line, with \"quotes\"\n",
    );
    let out = logparse(&[
        "--log-format",
        "<Date> <Time> <Level> <Component>: <Content>",
        f.to_str().unwrap(),
    ]);
    let r = rows(&out);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0][1], r[1][1], "the header does not split templates");
    assert_eq!(r[1][2], "request id=<*> served in <*>");
    assert_eq!(
        r[2][2], "a stack trace line, with \"quotes\"",
        "CSV-quoted round trip"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 lines not matching the format (mined whole)"),
        "{err}"
    );
}

#[test]
fn bad_format_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "x.log", b"x\n");
    for (fmt, reason) in [
        ("<Date> <Time", "`<` at byte 7 is not closed by `>`"),
        ("<Date> <Time>", "no `<Content>` field"),
        ("<Date> (<Content>", "not a valid regular expression"),
    ] {
        let out = logparse(&["--log-format", fmt, f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{fmt}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: invalid --log-format"), "{err}");
        assert!(err.contains(reason), "{fmt}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn missing_file_is_an_error() {
    let out = logparse(&["/nonexistent/seismo/x.log"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open /nonexistent/seismo/x.log"),
        "{err}"
    );
}

/// The Loghub grouping accuracy through the real command (the detectors crate's test measures
/// the same on the library). Runs with `SEISMO_EVAL_DATA` set; otherwise prints a notice.
#[test]
fn loghub_accuracy_through_the_cli() {
    let Some(data) = std::env::var_os("SEISMO_EVAL_DATA") else {
        eprintln!("SEISMO_EVAL_DATA is not set: skipping the Loghub logparse test");
        return;
    };
    let dir = PathBuf::from(data).join("loghub");
    let formats = std::fs::read_to_string(dir.join("log_formats.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    // With the header format, and on raw lines (the miner's own header recognition).
    let mut sum = [0.0; 2];
    let mut n = 0;
    for row in formats.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (name, fmt) = (cols[0], cols[1]);
        let log = dir.join(name).join(format!("{name}_2k.log"));
        let with = logparse(&["--log-format", fmt, log.to_str().unwrap()]);
        let raw = logparse(&[log.to_str().unwrap()]);
        let truth_csv = std::fs::read_to_string(
            dir.join(name)
                .join(format!("{name}_2k.log_structured_corrected.csv")),
        )
        .unwrap();
        // Grouped by template text, as Loghub-2.0's evaluator does (see the detectors test).
        let truth =
            seismo_detectors::loghub_column(&truth_csv, "EventTemplate").expect("EventTemplate");
        for (k, out) in [with, raw].iter().enumerate() {
            let predicted: Vec<String> = rows(out).into_iter().map(|r| r[1].clone()).collect();
            assert_eq!(predicted.len(), truth.len(), "{name}");
            let acc = seismo_detectors::grouping_accuracy(&predicted, &truth);
            println!("{name} {}: {acc:.3}", ["with format", "raw"][k]);
            sum[k] += acc;
        }
        n += 1;
    }
    assert_eq!(n, 10);
    let avg = sum.map(|s| s / n as f64);
    println!(
        "average (corrected ground truth): {:.3} with format, {:.3} raw",
        avg[0], avg[1]
    );
    // The same floors as the detectors crate's loghub_accuracy test.
    assert!(avg[0] >= 0.99, "average with format {:.4}", avg[0]);
    assert!(avg[1] >= 0.99, "average on raw lines {:.4}", avg[1]);
}
