//! A real Mosquitto broker per test, on a free 127.0.0.1 port, with a config the test writes;
//! it can be stopped, killed and started again on the same port with its persisted state.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// TLS files for the broker's listener.
#[derive(Debug, Clone)]
pub struct BrokerTls {
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Clients must present a certificate signed by `ca_file` (mutual TLS).
    pub require_certificate: bool,
}

/// How the broker is set up.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// A `mosquitto_passwd` file; anonymous clients are refused when set.
    pub password_file: Option<PathBuf>,
    pub tls: Option<BrokerTls>,
}

pub struct Broker {
    pub port: u16,
    /// With TLS, a second, plain listener for the tests' own subscriber.
    pub plain_port: Option<u16>,
    dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Writes a password file with one `user:password` entry (replacing the file).
pub fn write_password_file(path: &Path, user: &str, password: &str) {
    let _ = std::fs::remove_file(path);
    let status = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(path)
        .args([user, password])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("mosquitto_passwd (Debian package mosquitto)");
    assert!(status.success(), "mosquitto_passwd failed");
}

/// Adds a `user:password` entry to an existing password file.
pub fn add_password(path: &Path, user: &str, password: &str) {
    let status = Command::new("mosquitto_passwd")
        .arg("-b")
        .arg(path)
        .args([user, password])
        .status()
        .expect("mosquitto_passwd");
    assert!(status.success(), "mosquitto_passwd failed");
}

impl Broker {
    /// Writes the config into `dir` and starts the broker on a free port.
    pub fn start(dir: &Path, options: &BrokerOptions) -> Broker {
        std::fs::create_dir_all(dir).expect("broker dir");
        let port = free_port();
        let mut text = format!(
            "# written by the seismo e2e tests\n\
             per_listener_settings false\n\
             user root\n\
             persistence true\n\
             persistence_location {dir}/\n\
             autosave_interval 1\n\
             max_queued_messages 0\n\
             log_dest file {dir}/mosquitto.log\n\
             log_type all\n\
             listener {port} 127.0.0.1\n",
            dir = dir.display()
        );
        let mut plain_port = None;
        if let Some(tls) = &options.tls {
            text += &format!(
                "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
                tls.ca_file.display(),
                tls.cert_file.display(),
                tls.key_file.display(),
                tls.require_certificate
            );
            let plain = free_port();
            text += &format!("listener {plain} 127.0.0.1\n");
            plain_port = Some(plain);
        }
        match &options.password_file {
            Some(p) => text += &format!("allow_anonymous false\npassword_file {}\n", p.display()),
            None => text += "allow_anonymous true\n",
        }
        Broker::start_with_config(dir, port, plain_port, &text)
    }

    /// Starts a broker from a whole configuration written by the caller into `dir`: it must
    /// listen on 127.0.0.1:`port` (and on `plain_port`, when given, without TLS) and should log
    /// to `{dir}/mosquitto.log`, which [`Broker::log`] reads.
    pub fn start_with_config(dir: &Path, port: u16, plain_port: Option<u16>, text: &str) -> Broker {
        std::fs::create_dir_all(dir).expect("broker dir");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let mut broker = Broker {
            port,
            plain_port,
            dir: dir.to_owned(),
            conf,
            child: None,
        };
        broker.spawn();
        broker
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto (Debian package mosquitto)");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("mosquitto exited with {status}; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "mosquitto did not listen on {} within 10 s; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// SIGKILL: no goodbye to clients, persisted state as of the last autosave (1 s).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker again on the same port, with what it persisted.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// SIGHUP: mosquitto reloads its password file.
    pub fn reload(&self) {
        let pid = self.child.as_ref().expect("broker running").id();
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid as i32, libc::SIGHUP) };
        assert_eq!(rc, 0, "SIGHUP mosquitto");
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
