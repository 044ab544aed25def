//! NAB's scoring rules, reimplemented from its sweeper: per-point sweep scores, scoring at a
//! threshold, the corpus-wide threshold sweep and the normalisation.
//!
//! The rules (see the module documentation of [`crate::nab`] for the public view):
//!
//! - A point inside a window scores as a true positive placed at relative position
//!   `-(last - i + 1) / width` (from `-1` at the window's first row to `-1/width` at its last),
//!   worth `tp * scaled_sigmoid(position) / scaled_sigmoid(-1)`: exactly `tp` at the first row.
//! - A point outside every window scores as a false positive: `-fp` when no window precedes it,
//!   else `fp * scaled_sigmoid(|i - prev_last| / (prev_width - 1))`, cheap right after a window
//!   and `-fp` from three window widths on.
//! - The first `min(floor(0.15 n), 750)` rows (the probation period) score 0 and are left out
//!   of the TP/TN/FP/FN counts, but still count in `total`.
//! - At a threshold, the detections are the points with `anomaly score >= threshold`. Each
//!   window contributes `-fn` when undetected, else the best (earliest) sweep score of its
//!   detections; every false positive adds its own (negative) sweep score.

use super::model::{Costs, Counts, FileScores, ScoreError, ThresholdScore, Window};

/// NAB's probation period: 15% of the rows, at most 15% of 5000.
const PROBATION_FRACTION: f64 = 0.15;
const PROBATION_CAP_ROWS: f64 = 5000.0;

/// The threshold NAB's sweep starts from: above any score, so nothing is detected.
pub(crate) const NOTHING_DETECTED: f64 = 1.1;

/// NAB's `scaledSigmoid`: `2 * sigmoid(-5 x) - 1`, and `-1` past `x = 3`.
pub fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * relative_position).exp()) - 1.0
    }
}

/// Rows at the start of a file of `rows` rows that NAB does not score.
pub fn probation_rows(rows: usize) -> usize {
    let n = rows as f64;
    // Both operands are whole numbers, so the cast is exact.
    (PROBATION_FRACTION * n)
        .floor()
        .min(PROBATION_FRACTION * PROBATION_CAP_ROWS) as usize
}

/// One row after the sweep: its anomaly score, what detecting it is worth, and its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SweepPoint {
    pub anomaly: f64,
    /// The value added when this point is detected (0 during probation).
    pub worth: f64,
    /// Index of the window holding the point, within its file.
    pub window: Option<u32>,
    pub in_probation: bool,
}

/// Checks the windows (sorted, disjoint, inside the file) and the scores (no NaN).
pub(crate) fn validate(scores: &[f64], windows: &[Window]) -> Result<(), ScoreError> {
    if let Some(row) = scores.iter().position(|s| s.is_nan()) {
        return Err(ScoreError::NanScore { row });
    }
    let rows = scores.len();
    let mut previous_last: Option<usize> = None;
    for (index, w) in windows.iter().enumerate() {
        if w.first > w.last || w.last >= rows {
            return Err(ScoreError::WindowOutOfRange {
                index,
                first: w.first,
                last: w.last,
                rows,
            });
        }
        if previous_last.is_some_and(|p| w.first <= p) {
            return Err(ScoreError::WindowsOverlap { index });
        }
        previous_last = Some(w.last);
    }
    if u32::try_from(windows.len()).is_err() {
        return Err(ScoreError::TooManyWindows(windows.len()));
    }
    Ok(())
}

