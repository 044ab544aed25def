//! What the command-line tests share: the built `seismo` run as a user would, and the series
//! files they write. Each test file uses its own part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `seismo` binary cargo built for these tests with `args`; waits for it.
pub fn seismo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seismo"))
        .args(args)
        .output()
        .expect("run seismo")
}

/// `seismo backtest --data DATA --windows WINDOWS --results RESULTS`, then `extra`.
pub fn backtest(data: &Path, windows: &Path, results: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "backtest",
        "--data",
        s(data),
        "--windows",
        s(windows),
        "--results",
        s(results),
    ];
    args.extend_from_slice(extra);
    seismo(&args)
}

/// `seismo replay --nab DATA --out OUT --detector windowed_gaussian`, then `extra`.
pub fn replay_nab(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "replay",
        "--nab",
        s(data),
        "--out",
        s(out),
        "--detector",
        "windowed_gaussian",
    ];
    args.extend_from_slice(extra);
    seismo(&args)
}

/// Output bytes as text (lossy).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `YYYY-MM-DD HH:MM:00` of row `i` of a series five minutes apart from 2020-01-01 00:00.
pub fn stamp(i: usize) -> String {
    let minutes = i * 5;
    format!(
        "2020-01-{:02} {:02}:{:02}:00",
        1 + minutes / 1440,
        (minutes % 1440) / 60,
        minutes % 60
    )
}

/// A `timestamp,value` CSV: `n` rows five minutes apart from 2020-01-01 00:00, with `value(i)`.
pub fn series(n: usize, value: impl Fn(usize) -> String) -> String {
    let mut out = String::from("timestamp,value\n");
    for i in 0..n {
        out.push_str(&format!("{},{}\n", stamp(i), value(i)));
    }
    out
}
