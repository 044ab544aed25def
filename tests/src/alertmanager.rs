//! A real Prometheus Alertmanager (Debian package `prometheus-alertmanager`) per test, on a
//! loopback port, with its own minimal configuration and storage in the test's directory and
//! clustering disabled.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mosquitto::free_port;

/// The binary the Debian package installs.
pub const BINARY: &str = "prometheus-alertmanager";

pub struct Alertmanager {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Alertmanager {
    /// Writes the configuration into `dir` and picks a free port, without starting.
    pub fn prepare(dir: &Path) -> Alertmanager {
        std::fs::create_dir_all(dir.join("data")).expect("alertmanager dir");
        std::fs::write(
            dir.join("alertmanager.yml"),
            "# written by the seismo e2e tests: accept alerts, notify nobody\n\
             route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
        )
        .expect("write alertmanager.yml");
        Alertmanager {
            port: free_port(),
            dir: dir.to_owned(),
            child: None,
        }
    }

    /// Prepares and starts.
    pub fn start(dir: &Path) -> Alertmanager {
        let mut am = Self::prepare(dir);
        am.spawn();
        am
    }

    /// Starts the process and waits (bounded) until it answers `/-/ready`.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "alertmanager already running");
        let log = std::fs::File::create(self.dir.join("alertmanager.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg(format!(
                "--config.file={}",
                self.dir.join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                self.dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus-alertmanager (Debian package prometheus-alertmanager)");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Some((200, _)) = self.get("/-/ready") {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("alertmanager exited with {status}; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "alertmanager not ready on {} within 20 s; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /api/v2/alerts`: the alerts Alertmanager holds as active (not resolved).
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        match self.get("/api/v2/alerts") {
            Some((200, body)) => serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("alerts are not JSON ({e}): {body}")),
            other => panic!("GET /api/v2/alerts: {other:?}"),
        }
    }

    /// A plain HTTP/1.0 GET (so the answer is not chunked): status and body.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n")?.1.to_owned();
        Some((status, body))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
