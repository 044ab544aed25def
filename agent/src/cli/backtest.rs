//! `seismo backtest`: NAB's scoring of a results folder against labelled anomaly windows.
//!
//! The corpus is every `*.csv` under `--data` (NAB's data folder, or part of it). For each
//! file `D/F.csv` the detector's scores are read from `RESULTS_DIR/NAME/D/NAME_F.csv` (column
//! `anomaly_score`; the rows must be the data file's rows) and its windows from the windows
//! file (NAB's `combined_windows.json`, keyed by `D/F.csv`). A window covers the rows from its
//! start to its end timestamp, both included. The scoring maths is
//! [`seismo_detectors::nab`]; NAME (the results folder's name) is the detector's name, as in
//! NAB, and picks its entry in a `--thresholds` file (NAB's `config/thresholds.json`).
//!
//! Without `--thresholds`, each profile's threshold is optimised over the corpus like NAB's
//! `optimize` step. The normalised score counts the windows of the files scored, so on part of
//! NAB's corpus it is an estimate of the full-corpus figure.
//!
//! `--plot-dir DIR` also draws each file (`DIR/<sub-folder>/<stem>.svg`): its values, its
//! windows, its scores with the threshold, and its detections, with the file's NAB score in
//! the title (the `standard` profile's when it was scored, else the profile asked for).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use seismo_detectors::nab::{self, FileScores, LabelledFile, Profile, Window};

use crate::cli::csv_series::{self, Order};
use crate::cli::exit::EXIT_CONFIG;
use crate::cli::labels::{read_json, to_rows};

/// What `seismo backtest` was asked to do.
#[derive(Debug, Clone)]
pub struct BacktestArgs {
    pub data: PathBuf,
    pub windows: PathBuf,
    pub results: PathBuf,
    /// `None`: all three profiles.
    pub profile: Option<Profile>,
    pub thresholds: Option<PathBuf>,
    /// Draw one chart per file into this folder (created if missing).
    pub plot_dir: Option<PathBuf>,
}

/// One file of the corpus: its name as NAB writes it (`realTraffic/speed_t4013.csv`), its
/// detector scores and its windows as row ranges.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    pub name: String,
    pub scores: Vec<f64>,
    pub windows: Vec<Window>,
    /// The data file's timestamps (unix ms) and values, for the charts.
    pub ts_ms: Vec<i64>,
    pub values: Vec<f64>,
}

/// The scores of one profile.
#[derive(Debug, Clone)]
pub struct ProfileReport {
    pub profile: Profile,
    pub threshold: f64,
    /// Per file, in corpus order.
    pub files: Vec<FileScores>,
    pub total: FileScores,
    pub windows: usize,
    pub normalized: Option<f64>,
}

/// A backtest's outcome: the detector's name, its files and one report per profile.
#[derive(Debug, Clone)]
pub struct Backtest {
    pub detector: String,
    pub files: Vec<CorpusFile>,
    pub reports: Vec<ProfileReport>,
}

