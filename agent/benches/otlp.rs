//! Alerts per second the OTLP sink delivers to a real OTLP receiver (the tests crate's, on
//! 127.0.0.1), over gRPC and over HTTP/protobuf: the whole path from the durable outbox (read a
//! batch, encode, export, wait for the collector's answer, write the ack cursor with fsync).
//! Run: `cargo bench -p seismo --bench otlp` (`SEISMO_BENCH_ALERTS` sets the count, default
//! 20000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo::backoff::Backoff;
use seismo::event::{AlertEvent, AlertState, Event, Range, Severity};
use seismo::sinks::deliver;
use seismo::sinks::otlp::transport::LogsTransport;
use seismo::sinks::otlp::OtlpSink;
use seismo::sinks::outbox::Outbox;
use seismo::sinks::EventKind;
use seismo::telemetry::stats::Stats;
use seismo_e2e::otlp_receiver::OtlpReceiver;
use tokio_util::sync::CancellationToken;

mod common;

fn alert(i: usize) -> Vec<u8> {
    let ts = 1_764_097_262_123 + i as i64 * 1000;
    let event = AlertEvent {
        time: ts,
        state: if i.is_multiple_of(2) {
            AlertState::Firing
        } else {
            AlertState::Resolved
        },
        alert_id: format!("host.cpu.core.{}.utilization@{ts}", i % 64),
        incident_id: format!("bench-host@{ts}"),
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
        started_at: ts,
        flapping: false,
        evidence: None,
        log: None,
        summary: format!(
            "host.cpu.core.{}.utilization is 0.97, above the expected range 0.02..0.31 (score 0.93, detector ewma)",
            i % 64
        ),
    };
    serde_json::to_vec(&Event::Alert(event)).expect("alert JSON")
}

fn run(protocol: &str, n: usize) {
    let receiver = OtlpReceiver::start();
    let endpoint = match protocol {
        "grpc" => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    };
    let dir = common::scratch_dir(&format!("bench-otlp-{protocol}"));
    let config = seismo_config::parse(
        &format!(
            "[sinks.otlp]\nenabled = true\nprotocol = \"{protocol}\"\nendpoint = \"{endpoint}\"\n"
        ),
        "bench",
    )
    .expect("config");
    let runtime = common::runtime();
    let stats = Stats::default();
    let outbox = Outbox::open(&dir, "otlp", 1 << 30, stats.sink("otlp")).expect("open the outbox");
    let payloads: Vec<Vec<u8>> = (0..n).map(alert).collect();
    common::in_batches(&payloads, |refs| {
        outbox
            .append_batch(EventKind::Alert as u8, refs)
            .expect("append");
    });

    let stop = CancellationToken::new();
    let t0 = Instant::now();
    let task = {
        // tonic's channel is built inside the runtime.
        let _entered = runtime.enter();
        let transport = LogsTransport::new(&config.sinks.otlp, "bench-host").expect("exporter");
        runtime.spawn(deliver::run(
            Arc::clone(&outbox),
            OtlpSink::new(transport),
            Backoff::default(),
            stop.clone(),
        ))
    };
    let delivered = receiver
        .wait_logs(Duration::from_secs(600), |logs| logs.len() >= n)
        .map(|l| l.len());
    let secs = t0.elapsed().as_secs_f64();
    stop.cancel();
    let _ = runtime.block_on(task);
    let _ = std::fs::remove_dir_all(&dir);
    match delivered {
        Ok(got) => println!(
            "otlp {protocol:<4}: {got} alerts delivered in {secs:.2} s = {:.0} alerts/s ({} requests)",
            got as f64 / secs,
            receiver.counts().accepted
        ),
        Err(got) => println!(
            "otlp {protocol:<4}: only {} of {n} alerts delivered in {secs:.0} s",
            got.len()
        ),
    }
}

fn main() {
    let n: usize = common::env_number("SEISMO_BENCH_ALERTS", 20_000);
    for protocol in ["grpc", "http"] {
        run(protocol, n);
    }
}
