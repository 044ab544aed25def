//! `seismo replay`: score recorded series offline with the detectors the agent runs live.
//!
//! - `seismo replay FILE.csv` prints `timestamp,value,anomaly_score,label` rows to stdout.
//! - `seismo replay --nab DATA_DIR --out RESULTS_DIR/NAME` does the same for every `*.csv`
//!   under DATA_DIR (recursively) and writes `RESULTS_DIR/NAME/<sub-folder>/NAME_<file name>`:
//!   the results layout NAB's scorer reads. Each file is written to a temporary file and renamed,
//!   so a file is either complete or absent.
//!
//! The detector of a file is the one the configuration gives the signal named after the file's
//! stem (`speed_t4013` for `realTraffic/speed_t4013.csv`), built fresh for every file;
//! `--detector` replaces its kind (`windowed_gaussian` is NAB's baseline). `anomaly_score` is
//! the detector's score (to 12 significant digits, like NAB's files), 0 while it warms up or
//! for a value it skipped; `label` is always 0.
//!
//! `seismo replay FILE.csv --plot CHART.svg` also draws the file: its values, the detector's
//! expected range and score, and the alerts the agent's alert lifecycle (`[alerting]` of the
//! configuration) would have raised (see [`crate::cli::plot`]).
//!
//! A row earlier than the row before it is refused unless `--allow-unsorted` is given. With
//! `--nab` rows are always taken in file order, as NAB's own detectors take them: NAB's
//! `realKnownCause/machine_temperature_system_failure.csv` steps back 55 minutes at line 10151.
//! Each such file is named on stderr with its count of rows out of time order, and the summary
//! line counts them all.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use seismo_config::{AlertingConfig, Config, DetectorKind};
use seismo_detectors::nab::{WindowedGaussian, WindowedGaussianParams};
use seismo_detectors::{Detector, Seasonal, SeasonalParams, Verdict};

use crate::cli::csv_series::{self, Order, Series};
use crate::cli::exit::EXIT_CONFIG;

/// The `--detector` name of NAB's windowed Gaussian baseline.
pub const WINDOWED_GAUSSIAN: &str = "windowed_gaussian";

/// Columns of every output row.
const HEADER: [&str; 4] = ["timestamp", "value", "anomaly_score", "label"];

/// What `seismo replay` was asked to do.
#[derive(Debug)]
pub struct ReplayArgs {
    pub file: Option<PathBuf>,
    pub nab: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub detector: Option<String>,
    /// Accept rows earlier than the row before them (NAB's corpus has one such step).
    pub allow_unsorted: bool,
    /// Also draw the single file's chart into this SVG file.
    pub plot: Option<PathBuf>,
    /// The labelled windows the chart shades; `None`: those of the file's NAB layout, if any.
    pub windows: Option<PathBuf>,
}

/// Which detector scores a file.
#[derive(Debug)]
enum Choice {
    /// The configured settings of the file's signal, with the kind optionally replaced.
    Configured {
        config: Box<Config>,
        kind: Option<DetectorKind>,
    },
    WindowedGaussian,
}

impl Choice {
    fn from_args(args: &ReplayArgs) -> Result<Choice, String> {
        if args.detector.as_deref() == Some(WINDOWED_GAUSSIAN) {
            return Ok(Choice::WindowedGaussian);
        }
        let kind = match &args.detector {
            None => None,
            Some(name) => Some(parse_kind(name).ok_or_else(|| {
                format!("unknown detector `{name}`: use {WINDOWED_GAUSSIAN} or a detector kind of the configuration (such as ewma)")
            })?),
        };
        let loaded = match &args.config {
            Some(p) => seismo_config::load(p),
            None => seismo_config::embedded_default(),
        };
        let config = loaded.map_err(|e| format!("invalid configuration: {e}"))?;
        Ok(Choice::Configured {
            config: Box::new(config),
            kind,
        })
    }

