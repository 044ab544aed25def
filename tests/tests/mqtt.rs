//! The MQTT sink end to end: the real binary, a real Mosquitto per test, the test's own
//! subscriber, and real anomalies (a burst of processes moves `host.processes.count`).
//!
//! The agent's stdout sink is the ground truth of what it raised: every event printed there
//! must arrive, alerts on `seismo/e2e/alerts` and incidents on `seismo/e2e/incidents`, in the
//! printed order, none lost (duplicates are allowed by at-least-once delivery and reported).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use seismo_e2e::anomaly::ProcessSpike;
use seismo_e2e::mosquitto::{add_password, write_password_file, Broker, BrokerOptions, BrokerTls};
use seismo_e2e::mqtt_subscriber::Subscriber;
use seismo_e2e::tls_certs::{make_ca, make_client_cert, make_server_cert};
use seismo_e2e::{outbox_segments, process_burst_config, Agent, SLOW_PROCESS_BASELINE};

/// The tests change the machine's process count: one at a time, so one test's burst does not
/// land in another's warm-up or hide another's (as on a loaded CI machine).
static MACHINE: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    MACHINE.lock().unwrap_or_else(|e| e.into_inner())
}

const ALERTS: &str = "seismo/e2e/alerts";
const INCIDENTS: &str = "seismo/e2e/incidents";
const STATUS: &str = "seismo/e2e/status";
const START: Duration = Duration::from_secs(20);
/// Host samples every second; 8 learned points after the first two readings.
const WARMUP: Duration = Duration::from_secs(11);

/// Several process bursts per test, a slow-learning baseline for the process count, `mqtt`.
fn agent_config(dir: &Path, mqtt: &str) -> String {
    process_burst_config(
        dir,
        "e2e",
        &[
            ("resolve_after = 3", "resolve_after = 1"),
            // Several bursts per test, seconds apart: each one its own alert, none held as
            // flapping.
            ("cooldown = \"1m\"", "cooldown = \"0s\""),
            ("flap_window = \"10m\"", "flap_window = \"1s\""),
            // One incident per alert: an incident growing over many bursts would outgrow the
            // 1 KiB record limit of the small outbox one test uses.
            ("correlation_window = \"5m\"", "correlation_window = \"0s\""),
        ],
        &format!("{SLOW_PROCESS_BASELINE}{mqtt}"),
    )
}

fn mqtt_table(port: u16, extra: &str) -> String {
    format!(
        "\n[sinks.mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\n\
         retry_initial = \"200ms\"\nretry_max = \"2s\"\nkeep_alive = \"5s\"\nack_timeout = \"5s\"\n{extra}"
    )
}

/// A burst of 150 idle processes for 1.5 s, then 2 s of normal: one alert that fires and
/// resolves (`resolve_after = 1`).
fn anomaly() {
    ProcessSpike::burst(150, Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(2000));
}

/// Waits for the process-count alert to fire on stdout.
fn wait_process_alert(agent: &mut Agent) {
    let fired = agent.wait_stdout(Duration::from_secs(30), |l| {
        l.contains("\"signal\":\"host.processes.count\"") && l.contains("\"state\":\"firing\"")
    });
    assert!(
        fired.is_some(),
        "no process-count alert; stdout: {:?}",
        agent.seen_stdout
    );
}

/// The event payloads received, alerts and incidents, in arrival order.
fn events(sub: &Subscriber) -> Vec<String> {
    sub.messages()
        .into_iter()
        .filter(|m| m.topic == ALERTS || m.topic == INCIDENTS)
        .map(|m| m.payload)
        .collect()
}

/// The event lines (alerts and incidents) the agent printed so far.
fn printed(agent: &mut Agent) -> Vec<String> {
    agent.wait_stdout(Duration::from_millis(200), |_| false);
    agent.seen_stdout.clone()
}

/// Received payloads without repeats (first occurrence kept), and the number of repeats.
fn dedup(received: &[String]) -> (Vec<String>, usize) {
    let mut seen = HashSet::new();
    let mut unique = Vec::new();
    for r in received {
        if seen.insert(r.clone()) {
            unique.push(r.clone());
        }
    }
    let dups = received.len() - unique.len();
    (unique, dups)
}

