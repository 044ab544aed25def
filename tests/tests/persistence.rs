//! What the agent learned survives restarts, end to end: the real binary scrapes two scripted
//! gauges every second from a loopback server that outlives the agent, and tails a log file.
//! Detectors (a 20-point warm-up), a firing alert, open incidents and template ids come back
//! after a SIGKILL and after a clean stop; bad snapshots (corrupt, truncated, another format
//! version, another configuration) are logged and cost only what they hold; a full disk while
//! snapshotting is counted and the previous snapshot stays valid.
//!
//! "Resumes without warming up" is observed, not timed: a restored signal's first point in
//! /api/v1/signals already has a score, where a fresh one has 20 points without.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seismo_e2e::http_client::request;
use seismo_e2e::{append, default_config_with, write_config, Agent};

const LEVEL: &str = "scrape.e2e.level";
const OTHER: &str = "scrape.e2e.other";
const SNAPSHOT: &str = "learned.snapshot";
const WAIT: Duration = Duration::from_secs(60);

/// Serves `level` and `other` (about 10 with some noise; `level` 100 while `high` is set) on
/// a loopback port, for as many agents as the test starts; returns the URL.
fn serve_gauges(high: Arc<AtomicBool>) -> String {
    seismo_e2e::gauges::serve(move |n| {
        const NOISE: [f64; 7] = [0.0, 0.4, -0.3, 0.2, -0.5, 0.1, -0.2];
        let noise = NOISE[n % 7];
        let level = if high.load(Ordering::SeqCst) {
            100.0
        } else {
            10.0 + noise
        };
        format!("level {level}\nother {}\n", 10.0 - noise)
    })
}

/// A test's files: its config (state in `state/`), the log file it tails, the gauge switch.
struct Setup {
    dir: tempfile::TempDir,
    config: String,
    log: PathBuf,
    high: Arc<AtomicBool>,
    url: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        std::fs::write(&log, "").unwrap();
        let high = Arc::new(AtomicBool::new(false));
        let url = serve_gauges(Arc::clone(&high));
        let mut s = Setup {
            dir,
            config: String::new(),
            log,
            high,
            url,
        };
        s.config = s.write("");
        s
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Writes the configuration with `extra` appended; returns its path.
    fn write(&self, extra: &str) -> String {
        let mut config = default_config_with(
            &self.state(),
            &[
                ("kind = \"ensemble\"", "kind = \"ewma\"\nwarmup = 20"),
                ("cooldown = \"1m\"", "cooldown = \"0s\""),
                ("snapshot_interval = \"1m\"", "snapshot_interval = \"1s\""),
                // Long enough that a new-template alert still fires across a restart.
                ("resolve_after = 3", "resolve_after = 8"),
            ],
        );
        config = config.replacen(
            "[sources.host]\n# Host metrics: CPU, load, memory, swap, file systems, disk and network I/O, process count.\nenabled = true",
            "[sources.host]\nenabled = false",
            1,
        );
        assert!(config.contains("[sources.host]\nenabled = false"));
        config.push_str(&format!(
            "\n[[sources.scrape]]\nname = \"e2e\"\nurl = \"{}\"\ninterval = \"1s\"\n\n\
             [[sources.files]]\nname = \"app\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\ninterval = \"1s\"\nnew_template_warmup = 3\n{extra}",
            self.url,
            self.log.display()
        ));
        write_config(self.dir.path(), &config)
    }

    /// Appends a few lines of two templates to the log.
    fn log_lines(&self, round: u32) {
        let mut text = String::new();
        for i in 0..3 {
            text.push_str(&format!(
                "user {} logged in from 10.0.0.{i}\n",
                round * 10 + i
            ));
            text.push_str(&format!("cache flushed {} entries in {i} ms\n", round + i));
        }
        append(&self.log, &text);
    }
}

fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let r = request(addr, "GET", path, None).unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

/// `signal`'s score in /api/v1/signals: `None` when it is not listed, `Some(None)` while it
/// warms up.
fn score(addr: SocketAddr, signal: &str) -> Option<Option<f64>> {
    let v = get_json(addr, "/api/v1/signals");
    v["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["signal"] == signal)
        .map(|s| s["score"].as_f64())
}

/// Polls until `signal` is listed; returns whether its first listing had a score (a detector
/// restored past its warm-up) or not (one warming up).
fn first_listing_scored(addr: SocketAddr, signal: &str) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(s) = score(addr, signal) {
            return s.is_some();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{signal} never listed");
}

/// Waits until `signal` has a score (its detector is warm).
fn wait_scored(addr: SocketAddr, signal: &str) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if score(addr, signal).flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{signal} never scored");
}

