//! Events per second the webhook sink delivers to a loopback HTTP receiver (the tests crate's,
//! on 127.0.0.1), per body format: the whole path from the durable outbox (read a batch, map,
//! POST, wait for the answer, write the ack cursor with fsync). JSON and Alertmanager carry up
//! to 64 events per request; PagerDuty's Events API takes one per request.
//! Run: `cargo bench -p seismo --bench webhook` (`SEISMO_BENCH_ALERTS` sets the count, default
//! 5000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo::backoff::Backoff;
use seismo::event::{AlertEvent, AlertState, Range, Severity};
use seismo::sinks::deliver::{self, BATCH};
use seismo::sinks::outbox::Outbox;
use seismo::sinks::webhook::WebhookSink;
use seismo::sinks::EventKind;
use seismo::telemetry::stats::Stats;
use seismo_e2e::http_receiver::HttpReceiver;
use tokio_util::sync::CancellationToken;

mod common;

fn alert(i: usize) -> Vec<u8> {
    let ts = 1_764_097_262_123 + i as i64 * 1000;
    // Each alert fires and then resolves, so the Alertmanager format's firing set stays small.
    let event = AlertEvent {
        time: ts,
        state: if i.is_multiple_of(2) {
            AlertState::Firing
        } else {
            AlertState::Resolved
        },
        alert_id: format!("host.cpu.core.{}.utilization@{}", i % 64, ts - (i % 2) as i64 * 1000),
        incident_id: format!("bench-host@{ts}"),
        flapping: false,
        host: "bench-host".into(),
        signal: format!("host.cpu.core.{}.utilization", i % 64).into(),
        severity: Severity::Critical,
        observed: 0.97,
        expected: Range {
            low: 0.02,
            high: 0.31,
        },
        score: 0.93,
        detector: "ewma",
        started_at: ts - (i % 2) as i64 * 1000,
        evidence: None,
        log: None,
        summary: format!(
            "host.cpu.core.{}.utilization is 0.97, above the expected range 0.02..0.31 (score 0.93, detector ewma)",
            i % 64
        ),
    };
    serde_json::to_vec(&event).expect("alert JSON")
}

fn run(format: &str, n: usize) {
    let receiver = HttpReceiver::start();
    let dir = common::scratch_dir(&format!("bench-webhook-{format}"));
    let extra = if format == "pagerduty" {
        "routing_key = \"bench\"\n"
    } else {
        ""
    };
    let config = seismo_config::parse(
        &format!(
            "[[sinks.webhook]]\nname = \"b\"\nformat = \"{format}\"\nurl = \"{}\"\n{extra}",
            receiver.url()
        ),
        "bench",
    )
    .expect("config");
    let runtime = common::runtime();
    let stats = Stats::default();
    let outbox = Outbox::open(&dir, "b", 1 << 30, stats.sink("b")).expect("open the outbox");
    let payloads: Vec<Vec<u8>> = (0..n).map(alert).collect();
    common::in_batches(&payloads, |refs| {
        outbox
            .append_batch(EventKind::Alert as u8, refs)
            .expect("append");
    });
    let requests = if format == "pagerduty" {
        n
    } else {
        n.div_ceil(BATCH)
    };

    let stop = CancellationToken::new();
    let t0 = Instant::now();
    let sink = WebhookSink::new(&config.sinks.webhook[0]).expect("sink");
    let task = runtime.spawn(deliver::run(
        Arc::clone(&outbox),
        sink,
        Backoff::default(),
        stop.clone(),
    ));
    let got = receiver.wait(Duration::from_secs(600), |rs| rs.len() >= requests);
    let secs = t0.elapsed().as_secs_f64();
    stop.cancel();
    let _ = runtime.block_on(task);
    let _ = std::fs::remove_dir_all(&dir);
    let events: usize = got
        .iter()
        .map(|r| r.json().as_array().map_or(1, Vec::len))
        .sum();
    println!(
        "webhook {format:<12}: {events} of {n} events delivered in {secs:.2} s = {:.0} events/s ({} requests)",
        events as f64 / secs,
        got.len()
    );
}

fn main() {
    let n: usize = common::env_number("SEISMO_BENCH_ALERTS", 5_000);
    for format in ["json", "alertmanager", "pagerduty"] {
        run(format, n);
    }
}
