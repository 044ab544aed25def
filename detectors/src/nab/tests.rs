//! Hand-computed NAB scores on tiny labelled files.
//!
//! NAB's scaled sigmoid `2 / (1 + e^(5x)) - 1` equals `-tanh(2.5 x)`, which the expected
//! values below use so that they do not repeat the implementation's formula.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const STANDARD: Costs = Costs {
    tp: 1.0,
    fp: 0.11,
    fn_: 1.0,
    tn: 1.0,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn counts(tp: u64, tn: u64, fp: u64, fn_: u64, total: u64) -> Counts {
    Counts {
        tp,
        tn,
        fp,
        fn_,
        total,
    }
}

/// 40 rows (probation: the first 6), one window on rows 10..=13 (width 4). Scores 0.1 except:
/// rows 2 and 5 (probation) 0.9, row 7 (before the window) 0.9, row 10 (the window's first
/// row) 0.5, rows 11 and 12 (inside) 0.9, row 15 (2 rows after the window) 0.9, row 30 (17 rows
/// after, beyond 3 window widths) 0.9.
fn example() -> (Vec<f64>, Vec<Window>) {
    let mut scores = vec![0.1; 40];
    for i in [2, 5, 7, 11, 12, 15, 30] {
        scores[i] = 0.9;
    }
    scores[10] = 0.5;
    (
        scores,
        vec![Window {
            first: 10,
            last: 13,
        }],
    )
}

#[test]
fn scaled_sigmoid_and_probation() {
    assert_eq!(scaled_sigmoid(0.0), 0.0);
    assert!(close(scaled_sigmoid(-1.0), 2.5_f64.tanh()));
    assert!(close(scaled_sigmoid(0.4), -1.0_f64.tanh()));
    assert!(close(scaled_sigmoid(3.0), -7.5_f64.tanh()));
    assert_eq!(scaled_sigmoid(3.000_001), -1.0);
    assert_eq!(probation_rows(40), 6);
    assert_eq!(probation_rows(2495), 374);
    assert_eq!(probation_rows(4032), 604);
    assert_eq!(probation_rows(5000), 750);
    assert_eq!(probation_rows(22695), 750);
    assert_eq!(probation_rows(0), 0);
}

#[test]
fn hand_computed_standard_profile() {
    let (scores, windows) = example();
    let max_tp = 2.5_f64.tanh();
    // At 0.9: the earliest detection in the window is row 11, at position -(13-11+1)/4.
    // False positives: row 7 (no window before it: -fp), row 15 (position (15-13)/(4-1)),
    // row 30 (position 17/3 > 3: -fp). Rows 2 and 5 are in probation: worth 0.
    let s = score_file(&scores, &windows, &STANDARD, 0.9).unwrap();
    let expected = -0.11 + 1.875_f64.tanh() / max_tp - 0.11 * (5.0_f64 / 3.0).tanh() - 0.11;
    assert!(close(s.score, expected), "{} vs {expected}", s.score);
    // Rows 6..40 are counted: 4 in the window (11, 12 detected), 30 outside (7, 15, 30 detected).
    assert_eq!(s.counts, counts(2, 27, 3, 2, 40));

    // At 0.5 the window's first row is detected too: the window is worth exactly tp.
    let s = score_file(&scores, &windows, &STANDARD, 0.5).unwrap();
    let expected = -0.11 + 1.0 - 0.11 * (5.0_f64 / 3.0).tanh() - 0.11;
    assert!(close(s.score, expected));
    assert_eq!(s.counts, counts(3, 27, 3, 1, 40));

    // Above every score nothing is detected: the window costs -fn.
    let s = score_file(&scores, &windows, &STANDARD, 0.95).unwrap();
    assert_eq!(s.score, -1.0);
    assert_eq!(s.counts, counts(0, 30, 0, 4, 40));

    // At or below the lowest score everything is: the window is worth tp, and every row
    // outside it after probation costs its false-positive weight.
    let s = score_file(&scores, &windows, &STANDARD, 0.1).unwrap();
    let before: f64 = 4.0 * -0.11; // rows 6..=9
    let after: f64 = (14..40)
        .map(|i| {
            let position = f64::from(i - 13) / 3.0;
            if position > 3.0 {
                -0.11
            } else {
                -0.11 * (2.5 * position).tanh()
            }
        })
        .sum();
    assert!(close(s.score, 1.0 + before + after));
    assert_eq!(s.counts, counts(4, 0, 30, 0, 40));
}

#[test]
fn hand_computed_other_profiles() {
    let (scores, windows) = example();
    let low_fp = Profile::RewardLowFp.costs();
    let s = score_file(&scores, &windows, &low_fp, 0.9).unwrap();
    let expected = -0.22 + 1.875_f64.tanh() / 2.5_f64.tanh() - 0.22 * (5.0_f64 / 3.0).tanh() - 0.22;
    assert!(close(s.score, expected));
    let low_fn = Profile::RewardLowFn.costs();
    assert_eq!(
        score_file(&scores, &windows, &low_fn, 0.95).unwrap().score,
        -2.0
    );
    let s = score_file(&scores, &windows, &low_fn, 0.5).unwrap();
    assert!(close(
        s.score,
        -0.11 + 1.0 - 0.11 * (5.0_f64 / 3.0).tanh() - 0.11
    ));
}

