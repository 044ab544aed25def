//! Reading a recorded series from CSV: a header row naming the columns, then one row per point
//! in time order. NAB's data files (`timestamp,value`) and results files
//! (`timestamp,value,anomaly_score,label,...`) are both read here.
//!
//! Timestamps are `YYYY-MM-DD HH:MM:SS[.ffffff]` or RFC 3339 (`T` separator, `Z` or `+00:00`),
//! read as UTC. Blank lines are skipped. Every error names the file and the 1-based line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// A series read from CSV. `texts` keeps the fields as written, so they can be echoed back.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Unix milliseconds of each row.
    pub ts_ms: Vec<i64>,
    /// The numeric column asked for, per row (NaN and infinities are kept: detectors skip them).
    pub values: Vec<f64>,
    /// The timestamp and numeric fields of each row as written in the file.
    pub texts: Vec<(String, String)>,
}

/// Whether a row may be earlier than the row before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Timestamps never decrease (equal ones are fine); an earlier one is an error.
    NonDecreasing,
    /// Any order: for files known to step back, such as one of NAB's.
    Any,
}

/// Why a CSV series could not be read: the file, the line, and what is wrong.
#[derive(Debug)]
pub struct CsvError {
    pub path: PathBuf,
    /// 1-based line; 0 when the file could not be opened.
    pub line: u64,
    pub problem: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.problem)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.problem)
        }
    }
}

impl std::error::Error for CsvError {}

/// Reads the columns `timestamp` and `value_column` of the CSV file at `path`. Other columns
/// are ignored. Fails on a missing file, an empty file, a file without rows, a missing column
/// (in the header or in a row), a timestamp or number that does not parse, and, with
/// [`Order::NonDecreasing`], a timestamp earlier than the row before it.
pub fn read(path: &Path, value_column: &str, order: Order) -> Result<Series, CsvError> {
    let bytes = std::fs::read(path).map_err(|e| CsvError {
        path: path.to_owned(),
        line: 0,
        problem: format!("cannot read: {e}"),
    })?;
    parse(path, &bytes, value_column, order)
}

/// [`read`] from memory; `path` only names the source in errors. (The whole input is at hand
/// so that error lines can be counted from byte offsets: the CSV reader's own line count
/// misses skipped blank lines.)
pub fn parse(
    path: &Path,
    input: &[u8],
    value_column: &str,
    order: Order,
) -> Result<Series, CsvError> {
    let err = |line: u64, problem: String| CsvError {
        path: path.to_owned(),
        line,
        problem,
    };
    // 1-based line of the record starting at `byte`. The reader reports the offset where it
    // began looking, before any blank lines it skipped, so step over those first.
    let line_of = |byte: u64| {
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(input.len());
        while matches!(input.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        1 + input[..start].iter().filter(|&&b| b == b'\n').count() as u64
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        // Rows with a wrong number of fields get our own message below.
        .flexible(true)
        .from_reader(input);
    let mut records = reader.records();

    let header = match records.next() {
        None => {
            return Err(err(
                1,
                format!("the file is empty: expected a header line `timestamp,{value_column}`"),
            ))
        }
        Some(r) => r.map_err(|e| csv_problem(path, &e, line_of))?,
    };
    let header_line = header.position().map_or(1, |p| line_of(p.byte()));
    let column = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            err(
                header_line,
                format!(
                    "the header `{}` has no `{name}` column: expected `timestamp,{value_column}`",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            )
        })
    };
    let ts_col = column("timestamp")?;
    let value_col = column(value_column)?;
    let needed = ts_col.max(value_col) + 1;

    let mut series = Series {
        ts_ms: Vec::new(),
        values: Vec::new(),
        texts: Vec::new(),
    };
    for record in records {
        let record = record.map_err(|e| csv_problem(path, &e, line_of))?;
        // The line is counted only for an error: counting it for every row would be quadratic.
        let byte = record.position().map_or(0, |p| p.byte());
        if record.len() < needed {
            return Err(err(
                line_of(byte),
                format!(
                    "{} field(s) where the header has {}: a column is missing",
                    record.len(),
                    header.len()
                ),
            ));
        }
        let ts_text = record.get(ts_col).unwrap_or_default();
        let value_text = record.get(value_col).unwrap_or_default();
        let ts_ms = parse_timestamp(ts_text.trim()).ok_or_else(|| {
            err(
                line_of(byte),
                format!("timestamp `{ts_text}` is not `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC, 1970 or later)"),
            )
        })?;
        let value: f64 = value_text.trim().parse().map_err(|_| {
            err(
                line_of(byte),
                format!("{value_column} `{value_text}` is not a number"),
            )
        })?;
        if let (Order::NonDecreasing, Some(&previous)) = (order, series.ts_ms.last()) {
            if ts_ms < previous {
                let (previous_text, _) = &series.texts[series.texts.len() - 1];
                return Err(err(
                    line_of(byte),
                    format!("timestamp `{ts_text}` is earlier than the row before it (`{previous_text}`): rows must be in time order (replay --allow-unsorted accepts them)"),
                ));
            }
        }
        series.ts_ms.push(ts_ms);
        series.values.push(value);
        series
            .texts
            .push((ts_text.to_string(), value_text.to_string()));
    }
    if series.ts_ms.is_empty() {
        return Err(err(header_line, "the file has a header but no rows".into()));
    }
    Ok(series)
}

