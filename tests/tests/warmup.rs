//! Progressive warm-up, end to end: a fresh agent with the default detectors (the ensemble,
//! early stage after 12 points, full after 300) and a file source, its clock shortened to 1 s
//! intervals, alerts on an error burst with a new template and on a busy process within its
//! first half minute, long before the full detector is ready; the same run without the faults
//! raises no alert on the log source; `seismo status` and `/api/v1/signals` say which stage
//! each signal is at. Relief is not a page: a busy process that the early stage learned busy
//! going idle raises no alert, while another group's rise does, and neither does a log's error
//! rate falling to nothing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_e2e::{append, default_config_with, seismo_bin, write_config, Agent};

const WAIT: Duration = Duration::from_secs(30);

/// The default configuration at 1 s, a file source `app` on `log`, and a process group `busy`
/// for the processes whose command line holds `marker`.
fn config(dir: &Path, log: &Path, marker: &str) -> String {
    let mut text = default_config_with(
        &dir.join("state"),
        &[
            ("interval = \"10s\"", "interval = \"1s\""),
            ("# host_name = \"web-1\"", "host_name = \"warm\""),
        ],
    );
    text.push_str(&format!(
        "\n[[sources.files]]\nname = \"app\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\ninterval = \"1s\"\n\
         \n[[sources.processes]]\nname = \"busy\"\ncmdline = '{marker}'\ninterval = \"1s\"\n",
        log.display()
    ));
    write_config(dir, &text)
}

/// A child that keeps one core busy, its command line holding `marker`.
fn busy(marker: &str) -> Child {
    Command::new("sh")
        .args(["-c", "while :; do :; done", marker])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn a busy shell")
}