    /// The seasonal baseline the chart's band follows for `signal`: the ensemble's own seasonal
    /// component, run beside it with the same settings (the ensemble's expected range of a
    /// normal point is the range of every value seen); `None` for other detectors.
    fn baseline(&self, signal: &str) -> Option<Seasonal> {
        let Choice::Configured { config, kind } = self else {
            return None;
        };
        let settings = config.detectors.settings_for(signal)?;
        if kind.unwrap_or(settings.kind) != DetectorKind::Ensemble {
            return None;
        }
        let period_ms = settings
            .period
            .map(|p| i64::try_from(p.as_millis()).unwrap_or(i64::MAX));
        Seasonal::new(SeasonalParams {
            period_ms,
            ..SeasonalParams::default()
        })
        .ok()
    }

    /// A fresh detector for the signal `signal`, and its threshold.
    fn build(&self, signal: &str) -> Result<(Box<dyn Detector>, f64), String> {
        match self {
            Choice::WindowedGaussian => {
                let params = WindowedGaussianParams::default();
                let threshold = params.threshold;
                WindowedGaussian::new(params)
                    .map(|d| (Box::new(d) as Box<dyn Detector>, threshold))
                    .map_err(|e| e.to_string())
            }
            Choice::Configured { config, kind } => {
                let mut settings = config.detectors.settings_for(signal).ok_or_else(|| {
                    format!("the configuration disables the detector of signal `{signal}`")
                })?;
                if let Some(kind) = kind {
                    settings.kind = *kind;
                }
                crate::pipeline::build_detector(&settings, signal)
                    .map(|d| (d as Box<dyn Detector>, settings.threshold.get()))
                    .map_err(|e| format!("signal `{signal}`: {e:#}"))
            }
        }
    }
}

/// A detector kind by its configuration name (`ewma`, ...).
fn parse_kind(name: &str) -> Option<DetectorKind> {
    use serde::de::value::{Error, StrDeserializer};
    use serde::Deserialize;
    DetectorKind::deserialize(StrDeserializer::<Error>::new(name)).ok()
}

