//! Hands memory the allocator keeps but no longer uses back to the system.
//!
//! glibc's malloc keeps freed memory in its arenas (one per thread that allocated, up to eight
//! per core) and returns it to the kernel only from the top of each heap. After a reload has
//! rebuilt a stage, or a burst has come and gone, the freed middle of those heaps stays
//! resident: RSS keeps the high-water mark although the live heap is back where it was.
//! `malloc_trim(0)` walks every arena and releases its free pages: about 5 µs when there is
//! nothing to release, 3 to 4 ms for 32 MiB (`cargo test -p seismo --test memory --
//! --nocapture`), so the daemon calls it once a minute and after each reload. In the soak
//! benchmark it kept anonymous memory 0.9 MB lower after 30 minutes, 0.4 MB after 100.
//!
//! The daemon also caps glibc at [`ARENAS`] arenas. Without a cap each of its threads (two
//! runtime workers, up to four blocking threads, one per tailer, the sinks' and the watcher's)
//! may get an arena of its own, and each arena keeps its own free lists and its own high-water
//! mark: in a soak with a reload every 20 s anonymous memory grew 6.7 % over 20 minutes with
//! the default, 2.2 % with two arenas. The tail benchmark's throughput is the same either way
//! (README, "Soak"): the daemon's threads rarely allocate at the same instant.
//!
//! glibc also keeps up to 7 freed chunks of each size up to 1 KiB per thread (tcache), which
//! `free` does not return to the arenas: up to about 240 KiB a thread, filled slowly as rarer
//! sizes come by, and counted as in use by [`heap`]. No `mallopt` turns it off, only the
//! environment at start-up, so the systemd unit and the container image set
//! `GLIBC_TUNABLES=glibc.malloc.tcache_count=0`: a 2-hour soak ended with 1.8 MiB of heap in
//! use instead of 3.4 MiB, at no measurable cost to the tail benchmark.

use std::time::Duration;

/// How often the daemon hands free memory back.
pub const RELEASE_EVERY: Duration = Duration::from_secs(60);

/// How many malloc arenas the daemon lets glibc create.
pub const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`ARENAS`], unless `MALLOC_ARENA_MAX` is set: glibc reads that
/// variable itself, and an operator who set it knows what they want. Call it before any thread
/// is spawned: an arena taken before the cap stays.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: mallopt has no preconditions; it takes malloc's own lock.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) } != 1 {
        tracing::warn!("cannot cap malloc arenas; memory may grow with the number of threads");
    }
}

/// Other allocators have no arenas to cap.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

/// What the allocator holds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heap {
    /// Handed out and not yet freed, as glibc counts it: chunk headers and the small chunks
    /// each thread keeps cached (tcache) included, so it runs above what the program holds.
    pub in_use: u64,
    /// Free inside the arenas, kept for reuse instead of returned to the system.
    pub free: u64,
}

/// The allocator's own count (glibc's `mallinfo2`, over every arena). It tells a growing heap
/// from an allocator that keeps what was freed: RSS alone cannot.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn heap() -> Option<Heap> {
    // SAFETY: mallinfo2 has no preconditions; it takes each arena's lock in turn.
    let m = unsafe { libc::mallinfo2() };
    Some(Heap {
        in_use: (m.uordblks + m.hblkhd) as u64,
        free: m.fordblks as u64,
    })
}

/// Other allocators do not say.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap() -> Option<Heap> {
    None
}

/// Returns the allocator's free pages to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free() {
    // SAFETY: malloc_trim has no preconditions; it takes the arenas' own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl's among them) return memory on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free() {}
