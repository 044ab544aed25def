//! `memory::limit_arenas` keeps glibc at `memory::ARENAS` malloc arenas however many threads
//! allocate at once.
//!
//! Its own test binary: the arenas it counts are the whole process's, and a cap, once set,
//! stays for the process's life.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn threads_allocating_at_once_share_the_capped_arenas() {
    use std::sync::{Arc, Barrier};

    assert!(
        std::env::var_os("MALLOC_ARENA_MAX").is_none(),
        "this test measures the daemon's own cap: unset MALLOC_ARENA_MAX"
    );
    let before = arenas();
    seismo::daemon::memory::limit_arenas();
    // Eight threads allocate at the same instant, for long enough to contend for a lock: without
    // a cap glibc gives most of them an arena of their own.
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut kept = 0usize;
                for round in 0..2_000 {
                    let v: Vec<Box<[u8; 64]>> = (0..100).map(|_| Box::new([i as u8; 64])).collect();
                    kept += v.len() + round;
                }
                kept
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().is_ok_and(|n| n > 0));
    }
    let after = arenas();
    println!("malloc arenas: {before} before, {after} after eight threads allocated at once");
    assert!(
        after <= seismo::daemon::memory::ARENAS as usize,
        "glibc made {after} arenas; the cap is {}",
        seismo::daemon::memory::ARENAS
    );
}

/// The arenas glibc's `malloc_info` reports, one `<heap nr=...>` each.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn arenas() -> usize {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("malloc_info.xml");
    let c_path = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: the path and mode are NUL-terminated; the stream is closed before it is read.
    unsafe {
        let f = libc::fopen(c_path.as_ptr(), c"w".as_ptr());
        assert!(!f.is_null(), "cannot open {}", path.display());
        assert_eq!(libc::malloc_info(0, f), 0, "malloc_info failed");
        libc::fclose(f);
    }
    let xml = std::fs::read_to_string(&path).expect("malloc_info's output");
    xml.matches("<heap nr=").count()
}
