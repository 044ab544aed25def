//! Helpers for end-to-end tests: run the real `seismo` binary, read what it prints, signal it.

pub mod alertmanager;
pub mod anomaly;
pub mod counting_alloc;
pub mod gauges;
pub mod http_client;
pub mod http_receiver;
pub mod lines_sink;
pub mod mosquitto;
pub mod mqtt_subscriber;
pub mod otlp_receiver;
pub mod tls_certs;
pub mod tls_listener;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The `seismo` binary cargo built next to this test (`SEISMO_BIN` overrides).
pub fn seismo_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SEISMO_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/seismo
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("seismo"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo test --workspace` does), or set SEISMO_BIN",
        bin.display()
    );
    bin
}

/// The embedded default's HTTP listen line, and the one tests use instead: port 0, a free port
/// (see `Agent::http_addr`), so a test never needs the port a running seismo may hold.
pub const DEFAULT_LISTEN: &str = "listen = \"127.0.0.1:9464\"";
pub const FREE_LISTEN: &str = "listen = \"127.0.0.1:0\"";

/// The embedded default configuration with some lines replaced, plus a private state dir.
pub fn default_config_with(state_dir: &Path, replacements: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(seismo_bin())
        .arg("print-config")
        .output()
        .expect("seismo print-config");
    let mut text = String::from_utf8(out.stdout).expect("utf-8 config");
    let state = format!("state_dir = \"{}\"", state_dir.display());
    // Port 0: each agent gets a free port (see `Agent::http_addr`), so parallel tests never collide.
    let defaults = [
        ("# state_dir = \"/var/lib/seismo\"", state.as_str()),
        (DEFAULT_LISTEN, FREE_LISTEN),
        // Whether this machine has a readable journal must not change what a test sees.
        ("enabled = \"auto\"", "enabled = false"),
    ];
    for (from, to) in defaults.iter().chain(replacements) {
        assert!(text.contains(from), "default config has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    text
}

/// Writes `text` to `DIR/seismo.toml`; returns that path.
pub fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("seismo.toml");
    std::fs::write(&path, text).expect("write seismo.toml");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// A detector override that gives `host.processes.count` a slow-learning baseline, so that
/// every one of several process bursts in a test stays anomalous (the default would learn the
/// bursts as normal after a few).
pub const SLOW_PROCESS_BASELINE: &str =
    "\n[[detectors.overrides]]\nsignals = [\"host.processes.count\"]\nalpha = 0.001\n";

/// Writes `DIR/seismo.toml` for a test that induces anomalies with
/// [`anomaly::ProcessSpike`]: the embedded default (see [`default_config_with`], state in
/// `DIR/state`) with host samples every second, the EWMA detector with an 8-point warm-up (the
/// process bursts are tuned for its z-score), `replacements`, and the host name `host_name`;
/// then `tail` appended. Returns its path.
pub fn process_burst_config(
    dir: &Path,
    host_name: &str,
    replacements: &[(&str, &str)],
    tail: &str,
) -> String {
    let host = format!("host_name = \"{host_name}\"");
    let mut all = vec![
        ("interval = \"10s\"", "interval = \"1s\""),
        ("kind = \"ensemble\"", "kind = \"ewma\"\nwarmup = 8"),
    ];
    all.extend_from_slice(replacements);
    all.push(("# host_name = \"web-1\"", &host));
    let mut text = default_config_with(&dir.join("state"), &all);
    text.push_str(tail);
    write_config(dir, &text)
}

/// Appends `text` to the existing file `path`.
pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
}

/// [`steady_traffic`] on `log`, a second at a time on its own thread, until `stop`.
pub fn steady_traffic_until(
    log: &Path,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let log = log.to_owned();
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            steady_traffic(&log, 1);
        }
    })
}

/// The workspace root (the folder of the top-level Cargo.toml).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

/// A file of the repository, by its path from the workspace root.
pub fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `seconds` of ordinary traffic appended to `log`: one template, four lines a second.
pub fn steady_traffic(log: &Path, seconds: u32) {
    for i in 0..seconds * 4 {
        append(
            log,
            &format!("GET /index.html 200 served in {} ms\n", i % 7),
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// How many segment files (`*.seg`) the outbox folder `dir` (`STATE/outbox/SINK`) holds.
pub fn outbox_segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter(|e| {
            e.as_ref()
                .expect("directory entry")
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count()
}

/// How long a test waits for the agent's start line.
pub const START: Duration = Duration::from_secs(20);

/// A running agent whose output lines arrive on channels.
pub struct Agent {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every line seen so far, for assertion messages.
    pub seen_stdout: Vec<String>,
    pub seen_stderr: Vec<String>,
}

impl Agent {
    pub fn start(args: &[&str]) -> Agent {
        Self::start_as(args, None)
    }

    /// Starts the agent as user and group `uid` (when given; needs root), e.g. to test what
    /// an unprivileged agent cannot read.
    pub fn start_as(args: &[&str], uid: Option<u32>) -> Agent {
        Self::start_with(args, uid, &[])
    }

    /// Starts the agent with extra environment variables (e.g. `SEISMO_*`, `NOTIFY_SOCKET`).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Agent {
        Self::start_with(args, None, env)
    }

    fn start_with(args: &[&str], uid: Option<u32>, env: &[(&str, &str)]) -> Agent {
        if args.first() == Some(&"run") {
            assert_not_on_the_default_port(args, env);
        }
        let mut cmd = Command::new(seismo_bin());
        cmd.envs(env.iter().copied());
        if let Some(id) = uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(id).gid(id);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn seismo");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Agent {
            child,
            stdout,
            stderr,
            seen_stdout: Vec::new(),
            seen_stderr: Vec::new(),
        }
    }

    /// Starts `seismo run --config CONFIG` and waits up to [`START`] for its start line; fails
    /// the test without one.
    pub fn run(config: &str) -> Agent {
        Self::run_as(config, None)
    }

    /// [`Agent::run`] as user and group `uid` (when given; needs root).
    pub fn run_as(config: &str, uid: Option<u32>) -> Agent {
        Agent::started(Agent::start_as(&["run", "--config", config], uid))
    }

    /// [`Agent::run`] with extra environment variables.
    pub fn run_with_env(config: &str, env: &[(&str, &str)]) -> Agent {
        Agent::started(Agent::start_with_env(&["run", "--config", config], env))
    }

    fn started(mut agent: Agent) -> Agent {
        agent.expect_stderr(START, "seismo started");
        agent
    }

    /// Starts `seismo run --config CONFIG` (as `uid` when given) and waits up to `timeout` for
    /// its start line; returns it with its HTTP endpoint's address (fails the test without one).
    pub fn start_serving(
        config: &str,
        uid: Option<u32>,
        timeout: Duration,
    ) -> (Agent, std::net::SocketAddr) {
        Agent::serving(Agent::start_as(&["run", "--config", config], uid), timeout)
    }

    /// [`Agent::start_serving`] with extra environment variables.
    pub fn start_serving_with_env(
        config: &str,
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> (Agent, std::net::SocketAddr) {
        Agent::serving(
            Agent::start_with_env(&["run", "--config", config], env),
            timeout,
        )
    }

    fn serving(mut agent: Agent, timeout: Duration) -> (Agent, std::net::SocketAddr) {
        let addr = agent.http_addr(timeout);
        agent.expect_stderr(timeout, "seismo started");
        let addr = addr.unwrap_or_else(|| panic!("no listen address: {:?}", agent.seen_stderr));
        (agent, addr)
    }

    /// The address the agent's HTTP endpoint listens on, from its start-up log line.
    pub fn http_addr(&mut self, timeout: Duration) -> Option<std::net::SocketAddr> {
        let line = self.wait_stderr(timeout, |l| l.contains("HTTP endpoint listening"))?;
        let at = line.find("addr")? + "addr".len();
        line[at..]
            .trim_start_matches(['=', '"', ':'])
            .split(['"', ' ', ','])
            .next()?
            .parse()
            .ok()
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    /// Waits up to `timeout` for a stderr line matching `pred`.
    pub fn wait_stderr(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        wait_line(&self.stderr, &mut self.seen_stderr, timeout, pred)
    }

    /// Waits up to `timeout` for a stderr line containing `text`; fails the test without one.
    pub fn expect_stderr(&mut self, timeout: Duration, text: &str) -> String {
        self.wait_stderr(timeout, |l| l.contains(text))
            .unwrap_or_else(|| panic!("no `{text}` on stderr: {:?}", self.seen_stderr))
    }

    /// Waits up to `timeout` for a stdout line matching `pred`.
    pub fn wait_stdout(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        wait_line(&self.stdout, &mut self.seen_stdout, timeout, pred)
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Every stdout line seen so far (the stdout sink's events), as JSON; fails the test on a
    /// line that is not.
    pub fn stdout_json(&self) -> Vec<serde_json::Value> {
        self.seen_stdout
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Stops the agent with SIGTERM; fails the test unless it exits with 0 within `timeout`.
    pub fn stop(&mut self, timeout: Duration) {
        self.signal(libc::SIGTERM);
        let (status, _) = self.wait_exit(timeout);
        assert_eq!(status.code(), Some(0), "stderr: {:?}", self.seen_stderr);
    }

    /// The agent's shutdown line ("seismo stopped", with its summary of counters); fails the
    /// test without one.
    pub fn stop_line(&self) -> &str {
        self.seen_stderr
            .iter()
            .find(|l| l.contains("seismo stopped"))
            .unwrap_or_else(|| panic!("no stop line: {:?}", self.seen_stderr))
    }

    /// The counter `name` in the agent's shutdown summary (see [`summary_counter`]).
    pub fn summary_counter(&self, name: &str) -> u64 {
        summary_counter(self.stop_line(), name)
    }

    /// Waits up to `timeout` for the process to exit; kills it and fails the test if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.drain();
                return (status, start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.drain();
        panic!(
            "seismo did not exit within {timeout:?}; stderr:\n{}",
            self.seen_stderr.join("\n")
        );
    }

    /// Collects the lines still buffered after exit.
    fn drain(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        for (rx, seen) in [
            (&self.stdout, &mut self.seen_stdout),
            (&self.stderr, &mut self.seen_stderr),
        ] {
            while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                seen.push(line);
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Fails the test when the agent `seismo ARGS` would start (with `env`) serves HTTP on the
/// default port: another seismo on the machine (the installed service, say) may hold it, and
/// tests run in parallel, so every agent a test starts takes a free port (`listen =
/// "127.0.0.1:0"`) or has HTTP off. The configuration is the `--config` file, else
/// `SEISMO_CONFIG`, else the embedded default; one that does not parse is a test of the error
/// and never binds.
fn assert_not_on_the_default_port(args: &[&str], env: &[(&str, &str)]) {
    let file = args
        .iter()
        .position(|a| *a == "--config")
        .and_then(|i| args.get(i + 1).copied())
        .or_else(|| {
            env.iter()
                .find(|(k, _)| *k == "SEISMO_CONFIG")
                .map(|(_, v)| *v)
        });
    let text = match file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(_) => return,
        },
        None => seismo_config::DEFAULT_TOML.to_owned(),
    };
    let Ok(config) = seismo_config::parse(&text, "test config") else {
        return;
    };
    assert!(
        !config.http.enabled || config.http.listen.port() != seismo_config::DEFAULT_LISTEN.port(),
        "a test agent would listen on {}: give it `[http] listen = \"127.0.0.1:0\"` (see \
         default_config_with) or `enabled = false`",
        config.http.listen
    );
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(
    rx: &Receiver<String>,
    seen: &mut Vec<String>,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Option<String> {
    if let Some(l) = seen.iter().find(|l| pred(l)) {
        return Some(l.clone());
    }
    let deadline = Instant::now() + timeout;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                seen.push(line.clone());
                if pred(&line) {
                    return Some(line);
                }
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// The counter `name` (e.g. `log_lines`, `mqtt.dropped`) in a shutdown summary, as the stop
/// line carries it in either log format (`name=N`, the name whole, not the end of another);
/// fails the test without it.
pub fn summary_counter(summary: &str, name: &str) -> u64 {
    let key = format!("{name}=");
    let at = summary
        .match_indices(&key)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || summary[..i].ends_with([' ', '"', '=']))
        .unwrap_or_else(|| panic!("no {key} in {summary}"))
        + key.len();
    summary[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key} in {summary}"))
}

/// A tiny deterministic generator (xorshift64*): a test's random choices replay from its seed,
/// and a benchmark's load is the same from run to run. The seed must not be 0.
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
}

/// Letters only (the template miner masks tokens with digits): a word unique to `n`, so that
/// lines built around it make a template never seen before.
pub fn word(mut n: u64) -> String {
    let mut w = String::from("x");
    loop {
        w.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::summary_counter;

    #[test]
    fn summary_counters_are_read_whole_in_either_log_format() {
        let json = r#"{"level":"INFO","message":"seismo stopped","summary":"log_lines=12 mqtt.dropped=3 dropped=7"}"#;
        let human = "2026-12-06T08:00:00Z INFO seismo stopped summary=log_lines=12 mqtt.dropped=3 dropped=7";
        for line in [json, human] {
            assert_eq!(summary_counter(line, "log_lines"), 12, "{line}");
            assert_eq!(summary_counter(line, "mqtt.dropped"), 3, "{line}");
            assert_eq!(summary_counter(line, "dropped"), 7, "{line}");
        }
    }
}
