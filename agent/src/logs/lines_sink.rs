//! The lines sink: every processed log line appended to a JSON-lines file, exactly once.
//!
//! The log stage writes lines here as it processes them and, at each checkpoint, flushes and
//! fsyncs this file before recording its length in the checkpoint. On start the file is cut
//! back to the recorded length: lines written after the last checkpoint (a crash) are read
//! again from their log files and written again, so each appears once.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use crate::logs::checkpoints::SinkMark;
use crate::sources::files::FileId;

#[derive(Serialize)]
struct Record<'a> {
    source: &'a str,
    path: &'a str,
    line: &'a str,
}

pub(crate) struct LinesSink {
    out: BufWriter<File>,
    id: FileId,
    len: u64,
    scratch: Vec<u8>,
}

impl LinesSink {
    /// Opens (or creates) the file and cuts it back to `mark` when it is the same file.
    pub fn open(path: &Path, mark: Option<SinkMark>) -> io::Result<LinesSink> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let meta = file.metadata()?;
        let id = FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        let mut len = meta.len();
        if let Some(m) = mark.filter(|m| m.id == id && m.len < len) {
            tracing::info!(
                path = %path.display(), bytes = len - m.len,
                "lines sink: removing lines written after the last checkpoint (they are read again)"
            );
            file.set_len(m.len)?;
            file.sync_all()?;
            len = m.len;
        }
        file.seek(SeekFrom::Start(len))?;
        Ok(LinesSink {
            out: BufWriter::with_capacity(256 * 1024, file),
            id,
            len,
            scratch: Vec::with_capacity(1024),
        })
    }

    pub fn write(&mut self, source: &str, path: &str, line: &str) -> io::Result<()> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, &Record { source, path, line })
            .map_err(io::Error::other)?;
        self.scratch.push(b'\n');
        self.out.write_all(&self.scratch)?;
        self.len += self.scratch.len() as u64;
        Ok(())
    }

    /// Makes everything written so far durable; the mark goes into the checkpoint.
    pub fn commit(&mut self) -> io::Result<SinkMark> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(SinkMark {
            id: self.id,
            len: self.len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_back_to_the_committed_length() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lines.jsonl");
        let mut s = LinesSink::open(&path, None).unwrap();
        s.write("app", "/x.log", "one").unwrap();
        let mark = s.commit().unwrap();
        s.write("app", "/x.log", "two \u{fffd}").unwrap();
        s.commit().unwrap();
        drop(s);
        let s = LinesSink::open(&path, Some(mark)).unwrap();
        drop(s);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"source\":\"app\",\"path\":\"/x.log\",\"line\":\"one\"}\n"
        );
    }
}
