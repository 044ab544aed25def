//! The HTTP endpoint end to end: the real binary on a free loopback port, /metrics parsed by a
//! Prometheus text-format parser while real lines are tailed and real anomalies (bursts of
//! log lines) raise alerts, /healthz and /readyz, the silences API and config silences, bad
//! requests, and a taken port.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_e2e::http_client::{authed, request, send, token, Response};
use seismo_e2e::{process_burst_config, Agent, SLOW_PROCESS_BASELINE};

const START: Duration = Duration::from_secs(20);
/// Host samples every second; 8 learned points after the first two readings.
const WARMUP: Duration = Duration::from_secs(11);

/// The default config with 1 s host samples, the EWMA detector with a short warm-up (the
/// process-burst anomalies are tuned for it, as in the MQTT tests), a slow baseline for the
/// process count, plus `extra`.
fn agent_config(dir: &Path, extra: &str) -> String {
    process_burst_config(dir, "e2e", &[], &format!("{SLOW_PROCESS_BASELINE}{extra}"))
}

fn start(config: &str) -> (Agent, SocketAddr) {
    Agent::start_serving(config, None, START)
}

fn stop(agent: &mut Agent) {
    agent.stop(Duration::from_secs(10));
}

fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// One scrape, parsed with `prometheus-parse`; also checks what that lenient parser would let
/// pass: every sample line parsed, and each sample's family declared (HELP and TYPE) first.
struct Metrics(prometheus_parse::Scrape);

fn scrape(addr: SocketAddr) -> Metrics {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let mut declared = HashSet::new();
    let mut sample_lines = 0;
    for line in r.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().unwrap();
            assert!(matches!(it.next(), Some("counter" | "gauge")), "{line}");
            assert!(declared.insert(name.to_owned()), "{name} declared twice");
        } else if !line.starts_with('#') && !line.is_empty() {
            sample_lines += 1;
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(declared.contains(name), "{line}: no TYPE before it");
        }
    }
    let parsed = prometheus_parse::Scrape::parse(r.body.lines().map(|l| Ok(l.to_owned())))
        .expect("a Prometheus exposition");
    assert_eq!(
        parsed.samples.len(),
        sample_lines,
        "unparsed lines in:\n{}",
        r.body
    );
    for s in &parsed.samples {
        assert!(
            parsed.docs.contains_key(&s.metric),
            "{} has no HELP",
            s.metric
        );
    }
    Metrics(parsed)
}

