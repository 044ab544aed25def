//! A test's private folder for an agent that tails files: its configuration, its state and the
//! lines sink (`[sinks.lines]`, a documented feature: every processed line, exactly once). What
//! the agent processed is read back from the sink up to the length recorded in its checkpoint,
//! so only committed lines count.

use std::path::{Path, PathBuf};

pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The agent's state directory.
    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// The lines sink's file.
    pub fn sink(&self) -> PathBuf {
        self.path("lines.jsonl")
    }

    pub fn config_path(&self) -> String {
        self.path("seismo.toml")
            .to_str()
            .expect("UTF-8 path")
            .to_owned()
    }

    /// Writes the configuration: `agent` keys in `[agent]`, host metrics off, JSON logs, the
    /// HTTP endpoint on a free port, the lines sink, then `rest`. Returns its path.
    pub fn write_config(&self, agent: &str, rest: &str) -> String {
        let text = format!(
            "[agent]\nstate_dir = \"{}\"\n{agent}[logging]\nformat = \"json\"\n[sources.host]\nenabled = false\n\
             [http]\nlisten = \"127.0.0.1:0\"\n[sinks.lines]\npath = \"{}\"\n{rest}",
            self.state().display(),
            self.sink().display()
        );
        std::fs::write(self.config_path(), text).expect("write seismo.toml");
        self.config_path()
    }

    /// Lines the agent has committed: the lines sink up to the length in its checkpoint, as
    /// (the record's `field`, e.g. `path` or `source`; the line).
    pub fn committed(&self, field: &str) -> Vec<(String, String)> {
        pairs(committed_records(&self.state(), &self.sink()), field)
    }

    /// Every line in the lines sink, committed or not, as [`Workdir::committed`] gives them.
    pub fn sink_lines(&self, field: &str) -> Vec<(String, String)> {
        let data = std::fs::read(self.sink()).expect("read the lines sink");
        pairs(records(&data), field)
    }
}

/// The records (JSON objects: `path`, `source`, `line`, ...) the agent whose state directory is
/// `state` has committed to the lines sink `sink`: the sink up to the length in its
/// checkpoint. None before the first checkpoint.
pub fn committed_records(state: &Path, sink: &Path) -> Vec<serde_json::Value> {
    let Ok(cp) = std::fs::read(state.join("logs/checkpoints.json")) else {
        return Vec::new();
    };
    let cp: serde_json::Value = serde_json::from_slice(&cp).expect("checkpoints are JSON");
    let len = cp["lines_sink"]["len"].as_u64().unwrap_or(0) as usize;
    let data = std::fs::read(sink).unwrap_or_default();
    assert!(data.len() >= len, "the sink is shorter than its checkpoint");
    records(&data[..len])
}

fn records(data: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(data.to_vec())
        .expect("the sink is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The text of `key` in a sink record; fails the test without it.
pub fn text(record: &serde_json::Value, key: &str) -> String {
    record[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {record}"))
        .to_owned()
}

fn pairs(records: Vec<serde_json::Value>, field: &str) -> Vec<(String, String)> {
    records
        .iter()
        .map(|v| (text(v, field), text(v, "line")))
        .collect()
}