#[test]
fn only_the_earliest_detection_in_a_window_counts() {
    let mut scores = vec![0.0; 40];
    let windows = [Window {
        first: 10,
        last: 19,
    }];
    scores[12] = 1.0;
    let one = score_file(&scores, &windows, &STANDARD, 0.5).unwrap();
    scores[13..20].fill(1.0);
    let many = score_file(&scores, &windows, &STANDARD, 0.5).unwrap();
    assert_eq!(one.score, many.score);
    assert!(close(one.score, (2.5 * 0.8_f64).tanh() / 2.5_f64.tanh()));
    assert_eq!((one.counts.tp, many.counts.tp), (1, 8));
}

#[test]
fn windows_in_the_probation_period() {
    // 20 rows: probation is rows 0..3. A window on rows 1..=4.
    let windows = [Window { first: 1, last: 4 }];
    let mut scores = vec![0.0; 20];
    scores[1] = 1.0;
    // Detected only inside the probation period: worth 0, better than -fn.
    let s = score_file(&scores, &windows, &STANDARD, 0.5).unwrap();
    assert_eq!(s.score, 0.0);
    assert_eq!(s.counts, counts(0, 15, 0, 2, 20));
    scores[1] = 0.0;
    scores[4] = 1.0;
    let s = score_file(&scores, &windows, &STANDARD, 0.5).unwrap();
    assert!(close(s.score, (2.5 * 0.25_f64).tanh() / 2.5_f64.tanh()));
    scores[4] = 0.0;
    assert_eq!(
        score_file(&scores, &windows, &STANDARD, 0.5).unwrap().score,
        -1.0
    );
}

#[test]
fn a_one_row_window_does_not_divide_by_zero() {
    let mut scores = vec![0.0; 30];
    scores[21] = 1.0;
    let s = score_file(
        &scores,
        &[Window {
            first: 20,
            last: 20,
        }],
        &STANDARD,
        0.5,
    )
    .unwrap();
    assert_eq!(s.score, -1.0 - 0.11);
}

#[test]
fn corpus_optimisation_and_normalisation() {
    let (a, a_windows) = example();
    // A file without windows and one spike after probation.
    let mut b = vec![0.1; 30];
    b[20] = 0.95;
    let files = [
        LabelledFile {
            scores: &a,
            windows: &a_windows,
        },
        LabelledFile {
            scores: &b,
            windows: &[],
        },
    ];
    // Candidates: 1.1 (-1), 0.95 (-1 - 0.11), 0.9, 0.5 and 0.1; 0.5 is best.
    let best = optimize_threshold(&files, &STANDARD).unwrap();
    assert_eq!(best.threshold, 0.5);
    let at_half = -0.11 + 1.0 - 0.11 * (5.0_f64 / 3.0).tanh() - 0.11 - 0.11;
    assert!(close(best.score, at_half));

    let corpus = score_corpus(&files, &STANDARD, best.threshold).unwrap();
    assert_eq!(corpus.total.score, best.score);
    assert_eq!(corpus.windows, 1);
    assert_eq!(corpus.files[1].counts, counts(0, 25, 1, 0, 30));
    assert_eq!(corpus.total.counts, counts(3, 52, 4, 1, 70));
    // One window: null is -1, perfect +1.
    let normalized = corpus.normalized.unwrap();
    assert!(close(normalized, 100.0 * (at_half + 1.0) / 2.0));

    // With nothing worth detecting, the best is to detect nothing: threshold 1.1, the null score.
    let flat = vec![0.3; 40];
    let files = [LabelledFile {
        scores: &flat,
        windows: &a_windows,
    }];
    let best = optimize_threshold(&files, &STANDARD).unwrap();
    assert_eq!((best.threshold, best.score), (1.1, -1.0));
    assert_eq!(
        score_corpus(&files, &STANDARD, 1.1).unwrap().normalized,
        Some(0.0)
    );
    assert_eq!(normalized_score(5.0, 0, &STANDARD), None);
}

#[test]
fn normalisation_reproduces_nab_final_results() {
    // NAB's published corpus totals (results/*/*_scores.csv "Totals" rows, 116 windows) and
    // final_results.json.
    let cases = [
        (Profile::Standard, -24.013_105_489_1, 39.649_523_496_077_585),
        (
            Profile::RewardLowFp,
            -67.586_272_886_6,
            20.867_985_824_741_38,
        ),
        (
            Profile::RewardLowFn,
            -67.013_105_489_1,
            47.410_027_158_304_6,
        ),
        (Profile::Standard, 46.634_450_197_1, 70.101_056_119_439_65),
        (Profile::Standard, -116.0, 0.0),
    ];
    for (profile, raw, published) in cases {
        let got = normalized_score(raw, 116, &profile.costs()).unwrap();
        assert!(
            (got - published).abs() < 1e-8,
            "{profile}: {got} vs {published}"
        );
    }
}

