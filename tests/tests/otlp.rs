//! The real `seismo` binary exporting alerts to a real OTLP receiver (gRPC and HTTP/protobuf),
//! through outages, hangs and a SIGKILL. The alerts come from a real anomaly: a burst of idle
//! processes after warm-up makes `host.processes.count` jump.
//!
//! Each alert (and incident) is checked against the same event on the agent's stdout (JSON), so
//! the OTLP mapping is held to the documented schema field by field.

use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use seismo_e2e::anomaly::ProcessSpike;
use seismo_e2e::otlp_receiver::{
    signal_values, Mode, OtlpReceiver, ReceivedGauge, ReceivedLog, Transport,
};
use seismo_e2e::{process_burst_config, Agent};
use serde_json::Value;

/// Signal whose anomaly the tests induce.
const SIGNAL: &str = "host.processes.count";
const HOST: &str = "e2e-otlp-host";

/// The tests change the machine's process count: one at a time, so one test's spike does not
/// land in another's warm-up.
static MACHINE: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    MACHINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A 1 s interval, a short warm-up, the OTLP sink on `endpoint`, plus `extra` keys.
fn config(dir: &tempfile::TempDir, protocol: &str, endpoint: &str, extra: &str) -> String {
    process_burst_config(
        dir.path(),
        HOST,
        &[
            // An alert raised before the induced one (the previous test's processes going
            // away) must not hold the induced one back in a cool-down or as flapping.
            ("cooldown = \"1m\"", "cooldown = \"0s\""),
            ("flap_window = \"10m\"", "flap_window = \"1s\""),
        ],
        &format!(
            "\n[sinks.otlp]\nenabled = true\nprotocol = \"{protocol}\"\nendpoint = \"{endpoint}\"\n\
             retry_initial = \"100ms\"\nretry_max = \"1s\"\n{extra}\n"
        ),
    )
}

fn is_event(line: &str, state: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|v| v["signal"] == SIGNAL && v["state"] == state)
}

/// After warm-up, spikes the process count until the agent prints the firing alert on stdout,
/// then ends the spike and waits for the resolution.
fn induce_alert(agent: &mut Agent) {
    induce_alert_held(agent, Duration::ZERO);
}

/// As `induce_alert`, the spike held for `hold` after the alert fired (so that a periodic
/// export, whose phase the test does not control, sees it too).
fn induce_alert_held(agent: &mut Agent, hold: Duration) {
    // The first sample primes the rates, then 8 points are learned.
    std::thread::sleep(Duration::from_secs(11));
    let spike = ProcessSpike::start(400);
    let fired = agent.wait_stdout(Duration::from_secs(20), |l| is_event(l, "firing"));
    std::thread::sleep(hold);
    drop(spike);
    assert!(
        fired.is_some(),
        "no alert on stdout: {:?}",
        agent.seen_stdout
    );
    let resolved = agent.wait_stdout(Duration::from_secs(20), |l| is_event(l, "resolved"));
    assert!(
        resolved.is_some(),
        "no resolution on stdout: {:?}",
        agent.seen_stdout
    );
}

/// (id, state, severity, summary, time in ns) of a stdout event (alert or incident).
fn key_json(v: &Value) -> (String, String, String, String, u64) {
    let id = if v["kind"] == "incident" {
        &v["incident_id"]
    } else {
        &v["alert_id"]
    };
    (
        id.as_str().unwrap_or_default().to_owned(),
        v["state"].as_str().unwrap_or_default().to_owned(),
        v["severity"].as_str().unwrap_or_default().to_owned(),
        v["summary"].as_str().unwrap_or_default().to_owned(),
        humantime::parse_rfc3339(v["time"].as_str().unwrap_or_default())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64),
    )
}

fn key_otlp(r: &ReceivedLog) -> (String, String, String, String, u64) {
    let prefix = if r.record.event_name == "seismo.incident" {
        "seismo.incident"
    } else {
        "seismo.alert"
    };
    (
        r.attr(&format!("{prefix}.id")).unwrap_or_default(),
        r.attr(&format!("{prefix}.state")).unwrap_or_default(),
        r.attr(&format!("{prefix}.severity")).unwrap_or_default(),
        r.body().unwrap_or_default(),
        r.record.time_unix_nano,
    )
}

/// The received records with repeats removed (at-least-once allows a record twice).
fn dedup(logs: &[ReceivedLog]) -> Vec<ReceivedLog> {
    let mut seen = std::collections::HashSet::new();
    logs.iter()
        .filter(|r| seen.insert(key_otlp(r)))
        .cloned()
        .collect()
}