/// `/api/v1/signals`, and its entry for `signal`.
fn signals(addr: std::net::SocketAddr, signal: &str) -> (serde_json::Value, serde_json::Value) {
    let api = seismo_e2e::http_client::request(addr, "GET", "/api/v1/signals", None)
        .expect("GET /api/v1/signals")
        .json();
    let entry = api["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["signal"] == signal)
        .cloned()
        .unwrap_or_else(|| panic!("{api}"));
    (api, entry)
}

/// The firing alerts printed so far.
fn firing(agent: &Agent) -> Vec<serde_json::Value> {
    agent
        .stdout_json()
        .into_iter()
        .filter(|e| e["kind"] == "alert" && e["state"] == "firing")
        .collect()
}

/// Waits up to `timeout` for a firing alert on a signal `pred` accepts.
fn wait_alert(
    agent: &mut Agent,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Option<serde_json::Value> {
    let line = agent.wait_stdout(timeout, |l| {
        serde_json::from_str::<serde_json::Value>(l).is_ok_and(|e| {
            e["kind"] == "alert"
                && e["state"] == "firing"
                && e["signal"].as_str().is_some_and(&pred)
        })
    })?;
    serde_json::from_str(&line).ok()
}

#[test]
fn a_fresh_agent_alerts_on_plain_faults_within_its_early_stage() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let marker = format!("seismo-warmup-busy-{}", std::process::id());
    let config = config(dir.path(), &log, &marker);
    let (mut agent, addr) = Agent::start_serving(&config, None, WAIT);
    let started = Instant::now();
    agent.expect_stderr(WAIT, "new signals learn for 12 points (12s at 1s)");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = seismo_e2e::steady_traffic_until(&log, Arc::clone(&stop));

    // Past the documented early warm-up (12 points) with room for the reference.
    std::thread::sleep(Duration::from_secs(25));
    let (api, lines) = signals(addr, "log.app.lines_per_s");
    assert_eq!(lines["stage"], "early", "{lines}");
    let next = lines["next_stage_points"].as_u64().unwrap();
    assert!((250..290).contains(&next), "{lines}");
    assert!(lines["next_stage_at"].as_str().is_some(), "{lines}");
    assert!(api["stages"]["early"].as_u64().unwrap() >= 3, "{api}");

    // `seismo status` against the running agent (its config with the port it listens on).
    let cli_config = write_config(
        &dir.path().join("state"),
        &std::fs::read_to_string(&config)
            .unwrap()
            .replace("127.0.0.1:0", &addr.to_string()),
    );
    let out = Command::new(seismo_bin())
        .args(["status", "--config", &cli_config])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {:?}", out.stderr);
    assert!(text.starts_with("seismo on warm at "), "{text}");
    assert!(
        text.contains("scored by the early detectors; full from"),
        "{text}"
    );
    assert!(text.contains(": full at "), "{text}");
    assert!(text.contains("no alert firing"), "{text}");

    // An error burst of a template never seen: alerts on the log source, early.
    for i in 0..5 {
        let burst: String = (0..20)
            .map(|j| format!("ERROR disk /data{i} full: write of block {j} failed\n"))
            .collect();
        append(&log, &burst);
        std::thread::sleep(Duration::from_secs(1));
    }
    let alert = wait_alert(&mut agent, WAIT, |s| {
        s == "log.app.errors_per_s" || s.ends_with(".new")
    })
    .unwrap_or_else(|| panic!("no log alert: {:?}", agent.stdout_json()));
    let errors = wait_alert(&mut agent, WAIT, |s| s == "log.app.errors_per_s")
        .or_else(|| {
            firing(&agent)
                .into_iter()
                .find(|e| e["signal"] == "log.app.errors_per_s")
        })
        .unwrap_or_else(|| panic!("no errors_per_s alert: {alert} {:?}", agent.stdout_json()));
    assert_eq!(
        errors["evidence"]["components"][0]["kind"], "early_level",
        "{errors}"
    );
    assert!(
        errors["summary"]
            .as_str()
            .unwrap()
            // A rise of an error rate from nothing: the early stage's jump rule, on 2 points.
            .contains("early: its last 2 points average"),
        "{errors}"
    );
    assert!(
        errors["log"]["template"]
            .as_str()
            .unwrap()
            .contains("full: write of block"),
        "{errors}"
    );
    let new = firing(&agent)
        .into_iter()
        .find(|e| e["signal"].as_str().unwrap().ends_with(".new"))
        .unwrap_or_else(|| panic!("no new-template alert: {:?}", agent.stdout_json()));
    // The level is part of the line's header, not of its template.
    assert_eq!(
        new["log"]["template"], "disk <*> full: write of block <*> failed",
        "{new}"
    );

    // A busy process: its group's CPU alerts, early.
    let mut child = busy(&marker);
    let cpu = wait_alert(&mut agent, WAIT, |s| s == "process.busy.cpu.utilization");
    child.kill().ok();
    child.wait().ok();
    let cpu = cpu.unwrap_or_else(|| panic!("no CPU alert: {:?}", agent.stdout_json()));
    assert_eq!(
        cpu["evidence"]["components"][0]["kind"], "early_level",
        "{cpu}"
    );
    // Percent of one core; on a loaded machine the busy shell gets less than all of one.
    assert!(cpu["observed"].as_f64().unwrap() > 10.0, "{cpu}");
    // All of it long before the full detector's 300 points.
    assert!(started.elapsed() < Duration::from_secs(240));

    // The status summary lists the firing alerts (the error burst's have resolved by now).
    let out = Command::new(seismo_bin())
        .args(["status", "--config", &cli_config])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("firing:"), "{text}");
    assert!(
        text.contains("process.busy.cpu.utilization critical since"),
        "{text}"
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    agent.stop(Duration::from_secs(10));
}

#[test]
fn without_faults_the_log_source_stays_quiet_through_its_early_stage() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let marker = format!("seismo-warmup-idle-{}", std::process::id());
    let config = config(dir.path(), &log, &marker);
    let (mut agent, addr) = Agent::start_serving(&config, None, WAIT);
    agent.expect_stderr(WAIT, "detectors: no learned state restored");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = seismo_e2e::steady_traffic_until(&log, Arc::clone(&stop));
    // 12 points of learning, then 48 scored by the early stage.
    std::thread::sleep(Duration::from_secs(60));
    // The log signals were scored by the early stage, not merely learning.
    let (_, lines) = signals(addr, "log.app.lines_per_s");
    assert_eq!(lines["stage"], "early", "{lines}");
    assert!(lines["score"].as_f64().is_some(), "{lines}");
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    agent.stop(Duration::from_secs(10));
    let log_alerts: Vec<_> = firing(&agent)
        .into_iter()
        .filter(|e| e["signal"].as_str().unwrap().starts_with("log.app."))
        .collect();
    assert!(log_alerts.is_empty(), "{log_alerts:#?}");
}

/// A shell whose command line holds `marker`: it keeps one core busy until `stop` exists, then
/// idles (its group stays matched). `nice -n -20` where allowed (root), so that on a loaded
/// machine it still gets a steady core: its fall is then plain for the early stage.
fn busy_until(marker: &str, stop: &Path) -> Child {
    let script = format!("while [ ! -e '{}' ]; do :; done; sleep 600", stop.display());
    Command::new("nice")
        .args(["-n", "-20", "sh", "-c", &script, marker])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a busy shell")
}

/// A shell whose command line holds `marker`: idle until `go` exists, then busy.
fn idle_until(marker: &str, go: &Path) -> Child {
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.2; done; while :; do :; done",
        go.display()
    );
    Command::new("sh")
        .args(["-c", &script, marker])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn an idle shell")
}

