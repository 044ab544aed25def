//! File identity: device and inode say which file a path is now; a checksum of its first bytes
//! tells a reused inode (or a file rewritten in place) from the file we read before.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use serde::{Deserialize, Serialize};

/// Bytes of a file's start that fingerprint it (fewer while the file is shorter).
pub(crate) const HEAD_BYTES: usize = 1024;

/// Device and inode: unique among files that exist at the same moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A checksum of the first `len` bytes of a file. `len` grows up to [`HEAD_BYTES`] as the
/// file does, so a short file is fingerprinted by what it has and re-fingerprinted later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    pub len: u32,
    pub hash: u64,
}

impl Head {
    pub const EMPTY: Head = Head {
        len: 0,
        hash: FNV_OFFSET,
    };

    /// Fingerprints the first `min(size, HEAD_BYTES)` bytes of `file`.
    pub fn read(file: &File, size: u64) -> io::Result<Head> {
        let want = usize::try_from(size.min(HEAD_BYTES as u64)).unwrap_or(HEAD_BYTES);
        let mut buf = [0u8; HEAD_BYTES];
        let got = read_full_at(file, &mut buf[..want], 0)?;
        Ok(Head::of(&buf[..got]))
    }

    pub fn of(bytes: &[u8]) -> Head {
        Head {
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            hash: fnv1a(bytes),
        }
    }

    /// True when the first `self.len` bytes of `file` still hash to `self.hash`: the file is
    /// the one fingerprinted, not a reused inode or a file truncated and rewritten.
    pub fn matches(&self, file: &File, size: u64) -> io::Result<bool> {
        if u64::from(self.len) > size {
            return Ok(false);
        }
        if self.len == 0 {
            return Ok(true);
        }
        let mut buf = [0u8; HEAD_BYTES];
        let len = (self.len as usize).min(HEAD_BYTES);
        let got = read_full_at(file, &mut buf[..len], 0)?;
        Ok(got == len && fnv1a(&buf[..len]) == self.hash)
    }

    pub fn is_complete(&self) -> bool {
        self.len as usize >= HEAD_BYTES
    }
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bit: tiny, and stable across Rust versions (checkpoints outlive the binary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Magic numbers of compressed formats: such files are never read as text.
pub(crate) fn is_compressed(start: &[u8]) -> bool {
    const MAGIC: [&[u8]; 6] = [
        &[0x1f, 0x8b],                         // gzip
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00], // xz
        b"BZh",                                // bzip2
        &[0x28, 0xb5, 0x2f, 0xfd],             // zstd
        &[0x04, 0x22, 0x4d, 0x18],             // lz4
        b"PK\x03\x04",                         // zip
    ];
    MAGIC.iter().any(|m| start.starts_with(m))
}

/// File names of compressed (rotated) logs, skipped before they are even opened.
pub(crate) fn has_compressed_extension(name: &str) -> bool {
    const EXT: [&str; 9] = [
        ".gz", ".xz", ".bz2", ".zst", ".lz4", ".zip", ".7z", ".lzma", ".z",
    ];
    let lower = name.to_ascii_lowercase();
    EXT.iter().any(|e| lower.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn head_grows_with_a_short_file_and_detects_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"first line\n").unwrap();
        let r = File::open(&path).unwrap();
        let h = Head::read(&r, 11).unwrap();
        assert_eq!(h.len, 11);
        f.write_all(&[b'x'; 2000]).unwrap();
        assert!(
            h.matches(&r, 2011).unwrap(),
            "a grown file keeps its prefix"
        );
        let full = Head::read(&r, 2011).unwrap();
        assert!(full.is_complete());
        // Truncated and rewritten in place: the same inode, another file.
        f.set_len(0).unwrap();
        std::fs::write(&path, b"other line\n").unwrap();
        assert!(!h.matches(&r, 11).unwrap());
        assert!(!full.matches(&r, 11).unwrap(), "shorter than the head");
    }

    #[test]
    fn compressed_files_are_recognised() {
        assert!(is_compressed(&[0x1f, 0x8b, 8, 0]));
        assert!(is_compressed(b"BZh91AY"));
        assert!(!is_compressed(b"Nov 25 12:00:00 host app: hi"));
        assert!(has_compressed_extension("app.log.2.gz"));
        assert!(!has_compressed_extension("app.log.1"));
    }
}
