//! Evaluation of the detectors on the Numenta Anomaly Benchmark (NAB) files under
//! `$SEISMO_EVAL_DATA/nab`: every detector in its default configuration (no per-file or
//! per-category parameters; labels are read only to score), scored with NAB's rules
//! ([`seismo_detectors::nab`]), threshold optimised per detector and profile as NAB does.
//!
//! - `ensemble_nab_score_stays_above_its_floor` runs whenever `SEISMO_EVAL_DATA` is set (and
//!   fails if the data is missing): the regression gate of the default detector.
//! - `nab_scores_of_every_detector` prints the table of docs/detectors.md: every detector and
//!   NAB's published entries found under `nab/results` (re-scored here on the same files), each
//!   normalised twice (see [`Normalised`]), then per category (raw score, windows found, rows
//!   TP/FP/FN) and on two halves of the files (alternate files of each category: constants
//!   tuned on one half must hold on the other); run it with
//!   `cargo test --release -p seismo-detectors --test nab_eval -- --ignored --nocapture`.

use std::path::{Path, PathBuf};

use seismo_detectors::nab::{
    self, LabelledFile, Profile, Window, WindowedGaussian, WindowedGaussianParams,
};
use seismo_detectors::{
    Cusum, CusumParams, Detector, Ensemble, EnsembleParams, EwmaParams, KMeansDetector,
    KMeansParams, KnnConformal, KnnParams, MadParams, RobustEwma, Seasonal, SeasonalParams,
    SlidingMad, Verdict,
};

/// Measured 76.11 (standard), 69.62 (reward_low_FP) and 80.69 (reward_low_FN) on the 37 shared
/// files (75.88 / 69.19 / 80.54 with the residual from the best rhythm alone, 74.55 / 68.07 /
/// 79.17 with a level's base of 0.46 alone, 74.32 / 67.64 / 79.01 before both; 70.41 / 63.60 /
/// 74.96 before the smoothed seasonal residual and the 2% new-extreme rule); the floors sit one
/// point under so that a regression fails.
const STANDARD_FLOOR: f64 = 75.1;
const LOW_FP_FLOOR: f64 = 68.6;
const LOW_FN_FLOOR: f64 = 79.7;

struct NabFile {
    /// `realTraffic/speed_t4013.csv`
    name: String,
    ts_ms: Vec<i64>,
    values: Vec<f64>,
    windows: Vec<Window>,
}

/// `$SEISMO_EVAL_DATA/nab`, or `None` (with a notice) when the variable is unset.
fn nab_root() -> Option<PathBuf> {
    match std::env::var_os("SEISMO_EVAL_DATA") {
        Some(dir) => Some(Path::new(&dir).join("nab")),
        None => {
            println!("SEISMO_EVAL_DATA is not set: skipping the NAB evaluation");
            None
        }
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) in unix milliseconds, fractions ignored.
fn timestamp_ms(text: &str) -> i64 {
    let t = text.trim();
    let n = |r: std::ops::Range<usize>| -> i64 {
        t.get(r.clone())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad timestamp `{t}`"))
    };
    let days = days_from_civil(n(0..4), n(5..7), n(8..10));
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) * 1000
}

fn load(root: &Path) -> Vec<NabFile> {
    let labels = root.join("labels/combined_windows.json");
    let text = std::fs::read_to_string(&labels)
        .unwrap_or_else(|e| panic!("{}: {e} (is SEISMO_EVAL_DATA right?)", labels.display()));
    let windows: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("combined_windows.json is a JSON object");
    let data = root.join("data");
    let mut files = Vec::new();
    let mut categories: Vec<_> = std::fs::read_dir(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    for category in categories {
        let mut paths: Vec<_> = std::fs::read_dir(&category)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path
                .strip_prefix(&data)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            let (mut ts_ms, mut values) = (Vec::new(), Vec::new());
            for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
                let (t, v) = line.split_once(',').expect("timestamp,value");
                ts_ms.push(timestamp_ms(t));
                values.push(v.trim().parse::<f64>().expect("a number"));
            }
            let spans = windows[&name].as_array().expect("a list of windows");
            let windows = spans
                .iter()
                .map(|w| {
                    let start = timestamp_ms(w[0].as_str().unwrap());
                    let end = timestamp_ms(w[1].as_str().unwrap());
                    let first = ts_ms.iter().position(|&t| t >= start).unwrap();
                    let last = ts_ms.iter().rposition(|&t| t <= end).unwrap();
                    Window { first, last }
                })
                .collect();
            files.push(NabFile {
                name,
                ts_ms,
                values,
                windows,
            });
        }
    }
    assert!(!files.is_empty(), "no NAB files under {}", data.display());
    files
}