/// Runs `seismo backtest`: 0, 1 for bad data or files, 2 for bad usage.
pub fn main(args: BacktestArgs) -> ExitCode {
    if detector_name(&args.results).is_none() {
        eprintln!(
            "error: --results {} does not end in a detector name: use RESULTS_DIR/NAME",
            args.results.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let outcome = run(&args).and_then(|b| {
        let text = render(&b);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write to stdout")?;
        match &args.plot_dir {
            Some(dir) => plot(&b, dir, args.thresholds.is_some()),
            None => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the corpus and scores it for the requested profiles.
pub fn run(args: &BacktestArgs) -> anyhow::Result<Backtest> {
    let detector = detector_name(&args.results)
        .ok_or_else(|| anyhow!("--results {} has no folder name", args.results.display()))?;
    let files = load_corpus(&args.data, &args.windows, &args.results, &detector)?;
    let thresholds = match &args.thresholds {
        Some(p) => Some(read_json(p)?),
        None => None,
    };
    let labelled: Vec<LabelledFile<'_>> = files
        .iter()
        .map(|f| LabelledFile {
            scores: &f.scores,
            windows: &f.windows,
        })
        .collect();
    let name_of = |e: nab::CorpusError| {
        let file = files.get(e.file).map_or("?", |f| f.name.as_str());
        anyhow!("{file}: {}", e.error)
    };
    let profiles = match args.profile {
        Some(p) => vec![p],
        None => Profile::ALL.to_vec(),
    };
    let mut reports = Vec::new();
    for profile in profiles {
        let costs = profile.costs();
        let threshold = match (&thresholds, &args.thresholds) {
            (Some(json), Some(path)) => threshold_from(json, &detector, profile)
                .with_context(|| format!("{}", path.display()))?,
            _ => {
                nab::optimize_threshold(&labelled, &costs)
                    .map_err(name_of)?
                    .threshold
            }
        };
        let scored = nab::score_corpus(&labelled, &costs, threshold).map_err(name_of)?;
        reports.push(ProfileReport {
            profile,
            threshold,
            files: scored.files,
            total: scored.total,
            windows: scored.windows,
            normalized: scored.normalized,
        });
    }
    Ok(Backtest {
        detector,
        files,
        reports,
    })
}

/// NAB's per-file table (with a Totals row per profile), a blank line, then the summary.
pub fn render(b: &Backtest) -> String {
    let mut s = String::from("Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\n");
    let mut row = |label: &str, profile: Profile, file: &str, threshold: f64, f: &FileScores| {
        let c = &f.counts;
        // Writing to a String cannot fail.
        let _ = writeln!(
            s,
            "{label},{profile},{file},{threshold:?},{:?},{},{},{},{},{}",
            f.score, c.tp, c.tn, c.fp, c.fn_, c.total
        );
    };
    for r in &b.reports {
        for (file, scores) in b.files.iter().zip(&r.files) {
            row(&b.detector, r.profile, &file.name, r.threshold, scores);
        }
        row("Totals", r.profile, "", r.threshold, &r.total);
    }
    s.push_str("\nDetector,Profile,Threshold,Score,Normalized_Score,Files,Windows\n");
    for r in &b.reports {
        let normalized = r
            .normalized
            .map_or("n/a".to_string(), |n| format!("{n:.4}"));
        let _ = writeln!(
            s,
            "{},{},{:?},{:?},{normalized},{},{}",
            b.detector,
            r.profile,
            r.threshold,
            r.total.score,
            b.files.len(),
            r.windows
        );
    }
    s
}

fn detector_name(results: &Path) -> Option<String> {
    results
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
}

/// Every data file with its scores from the results folder and its windows as row ranges.
pub fn load_corpus(
    data: &Path,
    windows_path: &Path,
    results: &Path,
    detector: &str,
) -> anyhow::Result<Vec<CorpusFile>> {
    let windows: BTreeMap<String, Vec<(String, String)>> = read_json(windows_path)?;
    let relatives = crate::cli::replay::csv_files(data, results)?;
    if relatives.is_empty() {
        bail!("{}: no .csv files found", data.display());
    }
    let mut files = Vec::with_capacity(relatives.len());
    for relative in relatives {
        let name = relative
            .to_str()
            .with_context(|| format!("{}: the file name is not UTF-8", relative.display()))?
            .to_owned();
        let data_path = data.join(&relative);
        let file_name = relative
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        let results_path = results
            .join(relative.parent().unwrap_or(Path::new("")))
            .join(format!("{detector}_{file_name}"));
        // NAB's own data steps back in time once (machine_temperature_system_failure.csv).
        let series = csv_series::read(&data_path, "value", Order::Any)?;
        let scored = csv_series::read(&results_path, "anomaly_score", Order::Any)?;
        if scored.ts_ms.len() != series.ts_ms.len() {
            bail!(
                "{} has {} rows where the data file {} has {}",
                results_path.display(),
                scored.ts_ms.len(),
                data_path.display(),
                series.ts_ms.len()
            );
        }
        if let Some(row) = (0..series.ts_ms.len()).find(|&i| scored.ts_ms[i] != series.ts_ms[i]) {
            bail!(
                "{}:{}: timestamp `{}` differs from line {} of the data file {} (`{}`)",
                results_path.display(),
                row + 2,
                scored.texts[row].0,
                row + 2,
                data_path.display(),
                series.texts[row].0
            );
        }
        if let Some(row) = scored.values.iter().position(|v| v.is_nan()) {
            bail!(
                "{}:{}: the anomaly score is NaN",
                results_path.display(),
                row + 2
            );
        }
        let labels = windows.get(&name).with_context(|| {
            format!(
                "{}: no entry for `{name}`: every data file needs its windows (maybe [])",
                windows_path.display()
            )
        })?;
        let rows = to_rows(&series.ts_ms, labels)
            .with_context(|| format!("{}: windows of `{name}`", windows_path.display()))?;
        files.push(CorpusFile {
            name,
            scores: scored.values,
            windows: rows,
            ts_ms: series.ts_ms,
            values: series.values,
        });
    }
    Ok(files)
}

/// `--plot-dir`: one chart per file, `DIR/<sub-folder>/<stem>.svg`. A file that cannot be
/// drawn is reported and the others are still drawn; the error names every failure.
fn plot(b: &Backtest, dir: &Path, given_thresholds: bool) -> anyhow::Result<()> {
    use crate::cli::plot::{Chart, MarkerKind, Markers};
    let Some(report) = b
        .reports
        .iter()
        .find(|r| r.profile == Profile::Standard)
        .or(b.reports.first())
    else {
        return Ok(());
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--plot-dir {}: cannot create the folder", dir.display()))?;
    let origin = if given_thresholds {
        "from --thresholds"
    } else {
        "optimised on the corpus"
    };
    let (mut failed, mut bytes) = (Vec::new(), 0usize);
    let started = std::time::Instant::now();
    for (file, scores) in b.files.iter().zip(&report.files) {
        let target = dir.join(Path::new(&file.name).with_extension("svg"));
        let (mut inside, mut outside) = (Vec::new(), Vec::new());
        for (row, &score) in file.scores.iter().enumerate() {
            if score >= report.threshold {
                if file
                    .windows
                    .iter()
                    .any(|w| (w.first..=w.last).contains(&row))
                {
                    inside.push(row);
                } else {
                    outside.push(row);
                }
            }
        }
        let chart = Chart {
            // NAB-style files name no signal: their values are plain numbers.
            unit: crate::unit::Unit::Plain,
            title: format!(
                "{} · NAB {} score {:.3}",
                file.name, report.profile, scores.score
            ),
            subtitle: format!(
                "{} rows · detector {} · threshold {} ({origin}) · TP {} FP {} FN {} rows · the first {} rows are NAB's probation",
                file.scores.len(),
                b.detector,
                report.threshold,
                scores.counts.tp,
                scores.counts.fp,
                scores.counts.fn_,
                nab::probation_rows(file.scores.len())
            ),
            ts_ms: &file.ts_ms,
            values: &file.values,
            expected: None,
            scores: &file.scores,
            threshold: report.threshold,
            markers: vec![
                Markers {
                    kind: MarkerKind::DetectionInWindow,
                    rows: inside,
                },
                Markers {
                    kind: MarkerKind::DetectionOutside,
                    rows: outside,
                },
            ],
            windows: file.windows.iter().map(|w| (w.first, w.last)).collect(),
        };
        let written = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .with_context(|| format!("cannot create the folder of {}", target.display()))
            .and_then(|()| crate::cli::plot::write(&chart, &target));
        match written {
            Ok(n) => bytes += n,
            Err(e) => {
                eprintln!("error: {e:#}");
                failed.push(file.name.as_str());
            }
        }
    }
    eprintln!(
        "plotted {} of {} files into {} ({bytes} bytes in {} ms)",
        b.files.len() - failed.len(),
        b.files.len(),
        dir.display(),
        started.elapsed().as_millis()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        bail!(
            "--plot-dir {}: {} file(s) not drawn: {}",
            dir.display(),
            failed.len(),
            failed.join(", ")
        )
    }
}

/// NAB's thresholds file: `{detector: {profile: {"threshold": t, "score": s}}}`.
fn threshold_from(
    json: &serde_json::Value,
    detector: &str,
    profile: Profile,
) -> anyhow::Result<f64> {
    json.get(detector)
        .and_then(|d| d.get(profile.name()))
        .and_then(|p| p.get("threshold"))
        .and_then(serde_json::Value::as_f64)
        .with_context(|| format!("no threshold for detector `{detector}`, profile `{profile}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        csv_series::parse_timestamp(s).unwrap()
    }

    #[test]
    fn windows_map_to_the_rows_they_cover() {
        let stamps: Vec<i64> = [
            "2020-01-01 00:00:00",
            "2020-01-01 00:05:00",
            "2020-01-01 00:10:00",
            "2020-01-01 00:15:00",
        ]
        .iter()
        .map(|s| ts(s))
        .collect();
        let w = |a: &str, b: &str| (a.to_string(), b.to_string());
        let rows = to_rows(
            &stamps,
            &[w(
                "2020-01-01 00:05:00.000000",
                "2020-01-01 00:10:00.000000",
            )],
        )
        .unwrap();
        assert_eq!(rows, vec![Window { first: 1, last: 2 }]);
        // Edges between rows: the rows inside.
        let rows = to_rows(&stamps, &[w("2020-01-01 00:01:00", "2020-01-01 00:14:00")]).unwrap();
        assert_eq!(rows, vec![Window { first: 1, last: 2 }]);
        let rows = to_rows(&stamps, &[w("2019-01-01 00:00:00", "2021-01-01 00:00:00")]).unwrap();
        assert_eq!(rows, vec![Window { first: 0, last: 3 }]);
        let err = to_rows(&stamps, &[w("2020-01-01 00:06:00", "2020-01-01 00:07:00")]).unwrap_err();
        assert!(err.to_string().contains("holds no row"), "{err}");
        assert!(to_rows(&stamps, &[w("yesterday", "2020-01-01 00:07:00")]).is_err());
    }
}