fn is_subsequence(small: &[String], big: &[String]) -> bool {
    let mut it = big.iter();
    small.iter().all(|s| it.any(|b| b == s))
}

/// Waits until every line of `printed` arrived on its topic, then checks the order.
/// With `agent`, also checks that nothing arrived that the agent did not print (its stdout is
/// read again, as it may have raised more alerts meanwhile). Returns the duplicates seen.
fn assert_delivered_in_order(
    sub: &Subscriber,
    printed: &[String],
    agent: Option<&mut Agent>,
) -> usize {
    let all_in = |sub: &Subscriber| {
        let got: HashSet<String> = events(sub).into_iter().collect();
        printed.iter().all(|p| got.contains(p))
    };
    let start = Instant::now();
    while !all_in(sub) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (unique, dups) = dedup(&events(sub));
    let missing: Vec<&String> = printed.iter().filter(|p| !unique.contains(p)).collect();
    assert!(missing.is_empty(), "events never arrived: {missing:#?}");
    assert!(
        is_subsequence(printed, &unique),
        "out of order:\nprinted {printed:#?}\nreceived {unique:#?}"
    );
    if let Some(agent) = agent {
        // The outbox is written before stdout: give stdout a moment to catch up.
        std::thread::sleep(Duration::from_millis(500));
        let now = self::printed(agent);
        assert!(
            is_subsequence(&unique, &now),
            "the broker got alerts the agent never printed, or out of order:\nprinted {now:#?}\nreceived {unique:#?}"
        );
    }
    if dups > 0 {
        eprintln!("at-least-once: {dups} duplicate deliveries");
    }
    dups
}

fn stop(agent: &mut Agent) {
    agent.stop(Duration::from_secs(10));
}

/// A broker with the test's subscriber session registered and persisted, then killed: messages
/// for it are kept by the broker once it is back, whoever connects first.
fn broker_with_persistent_subscriber(dir: &Path, options: &BrokerOptions) -> (Broker, Subscriber) {
    let broker = Broker::start(&dir.join("broker"), options);
    let sub = Subscriber::subscribed_to(&broker, "e2e-sub", "seismo/#", None);
    // Let the broker's 1 s autosave persist the session.
    std::thread::sleep(Duration::from_millis(2500));
    (broker, sub)
}

/// A broker that lets in only `reader` (the test's subscriber, subscribed) and `seismo` with
/// `password`; returns it, the subscriber and the password file.
fn broker_with_passwords(dir: &Path, password: &str) -> (Broker, Subscriber, PathBuf) {
    let passwords = dir.join("passwd");
    write_password_file(&passwords, "reader", "r3ader");
    add_password(&passwords, "seismo", password);
    let options = BrokerOptions {
        password_file: Some(passwords.clone()),
        tls: None,
    };
    let broker = Broker::start(&dir.join("broker"), &options);
    let sub = Subscriber::subscribed_to(&broker, "e2e-sub", "seismo/#", Some(("reader", "r3ader")));
    (broker, sub, passwords)
}

/// A test folder, a broker holding the test subscriber's persistent session (see
/// `broker_with_persistent_subscriber`), and the agent's configuration for that broker with
/// the MQTT keys `extra`.
fn persistent_session(extra: &str) -> (tempfile::TempDir, Broker, Subscriber, String) {
    let dir = tempfile::tempdir().unwrap();
    let (broker, sub) = broker_with_persistent_subscriber(dir.path(), &Default::default());
    let config = agent_config(dir.path(), &mqtt_table(broker.port, extra));
    (dir, broker, sub, config)
}