/// The log source's template signals listed in /api/v1/signals, once there are `n`.
fn template_signals(addr: SocketAddr, n: usize) -> BTreeSet<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = get_json(addr, "/api/v1/signals");
        let names: BTreeSet<String> = v["signals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["signal"].as_str())
            .filter(|s| s.starts_with("log.app.template.") && !s.contains(".other."))
            .map(str::to_owned)
            .collect();
        if names.len() >= n {
            return names;
        }
        assert!(Instant::now() < deadline, "templates: {names:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A self-metric's value on /metrics (0 when absent).
fn metric(addr: SocketAddr, series: &str) -> f64 {
    let r = request(addr, "GET", "/metrics", None).unwrap();
    r.body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

const SNAPSHOTS_OK: &str = "seismo_snapshots_total{outcome=\"ok\"}";
const SNAPSHOTS_FAILED: &str = "seismo_snapshots_total{outcome=\"error\"}";

/// Waits until `n` more snapshots were written than now.
fn wait_snapshots(addr: SocketAddr, n: f64) {
    let target = metric(addr, SNAPSHOTS_OK) + n;
    let deadline = Instant::now() + WAIT;
    while metric(addr, SNAPSHOTS_OK) < target {
        assert!(Instant::now() < deadline, "no snapshot written");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The alert events on `signal` the agent printed so far.
fn alerts(agent: &Agent, signal: &str) -> Vec<serde_json::Value> {
    agent
        .stdout_json()
        .into_iter()
        .filter(|e| e["kind"] == "alert" && e["signal"] == signal)
        .collect()
}

/// Starts an agent and warms it up: both gauges scored, both templates seen.
fn warm_agent(s: &Setup) -> (Agent, SocketAddr, BTreeSet<String>) {
    let (agent, addr) = Agent::start_serving(&s.config, None, WAIT);
    s.log_lines(0);
    wait_scored(addr, LEVEL);
    wait_scored(addr, OTHER);
    let templates = template_signals(addr, 2);
    (agent, addr, templates)
}

fn restart_keeps_a_firing_alert_and_resumes_scoring(kill: bool) {
    let s = Setup::new();
    let (mut first, addr, templates) = warm_agent(&s);

    // The level jumps: the alert fires (stdout, the incident opens).
    s.high.store(true, Ordering::SeqCst);
    let fired = first
        .wait_stdout(WAIT, |l| {
            l.contains("\"kind\":\"alert\"")
                && l.contains("\"state\":\"firing\"")
                && l.contains(LEVEL)
        })
        .unwrap_or_else(|| panic!("no alert: {:#?}", first.seen_stdout));
    let fired: serde_json::Value = serde_json::from_str(&fired).unwrap();
    let alert_id = fired["alert_id"].as_str().unwrap().to_owned();
    let incident_id = fired["incident_id"].as_str().unwrap().to_owned();
    // A snapshot taken while it fires.
    wait_snapshots(addr, 2.0);
    if kill {
        first.signal(libc::SIGKILL);
        first.wait_exit(Duration::from_secs(10));
    } else {
        first.stop(Duration::from_secs(10));
    }

    let (mut second, addr) = Agent::start_serving(&s.config, None, WAIT);
    let restored = second.expect_stderr(WAIT, "learned state restored");
    assert!(restored.contains("1 alert(s) firing"), "{restored}");
    assert!(
        !second
            .seen_stderr
            .iter()
            .any(|l| l.contains("WARN") && l.contains("snapshot")),
        "{:#?}",
        second.seen_stderr
    );
    // Scored at its first point: no new warm-up; the unchanged gauge too.
    assert!(first_listing_scored(addr, LEVEL), "{LEVEL} warms up again");
    assert!(first_listing_scored(addr, OTHER), "{OTHER} warms up again");
    // The same templates under the same ids and signal names.
    s.log_lines(1);
    assert_eq!(template_signals(addr, 2), templates);

    // Still high for a while: the alert is not sent again; then normal: it resolves once.
    std::thread::sleep(Duration::from_secs(3));
    s.high.store(false, Ordering::SeqCst);
    second
        .wait_stdout(WAIT, |l| {
            l.contains("\"kind\":\"alert\"")
                && l.contains("\"state\":\"resolved\"")
                && l.contains(LEVEL)
        })
        .unwrap_or_else(|| panic!("no resolution: {:#?}", second.seen_stdout));
    // The incident it opened resolves with it.
    second
        .wait_stdout(WAIT, |l| {
            l.contains("\"kind\":\"incident\"")
                && l.contains("\"state\":\"resolved\"")
                && l.contains(&incident_id)
        })
        .unwrap_or_else(|| panic!("no incident resolution: {:#?}", second.seen_stdout));
    std::thread::sleep(Duration::from_secs(3));
    second.stop(Duration::from_secs(10));
    let events = alerts(&second, LEVEL);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["state"], "resolved");
    assert_eq!(events[0]["alert_id"], alert_id.as_str());
    assert_eq!(events[0]["incident_id"], incident_id.as_str());
}

#[test]
fn sigkill_while_an_alert_fires_keeps_it_its_id_and_the_templates() {
    restart_keeps_a_firing_alert_and_resumes_scoring(true);
}

#[test]
fn a_clean_stop_and_start_keeps_the_alert_and_the_learned_state() {
    restart_keeps_a_firing_alert_and_resumes_scoring(false);
}

#[test]
fn sigkill_while_a_new_template_alert_fires_resolves_it_once_under_its_id() {
    let s = Setup::new();
    // Warm: past the source's 3-interval warm-up for new templates.
    let (mut first, addr, _) = warm_agent(&s);
    append(&s.log, "disk /dev/sda1 is full\n");
    let fired = first
        .wait_stdout(WAIT, |l| {
            l.contains("\"kind\":\"alert\"")
                && l.contains("\"state\":\"firing\"")
                && l.contains(".new\"")
        })
        .unwrap_or_else(|| panic!("no new-template alert: {:#?}", first.seen_stdout));
    let fired: serde_json::Value = serde_json::from_str(&fired).unwrap();
    let signal = fired["signal"].as_str().unwrap().to_owned();
    // Its alert state and the template's countdown are saved (snapshot, template state).
    wait_snapshots(addr, 2.0);
    first.signal(libc::SIGKILL);
    first.wait_exit(Duration::from_secs(10));
    assert!(
        !alerts(&first, &signal)
            .iter()
            .any(|e| e["state"] == "resolved"),
        "resolved before the restart: make resolve_after longer"
    );

    let (mut second, _) = Agent::start_serving(&s.config, None, WAIT);
    second
        .wait_stdout(WAIT, |l| {
            l.contains("\"state\":\"resolved\"") && l.contains(&format!("\"{signal}\""))
        })
        .unwrap_or_else(|| panic!("never resolved: {:#?}", second.seen_stdout));
    std::thread::sleep(Duration::from_secs(2));
    second.stop(Duration::from_secs(10));
    let events = alerts(&second, &signal);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["state"], "resolved");
    assert_eq!(events[0]["alert_id"], fired["alert_id"]);
}

#[test]
fn a_reload_that_keeps_the_source_keeps_template_ids_and_learned_state() {
    let s = Setup::new();
    let (mut agent, addr, templates) = warm_agent(&s);
    // Another threshold for `other` only: its detector starts afresh, the rest is kept.
    s.write("\n[[detectors.overrides]]\nsignals = [\"scrape.e2e.other\"]\nthreshold = 0.7\n");
    agent.signal(libc::SIGHUP);
    agent.expect_stderr(WAIT, "configuration reloaded");
    s.log_lines(1);
    assert_eq!(template_signals(addr, 2), templates);
    assert!(score(addr, LEVEL).flatten().is_some());
    // The snapshot taken after the reload carries the new settings: a restart keeps both.
    wait_snapshots(addr, 2.0);
    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));
    let (mut again, addr) = Agent::start_serving(&s.config, None, WAIT);
    again.expect_stderr(WAIT, "learned state restored");
    assert!(first_listing_scored(addr, LEVEL));
    s.log_lines(2);
    assert_eq!(template_signals(addr, 2), templates);
}

/// Takes a snapshot with warm detectors (clean stop); returns its bytes and the template
/// signals.
fn good_snapshot(s: &Setup) -> (Vec<u8>, BTreeSet<String>) {
    let (mut agent, _, templates) = warm_agent(s);
    agent.stop(Duration::from_secs(10));
    (std::fs::read(s.state().join(SNAPSHOT)).unwrap(), templates)
}

/// Starts an agent on the snapshot `bytes`; returns it with its address, after its restore
/// line.
fn start_on(s: &Setup, bytes: &[u8], config: &str) -> (Agent, SocketAddr) {
    std::fs::write(s.state().join(SNAPSHOT), bytes).unwrap();
    let (mut agent, addr) = Agent::start_serving(config, None, WAIT);
    agent.expect_stderr(WAIT, "seismo started");
    (agent, addr)
}

fn warning(agent: &mut Agent, text: &str) -> String {
    agent.expect_stderr(WAIT, text)
}

#[test]
fn bad_snapshots_are_logged_and_cost_only_what_they_hold() {
    let s = Setup::new();
    let (good, templates) = good_snapshot(&s);

    // Another format version: ignored with the reason and set aside; every signal learns
    // afresh, the templates (saved apart) are kept.
    let mut old = good.clone();
    old[4] = old[4].wrapping_add(7);
    let (mut agent, addr) = start_on(&s, &old, &s.config);
    let line = warning(&mut agent, "snapshot format version");
    assert!(line.contains("WARN"), "{line}");
    assert!(!first_listing_scored(addr, LEVEL));
    s.log_lines(1);
    assert_eq!(template_signals(addr, 2), templates);
    agent.stop(Duration::from_secs(10));
    assert!(s.state().join("learned.snapshot.unreadable").exists());

    // Not a snapshot at all.
    let (mut agent, addr) = start_on(&s, b"garbage, not a snapshot", &s.config);
    assert!(warning(&mut agent, "bad magic").contains("WARN"));
    assert!(!first_listing_scored(addr, LEVEL));
    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));

    // Truncated: the records before the cut are restored, the agent says where it was cut.
    let (mut agent, _) = start_on(&s, &good[..good.len() * 2 / 3], &s.config);
    let line = warning(&mut agent, "truncated after");
    assert!(line.contains("WARN"), "{line}");
    agent.expect_stderr(WAIT, "learned state restored");
    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));

    // A damaged byte inside every record's payload but the header's: each is refused by its
    // checksum, the agent starts and says how many.
    let mut damaged = good.clone();
    damage_records(&mut damaged);
    let (mut agent, addr) = start_on(&s, &damaged, &s.config);
    let line = warning(&mut agent, "damaged record(s)");
    assert!(line.contains("WARN"), "{line}");
    assert!(!first_listing_scored(addr, LEVEL));
    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));

    // Another configuration for one signal: it learns afresh, the other is restored.
    let changed =
        s.write("\n[[detectors.overrides]]\nsignals = [\"scrape.e2e.level\"]\nthreshold = 0.7\n");
    let (mut agent, addr) = start_on(&s, &good, &changed);
    let line = agent.expect_stderr(WAIT, "learned state restored");
    assert!(
        line.contains("learn afresh: their detector settings changed") && line.contains(LEVEL),
        "{line}"
    );
    assert!(!first_listing_scored(addr, LEVEL));
    assert!(first_listing_scored(addr, OTHER));
    agent.stop(Duration::from_secs(10));
}

