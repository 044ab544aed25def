//! Snapshot figures: what saving and restoring the learned state costs for 10,000 signals
//! with the default detector (the ensemble), each warmed on `POINTS` points: the encoding in
//! the pipeline's task, the write with fsync off it, the file's size per signal, and reading it
//! back at start-up. Prints figures; no assertions.
//!
//! `cargo bench -p seismo --bench snapshot` (SIGNALS and POINTS from the environment override
//! the defaults: `SIGNALS=1000 POINTS=2000 cargo bench -p seismo --bench snapshot`).

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use seismo::event::Sample;
use seismo::pipeline::snapshot::decode;
use seismo::pipeline::Pipeline;
use seismo::telemetry::stats::Stats;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic jitter in [-1, 1].
fn wiggle(i: usize) -> f64 {
    ((i * 7919) % 200) as f64 / 100.0 - 1.0
}

fn main() {
    let signals = env("SIGNALS", 10_000);
    let points = env("POINTS", 1_000);
    let config = seismo_config::parse("[detectors]\nmax_signals = 100000\n", "bench").unwrap();
    let stats = Arc::new(Stats::default());
    let mut p = Pipeline::new("bench".into(), &config, Arc::clone(&stats));
    let names: Vec<Arc<str>> = (0..signals)
        .map(|i| format!("scrape.app.requests.per_s.route_r{i}").into())
        .collect();
    let now = std::time::Instant::now();
    let t = Instant::now();
    for k in 0..points {
        for (i, name) in names.iter().enumerate() {
            let sample = Sample {
                signal: Arc::clone(name),
                ts_ms: 1_795_633_200_000 + k as i64 * 10_000,
                value: 100.0 + (i % 50) as f64 + wiggle(k + i),
            };
            p.process(&sample, now);
        }
    }
    println!(
        "{signals} signals (ensemble), {points} points each, learned in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Encoding, in the pipeline's task: the best of 5.
    let mut encode_ms = f64::INFINITY;
    let mut snapshot = None;
    for _ in 0..5 {
        let t = Instant::now();
        let s = p.snapshot();
        encode_ms = encode_ms.min(t.elapsed().as_secs_f64() * 1e3);
        snapshot = Some(s);
    }
    let Some(snapshot) = snapshot else { return };
    let bytes = snapshot.bytes;

    // Writing with fsync, off the pipeline (the same steps as atomic_file): the best of 5.
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into())).unwrap();
    let path = dir.path().join("learned.snapshot");
    let mut write_ms = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(&bytes).unwrap();
        f.sync_all().unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        std::fs::File::open(dir.path()).unwrap().sync_all().unwrap();
        write_ms = write_ms.min(t.elapsed().as_secs_f64() * 1e3);
    }

    // Reading back at start-up: decode and restore into a new pipeline.
    let t = Instant::now();
    let loaded = decode(&std::fs::read(&path).unwrap());
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let mut q = Pipeline::new("bench".into(), &config, Arc::new(Stats::default()));
    let t = Instant::now();
    let restored = q.restore(loaded, now);
    let restore_ms = t.elapsed().as_secs_f64() * 1e3;

    println!(
        "snapshot: {} bytes, {:.0} bytes per signal",
        bytes.len(),
        bytes.len() as f64 / signals as f64
    );
    println!(
        "encode (pipeline task): {encode_ms:.1} ms per snapshot, {:.2} µs per signal",
        encode_ms * 1e3 / signals as f64
    );
    println!("write + fsync + rename (blocking thread): {write_ms:.1} ms per snapshot");
    println!(
        "start-up: decode {decode_ms:.1} ms, restore {restore_ms:.1} ms ({} signals restored)",
        restored.signals
    );
}