fn run_delivery(version: &str, qos: u8, clean_stop: bool) {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"), &BrokerOptions::default());
    let sub = Subscriber::subscribed_to(&broker, "e2e-sub", "seismo/#", None);
    let config = agent_config(
        dir.path(),
        &mqtt_table(
            broker.port,
            &format!("version = \"{version}\"\nqos = {qos}\n"),
        ),
    );
    let mut agent = Agent::run(&config);
    assert!(
        sub.wait_for(START, |m| m
            .iter()
            .any(|m| m.topic == STATUS && m.payload == "online")),
        "no online status; agent: {:?}",
        agent.seen_stderr
    );
    std::thread::sleep(WARMUP);
    anomaly();
    wait_process_alert(&mut agent);
    let printed = printed(&mut agent);
    assert_delivered_in_order(&sub, &printed, Some(&mut agent));

    // The payload is the stdout schema.
    let alert = sub
        .payloads(ALERTS)
        .into_iter()
        .find(|p| p.contains("host.processes.count") && p.contains("\"firing\""))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(v["kind"], "alert");
    assert_eq!(v["host"], "e2e");
    assert_eq!(v["signal"], "host.processes.count");
    assert_eq!(v["detector"], "ewma");
    assert!(v["observed"].as_f64().unwrap() > v["expected"]["high"].as_f64().unwrap());
    for key in [
        "time",
        "alert_id",
        "severity",
        "score",
        "started_at",
        "summary",
        "incident_id",
    ] {
        assert!(!v[key].is_null(), "{key} missing in {v}");
    }
    // Its incident is on the incidents topic, under the id the alert names.
    let of_alert = |p: &str| {
        serde_json::from_str::<serde_json::Value>(p)
            .ok()
            .filter(|i| i["incident_id"] == v["incident_id"])
    };
    sub.wait_for(Duration::from_secs(20), |m| {
        m.iter()
            .any(|m| m.topic == INCIDENTS && of_alert(&m.payload).is_some())
    });
    let incident = sub
        .payloads(INCIDENTS)
        .iter()
        .find_map(|p| of_alert(p))
        .unwrap_or_else(|| panic!("no incident {} on {INCIDENTS}", v["incident_id"]));
    assert_eq!(incident["kind"], "incident");
    assert_eq!(incident["host"], "e2e");
    assert!(
        incident["signals"]
            .as_array()
            .is_some_and(|s| s.contains(&v["signal"])),
        "{incident}"
    );
    assert!(incident["timeline"][0]["signal"].is_string(), "{incident}");

    if clean_stop {
        // A clean stop says `offline` itself (a clean DISCONNECT suppresses the Last Will).
        stop(&mut agent);
        assert_eq!(
            agent.summary_counter("mqtt.delivered"),
            agent.seen_stdout.len() as u64,
            "every printed event delivered before the agent stopped"
        );
        assert_eq!(agent.summary_counter("mqtt.dropped"), 0);
    } else {
        // A crash: the broker publishes the Last Will.
        agent.signal(libc::SIGKILL);
        agent.wait_exit(Duration::from_secs(10));
    }
    assert!(
        sub.wait_for(Duration::from_secs(20), |m| m
            .iter()
            .rev()
            .find(|m| m.topic == STATUS)
            .is_some_and(|m| m.payload == "offline")),
        "no offline status: {:?}",
        sub.messages()
    );
    // Both are retained: a newcomer learns the agent is offline.
    let late = Subscriber::start(broker.port, "e2e-late", STATUS, None);
    assert!(
        late.wait_for(Duration::from_secs(10), |m| m
            .iter()
            .any(|m| m.retain && m.payload == "offline")),
        "{:?}",
        late.messages()
    );
}

#[test]
fn mqtt_3_1_1_qos_1_delivers_alerts_with_topic_payload_and_status() {
    let _machine = serial();
    run_delivery("3.1.1", 1, true);
}

#[test]
fn mqtt_5_qos_2_delivers_alerts_and_the_last_will_says_offline() {
    let _machine = serial();
    run_delivery("5", 2, false);
}

