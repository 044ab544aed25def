//! Cost of one `RobustEwma::observe` on a warmed-up detector fed Gaussian noise.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use seismo_detectors::{Detector, EwmaParams, RobustEwma};

/// Pre-generated inputs, so the benchmark measures the detector, not the random generator.
const POINTS: usize = 4096;

fn observe(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(42);
    let normal = Normal::new(100.0, 5.0).expect("valid normal");
    let values: Vec<f64> = (0..POINTS).map(|_| normal.sample(&mut rng)).collect();

    let mut det = RobustEwma::new(EwmaParams::default()).expect("default params are valid");
    for (i, &v) in values.iter().enumerate() {
        det.observe(i as i64, v);
    }

    let mut group = c.benchmark_group("ewma");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("observe", |b| {
        b.iter(|| {
            let v = values[i % POINTS];
            i = i.wrapping_add(1);
            black_box(det.observe(black_box(i as i64), black_box(v)))
        })
    });
    group.finish();
}

criterion_group!(benches, observe);
criterion_main!(benches);
