//! Durable replacement of a small file (checkpoints, template state, silences): a crash
//! leaves either the old or the new content, never a mix. A leaf: imports nothing of the agent.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new content:
/// write `tmp`, fsync it, rename it over `path`, fsync the directory.
/// A write that fails (a full disk) leaves `path` as it was and removes `tmp`, which would
/// otherwise hold on to the space.
pub(crate) fn atomic_write(path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    std::fs::rename(tmp, path)?;
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_previous_content_and_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let tmp = dir.path().join("state.json.tmp");
        atomic_write(&path, &tmp, b"good").unwrap();
        // `/dev/full` answers every write with ENOSPC, as a full disk does.
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let e = atomic_write(&path, &tmp, b"new").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"good");
        assert!(!tmp.exists() && std::fs::symlink_metadata(&tmp).is_err());
        atomic_write(&path, &tmp, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}