type Make = fn() -> Box<dyn Detector>;

fn detectors() -> Vec<(&'static str, Make)> {
    vec![
        ("ensemble", || {
            Box::new(Ensemble::new(EnsembleParams::default()).unwrap())
        }),
        ("ewma", || {
            Box::new(RobustEwma::new(EwmaParams::default()).unwrap())
        }),
        ("mad", || {
            Box::new(SlidingMad::new(MadParams::default()).unwrap())
        }),
        ("seasonal", || {
            Box::new(Seasonal::new(SeasonalParams::default()).unwrap())
        }),
        ("cusum", || {
            Box::new(Cusum::new(CusumParams::default()).unwrap())
        }),
        ("kmeans", || {
            Box::new(KMeansDetector::new(KMeansParams::default()).unwrap())
        }),
        ("knn", || {
            Box::new(KnnConformal::new(KnnParams::default()).unwrap())
        }),
        ("windowedGaussian", || {
            Box::new(WindowedGaussian::new(WindowedGaussianParams::default()).unwrap())
        }),
    ]
}

/// The anomaly score of every row (0 while warming up), as `seismo replay` writes it.
fn score(make: Make, file: &NabFile) -> Vec<f64> {
    let mut det = make();
    file.ts_ms
        .iter()
        .zip(&file.values)
        .map(|(&t, &v)| match det.observe(t, v) {
            Verdict::Scored(o) => o.score,
            Verdict::WarmingUp | Verdict::Skipped => 0.0,
        })
        .collect()
}

/// The default ensemble's score of every row and the kind of its strongest evidence
/// (`"below"` for a row under the ensemble's own threshold, `""` while warming up).
fn score_kinds(file: &NabFile) -> (Vec<f64>, Vec<&'static str>) {
    let mut det = Ensemble::new(EnsembleParams::default()).unwrap();
    file.ts_ms
        .iter()
        .zip(&file.values)
        .map(|(&t, &v)| match det.observe(t, v) {
            Verdict::Scored(o) => (
                o.score,
                o.evidence.primary().map_or("below", |c| c.finding.kind()),
            ),
            Verdict::WarmingUp | Verdict::Skipped => (0.0, ""),
        })
        .unzip()
}

/// Per category, at `threshold`: the evidence kind of the first detection of each window
/// (after the probation period) and of every detection outside the windows, as counts.
fn detections_by_kind(files: &[NabFile], threshold: f64) {
    use std::collections::BTreeMap;
    let mut table: BTreeMap<(String, &str), (usize, usize)> = BTreeMap::new();
    for f in files {
        let category = f.name.split('/').next().unwrap().to_string();
        let (scores, kinds) = score_kinds(f);
        let probation = nab::probation_rows(scores.len());
        for w in &f.windows {
            if let Some(i) = (w.first.max(probation)..=w.last).find(|&i| scores[i] >= threshold) {
                table.entry((category.clone(), kinds[i])).or_default().0 += 1;
            }
        }
        for i in probation..scores.len() {
            let inside = f.windows.iter().any(|w| (w.first..=w.last).contains(&i));
            if scores[i] >= threshold && !inside {
                table.entry((category.clone(), kinds[i])).or_default().1 += 1;
            }
        }
    }
    println!(
        "ensemble detections by evidence kind (threshold {threshold:.4}): windows found / false"
    );
    for ((category, kind), (found, false_)) in table {
        println!("  {category:<22} {kind:<14} {found:>4} {false_:>4}");
    }
}

/// The anomaly scores of a published NAB entry (`nab/results/NAME/<category>/NAME_<file>`,
/// column `anomaly_score`), one per row of every file; `None` when any file is missing.
fn published(root: &Path, entry: &str, files: &[NabFile]) -> Option<Vec<Vec<f64>>> {
    files
        .iter()
        .map(|f| {
            let (category, file) = f.name.split_once('/')?;
            let path = root
                .join("results")
                .join(entry)
                .join(category)
                .join(format!("{entry}_{file}"));
            let text = std::fs::read_to_string(path).ok()?;
            let mut lines = text.lines();
            let column = lines
                .next()?
                .split(',')
                .position(|c| c == "anomaly_score")?;
            let scores: Vec<f64> = lines
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.split(',').nth(column).and_then(|v| v.trim().parse().ok()))
                .collect::<Option<_>>()?;
            (scores.len() == f.values.len()).then_some(scores)
        })
        .collect()
}

