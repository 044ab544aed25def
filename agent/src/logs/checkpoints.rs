//! Checkpoints: for every tailed file, the offset up to which its lines have been fully
//! processed, the length of the lines sink that goes with it, the journal cursor and each
//! source's completed intervals. One file, replaced atomically (see `crate::atomic_file`),
//! written only by the log stage after the lines it covers are processed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_file::atomic_write;
use crate::sources::files::identity::FileId;
use crate::sources::files::position::{End, Entry};

const VERSION: u32 = 1;

/// The lines sink's file and its length when the checkpoint was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SinkMark {
    pub id: FileId,
    pub len: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Checkpoints {
    pub version: u32,
    /// Per source name: its files. A source present here has been watched before, so files it
    /// finds from now on are read from their beginning.
    pub sources: BTreeMap<String, Vec<Entry>>,
    pub lines_sink: Option<SinkMark>,
    /// Per source name: signal intervals completed (new templates alert once warm).
    #[serde(default)]
    pub intervals: BTreeMap<String, u64>,
    /// The journal cursor of the last record processed (see `crate::sources::journal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_cursor: Option<String>,
    /// Per source name: ends of truncated or finished files whose copy may still appear.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ends: BTreeMap<String, Vec<End>>,
}

pub(crate) struct Store {
    path: PathBuf,
    tmp: PathBuf,
    dir: PathBuf,
}

impl Store {
    pub fn new(state_dir: &Path) -> io::Result<Store> {
        let dir = state_dir.join("logs");
        std::fs::create_dir_all(&dir)?;
        Ok(Store {
            path: dir.join("checkpoints.json"),
            tmp: dir.join("checkpoints.json.tmp"),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved checkpoints; none when the file does not exist. An unreadable file is moved
    /// aside (so it can be inspected) and reported.
    pub fn load(&self) -> anyhow::Result<Checkpoints> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checkpoints::default()),
            Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", self.path.display())),
        };
        match serde_json::from_slice::<Checkpoints>(&text) {
            Ok(c) if c.version == VERSION => Ok(c),
            Ok(c) => anyhow::bail!(
                "{} has version {}, this agent writes {VERSION}: move it away to start over",
                self.path.display(),
                c.version
            ),
            Err(e) => {
                let aside = self.path.with_extension("json.corrupt");
                let _ = std::fs::rename(&self.path, &aside);
                tracing::error!(
                    error = %e, moved_to = %aside.display(),
                    "log checkpoints are unreadable; starting without them"
                );
                Ok(Checkpoints::default())
            }
        }
    }

    /// Replaces the checkpoint file atomically and durably.
    pub fn save(&self, c: &Checkpoints) -> io::Result<()> {
        let mut c = c.clone();
        c.version = VERSION;
        let bytes = serde_json::to_vec(&c).map_err(io::Error::other)?;
        atomic_write(&self.path, &self.tmp, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::files::identity::Head;
    use crate::sources::files::position::ReadPos;

    #[test]
    fn saves_and_loads_atomically() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path()).unwrap();
        assert_eq!(store.load().unwrap(), Checkpoints::default());
        let mut c = Checkpoints::default();
        c.sources.insert(
            "app".into(),
            vec![Entry {
                path: "/var/log/app.log".into(),
                id: FileId { dev: 1, ino: 2 },
                head: Head::of(b"abc"),
                pos: ReadPos {
                    offset: 42,
                    skipping: true,
                },
            }],
        );
        c.ends
            .insert("app".into(), vec![End::now(Head::of(b"abc"), 42)]);
        store.save(&c).unwrap();
        let mut back = store.load().unwrap();
        back.version = 0;
        assert_eq!(back, c);
        assert!(!store.tmp.exists());
        std::fs::write(&store.path, b"{not json").unwrap();
        assert_eq!(store.load().unwrap(), Checkpoints::default());
        assert!(store.path.with_extension("json.corrupt").exists());
    }
}
