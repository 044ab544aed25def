//! Labelled anomaly windows (NAB's `combined_windows.json`: `{"CAT/F.csv": [[start, end], ...]}`):
//! read, found for one data file, and turned into row ranges. Shared by `backtest` (every
//! file of a corpus) and `replay --plot` (one file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use seismo_detectors::nab::Window;

use crate::cli::csv_series;

/// A windows file: NAB's key (`CAT/F.csv`) to its windows as timestamp text.
pub type WindowsFile = BTreeMap<String, Vec<(String, String)>>;

/// Reads a JSON file, naming the file, line and column of a syntax error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
}

/// NAB's key of a data file: its folder's name and its file name (`realTraffic/speed_t4013.csv`).
pub fn nab_key(data_file: &Path) -> Option<String> {
    let name = data_file.file_name()?.to_str()?;
    let folder = data_file.parent()?.file_name()?.to_str()?;
    Some(format!("{folder}/{name}"))
}

/// The windows file of a data file in NAB's layout (`ROOT/data/CAT/F.csv` beside
/// `ROOT/labels/combined_windows.json`), when it exists.
pub fn beside(data_file: &Path) -> Option<PathBuf> {
    let root = data_file.parent()?.parent()?.parent()?;
    let labels = root.join("labels/combined_windows.json");
    labels.is_file().then_some(labels)
}

/// The windows of `data_file` in the windows file at `path`, as row ranges of `ts_ms`: its
/// entry under NAB's key, else under its bare file name. An absent entry is an error.
pub fn windows_of(path: &Path, data_file: &Path, ts_ms: &[i64]) -> anyhow::Result<Vec<Window>> {
    let all: WindowsFile = read_json(path)?;
    let key = nab_key(data_file).unwrap_or_default();
    let bare = data_file
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let labels = all.get(&key).or_else(|| all.get(bare)).with_context(|| {
        format!(
            "{}: no entry for `{key}` (nor `{bare}`): the windows file names each data file as NAB does",
            path.display()
        )
    })?;
    to_rows(ts_ms, labels).with_context(|| format!("{}: windows of `{key}`", path.display()))
}

/// Windows given as timestamps to row ranges: from the first row at or after the start to the
/// last row at or before the end (linear scans, so rows out of time order do no harm).
pub fn to_rows(ts_ms: &[i64], windows: &[(String, String)]) -> anyhow::Result<Vec<Window>> {
    let mut rows = Vec::with_capacity(windows.len());
    for (start, end) in windows {
        let parse = |t: &str| {
            csv_series::parse_timestamp(t)
                .ok_or_else(|| anyhow!("`{t}` is not a timestamp `YYYY-MM-DD HH:MM:SS[.ffffff]`"))
        };
        let (a, b) = (parse(start)?, parse(end)?);
        let first = ts_ms.iter().position(|&t| t >= a);
        let last = ts_ms.iter().rposition(|&t| t <= b);
        match (first, last) {
            (Some(first), Some(last)) if first <= last => rows.push(Window { first, last }),
            _ => bail!("the window [{start}, {end}] holds no row of the file"),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nab_key_and_layout() {
        let f = Path::new("/x/nab/data/realTraffic/speed_t4013.csv");
        assert_eq!(nab_key(f).as_deref(), Some("realTraffic/speed_t4013.csv"));
        assert_eq!(beside(f), None);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data/cat");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(dir.path().join("labels")).unwrap();
        let labels = dir.path().join("labels/combined_windows.json");
        std::fs::write(&labels, "{}").unwrap();
        assert_eq!(beside(&data.join("f.csv")), Some(labels));
    }
}
