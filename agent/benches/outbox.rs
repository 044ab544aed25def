//! Outbox figures: append rate (one fsync per append; concurrent producers sharing fsyncs by
//! group commit; one fsync per batch of 64), peek+ack rate, and
//! the bench process's memory with 100,000 alerts queued. Prints figures; no assertions.
//!
//! `cargo bench -p seismo --bench outbox`

use std::sync::Arc;
use std::time::Instant;

use seismo::sinks::outbox::Outbox;
use seismo::telemetry::stats::SinkStats;

mod common;
use common::rss_kib;

/// An alert as the sinks queue it: the stdout schema, about 500 bytes.
fn alert(i: u64) -> Vec<u8> {
    format!(
        "{{\"time\":\"2026-11-25T19:09:21.328Z\",\"state\":\"firing\",\"alert_id\":\"host.cpu.utilization@{i}\",\
         \"host\":\"web-1\",\"signal\":\"host.cpu.utilization\",\"severity\":\"critical\",\"observed\":0.97,\
         \"expected\":{{\"low\":0.01,\"high\":0.31}},\"score\":1.0,\"detector\":\"ewma\",\
         \"started_at\":\"2026-11-25T19:09:21.328Z\",\"summary\":\"host.cpu.utilization is 0.97, above the \
         expected range 0.01..0.31 (score 1.00, detector ewma)\"}}"
    )
    .into_bytes()
}

fn open(dir: &std::path::Path, name: &str) -> Arc<Outbox> {
    Outbox::open(dir, name, 64 << 20, Arc::new(SinkStats::new(name))).expect("open outbox")
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let payload_len = alert(0).len();
    println!(
        "outbox bench: {payload_len}-byte alert JSON records, state dir on {}",
        tmp.path().display()
    );

    // One durable append (write + fsync) per alert: what the pipeline does per alert event.
    let ob = open(tmp.path(), "single");
    let n = 2_000u64;
    let t = Instant::now();
    for i in 0..n {
        ob.append(1, &alert(i)).expect("append");
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "append, fsync per record:      {:>9.0} records/s ({n} records, {:.1} ms each)",
        n as f64 / s,
        s * 1e3 / n as f64
    );

    // Group commit: 8 producers appending one record each, concurrently; appends that arrive
    // during an fsync share the next one.
    for producers in [2u64, 8, 32] {
        let ob = open(tmp.path(), &format!("group{producers}"));
        let per = 4_000 / producers;
        let t = Instant::now();
        let threads: Vec<_> = (0..producers)
            .map(|p| {
                let ob = Arc::clone(&ob);
                std::thread::spawn(move || {
                    for i in 0..per {
                        ob.append(1, &alert(p * per + i)).expect("append");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("producer");
        }
        let s = t.elapsed().as_secs_f64();
        let n = producers * per;
        println!(
            "append, {producers:>2} concurrent producers: {:>9.0} records/s ({n} records, {} fsyncs, {:.1} records per fsync)",
            n as f64 / s,
            ob.append_syncs(),
            n as f64 / ob.append_syncs() as f64
        );
    }

    // Batched appends: 64 records per fsync.
    let ob = open(tmp.path(), "batched");
    let n = 100_000u64;
    let rss0 = rss_kib();
    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let batch: Vec<Vec<u8>> = (i..(i + 64).min(n)).map(alert).collect();
        let refs: Vec<&[u8]> = batch.iter().map(|b| b.as_slice()).collect();
        ob.append_batch(1, &refs).expect("append batch");
        i += 64;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "append, fsync per 64 records:  {:>9.0} records/s ({n} records, {:.1} MB/s)",
        n as f64 / s,
        (n as f64 * payload_len as f64) / s / 1e6
    );
    println!(
        "queued: {} records, {:.1} MiB on disk; bench process RSS {} KiB before, {} KiB with them queued",
        ob.queued(),
        ob.disk_bytes() as f64 / (1 << 20) as f64,
        rss0,
        rss_kib()
    );

    // Delivery side: read the oldest 64, acknowledge them (ack cursor written and fsynced).
    let t = Instant::now();
    let mut delivered = 0u64;
    loop {
        let batch = ob.peek(64).expect("peek");
        let Some(last) = batch.last() else { break };
        ob.ack(last.seq).expect("ack");
        delivered += batch.len() as u64;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "peek 64 + ack (fsync) drain:   {:>9.0} records/s ({delivered} records), RSS after {} KiB",
        delivered as f64 / s,
        rss_kib()
    );

    // Reopening a full outbox (crash recovery scans only the last segment).
    let ob = open(tmp.path(), "reopen");
    for i in 0..100_000u64 {
        if i % 64 == 0 {
            let batch: Vec<Vec<u8>> = (i..(i + 64).min(100_000)).map(alert).collect();
            let refs: Vec<&[u8]> = batch.iter().map(|b| b.as_slice()).collect();
            ob.append_batch(1, &refs).expect("append batch");
        }
    }
    drop(ob);
    let t = Instant::now();
    let ob = open(tmp.path(), "reopen");
    println!(
        "reopen with {} queued:     {:>9.1} ms",
        ob.queued(),
        t.elapsed().as_secs_f64() * 1e3
    );
}
