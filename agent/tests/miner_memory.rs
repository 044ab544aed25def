//! What a template costs the miner, and that `max_clusters` bounds it: a log source that keeps
//! producing lines never seen before (the soak benchmark writes two new templates a minute)
//! grows the miner until the cap and, once its hash tables have settled, not past it.
//!
//! The binary counts every byte allocated and freed (`seismo_e2e::counting_alloc`), so the
//! figures are the miner's own, exact, and free of malloc's caching. One test only: a second
//! one running beside it would be counted too.
//!
//! `cargo test -p seismo --test miner_memory -- --nocapture` prints the figures.

use seismo_detectors::{MinerConfig, TemplateMiner};
use seismo_e2e::counting_alloc::{live, Counting};
use seismo_e2e::word;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The soak benchmark's new-template line: once to create the template, once to match it.
fn add_template(miner: &mut TemplateMiner, n: u64) {
    let w = word(n);
    for _ in 0..2 {
        miner.add(&format!(
            "CRIT [{w}] subsystem {w} lost quorum fencing node {w} now"
        ));
    }
}

#[test]
fn templates_cost_the_miner_under_a_kib_each_and_stop_growing_at_max_clusters() {
    let cap = 2_000;
    let config = MinerConfig {
        max_clusters: cap,
        ..MinerConfig::default()
    };
    let before = live();
    let mut miner = TemplateMiner::new(config).expect("valid config");
    // Steady traffic first: a few templates matched over and over.
    for i in 0..1_000 {
        miner.add(&format!("INFO GET /api/items/{i} 200 in {}ms", i % 97));
        miner.add(&format!("WARN retrying connection {i} to db-{}", i % 7));
    }
    let steady = miner.len();
    // What the miner holds whatever its templates: its fixed-size memos (the masking memo's
    // 8,192 slots), the steady templates and the smallest tables.
    let fixed = live() - before;

    for n in 0..(cap - steady) as u64 {
        add_template(&mut miner, n);
    }
    assert_eq!(miner.len(), cap);
    assert_eq!(miner.evictions(), 0);
    let at_cap = live() - before;
    let per_template = (at_cap - fixed) as f64 / (cap - steady) as f64;

    // Four times the cap of new templates: each evicts the least recently matched. The hash
    // tables of a leaf's index may grow once here: a removed key leaves a tombstone until the
    // table is rehashed, and a table more than half full at that point doubles instead.
    let more = 4 * cap as u64;
    for n in 0..more {
        add_template(&mut miner, 1_000_000 + n);
    }
    assert_eq!(miner.len(), cap);
    assert_eq!(miner.evictions(), more);
    let churned = live() - before;
    // Four times the cap again: from here on the miner only replaces (tables at their size,
    // template texts of about the same length).
    for n in 0..more {
        add_template(&mut miner, 2_000_000 + n);
    }
    assert_eq!(miner.evictions(), 2 * more);
    let after = live() - before;
    println!(
        "miner: {fixed} bytes with {steady} templates; {cap} templates hold {at_cap} bytes \
         ({per_template:.0} per template past the first {steady}); \
         after {more} more (all evicting): {churned} bytes ({:+.2} %); after {more} more again: \
         {after} bytes ({:+.2} %)",
        (churned as f64 - at_cap as f64) / at_cap as f64 * 100.0,
        (after as f64 - churned as f64) / churned as f64 * 100.0
    );

    assert!(
        per_template < 1024.0,
        "a template costs {per_template:.0} bytes"
    );
    assert!(
        fixed < 256 * 1024,
        "a miner with {steady} templates holds {fixed} bytes"
    );
    assert!(
        (churned as f64) < at_cap as f64 * 1.5,
        "the miner grew past its cap: {at_cap} -> {churned} bytes"
    );
    assert!(
        (after as f64) < churned as f64 * 1.02,
        "the miner keeps growing past its cap: {churned} -> {after} bytes"
    );
}