/// The raw score of the "Totals" row of NAB's `results/null/null_<profile>_scores.csv`.
fn published_null_total(root: &Path, profile: Profile) -> Option<f64> {
    let path = root
        .join("results/null")
        .join(format!("null_{}_scores.csv", profile.name()));
    let text = std::fs::read_to_string(path).ok()?;
    let totals = text.lines().find(|l| l.starts_with("Totals"))?;
    totals.split(',').nth(4)?.trim().parse().ok()
}

/// One detector's corpus score under one profile, normalised two ways:
/// - `same_files`: NAB's rule over the files scored, null = NAB's null detector on these files
///   (`-fn` per window, the sum of the per-file rows of `results/null`), perfect = `tp` per
///   window: what NAB's runner gives when the null detector is scored on the same corpus;
/// - `issue_23`: the figures of issue 23, whose null is the stale "Totals" row shipped in
///   `results/null/null_<profile>_scores.csv` (NAB's full 58-file corpus, 116 windows) while
///   the perfect score counts the 69 windows of these files. Only for comparison with it.
#[derive(Debug, Clone, Copy)]
struct Normalised {
    profile: Profile,
    threshold: f64,
    raw: f64,
    same_files: f64,
    issue_23: Option<f64>,
}

fn labelled<'a>(files: &'a [NabFile], scores: &'a [Vec<f64>]) -> Vec<LabelledFile<'a>> {
    files
        .iter()
        .zip(scores)
        .map(|(f, s)| LabelledFile {
            scores: s,
            windows: &f.windows,
        })
        .collect()
}

/// Normalised NAB score and optimised threshold per profile of `scores` over `files`.
fn evaluate_scores(root: &Path, files: &[NabFile], scores: &[Vec<f64>]) -> Vec<Normalised> {
    let corpus = labelled(files, scores);
    let windows = files.iter().map(|f| f.windows.len()).sum();
    Profile::ALL
        .iter()
        .map(|&profile| {
            let costs = profile.costs();
            let best = nab::optimize_threshold(&corpus, &costs).unwrap();
            let perfect = costs.tp * windows as f64;
            Normalised {
                profile,
                threshold: best.threshold,
                raw: best.score,
                same_files: nab::normalized_score(best.score, windows, &costs).unwrap(),
                issue_23: published_null_total(root, profile)
                    .and_then(|null| nab::normalize(best.score, null, perfect)),
            }
        })
        .collect()
}

fn evaluate(root: &Path, make: Make, files: &[NabFile]) -> Vec<Normalised> {
    let scores: Vec<Vec<f64>> = files.iter().map(|f| score(make, f)).collect();
    evaluate_scores(root, files, &scores)
}

/// Per category, at `threshold` under `profile`: raw score, windows detected (outside the
/// probation period) of windows, detections outside windows, and NAB's row counts.
fn per_category(files: &[NabFile], scores: &[Vec<f64>], profile: Profile, threshold: f64) {
    let costs = profile.costs();
    let mut categories: Vec<&str> = files
        .iter()
        .map(|f| f.name.split('/').next().unwrap())
        .collect();
    categories.dedup();
    println!(
        "  {:<22} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6}",
        "category", "raw", "windows", "FPdet", "TP", "FP", "FN"
    );
    for category in categories {
        let (mut raw, mut found, mut windows, mut fp_det) = (0.0, 0, 0, 0);
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for (f, s) in files.iter().zip(scores) {
            if !f.name.starts_with(&format!("{category}/")) {
                continue;
            }
            let r = nab::score_file(s, &f.windows, &costs, threshold).unwrap();
            raw += r.score;
            (tp, fp, fn_) = (tp + r.counts.tp, fp + r.counts.fp, fn_ + r.counts.fn_);
            let probation = nab::probation_rows(s.len());
            windows += f.windows.len();
            found += f
                .windows
                .iter()
                .filter(|w| (w.first.max(probation)..=w.last).any(|i| s[i] >= threshold))
                .count();
            fp_det += (probation..s.len())
                .filter(|&i| s[i] >= threshold)
                .filter(|&i| !f.windows.iter().any(|w| (w.first..=w.last).contains(&i)))
                .count();
        }
        println!(
            "  {category:<22} {raw:>8.3} {:>8} {fp_det:>6} {tp:>6} {fp:>6} {fn_:>6}",
            format!("{found}/{windows}")
        );
    }
}

