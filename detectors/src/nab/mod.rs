//! The Numenta Anomaly Benchmark (NAB): its scoring and its windowed-Gaussian baseline.
//!
//! This is a reimplementation of NAB's scorer (its sweeper), checked against NAB's published
//! per-file scores (see the agent's `nab_published` test). Pure: the caller reads the files and
//! turns the label windows' timestamps into row indices (first row at or after the window's
//! start, last row at or before its end).
//!
//! # The public API
//!
//! ```
//! use seismo_detectors::nab::{self, LabelledFile, Profile, Window};
//!
//! // One labelled file: an anomaly score per row, in input order, and its windows as
//! // inclusive row ranges, sorted and disjoint.
//! let scores = vec![0.0; 100];
//! let windows = [Window { first: 40, last: 49 }];
//! let costs = Profile::Standard.costs();
//!
//! // Score one file at a threshold (detected = anomaly score >= threshold):
//! let one = nab::score_file(&scores, &windows, &costs, 0.5)?;
//! assert_eq!(one.score, -1.0); // the window was missed: -fn
//! assert_eq!((one.counts.tp, one.counts.fn_, one.counts.total), (0, 10, 100));
//!
//! // A corpus: NAB optimises one threshold for all files, then scores them with it.
//! let corpus = [LabelledFile { scores: &scores, windows: &windows }];
//! let best = nab::optimize_threshold(&corpus, &costs)?;
//! let result = nab::score_corpus(&corpus, &costs, best.threshold)?;
//! // Normalised: 0 for the null detector, 100 for a perfect one.
//! assert_eq!(result.normalized, Some(0.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`score_file`]`(scores, windows, costs, threshold) -> Result<FileScores, ScoreError>`
//! - [`score_corpus`]`(files, costs, threshold) -> Result<CorpusScores, CorpusError>`:
//!   per-file and total scores and counts, and the normalised score.
//! - [`optimize_threshold`]`(files, costs) -> Result<ThresholdScore, CorpusError>`: NAB's
//!   `optimize` step, the threshold with the best raw corpus score.
//! - [`normalized_score`]`(raw, windows, costs) -> Option<f64>`:
//!   `100 (raw - null) / (perfect - null)` with `null = -fn * windows`, `perfect = tp * windows`;
//!   [`normalize`]`(raw, null, perfect)` with baselines of the caller's.
//! - [`Profile`] (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`) gives [`Costs`].
//! - [`WindowedGaussian`]: NAB's `windowedGaussian` detector as a [`crate::Detector`].
//!
//! # NAB's rules
//!
//! Each window is worth `+tp` when its first row is detected, less the later the first
//! detection comes (a scaled sigmoid of the position in the window), and `-fn` when it is
//! missed; only a window's earliest detection counts. Each detection outside the windows costs
//! up to `fp`, less when it is just after a window. The first `min(floor(0.15 n), 750)` rows
//! of a file are its probation period: they score 0 and are not counted in TP/TN/FP/FN (they
//! are in `total`). The counts are per row: TP = detected rows inside windows, FN = undetected
//! rows inside windows, FP and TN likewise outside. A window that starts inside the probation
//! period still counts `-fn` when missed, and 0 when detected only within the probation period.

mod model;
mod scoring;
mod windowed_gaussian;

pub use model::{
    CorpusError, CorpusScores, Costs, Counts, FileScores, LabelledFile, Profile, ScoreError,
    ThresholdScore, UnknownProfile, Window,
};
pub use scoring::{probation_rows, scaled_sigmoid};
pub use windowed_gaussian::{WindowedGaussian, WindowedGaussianParams};

/// NAB's score and counts for one file at `threshold` (detected: anomaly score `>= threshold`).
pub fn score_file(
    scores: &[f64],
    windows: &[Window],
    costs: &Costs,
    threshold: f64,
) -> Result<FileScores, ScoreError> {
    scoring::validate(scores, windows)?;
    let points = scoring::sweep(scores, windows, costs);
    Ok(scoring::score_points(
        &points,
        windows.len(),
        costs,
        threshold,
    ))
}

/// Every file scored at `threshold`, their total and the normalised total.
pub fn score_corpus(
    files: &[LabelledFile<'_>],
    costs: &Costs,
    threshold: f64,
) -> Result<CorpusScores, CorpusError> {
    let mut per_file = Vec::with_capacity(files.len());
    let mut total = FileScores::default();
    let mut windows = 0;
    for (file, f) in files.iter().enumerate() {
        let s = score_file(f.scores, f.windows, costs, threshold)
            .map_err(|error| CorpusError { file, error })?;
        total.score += s.score;
        total.counts.add(&s.counts);
        windows += f.windows.len();
        per_file.push(s);
    }
    Ok(CorpusScores {
        files: per_file,
        total,
        windows,
        normalized: normalized_score(total.score, windows, costs),
    })
}

/// NAB's threshold optimisation: tries every distinct anomaly score of the corpus as the one
/// threshold for all files (and 1.1, which detects nothing) and returns the one with the best
/// raw total score; among equal scores, the highest threshold.
///
/// The returned score is recomputed file by file at the chosen threshold, so it equals
/// `score_corpus(files, costs, threshold)?.total.score` exactly.
pub fn optimize_threshold(
    files: &[LabelledFile<'_>],
    costs: &Costs,
) -> Result<ThresholdScore, CorpusError> {
    let mut swept = Vec::with_capacity(files.len());
    for (file, f) in files.iter().enumerate() {
        scoring::validate(f.scores, f.windows).map_err(|error| CorpusError { file, error })?;
        swept.push((scoring::sweep(f.scores, f.windows, costs), f.windows.len()));
    }
    let best = scoring::best_threshold(&swept, costs);
    let score = swept
        .iter()
        .map(|(points, n)| scoring::score_points(points, *n, costs, best.threshold).score)
        .sum();
    Ok(ThresholdScore {
        threshold: best.threshold,
        score,
    })
}

/// NAB's normalisation: 0 for the null detector (every window missed, `-fn` each), 100 for a
/// perfect one (every window detected at its first row, `+tp` each); `None` without windows.
///
/// Both baselines are over the same files as `raw`: NAB's runner reads the null detector's
/// total from its own scoring of the corpus, which on any set of files is `-fn` per window (its
/// constant score never beats detecting nothing).
pub fn normalized_score(raw: f64, windows: usize, costs: &Costs) -> Option<f64> {
    let n = windows as f64;
    normalize(raw, -costs.fn_ * n, costs.tp * n)
}

/// `100 (raw - null) / (perfect - null)` for given raw baselines; `None` when `perfect <= null`.
/// With baselines from another set of files than `raw` (such as the "Totals" row of NAB's
/// published null results, 58 files, beside a part of the corpus) the figure is not NAB's.
pub fn normalize(raw: f64, null: f64, perfect: f64) -> Option<f64> {
    let span = perfect - null;
    (span > 0.0).then(|| 100.0 * (raw - null) / span)
}

#[cfg(test)]
mod tests;