/// Flips one byte in the payload of every record after the header.
fn damage_records(bytes: &mut [u8]) {
    let mut at = 6;
    let mut index = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if index > 0 && len > 0 {
            bytes[at + 8 + len / 2] ^= 0x55;
        }
        at += 8 + len;
        index += 1;
    }
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs ({}): the disk-full test needs root",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_while_snapshotting_is_counted_and_the_previous_snapshot_stays_valid() {
    let s = Setup::new();
    let Some(_mount) = Tmpfs::mount(&s.state(), "4m") else {
        return;
    };
    let (mut agent, addr, _) = warm_agent(&s);
    wait_snapshots(addr, 1.0);

    // Fill the disk to the last byte.
    let filler = s.state().join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    for chunk in [4096, 512, 64, 1] {
        while f.write_all(&vec![0u8; chunk]).is_ok() {}
    }
    let _ = f.sync_all();

    // Failed snapshots are counted and logged; the agent keeps running and scoring. (The
    // snapshot is read after a first failure: a write in flight while the disk filled may
    // still have landed.)
    let wait_failed = |n: f64| {
        let deadline = Instant::now() + WAIT;
        while metric(addr, SNAPSHOTS_FAILED) < n {
            assert!(Instant::now() < deadline, "no failed snapshot counted");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_failed(1.0);
    let before = std::fs::read(s.state().join(SNAPSHOT)).unwrap();
    wait_failed(3.0);
    agent.expect_stderr(WAIT, "cannot write the snapshot of the learned state");
    assert!(score(addr, LEVEL).flatten().is_some());
    assert_eq!(std::fs::read(s.state().join(SNAPSHOT)).unwrap(), before);
    assert!(!s.state().join("learned.snapshot.tmp").exists());

    // Space again: snapshots resume. A SIGKILL, then a start from the snapshot: no warm-up.
    drop(f);
    std::fs::remove_file(&filler).unwrap();
    wait_snapshots(addr, 2.0);
    agent.signal(libc::SIGKILL);
    agent.wait_exit(Duration::from_secs(10));
    let (mut again, addr) = Agent::start_serving(&s.config, None, WAIT);
    again.expect_stderr(WAIT, "learned state restored");
    assert!(first_listing_scored(addr, LEVEL));
    again.stop(Duration::from_secs(10));
}