impl Metrics {
    /// The sum of the family's samples whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut found = false;
        let mut sum = 0.0;
        for s in self.0.samples.iter().filter(|s| s.metric == name) {
            if labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)) {
                found = true;
                sum += match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => v,
                    _ => panic!("{name} is not a counter or gauge"),
                };
            }
        }
        assert!(found, "no {name}{labels:?} in the scrape");
        sum
    }

    fn kind(&self, name: &str) -> &'static str {
        match self
            .0
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| &s.value)
        {
            Some(prometheus_parse::Value::Counter(_)) => "counter",
            Some(prometheus_parse::Value::Gauge(_)) => "gauge",
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// Polls the metrics until `done` holds or `timeout` passes; returns the last scrape.
fn wait_metrics(addr: SocketAddr, timeout: Duration, done: impl Fn(&Metrics) -> bool) -> Metrics {
    let start = Instant::now();
    loop {
        let m = scrape(addr);
        if done(&m) || start.elapsed() > timeout {
            return m;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Appends lines to a log file at `rate` lines per second (changeable) until dropped: a
/// steady trickle the detector learns, then a burst that makes `log.app.*` anomalous. The
/// signal belongs to this test alone, unlike host metrics other tests also move.
struct LogWriter {
    rate: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LogWriter {
    fn start(path: &Path, rate: usize) -> LogWriter {
        let rate = Arc::new(AtomicUsize::new(rate));
        let stop = Arc::new(AtomicBool::new(false));
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        let (r, s) = (Arc::clone(&rate), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                let n = r.load(Ordering::Relaxed) / 10;
                let mut chunk = String::new();
                for _ in 0..n {
                    i += 1;
                    chunk.push_str(&format!(
                        "2026-11-26 00:00:00 INFO worker {i} finished job\n"
                    ));
                }
                f.write_all(chunk.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        LogWriter {
            rate,
            stop,
            thread: Some(thread),
        }
    }

    fn set_rate(&self, rate: usize) {
        self.rate.store(rate, Ordering::Relaxed);
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A log source `app` on `log` (interval 1 s) whose signals keep a slow baseline, so a burst
/// stays anomalous while it lasts.
fn app_source(log: &Path) -> String {
    std::fs::write(log, b"").unwrap();
    format!(
        "\n[[sources.files]]\nname = \"app\"\npaths = [\"{}\"]\ninterval = \"1s\"\n\
         [[detectors.overrides]]\nsignals = [\"log.app.*\"]\nalpha = 0.001\n",
        log.display()
    )
}

fn app_alert_fired(agent: &mut Agent, timeout: Duration) -> bool {
    agent
        .wait_stdout(timeout, |l| {
            l.contains("\"signal\":\"log.app.") && l.contains("\"state\":\"firing\"")
        })
        .is_some()
}

#[test]
fn metrics_parse_and_move_as_lines_are_read_and_alerts_sent() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let config = agent_config(dir.path(), &app_source(&log));
    let text =
        std::fs::read_to_string(&config)
            .unwrap()
            .replacen("scores = false", "scores = true", 1);
    std::fs::write(&config, text).unwrap();
    let (mut agent, addr) = start(&config);

    let before = scrape(addr);
    assert_eq!(before.value("seismo_log_lines_total", &[]), 0.0);
    assert_eq!(before.value("seismo_ready", &[]), 1.0);
    assert_eq!(before.kind("seismo_log_lines_total"), "counter");
    assert_eq!(before.kind("process_resident_memory_bytes"), "gauge");
    assert!(before.value("process_resident_memory_bytes", &[]) > 1e6);
    assert!(before.value("process_cpu_seconds_total", &[]) > 0.0);

    // Lines: the counters follow what was appended.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut bytes = 0;
    for i in 0..500 {
        let line = format!("2026-11-26 00:00:00 INFO worker {i} finished job\n");
        bytes += line.len();
        f.write_all(line.as_bytes()).unwrap();
    }
    f.flush().unwrap();
    // Samples come at the end of each 1 s log interval, which may close after the lines are in.
    let samples_before = before.value("seismo_samples_total", &[]);
    let m = wait_metrics(addr, Duration::from_secs(20), |m| {
        m.value("seismo_log_lines_total", &[]) >= 500.0
            && m.value("seismo_samples_total", &[]) > samples_before
    });
    assert_eq!(m.value("seismo_log_lines_total", &[]), 500.0);
    assert_eq!(m.value("seismo_log_bytes_read_total", &[]), bytes as f64);
    assert_eq!(m.value("seismo_log_files_watched", &[]), 1.0);
    assert!(m.value("seismo_samples_total", &[]) > samples_before);

    // Alerts: a burst of lines fires an alert on stdout; the counters show it. The alert may
    // already fire on the first burst above, so the counters are compared with the first scrape.
    let writer = LogWriter::start(&log, 50);
    std::thread::sleep(WARMUP);
    let sent_before = before.value("seismo_alerts_total", &[]);
    let stdout_before = before.value("seismo_stdout_events_total", &[]);
    writer.set_rate(5000);
    assert!(
        app_alert_fired(&mut agent, Duration::from_secs(20)),
        "no log alert; stdout: {:?}",
        agent.seen_stdout
    );
    // The stdout sink counts a line once its write has completed, which may be after the
    // reader sees it: wait for both counters.
    let m = wait_metrics(addr, Duration::from_secs(10), |m| {
        m.value("seismo_alerts_total", &[]) > sent_before
            && m.value("seismo_stdout_events_total", &[]) > stdout_before
    });
    drop(writer);
    assert!(m.value("seismo_alerts_total", &[]) > sent_before);
    assert!(m.value("seismo_stdout_events_total", &[]) > stdout_before);
    assert!(m.value("seismo_anomalies_total", &[]) >= 1.0);
    assert!(m.value("seismo_detectors", &[]) >= 5.0);
    let score = m.value("seismo_anomaly_score", &[("signal", "log.app.lines_per_s")]);
    assert!((0.0..=1.0).contains(&score), "{score}");
    m.value(
        "seismo_anomaly_score",
        &[("signal", "host.processes.count")],
    );
    assert_eq!(m.value("seismo_alerts_silenced_total", &[]), 0.0);
    stop(&mut agent);
}

#[test]
fn healthz_and_readyz_answer_once_started() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(dir.path(), "");
    let (mut agent, addr) = start(&config);
    let r = get(addr, "/readyz");
    assert_eq!((r.status, r.body.as_str()), (200, "ready\n"));
    // The pipeline ticks every second: healthy once it has.
    let start = Instant::now();
    let mut r = get(addr, "/healthz");
    while r.body != "ok\n" && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        r = get(addr, "/healthz");
    }
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    assert!(scrape(addr).value("seismo_pipeline_heartbeat_age_seconds", &[]) < 30.0);
    stop(&mut agent);
}

#[test]
fn an_api_silence_holds_alerts_until_it_is_expired_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let config = agent_config(
        dir.path(),
        &format!(
            "{}\n[[silences]]\nsignals = [\"host.network.*\"]\nfor = \"1h\"\ncomment = \"from the file\"\n",
            app_source(&log)
        ),
    );
    let (mut agent, addr) = start(&config);
    let token = token(&dir.path().join("state"));
    let writer = LogWriter::start(&log, 50);
    std::thread::sleep(WARMUP);

    let created = authed(
        addr,
        &token,
        "POST",
        "/api/v1/silences",
        Some(r#"{"signals": ["log.app.*"], "for": "1h", "comment": "e2e maintenance", "created_by": "tester"}"#),
    )
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/silences/{id}").as_str())
    );

    let listed = get(addr, "/api/v1/silences").json();
    let silences = listed["silences"].as_array().unwrap();
    assert_eq!(silences.len(), 2, "{listed}");
    assert_eq!(silences[0]["origin"], "config");
    assert_eq!(silences[0]["comment"], "from the file");
    assert_eq!(silences[1]["id"], id.as_str());
    assert_eq!(silences[1]["origin"], "api");
    assert_eq!(silences[1]["signals"][0], "log.app.*");
    assert_eq!(silences[1]["created_by"], "tester");

    // Silenced: the anomaly is detected, the alert is counted as silenced, nothing is sent.
    writer.set_rate(5000);
    let m = wait_metrics(addr, Duration::from_secs(30), |m| {
        m.value("seismo_alerts_silenced_total", &[]) >= 1.0
    });
    assert!(
        m.value("seismo_alerts_silenced_total", &[]) >= 1.0,
        "nothing silenced; stderr: {:?}",
        agent.seen_stderr
    );
    assert!(
        !app_alert_fired(&mut agent, Duration::from_secs(2)),
        "a silenced alert was sent: {:?}",
        agent.seen_stdout
    );

    // Expired while the burst goes on: the alert goes out now.
    let expired = authed(
        addr,
        &token,
        "DELETE",
        &format!("/api/v1/silences/{id}"),
        None,
    )
    .unwrap();
    assert_eq!(expired.status, 200, "{}", expired.body);
    assert!(
        app_alert_fired(&mut agent, Duration::from_secs(20)),
        "the alert did not follow the expiry; stdout: {:?}",
        agent.seen_stdout
    );
    drop(writer);
    let listed = get(addr, "/api/v1/silences").json();
    assert_eq!(listed["silences"].as_array().unwrap().len(), 1, "{listed}");

    // An API silence is kept across a restart.
    let kept = authed(
        addr,
        &token,
        "POST",
        "/api/v1/silences",
        Some(r#"{"signals": ["log.*"], "until": "2099-01-01T00:00:00Z"}"#),
    )
    .unwrap();
    assert_eq!(kept.status, 400, "more than 366 days: {}", kept.body);
    let until = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() + Duration::from_secs(3 * 3600),
    )
    .to_string();
    let kept = authed(
        addr,
        &token,
        "POST",
        "/api/v1/silences",
        Some(&format!(r#"{{"signals": ["log.*"], "until": "{until}"}}"#)),
    )
    .unwrap();
    assert_eq!(kept.status, 201, "{}", kept.body);
    let kept_id = kept.json()["id"].as_str().unwrap().to_owned();
    stop(&mut agent);
    let (mut agent, addr) = start(&config);
    let listed = get(addr, "/api/v1/silences").json();
    let ids: Vec<&str> = listed["silences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["config-1", kept_id.as_str()], "{listed}");
    stop(&mut agent);
}

#[test]
fn a_config_silence_keeps_alerts_from_the_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let config = agent_config(
        dir.path(),
        &format!(
            "{}\n[[silences]]\nsignals = [\"log.app.*\"]\nfor = \"1h\"\ncomment = \"noisy\"\n",
            app_source(&log)
        ),
    );
    let (mut agent, addr) = start(&config);
    let writer = LogWriter::start(&log, 50);
    std::thread::sleep(WARMUP);
    writer.set_rate(5000);
    let m = wait_metrics(addr, Duration::from_secs(30), |m| {
        m.value("seismo_alerts_silenced_total", &[]) >= 1.0
    });
    assert!(
        m.value("seismo_alerts_silenced_total", &[]) >= 1.0,
        "nothing silenced"
    );
    assert!(m.value("seismo_silences_active", &[]) == 1.0);
    assert!(
        !app_alert_fired(&mut agent, Duration::from_secs(2)),
        "a silenced alert was sent: {:?}",
        agent.seen_stdout
    );
    drop(writer);
    stop(&mut agent);
}

#[test]
fn malformed_api_requests_get_400_with_a_sentence_and_the_agent_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(
        dir.path(),
        "\n[[silences]]\nsignals = [\"host.network.*\"]\nfor = \"1h\"\n",
    );
    let (mut agent, addr) = start(&config);
    let auth = format!("Bearer {}", token(&dir.path().join("state")));
    let auth = [("authorization", auth.as_str())];
    let post = |body: &[u8]| send(addr, "POST", "/api/v1/silences", &auth, Some(body)).unwrap();
    let cases: [(&[u8], &str); 11] = [
        (b"not json", "not a valid silence"),
        (b"", "not a valid silence"),
        (b"[1, 2]", "not a valid silence"),
        (br#"{"for": "1h"}"#, "missing field `signals`"),
        (
            br#"{"signals": "host.*", "for": "1h"}"#,
            "not a valid silence",
        ),
        (
            br#"{"signals": ["host.*"], "duration": "1h"}"#,
            "unknown field `duration`",
        ),
        (
            br#"{"signals": ["host.[cpu"], "for": "1h"}"#,
            "not a valid glob",
        ),
        (br#"{"signals": ["host.*"]}"#, "needs an end"),
        (
            br#"{"signals": ["host.*"], "for": "1h", "until": "2099-01-01T00:00:00Z"}"#,
            "not both",
        ),
        (
            br#"{"signals": ["host.*"], "for": "forever"}"#,
            "is not a duration",
        ),
        (
            br#"{"signals": ["host.*"], "until": "2020-01-01T00:00:00Z"}"#,
            "not in the future",
        ),
    ];
    for (body, want) in cases {
        let r = post(body);
        let shown = String::from_utf8_lossy(body);
        assert_eq!(r.status, 400, "{shown}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(want), "{shown}: {error}");
    }
    let invalid_utf8 = post(b"{\"signals\": [\"\xff\"]}");
    assert_eq!(invalid_utf8.status, 400, "{}", invalid_utf8.body);
    let huge = vec![b' '; 70 * 1024];
    let r = post(&huge);
    assert_eq!(r.status, 413, "{}", r.body);
    let r = send(
        addr,
        "DELETE",
        "/api/v1/silences/0123456789abcdef",
        &auth,
        None,
    )
    .unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("no active silence"));
    let r = send(addr, "DELETE", "/api/v1/silences/config-1", &auth, None).unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("configuration file"));
    let r = send(addr, "PUT", "/api/v1/silences", &auth, Some(b"{}")).unwrap();
    assert_eq!(r.status, 405);

    // Still running, nothing created, the refusals counted and logged (once: rate-limited).
    assert_eq!(get(addr, "/healthz").status, 200);
    let listed = get(addr, "/api/v1/silences").json();
    assert_eq!(listed["silences"].as_array().unwrap().len(), 1, "{listed}");
    let m = scrape(addr);
    assert_eq!(m.value("seismo_api_requests_rejected_total", &[]), 14.0);
    let ok = post(br#"{"signals": ["host.*"], "for": "10m"}"#);
    assert_eq!(ok.status, 201, "{}", ok.body);
    stop(&mut agent);
    let refused_logs = agent
        .seen_stderr
        .iter()
        .filter(|l| l.contains("HTTP API request refused"))
        .count();
    assert_eq!(refused_logs, 1, "{:?}", agent.seen_stderr);
}

#[test]
fn a_taken_port_stops_the_start_with_exit_2_unless_the_endpoint_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = agent_config(dir.path(), "");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "127.0.0.1:0",
        &format!("127.0.0.1:{port}"),
        1,
    );
    std::fs::write(&config, &text).unwrap();
    let mut agent = Agent::start(&["run", "--config", &config]);
    let (status, _) = agent.wait_exit(START);
    assert_eq!(status.code(), Some(2), "{:?}", agent.seen_stderr);
    let said = agent.seen_stderr.join("\n");
    assert!(
        said.contains(&format!(
            "cannot listen on 127.0.0.1:{port} for the HTTP endpoint"
        )),
        "{said}"
    );
    assert!(said.contains("holds that port"), "{said}");
    // Said once: the sentence, not the system's error text after it again.
    assert_eq!(said.matches("cannot listen on").count(), 1, "{said}");
    assert!(!said.contains("os error"), "{said}");

    std::fs::write(
        &config,
        text.replacen("enabled = true\nlisten", "enabled = false\nlisten", 1),
    )
    .unwrap();
    let mut agent = Agent::run(&config);
    assert!(!agent
        .seen_stderr
        .iter()
        .any(|l| l.contains("HTTP endpoint")));
    stop(&mut agent);
    drop(taken);
}