fn print_row(name: &str, r: &[Normalised]) {
    let issue = |n: &Normalised| n.issue_23.map_or("-".to_string(), |v| format!("{v:.2}"));
    println!(
        "{name:<18} {:>8.2} {:>8.2} {:>8.2} | {:>8} {:>8} {:>8} | raw {:>7.2} {:>7.2} {:>7.2} | thr {:.4} {:.4} {:.4}",
        r[0].same_files,
        r[1].same_files,
        r[2].same_files,
        issue(&r[0]),
        issue(&r[1]),
        issue(&r[2]),
        r[0].raw,
        r[1].raw,
        r[2].raw,
        r[0].threshold,
        r[1].threshold,
        r[2].threshold,
    );
}

#[test]
fn ensemble_nab_score_stays_above_its_floor() {
    let Some(root) = nab_root() else { return };
    let files = load(&root);
    let (_, make) = detectors()[0];
    let result = evaluate(&root, make, &files);
    for r in &result {
        println!(
            "ensemble {:<20} {:6.2} (threshold {:.4})",
            r.profile.name(),
            r.same_files,
            r.threshold
        );
    }
    let of = |p: Profile| result.iter().find(|r| r.profile == p).unwrap().same_files;
    assert!(of(Profile::Standard) >= STANDARD_FLOOR, "{result:?}");
    assert!(of(Profile::RewardLowFp) >= LOW_FP_FLOOR, "{result:?}");
    assert!(of(Profile::RewardLowFn) >= LOW_FN_FLOOR, "{result:?}");
}

/// NAB's entries whose results may be found under `nab/results`.
const PUBLISHED: [&str; 5] = [
    "ARTime",
    "numenta",
    "contextOSE",
    "windowedGaussian",
    "null",
];

#[test]
#[ignore = "prints the NAB table of every detector; run with --ignored --nocapture"]
fn nab_scores_of_every_detector() {
    let Some(root) = nab_root() else { return };
    let files = load(&root);
    let points: usize = files.iter().map(|f| f.values.len()).sum();
    println!(
        "NAB: {} files, {points} points, {} windows",
        files.len(),
        files.iter().map(|f| f.windows.len()).sum::<usize>()
    );
    println!(
        "{:<18} {:>26} | {:>26} |",
        "", "normalised on these files", "issue 23's normalisation"
    );
    println!(
        "{:<18} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} |",
        "detector", "standard", "low_FP", "low_FN", "standard", "low_FP", "low_FN"
    );
    let only_ensemble = std::env::var_os("SEISMO_NAB_ONLY_ENSEMBLE").is_some();
    // (name, scores) of the entries broken down below.
    let mut detailed: Vec<(String, Vec<Vec<f64>>)> = Vec::new();
    for (name, make) in detectors() {
        if only_ensemble && name != "ensemble" {
            continue;
        }
        let scores: Vec<Vec<f64>> = files.iter().map(|f| score(make, f)).collect();
        print_row(name, &evaluate_scores(&root, &files, &scores));
        if name == "ensemble" {
            detailed.push((name.to_string(), scores));
        }
    }
    for entry in PUBLISHED {
        match published(&root, entry, &files) {
            Some(scores) => {
                print_row(
                    &format!("{entry} (NAB)"),
                    &evaluate_scores(&root, &files, &scores),
                );
                if entry != "null" {
                    detailed.push((format!("{entry} (NAB)"), scores));
                }
            }
            None => println!("{entry:<18} (no results under {}/results)", root.display()),
        }
    }

    for (name, scores) in &detailed {
        let r = evaluate_scores(&root, &files, scores);
        for n in &r {
            println!(
                "{name}, {} at its threshold {:.4}:",
                n.profile.name(),
                n.threshold
            );
            per_category(&files, scores, n.profile, n.threshold);
        }
    }

    // Two halves, alternate files of each category: what is tuned on one must hold on the other.
    let mut index_in_category = Vec::new();
    let mut previous = "";
    let mut k = 0;
    for f in &files {
        let category = f.name.split('/').next().unwrap();
        k = if category == previous { k + 1 } else { 0 };
        previous = category;
        index_in_category.push(k);
    }
    for (name, scores) in &detailed {
        for half in 0..2 {
            let (hf, hs): (Vec<&NabFile>, Vec<Vec<f64>>) = files
                .iter()
                .zip(scores)
                .zip(&index_in_category)
                .filter(|(_, &k)| k % 2 == half)
                .map(|((f, s), _)| (f, s.clone()))
                .unzip();
            let owned: Vec<NabFile> = hf
                .into_iter()
                .map(|f| NabFile {
                    name: f.name.clone(),
                    ts_ms: Vec::new(),
                    values: Vec::new(),
                    windows: f.windows.clone(),
                })
                .collect();
            let r = evaluate_scores(&root, &owned, &hs);
            println!(
                "{name} half {} ({} files): {:.2} {:.2} {:.2} (normalised on the half)",
                ["A", "B"][half],
                owned.len(),
                r[0].same_files,
                r[1].same_files,
                r[2].same_files
            );
        }
    }

    // Where the default detector wins and loses, at its standard threshold.
    let scores = &detailed[0].1;
    let corpus = labelled(&files, scores);
    let costs = Profile::Standard.costs();
    let best = nab::optimize_threshold(&corpus, &costs).unwrap();
    let result = nab::score_corpus(&corpus, &costs, best.threshold).unwrap();
    detections_by_kind(&files, best.threshold);
    println!(
        "ensemble per file (standard, threshold {:.4}):",
        best.threshold
    );
    for (f, r) in files.iter().zip(&result.files) {
        let c = r.counts;
        println!(
            "{:>7.3}  windows {}  TP {:>3} FP {:>3}  {}",
            r.score,
            f.windows.len(),
            c.tp,
            c.fp,
            f.name
        );
    }
}

