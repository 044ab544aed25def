//! Cost of `TemplateMiner::add` alone (masking, tree search, merge), per line, on a warmed-up
//! miner fed a pre-generated mix of syslog, web access and application messages (group
//! `drain`); and how that cost grows with the templates of one leaf of the tree (group
//! `drain_leaf`: 100 to 20,000 templates that share their first tokens and their length, a line
//! that starts a template and one that matches one).
//!
//! `cargo bench -p seismo-detectors --bench drain` (`-- drain_leaf` for the curve alone).

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

/// Leaf sizes of the cardinality curve.
const LEAF_SIZES: [usize; 4] = [100, 1_000, 5_000, 20_000];

/// A lower-case word of letters that no masking rule takes for a variable (no hex letters, so
/// never a hex id; never a boolean or a month).
fn word(rng: &mut StdRng) -> String {
    const L: &[u8] = b"ghijklmnopqrstuvwxyz";
    let n = rng.random_range(4..=7);
    (0..n)
        .map(|_| L[rng.random_range(0..L.len())] as char)
        .collect()
}

/// Two kinds of templates that share the first token and the length, all in one leaf (the
/// second token is a number, masked to `<*>`, so every line takes the tree's `<*>` branch):
/// - `words`: six lower-case words drawn from 2,000, so that two templates share few of them;
/// - `names`: one capitalised name at position 5, the rest the same: every template differs
///   from every other at that one token (two capitalised words are two messages).
#[derive(Clone, Copy)]
enum Kind {
    Words,
    Names,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Words => "words",
            Kind::Names => "names",
        }
    }

    /// The constant parts of `n` distinct templates.
    fn templates(self, n: usize, rng: &mut StdRng) -> Vec<Vec<String>> {
        let vocab: Vec<String> = (0..2_000).map(|_| word(rng)).collect();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let t: Vec<String> = match self {
                Kind::Words => (0..6)
                    .map(|_| vocab[rng.random_range(0..vocab.len())].clone())
                    .collect(),
                Kind::Names => {
                    let w = word(rng);
                    vec![format!("Q{w}")]
                }
            };
            if seen.insert(t.clone()) {
                out.push(t);
            }
        }
        out
    }

    fn line(self, t: &[String], rng: &mut StdRng) -> String {
        let (id, ms) = (rng.random_range(0..1_000_000), rng.random_range(1..5_000));
        match self {
            Kind::Words => format!("job {id} {} took {ms}ms", t.join(" ")),
            Kind::Names => format!(
                "service {id} changed state of {} to running after {ms}ms",
                t[0]
            ),
        }
    }
}

/// A miner whose one leaf holds the `n` templates (and bounded to `n`, so that a new line evicts
/// one and the leaf keeps its size however many iterations run), with lines that match them and
/// lines that start new ones.
fn leaf(kind: Kind, n: usize) -> (TemplateMiner, Vec<String>, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let config = MinerConfig {
        max_clusters: n,
        ..MinerConfig::default()
    };
    let mut miner = TemplateMiner::new(config).expect("valid config");
    // Templates for the leaf, then as many again (and more) for new lines, so that a new line
    // comes back only after its template was evicted.
    let all = kind.templates(2 * n + 4_096, &mut rng);
    let (live, fresh) = all.split_at(n);
    for t in live {
        miner.add(&kind.line(t, &mut rng));
    }
    assert_eq!(miner.len(), n, "{} templates of one leaf", kind.label());
    let matching = (0..4_096)
        .map(|_| kind.line(&live[rng.random_range(0..n)], &mut rng))
        .collect();
    let new = fresh.iter().map(|t| kind.line(t, &mut rng)).collect();
    (miner, matching, new)
}

fn leaf_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("drain_leaf");
    group.throughput(Throughput::Elements(1));
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(3));
    for kind in [Kind::Words, Kind::Names] {
        for n in LEAF_SIZES {
            let (mut miner, matching, new) = leaf(kind, n);
            let mut i = 0usize;
            group.bench_function(format!("{}/match/{n}", kind.label()), |b| {
                b.iter(|| {
                    let l = &matching[i % matching.len()];
                    i = i.wrapping_add(1);
                    black_box(miner.add(black_box(l)))
                })
            });
            let mut i = 0usize;
            group.bench_function(format!("{}/new/{n}", kind.label()), |b| {
                b.iter(|| {
                    let l = &new[i % new.len()];
                    i = i.wrapping_add(1);
                    black_box(miner.add(black_box(l)))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, add, leaf_size);
criterion_main!(benches);
