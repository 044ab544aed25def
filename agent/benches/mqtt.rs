//! MQTT figures with the real binary and a real Mosquitto on 127.0.0.1:
//! - the agent's RSS with an empty outbox and with 100,000 alerts queued (broker down);
//! - alerts/s delivered at QoS 1 when the broker comes back: the agent drains the 100,000
//!   queued alerts to Mosquitto, counted by a subscriber of the test suite.
//!
//! Prints figures; no assertions.
//!
//! `cargo bench -p seismo --bench mqtt` (needs `mosquitto` on the PATH or in /usr/sbin)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo::sinks::outbox::Outbox;
use seismo::telemetry::stats::SinkStats;
use seismo_e2e::mosquitto::{Broker, BrokerOptions};
use seismo_e2e::mqtt_subscriber::Subscriber;
use seismo_e2e::{default_config_with, Agent};

mod common;
use common::status_kib;

const QUEUED: u64 = 100_000;

fn alert(i: u64) -> Vec<u8> {
    format!(
        "{{\"time\":\"2026-11-25T19:09:21.328Z\",\"state\":\"firing\",\"alert_id\":\"host.cpu.utilization@{i}\",\
         \"host\":\"bench\",\"signal\":\"host.cpu.utilization\",\"severity\":\"critical\",\"observed\":0.97,\
         \"expected\":{{\"low\":0.01,\"high\":0.31}},\"score\":1.0,\"detector\":\"ewma\",\
         \"started_at\":\"2026-11-25T19:09:21.328Z\",\"summary\":\"host.cpu.utilization is 0.97, above the \
         expected range 0.01..0.31 (score 1.00, detector ewma)\"}}"
    )
    .into_bytes()
}

fn config(dir: &Path, port: u16) -> String {
    let mut text = default_config_with(
        &dir.join("state"),
        &[
            ("# host_name = \"web-1\"", "host_name = \"bench\""),
            (
                "enabled = true\n# Sampling interval",
                "enabled = false\n# Sampling interval",
            ),
            (
                "(schema in the README).\nenabled = true",
                "(schema in the README).\nenabled = false",
            ),
        ],
    );
    text += &format!(
        "\n[sinks.mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\nqos = 1\n\
         retry_initial = \"100ms\"\nretry_max = \"1s\"\n"
    );
    let path = dir.join("seismo.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_string_lossy().into_owned()
}

fn started(dir: &Path, port: u16) -> Agent {
    let path = config(dir, port);
    let mut agent = Agent::start(&["run", "--config", &path]);
    assert!(
        agent
            .wait_stderr(Duration::from_secs(30), |l| l.contains("seismo started"))
            .is_some(),
        "{:?}",
        agent.seen_stderr
    );
    agent
}

fn main() {
    std::env::set_var("SEISMO_BIN", env!("CARGO_BIN_EXE_seismo"));
    std::env::set_var(
        "PATH",
        format!("{}:/usr/sbin", std::env::var("PATH").unwrap_or_default()),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    println!("mqtt bench: real seismo + mosquitto on 127.0.0.1, QoS 1, host sampling off");

    // A broker with the subscriber's persistent session, then down.
    let mut broker = Broker::start(&tmp.path().join("broker"), &BrokerOptions::default());
    let sub = Subscriber::start(broker.port, "bench-sub", "seismo/bench/alerts", None);
    assert!(sub.wait_subscribed(Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(2500));
    broker.kill();

    // Baseline: the agent with nothing queued.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let mut agent = started(&empty, broker.port);
    std::thread::sleep(Duration::from_secs(3));
    let rss_empty = status_kib(agent.pid(), "VmRSS:");
    agent.signal(libc::SIGTERM);
    agent.wait_exit(Duration::from_secs(10));

    // 100,000 alerts queued in the MQTT outbox, as a long outage leaves them.
    let work = tmp.path().join("full");
    std::fs::create_dir_all(work.join("state")).expect("dir");
    {
        let ob = Outbox::open(
            &work.join("state"),
            "mqtt",
            64 << 20,
            Arc::new(SinkStats::new("mqtt")),
        )
        .expect("outbox");
        let mut i = 0;
        while i < QUEUED {
            let batch: Vec<Vec<u8>> = (i..(i + 256).min(QUEUED)).map(alert).collect();
            let refs: Vec<&[u8]> = batch.iter().map(|b| b.as_slice()).collect();
            ob.append_batch(1, &refs).expect("append");
            i += 256;
        }
        println!(
            "queued {} alerts, {:.1} MiB on disk",
            ob.queued(),
            ob.disk_bytes() as f64 / (1 << 20) as f64
        );
    }
    let mut agent = started(&work, broker.port);
    std::thread::sleep(Duration::from_secs(3));
    let rss_full = status_kib(agent.pid(), "VmRSS:");
    println!("agent RSS, broker down: {rss_empty} KiB with an empty outbox, {rss_full} KiB with {QUEUED} alerts queued");

    // The broker comes back: the agent drains the outbox at QoS 1.
    let t = Instant::now();
    broker.restart();
    let mut done = false;
    while t.elapsed() < Duration::from_secs(600) {
        if sub.messages().len() as u64 >= QUEUED {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = t.elapsed().as_secs_f64();
    let got = sub.messages().len();
    let peak = status_kib(agent.pid(), "VmHWM:");
    println!(
        "delivered {got} alerts to mosquitto at QoS 1 in {s:.1} s (from broker restart, reconnect included): {:.0} alerts/s{}",
        got as f64 / s,
        if done { "" } else { " (timed out)" }
    );
    println!("agent peak RSS (VmHWM) over the whole run: {peak} KiB");
    agent.signal(libc::SIGTERM);
    agent.wait_exit(Duration::from_secs(10));
    if let Some(line) = agent
        .seen_stderr
        .iter()
        .find(|l| l.contains("seismo stopped"))
    {
        if let Some(at) = line.find("mqtt.queued") {
            println!("agent summary: {}", &line[at..]);
        }
    }
}