#[test]
fn broker_down_at_start_then_up_delivers_everything_in_order() {
    let _machine = serial();
    let (_dir, mut broker, sub, config) = persistent_session("");
    broker.kill();
    let mut agent = Agent::run(&config);
    agent.expect_stderr(START, "cannot connect to the broker");
    std::thread::sleep(WARMUP);
    anomaly();
    wait_process_alert(&mut agent);
    assert!(agent.pid() > 0);
    broker.restart();
    let printed = printed(&mut agent);
    assert_delivered_in_order(&sub, &printed, Some(&mut agent));
    stop(&mut agent);
    assert_eq!(agent.summary_counter("mqtt.dropped"), 0);
}

#[test]
fn broker_killed_mid_stream_and_back_after_10s_loses_nothing() {
    let _machine = serial();
    let (_dir, mut broker, sub, config) = persistent_session("");
    let mut agent = Agent::run(&config);
    std::thread::sleep(WARMUP);
    anomaly();
    wait_process_alert(&mut agent);
    let so_far = printed(&mut agent);
    assert_delivered_in_order(&sub, &so_far, Some(&mut agent));

    broker.kill();
    let down = Instant::now();
    anomaly(); // raised while the broker is down
    anomaly();
    std::thread::sleep(Duration::from_secs(10).saturating_sub(down.elapsed()));
    broker.restart();
    anomaly();
    let printed = printed(&mut agent);
    let dups = assert_delivered_in_order(&sub, &printed, Some(&mut agent));
    stop(&mut agent);
    assert_eq!(agent.summary_counter("mqtt.dropped"), 0);
    // Whatever came twice was retried after a lost acknowledgement.
    assert!(dups as u64 <= agent.summary_counter("mqtt.retried"));
}

#[test]
fn sigkill_with_a_full_outbox_then_restart_delivers_everything() {
    let _machine = serial();
    let (dir, mut broker, sub, config) = persistent_session("");
    broker.kill();
    let mut first = Agent::run(&config);
    std::thread::sleep(WARMUP);
    anomaly();
    anomaly();
    wait_process_alert(&mut first);
    let printed_before = printed(&mut first);
    assert!(printed_before.len() >= 2, "{printed_before:?}");
    let outbox = dir.path().join("state/outbox/mqtt");
    let segments = outbox_segments(&outbox);
    assert!(segments > 0, "nothing queued in {}", outbox.display());
    first.signal(libc::SIGKILL);
    first.wait_exit(Duration::from_secs(10));

    broker.restart();
    let mut second = Agent::run(&config);
    // What the first agent queued arrives from the second, in order.
    assert_delivered_in_order(&sub, &printed_before, None);
    stop(&mut second);
    let printed_after = second.seen_stdout.clone();
    let mut all = printed_before.clone();
    all.extend(printed_after);
    assert_delivered_in_order(&sub, &all, None);
}