#[test]
fn optimisation_agrees_with_brute_force() {
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..30 {
        let mut owned = Vec::new();
        for _ in 0..3 {
            let n = rng.random_range(20..300);
            // Few distinct values, so ties between thresholds and rows happen.
            let scores: Vec<f64> = (0..n)
                .map(|_| f64::from(rng.random_range(0..12)) / 11.0)
                .collect();
            let mut windows = Vec::new();
            let mut at = rng.random_range(0..n / 2);
            while at + 5 < n && windows.len() < 3 {
                let last = (at + rng.random_range(1..20)).min(n - 1);
                windows.push(Window { first: at, last });
                at = last + 1 + rng.random_range(0..40);
            }
            owned.push((scores, windows));
        }
        let files: Vec<LabelledFile<'_>> = owned
            .iter()
            .map(|(s, w)| LabelledFile {
                scores: s,
                windows: w,
            })
            .collect();
        for profile in Profile::ALL {
            let costs = profile.costs();
            let best = optimize_threshold(&files, &costs).unwrap();
            let mut candidates: Vec<f64> =
                owned.iter().flat_map(|(s, _)| s.iter().copied()).collect();
            candidates.push(1.1);
            let brute = candidates
                .iter()
                .map(|&t| score_corpus(&files, &costs, t).unwrap().total.score)
                .fold(f64::NEG_INFINITY, f64::max);
            assert!(
                (best.score - brute).abs() < 1e-9,
                "round {round} {profile}: {best:?} vs {brute}"
            );
            let at_best = score_corpus(&files, &costs, best.threshold).unwrap();
            assert_eq!(at_best.total.score, best.score);
        }
    }
}

#[test]
fn bad_input_is_refused() {
    let scores = [0.0, f64::NAN, 0.0];
    assert_eq!(
        score_file(&scores, &[], &STANDARD, 0.5),
        Err(ScoreError::NanScore { row: 1 })
    );
    let scores = [0.0; 10];
    let w = |first, last| Window { first, last };
    assert!(matches!(
        score_file(&scores, &[w(5, 10)], &STANDARD, 0.5),
        Err(ScoreError::WindowOutOfRange { index: 0, .. })
    ));
    assert!(matches!(
        score_file(&scores, &[w(5, 4)], &STANDARD, 0.5),
        Err(ScoreError::WindowOutOfRange { .. })
    ));
    assert_eq!(
        score_file(&scores, &[w(1, 4), w(4, 6)], &STANDARD, 0.5),
        Err(ScoreError::WindowsOverlap { index: 1 })
    );
    assert_eq!(
        score_file(&scores, &[w(5, 6), w(1, 2)], &STANDARD, 0.5),
        Err(ScoreError::WindowsOverlap { index: 1 })
    );
    let files = [
        LabelledFile {
            scores: &scores,
            windows: &[],
        },
        LabelledFile {
            scores: &[f64::NAN],
            windows: &[],
        },
    ];
    let err = optimize_threshold(&files, &STANDARD).unwrap_err();
    assert_eq!(err.file, 1);
    assert_eq!(
        err.to_string(),
        "file #1: the anomaly score of row 0 is NaN"
    );
    assert_eq!(score_corpus(&files, &STANDARD, 0.5).unwrap_err().file, 1);
}

#[test]
fn profile_names() {
    for p in Profile::ALL {
        assert_eq!(p.name().parse::<Profile>(), Ok(p));
    }
    assert_eq!("reward_low_FP".parse::<Profile>(), Ok(Profile::RewardLowFp));
    assert_eq!("reward_low_FN".parse::<Profile>(), Ok(Profile::RewardLowFn));
    assert!("Standard".parse::<Profile>().is_err());
    assert_eq!(Profile::RewardLowFn.costs().fn_, 2.0);
    assert_eq!(Profile::RewardLowFp.costs().fp, 0.22);
}

#[test]
fn normalisation_with_given_baselines() {
    // The same baselines as the rule's: the same figure.
    for raw in [-69.0, 0.0, 27.5, 69.0] {
        let rule = normalized_score(raw, 69, &STANDARD).unwrap();
        assert!(close(normalize(raw, -69.0, 69.0).unwrap(), rule));
    }
    // Issue 23's mixture: NAB's full-corpus null total (116 windows) beside the 69 windows of
    // 37 files lifts a raw 27.88 from 70.2 to 77.77.
    assert!((normalize(27.88, -116.0, 69.0).unwrap() - 77.77).abs() < 0.01);
    assert!((normalized_score(27.88, 69, &STANDARD).unwrap() - 70.20).abs() < 0.01);
    assert_eq!(normalize(1.0, 5.0, 5.0), None);
    assert_eq!(normalize(1.0, 5.0, 4.0), None);
}
