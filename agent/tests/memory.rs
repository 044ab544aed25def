//! `memory::release_free` hands the heap glibc keeps after a free back to the kernel.
//!
//! Its own test binary: the resident memory it reads is the whole process's.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_heap_below_a_live_allocation_leaves_rss_once_released() {
    const CHUNKS: usize = 32 * 1024; // 32 MiB in 1 KiB allocations
    let anon_kib = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon in /proc/self/status")
    };
    let heap = || seismo::daemon::memory::heap().expect("glibc reports its heap");
    let before = anon_kib();
    let heap_before = heap();
    let mut chunks: Vec<Box<[u8; 1024]>> = (0..CHUNKS).map(|_| Box::new([1u8; 1024])).collect();
    // The last chunk stays live: it sits at the top of the heap, so free() alone cannot give
    // back what lies below it.
    let last = chunks.pop();
    let heap_live = heap();
    drop(chunks);
    let held = anon_kib();
    let heap_freed = heap();
    let t = std::time::Instant::now();
    seismo::daemon::memory::release_free();
    let took = t.elapsed();
    let after = anon_kib();
    drop(last);
    let t = std::time::Instant::now();
    seismo::daemon::memory::release_free();
    let took_again = t.elapsed();
    println!(
        "RssAnon: {before} KiB before, {held} KiB after the free, {after} KiB released \
         ({took:?}; {took_again:?} with nothing to release)"
    );
    // The allocator's own count tells the live heap from what it keeps once freed.
    let mib = |b: u64| b / (1024 * 1024);
    println!(
        "heap in use: {} MiB before, {} MiB with the chunks, {} MiB after the free ({} MiB free in \
         the arenas)",
        mib(heap_before.in_use),
        mib(heap_live.in_use),
        mib(heap_freed.in_use),
        mib(heap_freed.free)
    );
    assert!(heap_live.in_use >= heap_before.in_use + 32 * 1024 * 1024);
    assert!(heap_freed.in_use + 30 * 1024 * 1024 <= heap_live.in_use);
    assert!(heap_freed.free >= 30 * 1024 * 1024, "{heap_freed:?}");
    assert!(
        held >= before + 24 * 1024,
        "the freed chunks were expected to stay resident until released: {before} -> {held} KiB"
    );
    assert!(
        after + 24 * 1024 <= held,
        "release_free gave back less than 24 MiB: {held} -> {after} KiB"
    );
}