#[test]
fn a_full_outbox_drops_the_oldest_counts_them_and_keeps_memory_flat() {
    let _machine = serial();
    // 4 KiB: room for about 7 alerts.
    let (_dir, mut broker, sub, config) = persistent_session("outbox_max_bytes = 4096\n");
    broker.kill();
    let mut agent = Agent::run(&config);
    std::thread::sleep(WARMUP);
    let rss_before = rss_kib(agent.pid());
    let mut cycles = 0;
    while printed(&mut agent).len() < 16 && cycles < 20 {
        anomaly();
        cycles += 1;
    }
    let printed = printed(&mut agent);
    assert!(printed.len() >= 16, "only {} alerts", printed.len());
    let rss_after = rss_kib(agent.pid());

    broker.restart();
    let last = printed.last().unwrap().clone();
    assert!(
        sub.wait_for(Duration::from_secs(60), |m| m
            .iter()
            .any(|m| m.payload == last)),
        "the newest alert never arrived"
    );
    stop(&mut agent);
    // Everything the agent printed, up to its stop.
    let printed = agent.seen_stdout.clone();
    let (unique, _) = dedup(&events(&sub));
    let dropped = agent.summary_counter("mqtt.dropped");
    let queued = agent.summary_counter("mqtt.queued");
    assert!(dropped > 0, "nothing dropped");
    // The oldest were dropped: every alert is delivered, counted as dropped, or still queued
    // for the next start; what arrived follows the dropped ones, in order.
    assert_eq!(
        unique.len() as u64 + dropped + queued,
        printed.len() as u64,
        "delivered {} dropped {dropped} queued {queued} printed {}",
        unique.len(),
        printed.len()
    );
    let d = dropped as usize;
    assert_eq!(unique, printed[d..d + unique.len()]);
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

/// Waits (up to 30 s) until the broker logged `n` connections from 127.0.0.1; returns how many
/// it logged.
fn connections(broker: &Broker, n: usize) -> usize {
    let count = || {
        broker
            .log()
            .matches("New connection from 127.0.0.1")
            .count()
    };
    let start = Instant::now();
    while count() < n && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    count()
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn bad_credentials_are_reported_retried_and_recover_without_a_crash() {
    let _machine = serial();
    let dir = tempfile::tempdir().unwrap();
    let (broker, sub, passwords) = broker_with_passwords(dir.path(), "right");
    let agent_pw = dir.path().join("agent-password");
    std::fs::write(&agent_pw, "wrong\n").unwrap();
    let config = agent_config(
        dir.path(),
        &mqtt_table(
            broker.port,
            &format!(
                "username = \"seismo\"\npassword_file = \"{}\"\n",
                agent_pw.display()
            ),
        ),
    );
    let mut agent = Agent::run(&config);
    let err = agent.wait_stderr(START, |l| {
        l.contains("bad username or password") || l.contains("not authorized")
    });
    assert!(err.is_some(), "{:?}", agent.seen_stderr);
    // Retried with backoff, not once, and logged once (rate-limited), not per attempt.
    let start = Instant::now();
    while broker.log().matches("not authorised").count() < 3
        && start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        broker.log().matches("not authorised").count() >= 3,
        "{}",
        broker.log()
    );
    agent.wait_stderr(Duration::from_millis(200), |_| false);
    let logged = agent
        .seen_stderr
        .iter()
        .filter(|l| l.contains("bad username or password") || l.contains("not authorized"))
        .count();
    assert_eq!(logged, 1, "{:?}", agent.seen_stderr);

    // The operator fixes the broker side; the agent gets in on its next attempt.
    add_password(&passwords, "seismo", "wrong");
    broker.reload();
    assert!(
        sub.wait_for(Duration::from_secs(30), |m| m
            .iter()
            .any(|m| m.topic == STATUS && m.payload == "online")),
        "agent never got in: {:?}",
        agent.seen_stderr
    );
    stop(&mut agent);
}

#[test]
fn tls_with_the_wrong_ca_is_reported_and_retried_and_the_right_ca_connects() {
    let _machine = serial();
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = make_ca(&certs, "ca");
    let other_ca = make_ca(&certs, "other-ca");
    let server = make_server_cert(&certs, &ca, "server");
    let options = BrokerOptions {
        password_file: None,
        tls: Some(BrokerTls {
            ca_file: ca.0.clone(),
            cert_file: server.0,
            key_file: server.1,
            require_certificate: false,
        }),
    };
    let mut broker = Broker::start(&dir.path().join("broker"), &options);
    let port = broker.port;
    let tls = |ca: &Path| {
        mqtt_table(
            port,
            &format!(
                "[sinks.mqtt.tls]\nenabled = true\nca_file = \"{}\"\n",
                ca.display()
            ),
        )
    };

    let config = agent_config(dir.path(), &tls(&other_ca.0));
    let mut agent = Agent::run(&config);
    agent.expect_stderr(START, "TLS handshake failed");
    // Retried: several handshakes reach the broker; the agent keeps running.
    assert!(connections(&broker, 3) >= 3, "{}", broker.log());
    assert!(broker.is_running());
    stop(&mut agent);

    let config = agent_config(dir.path(), &tls(&ca.0));
    let mut agent = Agent::run(&config);
    agent.expect_stderr(START, "connected to the MQTT broker");
    assert!(broker.log().contains("as seismo-e2e"), "{}", broker.log());
    stop(&mut agent);
}

/// A broker that requires client certificates (mosquitto `require_certificate true`): without
/// one the agent logs the refused handshake and retries; with the configured certificate and
/// key it connects and its alerts arrive, in order.
#[test]
fn a_broker_requiring_client_certificates_gets_alerts_from_an_agent_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = make_ca(&certs, "ca");
    let server = make_server_cert(&certs, &ca, "server");
    let client = make_client_cert(&certs, &ca, "seismo-agent");
    let options = BrokerOptions {
        password_file: None,
        tls: Some(BrokerTls {
            ca_file: ca.0.clone(),
            cert_file: server.0,
            key_file: server.1,
            require_certificate: true,
        }),
    };
    let broker = Broker::start(&dir.path().join("broker"), &options);
    assert!(broker.plain_port.is_some(), "no plain listener");
    let sub = Subscriber::subscribed_to(&broker, "e2e-sub", "seismo/#", None);
    let tls = |identity: &str| {
        mqtt_table(
            broker.port,
            &format!(
                "[sinks.mqtt.tls]\nenabled = true\nca_file = \"{}\"\n{identity}",
                ca.0.display()
            ),
        )
    };

    // No client certificate: the broker ends the handshake.
    let config = agent_config(dir.path(), &tls(""));
    let mut agent = Agent::run(&config);
    let err = agent.wait_stderr(START, |l| {
        l.contains("TLS handshake failed") && l.contains("requires a client certificate")
    });
    assert!(err.is_some(), "{:?}", agent.seen_stderr);
    assert!(
        connections(&broker, 3) >= 3,
        "not retried: {}",
        broker.log()
    );
    assert!(!sub
        .messages()
        .iter()
        .any(|m| m.topic == STATUS && m.payload == "online"));
    stop(&mut agent);

    // With the certificate: connected, online, and the alerts arrive.
    let identity = format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n",
        client.0.display(),
        client.1.display()
    );
    let config = agent_config(dir.path(), &tls(&identity));
    let mut agent = Agent::run(&config);
    assert!(
        sub.wait_for(START, |m| m
            .iter()
            .any(|m| m.topic == STATUS && m.payload == "online")),
        "no online status over mutual TLS; agent: {:?}\nbroker: {}",
        agent.seen_stderr,
        broker.log()
    );
    std::thread::sleep(WARMUP);
    anomaly();
    wait_process_alert(&mut agent);
    let printed = printed(&mut agent);
    assert_delivered_in_order(&sub, &printed, Some(&mut agent));
    stop(&mut agent);
}