fn has_resolution(logs: &[ReceivedLog]) -> bool {
    logs.iter().any(|r| {
        r.attr("seismo.signal").as_deref() == Some(SIGNAL)
            && r.attr("seismo.alert.state").as_deref() == Some("resolved")
    })
}

/// Stops the agent, then checks that the receiver holds the agent's stdout alerts, in order,
/// up to and including the spike's resolution, each mapped as documented.
fn stop_and_compare(mut agent: Agent, receiver: &OtlpReceiver, transport: Transport) {
    agent.stop(Duration::from_secs(15));
    let stdout = agent.stdout_json();
    let received = dedup(&receiver.logs());
    let must_arrive = stdout
        .iter()
        .position(|v| v["signal"] == SIGNAL && v["state"] == "resolved")
        .expect("a resolution on stdout")
        + 1;
    assert!(
        received.len() >= must_arrive,
        "{} of {must_arrive} alerts arrived:\nstdout {:#?}\nreceived {:#?}",
        received.len(),
        stdout.iter().map(key_json).collect::<Vec<_>>(),
        received.iter().map(key_otlp).collect::<Vec<_>>()
    );
    for (i, r) in received.iter().enumerate() {
        let v = stdout
            .get(i)
            .unwrap_or_else(|| panic!("received more than stdout printed: {:?}", key_otlp(r)));
        assert_eq!(key_otlp(r), key_json(v), "event {i} out of order");
        check_mapping(r, v, transport);
    }
    // The alert's incident was exported too (it opened with the alert).
    assert!(
        received[..must_arrive]
            .iter()
            .any(|r| r.record.event_name == "seismo.incident"),
        "no incident record: {:?}",
        received.iter().map(key_otlp).collect::<Vec<_>>()
    );
}

