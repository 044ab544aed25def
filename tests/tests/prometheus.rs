//! /metrics as Prometheus reads it, and the example alerting rules for seismo's own health
//! (`packaging/prometheus/seismo-rules.yml`), both judged by promtool (Debian's `prometheus`
//! package; `./test.sh` installs it): the live endpoint of the real agent (free loopback port)
//! after some activity passes `promtool check metrics` with nothing to say, lint included; the
//! rules pass `promtool check rules` with every lint and their unit tests (`promtool test
//! rules`); and every seismo metric the rules use is one the agent serves.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use seismo_e2e::http_client::request;
use seismo_e2e::{default_config_with, write_config, Agent, START};

const RULES: &str = "packaging/prometheus/seismo-rules.yml";
const RULE_TESTS: &str = "packaging/prometheus/seismo-rules.test.yml";

/// Runs `promtool ARGS` in the workspace root with `stdin`; fails the test when promtool
/// cannot be run.
fn promtool(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(seismo_e2e::repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): install Debian's prometheus package \
                 (`apt-get install --no-install-recommends prometheus`; ./test.sh does)"
            )
        });
    // promtool reads stdin only for `check metrics`; the others may close it unread.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("promtool's output")
}

/// What promtool said, for assertion messages.
fn said(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn get(addr: SocketAddr, path: &str) -> String {
    let r = request(addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.body
}

/// The value of the sample `series` (its name and labels exactly as exposed, e.g.
/// `seismo_dropped_total{reason="signal_limit"}`) in an exposition, if it is there.
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The metric families an exposition declares (`# TYPE` lines).
fn families(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// The `seismo_*` metric names the rules file uses (in expressions and in the text).
fn rule_metrics() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(seismo_e2e::repo_root().join(RULES)).expect("read the rules");
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(at) = rest.find("seismo_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            names.insert(name);
        }
    }
    names
}

#[test]
fn live_metrics_after_some_activity_pass_promtool_check_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"").unwrap();
    // Nothing listens on these: the MQTT and webhook sinks exist (their per-sink families
    // are served) and retry.
    let dead_mqtt = seismo_e2e::mosquitto::free_port();
    let dead_http = seismo_e2e::mosquitto::free_port();
    let mut text = default_config_with(
        &dir.path().join("state"),
        &[
            ("interval = \"10s\"", "interval = \"1s\""),
            ("scores = false", "scores = true"),
            // A short warm-up, so that scores are served within seconds.
            ("kind = \"ensemble\"", "kind = \"ewma\"\nwarmup = 3"),
        ],
    );
    text.push_str(&format!(
        "\n[[sources.files]]\nname = \"app\"\npaths = [\"{log}\"]\nstart_at = \"beginning\"\n\
         interval = \"1s\"\nmax_line_bytes = 256\n\
         [sinks.mqtt]\nenabled = true\nhost = \"127.0.0.1\"\nport = {dead_mqtt}\n\
         retry_initial = \"100ms\"\nretry_max = \"1s\"\n\
         [[sinks.webhook]]\nname = \"am\"\nformat = \"alertmanager\"\nurl = \"http://127.0.0.1:{dead_http}\"\n\
         retry_initial = \"100ms\"\nretry_max = \"1s\"\n",
        log = log.display(),
    ));
    let config = write_config(dir.path(), &text);
    let (mut agent, addr) = Agent::start_serving(&config, None, START);

    // Activity: ordinary lines, and a truncated, an invalid-UTF-8 and a NUL-carrying one.
    let mut lines = Vec::new();
    for i in 0..200 {
        lines.extend_from_slice(format!("INFO request {i} served in {} ms\n", i % 7).as_bytes());
    }
    lines.extend_from_slice(format!("WARN {}\n", "x".repeat(1000)).as_bytes());
    lines.extend_from_slice(b"WARN bad bytes \xff\xfe here\n");
    lines.extend_from_slice(b"WARN a NUL \0 here\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(&lines))
        .unwrap();
    // A refused silences API request (without the token).
    let r = request(addr, "POST", "/api/v1/silences", Some("{}")).unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    // A refused reload: the file no longer parses.
    std::fs::write(&config, format!("{text}\n[nonsense]\n")).unwrap();
    agent.signal(libc::SIGHUP);

    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let body = get(addr, "/metrics");
        let at_least = |series: &str, n: f64| value(&body, series).is_some_and(|v| v >= n);
        if at_least("seismo_log_lines_total", 203.0)
            && at_least("seismo_log_lines_flagged_total{kind=\"truncated\"}", 1.0)
            && at_least("seismo_log_lines_flagged_total{kind=\"invalid_utf8\"}", 1.0)
            && at_least("seismo_log_lines_flagged_total{kind=\"with_nul\"}", 1.0)
            && at_least("seismo_reloads_total{outcome=\"refused\"}", 1.0)
            && at_least("seismo_api_requests_rejected_total", 1.0)
            && body.contains("\nseismo_anomaly_score{signal=\"host.")
            && body.contains("\nseismo_anomaly_score{signal=\"log.app.")
            && body.contains("\nseismo_pipeline_heartbeat_age_seconds ")
        {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the activity never showed on /metrics:\n{body}\nstderr: {:?}",
            agent.seen_stderr
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    for sink in ["mqtt", "webhook-am"] {
        assert!(
            value(&body, &format!("seismo_sink_queued{{sink=\"{sink}\"}}")).is_some(),
            "no {sink} sink in:\n{body}"
        );
    }

    // promtool says nothing about an exposition it accepts; anything it prints (a parse error,
    // or a lint problem: a counter without `_total`, a missing HELP, an abbreviated unit, ...)
    // fails the test. There is no exception.
    let out = promtool(&["check", "metrics"], &body);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics on /metrics: {}\n/metrics:\n{body}",
        said(&out)
    );

    // The example rules use metrics the agent serves (`up` is Prometheus' own).
    let served = families(&body);
    let used = rule_metrics();
    assert!(used.len() >= 8, "{used:?}");
    let unknown: Vec<_> = used.difference(&served).collect();
    assert!(
        unknown.is_empty(),
        "{RULES} uses metrics /metrics does not serve: {unknown:?}"
    );

    agent.stop(Duration::from_secs(10));
}

#[test]
fn the_example_rules_pass_promtool_check_rules_and_their_unit_tests() {
    let out = promtool(&["check", "rules", "--lint=all", "--lint-fatal", RULES], "");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "promtool check rules {RULES}: {}",
        said(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("SUCCESS: ") && stdout.contains(" rules found"),
        "{}",
        said(&out)
    );

    let out = promtool(&["test", "rules", RULE_TESTS], "");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "promtool test rules {RULE_TESTS}: {}",
        said(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("SUCCESS"),
        "{}",
        said(&out)
    );
}