/// The password from an environment variable (`password_env`): the broker lets the agent in.
/// Unset, the agent refuses to start and names the variable.
#[test]
fn the_password_from_an_environment_variable_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, sub, _) = broker_with_passwords(dir.path(), "from-the-env");
    let config = agent_config(
        dir.path(),
        &mqtt_table(
            broker.port,
            "username = \"seismo\"\npassword_env = \"SEISMO_E2E_MQTT_PASSWORD\"\n",
        ),
    );

    let mut unset = Agent::start(&["run", "--config", &config]);
    let (status, _) = unset.wait_exit(Duration::from_secs(20));
    assert_ne!(status.code(), Some(0));
    assert!(
        unset
            .seen_stderr
            .iter()
            .any(|l| l.contains("SEISMO_E2E_MQTT_PASSWORD") && l.contains("not set")),
        "{:?}",
        unset.seen_stderr
    );

    let mut agent = Agent::start_with_env(
        &["run", "--config", &config],
        &[("SEISMO_E2E_MQTT_PASSWORD", "from-the-env")],
    );
    assert!(
        agent
            .wait_stderr(START, |l| l.contains("connected to the MQTT broker"))
            .is_some(),
        "{:?}\n{}",
        agent.seen_stderr,
        broker.log()
    );
    assert!(
        sub.wait_for(START, |m| m
            .iter()
            .any(|m| m.topic == STATUS && m.payload == "online")),
        "{:?}",
        agent.seen_stderr
    );
    assert!(
        !agent
            .seen_stderr
            .iter()
            .any(|l| l.contains("bad username or password")),
        "{:?}",
        agent.seen_stderr
    );
    stop(&mut agent);
}
