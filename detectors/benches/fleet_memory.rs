//! What a fleet of default ensembles costs the process, beside what they count themselves: a
//! probe of the agent's memory per signal without the agent.
//!
//! `SIGNALS` ensembles (boxed and sharing one copy of their parameters, as the agent holds
//! them) are fed point by point in turn, as a
//! scrape target's series reach the pipeline: `FAST` points one second apart (the `rss_curve`
//! bench's warm-up), then `SLOW` points ten seconds apart; values move ±2 % around a level of
//! their own. At the end it prints, per signal: the state the detectors count
//! (`Detector::state_bytes`, by part), the heap glibc counts as handed out (`mallinfo2`'s
//! `uordblks`: the state plus each allocation's header and rounding), the heap freed but kept
//! inside the arena (`fordblks`: holes left between live buffers, which no `malloc_trim` can
//! return while live buffers sit on both sides of them) and the resident set after a
//! `malloc_trim(0)`, all against the process before the first ensemble was made.
//!
//! Run: `GLIBC_TUNABLES=glibc.malloc.tcache_count=0 cargo bench -p seismo-detectors --bench
//! fleet_memory` (the agent runs with that tunable). Knobs (environment):
//! `SEISMO_FLEET_SIGNALS` (10000), `SEISMO_FLEET_FAST` (330), `SEISMO_FLEET_SLOW` (30).
//! Prints figures; asserts nothing.

use seismo_detectors::{Detector, Ensemble, EnsembleParams};

fn env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (handed out, free inside the arenas) as glibc counts them.
fn heap() -> (i64, i64) {
    // SAFETY: mallinfo2 has no preconditions.
    let m = unsafe { libc::mallinfo2() };
    ((m.uordblks + m.hblkhd) as i64, m.fordblks as i64)
}

/// Resident bytes of this process.
fn rss() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64
}

fn trim() {
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn main() {
    let signals = env("SEISMO_FLEET_SIGNALS", 10_000);
    let fast = env("SEISMO_FLEET_FAST", 330);
    let slow = env("SEISMO_FLEET_SLOW", 30);
    trim();
    let (used0, free0, rss0) = (heap().0, heap().1, rss());
    // One copy of the parameters for the fleet, as the agent shares them.
    let params = std::sync::Arc::new(EnsembleParams::default());
    let mut fleet: Vec<Box<Ensemble>> = (0..signals)
        .map(|_| {
            let shared = std::sync::Arc::clone(&params);
            Box::new(Ensemble::with_shared(shared).expect("defaults"))
        })
        .collect();
    let level = |i: usize| 10.0 * (1.0 + (i % 101) as f64);
    let t0 = 1_765_000_000_000i64;
    for point in 0..fast + slow {
        let ts = if point < fast {
            t0 + point as i64 * 1000
        } else {
            t0 + fast as i64 * 1000 + (point - fast) as i64 * 10_000
        };
        for (i, det) in fleet.iter_mut().enumerate() {
            // A cheap hash of (signal, point): noise of ±2 % around the level.
            let h = (i as u64 ^ (point as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_mul(0xBF58_476D_1CE4_E5B9)
                >> 40;
            let noise = (h % 4001) as f64 / 100_000.0 - 0.02;
            det.observe(ts, level(i) * (1.0 + noise));
        }
    }
    trim();
    let (used, free) = heap();
    let rss = rss();
    let n = signals.max(1) as f64;
    let counted: usize = fleet.iter().map(|d| d.state_bytes()).sum();
    let mut parts: Vec<(&str, usize)> = Vec::new();
    for d in &fleet {
        for (i, (part, bytes)) in d.state_parts().into_iter().enumerate() {
            match parts.get_mut(i) {
                Some(p) => p.1 += bytes,
                None => parts.push((part, bytes)),
            }
        }
    }
    // The Vec of boxes is the fleet's own, not the signals'.
    let vec = (fleet.capacity() * std::mem::size_of::<Box<Ensemble>>()) as f64;
    println!(
        "{signals} ensembles, {fast} points at 1 s then {slow} at 10 s; per signal:\n  \
         counted by the detectors {:.0} B ({})\n  \
         heap handed out {:.0} B (headers and rounding {:.0} B)\n  \
         heap free inside the arena {:.0} B\n  \
         resident after malloc_trim {:.0} B",
        counted as f64 / n,
        parts
            .iter()
            .map(|(p, b)| format!("{p} {:.0}", *b as f64 / n))
            .collect::<Vec<_>>()
            .join(", "),
        ((used - used0) as f64 - vec) / n,
        ((used - used0) as f64 - vec - counted as f64) / n,
        (free - free0) as f64 / n,
        (rss - rss0) as f64 / n,
    );
    drop(fleet);
}
