//! Grouping accuracy of the template miner on Loghub's ten 2k samples, with the one default
//! configuration, against the original and the corrected ground truth, with and without the
//! header formats. Needs `SEISMO_EVAL_DATA` (the folder holding `loghub/`); without it the test
//! prints a notice and passes, with it the data must be there.
//!
//! `SEISMO_EVAL_DATA=/path/to/data cargo test -p seismo-detectors --test loghub_accuracy -- --nocapture`
//! prints the table that the README reports.

use std::path::{Path, PathBuf};

use seismo_detectors::{
    grouping_accuracy, loghub_event_ids, split_header, LogFormat, MinerConfig, TemplateMiner,
};

/// Floors just under the measured averages (see the README), so a regression fails.
const FLOOR_FORMAT: f64 = 0.90;
const FLOOR_FORMAT_CORRECTED: f64 = 0.91;
const FLOOR_RAW: f64 = 0.72;

fn event_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    loghub_event_ids(&text).expect("EventId column")
}

fn log_lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// The ids the miner gives each line, as `seismo logparse` does.
fn mine(lines: &[String], format: Option<&LogFormat>) -> Vec<u64> {
    let mut miner = TemplateMiner::new(MinerConfig::default()).unwrap();
    lines
        .iter()
        .map(|line| {
            let content = match format {
                Some(f) => f.split(line).map_or(line.as_str(), |f| f.content()),
                None => split_header(line).content(),
            };
            miner.add(content).template_id
        })
        .collect()
}

fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("SEISMO_EVAL_DATA") {
        Some(d) => Some(PathBuf::from(d).join("loghub")),
        None => {
            eprintln!("SEISMO_EVAL_DATA is not set: skipping the Loghub accuracy test");
            None
        }
    }
}

#[test]
fn loghub_grouping_accuracy() {
    let Some(dir) = data_dir() else { return };
    let formats = std::fs::read_to_string(dir.join("log_formats.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("log_formats.tsv").display()));
    let mut sums = [0.0f64; 4];
    let mut n = 0;
    println!("| dataset | with format | with format, corrected truth | raw lines | raw, corrected | Drain (published) |");
    println!("|---|---|---|---|---|---|");
    for row in formats.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (name, fmt, published) = (cols[0], cols[1], cols[2]);
        let format = LogFormat::parse(fmt).unwrap_or_else(|e| panic!("{name}: {e}"));
        let base = dir.join(name).join(format!("{name}_2k.log"));
        let lines = log_lines(&base);
        let truth = event_ids(&dir.join(name).join(format!("{name}_2k.log_structured.csv")));
        let corrected = event_ids(
            &dir.join(name)
                .join(format!("{name}_2k.log_structured_corrected.csv")),
        );
        assert_eq!(lines.len(), truth.len(), "{name}: lines vs ground truth");
        assert_eq!(
            lines.len(),
            corrected.len(),
            "{name}: lines vs corrected truth"
        );
        let unmatched = lines.iter().filter(|l| format.split(l).is_none()).count();
        assert_eq!(unmatched, 0, "{name}: lines that do not match the format");
        let with = mine(&lines, Some(&format));
        let raw = mine(&lines, None);
        let acc = [
            grouping_accuracy(&with, &truth),
            grouping_accuracy(&with, &corrected),
            grouping_accuracy(&raw, &truth),
            grouping_accuracy(&raw, &corrected),
        ];
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {published} |",
            acc[0], acc[1], acc[2], acc[3]
        );
        for (s, a) in sums.iter_mut().zip(acc) {
            *s += a;
        }
        n += 1;
    }
    assert_eq!(n, 10, "the ten Loghub datasets");
    let avg = sums.map(|s| s / n as f64);
    println!(
        "| **average** | **{:.3}** | **{:.3}** | **{:.3}** | **{:.3}** | 0.882 |",
        avg[0], avg[1], avg[2], avg[3]
    );
    assert!(
        avg[0] >= FLOOR_FORMAT,
        "with format: {:.4} < {FLOOR_FORMAT}",
        avg[0]
    );
    assert!(
        avg[1] >= FLOOR_FORMAT_CORRECTED,
        "corrected: {:.4} < {FLOOR_FORMAT_CORRECTED}",
        avg[1]
    );
    assert!(avg[2] >= FLOOR_RAW, "raw: {:.4} < {FLOOR_RAW}", avg[2]);
}