/// One OTLP record against the stdout JSON of the same event.
fn check_mapping(r: &ReceivedLog, v: &Value, transport: Transport) {
    if v["kind"] == "incident" {
        return check_incident_mapping(r, v, transport);
    }
    assert_eq!(v["kind"], "alert", "{v}");
    assert_eq!(
        r.attr("seismo.incident.id").as_deref(),
        v["incident_id"].as_str()
    );
    let nanos = check_record(r, v, transport, "seismo.alert");
    assert_eq!(
        r.resource.get("service.name").map(String::as_str),
        Some("seismo")
    );
    assert_eq!(
        r.resource.get("service.version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(r.scope, "seismo");
    assert!(r.record.observed_time_unix_nano >= nanos);
    for key in ["signal", "detector", "started_at"] {
        assert_eq!(
            r.attr(&format!(
                "seismo.{}",
                key.replace("started_at", "alert.started_at")
            ))
            .as_deref(),
            v[key].as_str(),
            "{key}"
        );
    }
    assert_eq!(r.attr_f64("seismo.score"), v["score"].as_f64());
    assert_eq!(r.attr_f64("seismo.observed"), v["observed"].as_f64());
    assert_eq!(
        r.attr_f64("seismo.expected.low"),
        v["expected"]["low"].as_f64()
    );
    assert_eq!(
        r.attr_f64("seismo.expected.high"),
        v["expected"]["high"].as_f64()
    );
}

/// What alert and incident records share, against the stdout JSON: the transport, the host,
/// the event name, the summary as the body, the severity and the time. Returns the time in ns.
fn check_record(r: &ReceivedLog, v: &Value, transport: Transport, event_name: &str) -> u64 {
    assert_eq!(r.transport, transport);
    assert_eq!(r.resource.get("host.name").map(String::as_str), Some(HOST));
    assert_eq!(r.record.event_name, event_name);
    assert_eq!(r.body().as_deref(), v["summary"].as_str());
    let (number, text) = match (v["state"].as_str(), v["severity"].as_str()) {
        (Some("resolved"), _) => (9, "INFO"),
        (_, Some("critical")) => (17, "ERROR"),
        _ => (13, "WARN"),
    };
    assert_eq!(r.record.severity_number, number, "{v}");
    assert_eq!(r.record.severity_text, text);
    let time = humantime::parse_rfc3339(v["time"].as_str().unwrap()).unwrap();
    let nanos = time.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert_eq!(r.record.time_unix_nano, nanos);
    nanos
}

/// An incident record against the stdout JSON of the same incident event.
fn check_incident_mapping(r: &ReceivedLog, v: &Value, transport: Transport) {
    check_record(r, v, transport, "seismo.incident");
    assert_eq!(
        r.attr("seismo.incident.origin").as_deref(),
        v["origin"].as_str()
    );
    assert_eq!(
        r.attr("seismo.incident.started_at").as_deref(),
        v["started_at"].as_str()
    );
    let signals: Vec<String> = v["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(r.attr_strings("seismo.incident.signals"), Some(signals));
}

/// Alerts exported over `transport`, gzip-compressed, with an API key header (named
/// `header` in the configuration, with the value `key`): every request carries both, and the
/// records arrive in order, mapped as documented.
fn alerts_arrive_compressed_with_a_header(transport: Transport, header: &str, key: &str) {
    let _machine = serial();
    let receiver = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let (protocol, endpoint, encoding) = match transport {
        Transport::Grpc => ("grpc", receiver.grpc_endpoint(), "grpc-encoding"),
        Transport::Http => ("http", receiver.http_endpoint(), "content-encoding"),
    };
    let path = config(
        &dir,
        protocol,
        &endpoint,
        &format!("compression = \"gzip\"\nheaders = {{ \"{header}\" = \"{key}\" }}"),
    );
    let mut agent = Agent::run(&path);
    induce_alert(&mut agent);
    let got = receiver.wait_logs(Duration::from_secs(20), has_resolution);
    assert!(got.is_ok(), "not delivered: {got:?}");
    let logs = receiver.logs();
    assert!(logs.iter().all(|r| {
        r.headers.get("x-api-key").map(String::as_str) == Some(key)
            && r.headers.get(encoding).map(String::as_str) == Some("gzip")
    }));
    stop_and_compare(agent, &receiver, transport);
}

#[test]
fn alerts_arrive_over_grpc_with_the_documented_record_and_resource() {
    alerts_arrive_compressed_with_a_header(Transport::Grpc, "X-Api-Key", "k-123");
}

#[test]
fn alerts_arrive_over_http_protobuf_with_the_documented_record_and_resource() {
    alerts_arrive_compressed_with_a_header(Transport::Http, "x-api-key", "k-456");
}

/// The collector answers UNAVAILABLE while the alerts are raised; the agent keeps them, retries
/// with backoff, and delivers all of them in order once the collector recovers.
#[test]
fn a_receiver_answering_unavailable_then_recovering_gets_every_alert_in_order() {
    let _machine = serial();
    let receiver = OtlpReceiver::start();
    receiver.set_mode(Mode::Unavailable);
    let dir = tempfile::tempdir().unwrap();
    let path = config(&dir, "grpc", &receiver.grpc_endpoint(), "");
    let mut agent = Agent::run(&path);
    induce_alert(&mut agent);
    let refused = receiver.wait_counts(Duration::from_secs(10), |c| c.refused >= 3);
    assert!(refused.refused >= 3, "not retried: {refused:?}");
    assert!(receiver.logs().is_empty());
    assert!(
        agent
            .wait_stderr(Duration::from_secs(10), |l| l.contains("Unavailable"))
            .is_some(),
        "the failure is not logged: {:?}",
        agent.seen_stderr
    );
    receiver.set_mode(Mode::Accept);
    let got = receiver.wait_logs(Duration::from_secs(20), has_resolution);
    assert!(got.is_ok(), "not delivered after recovery: {got:?}");
    stop_and_compare(agent, &receiver, Transport::Grpc);
}

/// The collector takes requests and never answers: each export times out, is retried, and
/// everything is delivered once it answers again.
#[test]
fn a_hanging_receiver_times_out_and_gets_every_alert_later() {
    let _machine = serial();
    let receiver = OtlpReceiver::start();
    receiver.set_mode(Mode::Hang);
    let dir = tempfile::tempdir().unwrap();
    let path = config(&dir, "http", &receiver.http_endpoint(), "timeout = \"1s\"");
    let mut agent = Agent::run(&path);
    induce_alert(&mut agent);
    let hung = receiver.wait_counts(Duration::from_secs(15), |c| c.hung >= 2);
    assert!(
        hung.hung >= 2,
        "the timed-out export was not retried: {hung:?}"
    );
    assert!(receiver.logs().is_empty());
    receiver.set_mode(Mode::Accept);
    let got = receiver.wait_logs(Duration::from_secs(20), has_resolution);
    assert!(got.is_ok(), "not delivered after the hang: {got:?}");
    stop_and_compare(agent, &receiver, Transport::Http);
}

/// Alerts raised while the collector is down stay in the outbox across a SIGKILL; the next
/// agent on the same state directory delivers all of them, in order.
#[test]
fn alerts_undelivered_at_sigkill_are_delivered_in_order_after_restart() {
    let _machine = serial();
    let receiver = OtlpReceiver::start();
    receiver.set_mode(Mode::Unavailable);
    let dir = tempfile::tempdir().unwrap();
    let path = config(&dir, "grpc", &receiver.grpc_endpoint(), "");
    let mut first = Agent::run(&path);
    induce_alert(&mut first);
    first.signal(libc::SIGKILL);
    let (status, _) = first.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), None, "killed by a signal");
    assert!(receiver.logs().is_empty());
    receiver.set_mode(Mode::Accept);
    delivered_after_restart(&first, &path, &receiver, "not all delivered after restart");
}

/// Starts a second agent on `path` (the state of `first`): the receiver gets every event
/// `first` printed, in order, each mapped as documented (over gRPC); fails with `failure`
/// when they do not all arrive.
fn delivered_after_restart(first: &Agent, path: &str, receiver: &OtlpReceiver, failure: &str) {
    let before = first.stdout_json();
    let second = Agent::run(path);
    let got = receiver.wait_logs(Duration::from_secs(20), |logs| {
        dedup(logs).len() >= before.len()
    });
    assert!(got.is_ok(), "{failure}: {got:?}");
    let received = dedup(&receiver.logs());
    for (i, v) in before.iter().enumerate() {
        assert_eq!(
            key_otlp(&received[i]),
            key_json(v),
            "event {i} out of order"
        );
        check_mapping(&received[i], v, Transport::Grpc);
    }
    drop(second);
}

/// A collector that refuses the data itself (INVALID_ARGUMENT): the alerts are dropped, counted
/// and logged, not retried forever.
#[test]
fn alerts_the_receiver_rejects_as_invalid_are_dropped_and_counted_not_retried_forever() {
    let _machine = serial();
    let receiver = OtlpReceiver::start();
    receiver.set_mode(Mode::Reject);
    let dir = tempfile::tempdir().unwrap();
    let path = config(&dir, "grpc", &receiver.grpc_endpoint(), "");
    let mut agent = Agent::run(&path);
    induce_alert(&mut agent);
    assert!(
        agent
            .wait_stderr(Duration::from_secs(10), |l| l
                .contains("refused records for good")
                && l.contains("InvalidArgument"))
            .is_some(),
        "the refusal is not logged: {:?}",
        agent.seen_stderr
    );
    // Retrying a refused record every 100 ms to 1 s would pass two attempts per alert within
    // these seconds; a refused record is sent at most twice (in its batch, then alone).
    receiver.wait_counts(Duration::from_secs(5), |c| c.rejected >= 2);
    std::thread::sleep(Duration::from_secs(4));
    let later = receiver.counts();
    agent.stop(Duration::from_secs(15));
    let dropped = agent.summary_counter("otlp.dropped");
    let events = agent.seen_stdout.len() as u64;
    assert!(receiver.logs().is_empty());
    assert_eq!(dropped, events, "every refused alert is counted once");
    assert!(
        (2..=2 * events).contains(&later.rejected),
        "{later:?} for {events} alerts: retried after a refusal"
    );
}

/// gRPC over TLS: with a CA the collector's certificate does not chain to, the agent logs the
/// TLS failure, keeps the alerts and keeps running; restarted with the right CA, it delivers them.
#[test]
fn tls_with_a_wrong_ca_is_logged_and_retried_and_the_right_ca_delivers() {
    use seismo_e2e::tls_certs::{make_ca, make_server_cert};
    let _machine = serial();
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), "ca");
    let other = make_ca(dir.path(), "other-ca");
    let server = make_server_cert(dir.path(), &ca, "server");
    let receiver = OtlpReceiver::start_tls(&server.0, &server.1);
    let endpoint = format!("https://{}", receiver.grpc_addr);
    let tls = |ca: &std::path::Path| format!("[sinks.otlp.tls]\nca_file = \"{}\"", ca.display());

    let path = config(&dir, "grpc", &endpoint, &tls(&other.0));
    let mut agent = Agent::run(&path);
    induce_alert(&mut agent);
    assert!(
        agent
            .wait_stderr(Duration::from_secs(10), |l| l.contains("delivery failed")
                && l.to_ascii_lowercase().contains("certificate"))
            .is_some(),
        "no clear TLS error: {:?}",
        agent.seen_stderr
    );
    assert!(receiver.logs().is_empty());
    agent.stop(Duration::from_secs(15));
    let path = config(&dir, "grpc", &endpoint, &tls(&ca.0));
    delivered_after_restart(&agent, &path, &receiver, "not delivered over TLS");
}