/// NAB's `calcSweepScore`: what detecting each row would be worth. Inputs must validate.
pub(crate) fn sweep(scores: &[f64], windows: &[Window], costs: &Costs) -> Vec<SweepPoint> {
    let probation = probation_rows(scores.len());
    let max_tp = scaled_sigmoid(-1.0);
    let mut next = 0usize;
    // (index, first, last) of the window the sweep is in.
    let mut current: Option<(usize, usize, usize)> = None;
    // (last row, width) of the most recent window left behind.
    let mut previous: Option<(usize, usize)> = None;
    let mut points = Vec::with_capacity(scores.len());
    for (i, &anomaly) in scores.iter().enumerate() {
        if let Some(w) = windows.get(next) {
            if w.first == i {
                current = Some((next, w.first, w.last));
                next += 1;
            }
        }
        let worth = match (current, previous) {
            (Some((_, first, last)), _) => {
                let width = (last - first + 1) as f64;
                let position = -((last - i + 1) as f64) / width;
                scaled_sigmoid(position) * costs.tp / max_tp
            }
            (None, None) => -costs.fp,
            (None, Some((prev_last, prev_width))) => {
                // A one-row window divides by zero in NAB; infinitely far is its natural limit.
                let position = if prev_width > 1 {
                    (i - prev_last) as f64 / (prev_width - 1) as f64
                } else {
                    f64::INFINITY
                };
                scaled_sigmoid(position) * costs.fp
            }
        };
        let in_probation = i < probation;
        points.push(SweepPoint {
            anomaly,
            worth: if in_probation { 0.0 } else { worth },
            // Fits: validate() bounds the number of windows by u32::MAX.
            window: current.map(|(index, _, _)| index as u32),
            in_probation,
        });
        if let Some((_, first, last)) = current {
            if i == last {
                previous = Some((last, last - first + 1));
                current = None;
            }
        }
    }
    points
}

/// Score and counts of one swept file at `threshold`.
pub(crate) fn score_points(
    points: &[SweepPoint],
    windows: usize,
    costs: &Costs,
    threshold: f64,
) -> FileScores {
    let mut parts = vec![-costs.fn_; windows];
    let mut fp_sum = 0.0;
    let mut counts = Counts {
        total: points.len() as u64,
        ..Counts::default()
    };
    for p in points {
        let detected = p.anomaly >= threshold;
        if detected {
            match p.window {
                Some(w) => {
                    let part = &mut parts[w as usize];
                    *part = part.max(p.worth);
                }
                None => fp_sum += p.worth,
            }
        }
        if !p.in_probation {
            match (detected, p.window.is_some()) {
                (true, true) => counts.tp += 1,
                (true, false) => counts.fp += 1,
                (false, true) => counts.fn_ += 1,
                (false, false) => counts.tn += 1,
            }
        }
    }
    FileScores {
        score: fp_sum + parts.iter().sum::<f64>(),
        counts,
    }
}

/// NAB's corpus-wide `calcScoreByThreshold` followed by the pick of the best score: every
/// distinct anomaly score is tried as a threshold (plus 1.1, which detects nothing); ties go
/// to the highest threshold, as NAB's stable sort does. `files` are (points, window count).
pub(crate) fn best_threshold(files: &[(Vec<SweepPoint>, usize)], costs: &Costs) -> ThresholdScore {
    // Global window ids: offset of each file's first window.
    let mut offsets = Vec::with_capacity(files.len());
    let mut n_windows = 0usize;
    for (_, w) in files {
        offsets.push(n_windows);
        n_windows += w;
    }
    let mut order: Vec<(f64, f64, Option<usize>)> = files
        .iter()
        .zip(&offsets)
        .flat_map(|((points, _), &offset)| {
            points
                .iter()
                .map(move |p| (p.anomaly, p.worth, p.window.map(|w| offset + w as usize)))
        })
        .collect();
    // Descending anomaly score; stable, like Python's sorted(reverse=True).
    order.sort_by(|a, b| b.0.total_cmp(&a.0));

    let mut parts = vec![-costs.fn_; n_windows];
    let mut fp_sum = 0.0;
    let mut window_sum = -costs.fn_ * n_windows as f64;
    let mut best = ThresholdScore {
        threshold: NOTHING_DETECTED,
        score: fp_sum + window_sum,
    };
    let mut current = NOTHING_DETECTED;
    for &(anomaly, worth, window) in &order {
        if anomaly != current {
            // The score of `current`: every point at or above it is in.
            let score = fp_sum + window_sum;
            if score > best.score {
                best = ThresholdScore {
                    threshold: current,
                    score,
                };
            }
            current = anomaly;
        }
        match window {
            Some(w) => {
                let old = parts[w];
                if worth > old {
                    parts[w] = worth;
                    window_sum += worth - old;
                }
            }
            None => fp_sum += worth,
        }
    }
    let score = fp_sum + window_sum;
    if score > best.score {
        best = ThresholdScore {
            threshold: current,
            score,
        };
    }
    best
}
