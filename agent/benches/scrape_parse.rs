//! One target's scrape, read into samples, without HTTP or the pipeline: the time and the
//! allocations per scrape of `SEISMO_PARSE_SERIES` changing gauges (default 10,000; the
//! `rss_curve` bench's exposition), once all are admitted. The first scrape (every series new)
//! is printed apart. Allocations are counted by `seismo_e2e::counting_alloc` (each `alloc`
//! and `realloc` call), so that figure is exact on a loaded machine; the times are medians.
//!
//! Run: `cargo bench -p seismo --bench scrape_parse`. Knobs: `SEISMO_PARSE_SERIES`,
//! `SEISMO_PARSE_SCRAPES` (steady scrapes measured, default 50). For instruction counts,
//! run the bench binary under `valgrind --tool=callgrind --toggle-collect='*scrape_once*'`.
//! Prints figures; asserts nothing beyond every series coming through.

use std::time::Instant;

use seismo::sources::scrape;
use seismo_e2e::counting_alloc::{allocations, live, Counting};

mod common;
use common::{env_number, gauge_body, gauge_series};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One scrape of `body` taken at `ts_ms`: the samples made.
#[inline(never)]
fn scrape_once(series: &mut scrape::series::Series, body: &[u8], ts_ms: i64) -> usize {
    let mut dropped = scrape::series::Dropped::default();
    let read = series
        .read(body, ts_ms, &mut dropped)
        .expect("a valid body");
    read.samples.len()
}

fn main() {
    let n: usize = env_number("SEISMO_PARSE_SERIES", 10_000);
    let scrapes: usize = env_number("SEISMO_PARSE_SCRAPES", 50);
    let all = gauge_series(n);
    // The bodies are made before anything is measured.
    let bodies: Vec<Vec<u8>> = (0..=scrapes as u64)
        .map(|k| {
            let mut text = String::new();
            gauge_body(&all, k, &mut text);
            text.into_bytes()
        })
        .collect();
    let mut series = scrape::series::Series::new("app", n, Default::default());
    let (calls, held, t) = (allocations(), live(), Instant::now());
    let made = scrape_once(&mut series, &bodies[0], 0);
    let first = t.elapsed();
    assert_eq!(made, n);
    println!(
        "first scrape, {n} new series: {:.2} ms, {} allocations, {:.1} MB held after it",
        first.as_secs_f64() * 1e3,
        allocations() - calls,
        (live() - held) as f64 / 1e6
    );
    let mut times = Vec::with_capacity(scrapes);
    let calls = allocations();
    for (k, body) in bodies[1..].iter().enumerate() {
        let t = Instant::now();
        let made = scrape_once(&mut series, body, 10_000 * (k as i64 + 1));
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(made, n);
    }
    let per_scrape = (allocations() - calls) as f64 / scrapes as f64;
    times.sort_by(f64::total_cmp);
    println!(
        "steady scrape of {n} known series: {:.2} ms median ({:.2} .. {:.2}), {per_scrape:.1} allocations a scrape, {:.3} a series",
        times[scrapes / 2] * 1e3,
        times[0] * 1e3,
        times[scrapes - 1] * 1e3,
        per_scrape / n as f64
    );
}