/// HTTP/protobuf over TLS (an https:// endpoint and the CA file that signed the collector's
/// certificate), with the signals exported as gauges too: the alerts arrive as over plain HTTP,
/// and every interval brings each signal's value and score, with the documented names,
/// attributes and resource.
#[test]
fn https_with_a_ca_file_delivers_alerts_and_the_signals_as_gauges() {
    use seismo_e2e::tls_certs::{make_ca, make_server_cert};
    let _machine = serial();
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), "ca");
    let server = make_server_cert(dir.path(), &ca, "server");
    let receiver = OtlpReceiver::start_tls(&server.0, &server.1);
    let endpoint = receiver.http_endpoint();
    assert!(endpoint.starts_with("https://"));
    let path = config(
        &dir,
        "http",
        &endpoint,
        &format!(
            "metrics = true\nheaders = {{ \"authorization\" = \"Bearer t0k\" }}\n[sinks.otlp.tls]\nca_file = \"{}\"",
            ca.0.display()
        ),
    );
    let mut agent = Agent::run(&path);
    induce_alert_held(&mut agent, Duration::from_secs(3));
    let got = receiver.wait_logs(Duration::from_secs(20), has_resolution);
    assert!(got.is_ok(), "not delivered over HTTPS: {got:?}");
    assert!(receiver
        .logs()
        .iter()
        .all(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer t0k")));

    let signal_of = |g: &ReceivedGauge| g.attributes.get("seismo.signal").cloned();
    let gauges = receiver.gauges();
    for name in [
        "host.cpu.utilization",
        "host.memory.used_ratio",
        "host.processes.count",
    ] {
        assert!(
            gauges
                .iter()
                .any(|g| g.name == "seismo.signal.value" && signal_of(g).as_deref() == Some(name)),
            "no value gauge for {name}: {gauges:#?}"
        );
        assert!(
            gauges
                .iter()
                .any(|g| g.name == "seismo.signal.score" && signal_of(g).as_deref() == Some(name)),
            "no score gauge for {name} after warm-up"
        );
    }
    for g in &gauges {
        assert_eq!(g.transport, Transport::Http);
        assert_eq!(g.scope, "seismo");
        assert_eq!(
            g.resource.get("service.name").map(String::as_str),
            Some("seismo")
        );
        assert_eq!(g.resource.get("host.name").map(String::as_str), Some(HOST));
        assert_eq!(
            g.resource.get("service.version").map(String::as_str),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(g.attributes.len(), 1, "{g:?}");
        assert!(g.value.is_finite(), "{g:?}");
        if g.name == "seismo.signal.score" {
            assert!((0.0..=1.0).contains(&g.value), "{g:?}");
        }
        if signal_of(g).as_deref() == Some("host.memory.used_ratio") {
            assert!((0.0..=1.0).contains(&g.value), "{g:?}");
        }
    }
    // The spike of 400 processes shows in the gauge, as in the alert.
    let processes = signal_values(&gauges, SIGNAL);
    let (low, high) = processes
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    assert!(
        high - low >= 100.0,
        "the spike is not in the gauge: {processes:?}"
    );
    stop_and_compare(agent, &receiver, Transport::Http);
}

/// A dead sink never holds up another: with the MQTT broker unreachable for the whole run, the
/// OTLP sink delivers every alert, in order, while the MQTT sink keeps its copies queued.
#[test]
fn a_dead_mqtt_broker_does_not_hold_up_the_otlp_sink() {
    let _machine = serial();
    let receiver = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let dead = seismo_e2e::mosquitto::free_port();
    // The [sinks.mqtt] table goes before [sinks.otlp], whose keys `config` appends.
    let path = config(&dir, "grpc", &receiver.grpc_endpoint(), "");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\n[sinks.otlp]\n",
        &format!(
            "\n[sinks.mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = {dead}\n\
             retry_initial = \"100ms\"\nretry_max = \"1s\"\n\n[sinks.otlp]\n"
        ),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let mut agent = Agent::run(&path);
    induce_alert(&mut agent);
    let got = receiver.wait_logs(Duration::from_secs(20), has_resolution);
    assert!(got.is_ok(), "OTLP held up by the dead broker: {got:?}");
    stop_and_compare(agent, &receiver, Transport::Grpc);
}