#[test]
fn a_busy_group_going_idle_is_relief_not_a_page_while_a_rise_still_pages() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let pid = std::process::id();
    let (fall, rise) = (
        format!("seismo-relief-fall-{pid}"),
        format!("seismo-relief-rise-{pid}"),
    );
    let (stop, go) = (dir.path().join("stop"), dir.path().join("go"));
    // Busy before the agent starts: the early stage learns the group busy.
    let mut falling = busy_until(&fall, &stop);
    let mut rising = idle_until(&rise, &go);
    let mut text = std::fs::read_to_string(config(dir.path(), &log, &rise))
        .unwrap()
        .replace("name = \"busy\"", "name = \"rise\"")
        .replace("level = \"info\"", "level = \"debug\"");
    text.push_str(&format!(
        "\n[[sources.processes]]\nname = \"fall\"\ncmdline = '{fall}'\ninterval = \"1s\"\n"
    ));
    let config = write_config(dir.path(), &text);
    let (mut agent, _) = Agent::start_serving(&config, None, WAIT);
    // Learning (12 points), then enough early points for a reference.
    std::thread::sleep(Duration::from_secs(25));
    std::fs::write(&stop, "").unwrap();
    // The fall, when the early stage flags it, is held back as relief.
    let held = agent.wait_stderr(WAIT, |l| {
        l.contains("held back by the significance rules")
            && l.contains("process.fall.cpu.utilization")
    });
    std::thread::sleep(Duration::from_secs(5));
    // The other group rises from idle: that pages.
    std::fs::write(&go, "").unwrap();
    let alert = wait_alert(&mut agent, WAIT, |s| s == "process.rise.cpu.utilization");
    for child in [&mut falling, &mut rising] {
        child.kill().ok();
        child.wait().ok();
    }
    agent.stop(Duration::from_secs(10));
    // On a loaded machine a busy shell's share of a core can be too noisy for the early
    // stage to flag its fall (8 spreads); when it is flagged, it is relief, never a page.
    println!("the fall was flagged and held back: {}", held.is_some());
    if let Some(held) = &held {
        assert!(held.contains("relief"), "{held}");
    }
    let paged: Vec<_> = firing(&agent)
        .into_iter()
        .filter(|e| e["signal"] == "process.fall.cpu.utilization")
        .collect();
    assert!(paged.is_empty(), "relief paged: {paged:#?}");
    let alert = alert.unwrap_or_else(|| panic!("the rise did not page: {:?}", agent.stdout_json()));
    assert_eq!(
        alert["evidence"]["components"][0]["kind"], "early_level",
        "{alert}"
    );
}

/// The same rule on a signal whose values the test sets exactly: a log's error rate, steady at
/// 20 a second while the early stage learns it, falls to nothing (the same number of lines, all
/// ordinary): held back as relief, every run. Without the rule it pages.
#[test]
fn an_error_rate_falling_to_nothing_is_relief_not_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let marker = format!("seismo-relief-errors-{}", std::process::id());
    let text = std::fs::read_to_string(config(dir.path(), &log, &marker))
        .unwrap()
        .replace("level = \"info\"", "level = \"debug\"");
    let config = write_config(dir.path(), &text);
    let (stop, errors_on) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(true)),
    );
    let writer = {
        let (log, stop, errors_on) = (log.clone(), Arc::clone(&stop), Arc::clone(&errors_on));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let errors = errors_on.load(Ordering::Relaxed);
                let lines: String = (0..5)
                    .map(|j| {
                        i += 1;
                        if errors {
                            format!("ERROR upstream 10.0.0.{j} refused the connection (try {i})\n")
                        } else {
                            format!("GET /health 200 served in {} ms\n", i % 7)
                        }
                    })
                    .collect();
                append(
                    &log,
                    &format!("{lines}GET /index.html 200 served in {} ms\n", i % 5),
                );
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let (mut agent, _) = Agent::start_serving(&config, None, WAIT);
    // Learning (12 points), then enough early points for a reference.
    std::thread::sleep(Duration::from_secs(25));
    errors_on.store(false, Ordering::Relaxed);
    let held = agent.wait_stderr(WAIT, |l| {
        l.contains("held back by the significance rules") && l.contains("log.app.errors_per_s")
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    agent.stop(Duration::from_secs(10));
    let paged: Vec<_> = firing(&agent)
        .into_iter()
        .filter(|e| e["signal"] == "log.app.errors_per_s")
        .collect();
    assert!(paged.is_empty(), "relief paged: {paged:#?}");
    let held = held.unwrap_or_else(|| panic!("the fall was not flagged: {:?}", agent.seen_stderr));
    assert!(held.contains("relief"), "{held}");
}

#[test]
fn status_says_clearly_when_the_agent_is_not_reachable() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = default_config_with(&dir.path().join("state"), &[])
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let config = write_config(dir.path(), &text);
    let out = Command::new(seismo_bin())
        .args(["status", "--config", &config])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot reach the agent's HTTP API at 127.0.0.1:{port}"
        )) && err.contains("is `seismo run` running with this configuration?"),
        "{err}"
    );
    // Port 0 cannot be reached by a client: said, exit 2.
    let text = default_config_with(&dir.path().join("state"), &[]);
    let config = write_config(dir.path(), &text);
    let out = Command::new(seismo_bin())
        .args(["status", "--config", &config])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listens on port 0"));
}