/// Unix milliseconds of `YYYY-MM-DD HH:MM:SS[.f]` or RFC 3339 in UTC; `None` when it does not
/// parse.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    let since = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

fn csv_problem(path: &Path, e: &csv::Error, line_of: impl Fn(u64) -> u64) -> CsvError {
    let line = e.position().map_or(0, |p| line_of(p.byte()));
    let problem = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    };
    CsvError {
        path: path.to_owned(),
        line,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Series, CsvError> {
        parse(
            Path::new("f.csv"),
            text.as_bytes(),
            "value",
            Order::NonDecreasing,
        )
    }

    fn error(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_nab_rows_and_keeps_the_texts() {
        let s = parse_str(
            "timestamp,value\n2015-09-01 11:25:00,58\n2015-09-01 11:30:00.500000,6.3e1\n",
        )
        .unwrap();
        assert_eq!(s.ts_ms, vec![1_441_106_700_000, 1_441_107_000_500]);
        assert_eq!(s.values, vec![58.0, 63.0]);
        assert_eq!(
            s.texts[1],
            ("2015-09-01 11:30:00.500000".into(), "6.3e1".into())
        );
    }

    #[test]
    fn picks_columns_by_name_and_accepts_crlf_and_rfc3339() {
        let text = "value,label,timestamp\r\n1.5,0,2020-01-01T00:00:00Z\r\n2,0,2020-01-01T00:00:01+00:00\r\n";
        let s = parse_str(text).unwrap();
        assert_eq!(s.values, vec![1.5, 2.0]);
        assert_eq!(s.ts_ms[1] - s.ts_ms[0], 1000);
        let s = parse(
            Path::new("r.csv"),
            "timestamp,value,anomaly_score\n2020-01-01 00:00:00,1,0.25\n".as_bytes(),
            "anomaly_score",
            Order::NonDecreasing,
        )
        .unwrap();
        assert_eq!(s.values, vec![0.25]);
    }

    #[test]
    fn non_finite_values_are_kept_for_the_detector_to_skip() {
        let s = parse_str("timestamp,value\n2020-01-01 00:00:00,NaN\n2020-01-01 00:00:01,inf\n")
            .unwrap();
        assert!(s.values[0].is_nan() && s.values[1].is_infinite());
    }

    #[test]
    fn each_malformed_case_names_the_line() {
        assert_eq!(
            error(""),
            "f.csv:1: the file is empty: expected a header line `timestamp,value`"
        );
        assert_eq!(
            error("timestamp,value\n"),
            "f.csv:1: the file has a header but no rows"
        );
        assert!(error("timestamp\n2020-01-01 00:00:00\n")
            .starts_with("f.csv:1: the header `timestamp` has no `value` column"));
        assert_eq!(
            error("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:00:01\n"),
            "f.csv:3: 1 field(s) where the header has 2: a column is missing"
        );
        assert_eq!(
            error("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:00:01,1.2.3\n"),
            "f.csv:3: value `1.2.3` is not a number"
        );
        assert_eq!(
            error("timestamp,value\n2020-01-01 00:00:00,\n"),
            "f.csv:2: value `` is not a number"
        );
        assert!(error("timestamp,value\n2020-13-01 00:00:00,1\n")
            .starts_with("f.csv:2: timestamp `2020-13-01 00:00:00` is not"));
        assert_eq!(
            error("timestamp,value\n2020-01-01 00:00:05,1\n2020-01-01 00:00:04,1\n"),
            "f.csv:3: timestamp `2020-01-01 00:00:04` is earlier than the row before it (`2020-01-01 00:00:05`): rows must be in time order (replay --allow-unsorted accepts them)"
        );
        let any = parse(
            Path::new("f.csv"),
            "timestamp,value\n2020-01-01 00:00:05,1\n2020-01-01 00:00:04,2\n".as_bytes(),
            "value",
            Order::Any,
        )
        .unwrap();
        assert_eq!(any.values, vec![1.0, 2.0]);
        assert_eq!(
            parse(
                Path::new("f.csv"),
                b"timestamp,value\n2020-01-01 00:00:00,\xff\n",
                "value",
                Order::NonDecreasing
            )
            .unwrap_err()
            .to_string(),
            "f.csv:2: invalid UTF-8"
        );
        let missing = read(
            Path::new("/nonexistent/x.csv"),
            "value",
            Order::NonDecreasing,
        )
        .unwrap_err();
        assert_eq!(missing.line, 0);
        assert!(missing
            .to_string()
            .starts_with("/nonexistent/x.csv: cannot read"));
    }

    #[test]
    fn blank_lines_are_skipped_and_lines_still_count_them() {
        let s = parse_str("timestamp,value\n\n2020-01-01 00:00:05,1\n\n2020-01-01 00:00:06,2\n")
            .unwrap();
        assert_eq!(s.values, vec![1.0, 2.0]);
        assert_eq!(
            error("timestamp,value\n\n2020-01-01 00:00:05,1\n\n2020-01-01 00:00:06,x\n"),
            "f.csv:5: value `x` is not a number"
        );
    }

    #[test]
    fn equal_timestamps_are_in_order() {
        let s =
            parse_str("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:00:00,2\n").unwrap();
        assert_eq!(s.ts_ms[0], s.ts_ms[1]);
    }
}
