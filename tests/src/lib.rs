//! Helpers for end-to-end tests: run the real `seismo` binary, read what it prints, signal it.

pub mod alertmanager;
pub mod anomaly;
pub mod counting_alloc;
pub mod http_client;
pub mod http_receiver;
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
        ("listen = \"127.0.0.1:9464\"", "listen = \"127.0.0.1:0\""),
        // Whether this machine has a readable journal must not change what a test sees.
        ("enabled = \"auto\"", "enabled = false"),
    ];
    for (from, to) in defaults.iter().chain(replacements) {
        assert!(text.contains(from), "default config has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    text
}

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
        assert!(
            agent
                .wait_stderr(timeout, |l| l.contains("seismo started"))
                .is_some(),
            "{:?}",
            agent.seen_stderr
        );
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
