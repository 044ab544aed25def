//! Cost of `TemplateMiner::add` alone (masking, tree search, merge), per line, on a warmed-up
//! miner fed a pre-generated mix of syslog, web access and application messages.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seismo_detectors::{LogFormat, MinerConfig, TemplateMiner};

const LINES: usize = 8192;

fn lines() -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(7);
    let users = ["root", "deploy", "alice", "bob"];
    (0..LINES)
        .map(|i| {
            let ip = format!(
                "10.{}.{}.{}",
                rng.random_range(0..256),
                rng.random_range(0..256),
                rng.random_range(1..255)
            );
            match i % 6 {
                0 => format!(
                    "Accepted publickey for {} from {ip} port {} ssh2",
                    users[rng.random_range(0..4)],
                    rng.random_range(1024..65535)
                ),
                1 => format!(
                    "{ip} - - \"GET /api/v1/users/{} HTTP/1.1\" {} {} \"-\" \"curl/8.5.0\" 0.{:03}",
                    rng.random_range(0..100_000),
                    [200, 404, 500][rng.random_range(0..3)],
                    rng.random_range(0..20_000),
                    rng.random_range(0..1000)
                ),
                2 => format!(
                    "processed order id={:08x}-1111-2222-3333-{:012x} items={} in {}ms",
                    rng.random::<u32>(),
                    rng.random::<u64>() & 0xffff_ffff_ffff,
                    rng.random_range(1..20),
                    rng.random_range(1..900)
                ),
                3 => format!(
                    "connection to {ip}:5432 timed out after {}ms (attempt {}/5)",
                    rng.random_range(100..30_000),
                    rng.random_range(1..6)
                ),
                4 => format!(
                    "Started Session {} of user {}.",
                    rng.random_range(1..5000),
                    users[rng.random_range(0..4)]
                ),
                _ => format!(
                    "EXT4-fs (sda{}): mounted filesystem with ordered data mode. Opts: (null)",
                    rng.random_range(1..4)
                ),
            }
        })
        .collect()
}

fn add(c: &mut Criterion) {
    let lines = lines();
    let mut miner = TemplateMiner::new(MinerConfig::default()).expect("default config is valid");
    for l in &lines {
        miner.add(l);
    }
    let mut group = c.benchmark_group("drain");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("add", |b| {
        b.iter(|| {
            let l = &lines[i % LINES];
            i = i.wrapping_add(1);
            black_box(miner.add(black_box(l)))
        })
    });
    let format =
        LogFormat::parse("<Date> <Time> <Level> <Component>: <Content>").expect("valid format");
    let headed: Vec<String> = lines
        .iter()
        .map(|l| format!("2026-11-25 19:02:11,123 INFO app.Component: {l}"))
        .collect();
    group.bench_function("split_and_add", |b| {
        b.iter(|| {
            let l = &headed[i % LINES];
            i = i.wrapping_add(1);
            let content = format.split(l).map_or(l.as_str(), |f| f.content());
            black_box(miner.add(black_box(content)))
        })
    });
    group.finish();
}

criterion_group!(benches, add);
criterion_main!(benches);
