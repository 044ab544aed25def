//! `seismo logparse` reads a regular file through a read-only memory map: the kernel then lends
//! its page cache instead of copying every byte into a buffer (that copy was about a tenth of a
//! run's CPU time on the benchmark).
//!
//! A file cut shorter while it is mapped (logrotate's `copytruncate`, say) would kill the
//! process with SIGBUS at the first page past its new end. A handler maps zeros over the rest
//! of the map instead and marks the run, and the writer [`Mapped::guard`] gives then refuses
//! every write: no row made from those zeros reaches the output, and the command ends with an
//! error that says the file shrank. A file that grows while it is read is read as long as it
//! was when mapped.

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

/// The map's address range, for the handler (0..0 when nothing is mapped).
static START: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
/// Set by the handler: a page of the map was past the file's end.
static SHRUNK: AtomicBool = AtomicBool::new(false);
static PAGE: AtomicUsize = AtomicUsize::new(4096);
/// One map at a time: the handler knows one range.
static ONE: Mutex<()> = Mutex::new(());

/// A regular file's bytes, mapped read-only.
pub(super) struct Mapped {
    map: memmap2::Mmap,
    _one: MutexGuard<'static, ()>,
}

impl Mapped {
    /// Maps `file` when it is a regular, non-empty file and the system maps it; `None` for a
    /// pipe, a device, an empty file (as `/proc`'s files say they are) or a failed map, which
    /// are then read as a stream.
    pub(super) fn of(file: &File) -> Option<Self> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        let one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        install_handler();
        // SAFETY: the map is only read. A file changed under it is the case the module's
        // handler covers: a truncated file's lost pages read as zeros and are told by `SHRUNK`.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        // Read ahead and drop behind: the bytes are read once, front to back.
        let _ = map.advise(memmap2::Advice::Sequential);
        SHRUNK.store(false, Ordering::Relaxed);
        let start = map.as_ptr() as usize;
        START.store(start, Ordering::Relaxed);
        END.store(start + map.len(), Ordering::Relaxed);
        Some(Self { map, _one: one })
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// `out`, refusing every write once the file has been found shorter than its map.
    pub(super) fn guard<W: Write>(&self, out: W) -> Guarded<'_, W> {
        Guarded { out, _map: self }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // Before the map goes (the fields drop after this).
        START.store(0, Ordering::Relaxed);
        END.store(0, Ordering::Relaxed);
    }
}

/// Whether a page of the map has been found past the file's end.
fn shrunk() -> bool {
    // The reads of the map that could have faulted come before this load in program order;
    // keep the compiler from moving them after it (the fault itself is precise).
    compiler_fence(Ordering::SeqCst);
    SHRUNK.load(Ordering::Relaxed)
}

/// A writer behind a [`Mapped`] input: see [`Mapped::guard`].
pub(super) struct Guarded<'a, W> {
    out: W,
    _map: &'a Mapped,
}

