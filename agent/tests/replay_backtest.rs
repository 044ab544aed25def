//! `seismo replay` and `seismo backtest` run as a user would, on small files written here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{replay_nab, s, seismo, series, text};

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else {
                found.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn replay_prints_scored_rows_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flat.csv");
    fs::write(
        &file,
        "timestamp,value\n2020-01-01 00:00:00,5\n2020-01-01 00:05:00,5\n2020-01-01 00:10:00,5.1\n",
    )
    .unwrap();
    let out = seismo(&["replay", s(&file), "--detector", "windowed_gaussian"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // NAB's windowed Gaussian: nothing learned for the first row; then a constant window
    // (std floored to 1e-6) scores its own value 1 - Q(0) = 0.5 and anything else 1.
    assert_eq!(
        text(&out.stdout),
        "timestamp,value,anomaly_score,label\n\
         2020-01-01 00:00:00,5,0.0,0\n\
         2020-01-01 00:05:00,5,0.5,0\n\
         2020-01-01 00:10:00,5.1,1.0,0\n"
    );
}

#[test]
fn replay_uses_the_configured_detector_of_the_file_stem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cpu.csv");
    // A noisy level with one large spike near the end.
    fs::write(
        &file,
        series(400, |i| {
            if i == 390 {
                "90".to_string()
            } else {
                format!("{}", 10.0 + ((i * 7919) % 13) as f64 / 10.0)
            }
        }),
    )
    .unwrap();
    let out = seismo(&["replay", s(&file)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 400);
    let input = fs::read_to_string(&file).unwrap();
    for (row, line) in rows.iter().zip(input.lines().skip(1)) {
        assert_eq!(format!("{},{}", row[0], row[1]), line);
        assert_eq!(row[3], "0");
    }
    let scores: Vec<f64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    let top = scores.iter().copied().fold(0.0, f64::max);
    assert!(
        top > 0.0 && scores[390] == top,
        "spike {} top {top}",
        scores[390]
    );

    // The configuration applies to the signal named after the file's stem.
    let config = dir.path().join("seismo.toml");
    fs::write(
        &config,
        "[[detectors.overrides]]\nsignals = [\"cpu\"]\nenabled = false\n",
    )
    .unwrap();
    let out = seismo(&["replay", s(&file), "--config", s(&config)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("disables the detector of signal `cpu`"),
        "{}",
        text(&out.stderr)
    );
    fs::write(
        &config,
        "[[detectors.overrides]]\nsignals = [\"other\"]\nenabled = false\n",
    )
    .unwrap();
    let out = seismo(&["replay", s(&file), "--config", s(&config)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn replay_nab_writes_the_results_layout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(data.join("realThings")).unwrap();
    fs::create_dir_all(data.join("art")).unwrap();
    let a = series(50, |i| format!("{}", i % 7));
    let b = series(30, |i| format!("{}.5", i % 3));
    fs::write(data.join("realThings/a.csv"), &a).unwrap();
    fs::write(data.join("art/b.csv"), &b).unwrap();
    fs::write(data.join("README.md"), "not data").unwrap();
    let out_dir = dir.path().join("results/mydet");
    let out = replay_nab(&data, &out_dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        tree(&dir.path().join("results")),
        vec!["mydet/art/mydet_b.csv", "mydet/realThings/mydet_a.csv"]
    );
    for (input, written) in [(&a, "realThings/mydet_a.csv"), (&b, "art/mydet_b.csv")] {
        let written = fs::read_to_string(out_dir.join(written)).unwrap();
        let mut lines = written.lines();
        assert_eq!(lines.next(), Some("timestamp,value,anomaly_score,label"));
        let rows: Vec<&str> = lines.collect();
        let inputs: Vec<&str> = input.lines().skip(1).collect();
        assert_eq!(rows.len(), inputs.len());
        for (row, line) in rows.iter().zip(&inputs) {
            let (echo, rest) = row.split_at(line.len());
            assert_eq!(echo, *line);
            let (score, label) = rest[1..].split_once(',').unwrap();
            assert!((0.0..=1.0).contains(&score.parse::<f64>().unwrap()));
            assert_eq!(label, "0");
        }
    }

    // A second run over the same tree (also with the results inside the data folder) rewrites
    // the same files and never replays its own output.
    let inside = data.join("mydet");
    for _ in 0..2 {
        let out = replay_nab(&data, &inside, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert_eq!(
        tree(&inside),
        vec!["art/mydet_b.csv", "realThings/mydet_a.csv"]
    );
}

/// (name, file contents, line the error must name, words the message must contain)
const MALFORMED: [(&str, &str, u32, &str); 6] = [
    ("empty file", "", 1, "empty"),
    (
        "missing column in the header",
        "timestamp\n2020-01-01 00:00:00\n",
        1,
        "no `value` column",
    ),
    (
        "missing column in a row",
        "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00\n2020-01-01 00:10:00,1\n",
        3,
        "a column is missing",
    ),
    (
        "bad number",
        "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,1\n2020-01-01 00:10:00,1,5\n2020-01-01 00:15:00,twelve\n",
        5,
        "`twelve` is not a number",
    ),
    (
        "bad timestamp",
        "timestamp,value\n2020-01-01 00:00:00,1\n01/01/2020 00:05,1\n",
        3,
        "is not `YYYY-MM-DD HH:MM:SS",
    ),
    (
        "unsorted timestamps",
        "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:10:00,1\n2020-01-01 00:05:00,1\n",
        4,
        "earlier than the row before it",
    ),
];

#[test]
fn replay_refuses_malformed_csv_naming_file_and_line_and_writes_nothing_for_it() {
    for (case, contents, line, words) in MALFORMED {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("sub/good.csv"), series(20, |i| i.to_string())).unwrap();
        let bad = data.join("sub/bad.csv");
        fs::write(&bad, contents).unwrap();
        let located = format!("{}:{line}:", bad.display());

        // --nab: exit 1, the bad file named with its line, the good file written in full,
        // nothing (not even a temporary file) for the bad one. (Rows out of time order are
        // taken in file order there, as NAB does: see the test below.)
        let out_dir = dir.path().join("results/det");
        let out = replay_nab(&data, &out_dir, &[]);
        let stderr = text(&out.stderr);
        if case != "unsorted timestamps" {
            assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
            assert!(stderr.contains(&located), "{case}: {stderr}");
            assert!(stderr.contains(words), "{case}: {stderr}");
            assert_eq!(tree(&out_dir), vec!["sub/det_good.csv"], "{case}");
            let good = fs::read_to_string(out_dir.join("sub/det_good.csv")).unwrap();
            assert_eq!(good.lines().count(), 21, "{case}");
        }

        // One file: exit 1 and nothing on stdout.
        let out = seismo(&["replay", s(&bad)]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert!(stderr.contains(&located), "{case}: {stderr}");
        assert!(out.stdout.is_empty(), "{case}");
    }
}

#[test]
fn replay_nab_scores_rows_in_file_order_and_counts_those_out_of_order() {
    // A NAB-like corpus: one file steps back once (as NAB's machine_temperature file does),
    // another twice, a third is in order.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir_all(data.join("realKnownCause")).unwrap();
    let mut once: Vec<String> = series(40, |i| format!("{}", 20 + i % 3))
        .lines()
        .map(str::to_owned)
        .collect();
    // Data row 31 (line 32) is 55 minutes earlier than row 30.
    once[31] = format!("{},21", common::stamp(19));
    let once = once.join("\n") + "\n";
    let mut twice: Vec<String> = series(30, |i| format!("{i}"))
        .lines()
        .map(str::to_owned)
        .collect();
    twice.swap(5, 6);
    twice.swap(20, 21);
    let twice = twice.join("\n") + "\n";
    let sorted = series(25, |i| format!("{}", i % 4));
    fs::write(data.join("realKnownCause/once.csv"), &once).unwrap();
    fs::write(data.join("realKnownCause/twice.csv"), &twice).unwrap();
    fs::write(data.join("realKnownCause/sorted.csv"), &sorted).unwrap();

    let out_dir = dir.path().join("results/det");
    let out = replay_nab(&data, &out_dir, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "note: realKnownCause/once.csv: 1 row(s) earlier than the row before them (the first is data row 31, `{}`), scored in file order as NAB does",
            common::stamp(19)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: realKnownCause/twice.csv: 2 row(s) earlier than the row before them (the first is data row 6,"),
        "{stderr}"
    );
    assert!(!stderr.contains("sorted.csv"), "{stderr}");
    assert!(
        stderr
            .contains("replayed 3 of 3 files (95 rows, 3 out of time order, scored in file order)"),
        "{stderr}"
    );
    // Every row written, in the input's order.
    for (input, written) in [(&once, "det_once.csv"), (&twice, "det_twice.csv")] {
        let written = fs::read_to_string(out_dir.join("realKnownCause").join(written)).unwrap();
        let echoed: Vec<&str> = written
            .lines()
            .skip(1)
            .map(|l| l.rsplitn(3, ',').nth(2).unwrap())
            .collect();
        let inputs: Vec<&str> = input.lines().skip(1).collect();
        assert_eq!(echoed, inputs);
    }
}

#[test]
fn allow_unsorted_accepts_rows_that_step_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("back.csv");
    fs::write(&file, MALFORMED[5].1).unwrap();
    let out = seismo(&["replay", s(&file), "--allow-unsorted"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 4);
}

#[test]
fn bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.csv");
    fs::write(&file, series(5, |i| i.to_string())).unwrap();
    let bad_config = dir.path().join("bad.toml");
    fs::write(&bad_config, "[detectors]\nmax_signal = 3\n").unwrap();
    let d = s(dir.path());
    let cases: [&[&str]; 8] = [
        &["replay"],
        &["replay", "--nab", d],
        &["replay", "--out", d],
        &["replay", s(&file), "--nab", d, "--out", d],
        &["replay", s(&file), "--detector", "nosuch"],
        &["replay", s(&file), "--config", s(&bad_config)],
        &[
            "backtest",
            "--data",
            d,
            "--windows",
            d,
            "--results",
            d,
            "--profile",
            "lenient",
        ],
        &["backtest", "--data", d],
    ];
    for args in cases {
        let out = seismo(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// A tiny labelled corpus: data, windows and a detector's results, as NAB lays them out.
struct Corpus {
    _dir: tempfile::TempDir,
    data: PathBuf,
    windows: PathBuf,
    results: PathBuf,
}

/// 40 rows; a window on rows 10..=13; the detector `det` scores 0.1 except rows 2, 5 (in the
/// probation period), 7, 11, 12, 15, 30 (0.9) and 10 (0.5). Hand-computed in the detectors
/// crate's NAB tests.
fn corpus() -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let results = dir.path().join("results/det");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::create_dir_all(results.join("sub")).unwrap();
    let input = series(40, |i| i.to_string());
    fs::write(data.join("sub/a.csv"), &input).unwrap();
    let mut scored = String::from("timestamp,value,anomaly_score,label\n");
    for (i, line) in input.lines().skip(1).enumerate() {
        let score = match i {
            2 | 5 | 7 | 11 | 12 | 15 | 30 => 0.9,
            10 => 0.5,
            _ => 0.1,
        };
        scored.push_str(&format!("{line},{score},0\n"));
    }
    fs::write(results.join("sub/det_a.csv"), scored).unwrap();
    let windows = dir.path().join("windows.json");
    // Rows 10 and 13 are at 00:50 and 01:05.
    fs::write(
        &windows,
        r#"{"sub/a.csv": [["2020-01-01 00:50:00.000000", "2020-01-01 01:05:00.000000"]], "other/not_in_data.csv": []}"#,
    )
    .unwrap();
    Corpus {
        _dir: dir,
        data,
        windows,
        results,
    }
}

fn backtest(c: &Corpus, extra: &[&str]) -> Output {
    common::backtest(&c.data, &c.windows, &c.results, extra)
}

#[test]
fn backtest_scores_a_hand_computed_corpus() {
    let c = corpus();
    let max_tp = 2.5_f64.tanh();
    let late_fp = 0.11 * (5.0_f64 / 3.0).tanh();

    // With a thresholds file: NAB's layout, the entry of the results folder's name.
    let thresholds = c.data.parent().unwrap().join("thresholds.json");
    fs::write(
        &thresholds,
        r#"{"det": {"standard": {"threshold": 0.9, "score": 0}}}"#,
    )
    .unwrap();
    let out = backtest(
        &c,
        &["--profile", "standard", "--thresholds", s(&thresholds)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count"
    );
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&row[..4], ["det", "standard", "sub/a.csv", "0.9"]);
    let expected = -0.11 + 1.875_f64.tanh() / max_tp - late_fp - 0.11;
    assert!((row[4].parse::<f64>().unwrap() - expected).abs() < 1e-12);
    assert_eq!(&row[5..], ["2", "27", "3", "2", "40"]);
    assert!(lines[2].starts_with("Totals,standard,,0.9,"), "{stdout}");
    assert_eq!(lines[3], "");
    assert_eq!(
        lines[4],
        "Detector,Profile,Threshold,Score,Normalized_Score,Files,Windows"
    );
    // One window: null -1, perfect +1.
    let summary: Vec<&str> = lines[5].split(',').collect();
    let normalized: f64 = summary[4].parse().unwrap();
    assert!(
        (normalized - 100.0 * (expected + 1.0) / 2.0).abs() < 1e-4,
        "{stdout}"
    );
    assert_eq!(&summary[5..], ["1", "1"]);

    // Without one the threshold is optimised: 0.5 detects the window's first row.
    let out = backtest(&c, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let standard = stdout
        .lines()
        .find(|l| l.starts_with("det,standard,"))
        .unwrap();
    let row: Vec<&str> = standard.split(',').collect();
    assert_eq!(row[3], "0.5");
    let expected = -0.11 + 1.0 - late_fp - 0.11;
    assert!((row[4].parse::<f64>().unwrap() - expected).abs() < 1e-12);
    // All three profiles.
    for p in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] {
        assert!(
            stdout.contains(&format!("\ndet,{p},sub/a.csv,")),
            "{stdout}"
        );
        assert!(stdout.contains(&format!("\nTotals,{p},,")), "{stdout}");
    }
}

#[test]
fn backtest_refuses_incomplete_or_inconsistent_input() {
    let check = |c: &Corpus, extra: &[&str], words: &str| {
        let out = backtest(c, extra);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{words}: {stderr}");
        assert!(stderr.contains(words), "expected `{words}` in: {stderr}");
        assert!(out.stdout.is_empty());
    };

    let c = corpus();
    let results_file = c.results.join("sub/det_a.csv");
    fs::remove_file(&results_file).unwrap();
    check(&c, &[], &format!("{}: cannot read", results_file.display()));

    let c = corpus();
    let results_file = c.results.join("sub/det_a.csv");
    let full = fs::read_to_string(&results_file).unwrap();
    let shorter: String = full.lines().take(30).map(|l| format!("{l}\n")).collect();
    fs::write(&results_file, shorter).unwrap();
    check(&c, &[], "has 29 rows where the data file");

    let c = corpus();
    let results_file = c.results.join("sub/det_a.csv");
    let full = fs::read_to_string(&results_file).unwrap();
    fs::write(&results_file, full.replacen(",0.9,0", ",high,0", 1)).unwrap();
    check(
        &c,
        &[],
        &format!("{}:4: anomaly_score `high`", results_file.display()),
    );

    let c = corpus();
    fs::write(&c.windows, r#"{"other.csv": []}"#).unwrap();
    check(&c, &[], "no entry for `sub/a.csv`");

    let c = corpus();
    fs::write(
        &c.windows,
        r#"{"sub/a.csv": [["2020-01-01 00:51:00", "2020-01-01 00:52:00"]]}"#,
    )
    .unwrap();
    check(&c, &[], "holds no row");

    let c = corpus();
    fs::write(&c.windows, "{\"sub/a.csv\": [").unwrap();
    check(&c, &[], &format!("{}:1:", c.windows.display()));

    let c = corpus();
    let thresholds = c.data.parent().unwrap().join("thresholds.json");
    fs::write(&thresholds, r#"{"other": {}}"#).unwrap();
    check(
        &c,
        &["--thresholds", s(&thresholds)],
        "no threshold for detector `det`, profile `standard`",
    );
}
