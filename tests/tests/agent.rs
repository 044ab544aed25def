//! The real `seismo` binary, started, observed and stopped as an operator would.

use std::time::Duration;

use seismo_e2e::anomaly::ProcessSpike;
use seismo_e2e::{default_config_with, write_config, Agent};

const START: Duration = Duration::from_secs(20);

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Samples counted in the "seismo stopped" summary.
fn samples_in_summary(summary: &str) -> u64 {
    let at = summary.find("samples=").expect("summary has samples=") + "samples=".len();
    summary[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count after samples=")
}

#[test]
fn runs_at_1s_and_stops_cleanly_on_sigterm_with_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = default_config_with(
        &state,
        &[
            ("interval = \"10s\"", "interval = \"1s\""),
            ("format = \"human\"", "format = \"json\""),
        ],
    );
    let path = write_config(dir.path(), &config);
    let mut agent = Agent::start(&["run", "--config", &path]);
    let started = agent.wait_stderr(START, |l| l.contains("seismo started"));
    let started =
        json(&started.unwrap_or_else(|| panic!("no start line: {:?}", agent.seen_stderr)));
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["interval"], "1s");
    let lock = std::fs::read_to_string(state.join("seismo.lock")).unwrap();
    assert_eq!(
        lock.trim(),
        agent.pid().to_string(),
        "the state dir lock names the agent"
    );

    // Let a few 1 s samples flow through the pipeline.
    std::thread::sleep(Duration::from_millis(3500));
    agent.signal(libc::SIGTERM);
    let (status, took) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr: {:?}", agent.seen_stderr);
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    let stopped = agent
        .seen_stderr
        .iter()
        .find(|l| l.contains("seismo stopped"))
        .map(|l| json(l))
        .unwrap_or_else(|| panic!("no stop line: {:?}", agent.seen_stderr));
    let summary = stopped["summary"].as_str().unwrap();
    assert!(samples_in_summary(summary) > 0, "{summary}");
    for line in &agent.seen_stderr {
        json(line);
    }
}

#[test]
fn stops_cleanly_on_sigint_with_human_logs() {
    let dir = tempfile::tempdir().unwrap();
    let config = default_config_with(
        &dir.path().join("state"),
        &[("interval = \"10s\"", "interval = \"1s\"")],
    );
    let path = write_config(dir.path(), &config);
    let mut agent = Agent::run(&path);
    agent.signal(libc::SIGINT);
    let (status, took) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr: {:?}", agent.seen_stderr);
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    assert!(agent
        .seen_stderr
        .iter()
        .any(|l| l.contains("INFO") && l.contains("seismo stopped")));
}

#[test]
fn sighup_does_not_kill_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let config = default_config_with(&dir.path().join("state"), &[]);
    let path = write_config(dir.path(), &config);
    let mut agent = Agent::run(&path);
    agent.signal(libc::SIGHUP);
    agent.expect_stderr(START, "SIGHUP received");
    agent.signal(libc::SIGTERM);
    let (status, _) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_broken_config_exits_2_with_file_line_column_and_advice() {
    let dir = tempfile::tempdir().unwrap();
    let config = default_config_with(
        &dir.path().join("state"),
        &[("interval = \"10s\"", "intervall = \"1s\"")],
    );
    let line = config
        .lines()
        .position(|l| l.starts_with("intervall"))
        .unwrap()
        + 1;
    let path = write_config(dir.path(), &config);
    let mut agent = Agent::start(&["run", "--config", &path]);
    let (status, _) = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2));
    let stderr = agent.seen_stderr.join("\n");
    let location = format!(
        "{path}:{line}:1: unknown key `intervall` in [sources.host]. Did you mean `interval`?"
    );
    assert!(
        stderr.contains(&location),
        "expected {location} in:\n{stderr}"
    );
    assert!(agent.seen_stdout.is_empty());
}

#[test]
fn a_second_agent_on_the_same_state_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = default_config_with(&dir.path().join("state"), &[]);
    let path = write_config(dir.path(), &config);
    let mut first = Agent::run(&path);
    let mut second = Agent::start(&["run", "--config", &path]);
    let (status, _) = second.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    let stderr = second.seen_stderr.join("\n");
    assert!(
        stderr.contains(&format!("another seismo (pid {})", first.pid())),
        "{stderr}"
    );
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait_exit(Duration::from_secs(10)).0.code(), Some(0));
}

/// A burst of processes after warm-up comes out of the real binary as one JSON alert on stdout.
/// (A process-count spike, unlike a CPU burn, does not depend on how busy the machine is.)
#[test]
fn a_process_burst_fires_a_json_alert_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = default_config_with(
        &dir.path().join("state"),
        &[
            ("interval = \"10s\"", "interval = \"1s\""),
            // The EWMA learns in 8 points; the default ensemble needs 300.
            ("kind = \"ensemble\"", "kind = \"ewma\"\nwarmup = 8"),
            // A CPU alert from other load during warm-up must not hold the burn's alert back
            // in a cool-down.
            ("cooldown = \"1m\"", "cooldown = \"0s\""),
        ],
    );
    // A slow-learning baseline: bursts from tests running in parallel stay anomalous.
    config.push_str(
        "\n[[detectors.overrides]]\nsignals = [\"host.processes.count\"]\nalpha = 0.001\n",
    );
    let path = write_config(dir.path(), &config);
    let mut agent = Agent::run(&path);
    // Warm-up: the first readings prime the rates, then 8 points are learned.
    std::thread::sleep(Duration::from_secs(11));

    let spike = ProcessSpike::start(300);
    let alert = agent.wait_stdout(Duration::from_secs(25), |l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        v["signal"] == "host.processes.count" && v["state"] == "firing"
    });
    drop(spike);
    let alert = json(
        &alert.unwrap_or_else(|| panic!("no process-count alert; stdout: {:?}", agent.seen_stdout)),
    );
    for key in [
        "time", "host", "signal", "observed", "expected", "score", "severity", "detector",
        "alert_id",
    ] {
        assert!(!alert[key].is_null(), "{key} missing in {alert}");
    }
    let high = alert["expected"]["high"].as_f64().unwrap();
    assert!(alert["observed"].as_f64().unwrap() > high, "{alert}");
    let score = alert["score"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&score), "{alert}");
    assert_eq!(alert["detector"], "ewma");
    for line in &agent.seen_stdout {
        json(line);
    }
    agent.signal(libc::SIGTERM);
    assert_eq!(agent.wait_exit(Duration::from_secs(10)).0.code(), Some(0));
}