/// Every row the default ensemble scores at or above `SEISMO_NAB_DETAIL_MIN` (default 0.45),
/// after the probation period: where it lies (the first detection of a window, a later one,
/// or a false one with what it costs in the standard profile), its score and its evidence;
/// then each window's first row at that score. What a change to the ensemble is aimed at.
#[test]
#[ignore = "prints every detection of the ensemble; run with --ignored --nocapture"]
fn ensemble_detections_in_detail() {
    let Some(root) = nab_root() else { return };
    let files = load(&root);
    let min: f64 = std::env::var("SEISMO_NAB_DETAIL_MIN")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.45);
    for f in &files {
        let mut det = Ensemble::new(EnsembleParams::default()).unwrap();
        let probation = nab::probation_rows(f.values.len());
        let mut first_of = vec![None; f.windows.len()];
        println!("FILE {} windows {}", f.name, f.windows.len());
        for (i, (&t, &v)) in f.ts_ms.iter().zip(&f.values).enumerate() {
            let Verdict::Scored(o) = det.observe(t, v) else {
                continue;
            };
            if o.score < min || i < probation {
                continue;
            }
            let window = f
                .windows
                .iter()
                .position(|w| (w.first..=w.last).contains(&i));
            let place = match window {
                Some(w) => {
                    let (first, last) = (f.windows[w].first, f.windows[w].last);
                    let position = -((last - i + 1) as f64) / (last - first + 1) as f64;
                    let worth = nab::scaled_sigmoid(position) / nab::scaled_sigmoid(-1.0);
                    let which = if first_of[w].is_none() { "TP" } else { "tp" };
                    first_of[w].get_or_insert(i);
                    format!("{which} w{w} {worth:+.3}")
                }
                None => {
                    let previous = f.windows.iter().rev().find(|w| w.last < i);
                    let cost = previous.map_or(-1.0, |w| {
                        let width = w.last - w.first + 1;
                        if width > 1 {
                            nab::scaled_sigmoid((i - w.last) as f64 / (width - 1) as f64)
                        } else {
                            -1.0
                        }
                    });
                    format!("FP {cost:+.3}")
                }
            };
            let kinds: Vec<&str> = o.evidence.components().map(|c| c.finding.kind()).collect();
            let finding = o.evidence.primary().map_or("below".to_string(), |c| {
                format!("{} {:?}", kinds.join(","), c.finding)
            });
            println!(
                "{:<48} {i:>6} {v:>12.4} {:.4} {place:<20} {finding}",
                f.name, o.score
            );
        }
        for (w, first) in first_of.iter().enumerate() {
            let win = &f.windows[w];
            if first.is_none() {
                println!(
                    "{:<48} window {w} rows {}..={} MISSED at {min}",
                    f.name, win.first, win.last
                );
            }
        }
    }
}
