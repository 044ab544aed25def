//! The benchmark's values: windows, costs and profiles, counts and scores, and the errors of
//! input the scorer cannot work with.

use std::fmt;
use std::str::FromStr;

/// An anomaly window: rows `first..=last` of a file (inclusive, 0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: usize,
    pub last: usize,
}

/// A profile's weights (NAB's `CostMatrix`); `tn` is carried but, as in NAB, unused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
    pub tn: f64,
}

/// NAB's three application profiles (config/profiles.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Standard,
    RewardLowFp,
    RewardLowFn,
}

impl Profile {
    pub const ALL: [Profile; 3] = [
        Profile::Standard,
        Profile::RewardLowFp,
        Profile::RewardLowFn,
    ];

    /// NAB's name: `standard`, `reward_low_FP_rate`, `reward_low_FN_rate`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::RewardLowFp => "reward_low_FP_rate",
            Profile::RewardLowFn => "reward_low_FN_rate",
        }
    }

    /// The weights of NAB's config/profiles.json.
    pub fn costs(self) -> Costs {
        let (fp, fn_) = match self {
            Profile::Standard => (0.11, 1.0),
            Profile::RewardLowFp => (0.22, 1.0),
            Profile::RewardLowFn => (0.11, 2.0),
        };
        Costs {
            tp: 1.0,
            fp,
            fn_,
            tn: 1.0,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of NAB's profiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile `{0}`: use standard, reward_low_FP or reward_low_FN")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    /// NAB's names, with or without the `_rate` suffix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(Profile::Standard),
            "reward_low_FP" | "reward_low_FP_rate" => Ok(Profile::RewardLowFp),
            "reward_low_FN" | "reward_low_FN_rate" => Ok(Profile::RewardLowFn),
            other => Err(UnknownProfile(other.to_string())),
        }
    }
}

/// Rows by outcome, outside the probation period; `total` is every row of the file(s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: u64,
    pub tn: u64,
    pub fp: u64,
    pub fn_: u64,
    pub total: u64,
}

impl Counts {
    pub(super) fn add(&mut self, other: &Counts) {
        self.tp += other.tp;
        self.tn += other.tn;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.total += other.total;
    }
}

/// The raw NAB score of a file (or a sum of files) and its counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FileScores {
    pub score: f64,
    pub counts: Counts,
}

/// A threshold and the raw corpus score it gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    pub threshold: f64,
    pub score: f64,
}

/// One file of a corpus: its anomaly scores (one per row) and its windows.
#[derive(Debug, Clone, Copy)]
pub struct LabelledFile<'a> {
    pub scores: &'a [f64],
    pub windows: &'a [Window],
}

/// A corpus scored at one threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusScores {
    /// In the order of the input files.
    pub files: Vec<FileScores>,
    /// Sum of the files' scores and counts.
    pub total: FileScores,
    /// Number of windows in the corpus.
    pub windows: usize,
    /// [`normalized_score`] of the total; `None` for a corpus without windows.
    pub normalized: Option<f64>,
}

/// Input the scorer cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("the anomaly score of row {row} is NaN")]
    NanScore { row: usize },
    #[error("window {index} (rows {first}..={last}) is not inside the file's {rows} rows")]
    WindowOutOfRange {
        index: usize,
        first: usize,
        last: usize,
        rows: usize,
    },
    #[error("window {index} starts before the previous window ends: windows must be sorted and disjoint")]
    WindowsOverlap { index: usize },
    #[error("{0} windows in one file is more than the scorer handles")]
    TooManyWindows(usize),
}

/// A [`ScoreError`] in file number `file` (0-based, input order) of a corpus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("file #{file}: {error}")]
pub struct CorpusError {
    pub file: usize,
    #[source]
    pub error: ScoreError,
}