/// Runs `seismo replay`; exit 0, 1 for bad data or an I/O failure, 2 for bad usage or config.
pub fn main(args: ReplayArgs) -> ExitCode {
    let choice = match Choice::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match (&args.file, &args.nab, &args.out) {
        (Some(file), None, None) => {
            let plot = match &args.plot {
                None => None,
                Some(svg) => match alerting_config(&args) {
                    Ok(alerting) => Some((svg.as_path(), alerting)),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(EXIT_CONFIG);
                    }
                },
            };
            let plot = plot.as_ref().map(|(svg, alerting)| Plot {
                svg,
                alerting,
                windows: args.windows.as_deref(),
            });
            replay_to_stdout(file, &choice, order(&args), plot)
        }
        (None, Some(_), Some(_)) if args.plot.is_some() => {
            eprintln!("error: --plot draws one file: use backtest --plot-dir for a tree");
            ExitCode::from(EXIT_CONFIG)
        }
        // NAB's corpus is replayed as NAB publishes it, in file order (see the module docs).
        (None, Some(data), Some(out)) => replay_tree(data, out, &choice),
        _ => {
            eprintln!("error: give either FILE.csv, or --nab DATA_DIR with --out RESULTS_DIR/NAME");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn order(args: &ReplayArgs) -> Order {
    if args.allow_unsorted {
        Order::Any
    } else {
        Order::NonDecreasing
    }
}

/// The alert lifecycle settings `--plot` marks alerts with: from --config (also with
/// windowed_gaussian), else the embedded default.
fn alerting_config(args: &ReplayArgs) -> Result<AlertingConfig, String> {
    let loaded = match &args.config {
        Some(p) => seismo_config::load(p),
        None => seismo_config::embedded_default(),
    };
    loaded
        .map(|c| c.alerting)
        .map_err(|e| format!("invalid configuration: {e}"))
}

/// What `--plot` draws with: the chart's path, the alert lifecycle and `--windows`.
struct Plot<'a> {
    svg: &'a Path,
    alerting: &'a AlertingConfig,
    windows: Option<&'a Path>,
}

fn replay_to_stdout(
    file: &Path,
    choice: &Choice,
    order: Order,
    plot: Option<Plot<'_>>,
) -> ExitCode {
    let result = score_file(file, choice, order).and_then(|scored| {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        write_rows(&mut lock, &scored.series, &scored.scores())
            .and_then(|()| lock.flush().map_err(anyhow::Error::from))
            .context("cannot write to stdout")
            .map_err(Failure::Data)?;
        match plot {
            Some(plot) => {
                draw(file, &plot, &scored, choice.baseline(&scored.signal)).map_err(Failure::Data)
            }
            None => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn replay_tree(data: &Path, out: &Path, choice: &Choice) -> ExitCode {
    let Some(name) = out.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
        eprintln!(
            "error: --out {} does not end in a detector name: use RESULTS_DIR/NAME",
            out.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    let files = match csv_files(data, out) {
        Ok(f) if f.is_empty() => {
            eprintln!("error: {}: no .csv files found", data.display());
            return ExitCode::FAILURE;
        }
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut exit = 0u8;
    let mut failed = 0usize;
    let mut rows = 0usize;
    let mut unsorted = 0usize;
    for relative in &files {
        let result = score_file(&data.join(relative), choice, Order::Any).and_then(|scored| {
            rows += scored.series.values.len();
            let back = steps_back(&scored.series.ts_ms);
            if let Some(first) = back.first {
                unsorted += back.count;
                eprintln!(
                    "note: {}: {} row(s) earlier than the row before them (the first is data row {}, `{}`), scored in file order as NAB does",
                    relative.display(),
                    back.count,
                    first + 1,
                    scored.series.texts[first].0
                );
            }
            write_results(out, &name, relative, &scored.series, &scored.scores())
                .map_err(Failure::Data)
        });
        if let Err(e) = result {
            eprintln!("error: {e}");
            failed += 1;
            exit = exit.max(e.exit_code());
        }
    }
    eprintln!(
        "replayed {} of {} files ({rows} rows, {unsorted} out of time order, scored in file order) into {}",
        files.len() - failed,
        files.len(),
        out.display()
    );
    ExitCode::from(exit)
}

/// Rows earlier than the row before them: how many, and the index of the first.
struct StepsBack {
    count: usize,
    first: Option<usize>,
}

fn steps_back(ts_ms: &[i64]) -> StepsBack {
    let mut back = StepsBack {
        count: 0,
        first: None,
    };
    for (i, pair) in ts_ms.windows(2).enumerate() {
        if pair[1] < pair[0] {
            back.count += 1;
            back.first.get_or_insert(i + 1);
        }
    }
    back
}

/// Why a file was not replayed: its detector's configuration (exit 2) or its data (exit 1).
#[derive(Debug)]
enum Failure {
    Config(String),
    Data(anyhow::Error),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => EXIT_CONFIG,
            Failure::Data(_) => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Config(e) => f.write_str(e),
            Failure::Data(e) => write!(f, "{e:#}"),
        }
    }
}

/// A file's rows and what its detector made of each.
struct Scored {
    signal: String,
    series: Series,
    verdicts: Vec<Verdict>,
    detector: &'static str,
    threshold: f64,
}

impl Scored {
    /// The score of each row, 0 while the detector warms up or for a value it skipped.
    fn scores(&self) -> Vec<f64> {
        self.verdicts
            .iter()
            .map(|v| match v {
                Verdict::Scored(o) => o.score,
                Verdict::WarmingUp | Verdict::Skipped => 0.0,
            })
            .collect()
    }
}

/// Reads a series and scores every row with a fresh detector.
fn score_file(path: &Path, choice: &Choice, order: Order) -> Result<Scored, Failure> {
    let signal = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("replay");
    let (mut detector, threshold) = choice
        .build(signal)
        .map_err(|e| Failure::Config(format!("{}: {e}", path.display())))?;
    let series =
        csv_series::read(path, "value", order).map_err(|e| Failure::Data(anyhow::Error::new(e)))?;
    let verdicts = series
        .ts_ms
        .iter()
        .zip(&series.values)
        .map(|(&ts, &v)| detector.observe(ts, v))
        .collect();
    Ok(Scored {
        signal: signal.to_owned(),
        series,
        verdicts,
        detector: detector.name(),
        threshold,
    })
}

/// `--plot`: the chart of a scored file, with the alerts the lifecycle would have raised.
fn draw(
    file: &Path,
    plot: &Plot<'_>,
    scored: &Scored,
    mut baseline: Option<Seasonal>,
) -> anyhow::Result<()> {
    let seasonal_band = baseline.is_some();
    let (svg, alerting) = (plot.svg, plot.alerting);
    let series = &scored.series;
    // The labelled windows: from --windows (its entry must exist), else from the NAB layout
    // the file sits in, if any.
    let windows = match plot.windows {
        Some(path) => crate::cli::labels::windows_of(path, file, &series.ts_ms)?,
        None => match crate::cli::labels::beside(file) {
            Some(path) => match crate::cli::labels::windows_of(&path, file, &series.ts_ms) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("note: no labelled windows drawn: {e:#}");
                    Vec::new()
                }
            },
            None => Vec::new(),
        },
    };
    let rows = series.values.len();
    let (mut low, mut high, mut scores) = (
        vec![f64::NAN; rows],
        vec![f64::NAN; rows],
        vec![f64::NAN; rows],
    );
    for (i, v) in scored.verdicts.iter().enumerate() {
        // The seasonal baseline's band where the detector has one and the point is normal (an
        // anomalous point keeps the range its evidence expected).
        let band =
            baseline
                .as_mut()
                .and_then(|b| match b.observe(series.ts_ms[i], series.values[i]) {
                    Verdict::Scored(o) => Some((o.expected_low, o.expected_high)),
                    Verdict::WarmingUp | Verdict::Skipped => None,
                });
        if let Verdict::Scored(o) = v {
            (low[i], high[i], scores[i]) = (o.expected_low, o.expected_high, o.score);
            if let (Some((l, h)), false) = (band, o.anomalous) {
                (low[i], high[i]) = (l, h);
            }
        }
    }
    let (fired, resolved) = alerts(scored, alerting);
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let chart = crate::cli::plot::Chart {
        title: name,
        unit: crate::unit::Unit::of(&scored.signal),
        subtitle: format!(
            "{rows} rows · signal {} · detector {} · {} alert(s) fired{}",
            scored.signal,
            scored.detector,
            fired.len(),
            if seasonal_band {
                " · band: seasonal baseline"
            } else {
                ""
            }
        ),
        ts_ms: &series.ts_ms,
        values: &series.values,
        expected: Some((&low, &high)),
        scores: &scores,
        threshold: scored.threshold,
        markers: vec![
            crate::cli::plot::Markers {
                kind: crate::cli::plot::MarkerKind::AlertFired,
                rows: fired,
            },
            crate::cli::plot::Markers {
                kind: crate::cli::plot::MarkerKind::AlertResolved,
                rows: resolved,
            },
        ],
        windows: windows.iter().map(|w| (w.first, w.last)).collect(),
    };
    let started = std::time::Instant::now();
    let bytes = crate::cli::plot::write(&chart, svg)?;
    eprintln!(
        "plotted {} into {} ({bytes} bytes in {} ms)",
        file.display(),
        svg.display(),
        started.elapsed().as_millis()
    );
    Ok(())
}

/// The rows where the agent's alert lifecycle would have fired (or re-sent, on escalation)
/// an alert, and where it would have resolved one: the scored points fed to
/// [`crate::alerting::lifecycle::Alerting`] as the live pipeline feeds them.
fn alerts(scored: &Scored, config: &AlertingConfig) -> (Vec<usize>, Vec<usize>) {
    use crate::alerting::lifecycle::Alerting;
    use crate::event::Normal;
    use crate::event::{AlertState, Anomaly, Range};
    let mut alerting = Alerting::new("replay".into(), config);
    let signal: std::sync::Arc<str> = scored.signal.as_str().into();
    let (mut fired, mut resolved) = (Vec::new(), Vec::new());
    let series = &scored.series;
    for (row, verdict) in scored.verdicts.iter().enumerate() {
        let (ts_ms, observed) = (series.ts_ms[row], series.values[row]);
        if !matches!(verdict, Verdict::Skipped) {
            alerting.learn(&signal, observed);
        }
        let event = match verdict {
            Verdict::Scored(o) if o.anomalous => alerting.on_anomaly(&Anomaly {
                signal: std::sync::Arc::clone(&signal),
                ts_ms,
                score: o.score,
                observed,
                expected_low: o.expected_low,
                expected_high: o.expected_high,
                detector: scored.detector,
                evidence: o.evidence,
            }),
            Verdict::Scored(o) => alerting.on_normal(
                &signal,
                &Normal {
                    ts_ms,
                    observed,
                    score: o.score,
                    expected: Range {
                        low: o.expected_low,
                        high: o.expected_high,
                    },
                },
            ),
            Verdict::WarmingUp | Verdict::Skipped => None,
        };
        match event.map(|e| e.state) {
            Some(AlertState::Firing) => fired.push(row),
            Some(AlertState::Resolved) => resolved.push(row),
            None => {}
        }
    }
    (fired, resolved)
}

fn write_rows(out: impl Write, series: &Series, scores: &[f64]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for ((ts, value), score) in series.texts.iter().zip(scores) {
        w.write_record([ts.as_str(), value.as_str(), &format_score(*score), "0"])?;
    }
    w.flush()?;
    Ok(())
}

/// A score rounded to 12 significant digits, as NAB's (Python 2) results files hold them, and
/// printed in the shortest form that reads back as that value. NAB scores what it reads back
/// from these files, and thresholds at the edge (windowedGaussian's is 1.0) select different
/// rows if the digits beyond the 12th are kept.
fn format_score(score: f64) -> String {
    let rounded: f64 = format!("{score:.11e}").parse().unwrap_or(score);
    format!("{rounded:?}")
}

/// Writes `OUT/<relative's folder>/NAME_<relative's file name>` atomically.
fn write_results(
    out: &Path,
    name: &str,
    relative: &Path,
    series: &Series,
    scores: &[f64],
) -> anyhow::Result<()> {
    let file_name = relative
        .file_name()
        .and_then(|f| f.to_str())
        .with_context(|| format!("{}: not a file name", relative.display()))?;
    let folder = out.join(relative.parent().unwrap_or(Path::new("")));
    fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let target = folder.join(format!("{name}_{file_name}"));
    let mut tmp = tempfile::Builder::new()
        .prefix(".seismo-replay-")
        .tempfile_in(&folder)
        .with_context(|| format!("cannot create a temporary file in {}", folder.display()))?;
    write_rows(std::io::BufWriter::new(tmp.as_file_mut()), series, scores)
        .with_context(|| format!("cannot write {}", target.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", target.display()))?;
    tmp.persist(&target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

/// The `*.csv` files under `root`, as sorted paths relative to it, leaving out `skip` (the
/// output folder, when it lies inside the data folder). Symlinked folders are not followed.
pub(crate) fn csv_files(root: &Path, skip: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let skip = fs::canonicalize(skip).ok();
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = root.join(&relative);
        if skip.is_some() && fs::canonicalize(&dir).ok() == skip {
            continue;
        }
        let entries =
            fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let path = relative.join(entry.file_name());
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot read {}", root.join(&path).display()))?;
            if kind.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "csv") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_back_counts_rows_earlier_than_their_predecessor() {
        let none = steps_back(&[1, 2, 2, 3]);
        assert_eq!((none.count, none.first), (0, None));
        let two = steps_back(&[1, 5, 4, 6, 2, 7]);
        assert_eq!((two.count, two.first), (2, Some(2)));
    }

    #[test]
    fn scores_keep_twelve_significant_digits() {
        assert_eq!(format_score(0.0), "0.0");
        assert_eq!(format_score(1.0), "1.0");
        assert_eq!(format_score(0.999_999_999_999_96), "1.0");
        assert_eq!(format_score(0.999_999_999_999_4), "0.999999999999");
        assert_eq!(format_score(0.546_663_530_392_501_5), "0.546663530393");
        assert_eq!(format_score(0.5), "0.5");
        assert_eq!(format_score(1.234_567_890_123_4e-7), "1.23456789012e-7");
    }
}