impl<W: Write> Write for Guarded<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if shrunk() {
            return Err(io::Error::other(
                "the file shrank while it was read (truncated, as by logrotate's copytruncate): \
                 the rows of its last lines read are not written",
            ));
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn install_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: sysconf and sigaction with a zeroed, then filled, `sigaction`; the handler
        // only reads atomics and makes system calls.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if let Ok(page) = usize::try_from(page) {
                if page.is_power_of_two() {
                    PAGE.store(page, Ordering::Relaxed);
                }
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

/// SIGBUS: a fault inside the map is a page past the file's end. Zeros are mapped from that
/// page to the map's end (one signal however much was cut), and the faulting read, run again,
/// reads zeros. Any other SIGBUS gets the default action back, so the read run again ends the
/// process as it would have without this handler.
extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t`; `mmap` and `signal` are system calls.
    unsafe {
        let at = (*info).si_addr() as usize;
        let (start, end) = (START.load(Ordering::Relaxed), END.load(Ordering::Relaxed));
        if (start..end).contains(&at) {
            let page = at & !(PAGE.load(Ordering::Relaxed) - 1);
            let zeros = libc::mmap(
                page as *mut libc::c_void,
                end - page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
            if zeros != libc::MAP_FAILED {
                SHRUNK.store(true, Ordering::Relaxed);
                return;
            }
        }
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, bytes).unwrap();
        let file = File::options().read(true).write(true).open(&path).unwrap();
        (dir, file)
    }

    fn lines(pages: usize) -> Vec<u8> {
        let page = PAGE.load(Ordering::Relaxed).max(4096);
        let mut text = Vec::new();
        let mut n = 0;
        while text.len() < pages * page {
            writeln!(text, "line {n} of the log").unwrap();
            n += 1;
        }
        text
    }

    #[test]
    fn a_file_left_alone_is_its_bytes_and_writes_pass() {
        let text = lines(3);
        let (_dir, file) = file_of(&text);
        let map = Mapped::of(&file).expect("a regular file is mapped");
        assert_eq!(map.bytes(), &text[..]);
        let mut out = Vec::new();
        map.guard(&mut out).write_all(b"row\n").unwrap();
        assert_eq!(out, b"row\n");
    }

    #[test]
    fn a_file_cut_shorter_while_mapped_reads_zeros_past_its_end_and_writes_fail() {
        let text = lines(5);
        let (_dir, file) = file_of(&text);
        let map = Mapped::of(&file).expect("a regular file is mapped");
        let page = PAGE.load(Ordering::Relaxed);
        let cut = page + 10;
        file.set_len(cut as u64).unwrap();
        // Without the handler this read is killed by SIGBUS at the third page.
        let bytes = map.bytes();
        assert_eq!(&bytes[..cut], &text[..cut]);
        assert!(bytes[cut..].iter().all(|&b| b == 0), "zeros past the cut");
        assert_eq!(bytes.len(), text.len());
        let mut out = Vec::new();
        let e = map.guard(&mut out).write_all(b"row\n").unwrap_err();
        assert!(e.to_string().contains("shrank"), "{e}");
        assert!(out.is_empty());
        drop(map);

        // The next map starts afresh.
        let (_dir, file) = file_of(&text);
        let map = Mapped::of(&file).unwrap();
        assert_eq!(map.bytes(), &text[..]);
        map.guard(Vec::new()).write_all(b"row\n").unwrap();
    }

    #[test]
    fn parsing_a_file_cut_shorter_while_mapped_writes_no_row_and_says_why() {
        let text = lines(5);
        let (_dir, file) = file_of(&text);
        let map = Mapped::of(&file).unwrap();
        file.set_len(10).unwrap();
        let mut miner = seismo_detectors::TemplateMiner::default();
        let mut out = Vec::new();
        let e = super::super::parse(map.bytes(), &mut map.guard(&mut out), None, &mut miner)
            .unwrap_err();
        assert!(e.to_string().contains("shrank"), "{e}");
        assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
        drop(map);

        // Left alone, the same file gives the rows a stream gives.
        let (_dir, file) = file_of(&text);
        let map = Mapped::of(&file).unwrap();
        let (mut mapped, mut read) = (Vec::new(), Vec::new());
        let mut miner = seismo_detectors::TemplateMiner::default();
        super::super::parse(map.bytes(), &mut map.guard(&mut mapped), None, &mut miner).unwrap();
        let mut miner = seismo_detectors::TemplateMiner::default();
        super::super::parse(&text[..], &mut read, None, &mut miner).unwrap();
        assert_eq!(mapped, read);
        assert!(read.len() > text.len() / 2);
    }

    #[test]
    fn empty_files_and_devices_are_not_mapped() {
        let (_dir, empty) = file_of(b"");
        assert!(Mapped::of(&empty).is_none());
        let null = File::open("/dev/null").unwrap();
        assert!(Mapped::of(&null).is_none());
    }
}
