//! The lines sink: every processed log line appended to a JSON-lines file, exactly once.
//!
//! The log stage writes lines here as it processes them and, at each checkpoint, fsyncs this
//! file before recording its length in the checkpoint. On start the file is cut back to the
//! recorded length: lines written after the last checkpoint (a crash) are read again from their
//! log files and written again, so each appears once.
//!
//! A full disk (ENOSPC), an I/O error or a read-only remount loses nothing: the records not yet
//! fsynced stay in memory, and a retry cuts the file back to the last fsynced length (removing
//! whatever half got written) and writes them again. The stage stops reading while the sink
//! fails (see `crate::logs::stage`), so what is kept in memory is bounded.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::logs::checkpoints::SinkMark;
use crate::sources::files::FileId;

/// Records are handed to the file in chunks of this size.
const WRITE_CHUNK: usize = 256 * 1024;
/// Past this many bytes not yet fsynced, the file is fsynced between checkpoints, which bounds
/// the memory the retry buffer takes.
const SYNC_AT: usize = 8 * 1024 * 1024;

#[derive(Serialize)]
struct Record<'a> {
    source: &'a str,
    path: &'a str,
    line: &'a str,
}

pub(crate) struct LinesSink {
    file: File,
    path: PathBuf,
    id: FileId,
    /// The length fsynced: the file up to here is durable and whole.
    durable: u64,
    /// Every record after `durable`, kept until it is fsynced so a failed write or fsync can
    /// be done again from `durable`.
    pending: Vec<u8>,
    /// How much of `pending` was handed to the file since the last cut.
    written: usize,
    /// A write or fsync failed: the file past `durable` is suspect and is cut before the next
    /// write.
    failed: bool,
    /// What the last failure was, repeated to writers while it lasts.
    why: Option<(io::ErrorKind, String)>,
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
            file,
            path: path.to_owned(),
            id,
            durable: len,
            pending: Vec::with_capacity(WRITE_CHUNK),
            written: 0,
            failed: false,
            why: None,
        })
    }

    /// Appends one record. It is kept whatever happens; an error says the sink is failing and
    /// the caller should stop taking more until [`LinesSink::commit`] succeeds.
    pub fn write(&mut self, source: &str, path: &str, line: &str) -> io::Result<()> {
        serde_json::to_writer(&mut self.pending, &Record { source, path, line })
            .map_err(io::Error::other)?;
        self.pending.push(b'\n');
        if let (true, Some((kind, why))) = (self.failed, &self.why) {
            return Err(io::Error::new(*kind, why.clone()));
        }
        if self.pending.len() >= SYNC_AT {
            self.commit()?;
        } else if self.pending.len() - self.written >= WRITE_CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes everything written so far durable; the mark goes into the checkpoint. After an
    /// error the file is cut back to the last durable length and written again.
    pub fn commit(&mut self) -> io::Result<SinkMark> {
        self.hand_over()?;
        if let Err(e) = self.file.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty pages: write again.
            self.fail(&e);
            return Err(e);
        }
        self.durable += self.pending.len() as u64;
        self.pending.clear();
        if self.pending.capacity() > SYNC_AT {
            self.pending.shrink_to(WRITE_CHUNK);
        }
        self.written = 0;
        Ok(SinkMark {
            id: self.id,
            len: self.durable,
        })
    }

    /// Writes the part of `pending` the file does not have yet; after a failure, first cuts
    /// the file back to `durable` and writes all of `pending` again.
    fn hand_over(&mut self) -> io::Result<()> {
        let result = (|| {
            if self.failed {
                self.file.set_len(self.durable)?;
                self.file.seek(SeekFrom::Start(self.durable))?;
                self.written = 0;
                self.failed = false;
            }
            while self.written < self.pending.len() {
                match self.file.write(&self.pending[self.written..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.written += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        if let Err(e) = &result {
            self.fail(e);
        }
        result
    }

    fn fail(&mut self, e: &io::Error) {
        self.failed = true;
        self.why = Some((e.kind(), e.to_string()));
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

    /// `/dev/full` fails every write with ENOSPC, as a full disk does.
    #[test]
    fn a_failed_write_keeps_the_records_and_a_retry_writes_them_once() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lines.jsonl");
        let mut s = LinesSink::open(&path, None).unwrap();
        s.write("app", "/x.log", "one").unwrap();
        s.commit().unwrap();
        // Half a record reaches the file, then the disk is full.
        s.write("app", "/x.log", "two").unwrap();
        s.hand_over().unwrap();
        s.file.set_len(s.durable + 7).unwrap();
        let good = std::mem::replace(
            &mut s.file,
            File::options().write(true).open("/dev/full").unwrap(),
        );
        s.written = 0;
        let e = s.commit().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
        assert!(s.failed);
        // Still failing: records are kept, and each write says why.
        let e = s.write("app", "/x.log", "three").unwrap_err();
        assert!(e.to_string().contains("os error 28"), "{e}");
        assert!(s.commit().is_err());
        // Space is back.
        s.file = good;
        // Until a commit succeeds the sink still reports its failure; the record is kept.
        assert!(s.write("app", "/x.log", "four").is_err());
        let mark = s.commit().unwrap();
        assert!(!s.failed);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        for (l, want) in lines.iter().zip(["one", "two", "three", "four"]) {
            assert!(l.ends_with(&format!("\"line\":\"{want}\"}}")), "{text}");
        }
        assert_eq!(mark.len, text.len() as u64);
    }

    #[test]
    fn a_large_backlog_is_fsynced_before_the_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lines.jsonl");
        let mut s = LinesSink::open(&path, None).unwrap();
        let line = "x".repeat(1000);
        for _ in 0..10_000 {
            s.write("app", "/x.log", &line).unwrap();
        }
        assert!(s.durable > 0 && s.pending.len() < SYNC_AT);
        let mark = s.commit().unwrap();
        assert_eq!(mark.len, std::fs::metadata(&path).unwrap().len());
    }
}
